"""The voting service without HTTP: tokens checked against the committed key, one ballot per serial
(also under concurrency, on one and two connections), refusals with their own classes, anchoring,
compaction and closing. The chain is the embedded one; tokens are made with the blind RSA module."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from vcsdk.blindrsa import generate_key
from vcsdk.errors import (
    AlreadyVotedError,
    BallotTokenError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RegistryError,
    TokenKeyError,
    TransactionRevertedError,
)
from vcsdk.registry import EmbeddedChain
from vcsdk.voting import (
    BallotAnchor,
    BallotToken,
    Election,
    SqliteBallotStore,
    TokenKey,
    VotingService,
    batch_tree,
    prepare_ballot,
    verify_ballot_receipt,
)

from ._mint import mint
from ._town import Clock, chain_now, tsukuba_election

ELECTION = tsukuba_election()
PRIVATE = generate_key(2048)
KEY = TokenKey(ELECTION.election_id, None, PRIVATE.public_key())


@dataclass
class Svc:
    service: VotingService
    clock: Clock
    store: SqliteBallotStore
    db: Path
    anchor: BallotAnchor

    @property
    def election(self) -> Election:
        return self.service.election

    async def token(self, private: rsa.RSAPrivateKey = PRIVATE, key: TokenKey = KEY) -> BallotToken:
        """A token as the device finishes it (the device's own chain check is tested in test_token)."""
        return mint(key, self.election, private=private)


async def _service(chain: EmbeddedChain, tmp_path: Path, *, commit: bool = True, **kw: Any) -> Svc:
    # The keys are committed at the chain's time; voting opens an hour later; the clock is in the period.
    election = tsukuba_election(opens_at=await chain_now(chain) + timedelta(hours=1))
    clock = Clock(election.opens_at + timedelta(minutes=5))
    db = tmp_path / "ballots.db"
    store = await SqliteBallotStore.open(str(db))
    anchor = await BallotAnchor.deploy(chain, sender=chain.dev_keys[0])
    if commit:
        await anchor.commit_token_key(KEY)
    service = VotingService(election=election, base_url="https://vote.tsukuba.example/e/2026", store=store,
                            anchor=anchor, token_keys=[KEY], clock=clock, min_batch_size=2, **kw)
    return Svc(service, clock, store, db, anchor)


@pytest.fixture
async def svc(embedded_chain: EmbeddedChain, tmp_path: Path) -> AsyncIterator[Svc]:
    made = await _service(embedded_chain, tmp_path)
    try:
        yield made
    finally:
        await made.store.close()


async def test_a_voter_casts_once_and_gets_a_proof_after_anchoring(svc: Svc) -> None:
    token = await svc.token()
    ballot = prepare_ballot(ELECTION, "Suzuki")
    receipt = await svc.service.cast(token, ballot, now=svc.clock())
    assert receipt.commitment == ballot.commitment and receipt.proof is None
    with pytest.raises(AlreadyVotedError) as again:
        await svc.service.cast(token, prepare_ballot(ELECTION, "Sato"), now=svc.clock())
    assert again.value.code == "already_voted"
    # One ballot is below min_batch_size: nothing is anchored until a flush.
    assert await svc.service.anchor_pending() == []
    assert await svc.service.inclusion_proof(receipt.commitment) is None
    (batch,) = await svc.service.anchor_pending(flush=True)
    proof = await svc.service.inclusion_proof(receipt.commitment)
    assert proof is not None and proof.batch_id == batch.batch_id
    root = await svc.anchor.root_of(batch.batch_id)
    verify_ballot_receipt(replace(receipt, proof=proof), root=root or b"", expected=ballot)
    with pytest.raises(NotFoundError):
        await svc.service.inclusion_proof(bytes(32))
    (stored,) = await svc.store.ballots(ELECTION.election_id)
    assert stored.token == token and stored.choice == "Suzuki"


async def test_forged_tokens_are_refused(svc: Svc) -> None:
    token = await svc.token()
    ballot = prepare_ballot(ELECTION, "Sato")
    other = generate_key(2048)  # a key the chain does not hold
    for forged in (
        replace(token, signature=bytes(256)),
        replace(token, serial=b"\x01" * 32),
        replace(token, election_id="another-election"),
        replace(token, district="tsukuba-a"),
        await svc.token(other, TokenKey(ELECTION.election_id, None, other.public_key())),
    ):
        with pytest.raises(BallotTokenError) as info:
            await svc.service.cast(forged, ballot, now=svc.clock())
        assert info.value.code == "invalid_ballot_token"
    assert await svc.store.ballot_count(ELECTION.election_id) == 0


async def test_a_service_whose_keys_are_not_the_committed_ones_refuses_to_count(
    embedded_chain: EmbeddedChain, tmp_path: Path
) -> None:
    uncommitted = await _service(embedded_chain, tmp_path, commit=False)
    try:
        with pytest.raises(TokenKeyError):
            await uncommitted.service.cast(await uncommitted.token(), prepare_ballot(ELECTION, "Sato"),
                                           now=uncommitted.clock())
        # Committing another key at the slot makes the service's key a mismatch; the slot is then taken.
        other = TokenKey(ELECTION.election_id, None, generate_key(2048).public_key())
        await uncommitted.anchor.commit_token_key(other)
        with pytest.raises(TokenKeyError):
            await uncommitted.service.check_token_keys()
        with pytest.raises(TransactionRevertedError):
            await uncommitted.anchor.commit_token_key(KEY)  # write once: no second key at a slot
    finally:
        await uncommitted.store.close()


async def test_nothing_is_accepted_outside_the_voting_period(svc: Svc) -> None:
    token = await svc.token()
    ballot = prepare_ballot(ELECTION, "Sato")
    for now in (svc.election.closes_at, svc.election.opens_at - timedelta(seconds=1)):
        with pytest.raises(ConflictError) as info:
            await svc.service.cast(token, ballot, now=now)
        assert info.value.code == "voting_closed"


async def test_ballots_must_be_for_this_election(svc: Svc) -> None:
    with pytest.raises(InvalidInputError):
        await svc.service.cast(await svc.token(), prepare_ballot(tsukuba_election("other-election"), "Sato"),
                               now=svc.clock())


async def test_concurrent_casts_with_one_token_on_one_connection_count_once(svc: Svc) -> None:
    token = await svc.token()
    outcomes = await asyncio.gather(
        *(svc.service.cast(token, prepare_ballot(ELECTION, c), now=svc.clock()) for c in ("Sato", "Suzuki", "Sato")),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, AlreadyVotedError) for o in outcomes if isinstance(o, BaseException))


