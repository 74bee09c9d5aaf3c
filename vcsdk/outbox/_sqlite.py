"""SQLite backend of the receipt outbox (aiosqlite, WAL): the default for one machine."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AbstractAsyncContextManager

import aiosqlite

from vcsdk._sql import SqliteConn, sqlite_connection, sqlite_transaction
from vcsdk.errors import StorageError
from vcsdk.outbox._store import SqlReceiptStore

__all__ = ["SqliteReceiptStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_receipts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    receipt_id TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL,
    salt BLOB NOT NULL,
    leaf BLOB NOT NULL,
    service_did TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    accessed_at INTEGER NOT NULL,
    stored_at INTEGER NOT NULL,
    batch_id BLOB,
    leaf_index INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_receipts_queued ON outbox_receipts (seq) WHERE batch_id IS NULL;
CREATE INDEX IF NOT EXISTS outbox_receipts_batch ON outbox_receipts (batch_id, leaf_index);
CREATE INDEX IF NOT EXISTS outbox_receipts_pseudonym ON outbox_receipts (pseudonym, accessed_at);
CREATE INDEX IF NOT EXISTS outbox_receipts_pseudonym_page ON outbox_receipts (pseudonym, accessed_at, receipt_id);
CREATE INDEX IF NOT EXISTS outbox_receipts_time ON outbox_receipts (accessed_at, receipt_id);
CREATE TABLE IF NOT EXISTS outbox_batches (
    batch_id BLOB PRIMARY KEY,
    root BLOB NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'final')),
    created_at INTEGER NOT NULL,
    tx_hash TEXT,
    block_number INTEGER,
    final_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_batches_open ON outbox_batches (created_at) WHERE state <> 'final';
CREATE TABLE IF NOT EXISTS outbox_consents (
    record_id TEXT PRIMARY KEY,
    pseudonym TEXT NOT NULL,
    service_did TEXT NOT NULL,
    body TEXT NOT NULL
);
"""


class SqliteReceiptStore(SqlReceiptStore):
    """The :class:`ReceiptStore` on one SQLite file in WAL mode; open with :meth:`open`.

    One connection in autocommit mode with ``synchronous=FULL``, so a receipt is on disk before
    :meth:`add_receipt` returns; an :class:`asyncio.Lock` keeps one statement or transaction at a time.
    """

    dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteReceiptStore:
        """Open (creating if needed) the database at ``path`` and create the tables.

        :raises StorageError: if the file cannot be opened.
        """
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError("cannot open the SQLite database; check the path and its permissions") from exc
        try:
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000"):
                await db.execute(f"PRAGMA {pragma}")
            await db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            await db.close()
            raise StorageError("cannot prepare the SQLite database") from exc
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    def _conn(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_connection(self._db, self._lock)

    def _tx(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_transaction(self._db, self._lock)
