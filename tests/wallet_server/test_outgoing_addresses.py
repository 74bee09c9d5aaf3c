"""Outgoing calls for residents: host names resolving to private addresses are refused where they resolve.

A link in an offer or a request object names a host; the server must not call into the operator's
network through it, whether the link holds a private address literal (checked before any request)
or a name that resolves to one (checked by ``PublicAddressResolver``, whose vetted addresses are
exactly what the connector connects to).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.tls_fixtures import ThrowawayCa, make_ca
from tests.wallet_server._helpers import new_resident
from tests.wallet_server.conftest import make_settings
from vcsdk.errors import ProtocolError
from vcsdk.oid4vc import HttpRequest
from wallet_server import create_app
from wallet_server.appkeys import OUTGOING_DNS, RESIDENT_CHAIN
from wallet_server.services.wallet import OutgoingHttp, PrivateAddressError, PublicAddressResolver

INTERNAL = "issuer.city.internal"


class Zone(AbstractResolver):
    """A DNS zone in memory: name -> addresses (no network)."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.records:
            raise OSError(f"{host}: no such name")
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                          proto=0, flags=socket.AI_NUMERICHOST)
            for a in self.records[host]
        ]  # fmt: skip

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.5"],
        ["192.168.1.1"],
        ["172.16.0.1"],
        ["127.0.0.1"],
        ["169.254.169.254"],  # cloud metadata
        ["100.64.0.1"],  # carrier-grade NAT
        ["0.0.0.0"],
        ["::1"],
        ["fe80::1%eth0"],
        ["fd00::1"],
        ["::ffff:10.0.0.5"],  # IPv4-mapped
        ["93.184.215.14", "10.0.0.5"],  # one private answer among public ones
    ],
)
async def test_a_name_resolving_to_a_private_address_is_refused(addresses: list[str]) -> None:
    resolver = PublicAddressResolver(upstream=Zone({"shop.example": addresses}))
    with pytest.raises(PrivateAddressError, match=r"shop\.example resolves to a private address"):
        await resolver.resolve("shop.example", 443)


async def test_public_answers_pass_unchanged() -> None:
    answers = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    resolver = PublicAddressResolver(upstream=Zone({"shop.example": answers}))
    assert [r["host"] for r in await resolver.resolve("shop.example", 443)] == answers


async def test_listed_private_hosts_and_loopback_in_development() -> None:
    zone = Zone({INTERNAL: ["10.1.2.3"], "dev.example": ["127.0.0.1"], "other.example": ["10.9.9.9"]})
    listed = PublicAddressResolver(private_hosts=["Issuer.City.Internal."], upstream=zone)
    assert [r["host"] for r in await listed.resolve(INTERNAL, 443)] == ["10.1.2.3"]
    with pytest.raises(PrivateAddressError):
        await listed.resolve("other.example", 443)
    development = PublicAddressResolver(allow_loopback=True, upstream=zone)
    assert [r["host"] for r in await development.resolve("dev.example", 443)] == ["127.0.0.1"]
    with pytest.raises(PrivateAddressError):  # loopback only, not the rest of the network
        await development.resolve("other.example", 443)


@pytest.mark.parametrize("host", ["localhost", "127.1", "0"])
async def test_real_resolution_of_loopback_spellings_is_refused(host: str) -> None:
    # The system resolver, no network: /etc/hosts and numeric forms.
    resolver = PublicAddressResolver()
    try:
        with pytest.raises(PrivateAddressError):
            await resolver.resolve(host, 443)
    finally:
        await resolver.close()


@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCa:
    return make_ca(tmp_path / "ca", server_names=(INTERNAL,))


@pytest.fixture
async def internal_issuer(ca: ThrowawayCa) -> AsyncIterator[int]:
    """An https server on loopback whose certificate names the internal issuer host."""

    async def metadata(request: web.Request) -> web.Response:
        return web.json_response({"credential_issuer": f"https://{INTERNAL}"})

    app = web.Application()
    app.router.add_get("/.well-known/openid-credential-issuer", metadata)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ca.server_context())
    await site.start()
    port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


async def _get(ca: ThrowawayCa, port: int, *, private_hosts: tuple[str, ...]) -> int:
    resolver = PublicAddressResolver(private_hosts=private_hosts, upstream=Zone({INTERNAL: ["127.0.0.1"]}))
    connector = aiohttp.TCPConnector(resolver=resolver, ssl=ca.client_context())
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=5)) as session:
        http = OutgoingHttp(session, private_hosts=private_hosts)
        url = f"https://{INTERNAL}:{port}/.well-known/openid-credential-issuer"
        response = await http.send(HttpRequest("GET", url, {}, None))
        return response.status


async def test_the_connection_goes_only_where_the_resolver_allowed(ca: ThrowawayCa, internal_issuer: int) -> None:
    with pytest.raises(ProtocolError, match="resolves to a private address") as refused:
        await _get(ca, internal_issuer, private_hosts=())
    assert refused.value.code == "invalid_request"
    # The operator lists its own issuer: the same call now reaches it over verified TLS.
    assert await _get(ca, internal_issuer, private_hosts=(INTERNAL,)) == 200


@pytest.mark.parametrize("host", ["127.1", "0", "0x7f.1", "2130706433", "localhost", "10.0.0.1"])
async def test_the_app_refuses_an_offer_link_to_a_private_host(aiohttp_client, database, clock, host) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(database), clock=clock)  # production defaults: no loopback
    from tests.wallet_server._resident_parties import StaticChainPort

    app[RESIDENT_CHAIN] = StaticChainPort()
    wallet = await aiohttp_client(app)
    phone = await new_resident(wallet, clock)
    link = "openid-credential-offer://?credential_offer_uri=" + quote(f"https://{host}:9/offer", safe="")
    resp = await phone.call("POST", "/v1/offers", json={"offer_uri": link})
    body = await resp.json()
    assert resp.status == 400 and body["code"] == "invalid_request", body
    assert "private address" in body["detail"]


async def test_the_app_resolves_every_outgoing_name_through_the_address_rules(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    """A public-looking name that resolves into the operator's network: refused at resolution."""
    from tests.wallet_server._resident_parties import StaticChainPort

    app = create_app(make_settings(database, outgoing_private_hosts=(INTERNAL,)), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    app[OUTGOING_DNS] = Zone({"offers.shop.example": ["10.20.30.40"], INTERNAL: ["127.0.0.1"]})
    wallet = await aiohttp_client(app)
    phone = await new_resident(wallet, clock)

    def link(host: str) -> str:
        return "openid-credential-offer://?credential_offer_uri=" + quote(f"https://{host}:9/offer", safe="")

    refused = await phone.call("POST", "/v1/offers", json={"offer_uri": link("offers.shop.example")})
    body = await refused.json()
    assert refused.status == 400 and body["code"] == "invalid_request", body
    assert "resolves to a private address" in body["detail"]
    # The listed internal host is let through the address rules: the call is made (and finds
    # nothing listening on port 9), so the answer is "unreachable", not "refused".
    allowed = await phone.call("POST", "/v1/offers", json={"offer_uri": link(INTERNAL)})
    assert (await allowed.json())["code"] == "server_unreachable"
