"""The voting service: one ballot per ballot token, anchored batches, a publication anyone can recount.

Flow for one voter (the device already holds a ballot token from the city's token issuer)::

    receipt = await service.cast(token, ballot, now=…)   # token checked; serial spent + ballot stored, atomically
    …
    await service.anchor_pending()                        # Merkle batches → chain; the store is compacted
    proof = await service.inclusion_proof(receipt.commitment)
    published = await service.close(now=…)                # after the period: JSON export + tally

The service never learns who votes: a ballot arrives with a token (serial, prefix, signature) that
the city signed blindly, and the city never saw it. The service accepts only tokens signed with the
token keys committed in the election's anchor contract before voting opened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from vcsdk.errors import ConflictError, InvalidInputError, RegistryError
from vcsdk.receipts import InclusionProof
from vcsdk.voting._anchor import AnchoredBatch, BallotAnchor
from vcsdk.voting._ballot import (
    BallotChoice,
    BallotReceipt,
    PublishedElectionJson,
    batch_tree,
    build_publication,
)
from vcsdk.voting._election import Election
from vcsdk.voting._store import BallotStore
from vcsdk.voting._token import BallotToken, TokenKey, check_token_key, verify_ballot_token

__all__ = ["VotingService"]


class VotingService:
    """One election's ballot box.

    :param election: the election.
    :param base_url: where :func:`voting_routes` are mounted (``https://vote.city.example/e/2026``).
    :param store: the ballot store (:class:`SqliteBallotStore` or :class:`PostgresBallotStore`).
    :param anchor: the election's anchor contract, with a sender allowed to anchor.
    :param token_keys: the election's token keys (one, or one per district), as the city published
        them; they are checked against their on-chain commitments before the first ballot.
    :param clock: returns the current time.
    :param batch_size: most ballots per anchored batch.
    :param min_batch_size: :meth:`anchor_pending` waits for this many ballots unless flushed, so a
        batch does not pin down when one ballot was cast.
    :param name: the service name shown to voters.
    """

    def __init__(
        self,
        *,
        election: Election,
        base_url: str,
        store: BallotStore,
        anchor: BallotAnchor,
        token_keys: Sequence[TokenKey],
        clock: Callable[[], datetime],
        batch_size: int = 1024,
        min_batch_size: int = 16,
        name: str | None = None,
    ) -> None:
        if not 1 <= min_batch_size <= batch_size:
            raise InvalidInputError("batch sizes must satisfy 1 <= min_batch_size <= batch_size")
        keys = {k.district: k for k in token_keys}
        if len(keys) != len(token_keys) or any(k.election_id != election.election_id for k in token_keys):
            raise InvalidInputError("token keys are one per district (or one for the election) of this election")
        if set(keys) != {None} and set(keys) != set(election.district_names):
            raise InvalidInputError("token keys are one key, or one per district of the election")
        self.election = election
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.anchor = anchor
        self.token_keys: Mapping[str | None, TokenKey] = keys
        self._clock = clock
        self.batch_size = batch_size
        self.min_batch_size = min_batch_size
        self.name = name
        self._keys_checked = False
        self._published: PublishedElectionJson | None = None

    def __repr__(self) -> str:
        return f"VotingService(election={self.election.election_id!r}, anchor={self.anchor!r})"

    @property
    def election_id(self) -> str:
        return self.election.election_id

    def _require_open(self, now: datetime) -> None:
        if not self.election.is_open(now):
            raise ConflictError("voting is not open at this time", code="voting_closed")

    async def check_token_keys(self) -> None:
        """Check every token key against its commitment in the anchor contract (done before the first ballot).

        :raises TokenKeyError: if a key is not committed, differs, or was committed after voting opened.
        :raises RegistryError: if the chain cannot be read (try again).
        """
        if self._keys_checked:
            return
        for district, key in self.token_keys.items():
            committed = await self.anchor.committed_token_key(key)
            check_token_key(key, election=self.election, district=district, committed=committed)
        self._keys_checked = True

    async def cast(self, token: BallotToken, ballot: BallotChoice, *, now: datetime) -> BallotReceipt:
        """Cast one ballot with a ballot token.

        :raises ConflictError: (``voting_closed``) outside the period; ``AlreadyVotedError``
            (``already_voted``) if the token's serial is spent, also when two casts race (one wins).
        :raises BallotTokenError: (``invalid_ballot_token``) for a forged token or one for another
            election or district.
        :raises TokenKeyError: if the service's own token keys do not match the chain.
        :raises InvalidInputError: for a ballot of another election or a choice not on the ballot.
        :return: the receipt, without proof until the ballot's batch is anchored.
        """
        self._require_open(now)
        if ballot.election_id != self.election_id or ballot.choice not in self.election.choices:
            raise InvalidInputError("the ballot is for another election or names a choice not on the ballot")
        commitment = ballot.commitment  # also checks the salt
        await self.check_token_keys()
        verify_ballot_token(token, election_id=self.election_id, keys=self.token_keys)
        await self.store.cast(
            self.election_id, token=token, commitment=commitment, choice=ballot.choice, salt=ballot.salt
        )
        return BallotReceipt(self.election_id, commitment, ballot.choice, ballot.salt, None)

    async def anchor_pending(self, *, flush: bool = False) -> list[AnchoredBatch]:
        """Anchor the ballots not yet in a batch, ``batch_size`` at a time, then compact the store.

        Batches recorded but not confirmed (a crash between recording and anchoring) are sent
        again first; the contract treats a repeat as a no-op.

        :param flush: anchor a last batch smaller than ``min_batch_size`` too (at closing time).
        :raises RegistryError: if the chain refuses or cannot be reached (run again later).
        :return: the batches anchored by this call.
        """
        done: list[AnchoredBatch] = []
        for batch in await self.store.batches(self.election_id, state="sent"):
            done.append(await self._send(batch.batch_id, batch.root, batch.size))
        while True:
            pending = await self.store.unbatched(self.election_id, limit=self.batch_size)
            if not pending or (len(pending) < self.min_batch_size and not flush):
                break
            tree, leaves = batch_tree(pending)
            await self.store.add_batch(self.election_id, batch_id=tree.batch_id, root=tree.root, commitments=leaves)
            done.append(await self._send(tree.batch_id, tree.root, tree.size))
        # Every anchoring erases the arrival order of the ballots cast since the last one.
        await self.store.compact()
        return done

    async def _send(self, batch_id: bytes, root: bytes, size: int) -> AnchoredBatch:
        anchored = await self.anchor.anchor(batch_id, root, size)
        await self.store.mark_anchored(
            self.election_id, batch_id, tx_hash=anchored.tx_hash, block_number=anchored.block_number
        )
        return anchored

    async def inclusion_proof(self, commitment: bytes) -> InclusionProof | None:
        """The inclusion proof of a ballot, or ``None`` while its batch is not anchored.

        :raises NotFoundError: if no ballot has this commitment.
        """
        ballot = await self.store.ballot(self.election_id, commitment)
        if ballot.batch_id is None:
            return None
        anchored = {b.batch_id for b in await self.store.batches(self.election_id, state="anchored")}
        if ballot.batch_id not in anchored:
            return None
        members = await self.store.ballots(self.election_id, batch_id=ballot.batch_id)
        tree, leaves = batch_tree(b.commitment for b in members)
        return tree.proof(leaves.index(commitment))

    async def close(self, *, now: datetime) -> PublishedElectionJson:
        """After the period: anchor what is left, then build the publication (ballots, tokens, batches, tally).

        :raises ConflictError: (``voting_open``) before ``closes_at``.
        :raises RegistryError: if anchoring fails (call again).
        :return: the JSON export anyone can check with ``verify_published_election``.
        """
        if now < self.election.closes_at:
            raise ConflictError("the voting period has not ended", code="voting_open")
        if self._published is not None:
            return self._published
        await self.anchor_pending(flush=True)
        ballots = await self.store.ballots(self.election_id)
        batches = await self.store.batches(self.election_id)
        if any(b.batch_id is None for b in ballots) or any(b.state != "anchored" for b in batches):
            raise RegistryError("some ballots are not anchored yet; close again", code="not_anchored")
        self._published = build_publication(
            self.election,
            ballots=[(b.commitment, b.choice, b.salt, b.batch_id or b"", b.token) for b in ballots],
            batches=[(b.batch_id, b.root, b.size, b.tx_hash, b.block_number) for b in batches],
            token_keys=list(self.token_keys.values()),
            chain_id=int(self.anchor.chain.chain_id),
            contract=self.anchor.address,
        )
        return self._published

    def published(self) -> PublishedElectionJson:
        """The publication made by :meth:`close`.

        :raises ConflictError: (``voting_open``) if the election has not been closed yet.
        """
        if self._published is None:
            raise ConflictError("results are published after the election closes", code="voting_open")
        return self._published

    def election_json(self) -> Mapping[str, Any]:
        """What a voter's device needs: the election, its token keys and the anchor contract holding
        their commitments (the device reads the commitments from the chain itself)."""
        return {
            "election": self.election.to_json(),
            "name": self.name,
            "token_keys": [k.to_json() for k in self.token_keys.values()],
            "anchor": {"chain_id": int(self.anchor.chain.chain_id), "contract": self.anchor.address},
        }

