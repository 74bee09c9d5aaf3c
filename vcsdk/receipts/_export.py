"""Open data: access statistics with differential privacy and small-cell suppression.

Counts of accesses per (service, purpose, claim, month) get discrete Laplace noise (the integer
form of the Laplace mechanism, so no floating-point side channel), then cells whose noisy count is
below ``k_threshold`` are suppressed. The privacy unit is one resident's relationship with one
service (one pseudonym): each pseudonym's contributions are bounded to ``max_contributions`` cell
increments, which is the L1 sensitivity, and the noise scale is ``max_contributions / epsilon``.

The sampler is the exact one of Canonne, Kamath and Steinke ("The Discrete Gaussian for
Differential Privacy", 2020, Algorithms 1-2): it draws only uniform integers from the injected
random source (``random.SystemRandom`` by default, which reads the OS CSPRNG) and uses rational
arithmetic, so the output distribution is exactly the stated one.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Literal, Protocol, TypedDict

from vcsdk.errors import InvalidInputError
from vcsdk.receipts._receipt import AccessReceipt

__all__ = [
    "AccessCounter",
    "AccessStatistics",
    "CellKey",
    "PrivacyParameters",
    "RandomSource",
    "StatisticsJson",
    "access_statistics",
    "sample_discrete_laplace",
]

CellKey = tuple[str, str, str, str]
"""(service DID, purpose, claim name, month ``YYYY-MM``)."""


class RandomSource(Protocol):
    """Uniform integers; ``random.SystemRandom()`` in production, a seeded ``random.Random`` in tests."""

    def randrange(self, stop: int, /) -> int: ...


@dataclass(frozen=True, slots=True)
class PrivacyParameters:
    """The privacy parameters, written into every export.

    :param epsilon: the privacy-loss budget of one export (smaller = more noise).
    :param k_threshold: cells whose noisy count is below this are suppressed.
    :param max_contributions: cell increments kept per pseudonym (the L1 sensitivity).
    """

    epsilon: float
    k_threshold: int = 10
    max_contributions: int = 16

    def __post_init__(self) -> None:
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0.001 <= eps <= 100:
            raise InvalidInputError("epsilon must be a number between 0.001 and 100")
        for name in ("k_threshold", "max_contributions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 1_000_000:
                raise InvalidInputError(f"{name} must be a positive integer")

    @property
    def scale(self) -> Fraction:
        """The discrete Laplace scale ``max_contributions / epsilon`` as an exact fraction."""
        return Fraction(self.max_contributions) / Fraction(str(self.epsilon))


class CellJson(TypedDict):
    service: str
    purpose: str
    claim: str
    month: str
    count: int


class ParametersJson(TypedDict):
    mechanism: str
    epsilon: float
    sensitivity: int
    noise_scale: float
    k_threshold: int
    privacy_unit: str
    cell_domain: str


class StatisticsJson(TypedDict):
    parameters: ParametersJson
    cells: list[CellJson]


@dataclass(frozen=True, slots=True)
class AccessStatistics:
    """A differentially private export; render with :meth:`to_csv` or :meth:`to_json`."""

    parameters: PrivacyParameters
    cells: tuple[tuple[CellKey, int], ...]
    cell_domain: Literal["public", "observed"]

    def _parameters_json(self) -> ParametersJson:
        p = self.parameters
        return {
            "mechanism": "discrete_laplace",
            "epsilon": p.epsilon,
            "sensitivity": p.max_contributions,
            "noise_scale": float(p.scale),
            "k_threshold": p.k_threshold,
            "privacy_unit": "one resident pseudonym (one resident towards one service)",
            "cell_domain": self.cell_domain,
        }

    def to_json(self) -> StatisticsJson:
        """The export as a JSON object: ``parameters`` and ``cells``."""
        return {
            "parameters": self._parameters_json(),
            "cells": [
                {"service": s, "purpose": p, "claim": c, "month": m, "count": n} for (s, p, c, m), n in self.cells
            ],
        }

    def to_json_text(self) -> str:
        """:meth:`to_json` as indented text."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def to_csv(self) -> str:
        """CSV with a header row; the privacy parameters come first as ``#`` comment lines."""
        out = io.StringIO()
        for name, value in self._parameters_json().items():
            out.write(f"# {name}={value}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["service", "purpose", "claim", "month", "count"])
        for (s, p, c, m), n in self.cells:
            writer.writerow([_csv_safe(s), _csv_safe(p), _csv_safe(c), m, n])
        return out.getvalue()


class AccessCounter:
    """The counting half of :func:`access_statistics`, fed one receipt at a time.

    Receipts must come in order of access time (a store's ``iter_receipts`` streams them so), which
    is what lets contribution bounding keep each pseudonym's earliest accesses without holding the
    receipts: memory grows with the number of pseudonyms and cells, not with the number of receipts.

    :param parameters: epsilon, suppression threshold and contribution bound.
    """

    __slots__ = ("_counts", "_last", "_used", "parameters", "receipts")

    def __init__(self, parameters: PrivacyParameters) -> None:
        self.parameters = parameters
        self.receipts = 0
        self._used: dict[tuple[str, str], int] = defaultdict(int)
        self._counts: dict[CellKey, int] = defaultdict(int)
        self._last: datetime | None = None

    def add(self, receipt: AccessReceipt) -> None:
        """Count one verified receipt.

        :raises InvalidInputError: if it was accessed before the previous one (out of order).
        """
        if self._last is not None and receipt.accessed_at < self._last:
            raise InvalidInputError("receipts must be counted in order of access time")
        self._last = receipt.accessed_at
        self.receipts += 1
        # Contribution bounding: a pseudonym's earliest accesses count, up to the sensitivity.
        unit = (receipt.service_did, receipt.resident_pseudonym)
        month = receipt.accessed_at.strftime("%Y-%m")
        for claim in sorted(receipt.claims_accessed):
            if self._used[unit] >= self.parameters.max_contributions:
                break
            self._used[unit] += 1
            self._counts[(receipt.service_did, receipt.purpose, claim, month)] += 1

    def statistics(
        self, *, rng: RandomSource | None = None, domain: Iterable[CellKey] | None = None
    ) -> AccessStatistics:
        """Add noise to every cell and suppress the small ones (see :func:`access_statistics`).

        :raises InvalidInputError: if a domain month is not ``YYYY-MM``.
        """
        source: RandomSource = rng if rng is not None else random.SystemRandom()
        counts = self._counts
        if domain is not None:
            keys = sorted(set(domain))
            for key in keys:
                if len(key) != 4 or len(key[3]) != 7 or key[3][4] != "-":
                    raise InvalidInputError("a domain cell is (service, purpose, claim, 'YYYY-MM')")
            kind: Literal["public", "observed"] = "public"
        else:
            keys = sorted(counts)
            kind = "observed"
        parameters = self.parameters
        cells = []
        for key in keys:
            noisy = counts.get(key, 0) + sample_discrete_laplace(parameters.scale, source)
            if noisy >= parameters.k_threshold:
                cells.append((key, noisy))
        return AccessStatistics(parameters=parameters, cells=tuple(cells), cell_domain=kind)


def access_statistics(
    receipts: Iterable[AccessReceipt],
    *,
    parameters: PrivacyParameters,
    rng: RandomSource | None = None,
    domain: Iterable[CellKey] | None = None,
) -> AccessStatistics:
    """Count accesses per (service, purpose, claim, month), add noise, suppress small cells.

    Sorts the receipts in memory; for a month of a city's receipts, stream them from the store into
    an :class:`AccessCounter` instead (``vcsdk receipts export`` does).

    :param receipts: verified receipts (e.g. everything the outbox stored for a period).
    :param parameters: epsilon, suppression threshold and contribution bound.
    :param rng: the randomness source; default ``random.SystemRandom()``.
    :param domain: the public set of cells to publish (noise is added to every one, including
        zeros). Without it the cells are those observed in the data; noise plus suppression then
        hides cells with few contributors, but the guarantee is only approximate ((epsilon, delta)).
    :raises InvalidInputError: if a domain month is not ``YYYY-MM``.
    :return: the noisy, suppressed statistics, sorted by cell.
    """
    counter = AccessCounter(parameters)
    for receipt in sorted(receipts, key=lambda r: (r.accessed_at, r.receipt_id)):
        counter.add(receipt)
    return counter.statistics(rng=rng, domain=domain)


def sample_discrete_laplace(scale: Fraction, rng: RandomSource) -> int:
    """One exact sample with ``P(x) ∝ exp(-|x| / scale)`` over the integers (CKS 2020, Alg. 2).

    :raises InvalidInputError: if ``scale`` is not positive.
    """
    if scale <= 0:
        raise InvalidInputError("the noise scale must be positive")
    while True:
        negative = _bernoulli(Fraction(1, 2), rng)
        magnitude = _geometric_exp_fast(1 / scale, rng)
        if negative and magnitude == 0:
            continue  # Alg. 2: reject -0 so that 0 is not counted twice
        return -magnitude if negative else magnitude


def _bernoulli(p: Fraction, rng: RandomSource) -> bool:
    return rng.randrange(p.denominator) < p.numerator


def _bernoulli_exp_le1(x: Fraction, rng: RandomSource) -> bool:
    # Bernoulli(exp(-x)) for 0 <= x <= 1 (CKS 2020, Alg. 1, first part).
    k = 1
    while _bernoulli(x / k, rng):
        k += 1
    return k % 2 == 1


def _bernoulli_exp(x: Fraction, rng: RandomSource) -> bool:
    # Bernoulli(exp(-x)) for x >= 0.
    while x > 1:
        if not _bernoulli_exp_le1(Fraction(1), rng):
            return False
        x -= 1
    return _bernoulli_exp_le1(x, rng)


def _geometric_exp_slow(x: Fraction, rng: RandomSource) -> int:
    k = 0
    while _bernoulli_exp(x, rng):
        k += 1
    return k


def _geometric_exp_fast(x: Fraction, rng: RandomSource) -> int:
    # Geometric(1 - exp(-x)) with x = s/t (CKS 2020, Alg. 2, steps 2-4).
    if x == 0:
        return 0
    s, t = x.numerator, x.denominator
    while True:
        u = rng.randrange(t)
        if _bernoulli_exp(Fraction(u, t), rng):
            break
    v = _geometric_exp_slow(Fraction(1), rng)
    return (v * t + u) // s


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ is a formula in spreadsheets (CSV injection); quote it as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
