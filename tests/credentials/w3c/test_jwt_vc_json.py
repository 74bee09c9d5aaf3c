"""``jwt_vc_json`` (VC Data Model 1.1 as a JWT): verified through the same JOSE path and checks.

The issuer's key is resolved from its did:key by ``kid`` (vcsdk's own resolver), never taken from
the token; every failed check raises its own ``VerificationError`` subclass and code.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vcsdk.credentials import verify_jwt_vc_json, verify_vc
from vcsdk.credentials._w3c._jwt_vc_json import issue_jwt_vc_json
from vcsdk.did import did_key_for
from vcsdk.errors import (
    ClaimsError,
    CriticalHeaderError,
    DisallowedAlgorithmError,
    KeyNotFoundError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenTypeError,
    UntrustedKeyError,
    VerificationError,
)
from vcsdk.ethr import Resolver
from vcsdk.keys import Key, sign_jws

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SUBJECT = "did:example:resident"


def _vc(**extra: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential", "ResidentCredential"],
        "credentialSubject": {"id": SUBJECT, "locality": "Kaga"},
        **extra,
    }


@pytest.fixture(params=["P-256", "secp256k1", "Ed25519"])
def issuer(request: pytest.FixtureRequest) -> tuple[str, str, Key]:
    key = Key.generate(request.param)
    did = did_key_for(key)
    return did, f"{did}#{did.removeprefix('did:key:')}", key


def _claims(did: str, **over: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": did, "sub": SUBJECT, "nbf": int(NOW.timestamp()) - 60, "exp": int(NOW.timestamp()) + 3600,
        "jti": "urn:uuid:1", "vc": _vc(),
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: Key, kid: str, *, typ: str | None = "JWT", **header: Any) -> str:
    return sign_jws(claims, key, typ=typ, header={"kid": kid, **header})  # type: ignore[arg-type]


async def _verify(token: str) -> Any:
    resolver = Resolver(methods=("key",))
    try:
        return await verify_vc(token, resolver=resolver, now=NOW)
    finally:
        await resolver.close()


async def test_a_valid_credential_verifies_like_the_other_formats(issuer) -> None:  # type: ignore[no-untyped-def]
    did, kid, key = issuer
    token = issue_jwt_vc_json(_vc(), key, issuer=did, now=NOW - timedelta(minutes=1),
                              expires_at=NOW + timedelta(days=1), kid=kid)
    verified = await _verify(token)
    assert verified.issuer == did and verified.kid == kid
    assert verified.types == ("VerifiableCredential", "ResidentCredential")
    assert verified.credential_type == "ResidentCredential"
    assert verified.credential["credentialSubject"] == {"id": SUBJECT, "locality": "Kaga"}
    assert verified.credential["issuer"] == did
    assert verified.valid_from == NOW - timedelta(minutes=1) and verified.valid_until == NOW + timedelta(days=1)
    assert verify_jwt_vc_json(token, key, now=NOW).credential == verified.credential


CASES: list[tuple[str, dict[str, Any], dict[str, Any], type[VerificationError], str]] = [
    ("wrong typ", {}, {"typ": "vc+jwt"}, TokenTypeError, "invalid_typ"),
    ("no typ", {}, {"typ": None}, TokenTypeError, "invalid_typ"),
    ("vc claim missing", {"vc": None, "credential": _vc()}, {}, ClaimsError, "missing_claim"),
    ("vc not an object", {"vc": "x"}, {}, ClaimsError, "invalid_claims"),
    ("nbf in the future", {"nbf": int(NOW.timestamp()) + 3600}, {}, TokenNotYetValidError, "token_not_yet_valid"),
    ("exp in the past", {"exp": int(NOW.timestamp()) - 86400}, {}, TokenExpiredError, "token_expired"),
    ("nbf missing", {"nbf": None}, {}, ClaimsError, "missing_claim"),
    ("exp not a date", {"exp": 1e18}, {}, ClaimsError, ""),
    ("iss missing", {"iss": None}, {}, ClaimsError, "missing_claim"),
    ("nbf a string", {"nbf": "2026-01-01"}, {}, ClaimsError, ""),
    ("iss differs from vc.issuer", {"vc": _vc(issuer="did:example:other")}, {}, ClaimsError, "issuer_mismatch"),
    ("sub differs from the subject id", {"sub": "did:example:else"}, {}, ClaimsError, "subject_mismatch"),
    ("jti differs from vc.id", {"vc": _vc(id="urn:uuid:2")}, {}, ClaimsError, "id_mismatch"),
    ("VC DM 1.1 context missing", {"vc": {**_vc(), "@context": ["https://example.org"]}}, {}, ClaimsError,
     "invalid_claims"),
    ("crit", {}, {"crit": ["exp-ext"], "exp-ext": 1}, CriticalHeaderError, ""),
    ("key in the header", {}, {"jwk": Key.generate("P-256").public_jwk()}, UntrustedKeyError, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_with_its_own_error(issuer, case) -> None:  # type: ignore[no-untyped-def]
    did, kid, key = issuer
    _, over, header, error, code = case
    header = dict(header)
    typ = header.pop("typ", "JWT")
    token = _sign(_claims(did, **over), key, kid, typ=typ, **header)
    with pytest.raises(error) as refused:
        await _verify(token)
    if code:
        assert refused.value.code == code, refused.value.code
    assert isinstance(refused.value, VerificationError)


async def test_the_key_comes_from_the_issuers_did_not_the_token(issuer) -> None:  # type: ignore[no-untyped-def]
    did, kid, key = issuer
    intruder = Key.generate(key.curve)
    with pytest.raises(SignatureInvalidError):
        await _verify(_sign(_claims(did), intruder, kid))
    other = did_key_for(intruder)
    with pytest.raises(KeyNotFoundError):  # a kid of another DID than iss
        await _verify(_sign(_claims(did), intruder, f"{other}#{other.removeprefix('did:key:')}"))


async def test_algorithms_come_from_the_allow_list_and_the_key(issuer) -> None:  # type: ignore[no-untyped-def]
    did, kid, key = issuer
    token = _sign(_claims(did), key, kid)
    head = token.split(".")[0]
    for alg in ("none", "HS256", "RS256"):
        forged = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        forged["alg"] = alg
        new_head = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        with pytest.raises(DisallowedAlgorithmError):
            await _verify(".".join([new_head, *token.split(".")[1:]]))


async def test_a_vc_dm_2_payload_with_typ_jwt_is_still_a_wrong_typ(issuer) -> None:  # type: ignore[no-untyped-def]
    did, kid, key = issuer
    vc2 = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"], "issuer": did,
           "credentialSubject": {"id": SUBJECT}}
    with pytest.raises(TokenTypeError):
        await _verify(_sign(vc2, key, kid))
