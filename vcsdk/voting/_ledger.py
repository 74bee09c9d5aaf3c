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

import asyncio
import hashlib
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Final, Protocol

import aiosqlite

from vcsdk._sql import (
    PostgresConn,
    SqliteConn,
    apply_migrations,
    load_migrations,
    numbered_placeholders,
    open_pg_pool,
    pg_connection,
    pg_transaction,
    sqlite_connection,
    sqlite_transaction,
)
from vcsdk.errors import ConflictError, StorageError, TokenAlreadyIssuedError

__all__ = ["IssuanceLedger", "PostgresIssuanceLedger", "SqliteIssuanceLedger"]

_MIGRATIONS_TABLE: Final = "voting_ledger_migrations"
# Any constant works; it only has to be the same for every process migrating this database.
_MIGRATION_LOCK: Final = 0x76637364_766F7465


class IssuanceLedger(Protocol):
    """What :class:`EligibilityIssuer` and :class:`BallotTokenIssuer` need to remember, durably."""

    async def record_credential(
        self, election_id: str, resident_id: str, *, credential_digest: bytes, status_index: int | None
    ) -> None:
        """Remember the resident's eligibility credential.

        :raises ConflictError: (``already_issued``) if the resident already has one for the election.
        """
        ...

    async def has_credential(self, election_id: str, resident_id: str) -> bool: ...

    async def status_index(self, election_id: str, resident_id: str) -> int | None:
        """The status-list index of the resident's credential (``None`` if none or without status)."""
        ...

    async def resident_of(self, election_id: str, credential_digest: bytes) -> str | None:
        """The resident an eligibility credential was issued to, or ``None`` if this ledger never saw it."""
        ...

    async def claim_token(self, election_id: str, resident_id: str, *, scope: str, blinded_msg: bytes) -> None:
        """Claim the resident's one blind signature for this blinded message.

        A repeat with the same blinded message succeeds again (the answer is the same signature).

        :raises TokenAlreadyIssuedError: if the resident's signature went to another blinded message.
        """
        ...

    async def tokens_issued(self, election_id: str) -> int:
        """How many residents received a ballot token (the city may publish it)."""
        ...

    async def close(self) -> None: ...


def _digest(blinded_msg: bytes) -> bytes:
    return hashlib.sha256(blinded_msg).digest()


class _SqlLedger:
    """The queries, once; the drivers provide ``_conn`` and ``_tx``."""

    dialect = "sql"

    def _conn(self) -> AbstractAsyncContextManager[SqliteConn | PostgresConn]:
        raise NotImplementedError

    def _tx(self) -> AbstractAsyncContextManager[SqliteConn | PostgresConn]:
        raise NotImplementedError

    async def _lock_migrations(self, conn: SqliteConn | PostgresConn) -> None:
        """Serialise migrations between processes starting at once (PostgreSQL overrides)."""

    async def migrate(self) -> list[int]:
        """Apply the ledger's migrations this database lacks (one transaction).

        :return: the versions applied now.
        """
        folder = resources.files("vcsdk.voting").joinpath("migrations").joinpath("ledger")
        async with self._tx() as conn:
            await self._lock_migrations(conn)
            return await apply_migrations(
                conn, load_migrations(folder, self.dialect), table=_MIGRATIONS_TABLE,
                applied_at=int(datetime.now(UTC).timestamp()),
            )

    async def _fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self._conn() as conn:
            return await conn.fetch(sql, *args)

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


class SqliteIssuanceLedger(_SqlLedger):
    """The ledger in one SQLite file (WAL, ``synchronous=FULL``); open with :meth:`open`.

    Several processes on one machine may open the same file: SQLite's write lock and the primary
    keys keep one blind signature per resident.
    """

    dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteIssuanceLedger:
        """Open (creating if needed) the ledger at ``path`` and apply its migrations.

        :raises StorageError: if the file cannot be opened or prepared.
        """
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError("cannot open the issuance ledger; check the path and its permissions") from exc
        ledger = cls(db)
        try:
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000", "secure_delete=ON"):
                await db.execute(f"PRAGMA {pragma}")
            await ledger.migrate()
        except (sqlite3.Error, StorageError) as exc:
            await db.close()
            raise StorageError("cannot prepare the issuance ledger") from exc
        return ledger

    async def close(self) -> None:
        await self._db.close()

    def _conn(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_connection(self._db, self._lock)

    def _tx(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_transaction(self._db, self._lock)

    def __repr__(self) -> str:
        return "SqliteIssuanceLedger()"


class PostgresIssuanceLedger(_SqlLedger):
    """The ledger on PostgreSQL (asyncpg pool), for several issuer processes; open with :meth:`open`."""

    dialect = "postgres"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, schema: str | None = None, max_size: int = 10) -> PostgresIssuanceLedger:
        """Connect a pool and apply the ledger's migrations.

        :param schema: keep the tables in this schema (created if missing); a lowercase identifier.
        :raises InvalidInputError: if ``schema`` is not a plain identifier.
        :raises StorageError: if the database cannot be reached.
        """
        pool = await open_pg_pool(dsn, schema=schema, max_size=max_size)
        ledger = cls(pool)
        try:
            await ledger.migrate()
        except BaseException:
            await pool.close()
            raise
        return ledger

    async def close(self) -> None:
        await self._pool.close()

    async def _lock_migrations(self, conn: SqliteConn | PostgresConn) -> None:
        await conn.fetch("SELECT pg_advisory_xact_lock(?)", _MIGRATION_LOCK)

    def _conn(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_connection(self._pool, rewrite=numbered_placeholders)

    def _tx(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_transaction(self._pool, rewrite=numbered_placeholders)

    def __repr__(self) -> str:
        return "PostgresIssuanceLedger()"
