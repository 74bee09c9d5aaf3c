"""The ballot box on SQLite (one machine) or PostgreSQL (several service processes).

What is stored, and nothing else:

* ``voting_ballots``: election, the ballot token (serial, district, RFC 9474 prefix, signature),
  the ballot (commitment, choice, salt) and its batch, keyed by ``(election_id, serial)``: a spent
  serial makes a second ballot with the same token fail in the database itself;
* ``voting_batches``: the Merkle batches and where they are anchored.

No timestamp, no sequence number, no claim, no presentation, nothing from the issuance side (no
resident, no blinded message, no blind signature). A token may sit next to its ballot: the city
cannot link a token to the resident it signed it for (RFC 9474 blindness).

**Arrival order.** A database keeps traces of the order rows arrived in (SQLite's page layout,
PostgreSQL's tuple positions and transaction ids, both write-ahead logs). :meth:`compact` rewrites
the ballots in serial order (a random order) and erases those traces from the live files; the voting
service compacts at every anchoring and at closing, and a store compacts when it is closed. Between
two compactions the files show the arrival order of the ballots cast since the last one, no more
than the service saw while receiving them.

Tables come from numbered migrations in ``vcsdk/voting/migrations/ballots``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from vcsdk._sql import MigratedSql, PostgresMigrated, SqliteMigrated
from vcsdk.errors import AlreadyVotedError, ConflictError, NotFoundError, StorageError
from vcsdk.voting._token import BallotToken

__all__ = ["BallotStore", "PostgresBallotStore", "SqliteBallotStore", "StoredBallot", "StoredBatch"]

_BALLOT_COLS: Final = "serial, district, prefix, signature, commitment, choice, salt, batch_id"


@dataclass(frozen=True, slots=True)
class StoredBallot:
    """One row of ``voting_ballots``: the token the ballot was cast with and the ballot."""

    token: BallotToken
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


class BallotStore(Protocol):
    """What a voting service needs from its ballot box (:class:`SqliteBallotStore`, :class:`PostgresBallotStore`)."""

    async def cast(self, election_id: str, *, token: BallotToken, commitment: bytes, choice: str, salt: bytes) -> None:
        """Record a ballot and spend its token's serial, atomically.

        :raises AlreadyVotedError: if the serial is spent; :raises ConflictError: for a repeated commitment.
        """
        ...

    async def unbatched(self, election_id: str, *, limit: int) -> list[bytes]: ...

    async def add_batch(
        self, election_id: str, *, batch_id: bytes, root: bytes, commitments: Sequence[bytes]
    ) -> None: ...

    async def mark_anchored(self, election_id: str, batch_id: bytes, *, tx_hash: str, block_number: int) -> None: ...

    async def batches(
        self, election_id: str, *, state: Literal["sent", "anchored"] | None = None
    ) -> list[StoredBatch]: ...

    async def ballot(self, election_id: str, commitment: bytes) -> StoredBallot: ...

    async def ballots(self, election_id: str, *, batch_id: bytes | None = None) -> list[StoredBallot]: ...

    async def ballot_count(self, election_id: str) -> int: ...

    async def compact(self) -> None:
        """Rewrite the ballots in serial order, erasing arrival-order traces from the live files."""
        ...

    async def close(self) -> None: ...


def _ballot(election_id: str, row: Sequence[Any]) -> StoredBallot:
    token = BallotToken(election_id, str(row[1]) or None, bytes(row[0]), bytes(row[2]), bytes(row[3]))
    return StoredBallot(token, bytes(row[4]), str(row[5]), bytes(row[6]), bytes(row[7]) if row[7] is not None else None)


class _SqlBallotStore(MigratedSql):
    """The queries, once; :class:`SqliteMigrated` and :class:`PostgresMigrated` run them."""

    migrations = ("vcsdk.voting", "migrations", "ballots")
    migrations_table = "voting_ballot_migrations"
    migration_lock = 0x76637364_62616C6C

    async def cast(self, election_id: str, *, token: BallotToken, commitment: bytes, choice: str, salt: bytes) -> None:
        async with self._tx() as conn:
            # The serial is the primary key: of two casts with one token, in this process or any
            # other sharing the database, exactly one inserts; the other finds the serial spent.
            inserted = await conn.execute(
                f"INSERT INTO voting_ballots (election_id, {_BALLOT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) "  # noqa: S608
                "ON CONFLICT DO NOTHING",
                election_id, token.serial, token.district or "", token.prefix, token.signature, commitment,
                choice, salt,
            )
            if inserted == 1:
                return
            spent = await conn.fetch(
                "SELECT 1 FROM voting_ballots WHERE election_id = ? AND serial = ?", election_id, token.serial
            )
        if spent:
            raise AlreadyVotedError("a ballot was already cast with this ballot token")
        raise ConflictError("this ballot commitment is already stored; use a fresh salt")

    async def unbatched(self, election_id: str, *, limit: int) -> list[bytes]:
        """Commitments of ballots not yet in a batch (at most ``limit``, in commitment order)."""
        rows = await self._fetch(
            "SELECT commitment FROM voting_ballots WHERE election_id = ? AND batch_id IS NULL "
            "ORDER BY commitment LIMIT ?",
            election_id, limit,
        )
        return [bytes(r[0]) for r in rows]

    async def add_batch(self, election_id: str, *, batch_id: bytes, root: bytes, commitments: Sequence[bytes]) -> None:
        """Record a batch as ``sent`` and assign its ballots to it, atomically.

        :raises ConflictError: if a ballot is already in a batch or the batch exists.
        """
        async with self._tx() as conn:
            try:
                await conn.execute(
                    "INSERT INTO voting_batches (election_id, batch_id, root, size, state) VALUES (?, ?, ?, ?, 'sent')",
                    election_id, batch_id, root, len(commitments),
                )
            except ConflictError:
                raise ConflictError("this batch is already recorded") from None
            for commitment in commitments:
                changed = await conn.execute(
                    "UPDATE voting_ballots SET batch_id = ? WHERE election_id = ? AND commitment = ? "
                    "AND batch_id IS NULL",
                    batch_id, election_id, commitment,
                )
                if changed != 1:
                    raise ConflictError("a ballot of the batch is unknown or already in a batch")

    async def mark_anchored(self, election_id: str, batch_id: bytes, *, tx_hash: str, block_number: int) -> None:
        """Record where a batch was anchored.

        :raises NotFoundError: for an unknown batch.
        """
        async with self._conn() as conn:
            changed = await conn.execute(
                "UPDATE voting_batches SET state = 'anchored', tx_hash = ?, block_number = ? "
                "WHERE election_id = ? AND batch_id = ?",
                tx_hash, block_number, election_id, batch_id,
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
        return [
            StoredBatch(bytes(r[0]), bytes(r[1]), int(r[2]), r[3], r[4], int(r[5]) if r[5] is not None else None)
            for r in rows
        ]

    async def ballot(self, election_id: str, commitment: bytes) -> StoredBallot:
        """One ballot by its commitment.

        :raises NotFoundError: if there is none.
        """
        rows = await self._fetch(
            f"SELECT {_BALLOT_COLS} FROM voting_ballots WHERE election_id = ? AND commitment = ?",  # noqa: S608
            election_id, commitment,
        )
        if not rows:
            raise NotFoundError("no ballot with this commitment")
        return _ballot(election_id, rows[0])

    async def ballots(self, election_id: str, *, batch_id: bytes | None = None) -> list[StoredBallot]:
        """The election's ballots (or one batch's), in commitment order."""
        sql = f"SELECT {_BALLOT_COLS} FROM voting_ballots WHERE election_id = ?"  # noqa: S608
        args: list[Any] = [election_id]
        if batch_id is not None:
            sql += " AND batch_id = ?"
            args.append(batch_id)
        return [_ballot(election_id, r) for r in await self._fetch(sql + " ORDER BY commitment", *args)]

    async def ballot_count(self, election_id: str) -> int:
        """How many ballots are stored (each spent one serial)."""
        rows = await self._fetch("SELECT COUNT(*) FROM voting_ballots WHERE election_id = ?", election_id)
        return int(rows[0][0])


class SqliteBallotStore(_SqlBallotStore, SqliteMigrated):
    """The ballot box in one SQLite file (WAL, ``synchronous=FULL``, ``secure_delete``); open with :meth:`open`.

    One connection per store; an :class:`asyncio.Lock` keeps one transaction at a time on it.
    Several stores (processes) may open the same file; SQLite's write lock and the primary key keep
    one ballot per token.
    """

    what = "the ballot database"

    @classmethod
    async def open(cls, path: str) -> SqliteBallotStore:
        """Open (creating if needed) the database at ``path`` and apply its migrations.

        :raises StorageError: if the file cannot be opened or prepared.
        """
        return await cls._open_file(path)

    async def compact(self) -> None:
        """Checkpoint, ``VACUUM`` (every table rewritten in key order: ballots by serial), truncate the WAL.

        :raises StorageError: if the database fails (e.g. another connection holds a transaction open).
        """
        async with self._lock:
            try:
                for statement in ("PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
                    # Each statement is run to its end and closed: VACUUM refuses while one is open.
                    async with self._db.execute(statement) as cursor:
                        await cursor.fetchall()
            except sqlite3.Error as exc:
                raise StorageError("the ballot database could not be compacted; try again later") from exc

    async def close(self) -> None:
        """Compact (best effort: another process may be using the file) and close the connection."""
        try:
            await self.compact()
        except StorageError:
            pass  # the next compaction (anchoring, closing) does it
        finally:
            await self._db.close()

    async def __aenter__(self) -> SqliteBallotStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "SqliteBallotStore()"


class PostgresBallotStore(_SqlBallotStore, PostgresMigrated):
    """The ballot box on PostgreSQL (asyncpg pool), for several service processes; open with :meth:`open`.

    :meth:`compact` rewrites ``voting_ballots`` in one transaction into a fresh file in serial order,
    so every row then carries the same transaction id (``xmin``) and a position (``ctid``) that
    follows the serial, not the arrival.
    """

    @classmethod
    async def open(cls, dsn: str, *, schema: str | None = None, max_size: int = 10) -> PostgresBallotStore:
        """Connect a pool and apply the ballot box's migrations.

        :param schema: keep the tables in this schema (created if missing); a lowercase identifier.
        :raises InvalidInputError: if ``schema`` is not a plain identifier.
        :raises StorageError: if the database cannot be reached.
        """
        return await cls._open_pool(dsn, schema=schema, max_size=max_size)

    async def compact(self) -> None:
        """Rewrite ``voting_ballots`` in serial order in one transaction (``TRUNCATE`` gives a new file).

        :raises StorageError: if the database fails.
        """
        async with self._tx() as conn:
            await conn.execute("LOCK TABLE voting_ballots IN ACCESS EXCLUSIVE MODE")
            await conn.execute(
                "CREATE TEMPORARY TABLE voting_ballots_sorted ON COMMIT DROP AS "
                "SELECT * FROM voting_ballots ORDER BY election_id, serial"
            )
            await conn.execute("TRUNCATE voting_ballots")
            await conn.execute(
                "INSERT INTO voting_ballots SELECT * FROM voting_ballots_sorted ORDER BY election_id, serial"
            )

    async def close(self) -> None:
        """Compact (best effort) and close the pool."""
        try:
            await self.compact()
        except StorageError:
            pass
        finally:
            await self._pool.close()

    def __repr__(self) -> str:
        return "PostgresBallotStore()"
