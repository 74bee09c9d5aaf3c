"""The stored credential's plaintext is the standard library's compact JSON, whatever the token holds."""

from __future__ import annotations

import json

import pytest

from wallet_server.services._describe import CredentialFacts
from wallet_server.services.credentials import _record_json


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln~WyJzIiwibiIsMV0~",  # compact: written as it is
        '{"payload":"e30","protected":"e30","signature":"c2ln"}',  # JWS JSON: quotes escaped
        "a\\b",  # backslash
        "a\x01b\x7fc",  # control characters and DEL
        "caf\u00e9",  # not ASCII
        "",
    ],
)
def test_the_record_is_the_encoders_text(token: str) -> None:
    meta = {"display": "card \u00e9", "n": [1, 2.5, None]}
    facts = CredentialFacts("did:example:issuer", None)
    record = {"credential": token, "metadata": meta, "issuer": facts.issuer, "vct": facts.vct}
    assert _record_json(token, meta, facts) == json.dumps(record, separators=(",", ":")).encode()
