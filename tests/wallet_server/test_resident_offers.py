"""Resident offers inbox: scan, list, two-step accept (the phone signs the key proof), decline, custodial."""

from __future__ import annotations

from typing import Any

import pytest

from tests.wallet_server._helpers import Phone, new_resident
from tests.wallet_server._resident_parties import CLAIMS, StaticChainPort, b64sig, parties
from tests.wallet_server.conftest import make_settings
from vcsdk.credentials import peek
from vcsdk.keys import Key
from wallet_server import create_app
from wallet_server.appkeys import RESIDENT_CHAIN


@pytest.fixture
async def wallet(aiohttp_client, database, clock):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(database, allow_loopback_http=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    return await aiohttp_client(app)


async def scan(phone: Phone, uri: str) -> dict[str, Any]:
    resp = await phone.call("POST", "/v1/offers", json={"offer_uri": uri})
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def sign(phone: Phone, offer_id: str, key: Key, signing_input: str) -> Any:
    return await phone.call("POST", f"/v1/offers/{offer_id}/signature", json={"signature": b64sig(key, signing_input)})


async def accept(phone: Phone, offer_id: str, **body: Any) -> Any:
    return await phone.call("POST", f"/v1/offers/{offer_id}/accept", json=body)


async def test_scan_accept_sign_stores_a_credential_bound_to_the_device(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, _):
        uri, pin = await issuer.offer()
        offer = await scan(phone, uri)
        assert offer["state"] == "pending" and offer["credential_issuer"] == issuer.url
        assert offer["tx_code"] == {"input_mode": "numeric", "length": 6}
        listing = await (await phone.call("GET", "/v1/offers")).json()
        assert [o["id"] for o in listing["items"]] == [offer["id"]]

        wrong = await accept(phone, offer["id"], tx_code="000000" if pin != "000000" else "111111")
        assert wrong.status == 400 and (await wrong.json())["code"] == "invalid_grant"
        resp = await accept(phone, offer["id"], tx_code=pin)
        assert resp.status == 200, await resp.text()
        to_sign = await resp.json()
        assert to_sign["alg"] == "ES256" and to_sign["offer_id"] == offer["id"]
        assert (await (await phone.call("GET", f"/v1/offers/{offer['id']}")).json())["state"] == "accepting"

        # a signature by another key is refused, and the offer stays waiting
        other = Key.generate("P-256")
        bad = await phone.call(
            "POST", f"/v1/offers/{offer['id']}/signature", json={"signature": b64sig(other, to_sign["signing_input"])}
        )
        assert bad.status == 400 and (await bad.json())["code"] == "signature_invalid"

        done = await sign(phone, offer["id"], phone.key, to_sign["signing_input"])
        assert done.status == 201, await done.text()
        summary = await done.json()
        assert summary["vct"] and summary["metadata"]["offer_id"] == offer["id"]
        stored = await (await phone.call("GET", f"/v1/credentials/{summary['id']}")).json()
        claims = peek(stored["credential"]).unverified_claims
        assert claims["cnf"]["jwk"] == phone.key.public_jwk()  # bound to the phone's key, which never left it
        assert claims["given_name"] == CLAIMS["given_name"]
        after = await (await phone.call("GET", f"/v1/offers/{offer['id']}")).json()
        assert after["state"] == "redeemed" and after["credential_id"] == summary["id"]
        again = await accept(phone, offer["id"], tx_code=pin)
        assert again.status == 409


async def test_accept_again_renews_the_proof_and_an_old_nonce_is_refused(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, _):
        uri, pin = await issuer.offer(by_reference=False)
        offer = await scan(phone, uri)
        first = await (await accept(phone, offer["id"], tx_code=pin)).json()
        second = await (await accept(phone, offer["id"])).json()  # the code is spent: a fresh c_nonce instead
        assert second["signing_input"] != first["signing_input"]
        # the first proof's nonce was never used, but the server now holds the second input
        stale = await phone.call(
            "POST", f"/v1/offers/{offer['id']}/signature", json={"signature": b64sig(phone.key, first["signing_input"])}
        )
        assert stale.status == 400 and (await stale.json())["code"] == "signature_invalid"
        ok = await sign(phone, offer["id"], phone.key, second["signing_input"])
        assert ok.status == 201


async def test_offer_refusals(wallet, clock) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, _):
        uri, pin = await issuer.offer()
        offer = await scan(phone, uri)
        missing = await accept(phone, offer["id"])
        assert missing.status == 400 and (await missing.json())["code"] == "invalid_input"
        not_started = await phone.call("POST", f"/v1/offers/{offer['id']}/signature", json={"signature": "AAAA"})
        assert not_started.status == 409
        assert (await accept(phone, offer["id"], custodial=True, tx_code=pin)).status == 403  # option off
        declined = await phone.call("POST", f"/v1/offers/{offer['id']}/decline")
        assert declined.status == 200 and (await declined.json())["state"] == "declined"
        assert (await accept(phone, offer["id"], tx_code=pin)).status == 409
        later = await scan(phone, (await issuer.offer(by_reference=False))[0])
        clock.advance(days=2)
        await phone.login()
        assert (await accept(phone, later["id"], tx_code=pin)).status == 409
        assert (await (await phone.call("GET", f"/v1/offers/{later['id']}")).json())["state"] == "expired"
    for body in (
        {"offer_uri": "https://issuer.example/not-an-offer"},
        {"offer_uri": "openid-credential-offer://?credential_offer=%7Bbroken"},
        {"offer_uri": "openid-credential-offer://?credential_offer_uri=http%3A%2F%2F10.0.0.1%2Foffer"},
        {"offer_uri": "openid-credential-offer://?credential_offer_uri=https%3A%2F%2F192.168.1.1%2Foffer"},
        {"offer_uri": 5},
    ):
        resp = await phone.call("POST", "/v1/offers", json=body)
        assert resp.status == 400, body


