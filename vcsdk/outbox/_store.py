"""The ``ReceiptStore`` port and the SQL logic its SQLite and PostgreSQL backends share."""
# ruff: noqa: S608 -- the only interpolated text is constant column lists and "?" placeholders; values are bound.

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, Self

from vcsdk._sql import MigratedSql, PostgresConn, SqliteConn, numbered_placeholders
from vcsdk._time import to_numeric_date
from vcsdk.errors import ConflictError, InvalidInputError, NotFoundError, StorageError
from vcsdk.outbox._models import Batch, BatchState, QueuedLeaf, StoredReceipt
from vcsdk.receipts import ConsentRecord, peek_access_receipt

__all__ = ["ReceiptStore", "SqlReceiptStore"]


class ReceiptStore(Protocol):
    """Durable storage for the outbox. Implementations: ``SqliteReceiptStore``, ``PostgresReceiptStore``.

    Every method raises only :class:`~vcsdk.errors.StorageError` or its subclasses.
    """

    async def add_receipt(self, receipt: StoredReceipt) -> StoredReceipt:
        """Store a receipt durably; the same receipt again returns the stored one.

        :raises ConflictError: if another receipt with the same id is stored.
        """
        ...

    async def get_receipt(self, receipt_id: str) -> StoredReceipt:
        """:raises NotFoundError:."""
        ...

    async def queued_receipts(self, *, limit: int) -> list[StoredReceipt]:
        """Receipts not yet in a batch, oldest first."""
        ...

    async def count_queued(self) -> int: ...

    async def create_batch(self, batch: Batch, receipt_ids: Sequence[str]) -> None:
        """Record a batch and put the receipts into it, in order, atomically. The receipts are the
        next ones queued, in queue order (as :meth:`queued_receipts` returns them).

        :raises ConflictError: if a receipt is already in a batch, is not next in the queue, or the
            batch exists.
        """
        ...

    async def open_batches(self) -> list[Batch]:
        """Batches not yet final, oldest first."""
        ...

    async def recent_batches(self, *, limit: int) -> list[Batch]:
        """The newest batches in any state, newest first (for an operator's overview)."""
        ...

    async def get_batch(self, batch_id: bytes) -> Batch:
        """:raises NotFoundError:."""
        ...

    async def update_batch(
        self,
        batch_id: bytes,
        *,
        state: BatchState,
        tx_hash: str | None,
        block_number: int | None,
        final_at: datetime | None = None,
        sent: bool = False,
    ) -> None:
        """Record the batch's anchoring progress (``sent`` counts one more send attempt).

        :raises NotFoundError:.
        """
        ...

    async def batch_leaves(self, batch_id: bytes) -> list[bytes]:
        """The batch's leaves in leaf order."""
        ...

    async def list_receipts(
        self,
        *,
        pseudonyms: Sequence[str] | None = None,
        service_did: str | None = None,
        purpose: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        after: tuple[datetime, str] | None = None,
    ) -> list[StoredReceipt]:
        """Receipts matching every given filter, by access time then id.

        :param after: the (access time, receipt id) of the last receipt of the previous page: only
            receipts after it (keyset pagination, stable while receipts are added).
        """
        ...

    def iter_receipts(
        self, *, since: datetime | None = None, until: datetime | None = None, page_size: int = 1000
    ) -> AsyncIterator[StoredReceipt]:
        """Every receipt accessed in ``[since, until)``, by access time then id, a page at a time
        (memory stays at one page; feed them to :class:`~vcsdk.receipts.AccessCounter`)."""
        ...

    async def put_consent(self, consent: ConsentRecord) -> None:
        """Store a consent, or its withdrawal (the only change a stored consent may take).

        :raises ConflictError: for any other change to a stored consent.
        """
        ...

    async def get_consent(self, record_id: str) -> ConsentRecord:
        """:raises NotFoundError:."""
        ...

    def joined(self, conn: SqliteConn | PostgresConn) -> Self:
        """This store inside the caller's transaction on ``conn`` (the same database): its writes
        commit with the caller's, or neither does (see :meth:`vcsdk.sql.MigratedSql.joined`)."""
        ...

    async def close(self) -> None: ...


class _Conn(Protocol):
    async def execute(self, sql: str, *args: Any) -> int: ...

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]: ...


def _ts(value: datetime) -> int:
    return to_numeric_date(value, what="times")


