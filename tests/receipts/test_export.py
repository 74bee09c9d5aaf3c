"""Open data on OpenDP: a public cell domain, a per-resident bound, the budget ledger, k >= 10.

OpenDP draws its noise from the operating system's CSPRNG and cannot be seeded, so the tests assert
what must hold for every draw (the cell list, suppression, the ledger) and check the noise by its
distribution; where a count is compared, epsilon is high enough that a wrong answer has a
probability below 1e-9.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.receipts._factories import OTHER_DID, SERVICE_DID, T0, make_consent, make_receipt, service_key
from vcsdk.errors import ConflictError, InvalidInputError, PrivacyBudgetExceededError
from vcsdk.outbox import LedgerFile
from vcsdk.receipts import (
    AccessCounter,
    AccessReceipt,
    CellDomain,
    PrivacyLedger,
    PrivacyParameters,
    access_statistics,
    peek_access_receipt,
)
from vcsdk.receipts._export import _measurement
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration

VCT = "https://city.example/credentials/ResidentIdentityCredential"
THIRD_DID = "did:ethr:0x539:0x3333333333333333333333333333333333333333"
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def _registration(did: str, name: str, *sets: ClaimSet) -> RelyingPartyRegistration:
    return RelyingPartyRegistration(
        issuer="did:ethr:0x539:0x1000000000000000000000000000000000000001",
        service_did=did,
        registration_id="reg-" + did[-4:],
        name=name,
        purposes=(Purpose("age_check", "Check the age"),),
        claim_sets=sets or (ClaimSet("age", VCT, (("age_over_18",),)), ClaimSet("name", VCT, (("family_name",),))),
        retention_days=30,
        receipt_endpoint="https://service.example/receipts",
        privacy_policy="https://service.example/privacy",
        jurisdiction="JP",
        issued_at=T0 - timedelta(days=30),
        expires_at=T0 + timedelta(days=365),
    )


REGISTRATIONS = (
    _registration(SERVICE_DID, "Kaga Library"),
    _registration(OTHER_DID, "Kaga Onsen Shop"),
    _registration(THIRD_DID, "Kaga Bus"),
)
DOMAIN = CellDomain.from_registrations(REGISTRATIONS, period="2026-11")


def _receipts(residents: range = range(30), *, did: str = SERVICE_DID, times: int = 1) -> list[AccessReceipt]:
    key = service_key(did)
    out = []
    for r in residents:
        consent = make_consent(did=did, record_id=f"c{r}", secret=bytes([r % 256]) * 32, expires_at=None)
        claims = ("age_over_18", "family_name") if r % 3 == 0 else ("age_over_18",)
        for t in range(times):
            at = T0 + timedelta(minutes=r, seconds=t)
            out.append(
                peek_access_receipt(make_receipt(key, consent, receipt_id=f"{did[-4:]}-{r}-{t}", claims=claims, at=at))
            )
    return out


def _release(receipts: list[AccessReceipt], *, epsilon: float = 1.0, ledger: PrivacyLedger | None = None, **kw: int):  # type: ignore[no-untyped-def]
    return access_statistics(
        receipts,
        domain=DOMAIN,
        parameters=PrivacyParameters(epsilon=epsilon, **kw),
        ledger=ledger or PrivacyLedger(budget_per_period=10),
        release_id="access-2026-11",
        now=NOW,
    )


# -- the cell domain -------------------------------------------------------------------------------


def test_the_domain_is_registered_services_times_claim_sets() -> None:
    assert DOMAIN.cells == tuple(
        (did, cs) for did in sorted((SERVICE_DID, OTHER_DID, THIRD_DID)) for cs in ("age", "name")
    )
    assert DOMAIN.bounds == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert CellDomain.from_registrations(REGISTRATIONS, period="2026-12").bounds[1] == datetime(2027, 1, 1, tzinfo=UTC)
    for bad in ("2026-13", "November", "2026-1"):
        with pytest.raises(InvalidInputError):
            CellDomain.from_registrations(REGISTRATIONS, period=bad)
    with pytest.raises(InvalidInputError):
        CellDomain.from_registrations([], period="2026-11")


def test_renewed_registrations_merge() -> None:
    sets = (ClaimSet("age", VCT, (("age_over_20",),)),)
    renewed = replace(REGISTRATIONS[0], registration_id="reg-2", claim_sets=sets)
    domain = CellDomain.from_registrations((REGISTRATIONS[0], renewed), period="2026-11")
    assert domain.cells == ((SERVICE_DID, "age"), (SERVICE_DID, "name"))
    age = domain.services[0].claim_sets[0]
    assert age.paths == (("age_over_18",), ("age_over_20",))


def test_neighbouring_datasets_give_the_same_cell_list() -> None:
    """Which cells appear never depends on any one resident: every release lists the whole domain."""
    base = _receipts(range(1, 40))
    # The neighbour adds one resident who used every service several times, a combination no one else has.
    resident = _receipts(range(200, 201), times=5) + _receipts(range(200, 201), did=OTHER_DID, times=5)
    resident += _receipts(range(200, 201), did=THIRD_DID)
    for data in ([], base, base + resident, resident):
        stats = _release(data)
        assert tuple(cell for cell, _ in stats.cells) == DOMAIN.cells
        body = stats.to_json()
        assert [(c["service"], c["claim_set"]) for c in body["cells"]] == list(DOMAIN.cells)


def test_receipts_outside_the_domain_count_nowhere() -> None:
    stranger = "did:ethr:0x539:0x9999999999999999999999999999999999999999"
    counter = AccessCounter(DOMAIN, PrivacyParameters(epsilon=1.0))
    late = [replace(r, accessed_at=r.accessed_at + timedelta(days=40)) for r in _receipts(range(3))]
    for r in _receipts(range(5), did=stranger) + late:
        counter.add(r)
    assert counter.receipts == 8 and not counter._counts


# -- contribution bounding -----------------------------------------------------------------------


def test_each_pseudonym_keeps_per_service_increments() -> None:
    counter = AccessCounter(DOMAIN, PrivacyParameters(epsilon=1.0, per_service=2))
    for r in _receipts(range(3), times=20):  # residents 0 (two claim sets), 1, 2 (one each)
        counter.add(r)
    assert dict(counter._counts) == {(SERVICE_DID, "age"): 3 + 2, (SERVICE_DID, "name"): 1}
    assert counter.sensitivity == 2 * 3


def test_one_resident_changes_the_counts_by_at_most_the_sensitivity() -> None:
    """The L1 distance between the exact count vectors of neighbouring datasets, for every resident."""
    everyone = []
    for did in (SERVICE_DID, OTHER_DID, THIRD_DID):
        everyone += _receipts(range(12), did=did, times=4)
    params = PrivacyParameters(epsilon=1.0, per_service=2)

    def counts(receipts: list[AccessReceipt]) -> list[int]:
        counter = AccessCounter(DOMAIN, params)
        for r in sorted(receipts, key=lambda r: (r.accessed_at, r.receipt_id)):
            counter.add(r)
        return [counter._counts.get(c, 0) for c in DOMAIN.cells]

    full = counts(everyone)
    sensitivity = AccessCounter(DOMAIN, params).sensitivity
    for resident in range(12):
        without = [r for r in everyone if r.receipt_id.split("-")[1] != str(resident)]
        distance = sum(abs(a - b) for a, b in zip(full, counts(without), strict=True))
        assert 0 < distance <= sensitivity


def test_counter_matches_the_in_memory_call_and_refuses_disorder() -> None:
    receipts = _receipts(range(20), times=2)
    counter = AccessCounter(DOMAIN, PrivacyParameters(epsilon=1.0))
    for r in sorted(receipts, key=lambda r: (r.accessed_at, r.receipt_id)):
        counter.add(r)
    other = AccessCounter(DOMAIN, PrivacyParameters(epsilon=1.0))
    for r in sorted(reversed(receipts), key=lambda r: (r.accessed_at, r.receipt_id)):
        other.add(r)
    assert counter._counts == other._counts and counter.receipts == 40
    with pytest.raises(InvalidInputError, match="order of access time"):
        counter.add(receipts[0])


# -- noise and suppression -------------------------------------------------------------------------


def test_opendp_accounts_the_requested_epsilon() -> None:
    for sensitivity, epsilon in ((1, 1.0), (3, 0.5), (40, 0.1), (6, 10.0)):
        measurement, scale = _measurement(6, sensitivity, epsilon)
        assert measurement.map(sensitivity) <= epsilon
        assert math.isclose(scale, sensitivity / epsilon, rel_tol=1e-6)


def test_noisy_counts_below_k_are_suppressed() -> None:
    # Only the library gets receipts: 60 residents for "age", 20 of them for "name".
    data = _receipts(range(60))
    for epsilon in (0.1, 1.0, 10.0):
        for _ in range(8):
            stats = _release(data, epsilon=epsilon)
            assert all(n is None or n >= 10 for _, n in stats.cells)
    # At epsilon 10 (scale 0.3) the noise is almost surely 0 or +-1: 60 shows, the empty cells never do.
    stats = _release(data, epsilon=10.0)
    cells = dict(stats.cells)
    assert cells[(SERVICE_DID, "age")] is not None and abs(cells[(SERVICE_DID, "age")] - 60) <= 5
    assert all(cells[(did, cs)] is None for did in (OTHER_DID, THIRD_DID) for cs in ("age", "name"))
    # A cell of 5 true accesses is below k: suppressed even with almost no noise.
    five = dict(_release(_receipts(range(5)), epsilon=10.0).cells)
    assert five[(SERVICE_DID, "age")] is None


def test_noise_has_the_discrete_laplace_spread() -> None:
    # The release path: the noise differs between releases of the same data.
    data = _receipts(range(150))
    ledger = PrivacyLedger(budget_per_period=100)
    released = set()
    for i in range(10):
        stats = access_statistics(
            data, domain=DOMAIN, parameters=PrivacyParameters(epsilon=0.5), ledger=ledger, release_id=f"r{i}", now=NOW
        )
        released.add(dict(stats.cells)[(SERVICE_DID, "age")])
    assert len(released) > 2
    # The mechanism the release uses (3 services: sensitivity 3, scale 3 / 0.5 = 6), sampled many times.
    measurement, scale = _measurement(6, 3, 0.5)
    values = [v - 150 for _ in range(400) for v in measurement([150] * 6)]
    t = math.exp(-1 / scale)
    expected = 2 * t / (1 - t) ** 2  # the variance of the discrete Laplace, about 72 here
    assert abs(statistics.mean(values)) < 1.5
    assert 0.8 * expected < statistics.pvariance(values) < 1.25 * expected
    assert all(isinstance(v, int) for v in values)


def test_k_below_ten_is_refused_everywhere() -> None:
    for bad in ({"epsilon": 1.0, "k_threshold": 9}, {"epsilon": 1.0, "k_threshold": 1}, {"epsilon": 0}):
        with pytest.raises(InvalidInputError):
            PrivacyParameters(**bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        PrivacyParameters(epsilon=1.0, per_service=0)


def test_csv_and_json_state_the_parameters_and_the_guarantee() -> None:
    stats = _release(_receipts(range(60)), epsilon=0.5, per_service=2)
    body = stats.to_json()
    p = body["parameters"]
    assert p["epsilon"] == 0.5 and p["k_threshold"] == 10 and p["sensitivity"] == 6 and p["services"] == 3
    assert math.isclose(p["noise_scale"], 12.0, rel_tol=1e-6) and "OpenDP" in p["mechanism"]
    assert "e^epsilon" in p["guarantee"] and "2026-11" in p["guarantee"]
    assert json.loads(stats.to_json_text()) == body
    text = stats.to_csv()
    assert "# epsilon=0.5" in text and "# k_threshold=10" in text
    rows = list(csv.DictReader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("#")))))
    assert len(rows) == len(DOMAIN.cells)
    assert all((r["count"] == "") == (r["suppressed"] == "true") for r in rows)
    for r in _receipts(range(60)):
        assert r.resident_pseudonym not in text and r.receipt_id not in text


# -- the budget ledger ---------------------------------------------------------------------------


def test_the_ledger_refuses_a_release_past_the_budget() -> None:
    ledger = PrivacyLedger(budget_per_period="1.0")
    data = _receipts(range(20))
    for i in range(3):
        access_statistics(
            data, domain=DOMAIN, parameters=PrivacyParameters(epsilon=0.3), ledger=ledger, release_id=f"a{i}", now=NOW
        )
    assert ledger.spent("2026-11") == ledger.budget_per_period * 9 / 10
    with pytest.raises(PrivacyBudgetExceededError) as info:
        access_statistics(
            data, domain=DOMAIN, parameters=PrivacyParameters(epsilon=0.2), ledger=ledger, release_id="a3", now=NOW
        )
    assert info.value.code == "privacy_budget_exceeded" and info.value.details["remaining"] == "0.1"
    assert len(ledger.entries) == 3  # nothing recorded for the refused release
    # 0.1 exactly still fits: sums are exact, not floating point.
    access_statistics(
        data, domain=DOMAIN, parameters=PrivacyParameters(epsilon=0.1), ledger=ledger, release_id="a4", now=NOW
    )
    assert ledger.remaining("2026-11") == 0
    # Another month has its own budget.
    ledger.charge("2026-12", 1.0, release_id="b0", now=NOW)


def test_the_ledger_round_trips_and_refuses_tampering() -> None:
    ledger = PrivacyLedger(budget_per_period=1)
    ledger.charge("2026-11", 0.5, release_id="x", now=NOW)
    again = PrivacyLedger.from_json(json.dumps(ledger.to_json()))
    assert again.entries == ledger.entries and again.budget_per_period == 1
    tampered = ledger.to_json()
    tampered["entries"].append({**tampered["entries"][0], "release_id": "y", "epsilon": "0.6"})
    with pytest.raises(InvalidInputError, match="inconsistent"):
        PrivacyLedger.from_json(tampered)  # type: ignore[arg-type]
    with pytest.raises(ConflictError):
        ledger.charge("2026-11", 0.1, release_id="x", now=NOW)
    for bad in ({"version": "x"}, {**ledger.to_json(), "entries": [{"period": "2026-11"}]}):
        with pytest.raises(InvalidInputError):
            PrivacyLedger.from_json(bad)  # type: ignore[arg-type]


def test_ledger_file_charges_atomically_across_writers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    with pytest.raises(InvalidInputError, match="budget"):
        LedgerFile(path).charge("2026-11", 0.1, release_id="a", now=NOW)
    results: list[str] = []

    def charge(i: int) -> None:
        try:
            LedgerFile(path, budget_per_period=1.0).charge("2026-11", 0.1, release_id=f"r{i}", now=NOW)
            results.append("ok")
        except PrivacyBudgetExceededError:
            results.append("refused")

    threads = [threading.Thread(target=charge, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 10 and results.count("refused") == 6
    stored = LedgerFile(path).read()
    assert stored.spent("2026-11") == 1 and len(stored.entries) == 10
    with pytest.raises(InvalidInputError, match="another budget"):
        LedgerFile(path, budget_per_period=2.0).read()
