"""Receipts are part of the deal, and a withdrawal reaches the service — end to end over real HTTP on
127.0.0.1 (see ``_parties.py``), with the resident-visible outcome asserted at every step.

- a service that returns no access receipt, or one that does not verify: the resident sees the
  violation on the presentation and in their list, the city sees it counted for that service (no
  resident in it), and by the resident's setting (on by default) the service is refused next time;
- a withdrawn consent: delivered, signed, to the service's registered endpoint, answered with a
  signed withdrawal receipt that is verified, anchored on chain and listed with a proof; a service
  that does not answer gets a violation and the resident can retry;
- a service built with nothing but the SDK's recipe (``vcsdk.Service.routes``) keeps all of it: one
  access receipt per presentation (the same one again), the consent held as signed evidence, the
  withdrawal answered with a withdrawal receipt, forged or unsigned records refused.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.chain_fixtures import mine
from tests.e2e._parties import PURPOSE_ID, World, query, serve_recipe_service, world
from tests.e2e.test_oid4vc_http import accept_offer, answer
from tests.wallet_server._helpers import OPERATOR_TOKEN
from vcsdk.keys import Key
from vcsdk.receipts import CONSENT_HEADER, peek_access_receipt, sign_consent_record, verify_consent_record_resolved
from wallet_server.appkeys import RECEIPTS


async def _operator_get(w: World, path: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with w.session.get(w.wallet_url + path, headers=headers) as resp:
        return resp.status, await resp.json()


async def _link(w: World, vct: str) -> str:
    return (await w.service.verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())).deep_link


async def test_a_missing_or_invalid_receipt_is_a_violation_and_the_service_is_refused_next_time(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        vct = (await accept_offer(w, await w.issue_offer()))["credential"]["vct"]

        # -- the service takes the data and returns no receipt
        w.service.desk.receipt_behaviour = "no_receipt"
        done = (await answer(w, await _link(w, vct)))["done"]
        assert done["state"] == "shared"  # the data went out: the resident is told what happened
        outcome = done["outcome"]
        assert outcome["receipt_error"] == "receipt_missing" and outcome["violation"] == "receipt_missing"
        assert "receipt_id" not in done["outcome"]

        # the resident's list of broken promises
        status, violations = await w.phone.call("GET", "/v1/violations")
        assert status == 200
        (only,) = violations["items"]
        assert (only["service_did"], only["kind"], only["ref_id"]) == (w.service.did, "receipt_missing", done["id"])

        # the city sees it counted per service, and nothing about the resident
        status, summary = await _operator_get(w, "/admin/v1/violations")
        assert status == 200
        assert [(s["service_did"], s["kind"], s["count"]) for s in summary["items"]] == [
            (w.service.did, "receipt_missing", 1)
        ]
        assert w.phone.resident_id not in str(summary)

        # next time, by the resident's setting (on by default), the wallet refuses the service outright
        status, settings = await w.phone.call("GET", "/v1/privacy")
        assert settings["refuse_after_violation"] is True
        w.service.desk.receipt_behaviour = "ok"
        status, refused = await w.phone.call("POST", "/v1/presentations", {"request_uri": await _link(w, vct)})
        assert status == 201 and refused["state"] == "refused" and refused["outcome"]["refused_by"] == "wallet"
        assert refused["outcome"]["error"] == "service_refused_after_violation"
        assert "did not keep its promise" in refused["outcome"]["reason"]
        assert len(w.service.results) == 1  # the refused request reached no one

        # the resident may choose otherwise: then the service is asked again, and this time keeps the rule
        status, settings = await w.phone.call("PATCH", "/v1/privacy", {"refuse_after_violation": False})
        assert status == 200 and settings == {"refuse_after_violation": False, "copy_policy": "one_time"}
        again = (await answer(w, await _link(w, vct)))["done"]
        assert again["state"] == "shared" and "receipt_id" in again["outcome"] and "violation" not in again["outcome"]

        # -- a receipt that does not verify (signed by a key that is not the service's)
        w.service.desk.receipt_behaviour = "bad_receipt"
        bad = (await answer(w, await _link(w, vct)))["done"]
        assert bad["outcome"]["violation"] == "receipt_invalid"
        assert bad["outcome"]["receipt_error"] == "signature_invalid"
        status, violations = await w.phone.call("GET", "/v1/violations")
        assert sorted(v["kind"] for v in violations["items"]) == ["receipt_invalid", "receipt_missing"]
        status, summary = await _operator_get(w, "/admin/v1/violations")
        assert {(s["kind"], s["count"]) for s in summary["items"]} == {("receipt_missing", 1), ("receipt_invalid", 1)}

        # bad settings are refused with a 400, never stored
        status, problem = await w.phone.call("PATCH", "/v1/privacy", {"refuse_after_violation": "yes"})
        assert status == 400 and problem["code"] == "invalid_input"


async def test_a_withdrawn_consent_reaches_the_service_and_its_receipt_is_anchored(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        vct = (await accept_offer(w, await w.issue_offer()))["credential"]["vct"]
        done = (await answer(w, await _link(w, vct)))["done"]
        consent_id = done["outcome"]["consent_id"]
        # the service holds the signed record as evidence of the consent
        kept = await w.service.desk.sdk.consents.get(consent_id)
        assert kept is not None
        evidence = kept.evidence
        held = await verify_consent_record_resolved(evidence, wallet_did=w.city.did, resolver=w.city.resolver)
        assert held.state == "given" and held.retention_days == 30 and held.notice.endswith("/privacy")

        # -- the service is down when the resident withdraws: withdrawn all the same, not delivered
        w.service.desk.withdrawal_behaviour = "down"
        w.clock.advance(seconds=30)
        await w.phone.login()
        status, consent = await w.phone.call("POST", f"/v1/consents/{consent_id}/withdraw")
        assert status == 200 and consent["state"] == "withdrawn"
        assert consent["withdrawal"] == {"delivered": False, "error": "temporarily_unavailable"}
        status, violations = await w.phone.call("GET", "/v1/violations")
        assert [(v["kind"], v["ref_id"]) for v in violations["items"]] == [("withdrawal_unanswered", consent_id)]

        # -- the resident withdraws again once it is back: delivered, answered with a signed receipt
        w.service.desk.withdrawal_behaviour = "ok"
        status, consent = await w.phone.call("POST", f"/v1/consents/{consent_id}/withdraw")
        assert status == 200 and consent["withdrawal"]["delivered"] is True
        receipt_id = consent["withdrawal"]["receipt_id"]
        events = consent["record"]["events"]
        assert [e["type"] for e in events] == ["given", "withdrawn"] and consent["record"]["withdrawn_at"]
        # the service now holds the withdrawal, signed by the wallet, and stops using the data
        assert (await w.service.desk.sdk.consents.get(consent_id)).record.state == "withdrawn"
        status, again = await w.phone.call("POST", f"/v1/consents/{consent_id}/withdraw")
        assert status == 409 and again["code"] == "conflict"

        # -- the withdrawal receipt is the resident's, anchored like an access receipt
        status, listing = await w.phone.call("GET", "/v1/receipts")
        kinds = {(r["id"], r["kind"]) for r in listing["items"]}
        assert (receipt_id, "withdrawal") in kinds and (done["outcome"]["receipt_id"], "access") in kinds
        receipts = w.wallet[RECEIPTS]
        await receipts.tick()
        await mine(w.city.chain, 1)
        await receipts.tick()
        status, one = await w.phone.call("GET", f"/v1/receipts/{receipt_id}")
        assert status == 200 and one["kind"] == "withdrawal" and one["state"] == "final" and one["proof_verified"]
        assert one["consent_id"] == consent_id and one["claims"] == []


async def test_a_service_built_on_the_sdk_recipe_keeps_the_receipt_and_withdrawal_promises(tmp_path: Path) -> None:
    async with world(tmp_path) as w, AsyncExitStack() as stack:
        confirmations: list[str] = []

        def lose_the_first_confirmation(route: web.RouteDef) -> web.RouteDef:
            """The wallet's DELETE (it stored the receipt) is lost on its way once: the receipt stays kept."""
            if route.method != "DELETE":
                return route

            async def confirm(request: web.Request) -> web.StreamResponse:
                confirmations.append(request.path)
                if len(confirmations) == 1:
                    return web.json_response({"error": "temporarily_unavailable"}, status=503)
                return await route.handler(request)

            return web.RouteDef(route.method, route.path, confirm, route.kwargs)

        service, verifier, base = await serve_recipe_service(
            stack, w.wallet, w.city, w.clock, w.city.chain.dev_keys[3], wrap=lose_the_first_confirmation
        )
        vct = (await accept_offer(w, await w.issue_offer()))["credential"]["vct"]
        link = (await verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())).deep_link
        done = (await answer(w, link))["done"]
        assert done["state"] == "shared" and "violation" not in done["outcome"]
        consent_id, receipt_id = done["outcome"]["consent_id"], done["outcome"]["receipt_id"]
        (request_id,) = service.results
        receipt_uri = f"{base}/receipts/{request_id}"
        assert confirmations == [f"/receipts/{request_id}"]

        # the service holds the consent, signed by the wallet (the city's DID), as evidence
        held = await service.desk.consents.get(consent_id)
        assert held is not None and held.record.state == "given"
        assert await verify_consent_record_resolved(held.evidence, wallet_did=w.city.did, resolver=w.city.resolver) \
            == held.record

        # a second POST for the same presentation, and a GET, return the receipt the wallet stored
        async with w.session.post(receipt_uri, json={"consent_record": held.evidence}) as resp:
            assert resp.status == 200
            again = (await resp.json())["access_receipt"]
        assert peek_access_receipt(again).receipt_id == receipt_id
        named = {CONSENT_HEADER: held.record.record_id}
        # Someone who read the request link but cannot name the consent gets nothing, deletes nothing.
        for stranger in ({}, {CONSENT_HEADER: "cns_someone_else"}):
            async with w.session.get(receipt_uri, headers=stranger) as resp:
                assert resp.status == 404
            async with w.session.delete(receipt_uri, headers=stranger) as resp:
                assert resp.status == 404
        async with w.session.get(receipt_uri, headers=named) as resp:
            assert resp.status == 200 and (await resp.json())["access_receipt"] == again
        async with w.session.delete(receipt_uri, headers=named) as resp:  # confirmed: the service forgets it
            assert resp.status == 204
        async with w.session.get(receipt_uri, headers=named) as resp:
            assert resp.status == 404

        # unsigned or forged consent records are refused, and nothing is signed for them
        stranger = Key.generate("P-256").with_kid(f"{w.city.did}#forged")
        forged = sign_consent_record(held.record, stranger)
        for body in ({"consent_record": held.record.to_json()}, held.record.to_json(), {"consent_record": forged}):
            async with w.session.post(receipt_uri, json=body) as resp:
                assert 400 <= resp.status < 500, body
                assert "access_receipt" not in await resp.json()
        withdrawal_uri = f"{base}/withdrawals"
        withdrawn_forged = sign_consent_record(held.record.withdraw(now=w.clock()), stranger)
        async with w.session.post(withdrawal_uri, json={"consent_record": withdrawn_forged}) as resp:
            assert 400 <= resp.status < 500 and "withdrawal_receipt" not in await resp.json()
        # signed by the wallet, but not the consent the service holds: another id, or a changed record
        city_key = w.city.signing_key
        unknown = sign_consent_record(replace(held.record, record_id="consent-never-given").withdraw(now=w.clock()),
                                      city_key)
        async with w.session.post(withdrawal_uri, json={"consent_record": unknown}) as resp:
            assert resp.status == 404
        changed = replace(held.record, claims_disclosed=held.record.claims_disclosed[:1]).withdraw(now=w.clock())
        async with w.session.post(withdrawal_uri, json={"consent_record": sign_consent_record(changed, city_key)}) \
                as resp:
            assert 400 <= resp.status < 500 and "withdrawal_receipt" not in await resp.json()
        assert (await service.desk.consents.get(consent_id)) == held  # still the consent given

        # -- the resident withdraws: delivered to the registered endpoint, answered, no violation
        w.clock.advance(seconds=30)
        await w.phone.login()
        status, consent = await w.phone.call("POST", f"/v1/consents/{consent_id}/withdraw")
        assert status == 200 and consent["state"] == "withdrawn"
        assert consent["withdrawal"]["delivered"] is True
        withdrawal_receipt_id = consent["withdrawal"]["receipt_id"]
        status, violations = await w.phone.call("GET", "/v1/violations")
        assert status == 200 and violations["items"] == []
        held = await service.desk.consents.get(consent_id)
        assert held is not None and held.record.state == "withdrawn" and held.withdrawal_receipt is not None
        withdrawn = await verify_consent_record_resolved(held.evidence, wallet_did=w.city.did,
                                                         resolver=w.city.resolver)
        assert withdrawn == held.record
        status, listing = await w.phone.call("GET", "/v1/receipts")
        assert (withdrawal_receipt_id, "withdrawal") in {(r["id"], r["kind"]) for r in listing["items"]}
        # delivered again (a retry): the same withdrawal receipt, never a second one
        async with w.session.post(withdrawal_uri, json={"consent_record": held.evidence}) as resp:
            assert resp.status == 200 and (await resp.json())["withdrawal_receipt"] == held.withdrawal_receipt

        # the wallet still deals with this service: no violation, so it is not refused
        link = (await verifier.create_request(query(vct), purpose=PURPOSE_ID, now=w.clock())).deep_link
        status, screen = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
        assert status == 201 and screen["state"] != "refused"