def _dt(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


_RECEIPT_COLUMNS = "token, salt, leaf, stored_at, batch_id, leaf_index, seq"
#: The last queue position already in a batch (0 for none): the queue is every receipt after it.
_CURSOR = "COALESCE((SELECT MAX(last_seq) FROM outbox_batches), 0)"
#: First key of the PostgreSQL advisory lock between receipt inserts (shared) and batch cuts
#: (exclusive); the second is the receipts table's oid, so each schema has its own lock.
_INTAKE_LOCK = 0x766F7574
_INTAKE_KEYS = "?, 'outbox_receipts'::regclass::oid::int"
#: Rows per multi-row INSERT and values per IN list on SQLite (its bound-parameter limit is 32,766).
_SQLITE_ROWS = 1000
_SQLITE_PARAMS = 10_000
_EPOCH = datetime.fromtimestamp(0, tz=UTC)
_BATCH_COLUMNS = "batch_id, root, size, state, created_at, tx_hash, block_number, final_at, attempts"


class SqlReceiptStore(MigratedSql):
    """The :class:`ReceiptStore` logic, once; :class:`~vcsdk.sql.SqliteMigrated` and
    :class:`~vcsdk.sql.PostgresMigrated` open, connect and migrate (``SqliteReceiptStore``,
    ``PostgresReceiptStore``).

    Its tables come from the numbered migrations in ``vcsdk/outbox/migrations``, applied on open
    (:meth:`~vcsdk.sql.MigratedSql.migrate`, bookkeeping in ``outbox_migrations``).

    Receipt rows are written once, at intake, with their leaf; a batch is one row naming the range
    of queue positions it covers (migration 0002), so anchoring never rewrites a receipt. Anything
    that inserts receipts on PostgreSQL does so through :meth:`_intake` in its transaction.
    """

    migrations = ("vcsdk.outbox", "migrations")
    migrations_table = "outbox_migrations"
    migration_lock = 0x76637364_6F757462

    def _q(self, sql: str) -> str:
        """``sql`` for this dialect: ``?`` placeholders numbered on PostgreSQL, even on a joined
        connection that does not rewrite them itself."""
        return sql if self.dialect == "sqlite" else numbered_placeholders(sql)

    # -- receipts ---------------------------------------------------------------------------------

    async def add_receipt(self, receipt: StoredReceipt) -> StoredReceipt:
        r = receipt.receipt
        values = (
            r.receipt_id, r.token, receipt.salt, receipt.leaf, r.service_did, r.resident_pseudonym, r.consent_id,
            r.purpose, _ts(r.accessed_at), _ts(receipt.stored_at),
        )  # fmt: skip
        # Insert first: a new receipt (the usual case) is one statement; only when its id is taken is
        # the stored one read, to tell the same receipt again from another one.
        if self.dialect == "postgres":
            # One statement, its own transaction (or the caller's, joined): the shared intake lock is
            # taken before the row and its queue position are made, and held until it commits.
            async with self._conn() as conn:
                inserted = await conn.execute(
                    f"WITH intake AS (SELECT pg_advisory_xact_lock_shared({numbered_placeholders(_INTAKE_KEYS)})) "
                    "INSERT INTO outbox_receipts (receipt_id, token, salt, leaf, service_did, pseudonym, consent_id, "
                    "purpose, accessed_at, stored_at) SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM intake "
                    "ON CONFLICT (receipt_id) DO NOTHING",
                    _INTAKE_LOCK, *values,
                )  # fmt: skip
        else:
            async with self._tx() as conn:
                inserted = await conn.execute(
                    "INSERT INTO outbox_receipts (receipt_id, token, salt, leaf, service_did, pseudonym, consent_id, "
                    "purpose, accessed_at, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (receipt_id) DO NOTHING",
                    *values,
                )
        if inserted:
            return receipt
        async with self._conn() as conn:
            rows = await conn.fetch(
                self._q(f"SELECT {_RECEIPT_COLUMNS} FROM outbox_receipts WHERE receipt_id = ?"), r.receipt_id
            )
            existing = (await self._stored(conn, rows))[0]
        if existing.receipt.token != r.token:
            raise ConflictError("another receipt with this id is already stored")
        return existing

    async def add_receipts(self, receipts: Sequence[StoredReceipt]) -> list[StoredReceipt]:
        """Store many receipts in one transaction and one statement per dialect (the batched intake);
        like :meth:`add_receipt` for each: the same receipt again returns the stored one.

        :raises ConflictError: if another receipt with one of the ids is stored (nothing is stored).
        """
        if not receipts:
            return []
        parsed = [r.receipt for r in receipts]
        ids = [r.receipt_id for r in parsed]
        if len(set(ids)) != len(ids):
            raise ConflictError("two receipts in one call share an id")
        # Each distinct time converted once: receipts stored together share their stored time, and
        # many were issued in the same second.
        seconds: dict[datetime, int] = {}
        for when in {r.accessed_at for r in parsed} | {r.stored_at for r in receipts}:
            seconds[when] = _ts(when)
        columns = (
            ids, [r.token for r in parsed], [r.salt for r in receipts], [r.leaf for r in receipts],
            [r.service_did for r in parsed], [r.resident_pseudonym for r in parsed], [r.consent_id for r in parsed],
            [r.purpose for r in parsed], [seconds[r.accessed_at] for r in parsed],
            [seconds[r.stored_at] for r in receipts],
        )  # fmt: skip
        async with self._tx() as conn:
            await self._intake(conn)
            if self.dialect == "postgres":
                inserted = await conn.execute(
                    "INSERT INTO outbox_receipts (receipt_id, token, salt, leaf, service_did, pseudonym, consent_id, "
                    "purpose, accessed_at, stored_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], "
                    "$4::bytea[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[]) "
                    "ON CONFLICT (receipt_id) DO NOTHING",
                    *columns,
                )
            else:
                rows = list(zip(*columns, strict=True))
                inserted = 0
                for chunk in range(0, len(rows), _SQLITE_ROWS):
                    part = rows[chunk : chunk + _SQLITE_ROWS]
                    inserted += await conn.execute(
                        "INSERT INTO outbox_receipts (receipt_id, token, salt, leaf, service_did, pseudonym, "
                        "consent_id, purpose, accessed_at, stored_at) VALUES "
                        + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(part))
                        + " ON CONFLICT (receipt_id) DO NOTHING",
                        *[v for row in part for v in row],
                    )
            if inserted == len(receipts):
                return list(receipts)
            # Some were stored before: the same receipts are fine, another under the same id is not.
            out = []
            for receipt in receipts:
                found = await conn.fetch(
                    self._q(f"SELECT {_RECEIPT_COLUMNS} FROM outbox_receipts WHERE receipt_id = ?"),
                    receipt.receipt.receipt_id,
                )
                existing = (await self._stored(conn, found))[0]
                if existing.receipt.token != receipt.receipt.token:
                    raise ConflictError("another receipt with this id is already stored")
                out.append(existing if existing.salt != receipt.salt else receipt)
            return out

    async def get_consents(self, record_ids: Sequence[str]) -> dict[str, ConsentRecord]:
        """The stored consents among ``record_ids``, by id (one query)."""
        wanted = sorted(set(record_ids))
        if not wanted:
            return {}
        out: dict[str, ConsentRecord] = {}
        async with self._conn() as conn:
            if self.dialect == "postgres":
                rows = await conn.fetch(
                    "SELECT record_id, body FROM outbox_consents WHERE record_id = ANY($1::text[])", wanted
                )
            else:
                rows = []
                for chunk in range(0, len(wanted), _SQLITE_PARAMS):
                    part = wanted[chunk : chunk + _SQLITE_PARAMS]
                    rows += await conn.fetch(
                        "SELECT record_id, body FROM outbox_consents WHERE record_id IN ("
                        + ", ".join("?" * len(part)) + ")",
                        *part,
                    )
        for record_id, body in rows:
            out[str(record_id)] = _consent(str(body))
        return out

    # -- the queue and batches as position ranges -------------------------------------------------
    #
    # A receipt's queue position is its ``seq``. A batch covers the positions first_seq..last_seq
    # after the previous batch's last_seq; anchoring writes one batch row and never rewrites a
    # receipt. On PostgreSQL a position is taken by an insert that may commit after a later one, so
    # inserts hold a shared advisory lock and a cut takes it exclusively: while a cut holds it no
    # insert is in flight, every position up to the highest one stored is final, and a batch's range
    # can never gain a receipt later. (SQLite runs one write transaction at a time.)

    async def _intake(self, conn: SqliteConn | PostgresConn) -> None:
        """Before inserting receipts in a transaction: hold the intake lock, shared (PostgreSQL)."""
        if self.dialect == "postgres":
            await conn.fetch(f"SELECT pg_advisory_xact_lock_shared({self._q(_INTAKE_KEYS)})", _INTAKE_LOCK)

    async def _quiesce(self, conn: SqliteConn | PostgresConn) -> None:
        """In a transaction: wait for the receipt inserts in flight and hold new ones off until it ends."""
        if self.dialect == "postgres":
            await conn.fetch(f"SELECT pg_advisory_xact_lock({self._q(_INTAKE_KEYS)})", _INTAKE_LOCK)

    async def _stored(self, conn: SqliteConn | PostgresConn, rows: Sequence[Sequence[Any]]) -> list[StoredReceipt]:
        """Receipt rows (``_RECEIPT_COLUMNS``) with the batch and leaf index of each batched one."""
        wanted = sorted({int(row[6]) for row in rows if row[4] is None})
        found: dict[int, tuple[bytes, int]] = {}
        if wanted:
            cover = (
                "JOIN outbox_batches b ON b.last_seq = (SELECT last_seq FROM outbox_batches "
                "WHERE last_seq >= s.seq ORDER BY last_seq LIMIT 1) WHERE b.first_seq <= s.seq"
            )
            if self.dialect == "postgres":
                batches = await conn.fetch(
                    f"SELECT s.seq, b.batch_id, b.first_seq, b.gaps FROM unnest($1::bigint[]) AS s(seq) {cover}",
                    wanted,
                )
            else:
                batches = await conn.fetch(
                    "SELECT s.seq, b.batch_id, b.first_seq, b.gaps FROM "
                    f"(SELECT value AS seq FROM json_each(?)) AS s {cover}",
                    json.dumps(wanted),
                )
            for seq, batch_id, first_seq, gaps in batches:
                found[int(seq)] = (bytes(batch_id), _leaf_index(int(seq), int(first_seq), bytes(gaps or b"")))
        return [_receipt_row(row, found.get(int(row[6]))) for row in rows]

    async def queued_leaves(self, *, limit: int) -> list[QueuedLeaf]:
        """The oldest receipts not yet in a batch as the batcher needs them: position, id, leaf and
        time stored (no token is read or parsed). On PostgreSQL only positions no insert in flight
        can still fill (read under the intake lock, held for one statement)."""
        bound, args = "", []
        if self.dialect == "postgres":
            async with self._tx() as conn:
                await self._quiesce(conn)
                top = (await conn.fetch("SELECT MAX(seq) FROM outbox_receipts"))[0][0]
            if top is None:
                return []
            bound, args = " AND seq <= ?", [int(top)]
        async with self._conn() as conn:
            rows = await conn.fetch(
                self._q(
                    f"SELECT seq, receipt_id, leaf, stored_at FROM outbox_receipts WHERE seq > {_CURSOR}{bound} "
                    "ORDER BY seq LIMIT ?"
                ),
                *args,
                limit,
            )
        times: dict[int, datetime] = {}  # receipts stored together share their time: convert it once
        out = []
        for seq, receipt_id, leaf, stored_at in rows:
            when = times.get(stored_at)
            if when is None:
                when = times[stored_at] = _dt(int(stored_at)) or _EPOCH
            out.append(QueuedLeaf(int(seq), str(receipt_id), bytes(leaf), when))
        return out

    async def create_batch_of_range(self, batch: Batch, queued: Sequence[QueuedLeaf]) -> None:
        """Record a batch of the queued receipts ``queued`` (consecutive from :meth:`queued_leaves`,
        leaf indexes in their order) as one row: its root and the range of queue positions it covers.
        No receipt row is written.

        :raises ConflictError: if the receipts in that range are no longer exactly these, unbatched
            (another batcher cut some meanwhile); nothing is changed.
        """
        if len(queued) != batch.size:
            raise InvalidInputError("a batch's size must equal its number of receipts")
        seqs = [q.seq for q in queued]
        if any(b <= a for a, b in itertools.pairwise(seqs)):
            raise InvalidInputError("a batch's receipts must be in queue order")
        async with self._tx() as conn:
            await self._quiesce(conn)
            await self._record_range(conn, batch, seqs)

    async def _record_range(self, conn: SqliteConn | PostgresConn, batch: Batch, seqs: Sequence[int]) -> None:
        """Insert ``batch`` covering the queue positions ``seqs`` (ascending), which must be the head of
        the queue and every receipt in their range; the caller holds the intake lock."""
        first, last = seqs[0], seqs[-1]
        head, count = (
            await conn.fetch(
                self._q(
                    f"SELECT (SELECT MIN(seq) FROM outbox_receipts WHERE seq > {_CURSOR}), "
                    "(SELECT COUNT(*) FROM outbox_receipts WHERE seq >= ? AND seq <= ?)"
                ),
                first,
                last,
            )
        )[0]
        if head is None or int(head) != first or int(count) != len(seqs):
            raise ConflictError("the queued receipts changed meanwhile")
        await conn.execute(
            self._q(
                f"INSERT INTO outbox_batches ({_BATCH_COLUMNS}, first_seq, last_seq, gaps) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            batch.batch_id, batch.root, batch.size, batch.state, _ts(batch.created_at), batch.tx_hash,
            batch.block_number, None if batch.final_at is None else _ts(batch.final_at), batch.attempts,
            first, last, _gaps(seqs),
        )

    async def get_receipt(self, receipt_id: str) -> StoredReceipt:
        async with self._conn() as conn:
            rows = await conn.fetch(
                self._q(f"SELECT {_RECEIPT_COLUMNS} FROM outbox_receipts WHERE receipt_id = ?"),
                receipt_id,
            )
            if not rows:
                raise NotFoundError("no such receipt")
            return (await self._stored(conn, rows))[0]

    async def queued_receipts(self, *, limit: int) -> list[StoredReceipt]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                self._q(f"SELECT {_RECEIPT_COLUMNS} FROM outbox_receipts WHERE seq > {_CURSOR} ORDER BY seq LIMIT ?"),
                limit,
            )
        return [_receipt_row(row, None) for row in rows]

    async def count_queued(self) -> int:
        async with self._conn() as conn:
            rows = await conn.fetch(f"SELECT COUNT(*) FROM outbox_receipts WHERE seq > {_CURSOR}")
        return int(rows[0][0])

    async def list_receipts(
        self,
        *,
        pseudonyms: Sequence[str] | None = None,
        service_did: str | None = None,
        purpose: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        after: tuple[datetime, str] | None = None,
    ) -> list[StoredReceipt]:
        if pseudonyms is not None:
            if not pseudonyms:
                return []
            return await self._list_for_pseudonyms(
                pseudonyms, service_did=service_did, purpose=purpose, since=since, until=until, limit=limit,
                after=after,
            )
        where, args = self._filters(service_did=service_did, purpose=purpose, since=since, until=until)
        if after is not None:
            where.append("(accessed_at > ? OR (accessed_at = ? AND receipt_id > ?))")
            args.extend((_ts(after[0]), _ts(after[0]), after[1]))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {_RECEIPT_COLUMNS} FROM outbox_receipts {clause} ORDER BY accessed_at, receipt_id LIMIT ?"
        async with self._conn() as conn:
            rows = await conn.fetch(self._q(sql), *args, limit)
            return await self._stored(conn, rows)

    @staticmethod
    def _filters(
        *, service_did: str | None, purpose: str | None, since: datetime | None, until: datetime | None
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("service_did", service_did), ("purpose", purpose)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("accessed_at >= ?")
            args.append(_ts(since))
        if until is not None:
            where.append("accessed_at < ?")
            args.append(_ts(until))
        return where, args

    async def _list_for_pseudonyms(
        self,
        pseudonyms: Sequence[str],
        *,
        service_did: str | None,
        purpose: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[StoredReceipt]:
        # One index range per pseudonym on (pseudonym, accessed_at, receipt_id), each cut at
        # ``limit``, merged: a page costs the same however long the resident's history is.
        filters, filter_args = self._filters(service_did=service_did, purpose=purpose, since=since, until=until)
        parts: list[str] = []
        args: list[Any] = []
        for pseudonym in dict.fromkeys(pseudonyms):
            where = ["pseudonym = ?", *filters]
            args.extend((pseudonym, *filter_args))
            if after is not None:
                where.append("(accessed_at, receipt_id) > (?, ?)")
                args.extend((_ts(after[0]), after[1]))
            parts.append(
                f"SELECT * FROM (SELECT {_RECEIPT_COLUMNS}, accessed_at AS k1, receipt_id AS k2 FROM outbox_receipts "
                f"WHERE {' AND '.join(where)} ORDER BY accessed_at, receipt_id LIMIT ?) AS p{len(parts)}"
            )
            args.append(limit)
        sql = f"SELECT {_RECEIPT_COLUMNS} FROM ({' UNION ALL '.join(parts)}) AS page ORDER BY k1, k2 LIMIT ?"
        async with self._conn() as conn:
            rows = await conn.fetch(self._q(sql), *args, limit)
            return await self._stored(conn, rows)

    async def iter_receipts(
        self, *, since: datetime | None = None, until: datetime | None = None, page_size: int = 1000
    ) -> AsyncIterator[StoredReceipt]:
        if page_size <= 0:
            raise InvalidInputError("page_size must be positive")
        after: tuple[datetime, str] | None = None
        while True:
            page = await self.list_receipts(since=since, until=until, limit=page_size, after=after)
            for stored in page:
                yield stored
            if len(page) < page_size:
                return
            last = page[-1].receipt
            after = (last.accessed_at, last.receipt_id)

    # -- batches ----------------------------------------------------------------------------------

    async def create_batch(self, batch: Batch, receipt_ids: Sequence[str]) -> None:
        if len(receipt_ids) != batch.size:
            raise InvalidInputError("a batch's size must equal its number of receipts")
        async with self._tx() as conn:
            await self._quiesce(conn)
            rows = await conn.fetch(
                self._q(f"SELECT seq, receipt_id FROM outbox_receipts WHERE seq > {_CURSOR} ORDER BY seq LIMIT ?"),
                len(receipt_ids),
            )
            if [str(r[1]) for r in rows] != list(receipt_ids):
                raise ConflictError("a receipt is missing, already in a batch, or not next in the queue")
            await self._record_range(conn, batch, [int(r[0]) for r in rows])

    async def open_batches(self) -> list[Batch]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {_BATCH_COLUMNS} FROM outbox_batches WHERE state <> 'final' ORDER BY created_at, batch_id"
            )
        return [_batch_row(row) for row in rows]

    async def recent_batches(self, *, limit: int) -> list[Batch]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                self._q(
                    f"SELECT {_BATCH_COLUMNS} FROM outbox_batches ORDER BY created_at DESC, batch_id DESC LIMIT ?"
                ),
                limit,
            )
        return [_batch_row(row) for row in rows]

    async def get_batch(self, batch_id: bytes) -> Batch:
        async with self._conn() as conn:
            rows = await conn.fetch(
                self._q(f"SELECT {_BATCH_COLUMNS} FROM outbox_batches WHERE batch_id = ?"),
                batch_id,
            )
        if not rows:
            raise NotFoundError("no such batch")
        return _batch_row(rows[0])

    async def update_batch(
        self,
        batch_id: bytes,
        *,
        state: BatchState,
        tx_hash: str | None,
        block_number: int | None,
        final_at: datetime | None = None,
        sent: bool = False,
    ) -> None:
        async with self._conn() as conn:
            changed = await conn.execute(
                self._q(
                    "UPDATE outbox_batches SET state = ?, tx_hash = ?, block_number = ?, final_at = ?, "
                    "attempts = attempts + ? WHERE batch_id = ?"
                ),
                state,
                tx_hash,
                block_number,
                None if final_at is None else _ts(final_at),
                1 if sent else 0,
                batch_id,
            )
        if changed != 1:
            raise NotFoundError("no such batch")

    async def batch_leaves(self, batch_id: bytes) -> list[bytes]:
        async with self._conn() as conn:
            found = await conn.fetch(
                self._q("SELECT first_seq, last_seq FROM outbox_batches WHERE batch_id = ?"), batch_id
            )
            if not found:
                return []
            first_seq, last_seq = found[0]
            if first_seq is None:  # cut before batches were ranges: the receipts name their batch
                rows = await conn.fetch(
                    self._q("SELECT leaf FROM outbox_receipts WHERE batch_id = ? ORDER BY leaf_index"), batch_id
                )
            else:
                rows = await conn.fetch(
                    self._q("SELECT leaf FROM outbox_receipts WHERE seq >= ? AND seq <= ? ORDER BY seq"),
                    int(first_seq),
                    int(last_seq),
                )
        return [bytes(row[0]) for row in rows]

    # -- consents ---------------------------------------------------------------------------------

    async def put_consent(self, consent: ConsentRecord) -> None:
        body = consent.to_bytes().decode("utf-8")
        async with self._tx() as conn:
            # Insert first: a new consent (the usual case) costs one statement; a stored one is read
            # and may only be withdrawn.
            inserted = await conn.execute(
                self._q(
                    "INSERT INTO outbox_consents (record_id, pseudonym, service_did, body) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (record_id) DO NOTHING"
                ),
                consent.record_id,
                consent.resident_pseudonym,
                consent.controller.did,
                body,
            )
            if inserted:
                return
            rows = await conn.fetch(
                self._q("SELECT body FROM outbox_consents WHERE record_id = ?"), consent.record_id
            )
            stored = ConsentRecord.from_json(str(rows[0][0]))
            if stored == consent:
                return
            if (
                stored.state != "given"
                or consent.state != "withdrawn"
                or stored.withdraw(now=consent.withdrawn_at or stored.given_at) != consent
            ):
                raise ConflictError("a stored consent can only be withdrawn, not changed")
            await conn.execute(
                self._q("UPDATE outbox_consents SET body = ? WHERE record_id = ?"), body, consent.record_id
            )

    async def get_consent(self, record_id: str) -> ConsentRecord:
        async with self._conn() as conn:
            rows = await conn.fetch(
                self._q("SELECT body FROM outbox_consents WHERE record_id = ?"), record_id
            )
        if not rows:
            raise NotFoundError("no such consent")
        return _consent(str(rows[0][0]))


