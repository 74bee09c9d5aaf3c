"""PostgreSQL backend of the receipt outbox (asyncpg), for a wallet server behind a load balancer."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import asyncpg

from vcsdk._sql import PgTimeouts, PostgresConn, open_pg_pool, pg_connection, pg_transaction
from vcsdk.errors import StorageError
from vcsdk.outbox._store import SqlReceiptStore

__all__ = ["PostgresReceiptStore"]


SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_receipts (
    seq BIGSERIAL PRIMARY KEY,
    receipt_id TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL,
    salt BYTEA NOT NULL,
    leaf BYTEA NOT NULL,
    service_did TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    accessed_at BIGINT NOT NULL,
    stored_at BIGINT NOT NULL,
    batch_id BYTEA,
    leaf_index INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_receipts_queued ON outbox_receipts (seq) WHERE batch_id IS NULL;
CREATE INDEX IF NOT EXISTS outbox_receipts_batch ON outbox_receipts (batch_id, leaf_index);
CREATE INDEX IF NOT EXISTS outbox_receipts_pseudonym ON outbox_receipts (pseudonym, accessed_at);
CREATE INDEX IF NOT EXISTS outbox_receipts_pseudonym_page ON outbox_receipts (pseudonym, accessed_at, receipt_id);
CREATE INDEX IF NOT EXISTS outbox_receipts_time ON outbox_receipts (accessed_at, receipt_id);
CREATE TABLE IF NOT EXISTS outbox_batches (
    batch_id BYTEA PRIMARY KEY,
    root BYTEA NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'final')),
    created_at BIGINT NOT NULL,
    tx_hash TEXT,
    block_number BIGINT,
    final_at BIGINT,
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
        """Connect a pool and create the tables.

        :param schema: keep the tables in this schema (created if missing); a lowercase identifier.
        :param timeouts: how long statements, pool waits and connects may take (defaults of
            :class:`~vcsdk._sql.PgTimeouts`).
        :raises InvalidInputError: if ``schema`` is not a plain identifier.
        :raises StorageError: if the database cannot be reached.
        """
        timeouts = timeouts or PgTimeouts()
        pool = await open_pg_pool(dsn, schema=schema, min_size=1, max_size=max_size, timeouts=timeouts)
        try:
            async with pool.acquire() as conn:
                await conn.execute(SCHEMA)
        except (OSError, asyncpg.PostgresError) as exc:
            await pool.close()
            raise StorageError("cannot reach or prepare the PostgreSQL database; check the DSN") from exc
        return cls(pool, acquire_timeout=timeouts.acquire)

    async def close(self) -> None:
        await self._pool.close()

    def _conn(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_connection(self._pool, acquire_timeout=self._acquire_timeout)

    def _tx(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_transaction(self._pool, acquire_timeout=self._acquire_timeout)
