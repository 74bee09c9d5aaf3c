"""The city's issuance ledger: one eligibility credential and one ballot token per resident per election.

Durable (SQLite for one machine, PostgreSQL for several issuer processes) and safe under
concurrency: the primary key ``(election_id, resident_id)`` decides between racing requests in the
database itself, so twenty simultaneous token requests of one resident, in one process or in many,
and a restart between them, still give one blind signature.

What it holds, and nothing else (no time, no blinded message, no signature, no token):

* ``voting_credentials``: election, resident, SHA-256 digest of the eligibility credential's
  issuer-signed part (so a presented credential leads back to its resident), status-list index;
* ``voting_tokens``: election, resident, key scope (district or ``''``), SHA-256 of the blinded
  message (so a retry of the same request gets the same answer; a blinded message is a uniformly
  random number independent of the token the voter finally holds).

Tables come from numbered migrations in ``vcsdk/voting/migrations/ledger``.
"""

from __future__ import annotations

import hashlib

from vcsdk._sql import MigratedSql, PostgresMigrated, SqliteMigrated
from vcsdk.errors import ConflictError, TokenAlreadyIssuedError
from vcsdk.voting._ports import IssuanceLedger

__all__ = ["IssuanceLedger", "PostgresIssuanceLedger", "SqliteIssuanceLedger"]


def _digest(blinded_msg: bytes) -> bytes:
    return hashlib.sha256(blinded_msg).digest()


class _SqlLedger(MigratedSql):
    """The queries, once; :class:`SqliteMigrated` and :class:`PostgresMigrated` run them."""

    migrations = ("vcsdk.voting", "migrations", "ledger")
    migrations_table = "voting_ledger_migrations"
    # Any constant works; it only has to be the same for every process migrating this database.
    migration_lock = 0x76637364_766F7465

    async def record_credential(
        self, election_id: str, resident_id: str, *, credential_digest: bytes, status_index: int | None
    ) -> None:
        try:
            async with self._conn() as conn:
                await conn.execute(
                    "INSERT INTO voting_credentials (election_id, resident_id, credential_digest, status_index) "
                    "VALUES (?, ?, ?, ?)",
                    election_id, resident_id, credential_digest, status_index,
                )
        except ConflictError:
            raise ConflictError(
                "an eligibility credential for this election was already issued to this resident",
                code="already_issued",
            ) from None

    async def has_credential(self, election_id: str, resident_id: str) -> bool:
        rows = await self._fetch(
            "SELECT 1 FROM voting_credentials WHERE election_id = ? AND resident_id = ?", election_id, resident_id
        )
        return bool(rows)

    async def status_index(self, election_id: str, resident_id: str) -> int | None:
        rows = await self._fetch(
            "SELECT status_index FROM voting_credentials WHERE election_id = ? AND resident_id = ?",
            election_id, resident_id,
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    async def resident_of(self, election_id: str, credential_digest: bytes) -> str | None:
        rows = await self._fetch(
            "SELECT resident_id FROM voting_credentials WHERE election_id = ? AND credential_digest = ?",
            election_id, credential_digest,
        )
        return str(rows[0][0]) if rows else None

    async def claim_token(self, election_id: str, resident_id: str, *, scope: str, blinded_msg: bytes) -> None:
        digest = _digest(blinded_msg)
        async with self._tx() as conn:
            # The primary key decides: of racing claims exactly one row is inserted, in this
            # process or any other sharing the database; the others find it below.
            await conn.execute(
                "INSERT INTO voting_tokens (election_id, resident_id, scope, blinded_digest) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (election_id, resident_id) DO NOTHING",
                election_id, resident_id, scope, digest,
            )
            rows = await conn.fetch(
                "SELECT scope, blinded_digest FROM voting_tokens WHERE election_id = ? AND resident_id = ?",
                election_id, resident_id,
            )
        if not rows or str(rows[0][0]) != scope or bytes(rows[0][1]) != digest:
            raise TokenAlreadyIssuedError(
                "this resident already received the ballot token of this election; a lost token cannot be replaced"
            )

    async def tokens_issued(self, election_id: str) -> int:
        rows = await self._fetch("SELECT COUNT(*) FROM voting_tokens WHERE election_id = ?", election_id)
        return int(rows[0][0])


class SqliteIssuanceLedger(_SqlLedger, SqliteMigrated):
    """The ledger in one SQLite file (WAL, ``synchronous=FULL``); open with :meth:`open`.

    Several processes on one machine may open the same file: SQLite's write lock and the primary
    keys keep one blind signature per resident.
    """

    what = "the issuance ledger"

    @classmethod
    async def open(cls, path: str) -> SqliteIssuanceLedger:
        """Open (creating if needed) the ledger at ``path`` and apply its migrations.

        :raises StorageError: if the file cannot be opened or prepared.
        """
        return await cls._open_file(path)

    def __repr__(self) -> str:
        return "SqliteIssuanceLedger()"


class PostgresIssuanceLedger(_SqlLedger, PostgresMigrated):
    """The ledger on PostgreSQL (asyncpg pool), for several issuer processes; open with :meth:`open`."""

    @classmethod
    async def open(cls, dsn: str, *, schema: str | None = None, max_size: int = 10) -> PostgresIssuanceLedger:
        """Connect a pool and apply the ledger's migrations.

        :param schema: keep the tables in this schema (created if missing); a lowercase identifier.
        :raises InvalidInputError: if ``schema`` is not a plain identifier.
        :raises StorageError: if the database cannot be reached.
        """
        return await cls._open_pool(dsn, schema=schema, max_size=max_size)

    def __repr__(self) -> str:
        return "PostgresIssuanceLedger()"
