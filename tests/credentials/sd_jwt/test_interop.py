"""Interop with the reference ``sd-jwt`` library (PyPI, 0.10.4): it verifies what vcsdk issues and
presents, with the same claims; vcsdk verifies what it issues (see also test_vectors.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jwcrypto.jwk import JWK

from tests.credentials.sd_jwt.conftest import AUD, CLAIMS, DISCLOSABLE, ISSUER, NONCE, VCT
from vcsdk.credentials import issue_sd_jwt_vc, present, verify_presentation_with_key
from vcsdk.keys import Key

pytestmark = pytest.mark.interop


def reference_verify(token: str, issuer: Key) -> dict[str, Any]:
    from sd_jwt.verifier import SDJWTVerifier

    public = JWK.from_json(json.dumps(issuer.public_jwk()))
    verifier = SDJWTVerifier(token, lambda iss, header: public, expected_aud=AUD, expected_nonce=NONCE)
    return dict(verifier.get_verified_payload())


@pytest.mark.parametrize(
    "disclose",
    [
        [["given_name"]],
        [["address", "locality"], ["age_equal_or_over", "20"]],
        [["nationalities", 1], ["address"]],
        [["nationalities", None], ["birthdate"], ["family_name"]],
        [],
    ],
    ids=["one", "nested", "array-element", "all-elements", "none"],
)
def test_reference_verifies_our_presentations(issuer_key: Key, holder_key: Key, disclose: list[Any]) -> None:
    now = datetime.now(UTC)  # the reference verifier does not check times; ours gets the same clock
    issued = issue_sd_jwt_vc(
        CLAIMS,
        issuer=ISSUER,
        signer=issuer_key,
        vct=VCT,
        disclosable=DISCLOSABLE,
        holder_key=holder_key,
        now=now,
        decoys=3,
    )
    token = present(issued, disclose=disclose, holder_signer=holder_key, audience=AUD, nonce=NONCE, now=now)
    ours = verify_presentation_with_key(token, issuer_key=issuer_key.public_key(), audience=AUD, nonce=NONCE, now=now)
    assert reference_verify(token, issuer_key) == ours.claims


def test_reference_issued_nested_and_array_disclosures_verify_in_vcsdk(holder_key: Key) -> None:
    from sd_jwt.common import SDObj
    from sd_jwt.holder import SDJWTHolder
    from sd_jwt.issuer import SDJWTIssuer

    issuer = Key.generate("P-256")
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "vct": VCT,
        "iat": int(now.timestamp()),
        SDObj("given_name"): "Hanako",
        SDObj("address"): {SDObj("locality"): "Kaga", SDObj("region"): "Ishikawa"},
        "nationalities": [SDObj("JP"), SDObj("FR")],
    }
    reference_issuer = SDJWTIssuer(
        claims,
        JWK.from_json(json.dumps(issuer.private_jwk())),
        JWK.from_json(json.dumps(holder_key.public_jwk())),
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt"},
    )
    holder = SDJWTHolder(reference_issuer.sd_jwt_issuance)
    holder.create_presentation(
        {"address": {"locality": True}, "nationalities": [False, True]},
        NONCE,
        AUD,
        JWK.from_json(json.dumps(holder_key.private_jwk())),
    )
    result = verify_presentation_with_key(
        holder.sd_jwt_presentation, issuer_key=issuer.public_key(), audience=AUD, nonce=NONCE, now=now
    )
    assert result.claims["address"] == {"locality": "Kaga"}
    assert result.claims["nationalities"] == ["FR"]
    assert "given_name" not in result.claims and result.key_bound
