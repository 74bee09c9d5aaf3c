"""PostgreSQL backend (asyncpg): for several server instances behind a load balancer."""
# ruff: noqa: S608 -- the only interpolated text is constant SQL; values are bound.

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from vcsdk.sql import PgTimeouts, PostgresConn, numbered_placeholders, open_pg_pool, pg_connection, pg_transaction
from wallet_server.storage._models import CredentialKey, DeviceProof, Page, StoredCredential
from wallet_server.storage._paging import keyset_query, page_of
from wallet_server.storage._protocol import Cursor, DeviceProofOutcome
from wallet_server.storage._sql import RECORD_DEVICE_PROOF, Conn, SqlStore, credential_args, proof_args

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

    async def prove_and_put_credential(self, proof: DeviceProof, credential: StoredCredential) -> DeviceProofOutcome:
        # One statement: the credential row goes in only if the proof's insert returned its row.
        inserted = await self._execute(
            f"WITH proof AS ({RECORD_DEVICE_PROOF} RETURNING 1) "
            "INSERT INTO credentials (id, resident_id, format, created_at, ciphertext) "
            "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM proof)",
            *proof_args(proof),
            *credential_args(credential),
        )
        if inserted == 1:
            return "ok"
        return await self._refused_proof_outcome(
            device_id=proof.device_id, resident_id=proof.resident_id, jkt=proof.jkt, family_id=proof.family_id
        )

    async def prove_and_list_credential_keys(
        self, proof: DeviceProof, *, limit: int, after: Cursor | None = None
    ) -> tuple[DeviceProofOutcome, Page[CredentialKey]]:
        # One round trip: the proof's insert is a data-modifying CTE that always runs once; its
        # RETURNING row is the marker (id NULL) and the page is read only if that row exists.
        page_sql, page_args = keyset_query(
            "SELECT id, format, created_at FROM credentials",
            where="resident_id = ? AND EXISTS (SELECT 1 FROM proof)",
            args=[proof.resident_id],
            after=after,
            limit=limit,
        )
        sql = (
            f"WITH proof AS ({RECORD_DEVICE_PROOF} RETURNING 1) "
            f"SELECT NULL, NULL, NULL FROM proof UNION ALL ({page_sql})"
        )
        rows = await self._fetch(sql, *proof_args(proof), *page_args)
        if not any(row[0] is None for row in rows):
            outcome = await self._refused_proof_outcome(
                device_id=proof.device_id, resident_id=proof.resident_id, jkt=proof.jkt, family_id=proof.family_id
            )
            return outcome, Page((), None)
        keys = sorted(
            (CredentialKey(row[0], row[1], datetime.fromtimestamp(row[2], UTC)) for row in rows if row[0] is not None),
            key=lambda k: (k.created_at, k.id),
        )
        return "ok", page_of(keys, limit)

    def _conn(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_connection(self._pool, rewrite=numbered_placeholders, acquire_timeout=self._acquire_timeout)

    def _tx(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_transaction(self._pool, rewrite=numbered_placeholders, acquire_timeout=self._acquire_timeout)
