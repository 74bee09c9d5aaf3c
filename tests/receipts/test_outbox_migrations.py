"""The outbox's tables come from numbered migrations (vcsdk/outbox/migrations), on SQLite and PostgreSQL.

A fresh database records versions 1 and 2 in ``outbox_migrations``; a database whose tables an
earlier release created inline (no bookkeeping table) opens with its rows intact; opening twice
applies nothing twice. A database at version 1 with batches cut the old way (each receipt row
naming its batch) and receipts still queued, one of them below a batched one, migrates to batch
ranges: old batches keep their leaves and proofs, the queued receipts are cut after them, and every
receipt ends up anchored exactly once with a proof that verifies against the chain.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import pytest

from tests.receipts._factories import T0, make_consent, make_receipt, service_key
from tests.receipts.conftest import PG_DSN
from vcsdk._sql import PostgresConn, SqliteConn, apply_migrations, load_migrations, numbered_placeholders
from vcsdk.errors import ConflictError
from vcsdk.outbox import (
    AccessReceiptRegistry,
    PostgresReceiptStore,
    ReceiptOutbox,
    ReceiptStore,
    ResidentView,
    SqliteReceiptStore,
)
from vcsdk.receipts import MerkleTree, peek_access_receipt, receipt_leaf

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
    assert await _versions_sqlite(fresh) == [1, 2, 3]

    legacy = tmp_path / "legacy.db"
    async with aiosqlite.connect(legacy) as db:
        await db.execute(_LEGACY)
        await db.execute("INSERT INTO outbox_consents VALUES ('c-1', 'p', 'did:web:shop', '{}')")
        await db.commit()
    store = await SqliteReceiptStore.open(str(legacy))
    await store.close()
    assert await _versions_sqlite(legacy) == [1, 2, 3]
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
        assert [r[0] for r in await conn.fetch(f'SELECT version FROM "{fresh}".outbox_migrations')] == [1, 2, 3]
        await conn.execute(f'CREATE SCHEMA "{legacy}"')
        await conn.execute(_LEGACY.replace("outbox_consents", f'"{legacy}".outbox_consents'))
        await conn.execute(f"""INSERT INTO "{legacy}".outbox_consents VALUES ('c-1', 'p', 'did:web:shop', '{{}}')""")
        store = await PostgresReceiptStore.open(PG_DSN, schema=legacy, max_size=2)
        await store.close()
        assert [r[0] for r in await conn.fetch(f'SELECT version FROM "{legacy}".outbox_migrations')] == [1, 2, 3]
        assert [r[0] for r in await conn.fetch(f'SELECT record_id FROM "{legacy}".outbox_consents')] == ["c-1"]
    finally:
        await conn.close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_one_migration_file_per_dialect(dialect: str) -> None:
    folder = Path(__file__).resolve().parents[2] / "vcsdk" / "outbox" / "migrations"
    assert sorted(p.name for p in folder.glob(f"*.{dialect}.sql")) == [
        f"0001_outbox.{dialect}.sql", f"0002_batch_ranges.{dialect}.sql", f"0003_batches_are_ranges.{dialect}.sql"
    ]


# -- from version 1 (receipt rows name their batch) to batch ranges ------------------------------------

_KEY = service_key()
_CONSENT = make_consent()
_NOW = T0 + timedelta(hours=1)


def _v1_rows() -> tuple[list[tuple[Any, ...]], list[str]]:
    """Six receipts as version 1 stored them: r0, r1 and r3 cut into one old batch (leaf order r0,
    r1, r3), r2 (below r3) and r4, r5 still queued."""
    rows, old_leaves = [], []
    for i in range(6):
        token = make_receipt(_KEY, _CONSENT, receipt_id=f"r{i}", at=T0 + timedelta(minutes=i))
        salt = bytes([i + 1]) * 32
        leaf = receipt_leaf(token.encode(), salt)
        rows.append((i + 1, f"r{i}", token, salt, leaf, _CONSENT.controller.did, _CONSENT.resident_pseudonym,
                     _CONSENT.record_id, "age_check", int((T0 + timedelta(minutes=i)).timestamp()),
                     int(_NOW.timestamp())))
        if i in (0, 1, 3):
            old_leaves.append(leaf)
    return rows, old_leaves


async def _check_after_migration(
    store: ReceiptStore, registry: AccessReceiptRegistry, old: MerkleTree, old_leaves: list[bytes]
) -> None:
    # The old batch keeps its membership and leaf order; the queued receipts are queued in seq order.
    assert await store.batch_leaves(old.batch_id) == old_leaves
    assert (await store.get_receipt("r3")).leaf_index == 2
    assert (await store.get_receipt("r3")).batch_id == old.batch_id
    assert [r.receipt_id for r in await store.queued_receipts(limit=10)] == ["r2", "r4", "r5"]
    assert await store.count_queued() == 3
    outbox = ReceiptOutbox(store, registry, batch_size=3, max_age=timedelta(0), confirmations=1)
    report = await outbox.drain(now=_NOW)
    assert (report.open_batches, report.queued_receipts, report.chain_error) == (0, 0, None)
    # A receipt stored after the migration joins the queue behind them.
    await outbox.keep(peek_access_receipt(make_receipt(_KEY, _CONSENT, receipt_id="r6")), now=_NOW)
    assert [r.receipt_id for r in await store.queued_receipts(limit=10)] == ["r6"]
    await outbox.drain(now=_NOW)
    view = ResidentView(store, registry)
    batches: dict[bytes, list[str]] = {}
    for entry in await view.list([_CONSENT.resident_pseudonym]):
        assert entry.state == "final" and entry.proof is not None
        checked = await view.get(entry.receipt.receipt_id, pseudonyms=[_CONSENT.resident_pseudonym])
        assert checked.proof == entry.proof  # verified against the root on chain by get()
        batches.setdefault(entry.proof.batch_id, []).append(entry.receipt.receipt_id)
    assert batches[old.batch_id] == ["r0", "r1", "r3"]
    assert sorted(batches.values()) == [["r0", "r1", "r3"], ["r2", "r4", "r5"], ["r6"]]
    # Each batch anchored exactly once.
    topic = registry.contract.event_topic("BatchAnchored")
    logs = await registry.chain.get_logs(address=registry.address, topics=[topic])
    assert sorted(bytes(log.topics[1]) for log in logs) == sorted(batches)


_V1_INSERT = ("INSERT INTO outbox_receipts (seq, receipt_id, token, salt, leaf, service_did, pseudonym, consent_id, "
              "purpose, accessed_at, stored_at) VALUES ({})")


async def test_sqlite_from_version_1(tmp_path: Path, registry: AccessReceiptRegistry) -> None:
    path = tmp_path / "v1.db"
    rows, old_leaves = _v1_rows()
    old = MerkleTree(old_leaves)
    async with aiosqlite.connect(path) as db:
        v1 = load_migrations(resources.files("vcsdk.outbox").joinpath("migrations"), "sqlite")[:1]
        await apply_migrations(SqliteConn(db), v1, table="outbox_migrations", applied_at=0)
        for row in rows:
            await db.execute(_V1_INSERT.format(", ".join("?" * 11)), row)
        await db.execute("INSERT INTO outbox_batches (batch_id, root, size, state, created_at) VALUES (?, ?, 3, "
                         "'pending', ?)", (old.batch_id, old.root, int(_NOW.timestamp())))
        for index, receipt_id in enumerate(("r0", "r1", "r3")):
            await db.execute("UPDATE outbox_receipts SET batch_id = ?, leaf_index = ? WHERE receipt_id = ?",
                             (old.batch_id, index, receipt_id))
        await db.commit()
    store = await SqliteReceiptStore.open(str(path))
    try:
        assert await _versions_sqlite(path) == [1, 2, 3]
        await _check_after_migration(store, registry, old, old_leaves)
    finally:
        await store.close()


async def test_postgres_from_version_1(receipt_pg_schemas: Any, registry: AccessReceiptRegistry) -> None:
    schema = receipt_pg_schemas.new()
    rows, old_leaves = _v1_rows()
    old = MerkleTree(old_leaves)
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        v1 = load_migrations(resources.files("vcsdk.outbox").joinpath("migrations"), "postgres")[:1]
        async with conn.transaction():
            await apply_migrations(PostgresConn(conn, rewrite=numbered_placeholders), v1,
                                   table="outbox_migrations", applied_at=0)
        await conn.executemany(_V1_INSERT.format(", ".join(f"${i}" for i in range(1, 12))), rows)
        await conn.execute("SELECT setval(pg_get_serial_sequence('outbox_receipts', 'seq'), 6)")
        await conn.execute("INSERT INTO outbox_batches (batch_id, root, size, state, created_at) VALUES ($1, $2, 3, "
                           "'pending', $3)", old.batch_id, old.root, int(_NOW.timestamp()))
        for index, receipt_id in enumerate(("r0", "r1", "r3")):
            await conn.execute("UPDATE outbox_receipts SET batch_id = $1, leaf_index = $2 WHERE receipt_id = $3",
                               old.batch_id, index, receipt_id)
    finally:
        await conn.close()
    store = await PostgresReceiptStore.open(PG_DSN, schema=schema, max_size=2)
    try:
        await _check_after_migration(store, registry, old, old_leaves)
        # An instance of the earlier release still running cannot cut a batch the old way any more.
        with pytest.raises(ConflictError):
            await store._fetch("INSERT INTO outbox_batches (batch_id, root, size, state, created_at) "
                               "VALUES ($1, $1, 1, 'pending', 0)", bytes(32))
    finally:
        await store.close()