async def test_concurrent_casts_with_one_token_on_two_connections_count_once(svc: Svc) -> None:
    second = await SqliteBallotStore.open(str(svc.db))
    try:
        eid = ELECTION.election_id
        token = await svc.token()
        ballots = [prepare_ballot(ELECTION, c) for c in ("Sato", "Suzuki")]
        outcomes = await asyncio.gather(
            *(
                store.cast(eid, token=token, commitment=b.commitment, choice=b.choice, salt=b.salt)
                for store, b in zip((svc.store, second), ballots, strict=True)
            ),
            return_exceptions=True,
        )
        assert sum(o is None for o in outcomes) == 1
        assert [type(o) for o in outcomes if o is not None] == [AlreadyVotedError]
        assert await second.ballot_count(eid) == 1
    finally:
        await second.close()


async def test_a_reused_salt_is_a_conflict(svc: Svc) -> None:
    ballot = prepare_ballot(ELECTION, "Sato")
    await svc.service.cast(await svc.token(), ballot, now=svc.clock())
    with pytest.raises(ConflictError) as info:
        await svc.service.cast(await svc.token(), ballot, now=svc.clock())
    assert info.value.code == "conflict" and not isinstance(info.value, AlreadyVotedError)


async def test_a_batch_recorded_before_a_crash_is_sent_again(svc: Svc) -> None:
    for choice in ("Sato", "Suzuki"):
        await svc.service.cast(await svc.token(), prepare_ballot(ELECTION, choice), now=svc.clock())
    pending = await svc.store.unbatched(ELECTION.election_id, limit=10)
    tree, leaves = batch_tree(pending)
    # Recorded, then the process died before the transaction was sent.
    await svc.store.add_batch(ELECTION.election_id, batch_id=tree.batch_id, root=tree.root, commitments=leaves)
    assert await svc.anchor.root_of(tree.batch_id) is None
    (again,) = await svc.service.anchor_pending()
    assert again.batch_id == tree.batch_id and await svc.anchor.root_of(tree.batch_id) == tree.root
    assert [b.state for b in await svc.store.batches(ELECTION.election_id)] == ["anchored"]
    # Sending the same batch once more is a no-op on chain (the key commitment is the other entry).
    assert (await svc.anchor.anchor(tree.batch_id, tree.root, tree.size)).batch_id == tree.batch_id
    assert len(await svc.anchor.batches()) == 2


