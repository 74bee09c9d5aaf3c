"""Open data: access statistics with differential privacy (OpenDP), per-period budgets, suppression.

One release covers one calendar month (the *period*). Its cells are decided before any receipt is
read: every registered service x each of its registered claim sets, for that month
(:class:`CellDomain`, built from the city's relying-party registrations). A receipt adds one to
the cell of each registered claim set whose claims it read.

The privacy unit is one resident. A resident appears towards each service under its own pseudonym
and the export cannot join them (that is the point of pseudonyms), so the bound is applied per
pseudonym and multiplied out: each pseudonym keeps at most ``per_service`` increments in the
month, a resident has at most one pseudonym per service, hence one resident changes the vector of
counts by at most ``per_service x number of services`` in L1 norm — the sensitivity. OpenDP's
``make_laplace`` over integer vectors (the discrete Laplace mechanism, sampled exactly from the
operating system's CSPRNG) adds the noise, and OpenDP's own privacy map gives the epsilon spent
for that sensitivity; the scale is the smallest that keeps it within the requested epsilon. Cells
whose noisy count is below ``k_threshold`` (at least 10) are then marked suppressed: post-processing,
which costs no privacy. Every release first charges its epsilon to a :class:`BudgetLedger`, which
refuses a release that would take the month past its budget.

Counting and contribution bounding are done here; noise and privacy accounting are OpenDP's.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Protocol, TypedDict

from vcsdk.errors import InvalidInputError
from vcsdk.receipts._receipt import AccessReceipt
from vcsdk.registration import ClaimSet, RelyingPartyRegistration

__all__ = [
    "MIN_K_THRESHOLD",
    "AccessCounter",
    "AccessStatistics",
    "BudgetLedger",
    "CellDomain",
    "PrivacyParameters",
    "ServiceCells",
    "StatisticsJson",
    "access_statistics",
]

#: Suppression is never weaker than this: a published count stands for at least ten (noisy) accesses.
MIN_K_THRESHOLD = 10
_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_MAX_CELLS = 100_000


@dataclass(frozen=True, slots=True)
class PrivacyParameters:
    """The privacy parameters of one release, written into it.

    :param epsilon: the privacy-loss budget this release spends (smaller = more noise).
    :param k_threshold: cells whose noisy count is below this are suppressed (at least 10).
    :param per_service: increments kept per resident per service in the month (default 1: a cell
        then counts residents served, each at their first access of the month).
    """

    epsilon: float
    k_threshold: int = MIN_K_THRESHOLD
    per_service: int = 1

    def __post_init__(self) -> None:
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0.001 <= eps <= 10:
            raise InvalidInputError("epsilon must be a number between 0.001 and 10")
        k = self.k_threshold
        if isinstance(k, bool) or not isinstance(k, int) or not MIN_K_THRESHOLD <= k <= 1_000_000:
            raise InvalidInputError(f"k_threshold must be a whole number of at least {MIN_K_THRESHOLD}")
        n = self.per_service
        if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= 1000:
            raise InvalidInputError("per_service must be a whole number between 1 and 1000")


@dataclass(frozen=True, slots=True)
class ServiceCells:
    """One service's part of the domain: its registered claim sets (each one cell)."""

    service_did: str
    name: str
    claim_sets: tuple[ClaimSet, ...]

    def cells_of(self, claim_names: Iterable[str]) -> tuple[str, ...]:
        """The claim-set cells a receipt with these claim names counts in (registration order)."""
        names = tuple(claim_names)
        return tuple(cs.id for cs in self.claim_sets if any(cs.covers_name(n) for n in names))


