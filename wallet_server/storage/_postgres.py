"""PostgreSQL backend (asyncpg): for several server instances behind a load balancer."""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

from vcsdk._sql import PostgresConn, pg_connection, pg_transaction
from vcsdk.errors import InvalidInputError, StorageError
from wallet_server.storage._sql import Conn, SqlStore

__all__ = ["PostgresStore"]

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PLACEHOLDER = re.compile(r"\?")
# Any constant works; it only has to be the same for every instance migrating this database.
_MIGRATION_LOCK = 0x76637364_6B_77


def _numbered(sql: str) -> str:
    """Our queries use ``?``; asyncpg wants ``$1, $2, …`` (no query has a literal ``?``)."""
    counter = iter(range(1, 1000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


class PostgresStore(SqlStore):
    """The :class:`~wallet_server.storage.Store` on PostgreSQL through an asyncpg pool.

    Open with :meth:`open`; ``schema`` keeps the tables in their own schema (created if missing).
    """

    dialect = "postgres"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(
        cls, dsn: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 10, migrate: bool = True
    ) -> PostgresStore:
        """Connect a pool to ``dsn`` and apply migrations.

        :param schema: a lowercase SQL identifier; the pool's ``search_path``.
        :raises InvalidInputError: if ``schema`` is not a plain identifier.
        :raises StorageError: if the database cannot be reached.
        """
        settings: dict[str, str] = {}
        if schema is not None:
            if _IDENTIFIER.fullmatch(schema) is None:
                raise InvalidInputError("the PostgreSQL schema must be a lowercase identifier")
            settings["search_path"] = schema
        try:
            if schema is not None:
                conn = await asyncpg.connect(dsn)
                try:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                finally:
                    await conn.close()
            pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, server_settings=settings)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageError("cannot connect to PostgreSQL; check the database URL and that it is running") from exc
        store = cls(pool)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await pool.close()
                raise
        return store

    async def close(self) -> None:
        await self._pool.close()

    async def _lock_migrations(self, conn: Conn) -> None:
        await conn.fetch("SELECT pg_advisory_xact_lock(?)", _MIGRATION_LOCK)

    def _conn(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_connection(self._pool, rewrite=_numbered)

    def _tx(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_transaction(self._pool, rewrite=_numbered)
