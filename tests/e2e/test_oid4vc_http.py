"""End to end over real HTTP on 127.0.0.1, three parties (see ``_parties.py``):

offer (city back office, after KYC) → tx_code → the phone signs the key proof → credential stored,
encrypted → a service's OpenID4VP request → consent screen → the phone signs the KB-JWT → the
service verifies signature, status and accreditation on chain and sees exactly the DCQL-requested
claims → its access receipt is verified against the consent, stored, anchored in a Merkle batch on
chain, and listed with a proof checked against the chain. Then each refusal issue 9 lists, with the
spec's error code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.chain_fixtures import mine
from tests.e2e._parties import ACTIVE, PURPOSE, PURPOSE_ID, SERVICE_NAME, World, query, world
from vcsdk.credentials import present
from vcsdk.keys import decode_jws, sign_jws
from vcsdk.oid4vc import HttpRequest, create_key_proof, parse_credential_offer, send
from vcsdk.outbox import AccessReceiptRegistry, ReceiptEntry
from vcsdk.receipts import receipt_leaf, verify_inclusion
from wallet_server.appkeys import RECEIPTS, STORE


async def accept_offer(w: World, tx_code: str, *, copies: int = 0, phone: Any = None) -> dict[str, Any]:
    """The phone accepts the newest offer in its inbox and signs the key proof — or, with
    ``copies``, makes that many fresh keys and signs one key proof with each (batch issuance)."""
    phone = phone or w.phone
    status, inbox = await phone.call("GET", "/v1/offers")
    offer = next(o for o in inbox["items"] if o["state"] in ("pending", "accepting"))
    body: dict[str, Any] = {"tx_code": tx_code}
    if copies:
        body["keys"] = phone.new_copy_keys(copies)
    status, to_sign = await phone.call("POST", f"/v1/offers/{offer['id']}/accept", body)
    assert status == 200, to_sign
    if copies:
        assert [i["jwk"] for i in to_sign["signing_inputs"]] == body["keys"]
        signed = {"signatures": [phone.signature(i["signing_input"], i["jwk"]) for i in to_sign["signing_inputs"]]}
    else:
        signed = {"signature": phone.signature(to_sign["signing_input"])}
    status, credential = await phone.call("POST", f"/v1/offers/{offer['id']}/signature", signed)
    assert status == 201, credential
    return {"offer": offer, "credential": credential}


async def answer(w: World, link: str, *, phone: Any = None) -> dict[str, Any]:
    """The phone asks the wallet server to answer a service's request, consents and signs (each
    KB-JWT with the key of the credential copy it presents)."""
    phone = phone or w.phone
    status, screen = await phone.call("POST", "/v1/presentations", {"request_uri": link})
    assert status == 201, screen
    status, consent = await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", {})
    assert status == 200, consent
    signatures = [
        {"query_id": s["query_id"], "signature": phone.signature(s["signing_input"], s["jwk"])}
        for s in consent["signing_inputs"]
    ]
    status, done = await phone.call("POST", f"/v1/presentations/{screen['id']}/signature", {"signatures": signatures})
    assert status == 200, done
    return {"screen": screen, "done": done}


async def post_form(w: World, url: str, fields: dict[str, str]) -> tuple[int, Any]:
    response = await send(w.session, HttpRequest.form(url, fields))
    return response.status, json.loads(response.body)


@pytest.mark.parametrize(
    "backend", ["sqlite", "postgres", pytest.param("anvil", marks=pytest.mark.integration)]
)
async def test_offer_to_anchored_receipt(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    # "anvil": SQLite, and a real JSON-RPC node with the contracts `vcsdk deploy` puts there.
    node = request.getfixturevalue("anvil_node") if backend == "anvil" else None
    async with world(tmp_path, "sqlite" if backend == "anvil" else backend, node=node) as w:
        # -- issuance: KYC at the city, offer in the inbox, tx_code by letter, proof signed on the phone
        tx_code = await w.issue_offer()
        status, inbox = await w.phone.call("GET", "/v1/offers")
        (offer,) = inbox["items"]
        assert offer["state"] == "pending" and offer["tx_code"]["length"] == len(tx_code)
        assert offer["credential_issuer"] == f"{w.wallet_url}/issuer"
        issued = await accept_offer(w, tx_code)
        credential = issued["credential"]
        assert credential["issuer"] == w.city.did and credential["vct"]
        status, inbox = await w.phone.call("GET", "/v1/offers")
        assert inbox["items"][0]["state"] == "redeemed"

        # -- the service asks for two claims; the resident sees who, why and exactly what
        request = await w.service.verifier.create_request(query(credential["vct"]), purpose=PURPOSE_ID, now=w.clock())
        status, screen = await w.phone.call("POST", "/v1/presentations", {"request_uri": request.deep_link})
        assert status == 201, screen
        assert screen["service"] == {"did": w.service.did, "name": SERVICE_NAME} and screen["purpose"] == PURPOSE
        assert screen["credentials"] == [
            {
                "query_id": "resident",
                "options": [
                    {
                        "credential_id": credential["id"],
                        "claims": [["age_equal_or_over", "20"], ["address", "locality"]],
                        "copies_left": None,  # bound to the device key: not a copy of a batch
                    }
                ],
            }
        ]
        status, consent = await w.phone.call("POST", f"/v1/presentations/{screen['id']}/consent", {})
        (to_sign,) = consent["signing_inputs"]
        signatures = [{"query_id": "resident", "signature": w.phone.signature(to_sign["signing_input"])}]
        path = f"/v1/presentations/{screen['id']}/signature"
        status, done = await w.phone.call("POST", path, {"signatures": signatures})
        assert status == 200 and done["state"] == "shared", done

        # -- the service verified (signature, status, accreditation) and saw exactly what it asked for
        (result,) = w.service.results
        expected = {"age_equal_or_over": {"20": True}, "address": {"locality": ACTIVE.address.city}}
        assert dict(result.claims()) == expected

        # -- the access receipt: verified against the consent, stored, then anchored on chain
        receipt_id = done["outcome"]["receipt_id"]
        status, listing = await w.phone.call("GET", "/v1/receipts")
        assert [(r["id"], r["state"]) for r in listing["items"]] == [(receipt_id, "queued")]
        receipts = w.wallet[RECEIPTS]
        report = await receipts.tick()  # the batcher's round: cut a batch of one, send the anchor
        assert report.batches_cut == 1 and report.sent == 1 and report.chain_error is None
        status, listing = await w.phone.call("GET", "/v1/receipts")
        assert listing["items"][0]["state"] == "anchoring"
        await mine(w.city.chain, 1)  # a second block on top: the configured two confirmations
        report = await receipts.tick()
        assert report.finalized == 1, report
        status, one = await w.phone.call("GET", f"/v1/receipts/{receipt_id}")
        assert status == 200 and one["state"] == "final" and one["proof_verified"] is True
        assert one["claims"] == ["age_equal_or_over.20", "address.locality"] and one["purpose"] == PURPOSE_ID
        # the resident can check the proof alone, against the root the chain holds
        token, salt, proof = ReceiptEntry.proof_material(one["entry"])
        registry = AccessReceiptRegistry(w.city.chain, w.city.receipt_registry_address)
        root = await registry.root_of(proof.batch_id)
        assert root is not None
        verify_inclusion(receipt_leaf(token.encode("ascii"), salt), proof, root)

        # -- history: the consent and the presentation
        status, consents = await w.phone.call("GET", "/v1/consents")
        (given,) = consents["items"]
        assert given["service"]["did"] == w.service.did and given["claims"] == one["claims"]
        status, history = await w.phone.call("GET", "/v1/history/presentations")
        assert [h["state"] for h in history["items"]] == ["shared"]


async def test_refusals_with_the_specs_errors(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        # -- wrong tx_code: the token endpoint says invalid_grant; the offer stays open
        tx_code = await w.issue_offer()
        status, inbox = await w.phone.call("GET", "/v1/offers")
        offer_id = inbox["items"][0]["id"]
        wrong = "0" * len(tx_code) if tx_code != "0" * len(tx_code) else "1" * len(tx_code)
        status, problem = await w.phone.call("POST", f"/v1/offers/{offer_id}/accept", {"tx_code": wrong})
        assert (status, problem["code"]) == (400, "invalid_grant")
        issued = await accept_offer(w, tx_code)
        credential_id = issued["credential"]["id"]

        # -- the pre-authorized code replayed: at the token endpoint, and through the wallet
        stored = await w.wallet[STORE].get_offer(offer_id)
        offer = parse_credential_offer(stored.offer_json)
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": offer.pre_authorized_code,
            "tx_code": tx_code,
        }
        status, error = await post_form(w, f"{w.wallet_url}/issuer/token", form)
        assert (status, error["error"]) == (400, "invalid_grant")
        status, problem = await w.phone.call("POST", f"/v1/offers/{offer_id}/accept", {"tx_code": tx_code})
        assert status == 409

        # -- a key proof over a nonce the issuer never gave: invalid_nonce
        tx_code = await w.issue_offer()
        inbox_rows = (await w.wallet[STORE].list_offers(w.phone.resident_id, limit=10)).items
        stored = next(o for o in inbox_rows if o.state == "pending")
        offer = parse_credential_offer(stored.offer_json)
        form["pre-authorized_code"], form["tx_code"] = offer.pre_authorized_code, tx_code
        status, token = await post_form(w, f"{w.wallet_url}/issuer/token", form)
        assert status == 200, token
        proof = create_key_proof(w.phone.key, audience=offer.credential_issuer, nonce="not-a-c-nonce", now=w.clock())
        body = {"credential_configuration_id": offer.credential_configuration_ids[0], "proofs": {"jwt": [proof]}}
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        response = await send(w.session, HttpRequest.json(f"{w.wallet_url}/issuer/credential", body, headers=headers))
        assert (response.status, json.loads(response.body)["error"]) == (400, "invalid_nonce")

        vct = issued["credential"]["vct"]
        verifier = w.service.verifier

        # -- a request object signed by another DID than its client_id: refused before consent
        genuine = await verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())
        _, other_key = w.other_did_key
        forged = sign_jws(decode_jws(genuine.request_object).unverified_claims(), other_key, typ="oauth-authz-req+jwt")
        link = "openid4vp://?" + urlencode({"client_id": genuine.client_id, "request": forged})
        status, problem = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
        assert (status, problem["code"]) == (400, "invalid_request")

        # -- a presentation made for the first request, replayed to a second one: nonce_mismatch
        first = await answer(w, genuine.deep_link)
        assert first["done"]["state"] == "shared"
        (result,) = w.service.results
        vp = result.credentials["resident"][0].presentation
        second = await verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())
        token_field = json.dumps({"resident": [vp]})
        status, error = await post_form(w, verifier.response_uri, {"vp_token": token_field, "state": second.state})
        # (the SDK's verifier answers a failed verification with 401, a malformed answer with 400)
        assert 400 <= status < 500 and error["error"] == "nonce_mismatch"

        # -- the same response again (its nonce and state are spent): invalid_request
        status, error = await post_form(w, verifier.response_uri, {"vp_token": token_field, "state": genuine.state})
        assert (status, error["error"]) == (400, "invalid_request")
        # and the wallet sends one presentation once
        screen_id = first["screen"]["id"]
        again = {"signatures": [{"query_id": "resident", "signature": "AAAA"}]}
        status, problem = await w.phone.call("POST", f"/v1/presentations/{screen_id}/signature", again)
        assert status == 409

        # -- an over-broad response (a Disclosure nobody asked for): invalid_disclosure
        third = await verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())
        status, raw = await w.phone.call("GET", f"/v1/credentials/{credential_id}")
        too_much = present(
            raw["credential"],
            disclose=[("age_equal_or_over", "20"), ("address", "locality"), ("given_name",)],
            holder_signer=w.phone.key, audience=third.client_id, nonce=third.nonce, now=w.clock(),
        )
        fields = {"vp_token": json.dumps({"resident": [too_much]}), "state": third.state}
        status, error = await post_form(w, verifier.response_uri, fields)
        assert 400 <= status < 500 and error["error"] == "invalid_disclosure"
        assert len(w.service.results) == 1  # none of the refused answers reached the service's frontend
