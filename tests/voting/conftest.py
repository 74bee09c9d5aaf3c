"""Fixtures: a whole town (see ``_town.py``) on the embedded chain and 127.0.0.1."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from vcsdk.kyc import LocalResidentRegistry, ResidentRegistryClient
from vcsdk.registry import EmbeddedChain
from vcsdk.status import HttpStatusListFetcher
from vcsdk.voting._ledger import IssuanceLedger, PostgresIssuanceLedger, SqliteIssuanceLedger

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
            await t.issuer.ledger.close()
            await t.resolver.close()


PG_DSN = os.environ.get("VCSDK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def drop_schema(name: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema for one test, dropped after it."""
    name = f"vttest_{secrets.token_hex(6)}"
    yield name
    await drop_schema(name)


LedgerOpener = Callable[[], Awaitable[IssuanceLedger]]


@pytest.fixture(params=["sqlite", "postgres"])
def open_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerOpener:
    """Opens a new ledger instance on one database (a second call is a second process or a restart)."""
    if request.param == "sqlite":
        path = str(tmp_path / "ledger.db")
        return lambda: SqliteIssuanceLedger.open(path)
    schema = request.getfixturevalue("pg_schema")
    return lambda: PostgresIssuanceLedger.open(PG_DSN, schema=schema, max_size=8)
