"""PostgreSQL backend of the receipt outbox (asyncpg), for a wallet server behind a load balancer."""

from __future__ import annotations

from vcsdk._sql import PgTimeouts, PostgresMigrated
from vcsdk.outbox._store import SqlReceiptStore

__all__ = ["PostgresReceiptStore"]


class PostgresReceiptStore(SqlReceiptStore, PostgresMigrated):
    """The :class:`ReceiptStore` on PostgreSQL; open with :meth:`open`."""

    @classmethod
    async def open(
        cls, dsn: str, *, schema: str | None = None, max_size: int = 10, timeouts: PgTimeouts | None = None
    ) -> PostgresReceiptStore:
        """Connect a pool and apply the outbox's migrations (on a connection of their own, without
        the pool's statement timeout).

        :param schema: keep the tables in this schema (created if missing); a lowercase identifier.
        :param timeouts: how long statements, pool waits and connects may take (defaults of
            :class:`~vcsdk._sql.PgTimeouts`).
        :raises InvalidInputError: if ``schema`` is not a plain identifier.
        :raises StorageError: if the database cannot be reached or prepared.
        """
        return await cls._open_pool(dsn, schema=schema, max_size=max_size, timeouts=timeouts or PgTimeouts())
