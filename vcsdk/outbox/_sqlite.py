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
        """Open (creating if needed) the database at ``path`` and apply the outbox's migrations.

        :raises StorageError: if the file cannot be opened.
        """
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError("cannot open the SQLite database; check the path and its permissions") from exc
        store = cls(db)
        try:
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000"):
                await db.execute(f"PRAGMA {pragma}")
            await store.migrate()
        except (sqlite3.Error, StorageError) as exc:
            await db.close()
            raise StorageError("cannot prepare the SQLite database") from exc
        return store

    async def close(self) -> None:
        await self._db.close()

    def _conn(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_connection(self._db, self._lock)

    def _tx(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_transaction(self._db, self._lock)
