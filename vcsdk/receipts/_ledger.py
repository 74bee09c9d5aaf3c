"""The privacy budget ledger: every open-data release spends epsilon from its month's budget.

Budgets compose by addition (sequential composition of pure differential privacy): a month whose
releases sum to epsilon is protected at epsilon. The ledger refuses the release that would pass the
budget, so the guarantee stated in every release holds however often someone runs the export.
Sums are exact (fractions of the decimal values), so rounding never lets a release through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, TypedDict

from vcsdk._json import parse_json_object
from vcsdk._time import aware, parse_rfc3339, to_rfc3339
from vcsdk.errors import ConflictError, InvalidInputError, PrivacyBudgetExceededError

__all__ = ["LEDGER_VERSION", "LedgerEntry", "LedgerJson", "PrivacyLedger"]

LEDGER_VERSION = "vcsdk-privacy-ledger-1"
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_RELEASE_ID = re.compile(r"[A-Za-z0-9._:~-]{1,128}")
_MAX_ENTRIES = 100_000


class LedgerEntryJson(TypedDict):
    period: str
    epsilon: str
    release_id: str
    charged_at: str


class LedgerJson(TypedDict):
    version: str
    budget_per_period: str
    entries: list[LedgerEntryJson]


def _epsilon(value: object, *, what: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInputError(f"{what} must be a number")
    try:
        eps = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise InvalidInputError(f"{what} must be a number") from None
    if not 0 < eps <= 100:
        raise InvalidInputError(f"{what} must be above 0 and at most 100")
    return eps


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One release: its month, the epsilon it spent, its name and when it was charged."""

    period: str
    epsilon: Fraction
    release_id: str
    charged_at: datetime

    def to_json(self) -> LedgerEntryJson:
        return {
            "period": self.period,
            "epsilon": _decimal(self.epsilon),
            "release_id": self.release_id,
            "charged_at": to_rfc3339(self.charged_at),
        }


class PrivacyLedger:
    """An in-memory ledger with one budget per month (a :class:`~vcsdk.receipts.BudgetLedger`).

    :param budget_per_period: the most epsilon all releases of one month may spend together.
    :param entries: releases already charged (from :meth:`from_json`).
    :raises InvalidInputError: for a budget outside (0, 100].
    """

    __slots__ = ("_entries", "budget_per_period")

    def __init__(self, *, budget_per_period: float | str, entries: tuple[LedgerEntry, ...] = ()) -> None:
        self.budget_per_period = _epsilon(budget_per_period, what="budget_per_period")
        self._entries = list(entries)

    def __repr__(self) -> str:
        return f"PrivacyLedger(budget_per_period={_decimal(self.budget_per_period)}, entries={len(self._entries)})"

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        return tuple(self._entries)

    def spent(self, period: str) -> Fraction:
        """The epsilon already spent on ``period``."""
        return sum((e.epsilon for e in self._entries if e.period == period), Fraction(0))

    def remaining(self, period: str) -> Fraction:
        """The epsilon ``period`` has left."""
        return self.budget_per_period - self.spent(period)

    def charge(self, period: str, epsilon: float | str, *, release_id: str, now: datetime) -> None:
        """Spend ``epsilon`` on ``period`` for the release ``release_id``.

        :raises InvalidInputError: for a malformed period, epsilon or release id.
        :raises ConflictError: if a release with this id was already charged.
        :raises PrivacyBudgetExceededError: if the period's budget cannot pay it (nothing is recorded).
        """
        if not isinstance(period, str) or _PERIOD.fullmatch(period) is None:
            raise InvalidInputError("the period is a calendar month, YYYY-MM")
        eps = _epsilon(epsilon, what="epsilon")
        if not isinstance(release_id, str) or _RELEASE_ID.fullmatch(release_id) is None:
            raise InvalidInputError("release_id must be 1-128 characters of [A-Za-z0-9._:~-]")
        if any(e.release_id == release_id for e in self._entries):
            raise ConflictError("a release with this id is already in the ledger; name each release once")
        left = self.remaining(period)
        if eps > left:
            raise PrivacyBudgetExceededError(
                f"the privacy budget of {period} is {_decimal(self.budget_per_period)} and "
                f"{_decimal(self.spent(period))} of it is spent; a release of epsilon {_decimal(eps)} would "
                "pass it. Publish nothing more for this month.",
                details={"period": period, "remaining": _decimal(left)},
            )
        if len(self._entries) >= _MAX_ENTRIES:
            raise InvalidInputError("the ledger is full; start a new one")
        self._entries.append(LedgerEntry(period, eps, release_id, aware(now, what="now")))

    def to_json(self) -> LedgerJson:
        """The ledger as JSON: publish it next to the releases."""
        return {
            "version": LEDGER_VERSION,
            "budget_per_period": _decimal(self.budget_per_period),
            "entries": [e.to_json() for e in self._entries],
        }

    @classmethod
    def from_json(cls, value: LedgerJson | dict[str, Any] | str | bytes) -> PrivacyLedger:
        """Read a ledger back.

        :raises InvalidInputError: for a wrong version or any malformed entry.
        """
        obj: dict[str, Any] = (
            parse_json_object(value, what="privacy ledger", max_bytes=32 * 1024 * 1024)
            if isinstance(value, str | bytes)
            else dict(value)
        )
        if obj.get("version") != LEDGER_VERSION:
            raise InvalidInputError(f"the privacy ledger's version must be {LEDGER_VERSION!r}")
        raw = obj.get("entries")
        if not isinstance(raw, list):
            raise InvalidInputError("the privacy ledger's entries must be a list")
        ledger = cls(budget_per_period=obj.get("budget_per_period"))  # type: ignore[arg-type]  # checked
        for item in raw:
            if not isinstance(item, dict) or set(item) != set(LedgerEntryJson.__annotations__):
                raise InvalidInputError("each ledger entry has period, epsilon, release_id and charged_at")
            # Re-charging replays every rule: a ledger edited to overspend does not load.
            try:
                ledger.charge(
                    item["period"],
                    item["epsilon"],
                    release_id=item["release_id"],
                    now=parse_rfc3339(item["charged_at"], what="charged_at"),
                )
            except (PrivacyBudgetExceededError, ConflictError):
                raise InvalidInputError(
                    "the privacy ledger is inconsistent: its entries overspend a month or repeat a release id"
                ) from None
        return ledger


def _decimal(value: Fraction) -> str:
    """An exact decimal string for budgets entered as decimals (``0.5``), a fraction otherwise."""
    for digits in range(0, 13):
        scaled = value * 10**digits
        if scaled.denominator == 1:
            whole, frac = divmod(int(scaled), 10**digits)
            return f"{whole}.{frac:0{digits}d}" if digits else f"{whole}"
    return f"{value.numerator}/{value.denominator}"
