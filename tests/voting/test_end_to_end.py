"""Issue 10 end to end: eligibility issued over OpenID4VCI after the registry check, presented over
OpenID4VP to a voting service on 127.0.0.1, ballots anchored on the embedded chain, tally
recomputed from the publication, and a scan proving the ballot store and the chain hold nothing
that identifies a voter."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3

import pytest

from vcsdk.credentials import disclosable_paths, issue_sd_jwt_vc, voting_eligibility_claims
from vcsdk.errors import ConflictError, ProofInvalidError, ProtocolError
from vcsdk.keys import Key
from vcsdk.oid4vc import HttpRequest, send
from vcsdk.voting import (
    BallotReceipt,
    NotEligible,
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

    # 2. Three residents vote; each keeps a receipt.
    receipts: dict[str, BallotReceipt] = {}
    ballots = {}
    for rid, choice in VOTERS.items():
        ballots[rid] = prepare_ballot(election, choice)
        token = await town.ballot_token(credentials[rid], devices[rid])
        receipts[rid] = await town.cast(token, ballots[rid])

    # One tries again with the same credential: refused at presentation time.
    first = "TK-000203"
    with pytest.raises(ProtocolError) as again:
        await town.ballot_token(credentials[first], devices[first])
    assert again.value.code == "already_voted"

    # The Kaga resident's credential is for another election and district: a careful wallet has
    # nothing to offer, a careless one is refused by the service.
    with pytest.raises(ProtocolError) as nothing:
        await town.present(credentials[KAGA], devices[KAGA])
    assert nothing.value.code == "access_denied"
    with pytest.raises(ProtocolError) as wrong:
        await town.ballot_token(credentials[KAGA], devices[KAGA], honest=False)
    assert wrong.value.code == "wrong_election"

    # A credential for this election that says "not eligible" (a city issuing to every resident,
    # eligible or not) is refused too, whatever the wallet discloses.
    device = devices["not-eligible"] = Key.generate("P-256")
    not_eligible = issue_sd_jwt_vc(
        voting_eligibility_claims(election_id=election.election_id, eligible=False, district="tsukuba-a",
                                  age_over_18=False),
        issuer=town.city_did, signer=town.city_key, vct=town.service.vct, holder_key=device,
        disclosable=disclosable_paths("VotingEligibilityCredential"), now=town.clock(),
    )
    with pytest.raises(ProtocolError) as ineligible:
        await town.ballot_token(not_eligible, device, honest=False)
    assert ineligible.value.code == "not_eligible"

    # The revoked eligibility is refused (status list).
    with pytest.raises(ProtocolError) as revoked:
        await town.ballot_token(credentials[REVOKED], devices[REVOKED])
    assert revoked.value.code == "credential_revoked"

    # 3. Ballots are anchored; every voter checks inclusion against the root read from the chain.
    assert [b.size for b in await town.service.anchor_pending()] == [3]
    for rid, receipt in receipts.items():
        proof = parse_proof_answer(await send(town.session, proof_request(town.base, receipt.commitment)))
        assert proof is not None
        root = await town.anchor.root_of(proof.batch_id)
        assert root is not None
        verify_ballot_receipt(
            BallotReceipt(receipt.election_id, receipt.commitment, receipt.choice, receipt.salt, proof),
            root=root, expected=ballots[rid],
        )

    # 4. No results before the period closes; then the publication and its public check.
    early = await send(town.session, HttpRequest("GET", f"{town.base}/results"))
    assert early.status == 409 and early.json_object(what="e")["error"] == "voting_open"
    with pytest.raises(ConflictError):
        await town.service.close(now=town.clock())
    town.clock.now = election.closes_at
    late = await send(town.session, HttpRequest("POST", f"{town.base}/sessions", {}, b""))
    assert late.status == 409 and late.json_object(what="e")["error"] == "voting_closed"
    await town.service.close(now=town.clock())
    published = (await send(town.session, HttpRequest("GET", f"{town.base}/results"))).json_object(what="results")
    assert published["tally"] == {"Sato": 2, "Suzuki": 1, "Takahashi": 0}
    auditor_roots = await town.anchor.anchored_roots()
    verified = verify_published_election(published, anchored=auditor_roots)
    assert dict(verified.counts) == {"Sato": 2, "Suzuki": 1, "Takahashi": 0} and verified.ballots == 3

    # Altering any published ballot or the tally is detected.
    tampered = {**published, "ballots": [dict(b) for b in published["ballots"]]}
    tampered["ballots"][0]["choice"] = "Takahashi" if tampered["ballots"][0]["choice"] != "Takahashi" else "Sato"
    with pytest.raises(ProofInvalidError) as bad:
        verify_published_election(tampered, anchored=auditor_roots)
    assert bad.value.code == "commitment_mismatch"
    with pytest.raises(ProofInvalidError) as bad_tally:
        verify_published_election({**published, "tally": {"Sato": 3, "Suzuki": 0, "Takahashi": 0}},
                                  anchored=auditor_roots)
    assert bad_tally.value.code == "tally_mismatch"

    # 5. Nothing identifying in the ballot store or on chain.
    await _assert_nothing_identifying(
        town, [*VOTERS, REVOKED, KAGA], devices, controls=[r.commitment for r in receipts.values()]
    )


async def test_concurrent_submissions_with_one_credential_count_once(town: Town) -> None:
    device = Key.generate("P-256")
    credential = await town.get_credential("TK-000205", device)
    town.publish_status()
    # Two presentations of the same credential before either ballot is cast: both admitted...
    tokens = [await town.ballot_token(credential, device) for _ in range(2)]
    ballots = [prepare_ballot(town.service.election, c) for c in ("Sato", "Suzuki")]
    # ...but of two concurrent casts exactly one is accepted.
    outcomes = await asyncio.gather(
        *(town.cast(t, b) for t, b in zip(tokens, ballots, strict=True)), return_exceptions=True
    )
    accepted = [o for o in outcomes if isinstance(o, BallotReceipt)]
    refused = [o for o in outcomes if isinstance(o, ProtocolError)]
    assert len(accepted) == 1 and len(refused) == 1 and refused[0].code == "already_voted"
    assert await town.store.nullifier_count(town.service.election_id) == 1
    assert len(await town.store.ballots(town.service.election_id)) == 1
    # A used token cannot be replayed.
    answer = await send(town.session, HttpRequest.json(
        f"{town.base}/ballots", {"ballot_token": tokens[0], "choice": "Sato", "salt": "0x" + "11" * 32}))
    assert answer.status == 404 and answer.json_object(what="e")["error"] == "invalid_ballot_token"


async def _assert_nothing_identifying(
    town: Town, resident_ids: list[str], devices: dict[str, Key], *, controls: list[bytes]
) -> None:
    needles: set[bytes] = set()
    for rid in resident_ids:
        r = resident(rid).record
        a = r.address
        texts = [r.resident_id, r.family_name, r.given_name, r.birthdate.isoformat(), r.birthdate.strftime("%Y%m%d"),
                 a.postal_code, a.street, f"{a.prefecture}{a.city}{a.street}"]
        texts += [t for t in (r.family_name_kana, r.given_name_kana) if t]
        needles.update(t.encode("utf-8") for t in texts)
    for device in devices.values():
        jwk = device.public_jwk()
        for coord in ("x", "y"):
            needles.update({jwk[coord].encode(), _b64(jwk[coord]), _b64(jwk[coord]).hex().encode()})

    # Every row of every table, and the raw database files (WAL included).
    blobs: list[bytes] = []
    with sqlite3.connect(town.db_path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert sorted(tables) == ["voting_ballots", "voting_batches", "voting_nullifiers"]
        columns = {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for t in tables}
        assert columns["voting_ballots"] == ["election_id", "commitment", "choice", "salt", "batch_id"]
        assert columns["voting_nullifiers"] == ["election_id", "nullifier"]
        for table in tables:
            for row in db.execute(f"SELECT * FROM {table}"):
                for value in row:
                    blobs.append(value if isinstance(value, bytes) else str(value).encode("utf-8"))
    for path in town.db_path.parent.glob(town.db_path.name + "*"):
        blobs.append(path.read_bytes())

    # What the service still holds in memory after the election (OpenID4VP state, ballot tokens).
    state = town.service._state._data  # type: ignore[attr-defined]
    blobs.append(json.dumps([[k, v[0]] for k, v in state.items()], ensure_ascii=False).encode("utf-8"))

    # Every transaction's calldata and every log since genesis (the anchoring ones included).
    w3 = town.chain.w3
    anchored_calls = 0
    for number in range(await w3.eth.get_block_number() + 1):
        block = await w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            anchored_calls += tx["to"] == town.anchor.address
            blobs.append(bytes(tx.get("input", tx.get("data", b""))))
            receipt = await w3.eth.get_transaction_receipt(tx["hash"])
            blobs.extend(bytes(log["data"]) for log in receipt["logs"])
            blobs.extend(bytes(t) for log in receipt["logs"] for t in log["topics"])
    assert anchored_calls >= 1
    # Positive control: the scan does see what is stored (each commitment, in the ballot table).
    assert all(any(c in blob for blob in blobs) for c in controls)
    assert len(needles) > 40
    for blob in blobs:
        for needle in needles:
            assert needle not in blob, "identifying data found in the ballot store or anchored data"
