"""Relying-party registration, end to end over real HTTP on 127.0.0.1 (see ``_parties.py``).

The city (the wallet server's own DID on the chain) registered the shop for two claims and one
purpose. The phone asks the wallet server to answer requests that go beyond that, or come from a
service the city never registered: the wallet refuses before the resident is asked anything, tells
the resident why in a sentence, keeps the refusal in the resident's history, and sends the service
nothing at all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests._net import free_port, serve
from tests.e2e._parties import PURPOSE_ID, SERVICE_NAME, World, query, world
from tests.e2e.test_oid4vc_http import accept_offer, answer
from vcsdk.credentials import StatusListIssuer
from vcsdk.keys import Key, sign_jws
from vcsdk.oid4vc import AuthorizationRequest, parse_dcql_query
from vcsdk.oid4vc._vp_messages import REQUEST_OBJECT_TYP
from vcsdk.registration import issue_registration, peek_registration


def _link(w: World, did: str, key: Key, dcql: dict[str, Any], *, registration: str | None, purpose: str) -> str:
    """A request object signed by ``did`` (whatever the SDK's own Verifier would refuse), by value."""
    request = AuthorizationRequest(
        client_id="decentralized_identifier:" + did,
        response_uri=w.service.verifier.response_uri,
        nonce="n-" + did[-6:],
        state="s-" + did[-6:],
        dcql_query=parse_dcql_query(dcql),
        purpose=purpose,
        client_name="Totally Legit Shop",
        registration=registration,
        issued_at=int(w.clock().timestamp()),
    )
    jwt = sign_jws(request.to_claims(), key, typ=REQUEST_OBJECT_TYP)
    return "openid4vp://?" + urlencode({"client_id": request.client_id, "request": jwt})


async def _refused(w: World, link: str) -> dict[str, Any]:
    status, view = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
    assert status == 201, view
    assert view["state"] == "refused" and view["outcome"]["refused_by"] == "wallet", view
    assert view["credentials"] == [] and view["signing_inputs"] == [] and view["registration"] is None
    # Nothing can follow: no consent, no signature.
    status, problem = await w.phone.call("POST", f"/v1/presentations/{view['id']}/consent", {})
    assert status == 409, problem
    return view


async def test_unregistered_and_over_asking_services_are_refused_before_consent(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        tx_code = await w.issue_offer()
        issued = await accept_offer(w, tx_code)
        vct = issued["credential"]["vct"]
        two_claims = query(vct)
        with_name = query(vct)
        with_name["credentials"][0]["claims"].append({"path": ["family_name"]})
        other_did, other_key = w.other_did_key
        registration = w.service.verifier.registration
        assert registration is not None

        # -- a service the city never registered
        unregistered = await _refused(w, _link(w, other_did, other_key, two_claims, registration=None,
                                               purpose=PURPOSE_ID))
        assert unregistered["outcome"]["error"] == "service_not_registered"
        assert "not registered with the city" in unregistered["outcome"]["reason"]

        # -- a service showing the shop's registration as its own
        borrowed = await _refused(w, _link(w, other_did, other_key, two_claims, registration=registration,
                                           purpose=PURPOSE_ID))
        assert borrowed["outcome"]["error"] == "service_not_registered"
        assert "another service" in borrowed["outcome"]["reason"]

        # -- a service that wrote its own registration (signed with its own key under the city's kid)
        own = replace(peek_registration(registration), service_did=other_did)
        forged_registration = issue_registration(other_key.with_kid(w.city.did + "#controller"), own)
        forged = await _refused(w, _link(w, other_did, other_key, two_claims, registration=forged_registration,
                                         purpose=PURPOSE_ID))
        assert forged["outcome"]["error"] == "service_not_registered"
        assert "not valid" in forged["outcome"]["reason"]

        # -- the registered shop asking for one claim more than it is registered for
        over = await _refused(w, _link(w, w.service.did, w.service.key, with_name, registration=registration,
                                       purpose=PURPOSE_ID))
        assert over["outcome"]["error"] == "request_not_registered"
        reason = over["outcome"]["reason"]
        assert SERVICE_NAME in reason and "family_name" in reason and "more than the city allows" in reason

        # -- the registered shop giving a purpose it is not registered for
        purpose = await _refused(w, _link(w, w.service.did, w.service.key, two_claims, registration=registration,
                                          purpose="marketing"))
        assert purpose["outcome"]["error"] == "request_not_registered" and "purpose" in purpose["outcome"]["reason"]

        # The service was told nothing and got nothing.
        assert w.service.results == []

        # The refusals are in the resident's history, each with its reason (all at one clock time here).
        status, history = await w.phone.call("GET", "/v1/history/presentations")
        assert status == 200
        refused = {h["id"]: (h["state"], h["outcome"]["error"], h["outcome"]["reason"]) for h in history["items"]}
        for view in (unregistered, borrowed, forged, over, purpose):
            assert refused[view["id"]] == ("refused", view["outcome"]["error"], view["outcome"]["reason"])
        assert len(refused) == 5

        # The registered request itself goes through, and its consent screen shows the registration.
        request = await w.service.verifier.create_request(two_claims, purpose=PURPOSE_ID, now=w.clock())
        done = await answer(w, request.deep_link)
        screen = done["screen"]
        assert screen["registration"]["name"] == SERVICE_NAME and screen["registration"]["retention_days"] == 30
        assert done["done"]["state"] == "shared" and len(w.service.results) == 1


async def test_a_registration_the_city_withdrew_through_its_status_list_is_refused(tmp_path: Path) -> None:
    """A registration with an entry in the city's status list: the wallet reads the list whole for
    every request; once the city sets the entry, the service is refused before consent; a list the
    wallet cannot read is an outage (503), not a verdict on the service."""
    async with world(tmp_path) as w:
        issued = await accept_offer(w, await w.issue_offer())
        two_claims = query(issued["credential"]["vct"])
        registration = w.service.verifier.registration
        assert registration is not None
        port = free_port()
        statuses = StatusListIssuer(f"http://127.0.0.1:{port}/status/registrations", size=1024)
        entry = statuses.allocate()
        withdrawable = issue_registration(
            w.city.signing_key, replace(peek_registration(registration), status=dict(entry))
        )
        link = _link(w, w.service.did, w.service.key, two_claims, registration=withdrawable, purpose=PURPOSE_ID)

        served = {"as": "current"}
        stranger = Key.generate("P-256").with_kid(w.city.signing_key.kid)

        async def status_list(_request: web.Request) -> web.Response:
            now = w.clock()
            if served["as"] == "expired":
                token = statuses.publish(w.city.signing_key, now=now - timedelta(days=2), iss=w.city.did)
            elif served["as"] == "forged":  # the city's kid, another key
                token = statuses.publish(stranger, now=now, iss=w.city.did)
            else:
                token = statuses.publish(w.city.signing_key, now=now, iss=w.city.did)
            return web.Response(text=token, content_type="application/statuslist+jwt")

        async def history_size() -> int:
            status, history = await w.phone.call("GET", "/v1/history/presentations")
            assert status == 200
            return len(history["items"])

        async with serve([web.get("/status/registrations", status_list)], port=port):
            status, screen = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
            assert status == 201 and screen["state"] == "consent_required", screen
            assert screen["registration"]["name"] == SERVICE_NAME

            # A list the wallet cannot use is the city's outage: 503, nothing kept, nobody logged out.
            kept = await history_size()
            for fault in ("expired", "forged"):
                served["as"] = fault
                status, problem = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
                assert status == 503 and problem["code"] == "status_list_unavailable", (fault, problem)
            assert await history_size() == kept

            served["as"] = "current"
            statuses.revoke(entry["status_list"]["idx"])
            withdrawn = await _refused(w, link)
            assert withdrawn["outcome"]["error"] == "service_not_registered"
            assert "withdrawn" in withdrawn["outcome"]["reason"]

        # The list is gone: the wallet cannot tell, and says so rather than blaming the service.
        status, problem = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
        assert status == 503 and problem["code"] == "status_list_unavailable", problem
        assert w.service.results == []


async def test_the_city_withdraws_a_registration_from_its_back_office(tmp_path: Path) -> None:
    """A registration the back office signs carries an entry in the city's status list; withdrawing
    it (once, final) revokes the entry and publishes the list, and the wallet refuses the service's
    next request before the resident is asked anything."""
    async with world(tmp_path) as w:
        issued = await accept_offer(w, await w.issue_offer())
        two_claims = query(issued["credential"]["vct"])
        assert w.service.verifier.registration is not None
        shown = peek_registration(w.service.verifier.registration)
        body = {
            "service_did": w.service.did, "name": SERVICE_NAME,
            "purposes": [{"id": p.id, "description": p.description} for p in shown.purposes],
            "claim_sets": [{"id": c.id, "vct": c.vct, "paths": [list(p) for p in c.paths]} for c in shown.claim_sets],
            "retention_days": 30, "receipt_endpoint": shown.receipt_endpoint, "privacy_policy": shown.privacy_policy,
        }  # fmt: skip
        status, registered = await w.admin("/admin/v1/services", body)
        assert status == 201, registered
        assert registered["withdrawable"] is True and registered["withdrawn_at"] is None
        assert peek_registration(registered["registration"]).status is not None
        link = _link(w, w.service.did, w.service.key, two_claims, registration=registered["registration"],
                     purpose=PURPOSE_ID)  # fmt: skip
        status, screen = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
        assert status == 201 and screen["state"] == "consent_required", screen

        path = f"/admin/v1/services/{registered['id']}/withdraw"
        status, withdrawn = await w.admin(path, {})
        assert status == 200 and withdrawn["withdrawn_at"] is not None and withdrawn["withdrawn_by"], withdrawn
        refused = await _refused(w, link)
        assert refused["outcome"]["error"] == "service_not_registered" and "withdrawn" in refused["outcome"]["reason"]

        # Final and idempotent: withdrawing again keeps the first withdrawal; an unknown id is a 404.
        status, again = await w.admin(path, {})
        assert status == 200 and again["withdrawn_at"] == withdrawn["withdrawn_at"]
        status, problem = await w.admin("/admin/v1/services/reg_unknown/withdraw", {})
        assert status == 404, problem
        status, listed = await w.admin_get("/admin/v1/services")
        assert status == 200
        assert {i["id"]: i["withdrawn_at"] for i in listed["items"]}[registered["id"]] == withdrawn["withdrawn_at"]