@functools.lru_cache(maxsize=1024)
def _consent(body: str) -> ConsentRecord:
    """The consent record a stored body holds, kept parsed by its text for the last 1,024 bodies
    read: a record is an immutable value of its text, and receipts keep naming the consents of
    recent presentations, so intake reads the same bodies again (about 30 us to parse one). The
    body is still read from the store each time; a withdrawn record is new text.

    :raises InvalidInputError: if the body is not a consent record (never kept).
    """
    return ConsentRecord.from_json(body)


def _gaps(seqs: Sequence[int]) -> bytes:
    """The positions missing between ascending ``seqs`` as runs: (start, length) as two 8-byte
    big-endian integers each; empty when the positions are consecutive (the usual case)."""
    if seqs[-1] - seqs[0] + 1 == len(seqs):
        return b""
    out = bytearray()
    for a, b in itertools.pairwise(seqs):
        if b - a > 1:
            out += (a + 1).to_bytes(8, "big") + (b - a - 1).to_bytes(8, "big")
    return bytes(out)


def _leaf_index(seq: int, first_seq: int, gaps: bytes) -> int:
    """The leaf index of the receipt at ``seq`` in a batch starting at ``first_seq`` with ``gaps``."""
    index = seq - first_seq
    for at in range(0, len(gaps), 16):
        start = int.from_bytes(gaps[at : at + 8], "big")
        if start >= seq:
            break
        index -= int.from_bytes(gaps[at + 8 : at + 16], "big")
    return index


