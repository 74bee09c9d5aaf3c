"""Fixtures: a whole town (see ``_town.py``) on the embedded chain and 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vcsdk.kyc import LocalResidentRegistry, ResidentRegistryClient
from vcsdk.registry import EmbeddedChain
from vcsdk.status import HttpStatusListFetcher

from ._town import Town, build_town


@pytest.fixture
async def town(aiohttp_server: Any, embedded_chain: EmbeddedChain, tmp_path: Path) -> AsyncIterator[Town]:
    async with (
        LocalResidentRegistry(port=0) as local_registry,
        ResidentRegistryClient(local_registry.url) as registry,
        aiohttp.ClientSession() as session,
        HttpStatusListFetcher(allow_loopback_http=True) as fetcher,
    ):
        t = await build_town(aiohttp_server, embedded_chain, tmp_path, registry, session, fetcher)
        try:
            yield t
        finally:
            await t.store.close()
            await t.resolver.close()
