"""PostgreSQL backend (asyncpg): for several server instances behind a load balancer."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from vcsdk.sql import PgTimeouts, PostgresConn, numbered_placeholders, open_pg_pool, pg_connection, pg_transaction
from wallet_server.storage._sql import Conn, SqlStore

__all__ = ["PostgresStore"]

# Any constant works; it only has to be the same for every instance migrating this database.
_MIGRATION_LOCK = 0x76637364_6B_77


class PostgresStore(SqlStore):
    """The :class:`~wallet_server.storage.Store` on PostgreSQL through an asyncpg pool.

    Open with :meth:`open`; ``schema`` keeps the tables in their own schema (created if missing).
    """

    dialect = "postgres"

    def __init__(self, pool: Any, *, acquire_timeout: float | None = None) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        migrate: bool = True,
        timeouts: PgTimeouts | None = None,
    ) -> PostgresStore:
        """Connect a pool to ``dsn`` and apply migrations.

        :param schema: a lowercase SQL identifier; the pool's ``search_path``.
        :param timeouts: how long statements, pool waits and connects may take (defaults of
            :class:`~vcsdk.sql.PgTimeouts`); migrations run on their own connection without them.
        :raises InvalidInputError: if ``schema`` is not a plain identifier.
        :raises StorageError: if the database cannot be reached.
        """
        timeouts = timeouts or PgTimeouts()
        if migrate:
            # Migrations may take as long as they need, on a connection of their own.
            migrating = await open_pg_pool(dsn, schema=schema, min_size=1, max_size=1, timeouts=None)
            try:
                await cls(migrating).migrate()
            finally:
                await migrating.close()
        pool = await open_pg_pool(dsn, schema=schema, min_size=min_size, max_size=max_size, timeouts=timeouts)
        return cls(pool, acquire_timeout=timeouts.acquire)

    async def close(self) -> None:
        await self._pool.close()

    async def _lock_migrations(self, conn: Conn) -> None:
        await conn.fetch("SELECT pg_advisory_xact_lock(?)", _MIGRATION_LOCK)

    def _conn(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_connection(self._pool, rewrite=numbered_placeholders, acquire_timeout=self._acquire_timeout)

    def _tx(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_transaction(self._pool, rewrite=numbered_placeholders, acquire_timeout=self._acquire_timeout)
