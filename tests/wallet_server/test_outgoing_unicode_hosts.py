"""Every outgoing call of the wallet server refuses hosts that only look public before IDNA/NFKC.

A host spelled in fullwidth digits is connected to as ``127.0.0.1`` by aiohttp (yarl normalises
the host, and an address literal skips the resolver). Each place where the server calls a URL named by
someone else is tried over HTTP: offer links, the offer's issuer, the issuer's endpoints from its
metadata, request_uri, receipt_uri, the withdrawal endpoint and the status-list fetcher. A loopback
listener is always there, so before the fix the call was made (or failed on TLS) instead of being
refused up front.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web

from tests._net import serve
from tests.wallet_server._helpers import new_resident
from tests.wallet_server._resident_parties import StaticChainPort, parties
from tests.wallet_server.conftest import make_settings
from tests.wallet_server.test_resident_presentations import credential_for, share
from vcsdk.errors import StatusListUnavailableError
from vcsdk.status import HttpStatusListFetcher
from wallet_server import create_app
from wallet_server.appkeys import RESIDENT_CHAIN

FULLWIDTH = "\uff11\uff12\uff17.\uff10.\uff10.\uff11"
SPELLINGS = [FULLWIDTH, "127\u30020\u30020\u30021", "\u2460\u2461\u2466.\u24ea.\u24ea.\u2460"]


@pytest.fixture
async def wallet(aiohttp_client, database, clock):  # type: ignore[no-untyped-def]
    # Loopback allowed (the parties run on 127.0.0.1): a Unicode spelling of it must still be refused.
    app = create_app(make_settings(database, allow_loopback_http=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    return await aiohttp_client(app)


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    """Something listening on loopback, as an operator's internal service would be."""

    async def anything(request: web.Request) -> web.Response:
        return web.json_response({})

    async with serve([web.route("*", "/{tail:.*}", anything)]) as base:
        yield int(base.rsplit(":", 1)[1])


def _refused(status: int, body: dict[str, Any]) -> None:
    assert status == 400 and body["code"] == "invalid_request", body
    assert "plain ASCII" in body["detail"], body


@pytest.mark.parametrize("host", SPELLINGS)
async def test_offer_link_by_reference(wallet, clock, listener, host) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(wallet, clock)
    link = "openid-credential-offer://?credential_offer_uri=" + quote(f"https://{host}:{listener}/offer", safe="")
    resp = await phone.call("POST", "/v1/offers", json={"offer_uri": link})
    _refused(resp.status, await resp.json())


def _offer_link(issuer: str) -> str:
    offer = {
        "credential_issuer": issuer,
        "credential_configuration_ids": ["ResidentIdentityCredential"],
        "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {"pre-authorized_code": "code-1"}},
    }
    return "openid-credential-offer://?credential_offer=" + quote(json.dumps(offer), safe="")


async def test_offer_by_value_naming_a_unicode_issuer(wallet, clock, listener) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(wallet, clock)
    resp = await phone.call("POST", "/v1/offers", json={"offer_uri": _offer_link(f"https://{FULLWIDTH}:{listener}")})
    _refused(resp.status, await resp.json())


@pytest.mark.parametrize("endpoint", ["token_endpoint", "nonce_endpoint"])
async def test_issuer_endpoints_from_metadata(wallet, clock, listener, endpoint) -> None:  # type: ignore[no-untyped-def]
    """The issuer itself is on plain loopback (allowed here); its metadata names a Unicode host."""
    hidden = f"https://{FULLWIDTH}:{listener}"
    base_holder: dict[str, str] = {}

    async def credential_issuer(request: web.Request) -> web.Response:
        base = base_holder["base"]
        return web.json_response({
            "credential_issuer": base,
            "credential_configurations_supported": {"ResidentIdentityCredential": {"format": "dc+sd-jwt"}},
            "credential_endpoint": f"{base}/credential",
            "nonce_endpoint": hidden + "/nonce" if endpoint == "nonce_endpoint" else f"{base}/nonce",
        })

    async def authorization_server(request: web.Request) -> web.Response:
        base = base_holder["base"]
        token = hidden + "/token" if endpoint == "token_endpoint" else f"{base}/token"
        return web.json_response({"issuer": base, "token_endpoint": token})

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "at", "token_type": "Bearer", "expires_in": 300})

    routes = [
        web.get("/.well-known/openid-credential-issuer", credential_issuer),
        web.get("/.well-known/oauth-authorization-server", authorization_server),
        web.post("/token", token),
    ]
    async with serve(routes) as base:
        base_holder["base"] = base
        phone = await new_resident(wallet, clock)
        offer = await (await phone.call("POST", "/v1/offers", json={"offer_uri": _offer_link(base)})).json()
        resp = await phone.call("POST", f"/v1/offers/{offer['id']}/accept", json={})
        _refused(resp.status, await resp.json())


async def test_request_uri(wallet, clock, listener) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(wallet, clock)
    query = urlencode({"client_id": "decentralized_identifier:did:jwk:abc", "request_uri": f"https://{FULLWIDTH}:{listener}/request/1"})
    resp = await phone.call("POST", "/v1/presentations", json={"request_uri": f"openid4vp://?{query}"})
    _refused(resp.status, await resp.json())


async def test_receipt_uri(wallet, clock, listener) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        service.receipt_base = f"https://{FULLWIDTH}:{listener}"
        done = await share(phone, (await service.request()).deep_link)
    # The data went to the service already (its response_uri was fine); the receipt call was refused.
    assert done["outcome"]["receipt_error"] == "invalid_request", done["outcome"]


async def test_withdrawal_endpoint(wallet, clock, listener) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(wallet, clock)
    async with parties(clock, withdrawal_base=f"https://{FULLWIDTH}:{listener}") as (issuer, service):
        await credential_for(phone, issuer)
        done = await share(phone, (await service.request()).deep_link)
        consent_id = done["outcome"]["consent_id"]
        resp = await phone.call("POST", f"/v1/consents/{consent_id}/withdraw")
        assert resp.status == 200 and (await resp.json())["withdrawal"]["delivered"] is False
    violations = (await (await phone.call("GET", "/v1/violations")).json())["items"]
    assert [(v["kind"], v["code"]) for v in violations] == [("withdrawal_unanswered", "invalid_request")], violations


@pytest.mark.parametrize("host", [*SPELLINGS, "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[::ffff:127.0.0.1]"])
async def test_status_list_fetcher(listener, host) -> None:  # type: ignore[no-untyped-def]
    async with HttpStatusListFetcher(allow_loopback_http=True) as fetcher:
        with pytest.raises(StatusListUnavailableError, match="refused") as refused:
            await fetcher.fetch(f"https://{host}:{listener}/statuslists/1", accept="application/statuslist+jwt")
    assert refused.value.code == "status_list_unavailable"
