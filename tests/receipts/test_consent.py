"""Consent records: fields, state changes, JSON round trip, per-service pseudonyms."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.receipts._factories import OTHER_DID, PRESENTATION, RESIDENT_SECRET, SERVICE_DID, T0, make_consent
from tests.registration._factories import make_registration
from vcsdk.errors import ConflictError, InvalidInputError
from vcsdk.receipts import ConsentEvent, ConsentRecord, presentation_hash, resident_pseudonym


def test_json_round_trip_given_and_withdrawn() -> None:
    consent = make_consent()
    assert ConsentRecord.from_json(consent.to_json()) == consent
    assert ConsentRecord.from_json(json.dumps(consent.to_json())) == consent
    withdrawn = consent.withdraw(now=T0 + timedelta(days=2))
    wire = withdrawn.to_json()
    assert wire["state"] == "withdrawn" and wire["withdrawn_at"] == "2026-11-03T09:00:00Z"
    assert ConsentRecord.from_json(withdrawn.to_bytes()) == withdrawn


def test_no_expiry_round_trip() -> None:
    consent = make_consent(expires_at=None)
    assert "expires_at" not in consent.to_json()
    assert ConsentRecord.from_json(consent.to_json()) == consent


def test_active_window() -> None:
    consent = make_consent().withdraw(now=T0 + timedelta(days=1))
    assert not consent.active_at(T0 - timedelta(seconds=1))
    assert consent.active_at(T0 + timedelta(hours=1))
    assert not consent.active_at(T0 + timedelta(days=1))
    assert not make_consent().active_at(T0 + timedelta(days=30))


def test_withdraw_twice_conflicts() -> None:
    consent = make_consent().withdraw(now=T0 + timedelta(days=1))
    with pytest.raises(ConflictError):
        consent.withdraw(now=T0 + timedelta(days=2))


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("version", "other"),
        ("record_id", ""),
        ("resident_pseudonym", "short"),
        ("controller", {"did": "not-a-did", "name": "x"}),
        ("purposes", []),
        ("claims_disclosed", ["given_name", "ssn"]),
        ("legal_basis", "because"),
        ("given_at", "yesterday"),
        ("given_at", "2026-11-01T09:00:00"),
        ("expires_at", "2026-10-01T09:00:00Z"),
        ("state", "withdrawn"),
        ("presentation_hash", "abc"),
        ("surprise", 1),
        ("notice", "http://shop.example/privacy"),
        ("registration_id", ""),
        ("data_categories", "age"),
        ("recipients", ["x"] * 65),
        ("retention_days", -1),
        ("jurisdiction", "Japan"),
        ("receipt_endpoint", "ftp://shop.example"),
        ("consent_type", "assumed"),
        ("events", []),
        ("events", [{"type": "given", "at": "2026-11-02T09:00:00Z", "by": "resident"}]),
        ("events", [{"type": "given", "at": "2026-11-01T09:00:00Z", "by": "service"}]),
    ],
)
def test_malformed_json_is_invalid_input(member: str, value: object) -> None:
    wire = dict(make_consent().to_json())
    wire[member] = value
    with pytest.raises(InvalidInputError):
        ConsentRecord.from_json(wire)


def test_duplicate_member_names_refused() -> None:
    text = json.dumps(make_consent().to_json())
    with pytest.raises(InvalidInputError):
        ConsentRecord.from_json(text[:-1] + ', "state": "given"}')


def test_pseudonym_is_keyed_and_per_service() -> None:
    a = resident_pseudonym(RESIDENT_SECRET, SERVICE_DID)
    assert a == resident_pseudonym(RESIDENT_SECRET, SERVICE_DID) and len(a) == 43
    assert a != resident_pseudonym(RESIDENT_SECRET, OTHER_DID)
    assert a != resident_pseudonym(bytes(32), SERVICE_DID)
    with pytest.raises(InvalidInputError):
        resident_pseudonym(b"short", SERVICE_DID)
    with pytest.raises(InvalidInputError):
        resident_pseudonym(RESIDENT_SECRET, "https://example.org")


@given(st.binary(min_size=32, max_size=64), st.binary(min_size=32, max_size=64))
def test_pseudonyms_of_two_residents_differ(s1: bytes, s2: bytes) -> None:
    if s1 != s2:
        assert resident_pseudonym(s1, SERVICE_DID) != resident_pseudonym(s2, SERVICE_DID)


@given(st.text(max_size=2000))
def test_from_json_text_raises_only_invalid_input(text: str) -> None:
    try:
        ConsentRecord.from_json(text)
    except InvalidInputError:
        pass


def test_the_iso_27560_fields_come_from_the_registration() -> None:
    consent = make_consent()
    reg = make_registration(SERVICE_DID, name="Kaga Library")
    wire = consent.to_json()
    assert wire["version"] == "vcsdk-consent-2"
    assert wire["controller"] == {"did": SERVICE_DID, "name": "Kaga Library"}
    assert wire["notice"] == reg.privacy_policy and wire["registration_id"] == reg.registration_id
    assert wire["data_categories"] == ["age", "name"]  # the registered claim sets of the disclosed claims
    assert wire["recipients"] == [] and wire["retention_days"] == 30 and wire["jurisdiction"] == "JP"
    assert wire["receipt_endpoint"] == reg.receipt_endpoint and wire["consent_type"] == "explicit"
    assert wire["events"] == [{"type": "given", "at": "2026-11-01T09:00:00Z", "by": "resident"}]
    withdrawn = consent.withdraw(now=T0 + timedelta(days=1, microseconds=5))
    assert withdrawn.events == (ConsentEvent("given", T0), ConsentEvent("withdrawn", T0 + timedelta(days=1)))
    assert ConsentRecord.from_json(withdrawn.to_json()) == withdrawn


def test_a_consent_needs_registered_purposes() -> None:
    with pytest.raises(InvalidInputError, match="registered purposes"):
        ConsentRecord.give(
            record_id="c", resident_pseudonym=resident_pseudonym(RESIDENT_SECRET, SERVICE_DID),
            registration=make_registration(SERVICE_DID), purposes=("marketing",), claims_requested=("age_over_18",),
            claims_disclosed=("age_over_18",), presentation_hash=presentation_hash(PRESENTATION), now=T0,
        )


def test_records_kept_before_the_iso_fields_are_still_read() -> None:
    legacy = {
        "version": "vcsdk-consent-1", "record_id": "old-1",
        "resident_pseudonym": resident_pseudonym(RESIDENT_SECRET, SERVICE_DID),
        "controller": {"did": SERVICE_DID, "name": "Kaga Library"}, "purposes": ["age_check"],
        "claims_requested": ["age_over_18"], "claims_disclosed": ["age_over_18"], "legal_basis": "consent",
        "given_at": "2026-11-01T09:00:00Z", "state": "given", "presentation_hash": presentation_hash(PRESENTATION),
    }
    record = ConsentRecord.from_json(legacy)
    assert record.registration_id is None and record.events == (ConsentEvent("given", T0),)
    assert record.to_json() == legacy  # written back as it was
    with pytest.raises(InvalidInputError):
        ConsentRecord.from_json({**legacy, "notice": "https://x.example/p"})
