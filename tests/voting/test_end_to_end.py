"""End to end over HTTP on 127.0.0.1: eligibility over OpenID4VCI after the registry check, a
blind-signed ballot token from the city's token issuer, ballots cast at the voting service, batches
anchored on the embedded chain, the tally recomputed from the publication and the chain; and each
refusal with its typed error: double vote, second token, ineligible resident, revoked eligibility,
forged token, tagged key."""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import replace

import pytest

from vcsdk.blindrsa import generate_key
from vcsdk.credentials import disclosable_paths, issue_sd_jwt_vc, voting_eligibility_claims
from vcsdk.errors import (
    AlreadyVotedError,
    BallotTokenError,
    CredentialRevokedError,
    NotEligibleError,
    ProofInvalidError,
    ProtocolError,
    TokenAlreadyIssuedError,
    TokenKeyError,
)
from vcsdk.keys import Key
from vcsdk.oid4vc import HttpRequest, send
from vcsdk.voting import (
    BallotAnchor,
    BallotReceipt,
    NotEligible,
    TokenKey,
    begin_token,
    parse_proof_answer,
    prepare_ballot,
    proof_request,
    verify_ballot_receipt,
    verify_published_election,
)

from ._town import Town, application, resident

VOTERS = {"TK-000203": "Sato", "TK-000205": "Suzuki", "TK-000206": "Sato"}
REVOKED = "TK-000204"
KAGA = "KG-000101"


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


async def test_three_residents_vote_and_anyone_can_check(town: Town) -> None:
    election = town.service.election
    devices = {rid: Key.generate("P-256") for rid in [*VOTERS, REVOKED, KAGA]}

    # 1. The city checks the registry and issues one eligibility credential per eligible resident.
    credentials = {rid: await town.get_credential(rid, devices[rid]) for rid in [*VOTERS, REVOKED]}
    credentials[KAGA] = await town.get_credential(KAGA, devices[KAGA], issuer=town.extra_issuers["kaga"])
    for rid, why in [("TK-000201", "under_age"), ("TK-000202", "not_active"), ("KG-000104", "outside_districts")]:
        assert await town.issuer.offer(application(rid), now=town.clock()) == NotEligible(why)  # type: ignore[arg-type]
    assert await town.issuer.offer(application("TK-000203"), now=town.clock()) == NotEligible("already_issued")
    await town.issuer.revoke(resident(REVOKED).record.resident_id, now=town.clock())
    town.publish_status()

    # 2. Before voting opens each voter's device gets its token: the key is checked on chain first.
    tokens = {rid: await town.ballot_token(credentials[rid], devices[rid]) for rid in VOTERS}
    assert len({t.serial for t in tokens.values()}) == 3
    town.clock.now = election.opens_at

    # A second token for the same resident, even with a fresh blinded message: refused, typed.
    with pytest.raises(TokenAlreadyIssuedError):
        await town.ballot_token(credentials["TK-000203"], devices["TK-000203"])
    # Revoked eligibility before the token was issued: refused by the status list.
    with pytest.raises(CredentialRevokedError):
        await town.ballot_token(credentials[REVOKED], devices[REVOKED])
    # The Kaga resident's credential is for another election and district.
    with pytest.raises(ProtocolError) as wrong:
        await town.ballot_token(credentials[KAGA], devices[KAGA])
    assert wrong.value.code == "wrong_election"
    # A credential for this election that says "not eligible" (a city issuing to every resident).
    device = Key.generate("P-256")
    not_eligible = issue_sd_jwt_vc(
        voting_eligibility_claims(election_id=election.election_id, eligible=False, district="tsukuba-a",
                                  age_over_18=True),
        issuer=town.city_did, signer=town.city_key, vct=town.issuer.vct,
        disclosable=disclosable_paths("VotingEligibilityCredential"), holder_key=device, now=town.clock(),
    )
    with pytest.raises(NotEligibleError):  # ClaimsError "not_eligible", typed on the device too
        await town.ballot_token(not_eligible, device)

    # 3. Three residents vote; each keeps a receipt.
    receipts: dict[str, BallotReceipt] = {}
    ballots = {}
    for rid, choice in VOTERS.items():
        ballots[rid] = prepare_ballot(election, choice)
        receipts[rid] = await town.cast(tokens[rid], ballots[rid])
    # Double vote with the same token: refused, typed.
    with pytest.raises(AlreadyVotedError):
        await town.cast(tokens["TK-000203"], prepare_ballot(election, "Takahashi"))
    # A forged token (random signature) and a token moved to another serial: refused, typed.
    forged = replace(tokens["TK-000205"], serial=b"\x07" * 32)
    with pytest.raises(BallotTokenError):
        await town.cast(forged, prepare_ballot(election, "Takahashi"))
    with pytest.raises(BallotTokenError):
        await town.cast(replace(forged, signature=b"\x01" * 256), prepare_ballot(election, "Takahashi"))

    # 4. Batches on chain; every voter checks their receipt against the root read from the chain.
    batches = await town.service.anchor_pending()
    assert sum(b.size for b in batches) == 3
    for rid, receipt in receipts.items():
        proof = parse_proof_answer(await send(town.session, proof_request(town.base, receipt.commitment)))
        assert proof is not None
        root = await BallotAnchor(town.chain, town.anchor.address).root_of(proof.batch_id)
        verify_ballot_receipt(replace(receipt, proof=proof), root=root or b"", expected=ballots[rid])

    # 5. After the period: the publication, recounted by anyone, tokens and all.
    town.clock.now = election.closes_at
    early = await send(town.session, HttpRequest("GET", f"{town.base}/results"))
    assert early.status == 409
    await town.service.close(now=town.clock())
    published = (await send(town.session, HttpRequest("GET", f"{town.base}/results"))).json_object(what="results")
    auditor = BallotAnchor(town.chain, published["anchor"]["contract"])
    keys = [TokenKey.from_json(k) for k in published["token_keys"]]
    result = verify_published_election(published, anchored=await auditor.anchored_roots(),
                                       committed_at=await auditor.token_key_commitments(keys))
    assert dict(result.counts) == {"Sato": 2, "Suzuki": 1, "Takahashi": 0}
    assert {b["token"]["serial"] for b in published["ballots"]} == {
        base64.urlsafe_b64encode(t.serial).rstrip(b"=").decode() for t in tokens.values()}
    assert await town.ledger.tokens_issued(election.election_id) == 3 == result.ballots
    # A publication with one ballot's token swapped for a forged one does not verify.
    bad = json.loads(json.dumps(published))
    bad["ballots"][0]["token"]["signature"] = base64.urlsafe_b64encode(b"\x01" * 256).rstrip(b"=").decode()
    with pytest.raises(BallotTokenError):
        verify_published_election(bad, anchored=await auditor.anchored_roots())

    # 6. What the stores hold: no name, birthdate, address or resident id in the ballot box or on
    # chain; the ballot box holds nothing of the issuance side (see test_collusion for the attacks).
    personal = []
    for rid in [*VOTERS, REVOKED]:
        r = resident(rid).record
        personal += [r.family_name, r.given_name, r.birthdate.isoformat(), r.address.postal_code, r.resident_id]
    raw = town.db_path.read_bytes()
    for value in personal:
        assert value.encode() not in raw
    with sqlite3.connect(town.db_path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"voting_ballots", "voting_batches", "voting_ballot_migrations"}
        columns = {r[1] for r in db.execute("PRAGMA table_info(voting_ballots)")}
        assert columns == {"election_id", "serial", "district", "prefix", "signature", "commitment", "choice",
                           "salt", "batch_id"}


