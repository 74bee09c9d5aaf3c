"""Resident presentations, consents and receipts over loopback HTTP, without a chain.

The service is a vcsdk ``Verifier`` with a did:jwk; it returns an access receipt at its
``receipt_uri`` for the consent record the wallet posts. No receipt registry is configured here,
so receipts stay ``queued`` (anchoring is tested end to end in tests/e2e).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.wallet_server._helpers import Phone, new_resident
from tests.wallet_server._resident_parties import (
    CLAIMS,
    PURPOSE,
    PURPOSE_ID,
    StaticChainPort,
    b64sig,
    jwk_did,
    parties,
    register,
)
from tests.wallet_server.conftest import make_settings
from vcsdk.errors import ConsentWithdrawnError
from vcsdk.keys import Key, sign_jws
from vcsdk.receipts import verify_access_receipt
from wallet_server import create_app
from wallet_server.appkeys import RECEIPTS, RESIDENT_CHAIN, STORE
from wallet_server.services.presentations import _peek_registration


@pytest.fixture
async def wallet(aiohttp_client, database, clock):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(database, allow_loopback_http=True, custodial_keys=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    return await aiohttp_client(app)


async def credential_for(phone: Phone, issuer: Any, *, custodial: bool = False) -> str:
    uri, pin = await issuer.offer()
    offer = await (await phone.call("POST", "/v1/offers", json={"offer_uri": uri})).json()
    resp = await phone.call("POST", f"/v1/offers/{offer['id']}/accept", json={"tx_code": pin, "custodial": custodial})
    if custodial:
        return str((await resp.json())["id"])
    to_sign = await resp.json()
    body = {"signature": b64sig(phone.key, to_sign["signing_input"])}
    done = await phone.call("POST", f"/v1/offers/{offer['id']}/signature", json=body)
    assert done.status == 201, await done.text()
    return str((await done.json())["id"])


async def consents(phone: Phone) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await (await phone.call("GET", "/v1/consents")).json())["items"]
    return items


async def start(phone: Phone, link: str) -> Any:
    return await phone.call("POST", "/v1/presentations", json={"request_uri": link})


async def share(phone: Phone, link: str) -> dict[str, Any]:
    """The whole resident side: open, consent, sign."""
    resp = await start(phone, link)
    assert resp.status == 201, await resp.text()
    screen = await resp.json()
    consent = await (await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", json={})).json()
    signatures = [
        {"query_id": s["query_id"], "signature": b64sig(phone.key, s["signing_input"])}
        for s in consent["signing_inputs"]
    ]
    resp = await phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json={"signatures": signatures})
    assert resp.status == 200, await resp.text()
    result: dict[str, Any] = await resp.json()
    return result


async def test_consent_screen_then_two_step_signing_shares_exactly_the_requested_claims(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        cred_id = await credential_for(phone, issuer)
        request = await service.request()
        resp = await start(phone, request.deep_link)
        assert resp.status == 201, await resp.text()
        screen = await resp.json()
        assert screen["state"] == "consent_required" and screen["satisfiable"] is True
        assert screen["service"] == {"did": service.did, "name": "Kaga Sake Shop"}
        assert screen["purpose"] == PURPOSE  # the registered description of the purpose the request names
        # The consent screen shows what the city registered: name, purposes, retention.
        registered = screen["registration"]
        assert registered["name"] == "Kaga Sake Shop" and registered["retention_days"] == 30
        assert registered["purposes"] == [{"id": PURPOSE_ID, "description": PURPOSE}]
        assert registered["jurisdiction"] == "JP-17" and registered["privacy_policy"].endswith("/privacy")
        (query,) = screen["credentials"]
        assert query["query_id"] == "resident"
        assert query["options"] == [
            {"credential_id": cred_id, "claims": [["age_over_20"], ["address", "locality"]], "copies_left": None}
        ]

        consent = await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", json={})
        assert consent.status == 200, await consent.text()
        to_sign = await consent.json()
        assert to_sign["state"] == "signature_required"
        (item,) = to_sign["signing_inputs"]
        assert item["alg"] == "ES256" and item["credential_id"] == cred_id

        stranger = Key.generate("P-256")
        wrong = {"signatures": [{"query_id": "resident", "signature": b64sig(stranger, item["signing_input"])}]}
        bad = await phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json=wrong)
        assert bad.status == 400 and (await bad.json())["code"] == "signature_invalid"

        good = {"signatures": [{"query_id": "resident", "signature": b64sig(phone.key, item["signing_input"])}]}
        resp = await phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json=good)
        assert resp.status == 200, await resp.text()
        done = await resp.json()
        assert done["state"] == "shared", done
        assert done["outcome"]["claims"] == ["age_over_20", "address.locality"]
        assert "receipt_id" in done["outcome"], done["outcome"]

        # the service learned exactly what its DCQL query asked for
        (result,) = service.results
        assert dict(result.claims()) == {"age_over_20": True, "address": {"locality": CLAIMS["address"]["locality"]}}

        # the same signature call again (an app that lost the answer) gets the same presentation, and
        # the service got it once; other signatures are refused
        again = await phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json=good)
        assert again.status == 200
        assert (await again.json()) == {k: v for k, v in done.items() if k != "outcome"} | {
            "outcome": {k: v for k, v in done["outcome"].items() if k != "redirect_uri"}
        }
        assert len(service.results) == 1 and len(service.receipts) == 1
        other = [{**s, "signature": "A" * 86} for s in good["signatures"]]
        refused = await phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json={"signatures": other})
        assert refused.status == 409

        # consent and receipt, as the resident sees them
        consents = (await (await phone.call("GET", "/v1/consents")).json())["items"]
        assert [c["id"] for c in consents] == [done["outcome"]["consent_id"]]
        (given,) = consents
        assert given["service"]["did"] == service.did and given["purposes"] == [PURPOSE_ID]
        assert given["claims"] == ["age_over_20", "address.locality"] and given["state"] == "given"
        assert given["presentation_id"] == screen["id"]
        receipts = (await (await phone.call("GET", "/v1/receipts")).json())["items"]
        assert [r["id"] for r in receipts] == [done["outcome"]["receipt_id"]]
        assert receipts[0]["state"] == "queued" and receipts[0]["consent_id"] == given["id"]
        one = await (await phone.call("GET", f"/v1/receipts/{receipts[0]['id']}")).json()
        assert one["proof_verified"] is False and one["entry"]["receipt"] == service.receipts[0]
        # the receipt names the resident only by a pseudonym for this service
        record = given["record"]
        assert record["resident_pseudonym"] != phone.resident_id and len(record["resident_pseudonym"]) == 43
        history = (await (await phone.call("GET", "/v1/history/presentations")).json())["items"]
        assert [(h["id"], h["state"]) for h in history] == [(screen["id"], "shared")]
        assert history[0]["signing_inputs"] == []


async def test_pseudonyms_differ_per_service_and_per_resident(wallet, clock) -> None:
    alice = await new_resident(wallet, clock)
    bob = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service), parties(clock) as (_, other_service):
        for phone in (alice, bob):
            await credential_for(phone, issuer)
        await share(alice, (await service.request()).deep_link)
        await share(alice, (await other_service.request()).deep_link)
        await share(bob, (await service.request()).deep_link)
        pseudonyms = [c["record"]["resident_pseudonym"] for c in await consents(alice)]
        bobs = [c["record"]["resident_pseudonym"] for c in await consents(bob)]
        assert len(set(pseudonyms + bobs)) == 3
        assert len((await (await alice.call("GET", "/v1/receipts")).json())["items"]) == 2


async def test_withdrawn_consent_refuses_later_receipts(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        done = await share(phone, (await service.request()).deep_link)
        consent_id = done["outcome"]["consent_id"]
        clock.advance(seconds=60)
        await phone.login()
        resp = await phone.call("POST", f"/v1/consents/{consent_id}/withdraw")
        withdrawn = await resp.json()
        assert resp.status == 200 and withdrawn["state"] == "withdrawn", withdrawn
        assert withdrawn["withdrawal"]["delivered"] is True, withdrawn["withdrawal"]
        assert (await phone.call("POST", f"/v1/consents/{consent_id}/withdraw")).status == 409
        consent = (await wallet.app[RECEIPTS].get_consent(_principal(phone), consent_id)).record
        # the service signs a receipt for an access after the withdrawal: the wallet refuses it
        clock.advance(seconds=60)
        late = {**_claims_of(service.receipts[0]), "jti": "rcpt-late", "iat": int(clock().timestamp())}
        token = sign_jws(late, service.key, typ="access-receipt+jwt")
        with pytest.raises(ConsentWithdrawnError):
            await wallet.app[RECEIPTS].accept_receipt(
                token, consent_id=consent.record_id, resolver=StaticChainPort()._resolver
            )
        # the receipt for the access before the withdrawal still verifies
        assert verify_access_receipt(service.receipts[0], consent=consent, service_key=service.key, now=clock())


async def test_each_step_answers_the_presentation_as_a_later_read_finds_it(wallet, clock) -> None:
    """Consent and signature answer from the state they just wrote, without reading it back: what
    they answer is what GET /v1/presentations/{id} returns afterwards."""
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        screen = await (await start(phone, (await service.request()).deep_link)).json()
        path = f"/v1/presentations/{screen['id']}"
        assert await (await phone.call("GET", path)).json() == screen
        consented = await (await phone.call("POST", f"{path}/consent", json={})).json()
        assert consented["state"] == "signature_required" and consented["signing_inputs"]
        assert await (await phone.call("GET", path)).json() == consented
        signatures = [
            {"query_id": s["query_id"], "signature": b64sig(phone.key, s["signing_input"])}
            for s in consented["signing_inputs"]
        ]
        resp = await phone.call("POST", f"{path}/signature", json={"signatures": signatures})
        shared = await resp.json()
        assert shared["state"] == "shared" and "receipt_id" in shared["outcome"], shared
        assert await (await phone.call("GET", path)).json() == shared


async def test_a_new_registration_shows_on_the_next_consent_screen(wallet, clock) -> None:
    """The wallet keeps registrations it read by their token (bounded): a service the city registers
    anew carries another token, and its next consent screen shows the new registration."""
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        first = await (await start(phone, (await service.request()).deep_link)).json()
        assert first["registration"]["name"] == "Kaga Sake Shop"
        service.verifier.registration = register(service.did, name="Kaga Sake & Rice", base=service.base)
        again = await (await start(phone, (await service.request()).deep_link)).json()
        assert again["registration"]["name"] == again["service"]["name"] == "Kaga Sake & Rice", again
    assert _peek_registration.cache_info().maxsize == 1024


async def test_consent_and_signature_record_the_proof_in_the_presentations_read(wallet, clock) -> None:
    """Consent and signature record the DPoP proof in the round trip that reads the presentation: a
    replayed proof is refused there and changes nothing; a request refused before that read (a body
    that is not JSON, malformed signatures) still spends its proof."""
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        screen = await (await start(phone, (await service.request()).deep_link)).json()
        path = f"/v1/presentations/{screen['id']}"
        headers = phone.auth_headers("POST", f"{path}/consent")
        bad = await wallet.post(f"{path}/consent", data=b"not json", headers=headers)
        assert bad.status == 400, await bad.text()
        replayed = await wallet.post(f"{path}/consent", json={}, headers=headers)
        assert replayed.status == 401 and (await replayed.json())["code"] == "dpop_replay"
        assert (await (await phone.call("GET", path)).json())["state"] == "consent_required"
        headers = phone.auth_headers("POST", f"{path}/consent")
        consented = await (await wallet.post(f"{path}/consent", json={}, headers=headers)).json()
        assert consented["state"] == "signature_required"
        replayed = await wallet.post(f"{path}/consent", json={}, headers=headers)
        assert replayed.status == 401 and (await replayed.json())["code"] == "dpop_replay"

        signatures = [
            {"query_id": s["query_id"], "signature": b64sig(phone.key, s["signing_input"])}
            for s in consented["signing_inputs"]
        ]
        headers = phone.auth_headers("POST", f"{path}/signature")
        bad = await wallet.post(f"{path}/signature", json={"signatures": "none"}, headers=headers)
        assert bad.status == 400, await bad.text()
        replayed = await wallet.post(f"{path}/signature", json={"signatures": signatures}, headers=headers)
        assert replayed.status == 401 and (await replayed.json())["code"] == "dpop_replay"
        assert (await (await phone.call("GET", path)).json())["state"] == "signature_required"
        assert service.results == []  # nothing was sent
        headers = phone.auth_headers("POST", f"{path}/signature")
        done = await wallet.post(f"{path}/signature", json={"signatures": signatures}, headers=headers)
        assert done.status == 200 and (await done.json())["state"] == "shared"
        replayed = await wallet.post(f"{path}/signature", json={"signatures": signatures}, headers=headers)
        assert replayed.status == 401 and (await replayed.json())["code"] == "dpop_replay"
        assert len(service.results) == 1


async def test_a_consent_screen_lists_known_credentials_without_decrypting_them_and_follows_changes(
    wallet, clock, monkeypatch
) -> None:
    """Credentials this process read before are listed for a consent screen by id and creation time
    only (no ciphertext read); one added or deleted since shows at once."""
    phone = await new_resident(wallet, clock)
    store = wallet.app[STORE]
    full_reads = 0
    list_credentials = store.list_credentials

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal full_reads
        full_reads += 1
        return await list_credentials(*args, **kwargs)

    monkeypatch.setattr(store, "list_credentials", counted)

    async def offered(service: Any) -> set[str]:
        screen = await (await start(phone, (await service.request()).deep_link)).json()
        return {o["credential_id"] for o in screen["credentials"][0]["options"]}

    async with parties(clock) as (issuer, service):
        first, second = await credential_for(phone, issuer), await credential_for(phone, issuer)
        assert await offered(service) == {first, second}
        reads = full_reads
        assert await offered(service) == {first, second} and full_reads == reads  # known: keys only
        assert (await phone.call("DELETE", f"/v1/credentials/{first}")).status == 204
        assert await offered(service) == {second} and full_reads == reads
        third = await credential_for(phone, issuer)
        assert await offered(service) == {second, third}
        assert await offered(service) == {second, third}


def _principal(phone: Phone) -> Any:
    from wallet_server.services import Principal

    return Principal(phone.resident_id, phone.device_id, "")


async def test_decline_tells_the_service_access_denied(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        screen = await (await start(phone, (await service.request()).deep_link)).json()
        resp = await phone.call("POST", f"/v1/presentations/{screen['id']}/decline")
        assert resp.status == 200 and (await resp.json())["state"] == "declined"
        (result,) = service.results
        assert result.error == "access_denied" and not result.credentials
        assert (await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", json={})).status == 409


async def test_nothing_to_answer_with(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (_, service):
        screen = await (await start(phone, (await service.request()).deep_link)).json()
        assert screen["satisfiable"] is False and screen["credentials"] == []
        assert (await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", json={})).status == 409


async def test_request_signed_by_another_did_is_refused(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        genuine = await service.request()
        claims = {**_claims_of(genuine.request_object)}
        _, impostor = jwk_did(Key.generate("P-256"))
        forged = sign_jws(claims, impostor, typ="oauth-authz-req+jwt")
        link = "openid4vp://?" + urlencode({"client_id": genuine.client_id, "request": forged})
        resp = await start(phone, link)
        assert resp.status == 400 and (await resp.json())["code"] == "invalid_request"
        # the impostor's key under the service's kid: the signature does not verify with the DID's key
        same_kid = sign_jws(claims, Key.generate("P-256").with_kid(f"{service.did}#0"), typ="oauth-authz-req+jwt")
        link = "openid4vp://?" + urlencode({"client_id": genuine.client_id, "request": same_kid})
        resp = await start(phone, link)
        assert resp.status == 400 and (await resp.json())["code"] == "signature_invalid"
        assert (await (await phone.call("GET", "/v1/history/presentations")).json())["items"] == []
    for link in ("https://shop.example/", "openid4vp://?client_id=x509_san_dns:shop.example&request_uri=https://a", 7):
        assert (await phone.call("POST", "/v1/presentations", json={"request_uri": link})).status == 400


def _claims_of(jwt: str) -> dict[str, Any]:
    from vcsdk.keys import decode_jws

    return decode_jws(jwt).unverified_claims()


async def test_custodial_presentation(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer, custodial=True)
        screen = await (await start(phone, (await service.request()).deep_link)).json()
        resp = await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", json={"custodial": True})
        assert resp.status == 200, await resp.text()
        done = await resp.json()
        assert done["state"] == "shared" and "receipt_id" in done["outcome"]
        assert len(service.results) == 1 and service.results[0].ok


async def test_idor_presentations_consents_receipts(wallet, clock) -> None:
    alice = await new_resident(wallet, clock)
    bob = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(alice, issuer)
        await credential_for(bob, issuer)
        done = await share(alice, (await service.request()).deep_link)
        pending = await (await start(alice, (await service.request()).deep_link)).json()
        for path in (f"/v1/presentations/{done['id']}", f"/v1/presentations/{pending['id']}"):
            assert (await bob.call("GET", path)).status == 404
            assert (await bob.call("POST", f"{path}/consent", json={})).status == 404
            sig = {"signatures": [{"query_id": "resident", "signature": "AAAA"}]}
            assert (await bob.call("POST", f"{path}/signature", json=sig)).status == 404
            assert (await bob.call("POST", f"{path}/decline")).status == 404
        consent_id, receipt_id = done["outcome"]["consent_id"], done["outcome"]["receipt_id"]
        assert (await bob.call("GET", f"/v1/consents/{consent_id}")).status == 404
        assert (await bob.call("POST", f"/v1/consents/{consent_id}/withdraw")).status == 404
        assert (await bob.call("GET", f"/v1/receipts/{receipt_id}")).status == 404
        assert (await (await bob.call("GET", "/v1/consents")).json())["items"] == []
        assert (await (await bob.call("GET", "/v1/receipts")).json())["items"] == []
        assert (await (await bob.call("GET", "/v1/history/presentations")).json())["items"] == []
        # bob cannot present alice's credential by choosing it
        mine = await (await start(bob, (await service.request()).deep_link)).json()
        alice_cred = (await (await alice.call("GET", "/v1/credentials")).json())["items"][0]["id"]
        choose = {"selections": [{"query_id": "resident", "credential_id": alice_cred}]}
        assert (await bob.call("POST", f"/v1/presentations/{mine['id']}/consent", json=choose)).status == 400
        assert (await alice.call("GET", f"/v1/receipts/{receipt_id}")).status == 200


async def test_a_redirect_is_handed_to_the_app_once_and_never_stored(wallet, clock, database) -> None:
    """A service's redirect (its fragment may carry a session or one-time token meant for the resident
    alone) reaches the app in the answer to the signature, and is kept nowhere on the server."""
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        service.redirect = "https://vote.tsukuba.example/after#ballot_token=s3cret-one-time"
        request = await service.request()
        shared = await share(phone, request.deep_link)
        assert shared["state"] == "shared" and shared["outcome"]["redirect_uri"] == service.redirect
        again = await (await phone.call("GET", f"/v1/presentations/{shared['id']}")).json()
        assert again["state"] == "shared" and "redirect_uri" not in again["outcome"]
        assert "s3cret" not in str(await consents(phone))
    url, _ = database
    if url.startswith("sqlite:///"):
        from pathlib import Path

        raw = b"".join(p.read_bytes() for p in Path(url[len("sqlite:///"):]).parent.glob("wallet.db*"))
        assert b"s3cret" not in raw


async def test_consent_screens_read_each_stored_token_once_per_process(wallet, clock, monkeypatch) -> None:
    """The consent screen parses a stored credential's token once; a deleted one is never offered again."""
    import wallet_server.services.presentations as presentations

    peeked: list[str] = []
    real_peek = presentations.peek

    def counting_peek(token: str | bytes) -> Any:
        peeked.append(str(token))
        return real_peek(token)

    monkeypatch.setattr(presentations, "peek", counting_peek)
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        cred_id = await credential_for(phone, issuer)
        screens = []
        for _ in range(3):
            resp = await start(phone, (await service.request()).deep_link)
            assert resp.status == 201, await resp.text()
            screens.append(await resp.json())
        for screen in screens:
            (query,) = screen["credentials"]
            assert [o["credential_id"] for o in query["options"]] == [cred_id]
            assert query["options"][0]["claims"] == [["age_over_20"], ["address", "locality"]]
        assert len(peeked) == 1

        deleted = await phone.call("DELETE", f"/v1/credentials/{cred_id}")
        assert deleted.status == 204, await deleted.text()
        resp = await start(phone, (await service.request()).deep_link)
        assert resp.status == 201, await resp.text()
        screen = await resp.json()
        assert screen["satisfiable"] is False
        assert all(not q["options"] for q in screen["credentials"])
