"""SQLite backend of the receipt outbox (aiosqlite, WAL): the default for one machine."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from vcsdk.errors import ConflictError, StorageError
from vcsdk.receipts.outbox._store import SqlReceiptStore

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


class _Conn:
    __slots__ = ("_db",)

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._db.execute(sql, args) as cursor:
            return cursor.rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self._db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())


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

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[_Conn]:
        async with self._lock:
            try:
                yield _Conn(self._db)
            except sqlite3.Error as exc:
                raise _translate(exc) from exc

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[_Conn]:
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _translate(exc) from exc
            try:
                yield _Conn(self._db)
            except BaseException as exc:
                await self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc) from exc
                raise
            else:
                try:
                    await self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise _translate(exc) from exc


def _translate(exc: sqlite3.Error) -> StorageError:
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError("the record conflicts with one that is stored")
    return StorageError("the receipt database failed; try again later")