@dataclass(frozen=True, slots=True)
class CellDomain:
    """The public list of cells of one month's release, fixed before any receipt is read.

    Build it from the city's registrations with :meth:`from_registrations`. Receipts of services
    outside the domain, of another month, or claims outside every registered claim set count in no
    cell: a public rule, so the cell list never depends on the data.
    """

    period: str
    services: tuple[ServiceCells, ...]
    _index: dict[str, ServiceCells] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.period, str) or _PERIOD.fullmatch(self.period) is None:
            raise InvalidInputError("the period is a calendar month, YYYY-MM")
        if not isinstance(self.services, tuple) or not self.services:
            raise InvalidInputError("the domain needs at least one service")
        index = {s.service_did: s for s in self.services}
        if len(index) != len(self.services):
            raise InvalidInputError("each service appears once in the domain")
        if sum(len(s.claim_sets) for s in self.services) > _MAX_CELLS:
            raise InvalidInputError(f"the domain has more than {_MAX_CELLS} cells")
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_registrations(cls, registrations: Iterable[RelyingPartyRegistration], *, period: str) -> CellDomain:
        """Every registered service x its claim sets, for ``period``.

        Several registrations of one service (renewals) merge: claim sets with the same id keep the
        union of their paths. Services are sorted by DID, so the order is public too.

        :raises InvalidInputError: for a malformed period or no registrations.
        """
        merged: dict[str, tuple[str, dict[str, ClaimSet]]] = {}
        for reg in registrations:
            _, sets = merged.setdefault(reg.service_did, (reg.name, {}))
            for cs in reg.claim_sets:
                old = sets.get(cs.id)
                paths = cs.paths if old is None else old.paths + tuple(p for p in cs.paths if p not in old.paths)
                sets[cs.id] = ClaimSet(cs.id, cs.vct if old is None else old.vct, paths)
        services = tuple(
            ServiceCells(did, name, tuple(sets[i] for i in sorted(sets)))
            for did, (name, sets) in sorted(merged.items())
        )
        return cls(period=period, services=services)

    @property
    def cells(self) -> tuple[tuple[str, str], ...]:
        """(service DID, claim set id) of every cell, in release order."""
        return tuple((s.service_did, cs.id) for s in self.services for cs in s.claim_sets)

    def service(self, did: str) -> ServiceCells | None:
        return self._index.get(did)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The month as [first instant, first instant of the next month) in UTC."""
        m = _PERIOD.fullmatch(self.period)
        assert m is not None
        year, month = int(m.group(1)), int(m.group(2))
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return start, end


class BudgetLedger(Protocol):
    """Where releases spend their epsilon; it refuses to overspend a period.

    Implementations: :class:`vcsdk.receipts.PrivacyLedger` (a value, in memory) and
    :class:`vcsdk.outbox.LedgerFile` (a JSON file the city can publish).
    """

    def charge(self, period: str, epsilon: float, *, release_id: str, now: datetime) -> None:
        """Record the spend, or raise :class:`~vcsdk.errors.PrivacyBudgetExceededError` and record nothing."""
        ...


class CellJson(TypedDict):
    service: str
    service_name: str
    claim_set: str
    period: str
    count: int | None
    suppressed: bool


class ParametersJson(TypedDict):
    mechanism: str
    epsilon: float
    sensitivity: int
    noise_scale: float
    k_threshold: int
    per_service: int
    services: int
    privacy_unit: str
    cell_domain: str
    period: str
    release_id: str
    guarantee: str


class StatisticsJson(TypedDict):
    parameters: ParametersJson
    cells: list[CellJson]


#: The guarantee, for readers of every release.
GUARANTEE = (
    "Whatever else is known, adding or removing every access of any one resident in {period} changes the "
    "probability of any published table for {period} by at most a factor of e^epsilon, where epsilon is "
    "the sum of the releases for {period} in the city's budget ledger; which cells are listed never "
    "depends on any resident."
)


@dataclass(frozen=True, slots=True)
class AccessStatistics:
    """One differentially private release: every cell of the domain, noisy or suppressed."""

    parameters: PrivacyParameters
    domain: CellDomain
    release_id: str
    sensitivity: int
    noise_scale: float
    counts: tuple[int | None, ...]

    @property
    def cells(self) -> tuple[tuple[tuple[str, str], int | None], ...]:
        """((service DID, claim set id), noisy count or ``None`` when suppressed), for every domain cell."""
        return tuple(zip(self.domain.cells, self.counts, strict=True))

    def _parameters_json(self) -> ParametersJson:
        p = self.parameters
        period = self.domain.period
        return {
            "mechanism": "discrete_laplace (OpenDP make_laplace)",
            "epsilon": p.epsilon,
            "sensitivity": self.sensitivity,
            "noise_scale": self.noise_scale,
            "k_threshold": p.k_threshold,
            "per_service": p.per_service,
            "services": len(self.domain.services),
            "privacy_unit": "one resident (all services together)",
            "cell_domain": "public: registered services x claim sets x period",
            "period": period,
            "release_id": self.release_id,
            "guarantee": GUARANTEE.format(period=period),
        }

    def to_json(self) -> StatisticsJson:
        """The release as a JSON object: ``parameters`` and every cell (``count`` null when suppressed)."""
        names = {s.service_did: s.name for s in self.domain.services}
        return {
            "parameters": self._parameters_json(),
            "cells": [
                {
                    "service": s,
                    "service_name": names[s],
                    "claim_set": c,
                    "period": self.domain.period,
                    "count": n,
                    "suppressed": n is None,
                }
                for (s, c), n in self.cells
            ],
        }

    def to_json_text(self) -> str:
        """:meth:`to_json` as indented text."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def to_csv(self) -> str:
        """CSV with a header row; the parameters come first as ``#`` comment lines."""
        out = io.StringIO()
        for name, value in self._parameters_json().items():
            out.write(f"# {name}={value}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["service", "service_name", "claim_set", "period", "count", "suppressed"])
        for cell in self.to_json()["cells"]:
            writer.writerow(
                [
                    _csv_safe(cell["service"]),
                    _csv_safe(cell["service_name"]),
                    _csv_safe(cell["claim_set"]),
                    cell["period"],
                    "" if cell["count"] is None else cell["count"],
                    "true" if cell["suppressed"] else "false",
                ]
            )
        return out.getvalue()


class AccessCounter:
    """Counts one month's receipts into the cells of a public domain, bounding each pseudonym.

    Receipts must come in order of access time (a store's ``iter_receipts`` streams them so): each
    pseudonym keeps its earliest ``per_service`` increments. Memory grows with the number of
    pseudonyms and cells, not with the number of receipts.

    :param domain: the public cells of the month.
    :param parameters: epsilon, suppression threshold and contribution bound.
    """

    __slots__ = ("_counts", "_last", "_used", "domain", "parameters", "receipts")

    def __init__(self, domain: CellDomain, parameters: PrivacyParameters) -> None:
        if not isinstance(domain, CellDomain) or not isinstance(parameters, PrivacyParameters):
            raise InvalidInputError("AccessCounter takes a CellDomain and PrivacyParameters")
        self.domain = domain
        self.parameters = parameters
        self.receipts = 0
        self._used: dict[tuple[str, str], int] = defaultdict(int)
        self._counts: dict[tuple[str, str], int] = defaultdict(int)
        self._last: datetime | None = None

    def add(self, receipt: AccessReceipt) -> None:
        """Count one verified receipt (outside the month or the domain, it counts in no cell).

        :raises InvalidInputError: if it was accessed before the previous one (out of order).
        """
        if self._last is not None and receipt.accessed_at < self._last:
            raise InvalidInputError("receipts must be counted in order of access time")
        self._last = receipt.accessed_at
        self.receipts += 1
        start, end = self.domain.bounds
        service = self.domain.service(receipt.service_did)
        if receipt.kind != "access" or service is None or not start <= receipt.accessed_at < end:
            return
        unit = (receipt.service_did, receipt.resident_pseudonym)
        for cell in service.cells_of(receipt.claims_accessed):
            if self._used[unit] >= self.parameters.per_service:
                break
            self._used[unit] += 1
            self._counts[(receipt.service_did, cell)] += 1

    @property
    def sensitivity(self) -> int:
        """How much one resident can change the counts in L1 norm: ``per_service x services``."""
        return self.parameters.per_service * len(self.domain.services)

    def statistics(self, *, ledger: BudgetLedger, release_id: str, now: datetime) -> AccessStatistics:
        """Charge the ledger, then add OpenDP's noise to every cell and suppress the small ones.

        :param ledger: charged ``epsilon`` for the period before any noise is drawn.
        :param release_id: a name for this release in the ledger (e.g. ``access-2026-11``).
        :param now: the time recorded in the ledger.
        :raises PrivacyBudgetExceededError: if the period's budget cannot pay this release.
        :return: the release.
        """
        p = self.parameters
        measurement, scale = _measurement(len(self.domain.cells), self.sensitivity, p.epsilon)
        ledger.charge(self.domain.period, p.epsilon, release_id=release_id, now=now)
        exact = [self._counts.get(cell, 0) for cell in self.domain.cells]
        noisy = measurement(exact)
        counts = tuple(int(n) if int(n) >= p.k_threshold else None for n in noisy)
        return AccessStatistics(
            parameters=p,
            domain=self.domain,
            release_id=release_id,
            sensitivity=self.sensitivity,
            noise_scale=scale,
            counts=counts,
        )


def access_statistics(
    receipts: Iterable[AccessReceipt],
    *,
    domain: CellDomain,
    parameters: PrivacyParameters,
    ledger: BudgetLedger,
    release_id: str,
    now: datetime,
) -> AccessStatistics:
    """Count a month's receipts in the public domain, charge the ledger, add noise, suppress small cells.

    Sorts the receipts in memory; for a month of a city's receipts, stream them from the store into
    an :class:`AccessCounter` instead (``vcsdk receipts export`` does).

    :raises PrivacyBudgetExceededError: if the month's budget cannot pay ``parameters.epsilon``.
    :return: the release.
    """
    counter = AccessCounter(domain, parameters)
    for receipt in sorted(receipts, key=lambda r: (r.accessed_at, r.receipt_id)):
        counter.add(receipt)
    return counter.statistics(ledger=ledger, release_id=release_id, now=now)


def _measurement(size: int, sensitivity: int, epsilon: float) -> tuple[Any, float]:
    """OpenDP's discrete Laplace over a count vector of ``size`` cells, scaled so that its privacy
    map gives at most ``epsilon`` for inputs ``sensitivity`` apart (L1)."""
    import opendp.prelude as dp  # imported on first release: it loads a native library (start-up cost)

    dp.enable_features("contrib")  # make_laplace is in OpenDP's "contrib" set (proof published, not vetted)
    space = (dp.vector_domain(dp.atom_domain(T=int), size=size), dp.l1_distance(T=int))
    scale = float(
        dp.binary_search_param(lambda s: space >> dp.m.then_laplace(scale=s), d_in=sensitivity, d_out=epsilon)
    )
    measurement = space >> dp.m.then_laplace(scale=scale)
    spent = measurement.map(sensitivity)
    if Fraction(spent) > Fraction(epsilon):  # OpenDP rounds its map up; never release above the charge
        raise InvalidInputError("no noise scale meets this epsilon; choose another epsilon")
    return measurement, scale


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ is a formula in spreadsheets (CSV injection); quote it as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
