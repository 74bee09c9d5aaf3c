"""Two server instances on one PostgreSQL database, as behind a load balancer."""

from __future__ import annotations

import pytest

from tests.wallet_server._helpers import Phone, admin_headers
from tests.wallet_server.conftest import make_settings
from wallet_server import create_app

PUBLIC = "https://wallet.city.example"


@pytest.mark.parametrize("backend", ["postgres"])
async def test_state_is_shared_between_instances(aiohttp_client, database, clock, backend) -> None:
    settings = make_settings(database, public_base_url=PUBLIC)
    a = await aiohttp_client(create_app(settings, clock=clock))
    b = await aiohttp_client(create_app(settings, clock=clock))

    code = await (await a.post("/admin/v1/enrolment-codes", json={}, headers=admin_headers())).json()
    phone = Phone(b, clock)
    phone.url = lambda path: PUBLIC + path  # type: ignore[method-assign]  # what the app signs behind the LB
    body = await (await phone.enrol(code["code"])).json()
    phone.device_id = body["device"]["id"]

    # a challenge from A, answered on B
    nonce = (await (await a.post("/v1/auth/challenge")).json())["nonce"]
    resp = await b.post("/v1/auth/token", json={"device_id": phone.device_id, "assertion": phone.assertion(nonce)})
    assert resp.status == 200
    phone.take(await resp.json())
    # ... and the nonce is spent on A too
    resp = await a.post("/v1/auth/token", json={"device_id": phone.device_id, "assertion": phone.assertion(nonce)})
    assert resp.status == 401

    # a DPoP proof used on A is a replay on B
    headers = phone.auth_headers("GET", "/v1/me")
    assert (await a.get("/v1/me", headers=headers)).status == 200
    assert (await (await b.get("/v1/me", headers=headers)).json())["code"] == "dpop_replay"

    # refresh on A, reuse of the old refresh token detected on B
    old = phone.refresh_token
    resp = await a.post(
        "/v1/auth/refresh", json={"refresh_token": old}, headers={"DPoP": phone.proof("POST", "/v1/auth/refresh")}
    )
    assert resp.status == 200
    resp = await b.post(
        "/v1/auth/refresh", json={"refresh_token": old}, headers={"DPoP": phone.proof("POST", "/v1/auth/refresh")}
    )
    assert (await resp.json())["code"] == "refresh_token_reused"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_htu_is_checked_against_the_public_url(aiohttp_client, database, clock, backend) -> None:
    client = await aiohttp_client(create_app(make_settings(database, public_base_url=PUBLIC), clock=clock))
    code = await (await client.post("/admin/v1/enrolment-codes", json={}, headers=admin_headers())).json()
    phone = Phone(client, clock)
    phone.device_id = (await (await phone.enrol(code["code"])).json())["device"]["id"]
    await phone.login()
    # signed for the address the test server happens to listen on, not the public URL
    assert (await phone.call("GET", "/v1/me")).status == 401
    phone.url = lambda path: PUBLIC + path  # type: ignore[method-assign]
    assert (await phone.call("GET", "/v1/me")).status == 200
