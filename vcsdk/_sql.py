"""Connections and transactions for the SQL stores (receipt outbox, wallet server), in one place.

Both stores keep their own schemas and queries; what they share is how a statement runs on
aiosqlite or asyncpg, how a transaction is opened and closed, and how driver errors become
:class:`~vcsdk.errors.StorageError` (never a driver exception, never the SQL or its values).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg

from vcsdk.errors import ConflictError, StorageError

__all__ = ["PostgresConn", "SqliteConn", "pg_connection", "pg_transaction", "sqlite_connection",
           "sqlite_transaction"]

_CONFLICT = "the record conflicts with one that is stored"
_FAILED = "the database failed; try again later"
#: What asyncpg raises when the server or the connection fails, besides SQL errors.
_PG_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class SqliteConn:
    """One aiosqlite connection, used by one statement or transaction at a time."""

    __slots__ = ("_db",)

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._db.execute(sql, args) as cursor:
            return cursor.rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self._db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())


class PostgresConn:
    """One pooled asyncpg connection; ``rewrite`` adapts a store's SQL (e.g. ``?`` to ``$1``)."""

    __slots__ = ("_conn", "_rewrite")

    def __init__(self, conn: Any, *, rewrite: Callable[[str], str] | None = None) -> None:
        self._conn = conn
        self._rewrite = rewrite

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._conn.execute(self._rewrite(sql) if self._rewrite else sql, *args)
        # asyncpg returns the command tag, e.g. "UPDATE 1" or "INSERT 0 1".
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return [tuple(r) for r in await self._conn.fetch(self._rewrite(sql) if self._rewrite else sql, *args)]


def _sqlite_error(exc: sqlite3.Error) -> StorageError:
    return ConflictError(_CONFLICT) if isinstance(exc, sqlite3.IntegrityError) else StorageError(_FAILED)


def _pg_error(exc: BaseException) -> StorageError:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return ConflictError(_CONFLICT)
    return StorageError(_FAILED)


@asynccontextmanager
async def sqlite_connection(db: aiosqlite.Connection, lock: asyncio.Lock) -> AsyncIterator[SqliteConn]:
    """Run statements in autocommit mode, one caller at a time.

    :raises ConflictError: on a constraint violation; :raises StorageError: on any other failure.
    """
    async with lock:
        try:
            yield SqliteConn(db)
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc


@asynccontextmanager
async def sqlite_transaction(db: aiosqlite.Connection, lock: asyncio.Lock) -> AsyncIterator[SqliteConn]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception), one caller at a time.

    :raises ConflictError: on a constraint violation; :raises StorageError: on any other failure.
    """
    async with lock:
        try:
            await db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc
        try:
            yield SqliteConn(db)
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):  # the original error is the one to report
                await db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _sqlite_error(exc) from exc
            raise
        else:
            try:
                await db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                raise _sqlite_error(exc) from exc


@asynccontextmanager
async def pg_connection(pool: Any, *, rewrite: Callable[[str], str] | None = None) -> AsyncIterator[PostgresConn]:
    """A pooled connection in autocommit mode.

    :raises ConflictError: on a constraint violation; :raises StorageError: on any other failure,
        including an unreachable server.
    """
    try:
        async with pool.acquire() as conn:
            yield PostgresConn(conn, rewrite=rewrite)
    except _PG_ERRORS as exc:
        raise _pg_error(exc) from exc


@asynccontextmanager
async def pg_transaction(pool: Any, *, rewrite: Callable[[str], str] | None = None) -> AsyncIterator[PostgresConn]:
    """A pooled connection inside one transaction (rolled back on any exception).

    :raises ConflictError: on a constraint violation; :raises StorageError: on any other failure.
    """
    try:
        async with pool.acquire() as conn, conn.transaction():
            yield PostgresConn(conn, rewrite=rewrite)
    except _PG_ERRORS as exc:
        raise _pg_error(exc) from exc
