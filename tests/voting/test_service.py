"""The voting service without HTTP: every refusal with its own error class and code, the ballot
token, concurrency on one and on two connections, anchoring and closing. The chain is the embedded
one; issuer keys come from a static table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from vcsdk.credentials import StaticKeyResolver, issue_sd_jwt_vc, present
from vcsdk.errors import (
    ClaimsError,
    ConflictError,
    InvalidInputError,
    IssuerNotAccreditedError,
    NotFoundError,
    ProtocolError,
    SignatureInvalidError,
)
from vcsdk.keys import Key
from vcsdk.registry import EmbeddedChain
from vcsdk.voting import (
    BallotAnchor,
    SqliteBallotStore,
    VotingService,
    eligibility_query,
    prepare_ballot,
    verify_ballot_receipt,
)

from ._town import SERVICE_DID, T0, VCTS, Clock, tsukuba_election

ELECTION = tsukuba_election()
CITY = "did:ethr:0x539:0x1111111111111111111111111111111111111111"
OTHER = "did:ethr:0x539:0x3333333333333333333333333333333333333333"
VCT = VCTS.voting_eligibility
GOOD = {"election_id": ELECTION.election_id, "eligible": True, "district": "tsukuba-a", "age_over_18": True}


@dataclass
class Svc:
    service: VotingService
    city_key: Key
    other_key: Key
    clock: Clock
    store: SqliteBallotStore
    db: Path

    async def admit(
        self, claims: dict[str, Any] | None = None, *, issuer: str = CITY, key: Key | None = None, vct: str = VCT,
        holder: Key | None = None, credential: str | None = None,
    ) -> str:
        holder = holder or Key.generate("P-256")
        claims = claims or GOOD
        vc = credential or issue_sd_jwt_vc(
            claims, issuer=issuer, signer=key or self.city_key, vct=vct, disclosable=[[k] for k in claims],
            holder_key=holder, now=self.clock(),
        )
        request = await self.service.start(now=self.clock())
        presentation = present(vc, disclose=[[k] for k in claims], holder_signer=holder,
                               audience=request.client_id, nonce=request.nonce, now=self.clock())
        form = {"state": request.state, "vp_token": json.dumps({"eligibility": [presentation]})}
        result = await self.service.verifier.handle_response(form, now=self.clock())
        return await self.service.admit(result, now=self.clock())


@pytest.fixture
async def svc(embedded_chain: EmbeddedChain, tmp_path: Path) -> AsyncIterator[Svc]:
    city_key = Key.generate("P-256").with_kid(f"{CITY}#key-1")
    other_key = Key.generate("P-256").with_kid(f"{OTHER}#key-1")
    clock = Clock(T0 + timedelta(minutes=5))
    db = tmp_path / "ballots.db"
    store = await SqliteBallotStore.open(str(db))
    anchor = await BallotAnchor.deploy(embedded_chain, sender=embedded_chain.dev_keys[0])
    service = VotingService(
        election=ELECTION, did=SERVICE_DID, signer=Key.generate("secp256k1").with_kid(f"{SERVICE_DID}#controller"),
        base_url="https://vote.tsukuba.example/e/2026", store=store, anchor=anchor,
        resolver=StaticKeyResolver({CITY: city_key, OTHER: other_key}), issuers=[CITY], vct=VCT, status=None,
        clock=clock, min_batch_size=2,
    )
    try:
        yield Svc(service, city_key, other_key, clock, store, db)
    finally:
        await store.close()


def test_the_query_asks_for_the_four_eligibility_claims_only() -> None:
    query = eligibility_query(ELECTION, vct=VCT)
    (cq,) = query["credentials"]
    assert [c["path"] for c in cq["claims"]] == [["election_id"], ["eligible"], ["district"], ["age_over_18"]]
    assert cq["claims"][2]["values"] == ["tsukuba-a", "tsukuba-b", "tsukuba-c"]
    assert cq["meta"] == {"vct_values": [VCT]}


async def test_a_voter_casts_once_and_gets_a_proof_after_anchoring(svc: Svc) -> None:
    holder = Key.generate("P-256")
    vc = issue_sd_jwt_vc(GOOD, issuer=CITY, signer=svc.city_key, vct=VCT, disclosable=[[k] for k in GOOD],
                         holder_key=holder, now=svc.clock())
    ballot = prepare_ballot(ELECTION, "Suzuki")
    receipt = await svc.service.cast(await svc.admit(credential=vc, holder=holder), ballot, now=svc.clock())
    assert receipt.commitment == ballot.commitment and receipt.proof is None
    with pytest.raises(ConflictError) as again:
        await svc.admit(credential=vc, holder=holder)
    assert again.value.code == "already_voted"
    # One ballot is below min_batch_size: nothing is anchored until a flush.
    assert await svc.service.anchor_pending() == []
    assert await svc.service.inclusion_proof(receipt.commitment) is None
    (batch,) = await svc.service.anchor_pending(flush=True)
    proof = await svc.service.inclusion_proof(receipt.commitment)
    assert proof is not None and proof.batch_id == batch.batch_id
    root = await svc.service.anchor.root_of(batch.batch_id)
    verify_ballot_receipt(type(receipt)(receipt.election_id, receipt.commitment, "Suzuki", ballot.salt, proof),
                          root=root or b"", expected=ballot)
    with pytest.raises(NotFoundError):
        await svc.service.inclusion_proof(bytes(32))


async def test_untrusted_issuer_is_refused(svc: Svc) -> None:
    with pytest.raises(IssuerNotAccreditedError):
        await svc.admit(issuer=OTHER, key=svc.other_key)


async def test_forged_issuer_signature_is_refused(svc: Svc) -> None:
    with pytest.raises(SignatureInvalidError):
        await svc.admit(key=Key.generate("P-256").with_kid(f"{CITY}#key-1"))


async def test_other_credential_type_is_refused(svc: Svc) -> None:
    with pytest.raises(ClaimsError):
        await svc.admit(vct=VCTS.resident_identity)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"election_id": "kaga-2026-council"}, "wrong_election"),
        ({"eligible": False}, "not_eligible"),
        ({"district": "kaga-1"}, "wrong_district"),
        ({"age_over_18": False}, "under_age"),
    ],
)
async def test_ineligible_credentials_are_refused(svc: Svc, change: dict, code: str) -> None:
    with pytest.raises(ClaimsError) as info:
        await svc.admit({**GOOD, **change})
    assert info.value.code == code
    assert await svc.store.nullifier_count(ELECTION.election_id) == 0


async def test_a_declined_request_gives_no_token(svc: Svc) -> None:
    request = await svc.service.start(now=svc.clock())
    result = await svc.service.verifier.handle_response(
        {"state": request.state, "error": "access_denied"}, now=svc.clock()
    )
    with pytest.raises(ProtocolError) as info:
        await svc.service.admit(result, now=svc.clock())
    assert info.value.code == "access_denied"


async def test_nothing_is_accepted_outside_the_voting_period(svc: Svc) -> None:
    token = await svc.admit()
    ballot = prepare_ballot(ELECTION, "Sato")
    svc.clock.now = ELECTION.closes_at
    for attempt in (svc.service.start(now=svc.clock()), svc.service.cast(token, ballot, now=svc.clock())):
        with pytest.raises(ConflictError) as info:
            await attempt
        assert info.value.code == "voting_closed"
    with pytest.raises(ConflictError):
        await svc.service.start(now=ELECTION.opens_at - timedelta(seconds=1))


async def test_ballot_tokens_are_single_use_and_bound_to_the_election(svc: Svc) -> None:
    token = await svc.admit()
    with pytest.raises(InvalidInputError):
        await svc.service.cast(token, prepare_ballot(tsukuba_election("other-election"), "Sato"), now=svc.clock())
    await svc.service.cast(token, prepare_ballot(ELECTION, "Sato"), now=svc.clock())
    with pytest.raises(NotFoundError) as info:
        await svc.service.cast(token, prepare_ballot(ELECTION, "Sato"), now=svc.clock())
    assert info.value.code == "invalid_ballot_token"
    # Tokens expire.
    late = await svc.admit()
    svc.clock.now += svc.service.ballot_token_ttl + timedelta(seconds=1)
    with pytest.raises(NotFoundError):
        await svc.service.cast(late, prepare_ballot(ELECTION, "Sato"), now=svc.clock())


async def test_concurrent_casts_on_one_connection_count_once(svc: Svc) -> None:
    holder = Key.generate("P-256")
    vc = issue_sd_jwt_vc(GOOD, issuer=CITY, signer=svc.city_key, vct=VCT, disclosable=[[k] for k in GOOD],
                         holder_key=holder, now=svc.clock())
    tokens = [await svc.admit(credential=vc, holder=holder) for _ in range(3)]
    outcomes = await asyncio.gather(
        *(svc.service.cast(t, prepare_ballot(ELECTION, "Sato"), now=svc.clock()) for t in tokens),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert [o.code for o in outcomes if isinstance(o, ConflictError)] == ["already_voted"] * 2


async def test_concurrent_casts_on_two_connections_count_once(svc: Svc) -> None:
    second = await SqliteBallotStore.open(str(svc.db))
    try:
        eid = ELECTION.election_id
        ballots = [prepare_ballot(ELECTION, c) for c in ("Sato", "Suzuki")]
        outcomes = await asyncio.gather(
            *(
                store.cast(eid, nullifier="n" * 64, commitment=b.commitment, choice=b.choice, salt=b.salt)
                for store, b in zip((svc.store, second), ballots, strict=True)
            ),
            return_exceptions=True,
        )
        assert sum(o is None for o in outcomes) == 1
        assert [o.code for o in outcomes if isinstance(o, ConflictError)] == ["already_voted"]
        assert len(await second.ballots(eid)) == 1 and await second.nullifier_count(eid) == 1
    finally:
        await second.close()


async def test_a_reused_salt_is_a_conflict(svc: Svc) -> None:
    ballot = prepare_ballot(ELECTION, "Sato")
    await svc.service.cast(await svc.admit(), ballot, now=svc.clock())
    with pytest.raises(ConflictError) as info:
        await svc.service.cast(await svc.admit(), ballot, now=svc.clock())
    assert info.value.code == "conflict"


async def test_a_batch_recorded_before_a_crash_is_sent_again(svc: Svc) -> None:
    from vcsdk.voting import batch_tree

    for choice in ("Sato", "Suzuki"):
        await svc.service.cast(await svc.admit(), prepare_ballot(ELECTION, choice), now=svc.clock())
    pending = await svc.store.unbatched(ELECTION.election_id, limit=10)
    tree, leaves = batch_tree(pending)
    # Recorded, then the process died before the transaction was sent.
    await svc.store.add_batch(ELECTION.election_id, batch_id=tree.batch_id, root=tree.root, commitments=leaves)
    assert await svc.service.anchor.root_of(tree.batch_id) is None
    (again,) = await svc.service.anchor_pending()
    assert again.batch_id == tree.batch_id and await svc.service.anchor.root_of(tree.batch_id) == tree.root
    assert [b.state for b in await svc.store.batches(ELECTION.election_id)] == ["anchored"]
    # Sending the same batch once more is a no-op on chain.
    assert (await svc.service.anchor.anchor(tree.batch_id, tree.root, tree.size)).batch_id == tree.batch_id
    assert len(await svc.service.anchor.batches()) == 1


async def test_results_only_after_the_period(svc: Svc) -> None:
    await svc.service.cast(await svc.admit(), prepare_ballot(ELECTION, "Sato"), now=svc.clock())
    with pytest.raises(ConflictError) as early:
        await svc.service.close(now=svc.clock())
    assert early.value.code == "voting_open"
    with pytest.raises(ConflictError):
        svc.service.published()
    published = await svc.service.close(now=ELECTION.closes_at)
    assert published["tally"] == {"Sato": 1, "Suzuki": 0, "Takahashi": 0}
    assert svc.service.published() is published and await svc.service.close(now=ELECTION.closes_at) is published
    assert published["anchor"]["contract"] == svc.service.anchor.address


async def test_read_only_anchor_cannot_write(svc: Svc) -> None:
    from vcsdk.errors import RegistryError

    reader = BallotAnchor(svc.service.anchor.chain, svc.service.anchor.address)
    with pytest.raises(RegistryError) as info:
        await reader.anchor(b"\x01" * 32, b"\x02" * 32, 1)
    assert info.value.code == "read_only"
    assert await reader.anchored_roots() == {}


def test_service_configuration_is_checked(svc: Svc) -> None:
    kwargs: dict[str, Any] = dict(
        election=ELECTION, did=SERVICE_DID, signer=Key.generate("secp256k1").with_kid(f"{SERVICE_DID}#c"),
        base_url="https://vote.example/e", store=svc.store, anchor=svc.service.anchor,
        resolver=StaticKeyResolver({}), vct=VCT, status=None, clock=svc.clock,
    )
    with pytest.raises(InvalidInputError):
        VotingService(issuers=[], **kwargs)
    with pytest.raises(InvalidInputError):
        VotingService(issuers=[CITY], min_batch_size=5, batch_size=2, **kwargs)


async def test_accreditation_on_chain_when_configured(svc: Svc, embedded_chain: EmbeddedChain) -> None:
    from vcsdk.trust import AccreditationPolicy, TrustRegistry

    gov = embedded_chain.dev_keys[0]
    trust = await TrustRegistry.deploy(embedded_chain, sender=gov)
    service = VotingService(
        election=ELECTION, did=SERVICE_DID, signer=Key.generate("secp256k1").with_kid(f"{SERVICE_DID}#controller"),
        base_url="https://vote.tsukuba.example/e/2026", store=svc.store, anchor=svc.service.anchor,
        resolver=StaticKeyResolver({CITY: svc.city_key}), issuers=[CITY], vct=VCT, status=None, clock=svc.clock,
        accreditation=AccreditationPolicy(trust),
    )
    svc.service = service
    with pytest.raises(IssuerNotAccreditedError):
        await svc.admit()
    await trust.accredit(CITY, VCT, valid_from=svc.clock() - timedelta(days=1), sender=gov)
    assert await svc.admit()
    await trust.suspend(CITY, VCT, sender=gov)
    with pytest.raises(IssuerNotAccreditedError):
        await svc.admit()
