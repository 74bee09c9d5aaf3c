"""SQLite backend (aiosqlite, WAL): the default for one machine."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from vcsdk.errors import ConflictError, StorageError
from wallet_server.storage._sql import Row, SqlStore

__all__ = ["SqliteStore"]


class _SqliteConn:
    __slots__ = ("_db",)

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._db.execute(sql, args) as cursor:
            return cursor.rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())


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

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[_SqliteConn]:
        async with self._lock:
            try:
                yield _SqliteConn(self._db)
            except sqlite3.Error as exc:
                raise _translate(exc) from exc

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[_SqliteConn]:
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _translate(exc) from exc
            try:
                yield _SqliteConn(self._db)
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
        return ConflictError("the record conflicts with one that exists")
    return StorageError("the database failed; try again later")


