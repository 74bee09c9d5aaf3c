"""Open data export: counts, contribution bounds, discrete Laplace noise, suppression, CSV/JSON."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import timedelta
from fractions import Fraction

import pytest

from tests.receipts._factories import OTHER_DID, SERVICE_DID, T0, make_consent, make_receipt, service_key
from vcsdk.errors import InvalidInputError
from vcsdk.receipts import AccessCounter, AccessReceipt, PrivacyParameters, access_statistics, peek_access_receipt
from vcsdk.receipts._export import sample_discrete_laplace


def near_exact(**kwargs: int) -> PrivacyParameters:
    """epsilon=100: the noise scale is at most 0.16, so P(noise != 0) < 2e-6 per cell."""
    return PrivacyParameters(epsilon=100.0, **kwargs)


def _receipts() -> list[AccessReceipt]:
    out = []
    for did in (SERVICE_DID, OTHER_DID):
        key = service_key(did)
        for r in range(30):
            consent = make_consent(did=did, record_id=f"c{r}", secret=bytes([r]) * 32, expires_at=None)
            claims = ("age_over_18", "family_name") if r % 3 == 0 else ("age_over_18",)
            month = T0 + timedelta(days=31 * (r % 2))
            out.append(
                peek_access_receipt(
                    make_receipt(key, consent, receipt_id=f"r{r}", claims=claims, at=month + timedelta(minutes=r))
                )
            )
    return out


def test_exact_counts_with_zero_noise_and_suppression() -> None:
    stats = access_statistics(_receipts(), parameters=near_exact(k_threshold=6), rng=random.Random(3))
    cells = {key: n for key, n in stats.cells}
    assert cells[(SERVICE_DID, "age_check", "age_over_18", "2026-11")] == 15
    assert cells[(SERVICE_DID, "age_check", "age_over_18", "2026-12")] == 15
    # family_name: r in {0,6,12,18,24} in November (5 < 6 -> suppressed), {3,9,15,21,27} in December.
    assert (SERVICE_DID, "age_check", "family_name", "2026-11") not in cells
    assert stats.cell_domain == "observed"


def test_contributions_are_bounded_per_pseudonym() -> None:
    key = service_key()
    consent = make_consent()
    receipts = [
        peek_access_receipt(make_receipt(key, consent, receipt_id=f"r{i}", at=T0 + timedelta(minutes=i)))
        for i in range(50)
    ]
    stats = access_statistics(receipts, parameters=near_exact(k_threshold=1, max_contributions=4), rng=random.Random(4))
    assert stats.cells == (((SERVICE_DID, "age_check", "age_over_18", "2026-11"), 4),)


def test_public_domain_publishes_noisy_zero_cells() -> None:
    domain = [(SERVICE_DID, "age_check", "address", "2026-11")]
    params = PrivacyParameters(epsilon=0.5, k_threshold=1)
    stats = access_statistics(_receipts(), parameters=params, rng=random.Random(7), domain=domain)
    assert stats.cell_domain == "public"
    assert all(key in domain for key, _ in stats.cells)
    with pytest.raises(InvalidInputError):
        access_statistics([], parameters=params, domain=[("a", "b", "c", "November")])


def test_csv_and_json_state_the_parameters() -> None:
    params = PrivacyParameters(epsilon=0.5, k_threshold=3, max_contributions=2)
    stats = access_statistics(_receipts(), parameters=params, rng=random.Random(1))
    body = stats.to_json()
    assert body["parameters"]["epsilon"] == 0.5 and body["parameters"]["noise_scale"] == 4.0
    assert body["parameters"]["k_threshold"] == 3 and body["parameters"]["mechanism"] == "discrete_laplace"
    assert json.loads(stats.to_json_text()) == body
    text = stats.to_csv()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert "# epsilon=0.5" in comments and "# k_threshold=3" in comments
    rows = list(csv.DictReader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("#")))))
    assert len(rows) == len(body["cells"])
    assert all(int(r["count"]) >= 3 for r in rows)
    # No pseudonym and no receipt id ever appears in the export.
    for r in _receipts():
        assert r.resident_pseudonym not in text and r.receipt_id not in {row["service"] for row in rows}


def test_discrete_laplace_distribution() -> None:
    rng = random.Random(2026)
    scale = Fraction(2)
    samples = [sample_discrete_laplace(scale, rng) for _ in range(4000)]
    mean = sum(samples) / len(samples)
    # Variance of the discrete Laplace with parameter t: 2 e^{-1/t} / (1 - e^{-1/t})^2 ~ 7.8 for t=2.
    var = sum(s * s for s in samples) / len(samples)
    assert abs(mean) < 0.3 and 6.5 < var < 9.5
    assert all(isinstance(s, int) for s in samples)
    with pytest.raises(InvalidInputError):
        sample_discrete_laplace(Fraction(0), rng)


@pytest.mark.parametrize(
    "kwargs",
    [{"epsilon": 0}, {"epsilon": True}, {"epsilon": 1, "k_threshold": 0}, {"epsilon": 1, "max_contributions": -1}],
)
def test_parameter_checks(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        PrivacyParameters(**kwargs)  # type: ignore[arg-type]


def test_a_counter_fed_in_order_gives_the_same_export_as_the_in_memory_call() -> None:
    receipts = _receipts()
    parameters = PrivacyParameters(epsilon=0.5, k_threshold=2, max_contributions=2)
    counter = AccessCounter(parameters)
    for receipt in sorted(receipts, key=lambda r: (r.accessed_at, r.receipt_id)):
        counter.add(receipt)
    assert counter.receipts == len(receipts)
    streamed = counter.statistics(rng=random.Random(11))
    in_memory = access_statistics(list(reversed(receipts)), parameters=parameters, rng=random.Random(11))
    assert streamed == in_memory and streamed.cells


def test_a_counter_refuses_receipts_out_of_order() -> None:
    receipts = sorted(_receipts(), key=lambda r: r.accessed_at)
    counter = AccessCounter(near_exact())
    assert receipts[0].accessed_at == receipts[1].accessed_at < receipts[-1].accessed_at
    counter.add(receipts[1])
    counter.add(receipts[0])  # the same access time again is in order
    counter.add(receipts[-1])
    with pytest.raises(InvalidInputError, match="order of access time"):
        counter.add(receipts[0])
