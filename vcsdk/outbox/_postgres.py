"""PostgreSQL backend of the receipt outbox (asyncpg), for a wallet server behind a load balancer."""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager

import asyncpg

from vcsdk._sql import PostgresConn, pg_connection, pg_transaction
from vcsdk.errors import InvalidInputError, StorageError
from vcsdk.outbox._store import SqlReceiptStore

__all__ = ["PostgresReceiptStore"]

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")

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

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, schema: str | None = None, max_size: int = 10) -> PostgresReceiptStore:
        """Connect a pool and create the tables.

        :param schema: keep the tables in this schema (created if missing); a lowercase identifier.
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
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, server_settings=settings)
            async with pool.acquire() as conn:
                await conn.execute(SCHEMA)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StorageError("cannot reach or prepare the PostgreSQL database; check the DSN") from exc
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    def _conn(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_connection(self._pool)

    def _tx(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_transaction(self._pool)