def _receipt_row(row: Sequence[Any], batched: tuple[bytes, int] | None) -> StoredReceipt:
    token, salt, leaf, stored_at, batch_id, leaf_index, _seq = row
    if batch_id is None and batched is not None:
        batch_id, leaf_index = batched
    try:
        receipt = peek_access_receipt(str(token))
    except InvalidInputError as exc:  # pragma: no cover - only verified receipts are stored
        raise StorageError("a stored receipt cannot be read back") from exc
    return StoredReceipt(
        receipt=receipt,
        salt=bytes(salt),
        leaf=bytes(leaf),
        stored_at=_dt(stored_at) or datetime.fromtimestamp(0, tz=UTC),
        batch_id=None if batch_id is None else bytes(batch_id),
        leaf_index=leaf_index,
    )


def _batch_row(row: Sequence[Any]) -> Batch:
    batch_id, root, size, state, created_at, tx_hash, block_number, final_at, attempts = row
    return Batch(
        batch_id=bytes(batch_id),
        root=bytes(root),
        size=int(size),
        state=state,
        created_at=_dt(created_at) or datetime.fromtimestamp(0, tz=UTC),
        tx_hash=tx_hash,
        block_number=None if block_number is None else int(block_number),
        final_at=_dt(final_at),
        attempts=int(attempts),
    )