async def test_custodial_option_signs_on_the_server(aiohttp_client, database, clock) -> None:
    app = create_app(make_settings(database, allow_loopback_http=True, custodial_keys=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    wallet = await aiohttp_client(app)
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, _):
        uri, pin = await issuer.offer()
        offer = await scan(phone, uri)
        resp = await accept(phone, offer["id"], tx_code=pin, custodial=True)
        assert resp.status == 200, await resp.text()
        summary = await resp.json()
        stored = await (await phone.call("GET", f"/v1/credentials/{summary['id']}")).json()
        bound = peek(stored["credential"]).unverified_claims["cnf"]["jwk"]
        assert bound != phone.key.public_jwk()  # bound to the server-held key, as the option says
        assert (await (await phone.call("GET", f"/v1/offers/{offer['id']}")).json())["state"] == "redeemed"


async def test_idor_offers(wallet, clock) -> None:
    alice = await new_resident(wallet, clock)
    bob = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, _):
        uri, pin = await issuer.offer(by_reference=False)
        offer = await scan(alice, uri)
        to_sign = await (await accept(alice, offer["id"], tx_code=pin)).json()
        path = f"/v1/offers/{offer['id']}"
        assert (await bob.call("GET", path)).status == 404
        assert (await bob.call("POST", f"{path}/accept", json={"tx_code": pin})).status == 404
        signature = b64sig(bob.key, to_sign["signing_input"])
        assert (await bob.call("POST", f"{path}/signature", json={"signature": signature})).status == 404
        assert (await bob.call("POST", f"{path}/decline")).status == 404
        assert (await (await bob.call("GET", "/v1/offers")).json())["items"] == []
        page = await (await alice.call("GET", "/v1/offers?limit=1")).json()
        assert page["items"] and (await alice.call("GET", path)).status == 200
        # alice's second device cannot finish what her first one started
        second = Phone(wallet, clock)
        await alice.call("POST", "/v1/devices", json={"public_jwk": second.key.public_jwk(), "name": "tablet"})
        devices = (await (await alice.call("GET", "/v1/devices")).json())["items"]
        second.device_id = next(d["id"] for d in devices if d["name"] == "tablet")
        await second.login()
        moved = await second.call(
            "POST", f"{path}/signature", json={"signature": b64sig(second.key, to_sign["signing_input"])}
        )
        assert moved.status == 409
