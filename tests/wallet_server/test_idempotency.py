"""Idempotency-Key on the creating POSTs (resident API and back office), on SQLite and PostgreSQL: the
same key and request get the first answer again (also from another app on the same database), another request
with the key is 422, a key in use is 409 until its first request is abandoned, a failed request
frees its key, and keys expire."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

from tests.wallet_server._helpers import OPERATOR_TOKEN, Phone, admin_headers, new_resident, sd_jwt
from tests.wallet_server._resident_parties import StaticChainPort, b64sig, parties
from tests.wallet_server.conftest import make_settings
from vcsdk.keys import Key
from wallet_server import create_app
from wallet_server.appkeys import IDEMPOTENCY, RESIDENT_CHAIN, STORE
from wallet_server.services import AdminToken
from wallet_server.storage import IdempotentAnswerRow, WalletDataStore


def _body(n: int = 0) -> dict[str, Any]:
    return {"credential": sd_jwt(n), "format": "dc+sd-jwt", "metadata": {"display": f"card {n}"}}


async def _post(phone: Phone, key: str | None, body: dict[str, Any]) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await phone.call("POST", "/v1/credentials", json=body, headers=headers)


async def _ids(phone: Phone) -> list[str]:
    return [c["id"] for c in (await (await phone.call("GET", "/v1/credentials")).json())["items"]]


async def test_same_key_same_request_same_answer(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(make_settings(database), clock=clock))
    phone = await new_resident(client, clock)
    body = _body()
    first = await _post(phone, "k-7f3a2c", body)
    assert first.status == 201 and "Idempotency-Replayed" not in first.headers
    created = await first.json()
    again = await _post(phone, "k-7f3a2c", body)
    assert again.status == 201 and again.headers["Idempotency-Replayed"] == "true"
    assert await again.json() == created and again.headers["Location"] == first.headers["Location"]
    assert await _ids(phone) == [created["id"]]

    # Durable: another app on the same database answers the same.
    other = await aiohttp_client(create_app(make_settings(database), clock=clock))
    replayed = await _post(replace(phone, client=other), "k-7f3a2c", body)
    assert replayed.status == 201 and await replayed.json() == created

    # Without a key, or with another key, a request is a new one.
    assert (await _post(phone, None, body)).status == 201
    assert (await _post(phone, "k-other", body)).status == 201
    assert len(await _ids(phone)) == 3


async def test_same_key_other_request_is_422(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(make_settings(database), clock=clock))
    phone = await new_resident(client, clock)
    assert (await _post(phone, "k-1", _body(0))).status == 201
    resp = await _post(phone, "k-1", _body(1))
    assert resp.status == 422 and (await resp.json())["code"] == "idempotency_key_reused"
    assert len(await _ids(phone)) == 1
    # The key is the resident's own: another resident's same key is another request.
    stranger = await new_resident(client, clock)
    assert (await _post(stranger, "k-1", _body(1))).status == 201


async def test_bad_keys_and_failed_requests(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(make_settings(database), clock=clock))
    phone = await new_resident(client, clock)
    for bad in ("", "x" * 256, "a b", 'a"b'):
        resp = await _post(phone, bad, _body())
        assert resp.status == 400 and (await resp.json())["code"] == "invalid_idempotency_key", bad
    # A refused request keeps nothing: the key then serves the corrected request.
    refused = await _post(phone, "k-2", {"credential": "not a credential", "format": "dc+sd-jwt"})
    assert refused.status == 400
    assert (await _post(phone, "k-2", _body())).status == 201


async def test_key_in_use_then_abandoned_and_expiry(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(database), clock=clock)
    client = await aiohttp_client(app)
    phone = await new_resident(client, clock)
    data = WalletDataStore(app[STORE])
    # A first request still running (on another instance, say) holds the key.
    scope = f"{phone.resident_id}:POST /v1/credentials"
    running = IdempotentAnswerRow(scope, "k-3", "digest", "running", clock(), clock() + app[IDEMPOTENCY].ttl)
    assert await data.claim_idempotency_key(running, stale_before=clock())
    resp = await _post(phone, "k-3", _body())
    assert resp.status == 409 and (await resp.json())["code"] == "idempotency_key_in_use"
    clock.advance(minutes=2)  # its server died with it: the key is free again
    await phone.login()
    body = _body()
    first = await _post(phone, "k-3", body)
    assert first.status == 201
    assert (await _post(phone, "k-3", body)).headers["Idempotency-Replayed"] == "true"

    # Kept 24 hours; then purged, and the key is a new request again.
    clock.advance(hours=25)
    await phone.login()
    assert await app[STORE].purge_expired(now=clock()) >= 1
    assert await data.get_idempotency_key(scope, "k-3") is None
    second = await _post(phone, "k-3", body)
    assert second.status == 201 and (await second.json())["id"] != (await first.json())["id"]


async def test_presentations_and_offers_take_keys_too(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(make_settings(database, allow_loopback_http=True), clock=clock))
    phone = await new_resident(client, clock)
    for path, body in (
        ("/v1/offers", {"offer_uri": "openid-credential-offer://?credential_offer=%7B%7D"}),
        ("/v1/presentations", {"request_uri": "openid4vp://?client_id=x"}),
    ):
        # A refused request is answered the same each time (nothing kept), and the key stays usable.
        one = await phone.call("POST", path, json=body, headers={"Idempotency-Key": "k-4"})
        two = await phone.call("POST", path, json=body, headers={"Idempotency-Key": "k-4"})
        assert one.status == two.status == 400, await one.text()


async def test_offer_signature_takes_a_key(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    """POST /v1/offers/{id}/signature repeated with its key gives the stored credential again,
    not a 409 for an offer already redeemed; another body with the key is 422."""
    app = create_app(make_settings(database, allow_loopback_http=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    client = await aiohttp_client(app)
    phone = await new_resident(client, clock)
    async with parties(clock) as (issuer, _):
        uri, pin = await issuer.offer()
        offer = await (await phone.call("POST", "/v1/offers", json={"offer_uri": uri})).json()
        to_sign = await (await phone.call("POST", f"/v1/offers/{offer['id']}/accept", json={"tx_code": pin})).json()
        path = f"/v1/offers/{offer['id']}/signature"
        body = {"signature": b64sig(phone.key, to_sign["signing_input"])}
        first = await phone.call("POST", path, json=body, headers={"Idempotency-Key": "sig-1"})
        assert first.status == 201, await first.text()
        again = await phone.call("POST", path, json=body, headers={"Idempotency-Key": "sig-1"})
        assert again.status == 201 and again.headers["Idempotency-Replayed"] == "true"
        assert await again.json() == await first.json() and again.headers["Location"] == first.headers["Location"]
        other = {"signature": b64sig(Key.generate("P-256"), to_sign["signing_input"])}
        resp = await phone.call("POST", path, json=other, headers={"Idempotency-Key": "sig-1"})
        assert resp.status == 422 and (await resp.json())["code"] == "idempotency_key_reused"
        # Without the key the repeat is what it always was: the offer is already redeemed.
        assert (await phone.call("POST", path, json=body)).status == 409
        assert len(await _ids(phone)) == 1


async def _admin_post(client: Any, path: str, body: dict[str, Any], key: str | None, token: str) -> Any:
    headers = {**admin_headers(token), **({"Idempotency-Key": key} if key is not None else {})}
    return await client.post(path, json=body, headers=headers)


async def test_back_office_creating_routes_take_keys(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    """An enrolment code and a service registration are made once per key of an admin token; the
    kept answer (a code that enrols a resident) is sealed, not stored as sent; keys are per token."""
    client = await aiohttp_client(create_app(make_settings(database), clock=clock))
    first = await _admin_post(client, "/admin/v1/enrolment-codes", {}, "code-1", OPERATOR_TOKEN)
    assert first.status == 201 and "Idempotency-Replayed" not in first.headers
    code = (await first.json())["code"]
    again = await _admin_post(client, "/admin/v1/enrolment-codes", {}, "code-1", OPERATOR_TOKEN)
    assert again.status == 201 and again.headers["Idempotency-Replayed"] == "true"
    assert (await again.json())["code"] == code
    # Durable: another app on the same database (and the same server key) answers the same.
    other = await aiohttp_client(create_app(make_settings(database), clock=clock))
    replayed = await _admin_post(other, "/admin/v1/enrolment-codes", {}, "code-1", OPERATOR_TOKEN)
    assert replayed.status == 201 and (await replayed.json())["code"] == code
    resp = await _admin_post(client, "/admin/v1/enrolment-codes", {"resident_id": "res_x"}, "code-1", OPERATOR_TOKEN)
    assert resp.status == 422 and (await resp.json())["code"] == "idempotency_key_reused"
    assert (await _admin_post(client, "/admin/v1/enrolment-codes", {}, None, OPERATOR_TOKEN)).status == 201
    # The kept answers are sealed: the code is nowhere in the table.
    store = client.app[STORE]
    rows = await WalletDataStore(store)._fetch("SELECT answer FROM idempotency_keys")
    assert rows and all(code.encode() not in bytes(r[0]) for r in rows)
    # A code enrols once: the replayed answer is the same code, still usable once.
    assert (await Phone(client, clock).enrol(code)).status == 201

    body = {
        "service_did": "did:web:shop.example", "name": "Shop", "purposes": [{"id": "age", "description": "Age"}],
        "claim_sets": [{"id": "age", "vct": "urn:vct:test", "paths": [["age_over_20"]]}], "retention_days": 30,
        "receipt_endpoint": "https://shop.example/withdrawals", "privacy_policy": "https://shop.example/privacy",
    }  # fmt: skip
    one = await _admin_post(client, "/admin/v1/services", body, "svc-1", OPERATOR_TOKEN)
    assert one.status == 201, await one.text()
    two = await _admin_post(client, "/admin/v1/services", body, "svc-1", OPERATOR_TOKEN)
    assert two.status == 201 and (await two.json())["id"] == (await one.json())["id"]
    listing = await (await client.get("/admin/v1/services", headers=admin_headers(OPERATOR_TOKEN))).json()
    assert len(listing["items"]) == 1


async def test_back_office_keys_are_per_admin_token(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    second = "second-operator-" + "x" * 24
    settings = make_settings(database)
    tokens = (*settings.admin_tokens, AdminToken("ops2", hashlib.sha256(second.encode()).hexdigest(),
                                                 frozenset({"operator"})))  # fmt: skip
    client = await aiohttp_client(create_app(replace(settings, admin_tokens=tokens), clock=clock))
    mine = await _admin_post(client, "/admin/v1/enrolment-codes", {}, "same-key", OPERATOR_TOKEN)
    theirs = await _admin_post(client, "/admin/v1/enrolment-codes", {}, "same-key", second)
    assert mine.status == theirs.status == 201 and "Idempotency-Replayed" not in theirs.headers
    assert (await mine.json())["code"] != (await theirs.json())["code"]


async def test_a_request_taken_over_as_abandoned_keeps_nothing(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    """A first request that outlives ``abandoned_after`` loses its key to the one that took it over:
    its late answer is not kept under the other request's key, and its failure does not free that
    request's key for a third run."""
    app = create_app(make_settings(database), clock=clock)
    await aiohttp_client(app)
    data = WalletDataStore(app[STORE])
    ttl = app[IDEMPOTENCY].ttl
    scope = "res_x:POST /v1/credentials"
    slow = IdempotentAnswerRow(scope, "k-5", "digest-a", "running", clock(), clock() + ttl)
    assert await data.claim_idempotency_key(slow, stale_before=clock())
    clock.advance(minutes=2)
    later = IdempotentAnswerRow(scope, "k-5", "digest-b", "running", clock(), clock() + ttl)
    assert await data.claim_idempotency_key(later, stale_before=clock() - timedelta(minutes=1))

    # The slow request fails late: the key stays the later request's, still running.
    await data.drop_idempotency_key(slow)
    held = await data.get_idempotency_key(scope, "k-5")
    assert held is not None and held.state == "running" and held.request_hash == "digest-b"
    # The slow request answers late: nothing is kept for it under the later request's hash.
    assert not await data.finish_idempotency_key(slow, status=201, answer=b"slow answer")
    held = await data.get_idempotency_key(scope, "k-5")
    assert held is not None and held.state == "running" and held.answer is None
    # The later request's own answer is kept.
    assert await data.finish_idempotency_key(later, status=201, answer=b"later answer")
    held = await data.get_idempotency_key(scope, "k-5")
    assert held is not None and (held.state, held.request_hash, held.answer) == ("done", "digest-b", b"later answer")
    # Done: neither a late failure nor a late answer of either changes it.
    await data.drop_idempotency_key(later)
    assert not await data.finish_idempotency_key(slow, status=201, answer=b"slow answer")
    assert await data.get_idempotency_key(scope, "k-5") == held
