"""The ballot box on SQLite (aiosqlite, WAL): nullifiers, ballots and batches in separate tables.

What is stored, and what is not:

* ``voting_nullifiers``: ``(election_id, nullifier)`` and nothing else, keyed by the nullifier
  (``WITHOUT ROWID``, so the physical order is the random order of the hashes, not arrival order);
* ``voting_ballots``: ``(election_id, commitment, choice, salt, batch_id)`` keyed by the commitment;
* ``voting_batches``: the Merkle batches and where they are anchored.

No table holds a timestamp, a sequence number, a presentation, a claim or a key, and no column
links a nullifier to a ballot. Casting inserts both in one transaction, so the uniqueness of the
nullifier decides between concurrent submissions (also across processes sharing the file).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

import aiosqlite

from vcsdk._sql import SqliteConn, sqlite_connection, sqlite_transaction
from vcsdk.errors import ConflictError, NotFoundError, StorageError

__all__ = ["SqliteBallotStore", "StoredBallot", "StoredBatch"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS voting_nullifiers (
    election_id TEXT NOT NULL,
    nullifier TEXT NOT NULL,
    PRIMARY KEY (election_id, nullifier)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS voting_ballots (
    election_id TEXT NOT NULL,
    commitment BLOB NOT NULL,
    choice TEXT NOT NULL,
    salt BLOB NOT NULL,
    batch_id BLOB,
    PRIMARY KEY (election_id, commitment)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS voting_ballots_batch ON voting_ballots (election_id, batch_id);
CREATE TABLE IF NOT EXISTS voting_batches (
    election_id TEXT NOT NULL,
    batch_id BLOB NOT NULL,
    root BLOB NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sent', 'anchored')),
    tx_hash TEXT,
    block_number INTEGER,
    PRIMARY KEY (election_id, batch_id)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class StoredBallot:
    """One row of ``voting_ballots``."""

    commitment: bytes
    choice: str
    salt: bytes = field(repr=False)
    batch_id: bytes | None


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """One row of ``voting_batches``."""

    batch_id: bytes
    root: bytes
    size: int
    state: Literal["sent", "anchored"]
    tx_hash: str | None
    block_number: int | None


class SqliteBallotStore:
    """Ballots, nullifiers and batches in one SQLite file; open with :meth:`open`.

    One connection per store in autocommit mode (``synchronous=FULL``: a cast ballot is on disk
    before :meth:`cast` returns); an :class:`asyncio.Lock` keeps one transaction at a time on it.
    Several stores (processes) may open the same file; SQLite's write lock and the primary keys
    keep them consistent.
    """

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteBallotStore:
        """Open (creating if needed) the database at ``path``.

        :raises StorageError: if the file cannot be opened or prepared.
        """
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError("cannot open the ballot database; check the path and its permissions") from exc
        try:
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000", "secure_delete=ON"):
                await db.execute(f"PRAGMA {pragma}")
            await db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            await db.close()
            raise StorageError("cannot prepare the ballot database") from exc
        return cls(db)

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def __aenter__(self) -> SqliteBallotStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _tx(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_transaction(self._db, self._lock)

    async def _fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with sqlite_connection(self._db, self._lock) as conn:
            return await conn.fetch(sql, *args)

    async def has_nullifier(self, election_id: str, nullifier: str) -> bool:
        """Whether a ballot was already cast with this nullifier."""
        rows = await self._fetch(
            "SELECT 1 FROM voting_nullifiers WHERE election_id = ? AND nullifier = ?", election_id, nullifier
        )
        return bool(rows)

    async def cast(self, election_id: str, *, nullifier: str, commitment: bytes, choice: str, salt: bytes) -> None:
        """Record a ballot and spend its nullifier, atomically.

        :raises ConflictError: (``already_voted``) if the nullifier is spent, (``conflict``) if the
            commitment is already stored (a reused salt).
        :raises StorageError: if the database fails.
        """
        async with self._tx() as db:
            try:
                await db.execute(
                    "INSERT INTO voting_nullifiers (election_id, nullifier) VALUES (?, ?)", election_id, nullifier
                )
            except sqlite3.IntegrityError:
                raise ConflictError(
                    "a ballot was already cast with this eligibility credential", code="already_voted"
                ) from None
            try:
                await db.execute(
                    "INSERT INTO voting_ballots (election_id, commitment, choice, salt, batch_id) "
                    "VALUES (?, ?, ?, ?, NULL)",
                    election_id,
                    commitment,
                    choice,
                    salt,
                )
            except sqlite3.IntegrityError:
                raise ConflictError("this ballot commitment is already stored; use a fresh salt") from None

    async def unbatched(self, election_id: str, *, limit: int) -> list[bytes]:
        """Commitments of ballots not yet in a batch (at most ``limit``, in commitment order)."""
        rows = await self._fetch(
            "SELECT commitment FROM voting_ballots WHERE election_id = ? AND batch_id IS NULL "
            "ORDER BY commitment LIMIT ?",
            election_id,
            limit,
        )
        return [bytes(r[0]) for r in rows]

    async def add_batch(self, election_id: str, *, batch_id: bytes, root: bytes, commitments: Sequence[bytes]) -> None:
        """Record a batch as ``sent`` and assign its ballots to it, atomically.

        :raises ConflictError: if a ballot is already in a batch or the batch exists.
        """
        async with self._tx() as db:
            try:
                await db.execute(
                    "INSERT INTO voting_batches (election_id, batch_id, root, size, state) VALUES (?, ?, ?, ?, 'sent')",
                    election_id,
                    batch_id,
                    root,
                    len(commitments),
                )
            except sqlite3.IntegrityError:
                raise ConflictError("this batch is already recorded") from None
            for commitment in commitments:
                changed = await db.execute(
                    "UPDATE voting_ballots SET batch_id = ? WHERE election_id = ? AND commitment = ? "
                    "AND batch_id IS NULL",
                    batch_id,
                    election_id,
                    commitment,
                )
                if changed != 1:
                    raise ConflictError("a ballot of the batch is unknown or already in a batch")

    async def mark_anchored(self, election_id: str, batch_id: bytes, *, tx_hash: str, block_number: int) -> None:
        """Record where a batch was anchored.

        :raises NotFoundError: for an unknown batch.
        """
        async with self._tx() as db:
            changed = await db.execute(
                "UPDATE voting_batches SET state = 'anchored', tx_hash = ?, block_number = ? "
                "WHERE election_id = ? AND batch_id = ?",
                tx_hash,
                block_number,
                election_id,
                batch_id,
            )
            if changed != 1:
                raise NotFoundError("unknown batch")

    async def batches(self, election_id: str, *, state: Literal["sent", "anchored"] | None = None) -> list[StoredBatch]:
        """The election's batches (optionally only those in ``state``)."""
        sql = "SELECT batch_id, root, size, state, tx_hash, block_number FROM voting_batches WHERE election_id = ?"
        args: list[Any] = [election_id]
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        rows = await self._fetch(sql + " ORDER BY batch_id", *args)
        return [StoredBatch(bytes(r[0]), bytes(r[1]), int(r[2]), r[3], r[4], r[5]) for r in rows]

    async def ballot(self, election_id: str, commitment: bytes) -> StoredBallot:
        """One ballot by its commitment.

        :raises NotFoundError: if there is none.
        """
        rows = await self._fetch(
            "SELECT commitment, choice, salt, batch_id FROM voting_ballots WHERE election_id = ? AND commitment = ?",
            election_id,
            commitment,
        )
        if not rows:
            raise NotFoundError("no ballot with this commitment")
        return _ballot(rows[0])

    async def ballots(self, election_id: str, *, batch_id: bytes | None = None) -> list[StoredBallot]:
        """The election's ballots (or one batch's), in commitment order."""
        sql = "SELECT commitment, choice, salt, batch_id FROM voting_ballots WHERE election_id = ?"
        args: list[Any] = [election_id]
        if batch_id is not None:
            sql += " AND batch_id = ?"
            args.append(batch_id)
        return [_ballot(r) for r in await self._fetch(sql + " ORDER BY commitment", *args)]

    async def nullifier_count(self, election_id: str) -> int:
        """How many nullifiers are spent (equals the number of ballots)."""
        rows = await self._fetch("SELECT COUNT(*) FROM voting_nullifiers WHERE election_id = ?", election_id)
        return int(rows[0][0])


def _ballot(row: Sequence[Any]) -> StoredBallot:
    return StoredBallot(bytes(row[0]), str(row[1]), bytes(row[2]), bytes(row[3]) if row[3] is not None else None)
