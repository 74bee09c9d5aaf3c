"""The city's own records beside the back office: the services it registered and its open-data
releases (which double as the privacy budget ledger).

:class:`CityDataStore` runs its queries on the connections of a :class:`SqlStore` (SQLite or
PostgreSQL), like :class:`~wallet_server.storage.WalletDataStore`.
"""
# ruff: noqa: S608 -- the only interpolated text is the constant column lists below; values are bound.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vcsdk.errors import NotFoundError
from wallet_server.storage._models import Page
from wallet_server.storage._paging import keyset_query, page_of, to_ts
from wallet_server.storage._protocol import Cursor
from wallet_server.storage._tables import StoreTables

__all__ = ["CityDataStore", "ReleaseRow", "ServiceRegistrationRow"]


def _dt(value: int) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


@dataclass(frozen=True, slots=True)
class ServiceRegistrationRow:
    """A registration the city signed; ``token`` is the compact JWS the service attaches."""

    id: str
    service_did: str
    name: str
    token: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    #: The registration's entry in the city's status lists (``None`` for one signed without).
    status_list_id: int | None = None
    status_index: int | None = None
    #: When and by whom the city withdrew it (``None`` while it stands).
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    """One open-data release: its month, its place in that month's ledger, and the published body."""

    id: str
    period: str
    seq: int
    epsilon: str
    k_threshold: int
    created_by: str
    created_at: datetime
    body: str


_REGISTRATION_COLS = (
    "id, service_did, name, token, created_by, created_at, expires_at, status_list_id, status_index, withdrawn_at, "
    "withdrawn_by"
)
_RELEASE_COLS = "id, period, seq, epsilon, k_threshold, created_by, created_at, body"


def _registration(row: Sequence[Any]) -> ServiceRegistrationRow:
    return ServiceRegistrationRow(
        row[0], row[1], row[2], row[3], row[4], _dt(row[5]), _dt(row[6]),
        None if row[7] is None else int(row[7]), None if row[8] is None else int(row[8]),
        None if row[9] is None else _dt(row[9]), row[10],
    )  # fmt: skip


def _release(row: Sequence[Any]) -> ReleaseRow:
    return ReleaseRow(row[0], row[1], int(row[2]), row[3], int(row[4]), row[5], _dt(row[6]), row[7])


class CityDataStore(StoreTables):
    """Queries for the city's registrations and open-data releases, on the connections of ``store``."""

    what = "the city's records"

    # -- registrations -------------------------------------------------------------------------

    async def add_registration(self, row: ServiceRegistrationRow) -> None:
        """:raises ConflictError: if the id exists."""
        await self._execute(
            f"INSERT INTO service_registrations ({_REGISTRATION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row.id, row.service_did, row.name, row.token, row.created_by, to_ts(row.created_at),
            to_ts(row.expires_at), row.status_list_id, row.status_index,
            None if row.withdrawn_at is None else to_ts(row.withdrawn_at), row.withdrawn_by,
        )  # fmt: skip

    async def mark_registration_withdrawn(self, registration_id: str, *, by: str, now: datetime) -> None:
        """Record the withdrawal once (a second one keeps the first's time and name).

        :raises NotFoundError: if there is none with this id.
        """
        changed = await self._execute(
            "UPDATE service_registrations SET withdrawn_at = ?, withdrawn_by = ? WHERE id = ? AND withdrawn_at IS NULL",
            to_ts(now), by, registration_id,
        )
        if not changed:
            await self.get_registration(registration_id)  # raises NotFoundError if there is none

    async def get_registration(self, registration_id: str) -> ServiceRegistrationRow:
        """:raises NotFoundError: if there is none with this id."""
        rows = await self._fetch(
            f"SELECT {_REGISTRATION_COLS} FROM service_registrations WHERE id = ?", registration_id
        )
        if not rows:
            raise NotFoundError("no such service registration")
        return _registration(rows[0])

    async def list_registrations(self, *, limit: int, after: Cursor | None = None) -> Page[ServiceRegistrationRow]:
        """Every registration, oldest first."""
        sql, args = keyset_query(f"SELECT {_REGISTRATION_COLS} FROM service_registrations", after=after, limit=limit)
        return page_of([_registration(r) for r in await self._fetch(sql, *args)], limit)

    async def registrations_until(self, end: datetime) -> tuple[ServiceRegistrationRow, ...]:
        """Every registration signed at or before ``end`` (expired ones too), oldest first."""
        rows = await self._fetch(
            f"SELECT {_REGISTRATION_COLS} FROM service_registrations WHERE created_at <= ? ORDER BY created_at, id",
            to_ts(end),
        )
        return tuple(_registration(r) for r in rows)

    # -- OpenID Connect clients (a registered service's OAuth settings) ---------------------------

    async def add_sso_client(
        self, client_id: str, *, registration_id: str, body: str, created_by: str, created_at: datetime
    ) -> None:
        """:raises ConflictError: if the client id exists."""
        await self._execute(
            "INSERT INTO sso_clients (id, registration_id, body, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
            client_id, registration_id, body, created_by, to_ts(created_at),
        )

    async def get_sso_client(self, client_id: str) -> str | None:
        """The stored client (its JSON), or ``None``."""
        rows = await self._fetch("SELECT body FROM sso_clients WHERE id = ?", client_id)
        return str(rows[0][0]) if rows else None

    async def issued_by_status(self, list_id: int, index: int) -> tuple[str, str, str] | None:
        """The credential the city issued with this status list entry: ``(id, resident_id, state)``."""
        rows = await self._fetch(
            "SELECT id, resident_id, state FROM issued_credentials WHERE status_list_id = ? AND status_index = ?",
            list_id, index,
        )
        return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None

    # -- open-data releases (the privacy budget ledger) -----------------------------------------

    async def releases(self, *, period: str | None = None) -> tuple[ReleaseRow, ...]:
        """Every release (or a month's), in ledger order."""
        if period is None:
            rows = await self._fetch(f"SELECT {_RELEASE_COLS} FROM open_data_releases ORDER BY period, seq")
        else:
            rows = await self._fetch(
                f"SELECT {_RELEASE_COLS} FROM open_data_releases WHERE period = ? ORDER BY seq", period
            )
        return tuple(_release(r) for r in rows)

    async def add_release(self, row: ReleaseRow) -> None:
        """Append a release to its month.

        :raises ConflictError: if the id exists, or another release took ``seq`` in that month first
            (re-read the month's releases: its budget may be spent).
        """
        await self._execute(
            f"INSERT INTO open_data_releases ({_RELEASE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row.id, row.period, row.seq, row.epsilon, row.k_threshold, row.created_by, to_ts(row.created_at),
            row.body,
        )
