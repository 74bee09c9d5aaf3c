"""Credential types: schema validation, derived ages, disclosable paths, vct values."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcsdk.credentials._types import (
    RESIDENT_IDENTITY_CREDENTIAL,
    VOTING_ELIGIBILITY_CREDENTIAL,
    VctRegistry,
    age_equal_or_over,
    age_on,
    credential_schema,
    disclosable_paths,
    resident_identity_claims,
    validate_claims,
    voting_eligibility_claims,
)
from vcsdk.errors import ClaimsError, InvalidInputError

ADDRESS = {"postal_code": "922-8622", "region": "Ishikawa", "locality": "Kaga", "street_address": "Daishoji 1-1"}
VERIFICATION = {"level": "high", "method": "my_number_card", "time": "2026-03-31T09:00:00+09:00"}


def _resident(**kw: object) -> dict:
    args = {
        "family_name": "Yamada",
        "given_name": "Hanako",
        "birthdate": "2006-04-02",
        "address": ADDRESS,
        "resident_since": "2010-01-01",
        "verification": VERIFICATION,
        "as_of": date(2026, 4, 1),
    } | kw
    return resident_identity_claims(**args)  # type: ignore[arg-type]


def test_resident_claims_validate_and_derive_ages() -> None:
    claims = _resident()
    assert claims["age_equal_or_over"] == {"18": True, "20": False, "65": False}
    assert _resident(as_of=date(2026, 4, 2))["age_equal_or_over"]["20"] is True
    assert _resident(subject_id="did:key:z6Mk")["id"] == "did:key:z6Mk"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("birthdate", "2006-13-40"),
        ("address", {**ADDRESS, "postal_code": "ABC"}),
        ("address", {**ADDRESS, "country": "JP"}),
        ("verification", {**VERIFICATION, "level": "ultra"}),
        ("verification", {**VERIFICATION, "time": "yesterday"}),
        ("family_name", ""),
    ],
)
def test_resident_schema_refuses_bad_claims(field: str, value: object) -> None:
    claims = _resident()
    claims[field] = value
    with pytest.raises(ClaimsError) as info:
        validate_claims(RESIDENT_IDENTITY_CREDENTIAL, claims)
    # The message names the location, never the value.
    assert str(value) not in info.value.message or value == ""


def test_partial_validation_allows_missing_members_only() -> None:
    validate_claims(RESIDENT_IDENTITY_CREDENTIAL, {"address": {"locality": "Kaga"}, "age_equal_or_over": {"20": True}},
                    partial=True)
    with pytest.raises(ClaimsError):
        validate_claims(RESIDENT_IDENTITY_CREDENTIAL, {"address": {"locality": 5}}, partial=True)
    with pytest.raises(ClaimsError):
        validate_claims(RESIDENT_IDENTITY_CREDENTIAL, {"address": {"locality": "Kaga"}})


def test_voting_claims() -> None:
    claims = voting_eligibility_claims(
        election_id="kaga-2026-mayor", eligible=True, district="Kaga-3", birthdate="2008-04-10", as_of=date(2026, 4, 12)
    )
    assert claims == {"election_id": "kaga-2026-mayor", "eligible": True, "district": "Kaga-3", "age_over_18": True}
    assert "birthdate" not in claims
    direct = voting_eligibility_claims(election_id="e", eligible=False, district="d", age_over_18=False)
    assert direct["eligible"] is False
    with pytest.raises(InvalidInputError):
        voting_eligibility_claims(election_id="e", eligible=True, district="d")
    with pytest.raises(InvalidInputError):
        voting_eligibility_claims(election_id="e", eligible=True, district="d", birthdate="2000-01-01")
    with pytest.raises(ClaimsError):
        validate_claims(VOTING_ELIGIBILITY_CREDENTIAL, {"election_id": "e", "eligible": "yes", "district": "d",
                                                        "age_over_18": True})


def test_leap_day_birthday() -> None:
    born = date(2008, 2, 29)
    assert age_on(born, date(2026, 2, 28)) == 17
    assert age_on(born, date(2026, 3, 1)) == 18
    with pytest.raises(InvalidInputError):
        age_on(born, date(2000, 1, 1))


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 1, 1)), st.integers(0, 40000))
def test_age_flags_are_monotonic(born: date, days: int) -> None:
    as_of = date.fromordinal(min(born.toordinal() + days, date(2100, 1, 1).toordinal()))
    flags = age_equal_or_over(born, as_of)
    assert flags["18"] >= flags["20"] >= flags["65"]


def test_disclosable_paths_cover_every_schema_member() -> None:
    for name in (RESIDENT_IDENTITY_CREDENTIAL, VOTING_ELIGIBILITY_CREDENTIAL):
        schema = credential_schema(name)
        expected = set()
        for member, sub in schema["properties"].items():
            if member == "id":
                continue
            expected.add((member,))
            for child in sub.get("properties", {}):
                expected.add((member, child))
        assert set(disclosable_paths(name)) == expected
    with pytest.raises(InvalidInputError):
        disclosable_paths("Other")  # type: ignore[arg-type]


def test_vct_base_is_configurable() -> None:
    kaga = VctRegistry("https://credentials.kaga.example")
    assert kaga.resident_identity == "https://credentials.kaga.example/ResidentIdentityCredential"
    assert kaga.type_of(kaga.voting_eligibility) == VOTING_ELIGIBILITY_CREDENTIAL
    assert kaga.type_of("https://x.example/ResidentIdentityCredential") is None
    with pytest.raises(InvalidInputError):
        VctRegistry("http://insecure.example")
