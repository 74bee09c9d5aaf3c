"""The services the city registers (relying-party registrations) and its open-data releases.

A registration is the city's signed statement of what a service may ask and why
(:mod:`vcsdk.registration`): the service attaches it to its OpenID4VP requests, wallets check
requests against it, and the monthly open-data release counts accesses in its claim sets.

An open-data release counts one month's access receipts in the public cells of the services
registered that month (:class:`vcsdk.receipts.CellDomain`), charges its epsilon to the month's
budget, adds OpenDP's noise and suppresses cells under k (at least 10). The stored releases are the
budget ledger: a month's releases are numbered, and the database keeps each number once, so two
exports racing for the last of a month's budget cannot both spend it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from vcsdk.errors import ConflictError, InvalidInputError
from vcsdk.outbox import ReceiptStore
from vcsdk.receipts import AccessCounter, CellDomain, PrivacyLedger, PrivacyParameters
from vcsdk.registration import (
    ClaimSet,
    Purpose,
    RelyingPartyRegistration,
    issue_registration,
    peek_registration,
)
from wallet_server.services._common import Clock, new_id, require_id
from wallet_server.services._cursor import decode_cursor, encode_cursor
from wallet_server.services.admin import Administrator
from wallet_server.storage import CityDataStore, Page, ReleaseRow, ServiceRegistrationRow

if TYPE_CHECKING:
    from wallet_server.services.city import CitySetup
    from wallet_server.services.status_lists import StatusListService

__all__ = ["OpenDataService", "RegisteredService", "RegistrationService", "Release"]

MAX_PAGE = 100
_RACE_RETRIES = 5


@dataclass(frozen=True, slots=True)
class RegisteredService:
    """A stored registration and what it says."""

    row: ServiceRegistrationRow
    registration: RelyingPartyRegistration


class RegistrationService:
    """Registers services: the city signs a :class:`RelyingPartyRegistration` with its P-256 key.

    :param data: the city's records.
    :param city: the city's DID and keys (set up on first use).
    :param clock: returns the current UTC time.
    :param validity: how long a registration lasts unless the request says otherwise.
    """

    def __init__(self, data: CityDataStore, *, city: CitySetup, clock: Clock, status_lists: StatusListService,
                 validity: timedelta = timedelta(days=365), public_base_url: str | None = None) -> None:
        self._data = data
        self._city = city
        self._clock = clock
        self._status_lists = status_lists
        self._validity = validity
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None

    async def register(self, admin: Administrator, body: Mapping[str, Any], *, origin: str) -> RegisteredService:
        """Sign and keep a registration for the service ``body`` describes, with an entry in the
        city's status lists so that it can be withdrawn before it expires (:meth:`withdraw`).

        :param origin: ``scheme://host`` of the request (where the status list is served, without
            ``public_base_url``).
        :raises InvalidInputError: a malformed DID, purpose, claim set, URL or jurisdiction.
        """
        city = await self._city.get()
        allocation = await self._status_lists.allocate(base_url=self._public_base_url or origin.rstrip("/"))
        now = self._clock()
        days = body.get("valid_days")
        registration = RelyingPartyRegistration(
            issuer=city.did,
            service_did=body["service_did"],
            registration_id=new_id("reg"),
            name=body["name"],
            purposes=tuple(Purpose(id=p["id"], description=p["description"]) for p in body["purposes"]),
            claim_sets=tuple(
                ClaimSet(id=c["id"], vct=c["vct"], paths=tuple(tuple(p) for p in c["paths"]))
                for c in body["claim_sets"]
            ),
            retention_days=body["retention_days"],
            receipt_endpoint=body["receipt_endpoint"],
            privacy_policy=body["privacy_policy"],
            jurisdiction=body.get("jurisdiction", "JP"),
            recipients=tuple(body.get("recipients", ())),
            issued_at=now,
            expires_at=now + (timedelta(days=days) if isinstance(days, int) else self._validity),
            status=allocation.claim,
        )
        token = issue_registration(city.signing_key, registration)
        row = ServiceRegistrationRow(
            id=registration.registration_id,
            service_did=registration.service_did,
            name=registration.name,
            token=token,
            created_by=admin.name,
            created_at=registration.issued_at,
            expires_at=registration.expires_at,
            status_list_id=allocation.list_id,
            status_index=allocation.index,
        )
        await self._data.add_registration(row)
        return RegisteredService(row, registration)

    async def withdraw(self, admin: Administrator, registration_id: str) -> RegisteredService:
        """Withdraw a registration before it expires: its status entry is revoked and the list
        published, so wallets refuse the service's requests from their next check of the list (within
        the list's cache lifetime). Final; withdrawing again changes nothing.

        :raises NotFoundError: no such registration.
        :raises ConflictError: a registration signed without a status entry (it can only expire).
        """
        row = await self._data.get_registration(require_id(registration_id, "service registration"))
        if row.status_list_id is None or row.status_index is None:
            raise ConflictError("this registration was signed without a status entry; it can only expire")
        await self._data.mark_registration_withdrawn(row.id, by=admin.name, now=self._clock())
        # Marked first: a failure from here on is mended by withdrawing again (revoking is idempotent).
        await self._status_lists.revoke_entry(row.status_list_id, row.status_index)
        row = await self._data.get_registration(row.id)
        return RegisteredService(row, peek_registration(row.token))

    async def list(self, *, limit: int, cursor: str | None) -> tuple[tuple[RegisteredService, ...], str | None]:
        """The registrations, oldest first, a page at a time."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        page: Page[ServiceRegistrationRow] = await self._data.list_registrations(
            limit=limit, after=decode_cursor(cursor)
        )
        items = tuple(RegisteredService(r, peek_registration(r.token)) for r in page.items)
        return items, encode_cursor(page.next_after) if page.next_after else None


