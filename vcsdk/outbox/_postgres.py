"""PostgreSQL backend of the receipt outbox (asyncpg), for a wallet server behind a load balancer."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import asyncpg

from vcsdk._sql import PgTimeouts, PostgresConn, numbered_placeholders, open_pg_pool, pg_connection, pg_transaction
from vcsdk.errors import StorageError
from vcsdk.outbox._store import SqlReceiptStore

__all__ = ["PostgresReceiptStore"]




class PostgresReceiptStore(SqlReceiptStore):
    """The :class:`ReceiptStore` on PostgreSQL; open with :meth:`open`."""

    dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float | None = None) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout

    @classmethod
    async def open(
        cls, dsn: str, *, schema: str | None = None, max_size: int = 10, timeouts: PgTimeouts | None = None
    ) -> PostgresReceiptStore:
        """Connect a pool and apply the outbox's migrations.

        :param schema: keep the tables in this schema (created if missing); a lowercase identifier.
        :param timeouts: how long statements, pool waits and connects may take (defaults of
            :class:`~vcsdk._sql.PgTimeouts`).
        :raises InvalidInputError: if ``schema`` is not a plain identifier.
        :raises StorageError: if the database cannot be reached.
        """
        timeouts = timeouts or PgTimeouts()
        pool = await open_pg_pool(dsn, schema=schema, min_size=1, max_size=max_size, timeouts=timeouts)
        store = cls(pool, acquire_timeout=timeouts.acquire)
        try:
            await store.migrate()
        except (OSError, asyncpg.PostgresError, StorageError) as exc:
            await pool.close()
            raise StorageError("cannot reach or prepare the PostgreSQL database; check the DSN") from exc
        return store

    async def close(self) -> None:
        await self._pool.close()

    def _conn(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_connection(self._pool, rewrite=numbered_placeholders, acquire_timeout=self._acquire_timeout)

    def _tx(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_transaction(self._pool, rewrite=numbered_placeholders, acquire_timeout=self._acquire_timeout)
