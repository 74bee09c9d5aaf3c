"""The SD-JWT test cases (tests/vectors/sd-jwt) as data: one test per case, id = case name.

Each case runs through vcsdk end to end; the ``interop`` variant lets the reference ``sd-jwt``
library issue and present the case and vcsdk verify it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.credentials.sd_jwt.vectors import SD, Case, cases, settings
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import (
    VerificationPolicy,
    issue_sd_jwt_vc,
    present,
    sd_jwt,
    verify_presentation_with_key,
)
from vcsdk.errors import MalformedTokenError
from vcsdk.keys import Key

CASES = cases()
SETTINGS = settings()
ISSUER = SETTINGS["identifiers"]["issuer"]
AUDIENCE = SETTINGS["identifiers"]["verifier"]
NONCE = SETTINGS["key_binding_nonce"]
IAT = datetime.fromtimestamp(SETTINGS["iat"], tz=UTC)
EXP = datetime.fromtimestamp(SETTINGS["exp"], tz=UTC)
NOW = IAT + timedelta(minutes=10)
VCT = "https://credentials.example/test"
ISSUER_KEY = Key.from_jwk(SETTINGS["key_settings"]["issuer_keys"][0])
HOLDER_KEY = Key.from_jwk(SETTINGS["key_settings"]["holder_key"])
SECOND_ISSUER_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "d": "WsGosxrp0XK7VEviPL9xBm3fBb7Xys2vLhPGhESNoXY",
    "x": "bN-hp3IN0GZB3OlaQnHDPhY4nZsZbQyo4wY-y1NWCvA",
    "y": "vaSsH5jt9zt3aQvTvrSaFYLyjPG9Ug-2vntoNXlCbVU",
}
VC_CLAIMS = {"iss", "iat", "exp", "vct", "cnf"}
LENIENT = VerificationPolicy(require_key_binding=False)


def user_claims(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k not in VC_CLAIMS}


def _general(flattened: str) -> str:
    """RFC 9901 §8 general serialization: the Disclosures ride on the first of two signatures."""
    obj = json.loads(flattened)
    second = Key.from_jwk(SECOND_ISSUER_KEY)
    protected = b64url_encode(json.dumps({"alg": "ES256", "typ": "dc+sd-jwt", "kid": "issuer-key-2"}).encode())
    signature = b64url_encode(second.sign(f"{protected}.{obj['payload']}".encode()))
    return json.dumps(
        {
            "payload": obj["payload"],
            "signatures": [
                {"protected": obj["protected"], "signature": obj["signature"], "header": obj["header"]},
                {"protected": protected, "signature": signature},
            ],
        }
    )


def _issue(case: Case) -> str:
    holder = HOLDER_KEY if case.key_binding else None
    if case.serialization == "compact":
        return issue_sd_jwt_vc(
            case.claims,
            issuer=ISSUER,
            signer=ISSUER_KEY,
            vct=VCT,
            disclosable=case.disclosable,
            holder_key=holder,
            now=IAT,
            expires_at=EXP,
            kid=None if "kid" not in case.extra_header else str(case.extra_header["kid"]),
        )
    payload = {"iss": ISSUER, "iat": SETTINGS["iat"], "exp": SETTINGS["exp"], "vct": VCT, **case.claims}
    token = sd_jwt.issue(
        payload,
        signer=ISSUER_KEY,
        disclosable=case.disclosable,
        holder_key=holder,
        kid="issuer-key-1",
        serialization="json",
    )
    return _general(token) if case.name.endswith("general") else token


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_vcsdk_end_to_end(case: Case) -> None:
    issued = _issue(case)
    if case.key_binding:
        token = present(
            issued, disclose=case.disclose, holder_signer=HOLDER_KEY, audience=AUDIENCE, nonce=NONCE, now=NOW
        )
    else:
        token = present(issued, disclose=case.disclose)
    result = verify_presentation_with_key(
        token, issuer_key=ISSUER_KEY.public_key(), audience=AUDIENCE, nonce=NONCE, policy=LENIENT, now=NOW
    )
    assert user_claims(result.claims) == case.expected
    assert result.key_bound is case.key_binding
    if case.serialization == "json":
        assert sd_jwt.parse(token).serialization == "json"


# -- the reference library issues and presents, vcsdk verifies ------------------------------------


def _reference_claims(value: Any) -> Any:
    from sd_jwt.common import SDObj

    if isinstance(value, SD):
        return SDObj(_reference_claims(value.value))
    if isinstance(value, dict):
        return {(SDObj(k.value) if isinstance(k, SD) else k): _reference_claims(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reference_claims(v) for v in value]
    return value


@pytest.mark.interop
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reference_issued_cases_verify_in_vcsdk(case: Case) -> None:
    from jwcrypto.jwk import JWK
    from sd_jwt.holder import SDJWTHolder
    from sd_jwt.issuer import SDJWTIssuer

    issuer_jwk = JWK.from_json(json.dumps(SETTINGS["key_settings"]["issuer_keys"][0]))
    holder_jwk = JWK.from_json(json.dumps(SETTINGS["key_settings"]["holder_key"]))
    claims = {"iss": ISSUER, "iat": SETTINGS["iat"], "exp": SETTINGS["exp"], "vct": VCT}
    claims.update(_reference_claims(case.marked_claims))
    issuer = SDJWTIssuer(
        claims,
        issuer_jwk,
        holder_jwk if case.key_binding else None,
        serialization_format=case.serialization,
        extra_header_parameters={"typ": "dc+sd-jwt", **case.extra_header},
    )
    holder = SDJWTHolder(issuer.sd_jwt_issuance, serialization_format=case.serialization)
    holder.create_presentation(
        case.holder_choice,
        NONCE if case.key_binding else None,
        AUDIENCE if case.key_binding else None,
        holder_jwk if case.key_binding else None,
    )
    token = holder.sd_jwt_presentation
    if case.serialization == "json":
        # The reference library writes the pre-RFC layout (top-level "disclosures"/"kb_jwt");
        # RFC 9901 §8 moved them into the unprotected header, so vcsdk refuses this form.
        with pytest.raises(MalformedTokenError):
            sd_jwt.parse(token)
        return
    # The reference holder stamps the KB-JWT with the real clock.
    now = datetime.now(UTC) if case.key_binding else NOW
    result = verify_presentation_with_key(
        token, issuer_key=ISSUER_KEY.public_key(), audience=AUDIENCE, nonce=NONCE, policy=LENIENT, now=now
    )
    assert user_claims(result.claims) == case.expected
    assert result.key_bound is case.key_binding