async def test_results_only_after_the_period(svc: Svc) -> None:
    await svc.service.cast(await svc.token(), prepare_ballot(ELECTION, "Sato"), now=svc.clock())
    with pytest.raises(ConflictError) as early:
        await svc.service.close(now=svc.clock())
    assert early.value.code == "voting_open"
    with pytest.raises(ConflictError):
        svc.service.published()
    published = await svc.service.close(now=svc.election.closes_at)
    assert published["tally"] == {"Sato": 1, "Suzuki": 0, "Takahashi": 0}
    assert svc.service.published() is published and await svc.service.close(now=svc.election.closes_at) is published
    assert published["anchor"]["contract"] == svc.anchor.address
    assert published["token_keys"] == [KEY.to_json()]


async def test_read_only_anchor_cannot_write(svc: Svc) -> None:
    reader = BallotAnchor(svc.anchor.chain, svc.anchor.address)
    for write in (reader.anchor(b"\x01" * 32, b"\x02" * 32, 1), reader.commit_token_key(KEY),
                  reader.set_anchorer("0x" + "11" * 20)):
        with pytest.raises(RegistryError) as info:
            await write
        assert info.value.code == "read_only"
    assert await reader.anchored_roots() == {KEY.slot: KEY.digest}


async def test_the_city_can_be_allowed_to_commit_its_own_key(embedded_chain: EmbeddedChain) -> None:
    owner, city = embedded_chain.dev_keys[0], embedded_chain.dev_keys[5]
    from vcsdk.registry import key_address

    anchor = await BallotAnchor.deploy(embedded_chain, sender=owner)
    as_city = BallotAnchor(embedded_chain, anchor.address, sender=city)
    with pytest.raises(TransactionRevertedError):
        await as_city.commit_token_key(KEY)
    await anchor.set_anchorer(key_address(city))
    await as_city.commit_token_key(KEY)
    committed = await anchor.committed_token_key(KEY)
    assert committed is not None and committed.digest == KEY.digest


def test_service_configuration_is_checked(svc: Svc) -> None:
    kwargs: dict[str, Any] = dict(election=ELECTION, base_url="https://vote.example/e", store=svc.store,
                                  anchor=svc.anchor, clock=svc.clock)
    with pytest.raises(InvalidInputError):
        VotingService(token_keys=[KEY], min_batch_size=5, batch_size=2, **kwargs)
    with pytest.raises(InvalidInputError):
        VotingService(token_keys=[KEY, KEY], **kwargs)
    with pytest.raises(InvalidInputError):
        VotingService(token_keys=[TokenKey("other", None, PRIVATE.public_key())], **kwargs)
    with pytest.raises(InvalidInputError):  # per-district keys must cover every district
        VotingService(token_keys=[TokenKey(ELECTION.election_id, "tsukuba-a", PRIVATE.public_key())], **kwargs)
