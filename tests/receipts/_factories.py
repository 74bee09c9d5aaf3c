"""Shared builders for receipt tests: a service key under a DID, a consent, a signed receipt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.registration._factories import make_registration
from vcsdk.keys import Key
from vcsdk.receipts import (
    ConsentRecord,
    issue_access_receipt,
    presentation_hash,
    resident_pseudonym,
)

SERVICE_DID = "did:ethr:0x539:0x1111111111111111111111111111111111111111"
OTHER_DID = "did:ethr:0x539:0x2222222222222222222222222222222222222222"
RESIDENT_SECRET = bytes(range(32))
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PRESENTATION = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln~WyJzYWx0IiwiZmFtaWx5X25hbWUiLCJUYW5ha2EiXQ~kb"


def service_key(did: str = SERVICE_DID, curve: str = "P-256") -> Key:
    return Key.generate(curve).with_kid(f"{did}#key-1")  # type: ignore[arg-type]


def make_consent(
    *,
    did: str = SERVICE_DID,
    record_id: str = "consent-1",
    expires_at: datetime | None = T0 + timedelta(days=30),
    secret: bytes = RESIDENT_SECRET,
) -> ConsentRecord:
    return ConsentRecord.give(
        record_id=record_id,
        resident_pseudonym=resident_pseudonym(secret, did),
        registration=make_registration(did, name="Kaga Library"),
        purposes=("library_membership", "age_check"),
        claims_requested=("given_name", "family_name", "age_over_18", "address"),
        claims_disclosed=("family_name", "age_over_18"),
        presentation_hash=presentation_hash(PRESENTATION),
        now=T0,
        expires_at=expires_at,
    )


def make_receipt(
    key: Key,
    consent: ConsentRecord,
    *,
    receipt_id: str = "receipt-1",
    claims: tuple[str, ...] = ("age_over_18",),
    purpose: str = "age_check",
    at: datetime = T0 + timedelta(minutes=5),
) -> str:
    return issue_access_receipt(key, consent=consent, receipt_id=receipt_id, claims=claims, purpose=purpose, now=at)
