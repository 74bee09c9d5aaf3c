"""HttpStatusListFetcher over https on 127.0.0.1 with a status server certified by a private CA.

The status server stands for the city's own one on its internal network, so the fetchers list
its address in ``private_hosts`` (private addresses are refused otherwise).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.tls_fixtures import ThrowawayCa, make_ca
from vcsdk.errors import InvalidInputError, StatusListUnavailableError
from vcsdk.status import HttpStatusListFetcher

TOKEN = b"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
INTERNAL = ("127.0.0.1",)


@pytest.fixture(scope="module")
def city_ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCa:
    return make_ca(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def https_url(city_ca: ThrowawayCa) -> AsyncIterator[str]:
    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=TOKEN, content_type="application/statuslist+jwt")

    app = web.Application()
    app.router.add_get("/lists/1", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=city_ca.server_context())
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"https://127.0.0.1:{port}/lists/1"
    finally:
        await runner.cleanup()


async def test_trusts_the_city_ca_given_as_ssl_context(https_url: str, city_ca: ThrowawayCa) -> None:
    async with HttpStatusListFetcher(ssl_context=city_ca.client_context(), private_hosts=INTERNAL) as fetcher:
        fetched = await fetcher.fetch(https_url, accept="application/statuslist+jwt")
    assert fetched.body == TOKEN


async def test_without_the_city_ca_the_server_is_not_trusted(https_url: str) -> None:
    async with HttpStatusListFetcher(private_hosts=INTERNAL) as fetcher:
        with pytest.raises(StatusListUnavailableError, match="could not be reached") as info:
            await fetcher.fetch(https_url, accept="application/statuslist+jwt")
    assert info.value.code == StatusListUnavailableError.code


async def test_another_ca_is_not_trusted(https_url: str, tmp_path: Path) -> None:
    other = make_ca(tmp_path / "other")
    async with HttpStatusListFetcher(ssl_context=other.client_context(), private_hosts=INTERNAL) as fetcher:
        with pytest.raises(StatusListUnavailableError, match="could not be reached"):
            await fetcher.fetch(https_url, accept="application/statuslist+jwt")


async def test_session_and_ssl_context_together_are_refused(city_ca: ThrowawayCa) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidInputError):
            HttpStatusListFetcher(session, ssl_context=city_ca.client_context())


async def test_a_private_status_server_needs_listing(https_url: str, city_ca: ThrowawayCa) -> None:
    async with HttpStatusListFetcher(ssl_context=city_ca.client_context()) as fetcher:
        with pytest.raises(StatusListUnavailableError, match="private address"):
            await fetcher.fetch(https_url, accept="application/statuslist+jwt")
