"""Election values and the eligibility rules (registry values in; claims checked at the service)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from vcsdk.errors import ClaimsError, InvalidInputError
from vcsdk.kyc import ResidentAddress
from vcsdk.voting import DistrictRule, Election, assess_eligibility, check_eligibility_claims

from ._town import T0, tsukuba_election

ELECTION = tsukuba_election()
TSUKUBA = ResidentAddress(postal_code="305-0031", prefecture="茨城県", city="つくば市", street="吾妻三丁目5番地1")
KENKYU = ResidentAddress(postal_code="305-0817", prefecture="茨城県", city="つくば市", street="研究学園五丁目12番地3")
KAGA = ResidentAddress(postal_code="922-0064", prefecture="石川県", city="加賀市", street="大聖寺錦町1番地2")


def test_district_from_the_registered_address() -> None:
    assert ELECTION.district_of(TSUKUBA) == "tsukuba-a"
    assert ELECTION.district_of(KENKYU) == "tsukuba-c"
    assert ELECTION.district_of(KAGA) is None
    assert ELECTION.district_names == ("tsukuba-a", "tsukuba-b", "tsukuba-c")
    # A rule on the city alone, and one on postal codes alone.
    assert DistrictRule("kaga", city="加賀市").matches(KAGA)
    assert DistrictRule("north", postal_code_prefixes=("922-",)).matches(KAGA)
    assert not DistrictRule("north", city="つくば市", postal_code_prefixes=("922-",)).matches(KAGA)


@pytest.mark.parametrize(
    ("status", "birthdate", "address", "eligible", "reason", "over_18"),
    [
        ("active", date(1999, 9, 9), TSUKUBA, True, None, True),
        ("moved_out", date(1999, 9, 9), TSUKUBA, False, "not_active", True),
        ("deceased", date(1999, 9, 9), TSUKUBA, False, "not_active", True),
        ("active", date(1999, 9, 9), KAGA, False, "outside_districts", True),
        # 18 on the day after the election: not yet.
        ("active", date(2008, 2, 2), TSUKUBA, False, "under_age", False),
        # 18 on election day itself.
        ("active", date(2008, 2, 1), TSUKUBA, True, None, True),
        # Born on 29 February 2008: 17 on election day.
        ("active", date(2008, 2, 29), TSUKUBA, False, "under_age", False),
    ],
)
def test_assess_eligibility(status, birthdate, address, eligible, reason, over_18) -> None:  # type: ignore[no-untyped-def]
    decision = assess_eligibility(ELECTION, status=status, birthdate=birthdate, address=address)
    assert (decision.eligible, decision.reason, decision.age_over_18) == (eligible, reason, over_18)


def test_a_higher_voting_age_is_applied_to_eligible_but_not_to_age_over_18() -> None:
    senior = replace(ELECTION, minimum_age=20)
    decision = assess_eligibility(senior, status="active", birthdate=date(2007, 1, 1), address=TSUKUBA)
    assert decision == replace(decision, eligible=False, reason="under_age", age_over_18=True)


def test_birthdate_after_the_election_day_is_invalid() -> None:
    with pytest.raises(InvalidInputError):
        assess_eligibility(ELECTION, status="active", birthdate=date(2027, 1, 1), address=TSUKUBA)


GOOD = {"election_id": ELECTION.election_id, "eligible": True, "district": "tsukuba-b", "age_over_18": True}


def test_good_claims_give_the_district() -> None:
    assert check_eligibility_claims(ELECTION, GOOD) == "tsukuba-b"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"election_id": "kaga-2026-council"}, "wrong_election"),
        ({"election_id": None}, "wrong_election"),
        ({"eligible": False}, "not_eligible"),
        ({"eligible": "true"}, "not_eligible"),
        ({"district": "kaga-1"}, "wrong_district"),
        ({"district": None}, "wrong_district"),
        ({"age_over_18": False}, "under_age"),
        ({"age_over_18": None}, "under_age"),
    ],
)
def test_each_claim_check_has_its_code(change: dict, code: str) -> None:
    claims = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ClaimsError) as info:
        check_eligibility_claims(ELECTION, claims)
    assert info.value.code == code


@pytest.mark.parametrize(
    "change",
    [
        {"election_id": "bad id"},
        {"election_id": ""},
        {"title": ""},
        {"choices": ()},
        {"choices": ("A", "A")},
        {"choices": "AB"},
        {"districts": ()},
        {"opens_at": T0 + timedelta(days=2)},
        {"closes_at": datetime(2026, 2, 2)},
        {"minimum_age": -1},
        {"minimum_age": True},
        {"minimum_age": "18"},
        {"opens_at": "2026-02-01T00:00:00+00:00"},
        {"election_day": "2026-02-01"},
        {"election_day": T0},
    ],
)
def test_malformed_elections_are_refused(change: dict) -> None:
    with pytest.raises(InvalidInputError):
        replace(ELECTION, **change)


@pytest.mark.parametrize(
    "kwargs", [{"district": ""}, {"district": "x"}, {"district": "x", "postal_code_prefixes": "305"}]
)
def test_malformed_district_rules_are_refused(kwargs: dict) -> None:
    with pytest.raises(InvalidInputError):
        DistrictRule(**kwargs)


def test_from_json_refuses_malformed_descriptions() -> None:
    raw = dict(ELECTION.to_json())
    with pytest.raises(InvalidInputError):
        Election.from_json({**raw, "opens_at": "yesterday"})
    with pytest.raises(InvalidInputError):
        Election.from_json({**raw, "extra": 1})
    rule = {"district": "a", "city": None, "postal_code_prefixes": "305"}
    with pytest.raises(InvalidInputError):
        Election.from_json({**raw, "districts": [rule]})
    assert Election.from_json(raw).opens_at.tzinfo == UTC
