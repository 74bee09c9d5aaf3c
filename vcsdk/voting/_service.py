"""The voting service: OpenID4VP eligibility check, one ballot per credential, anchored batches.

Flow for one voter::

    request = await service.start(now=…)                  # OpenID4VP request (DCQL: 4 claims only)
    result = await service.verifier.handle_response(form, now=…)   # the wallet's direct_post
    token = await service.admit(result, now=…)             # nullifier checked; presentation dropped
    receipt = await service.cast(token, ballot, now=…)     # nullifier spent + ballot stored, atomically
    …
    await service.anchor_pending()                          # Merkle batches → chain
    proof = await service.inclusion_proof(receipt.commitment)
    published = await service.close(now=…)                  # after the period: JSON export + tally

The ballot token is the only thing that connects the presentation to the ballot, and it lives in
the short-lived state store (never next to the ballot). The ballot table gets commitment, choice,
salt and batch; the nullifier table gets the nullifier; nothing else about the voter is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from vcsdk._b64 import b64url_encode
from vcsdk.credentials import (
    DEFAULT_VERIFICATION_POLICY,
    IssuerAccreditationChecker,
    IssuerKeyResolver,
    StatusChecker,
    VerificationPolicy,
    verify_presentation,
)
from vcsdk.errors import (
    ClaimsError,
    ConflictError,
    InvalidInputError,
    IssuerNotAccreditedError,
    NotFoundError,
    ProtocolError,
    RegistryError,
)
from vcsdk.keys import Signer
from vcsdk.oid4vc import (
    InMemoryStateStore,
    PresentationRequest,
    PresentationResult,
    Randomness,
    StateStore,
    SystemRandomness,
    Verifier,
)
from vcsdk.receipts import InclusionProof
from vcsdk.voting._anchor import AnchoredBatch, BallotAnchor
from vcsdk.voting._ballot import (
    BallotChoice,
    BallotReceipt,
    PublishedElectionJson,
    ballot_nullifier,
    batch_tree,
    build_publication,
)
from vcsdk.voting._election import Election, check_eligibility_claims
from vcsdk.voting._store import SqliteBallotStore

__all__ = ["ELIGIBILITY_QUERY_ID", "VotingService", "eligibility_query"]

#: The DCQL credential query id of the eligibility request.
ELIGIBILITY_QUERY_ID: Final = "eligibility"
_TOKENS: Final = "voting_ballot_token"
_SYSTEM_RANDOMNESS: Final = SystemRandomness()


def eligibility_query(election: Election, *, vct: str) -> dict[str, Any]:
    """The DCQL query a voting service sends: the four eligibility claims, nothing else.

    ``values`` make a wallet offer only a credential for this election, marked eligible, in one of
    its districts and showing age 18 or over; the service checks the same again after verification.
    """
    claims: list[dict[str, Any]] = [
        {"path": ["election_id"], "values": [election.election_id]},
        {"path": ["eligible"], "values": [True]},
        {"path": ["district"], "values": list(election.district_names)},
    ]
    age: dict[str, Any] = {"path": ["age_over_18"]}
    if election.minimum_age >= 18:
        age["values"] = [True]
    claims.append(age)
    return {
        "credentials": [
            {"id": ELIGIBILITY_QUERY_ID, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]}, "claims": claims}
        ]
    }


class VotingService:
    """One election's ballot box.

    :param election: the election.
    :param did: the voting service's DID (its OpenID4VP Client Identifier).
    :param signer: signs Request Objects; its ``kid`` is a DID URL of ``did``.
    :param base_url: where :func:`voting_routes` are mounted (``https://vote.city.example/e/2026``);
        the OpenID4VP endpoints are ``<base_url>/oid4vp/request/<id>`` and ``<base_url>/oid4vp/response``.
    :param store: the ballot store.
    :param anchor: the election's anchor contract, with a sender allowed to anchor.
    :param resolver: resolves the city's DID to its keys (``vcsdk.ethr.Resolver``).
    :param issuers: the DIDs trusted to issue eligibility for this election (the city's).
    :param vct: the eligibility credential type.
    :param status: checks the credential's status list entry (revocation); ``None`` only with a
        policy that does not check status.
    :param clock: returns the current time (used inside presentation verification).
    :param accreditation: also require the issuer to be accredited on chain for ``vct``
        (``vcsdk.trust.AccreditationPolicy``), at issuance and now.
    :param state: short-lived state (OpenID4VP requests, ballot tokens); in memory by default.
    :param randomness: nonces, states and ballot tokens.
    :param policy: the presentation verification policy.
    :param batch_size: most ballots per anchored batch.
    :param min_batch_size: :meth:`anchor_pending` waits for this many ballots unless flushed, so a
        batch does not pin down when one ballot was cast.
    :param ballot_token_ttl: how long a voter has between presenting and casting.
    :param name: the service name shown in the wallet.
    """

    def __init__(
        self,
        *,
        election: Election,
        did: str,
        signer: Signer,
        base_url: str,
        store: SqliteBallotStore,
        anchor: BallotAnchor,
        resolver: IssuerKeyResolver,
        issuers: Collection[str],
        vct: str,
        status: StatusChecker | None,
        clock: Callable[[], datetime],
        accreditation: IssuerAccreditationChecker | None = None,
        state: StateStore | None = None,
        randomness: Randomness = _SYSTEM_RANDOMNESS,
        policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
        batch_size: int = 1024,
        min_batch_size: int = 16,
        ballot_token_ttl: timedelta = timedelta(minutes=15),
        name: str | None = None,
    ) -> None:
        if not issuers:
            raise InvalidInputError("name at least one trusted issuer DID")
        if not 1 <= min_batch_size <= batch_size:
            raise InvalidInputError("batch sizes must satisfy 1 <= min_batch_size <= batch_size")
        self.election = election
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.anchor = anchor
        self._resolver = resolver
        self.issuers = frozenset(issuers)
        self.vct = vct
        self._status = status
        self._clock = clock
        self._accreditation = accreditation
        self._state = state if state is not None else InMemoryStateStore()
        self._randomness = randomness
        self._policy = policy
        self.batch_size = batch_size
        self.min_batch_size = min_batch_size
        self.ballot_token_ttl = ballot_token_ttl
        self._published: PublishedElectionJson | None = None
        self.verifier = Verifier(
            did=did,
            signer=signer,
            response_uri=f"{self.base_url}/oid4vp/response",
            request_uri_base=f"{self.base_url}/oid4vp/request",
            store=self._state,
            verify=self._verify,
            name=name,
            randomness=randomness,
        )

    def __repr__(self) -> str:
        return f"VotingService(election={self.election.election_id!r}, anchor={self.anchor!r})"

    @property
    def election_id(self) -> str:
        return self.election.election_id

    def _require_open(self, now: datetime) -> None:
        if not self.election.is_open(now):
            raise ConflictError("voting is not open at this time", code="voting_closed")

    async def start(self, *, now: datetime) -> PresentationRequest:
        """Create the OpenID4VP request for one voter (show its deep link or QR code).

        :raises ConflictError: (``voting_closed``) outside the voting period.
        :return: the request; its ``deep_link`` goes to the voter's wallet.
        """
        self._require_open(now)
        return await self.verifier.create_request(
            eligibility_query(self.election, vct=self.vct),
            purpose=f"Check that you may vote in: {self.election.title}",
            now=now,
        )

    async def _verify(self, presentation: str, *, audience: str, nonce: str) -> Any:
        # Runs inside Verifier.handle_response: signature, key binding, expiry, status, then the
        # issuer and the election's rules. The presentation never leaves this call stack.
        now = self._clock()
        verified = await verify_presentation(
            presentation,
            audience=audience,
            nonce=nonce,
            policy=self._policy,
            resolver=self._resolver,
            status=self._status,
            accreditation=self._accreditation,
            now=now,
        )
        if verified.issuer not in self.issuers:
            raise IssuerNotAccreditedError("the eligibility credential is not from a trusted issuer for this election")
        if verified.vct != self.vct:
            raise ClaimsError("the presented credential is not a voting eligibility credential")
        check_eligibility_claims(self.election, verified.claims)
        return verified

    async def admit(self, result: PresentationResult, *, now: datetime) -> str:
        """Turn a verified OpenID4VP response into a single-use ballot token.

        :raises ProtocolError: (the wallet's error code) if the wallet declined; (``invalid_request``)
            without exactly one eligibility presentation.
        :raises ConflictError: (``voting_closed``) outside the period; (``already_voted``) if the
            credential's nullifier is spent.
        :return: the ballot token to hand to the voter's client.
        """
        if result.error is not None:
            raise ProtocolError("the wallet did not present an eligibility credential", code=result.error)
        self._require_open(now)
        presented = result.credentials.get(ELIGIBILITY_QUERY_ID, ())
        if len(presented) != 1:
            raise ProtocolError("exactly one eligibility presentation is expected", code="invalid_request")
        nullifier = ballot_nullifier(presented[0].presentation, self.election_id)
        if await self.store.has_nullifier(self.election_id, nullifier):
            raise ConflictError("a ballot was already cast with this eligibility credential", code="already_voted")
        token = b64url_encode(self._randomness.token_bytes(32))
        expires = min(now + self.ballot_token_ttl, self.election.closes_at)
        await self._state.put(_TOKENS, token, {"nullifier": nullifier}, expires_at=expires)
        return token

    async def cast(self, token: str, ballot: BallotChoice, *, now: datetime) -> BallotReceipt:
        """Cast one ballot with a ballot token; once the ballot is well formed, the token is used up
        whatever happens next.

        :raises ConflictError: (``voting_closed``) outside the period; (``already_voted``) if the
            credential already voted, also when two casts race (one wins).
        :raises InvalidInputError: for a ballot of another election or a choice not on the ballot.
        :raises NotFoundError: (``invalid_ballot_token``) for an unknown, expired or used token.
        :return: the receipt, without proof until the ballot's batch is anchored.
        """
        self._require_open(now)
        if ballot.election_id != self.election_id or ballot.choice not in self.election.choices:
            raise InvalidInputError("the ballot is for another election or names a choice not on the ballot")
        commitment = ballot.commitment  # also checks the salt
        entry = await self._state.take(_TOKENS, token, now=now) if isinstance(token, str) else None
        if entry is None:
            raise NotFoundError(
                "unknown, expired or used ballot token; present your eligibility again", code="invalid_ballot_token"
            )
        await self.store.cast(
            self.election_id, nullifier=str(entry["nullifier"]), commitment=commitment, choice=ballot.choice,
            salt=ballot.salt,
        )
        return BallotReceipt(self.election_id, commitment, ballot.choice, ballot.salt, None)

    async def anchor_pending(self, *, flush: bool = False) -> list[AnchoredBatch]:
        """Anchor the ballots not yet in a batch, ``batch_size`` at a time.

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
                return done
            tree, leaves = batch_tree(pending)
            await self.store.add_batch(self.election_id, batch_id=tree.batch_id, root=tree.root, commitments=leaves)
            done.append(await self._send(tree.batch_id, tree.root, tree.size))

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
        """After the period: anchor what is left, then build the publication (ballots, batches, tally).

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
            ballots=[(b.commitment, b.choice, b.salt, b.batch_id or b"") for b in ballots],
            batches=[(b.batch_id, b.root, b.size, b.tx_hash, b.block_number) for b in batches],
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
        """The public description of the election (choices, districts, period)."""
        return self.election.to_json()
