"""SQLite backend (aiosqlite, WAL): the default for one machine."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AbstractAsyncContextManager

import aiosqlite

from vcsdk.errors import StorageError
from vcsdk.sql import SqliteConn, sqlite_connection, sqlite_transaction
from wallet_server.storage._sql import SqlStore

__all__ = ["SqliteStore"]


class SqliteStore(SqlStore):
    """The :class:`~wallet_server.storage.Store` on one SQLite file.

    One connection in autocommit mode; an :class:`asyncio.Lock` keeps one statement or transaction
    at a time on it, so a transaction never picks up another request's statements.
    Open with :meth:`open`.
    """

    dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str, *, migrate: bool = True) -> SqliteStore:
        """Open (creating if needed) the database file at ``path`` and apply migrations.

        :raises StorageError: if the file cannot be opened.
        """
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=5000")
            await db.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise StorageError("cannot open the SQLite database; check the path and its permissions") from exc
        store = cls(db)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await db.close()
                raise
        return store

    async def close(self) -> None:
        await self._db.close()

    def _conn(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_connection(self._db, self._lock)

    def _tx(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_transaction(self._db, self._lock)
