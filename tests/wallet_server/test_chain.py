"""The app's chain: opened on first use (embedded by default), closed with the app."""

from __future__ import annotations

import pytest

from vcsdk.errors import ChainUnavailableError
from wallet_server.appkeys import CHAIN
from wallet_server.chain import LazyChain


async def test_embedded_chain_opens_once_on_first_use(aiohttp_client, settings) -> None:
    from wallet_server import create_app

    client = await aiohttp_client(create_app(settings))
    lazy = client.app[CHAIN]
    assert "connected=False" in repr(lazy)
    chain = await lazy.get()
    assert await chain.block_number() >= 0
    assert await lazy.get() is chain


async def test_unreachable_node_is_a_chain_error_and_retried_later() -> None:
    lazy = LazyChain("http://127.0.0.1:1")
    for _ in range(2):
        with pytest.raises(ChainUnavailableError):
            await lazy.get()
    await lazy.close()
