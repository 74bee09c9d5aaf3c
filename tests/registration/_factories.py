"""A city key and registrations for tests (the claim sets fit the receipt factories' claims)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vcsdk.keys import Key
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration, issue_registration

CITY_DID = "did:ethr:0x539:0x1000000000000000000000000000000000000001"
CITY_KEY = Key.generate("secp256k1").with_kid(CITY_DID + "#controller")
VCT = "https://city.example/credentials/ResidentIdentityCredential"
ISSUED = datetime(2026, 10, 1, tzinfo=UTC)


def make_registration(service_did: str, *, name: str = "Kaga Library", **changes: object) -> RelyingPartyRegistration:
    fields: dict[str, object] = {
        "issuer": CITY_DID,
        "service_did": service_did,
        "registration_id": "reg-" + service_did[-6:],
        "name": name,
        "purposes": (Purpose("age_check", "Check the age"), Purpose("library_membership", "Lend books")),
        "claim_sets": (ClaimSet("age", VCT, (("age_over_18",),)), ClaimSet("name", VCT, (("family_name",),))),
        "retention_days": 30,
        "receipt_endpoint": "https://service.example/receipts",
        "privacy_policy": "https://service.example/privacy",
        "jurisdiction": "JP",
        "issued_at": ISSUED,
        "expires_at": ISSUED + timedelta(days=365),
    }
    fields.update(changes)
    return RelyingPartyRegistration(**fields)  # type: ignore[arg-type]


def registration_token(service_did: str, **changes: object) -> str:
    return issue_registration(CITY_KEY, make_registration(service_did, **changes))
