"""PostgreSQL backend (asyncpg): for several server instances behind a load balancer."""
# ruff: noqa: S608 -- the only interpolated text is constant SQL; values are bound.

from __future__ import annotations

from datetime import UTC, datetime
from operator import itemgetter

from vcsdk.sql import PgTimeouts, PostgresMigrated
from wallet_server.storage._models import CredentialKey, DeviceProof, Page, StoredCredential
from wallet_server.storage._paging import keyset_query, page_of
from wallet_server.storage._protocol import Cursor, DeviceProofOutcome
from wallet_server.storage._sql import RECORD_DEVICE_PROOF, SqlStore, credential_args, proof_args

__all__ = ["PostgresStore"]


_CREATED_AT_ID = itemgetter(2, 0)


class PostgresStore(SqlStore, PostgresMigrated):
    """The :class:`~wallet_server.storage.Store` on PostgreSQL through an asyncpg pool.

    Open with :meth:`open`; ``schema`` keeps the tables in their own schema (created if missing).
    """

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
        return await cls._open_pool(
            dsn, schema=schema, min_size=min_size, max_size=max_size, timeouts=timeouts or PgTimeouts(),
            migrate=migrate,
        )

    async def prove_and_put_credential(self, proof: DeviceProof, credential: StoredCredential) -> DeviceProofOutcome:
        # One statement: the credential row goes in only if the proof's insert returned its row.
        inserted = await self._execute(
            f"WITH proof AS ({RECORD_DEVICE_PROOF} RETURNING 1) "
            "INSERT INTO credentials (id, resident_id, format, created_at, ciphertext) "
            "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM proof)",
            *proof_args(proof),
            *credential_args(credential),
        )
        return await self._proof_outcome(inserted == 1, proof)

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
            outcome = await self._proof_outcome(False, proof)
            return outcome, Page((), None)
        # UNION ALL keeps no order: the page's rows sorted again, by (created_at, id), as tuples.
        ordered = sorted((row for row in rows if row[0] is not None), key=_CREATED_AT_ID)
        keys = [CredentialKey(row[0], row[1], datetime.fromtimestamp(row[2], UTC)) for row in ordered]
        return "ok", page_of(keys, limit)
