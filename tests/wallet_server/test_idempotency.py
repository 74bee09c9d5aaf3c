"""Idempotency-Key on the resident API's creating POSTs, on SQLite and PostgreSQL: the same key and
request get the first answer again (also from another app on the same database), another request
with the key is 422, a key in use is 409 until its first request is abandoned, a failed request
frees its key, and keys expire."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.wallet_server._helpers import Phone, new_resident, sd_jwt
from tests.wallet_server.conftest import make_settings
from wallet_server import create_app
from wallet_server.appkeys import IDEMPOTENCY, STORE
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
