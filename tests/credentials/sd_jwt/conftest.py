"""Shared keys, clock and helpers for the SD-JWT VC tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from vcsdk._b64 import b64url_encode
from vcsdk.credentials import issue_sd_jwt_vc
from vcsdk.keys import Key

ISSUER = "did:example:kaga-city"
KID = f"{ISSUER}#key-1"
VCT = "https://credentials.example/ResidentIdentityCredential"
AUD = "https://shop.example"
NONCE = "n-0S6_WzA2Mj"
NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

CLAIMS: dict[str, Any] = {
    "given_name": "Hanako",
    "family_name": "Kaga",
    "birthdate": "1990-04-01",
    "address": {"locality": "Kaga", "region": "Ishikawa", "street_address": "1-1 Daishoji"},
    "age_equal_or_over": {"18": True, "20": True, "65": False},
    "nationalities": ["JP", "FR"],
}
DISCLOSABLE: list[list[str | int | None]] = [
    ["given_name"],
    ["family_name"],
    ["birthdate"],
    ["address"],
    ["address", "locality"],
    ["address", "region"],
    ["address", "street_address"],
    ["age_equal_or_over", "18"],
    ["age_equal_or_over", "20"],
    ["age_equal_or_over", "65"],
    ["nationalities", None],
]


@pytest.fixture(scope="session")
def issuer_key() -> Key:
    return Key.generate("P-256").with_kid(KID)


@pytest.fixture(scope="session")
def holder_key() -> Key:
    return Key.generate("P-256")


@pytest.fixture
def credential(issuer_key: Key, holder_key: Key) -> str:
    return issue_sd_jwt_vc(
        CLAIMS,
        issuer=ISSUER,
        signer=issuer_key,
        vct=VCT,
        disclosable=DISCLOSABLE,
        holder_key=holder_key,
        now=NOW,
        decoys=2,
    )


def sign_compact(header: Mapping[str, Any], payload: Mapping[str, Any] | bytes, key: Key) -> str:
    """A compact JWS with exactly the header given (no defaults), for hand-made negative cases."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(body)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"
