"""Receipt fixtures: the outbox store on real SQLite and real PostgreSQL, a deployed registry.

PostgreSQL runs at 127.0.0.1:5432 (database ``test``, trust auth); each test gets its own schema
(``rctest_<random>_<n>``), and the session drops them all at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from vcsdk.outbox import AccessReceiptRegistry, PostgresReceiptStore, ReceiptStore, SqliteReceiptStore
from vcsdk.registry import EmbeddedChain

PG_DSN = os.environ.get("VCSDK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


class _Schemas:
    def __init__(self) -> None:
        self.prefix = f"rctest_{secrets.token_hex(4)}"
        self._counter = itertools.count()
        self.made: list[str] = []

    def new(self) -> str:
        name = f"{self.prefix}_{next(self._counter)}"
        self.made.append(name)
        return name


async def _drop(schemas: list[str]) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        for name in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def receipt_pg_schemas() -> Iterator[_Schemas]:
    factory = _Schemas()
    yield factory
    if factory.made:
        asyncio.run(_drop(factory.made))


@pytest.fixture(params=["sqlite", "postgres"])
async def receipt_store(
    request: pytest.FixtureRequest, tmp_path: Path, receipt_pg_schemas: _Schemas
) -> AsyncIterator[ReceiptStore]:
    """The outbox store on each backend in turn."""
    store: ReceiptStore
    if request.param == "sqlite":
        store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    else:
        store = await PostgresReceiptStore.open(PG_DSN, schema=receipt_pg_schemas.new(), max_size=4)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[ReceiptStore]:
    store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def registry(embedded_chain: EmbeddedChain) -> AccessReceiptRegistry:
    """An AccessReceiptRegistry deployed on the embedded chain by dev account 0 (owner and anchorer)."""
    sender = (await embedded_chain.dev_accounts())[0]
    return await AccessReceiptRegistry.deploy(embedded_chain, sender=sender)
