"""The city back office's queries: OpenID4VCI protocol state, offers, status lists, issued credentials.

A mixin of :class:`~wallet_server.storage._sql.SqlStore`, so both drivers run the same SQL. Status
list rows are changed only inside a transaction that holds the row (``FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), so two server instances never hand out the same index or lose an
update.
"""
# ruff: noqa: S608 -- the only interpolated text is the constant column lists below; values are bound.

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from vcsdk.errors import ConflictError, NotFoundError
from vcsdk.sql import MigratedSql
from wallet_server.storage._models import (
    CredentialState,
    IssuedCredential,
    Offer,
    OfferState,
    Page,
    StatusListRecord,
)
from wallet_server.storage._paging import keyset_query, page_of, to_ts

__all__ = ["BackOfficeQueries", "StatusListMutation"]

Row = Sequence[Any]
R = TypeVar("R")
#: Changes a status list inside the row lock: gets the stored record, returns the new one and a result.
StatusListMutation = Callable[[StatusListRecord], tuple[StatusListRecord, R]]


class _Conn(Protocol):
    async def execute(self, sql: str, *args: Any) -> int: ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...


def _dt(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _at(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


_OFFER_COLS = (
    "id, resident_id, configuration_id, offer_uri, offer_json, created_by, created_at, expires_at, state, "
    "updated_at, flow, credential_id"
)
_ISSUED_COLS = (
    "id, offer_id, resident_id, configuration_id, vct, status_list_id, status_index, issued_at, expires_at, "
    "state, updated_at"
)
_LIST_COLS = (
    "id, uri, state, size, allocated, version, created_at, token, published_at, published_version, "
    "anchored_digest, anchored_version"
)


def _offer(row: Row) -> Offer:
    return Offer(
        row[0], row[1], row[2], row[3], row[4], row[5], _at(row[6]), _at(row[7]), row[8], _at(row[9]),
        None if row[10] is None else bytes(row[10]), row[11],
    )


def _issued(row: Row) -> IssuedCredential:
    return IssuedCredential(
        row[0], row[1], row[2], row[3], row[4], int(row[5]), int(row[6]), _at(row[7]), _dt(row[8]), row[9], _at(row[10])
    )


def _status_list(row: Row) -> StatusListRecord:
    return StatusListRecord(
        id=int(row[0]),
        uri=row[1],
        state=json.loads(row[2]),
        size=int(row[3]),
        allocated=int(row[4]),
        version=int(row[5]),
        created_at=_at(row[6]),
        token=row[7],
        published_at=_dt(row[8]),
        published_version=None if row[9] is None else int(row[9]),
        anchored_digest=row[10],
        anchored_version=None if row[11] is None else int(row[11]),
    )


class BackOfficeQueries(MigratedSql):
    """Queries of :class:`~wallet_server.storage.BackOfficeStore`; the driver supplies the connection."""

    @property
    def _for_update(self) -> str:
        # SQLite's BEGIN IMMEDIATE already holds the database's write lock for the transaction.
        return " FOR UPDATE" if self.dialect == "postgres" else ""

    # -- OpenID4VCI protocol state -----------------------------------------------------------

    async def put_state(
        self, namespace: str, key_hash: str, *, wrap_key_id: str, sealed: bytes, expires_at: datetime
    ) -> None:
        """:raises ConflictError: if the key exists."""
        await self._execute(
            "INSERT INTO protocol_state (namespace, key_hash, wrap_key_id, sealed, counter, expires_at) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            namespace,
            key_hash,
            wrap_key_id,
            sealed,
            to_ts(expires_at),
        )

    async def get_state(self, namespace: str, key_hash: str, *, now: datetime) -> tuple[str, bytes] | None:
        rows = await self._fetch(
            "SELECT wrap_key_id, sealed FROM protocol_state WHERE namespace = ? AND key_hash = ? AND expires_at > ?",
            namespace,
            key_hash,
            to_ts(now),
        )
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    async def take_state(self, namespace: str, key_hash: str, *, now: datetime) -> tuple[str, bytes] | None:
        # One DELETE … RETURNING: of two racing requests exactly one gets the row.
        rows = await self._fetch(
            "DELETE FROM protocol_state WHERE namespace = ? AND key_hash = ? RETURNING wrap_key_id, sealed, expires_at",
            namespace,
            key_hash,
        )
        if not rows or int(rows[0][2]) <= to_ts(now):
            return None
        return rows[0][0], bytes(rows[0][1])

    async def incr_state(self, namespace: str, key_hash: str, *, expires_at: datetime, now: datetime) -> int:
        async with self._tx() as conn:
            await conn.execute(
                "DELETE FROM protocol_state WHERE namespace = ? AND key_hash = ? AND expires_at <= ?",
                namespace,
                key_hash,
                to_ts(now),
            )
            rows = await conn.fetch(
                "INSERT INTO protocol_state (namespace, key_hash, wrap_key_id, sealed, counter, expires_at) "
                "VALUES (?, ?, '', ?, 1, ?) ON CONFLICT (namespace, key_hash) "
                "DO UPDATE SET counter = protocol_state.counter + 1 RETURNING counter",
                namespace,
                key_hash,
                b"",
                to_ts(expires_at),
            )
        return int(rows[0][0])

    async def purge_state(self, *, now: datetime) -> int:
        """Drop expired protocol state; returns how many rows went."""
        return await self._execute("DELETE FROM protocol_state WHERE expires_at <= ?", to_ts(now))

    # -- offers ------------------------------------------------------------------------------

    async def add_offer(self, offer: Offer) -> None:
        await self._execute(
            f"INSERT INTO offers ({_OFFER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            offer.id,
            offer.resident_id,
            offer.configuration_id,
            offer.offer_uri,
            offer.offer_json,
            offer.created_by,
            to_ts(offer.created_at),
            to_ts(offer.expires_at),
            offer.state,
            to_ts(offer.updated_at),
            offer.flow,
            offer.credential_id,
        )

    async def get_offer(self, offer_id: str, *, resident_id: str | None = None) -> Offer:
        if resident_id is None:
            rows = await self._fetch(f"SELECT {_OFFER_COLS} FROM offers WHERE id = ?", offer_id)
        else:
            rows = await self._fetch(
                f"SELECT {_OFFER_COLS} FROM offers WHERE id = ? AND resident_id = ?", offer_id, resident_id
            )
        if not rows:
            raise NotFoundError("no such offer")
        return _offer(rows[0])

    async def list_offers(
        self, resident_id: str, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> Page[Offer]:
        sql, args = keyset_query(
            f"SELECT {_OFFER_COLS} FROM offers", where="resident_id = ?", args=[resident_id], after=after, limit=limit
        )
        return page_of([_offer(r) for r in await self._fetch(sql, *args)], limit)

    async def set_offer_state(
        self,
        offer_id: str,
        state: OfferState,
        *,
        now: datetime,
        expected: OfferState | Sequence[OfferState] = "pending",
        resident_id: str | None = None,
        flow: bytes | None = None,
        credential_id: str | None = None,
    ) -> bool:
        """Move an offer from ``expected`` (one state or several) to ``state``, writing ``flow`` and
        ``credential_id`` as given (``None`` clears them); ``False`` if it was not in ``expected``
        (or is not the resident's, with ``resident_id``)."""
        states = [expected] if isinstance(expected, str) else list(expected)
        where = f"id = ? AND state IN ({', '.join('?' for _ in states)})"
        args: list[Any] = [offer_id, *states]
        if resident_id is not None:
            where += " AND resident_id = ?"
            args.append(resident_id)
        changed = await self._execute(
            f"UPDATE offers SET state = ?, flow = ?, credential_id = ?, updated_at = ? WHERE {where}",
            state,
            flow,
            credential_id,
            to_ts(now),
            *args,
        )
        return changed == 1

    # -- status lists ------------------------------------------------------------------------

    async def create_status_list(self, record: StatusListRecord) -> None:
        """:raises ConflictError: if a list with this id or URI exists (another instance made it)."""
        await self._execute(
            f"INSERT INTO status_lists ({_LIST_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            *self._list_values(record),
        )

    @staticmethod
    def _list_values(record: StatusListRecord) -> tuple[Any, ...]:
        return (
            record.id,
            record.uri,
            json.dumps(record.state, separators=(",", ":")),
            record.size,
            record.allocated,
            record.version,
            to_ts(record.created_at),
            record.token,
            None if record.published_at is None else to_ts(record.published_at),
            record.published_version,
            record.anchored_digest,
            record.anchored_version,
        )

    async def get_status_list(self, list_id: int) -> StatusListRecord:
        rows = await self._fetch(f"SELECT {_LIST_COLS} FROM status_lists WHERE id = ?", list_id)
        if not rows:
            raise NotFoundError("no such status list")
        return _status_list(rows[0])

    async def list_status_lists(self) -> tuple[StatusListRecord, ...]:
        rows = await self._fetch(f"SELECT {_LIST_COLS} FROM status_lists ORDER BY id")
        return tuple(_status_list(r) for r in rows)

    async def published_status_list(self, list_id: int) -> tuple[str, datetime] | None:
        """The last published token of a list and when it was published, if any."""
        rows = await self._fetch(
            "SELECT token, published_at FROM status_lists WHERE id = ? AND token IS NOT NULL", list_id
        )
        return (rows[0][0], _at(rows[0][1])) if rows else None

    async def update_status_list(self, list_id: int, mutate: StatusListMutation[R]) -> R:
        """Change one list under its row lock.

        :raises NotFoundError: if there is no such list.
        :return: what ``mutate`` returned next to the new record.
        """
        async with self._tx() as conn:
            rows = await conn.fetch(f"SELECT {_LIST_COLS} FROM status_lists WHERE id = ?{self._for_update}", list_id)
            if not rows:
                raise NotFoundError("no such status list")
            record, result = mutate(_status_list(rows[0]))
            await self._write_list(conn, record)
        return result

    async def _write_list(self, conn: _Conn, record: StatusListRecord) -> None:
        values = self._list_values(record)
        await conn.execute(
            "UPDATE status_lists SET uri = ?, state = ?, size = ?, allocated = ?, version = ?, created_at = ?, "
            "token = ?, published_at = ?, published_version = ?, anchored_digest = ?, anchored_version = ? "
            "WHERE id = ?",
            *values[1:],
            values[0],
        )

    # -- issued credentials ------------------------------------------------------------------

    async def add_issued_credential(self, credential: IssuedCredential) -> None:
        await self._execute(
            f"INSERT INTO issued_credentials ({_ISSUED_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            credential.id,
            credential.offer_id,
            credential.resident_id,
            credential.configuration_id,
            credential.vct,
            credential.status_list_id,
            credential.status_index,
            to_ts(credential.issued_at),
            None if credential.expires_at is None else to_ts(credential.expires_at),
            credential.state,
            to_ts(credential.updated_at),
        )

    async def get_issued_credential(self, credential_id: str) -> IssuedCredential:
        rows = await self._fetch(f"SELECT {_ISSUED_COLS} FROM issued_credentials WHERE id = ?", credential_id)
        if not rows:
            raise NotFoundError("no such issued credential")
        return _issued(rows[0])

    async def issued_credentials_of_offer(self, offer_id: str) -> tuple[IssuedCredential, ...]:
        rows = await self._fetch(
            f"SELECT {_ISSUED_COLS} FROM issued_credentials WHERE offer_id = ? ORDER BY issued_at, id", offer_id
        )
        return tuple(_issued(r) for r in rows)

    async def list_issued_credentials(
        self, *, limit: int, after: tuple[datetime, str] | None = None, resident_id: str | None = None
    ) -> Page[IssuedCredential]:
        sql, args = keyset_query(
            f"SELECT {_ISSUED_COLS} FROM issued_credentials", where=None if resident_id is None else "resident_id = ?",
            args=[] if resident_id is None else [resident_id], after=after, limit=limit, order=("issued_at", "id"),
        )
        return page_of([_issued(r) for r in await self._fetch(sql, *args)], limit, order=("issued_at", "id"))

    async def set_credentials_state(
        self,
        credential_ids: Sequence[str],
        state: CredentialState,
        *,
        now: datetime,
        mutate: Callable[[StatusListRecord, list[int]], StatusListRecord],
    ) -> tuple[IssuedCredential, ...]:
        """Change the state of credentials and their status-list entries in one transaction.

        :param mutate: applies the change to one list's record for the given indices (under its lock).
        :raises NotFoundError: if a credential is unknown.
        :return: the credentials as they are now.
        """
        if not credential_ids:
            return ()
        async with self._tx() as conn:
            found: list[IssuedCredential] = []
            for credential_id in credential_ids:
                rows = await conn.fetch(f"SELECT {_ISSUED_COLS} FROM issued_credentials WHERE id = ?", credential_id)
                if not rows:
                    raise NotFoundError("no such issued credential")
                found.append(_issued(rows[0]))
            by_list: dict[int, list[int]] = {}
            for credential in found:
                by_list.setdefault(credential.status_list_id, []).append(credential.status_index)
            for list_id in sorted(by_list):  # a fixed lock order: no deadlock between instances
                rows = await conn.fetch(
                    f"SELECT {_LIST_COLS} FROM status_lists WHERE id = ?{self._for_update}", list_id
                )
                if not rows:
                    raise ConflictError("a credential's status list is missing")
                await self._write_list(conn, mutate(_status_list(rows[0]), by_list[list_id]))
            for credential in found:
                await conn.execute(
                    "UPDATE issued_credentials SET state = ?, updated_at = ? WHERE id = ?",
                    state,
                    to_ts(now),
                    credential.id,
                )
        return tuple(
            IssuedCredential(
                c.id, c.offer_id, c.resident_id, c.configuration_id, c.vct, c.status_list_id, c.status_index,
                c.issued_at, c.expires_at, state, now,
            )
            for c in found
        )