async def test_a_city_signing_with_another_key_is_caught_by_the_device(town: Town) -> None:
    """The city keeps the committed key for the public but signs one voter's request with a second key."""
    device = Key.generate("P-256")
    credential = await town.get_credential("TK-000205", device)
    town.publish_status()
    committed_key = town.token_issuer._keys[None]
    # The tagging key, for this one request (a modulus above the committed one, so it can sign any
    # blinded message the device sends).
    tagging = generate_key(2048)
    while tagging.public_key().public_numbers().n <= committed_key.public_key().public_numbers().n:
        tagging = generate_key(2048)
    town.token_issuer._keys[None] = tagging
    try:
        with pytest.raises(BallotTokenError):
            await town.ballot_token(credential, device)
    finally:
        town.token_issuer._keys[None] = committed_key
    # And a key the city hands out that is not the committed one is refused before blinding.
    tagged = TokenKey(town.service.election_id, None, generate_key(2048).public_key())
    with pytest.raises(TokenKeyError):
        begin_token(tagged, election=town.service.election, district=None,
                    committed=await town.anchor.committed_token_key(tagged))


async def test_an_ineligible_resident_at_token_time_is_refused(town: Town) -> None:
    """Eligible when the credential was issued, moved out since: the registry is asked again."""
    device = Key.generate("P-256")
    credential = await town.get_credential("TK-000206", device)
    town.publish_status()

    class MovedOut:
        async def get_resident_status(self, resident_id: str):  # type: ignore[no-untyped-def]
            from datetime import date

            from vcsdk.kyc import ResidentStatus

            return ResidentStatus(status="moved_out", since=date(2026, 1, 20))

    town.token_issuer._registry = MovedOut()  # type: ignore[assignment]
    with pytest.raises(NotEligibleError):
        await town.ballot_token(credential, device)
    assert await town.ledger.tokens_issued(town.service.election_id) == 0


async def test_ballots_outside_the_period_and_garbage_are_refused(town: Town) -> None:
    device = Key.generate("P-256")
    credential = await town.get_credential("TK-000203", device)
    town.publish_status()
    token = await town.ballot_token(credential, device)
    with pytest.raises(ProtocolError) as early:  # voting not open yet
        await town.cast(token, prepare_ballot(town.service.election, "Sato"))
    assert early.value.code == "voting_closed"
    town.clock.now = town.service.election.closes_at
    with pytest.raises(ProtocolError) as late:
        await town.cast(token, prepare_ballot(town.service.election, "Sato"))
    assert late.value.code == "voting_closed"
    with pytest.raises(ProtocolError) as closed:
        await town.ballot_token(credential, device)  # no tokens after the period either
    assert closed.value.code == "voting_closed"
    with pytest.raises(ProofInvalidError):
        verify_ballot_receipt(BallotReceipt(town.service.election_id, b"\x00" * 32, "Sato", b"\x00" * 32, None),
                              root=b"\x00" * 32)
