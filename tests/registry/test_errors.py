"""Failures at the chain boundary surface as vcsdk errors, within the configured timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests._net import free_port, serve
from vcsdk.errors import (
    ChainIdMismatchError,
    ChainUnavailableError,
    InvalidInputError,
    RegistryError,
    VcsdkError,
)
from vcsdk.registry import Chain, DevChain, DevNode

# Safety net only: a hang fails the test instead of blocking the run. The chain's own timeout is
# far shorter; these tests check the error class, never how long it took.
_GUARD_S = 30


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_closed_port_is_chain_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with asyncio.timeout(_GUARD_S):
        with pytest.raises(ChainUnavailableError) as info:
            await DevChain.connect(url, timeout=2.0)
    assert info.value.code == "chain_unavailable"
    assert url in info.value.message  # nothing secret in this URL: shown as is
    assert isinstance(info.value.__cause__, Exception)


async def test_error_messages_leave_out_url_secrets() -> None:
    url = f"http://user:pw@127.0.0.1:{free_port()}/v3/secret-api-key?token=also-secret"
    with pytest.raises(ChainUnavailableError) as info:
        await DevChain.connect(url, timeout=2.0)
    shown = info.value.message + repr(info.value.details)
    assert "secret" not in shown and "pw" not in shown
    assert "http://127.0.0.1:" in shown


async def test_port_that_never_answers_is_chain_unavailable_after_the_timeout(silent_port: int) -> None:
    async with asyncio.timeout(_GUARD_S):
        with pytest.raises(ChainUnavailableError) as info:
            await DevChain.connect(f"http://127.0.0.1:{silent_port}", timeout=0.5)
    assert "within 0.5 s" in info.value.message


async def test_http_error_status_is_chain_unavailable() -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=502, text="bad gateway")

    app = web.Application()
    app.router.add_post("/", broken)
    async with serve(app) as url:
        with pytest.raises(ChainUnavailableError):
            await DevChain.connect(url, timeout=5.0)


async def test_json_rpc_error_is_a_registry_error() -> None:
    async def rpc(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer city-node-token":
            return web.Response(status=401)
        body = await request.json()
        if body["method"] == "eth_chainId":
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"})
        error = {"code": -32000, "message": "node is syncing"}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": error})

    app = web.Application()
    app.router.add_post("/", rpc)
    async with serve(app) as url:
        with pytest.raises(ChainUnavailableError):
            await DevChain.connect(url, timeout=5.0)  # no credentials: HTTP 401
        headers = {"Authorization": "Bearer city-node-token"}
        async with await DevChain.connect(url, chain_id=31337, timeout=5.0, headers=headers) as chain:
            with pytest.raises(RegistryError) as info:
                await chain.block_number()
            assert info.value.code == "rpc_error"
            assert "node is syncing" in info.value.message


@pytest.mark.integration
async def test_node_going_away_mid_session_is_chain_unavailable(node_tools: object) -> None:
    node = DevNode.start(startup_timeout=60.0)
    try:
        chain = await DevChain.connect(node.url, chain_id=node.chain_id, timeout=2.0)
        assert await chain.block_number() == 0
    finally:
        node.stop()
    try:
        async with asyncio.timeout(_GUARD_S):
            with pytest.raises(ChainUnavailableError):
                await chain.block_number()
    finally:
        await chain.close()


@pytest.mark.integration
async def test_wrong_chain_id_is_refused(anvil_url: str) -> None:
    with pytest.raises(ChainIdMismatchError) as info:
        await DevChain.connect(anvil_url, chain_id=1)
    assert info.value.details == {"expected": 1, "actual": 31337}
    assert info.value.code == "wrong_chain_id"
    async with await DevChain.connect(anvil_url, chain_id=31337) as chain:
        assert chain.chain_id == 31337


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "127.0.0.1:8545", "", "ws://127.0.0.1:1"])
async def test_rpc_url_must_be_http(url: str) -> None:
    with pytest.raises(InvalidInputError):
        await DevChain.connect(url)


async def test_bad_settings_are_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        await DevChain.connect("http://127.0.0.1:1", timeout=0)
    with pytest.raises(InvalidInputError):
        Chain.embedded(confirmations=-1)


def test_registry_errors_are_vcsdk_errors() -> None:
    assert issubclass(ChainUnavailableError, RegistryError)
    assert issubclass(RegistryError, VcsdkError)
