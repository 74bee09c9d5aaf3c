"""The outbox's tables come from numbered migrations (vcsdk/outbox/migrations), on SQLite and PostgreSQL.

A fresh database records version 1 in ``outbox_migrations``; a database whose tables an earlier
release created inline (no bookkeeping table) opens with its rows intact; opening twice applies
nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import pytest

from tests.receipts.conftest import PG_DSN
from vcsdk.outbox import PostgresReceiptStore, SqliteReceiptStore

_LEGACY = ("CREATE TABLE outbox_consents (record_id TEXT PRIMARY KEY, pseudonym TEXT NOT NULL, "
           "service_did TEXT NOT NULL, body TEXT NOT NULL)")


async def _versions_sqlite(path: Path) -> list[Any]:
    async with aiosqlite.connect(path) as db, db.execute("SELECT version FROM outbox_migrations") as cur:
        return [r[0] for r in await cur.fetchall()]


async def test_sqlite_fresh_legacy_and_reopened(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    store = await SqliteReceiptStore.open(str(fresh))
    await store.close()
    store = await SqliteReceiptStore.open(str(fresh))  # again: nothing applied twice
    await store.close()
    assert await _versions_sqlite(fresh) == [1]

    legacy = tmp_path / "legacy.db"
    async with aiosqlite.connect(legacy) as db:
        await db.execute(_LEGACY)
        await db.execute("INSERT INTO outbox_consents VALUES ('c-1', 'p', 'did:web:shop', '{}')")
        await db.commit()
    store = await SqliteReceiptStore.open(str(legacy))
    await store.close()
    assert await _versions_sqlite(legacy) == [1]
    async with aiosqlite.connect(legacy) as db, db.execute("SELECT record_id FROM outbox_consents") as cur:
        assert [r[0] for r in await cur.fetchall()] == ["c-1"]
        async with db.execute("SELECT count(*) FROM outbox_receipts") as receipts:
            assert (await receipts.fetchone()) == (0,)


async def test_postgres_fresh_legacy_and_reopened(receipt_pg_schemas: Any) -> None:
    fresh, legacy = receipt_pg_schemas.new(), receipt_pg_schemas.new()
    for _ in range(2):
        store = await PostgresReceiptStore.open(PG_DSN, schema=fresh, max_size=2)
        await store.close()
    conn = await asyncpg.connect(PG_DSN)
    try:
        assert [r[0] for r in await conn.fetch(f'SELECT version FROM "{fresh}".outbox_migrations')] == [1]
        await conn.execute(f'CREATE SCHEMA "{legacy}"')
        await conn.execute(_LEGACY.replace("outbox_consents", f'"{legacy}".outbox_consents'))
        await conn.execute(f"""INSERT INTO "{legacy}".outbox_consents VALUES ('c-1', 'p', 'did:web:shop', '{{}}')""")
        store = await PostgresReceiptStore.open(PG_DSN, schema=legacy, max_size=2)
        await store.close()
        assert [r[0] for r in await conn.fetch(f'SELECT version FROM "{legacy}".outbox_migrations')] == [1]
        assert [r[0] for r in await conn.fetch(f'SELECT record_id FROM "{legacy}".outbox_consents')] == ["c-1"]
    finally:
        await conn.close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_one_migration_file_per_dialect(dialect: str) -> None:
    folder = Path(__file__).resolve().parents[2] / "vcsdk" / "outbox" / "migrations"
    assert sorted(p.name for p in folder.glob(f"*.{dialect}.sql")) == [f"0001_outbox.{dialect}.sql"]