@dataclass(frozen=True, slots=True)
class Release:
    """One open-data release as stored, and its published body (``AccessStatistics.to_json``)."""

    row: ReleaseRow

    @property
    def body(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.row.body)
        return value


class OpenDataService:
    """Monthly open-data releases of access statistics, with differential privacy.

    :param data: the city's records (registrations; releases, which are the budget ledger).
    :param receipts: the receipt outbox store the month's receipts stream from.
    :param clock: returns the current UTC time.
    :param budget_per_period: the epsilon a month may spend in all (the ledger refuses more).
    """

    def __init__(self, data: CityDataStore, *, receipts: ReceiptStore, clock: Clock, budget_per_period: float) -> None:
        self._data = data
        self._receipts = receipts
        self._clock = clock
        self._budget = budget_per_period

    async def _domain(self, period: str) -> CellDomain:
        """The month's public cells: every service registered at some time during the month."""
        signed = [peek_registration(r.token) for r in await self._data.registrations_until(self._clock())]
        if not signed:
            raise InvalidInputError("no service is registered: an export needs the registered cells")
        start, end = CellDomain.from_registrations(signed, period=period).bounds  # checks the period
        in_force = [r for r in signed if r.issued_at < end and r.expires_at > start]
        if not in_force:
            raise InvalidInputError(f"no service was registered during {period}")
        return CellDomain.from_registrations(in_force, period=period)

    def _ledger(self, releases: tuple[ReleaseRow, ...]) -> PrivacyLedger:
        ledger = PrivacyLedger(budget_per_period=self._budget)
        for r in releases:
            ledger.charge(r.period, r.epsilon, release_id=r.id, now=r.created_at)
        return ledger

    async def export(self, admin: Administrator, *, period: str, epsilon: float, k_threshold: int) -> Release:
        """Count, charge the month's budget, add noise, suppress small cells, and keep the release.

        :raises InvalidInputError: a malformed period, epsilon or k (below 10), or no registered service.
        :raises PrivacyBudgetExceededError: the month's budget cannot pay ``epsilon``; nothing is kept.
        """
        parameters = PrivacyParameters(epsilon=epsilon, k_threshold=k_threshold)
        domain = await self._domain(period)
        since, until = domain.bounds
        counter = AccessCounter(domain, parameters)
        async for stored in self._receipts.iter_receipts(since=since, until=until):
            counter.add(stored.receipt)
        for _ in range(_RACE_RETRIES):
            month = await self._data.releases(period=period)
            seq = len(month) + 1
            release_id = f"access-{period}-{seq}"
            now = self._clock()
            # Charges this month's ledger before any noise is drawn; refuses past the budget.
            statistics = counter.statistics(ledger=self._ledger(month), release_id=release_id, now=now)
            row = ReleaseRow(
                id=release_id, period=period, seq=seq, epsilon=str(epsilon), k_threshold=k_threshold,
                created_by=admin.name, created_at=now, body=statistics.to_json_text(),
            )
            try:
                await self._data.add_release(row)
            except ConflictError:
                continue  # another export took this place in the month first: read the ledger again
            return Release(row)
        raise ConflictError("other exports for this month keep arriving; try again")

    async def releases(self) -> tuple[Release, ...]:
        """Every release, in ledger order (month, then number)."""
        return tuple(Release(r) for r in await self._data.releases())

    async def ledger(self) -> dict[str, Any]:
        """The budget ledger as JSON (``PrivacyLedger.to_json``), to publish beside the releases."""
        return dict(self._ledger(await self._data.releases()).to_json())
