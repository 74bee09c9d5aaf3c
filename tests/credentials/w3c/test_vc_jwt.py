"""W3C VC DM 2.0 as vc+jwt: issue, verify, and one negative test per check."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcsdk.credentials import VerificationPolicy
from vcsdk.credentials._w3c import (
    VC_V2_CONTEXT,
    build_credential,
    issue_vc_jwt,
    peek_vc_jwt,
    validate_credential,
    verify_vc,
    verify_vc_jwt,
)
from vcsdk.errors import (
    ClaimsError,
    CredentialRevokedError,
    CredentialStatusError,
    InvalidTokenError,
    IssuerNotAccreditedError,
    KeyNotFoundError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenTypeError,
    UnsupportedAlgorithmError,
    UntrustedKeyError,
    VerificationError,
)
from vcsdk.keys import Key, sign_jws

ISSUER = "did:ethr:0x7a69:0x1111111111111111111111111111111111111111"
KID = ISSUER + "#controller"
NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)
KEY = Key.generate("secp256k1").with_kid(KID)
STATUS = {
    "id": "https://city.example/w3c/rev/1#7",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "7",
    "statusListCredential": "https://city.example/w3c/rev/1",
}
NO_STATUS = VerificationPolicy(check_status=False)


def _vc(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "types": ["ResidentIdentityCredential"],
        "subject": {"id": "did:key:z6Mk-holder", "locality": "Kaga"},
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=365),
        "status": STATUS,
    } | kw
    return build_credential(**args)


def test_issue_and_verify() -> None:
    token = issue_vc_jwt(_vc(), KEY)
    v = verify_vc_jwt(token, KEY.public_key(), now=NOW)
    assert v.issuer == ISSUER and v.credential_type == "ResidentIdentityCredential"
    assert v.kid == KID and v.alg == "ES256K" and v.status == [STATUS]
    peek = peek_vc_jwt(token)
    assert peek.header["typ"] == "vc+jwt" and peek.unverified_issuer == ISSUER


def test_payload_is_the_credential() -> None:
    vc = _vc()
    token = issue_vc_jwt(vc, KEY, cty=True)
    assert peek_vc_jwt(token).unverified_credential == vc
    assert peek_vc_jwt(token).header["cty"] == "vc"
    verify_vc_jwt(token, KEY, now=NOW)


def test_signature() -> None:
    token = issue_vc_jwt(_vc(), KEY)
    with pytest.raises(SignatureInvalidError):
        verify_vc_jwt(token, Key.generate("secp256k1"), now=NOW)


def test_typ() -> None:
    token = sign_jws(_vc(), KEY, typ="JWT")
    with pytest.raises(TokenTypeError):
        verify_vc_jwt(token, KEY, now=NOW)


def test_cty_other_than_vc() -> None:
    token = sign_jws(_vc(), KEY, typ="vc+jwt", header={"cty": "json"})
    with pytest.raises(TokenTypeError):
        verify_vc_jwt(token, KEY, now=NOW)


def test_alg() -> None:
    token = issue_vc_jwt(_vc(), KEY)
    with pytest.raises(UnsupportedAlgorithmError):
        verify_vc_jwt(token, KEY, now=NOW, policy=VerificationPolicy(algorithms=("ES256",)))


def test_embedded_key_refused() -> None:
    token = sign_jws(_vc(), KEY, typ="vc+jwt", header={"jwk": KEY.public_jwk()})
    with pytest.raises(UntrustedKeyError):
        verify_vc_jwt(token, KEY, now=NOW)


def test_valid_from_and_until_with_leeway() -> None:
    token = issue_vc_jwt(_vc(), KEY)
    with pytest.raises(TokenNotYetValidError):
        verify_vc_jwt(token, KEY, now=NOW - timedelta(days=2))
    with pytest.raises(TokenExpiredError):
        verify_vc_jwt(token, KEY, now=NOW + timedelta(days=366))
    edge = NOW - timedelta(days=1) - timedelta(seconds=30)
    verify_vc_jwt(token, KEY, now=edge)  # inside the 60 s leeway
    with pytest.raises(TokenNotYetValidError):
        verify_vc_jwt(token, KEY, now=edge, policy=VerificationPolicy(leeway=timedelta(0)))


def _jwt_dated(**dates: Any) -> str:
    vc = build_credential(
        issuer=ISSUER, types=["ResidentIdentityCredential"], subject={"id": "did:key:z6Mk-holder"},
        valid_from=NOW - timedelta(days=2),
    )
    return sign_jws({**vc, **dates}, KEY, typ="vc+jwt")


DAY = int(timedelta(days=1).total_seconds())
TS = int(NOW.timestamp())


def test_jwt_exp_and_nbf_are_checked_with_leeway() -> None:
    # No validFrom/validUntil: the JWT claims alone carry the validity window (RFC 7519 §4.1.4-5).
    with pytest.raises(TokenExpiredError) as expired:
        verify_vc_jwt(_jwt_dated(exp=TS - DAY), KEY, now=NOW)
    assert expired.value.code == "token_expired"
    with pytest.raises(TokenNotYetValidError) as early:
        verify_vc_jwt(_jwt_dated(nbf=TS + DAY), KEY, now=NOW)
    assert early.value.code == "token_not_yet_valid"
    with pytest.raises(TokenNotYetValidError):
        verify_vc_jwt(_jwt_dated(iat=TS + DAY), KEY, now=NOW)
    # Inside the 60 s leeway both pass; without leeway both fail.
    verify_vc_jwt(_jwt_dated(exp=TS - 30, nbf=TS + 30, iat=TS + 30), KEY, now=NOW)
    with pytest.raises(TokenExpiredError):
        verify_vc_jwt(_jwt_dated(exp=TS - 30), KEY, now=NOW, policy=VerificationPolicy(leeway=timedelta(0)))
    with pytest.raises(TokenNotYetValidError):
        verify_vc_jwt(_jwt_dated(nbf=TS + 30), KEY, now=NOW, policy=VerificationPolicy(leeway=timedelta(0)))
    with pytest.raises(ClaimsError) as bad:
        verify_vc_jwt(_jwt_dated(exp="tomorrow"), KEY, now=NOW)
    assert bad.value.code == "invalid_numeric_date"


async def test_verify_vc_refuses_an_expired_jwt() -> None:
    with pytest.raises(TokenExpiredError):
        await verify_vc(_jwt_dated(exp=TS - DAY), resolver=_Resolver(KEY), now=NOW, policy=NO_STATUS)


def _signed(vc: dict[str, Any]) -> str:
    return sign_jws(vc, KEY, typ="vc+jwt")


BROKEN: dict[str, Any] = {
    "context-first": lambda vc: vc.__setitem__("@context", ["https://example.org/other", VC_V2_CONTEXT]),
    "context-missing": lambda vc: vc.pop("@context"),
    "type-no-vc": lambda vc: vc.__setitem__("type", ["ResidentIdentityCredential"]),
    "issuer-missing": lambda vc: vc.pop("issuer"),
    "issuer-not-url": lambda vc: vc.__setitem__("issuer", "city hall"),
    "subject-missing": lambda vc: vc.pop("credentialSubject"),
    "subject-empty": lambda vc: vc.__setitem__("credentialSubject", {}),
    "validfrom-no-zone": lambda vc: vc.__setitem__("validFrom", "2026-01-01T00:00:00"),
    "validuntil-before-from": lambda vc: vc.__setitem__("validUntil", "2020-01-01T00:00:00Z"),
    "status-no-type": lambda vc: vc["credentialStatus"].pop("type"),
    "status-index-number": lambda vc: vc["credentialStatus"].__setitem__("statusListIndex", 7),
    "status-no-list": lambda vc: vc["credentialStatus"].pop("statusListCredential"),
    "status-empty-list": lambda vc: vc.__setitem__("credentialStatus", []),
    "jwt-iss-differs": lambda vc: vc.__setitem__("iss", "did:example:other"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_data_model_shape(case: str) -> None:
    vc = copy.deepcopy(_vc())
    BROKEN[case](vc)
    with pytest.raises(ClaimsError):
        verify_vc_jwt(_signed(vc), KEY, now=NOW)
    if case != "jwt-iss-differs":
        with pytest.raises(ClaimsError):
            issue_vc_jwt(vc, KEY)


def test_expected_issuer() -> None:
    with pytest.raises(ClaimsError):
        verify_vc_jwt(issue_vc_jwt(_vc(), KEY), KEY, now=NOW, expected_issuer="did:example:x")


def test_validate_rejects_non_object() -> None:
    with pytest.raises(ClaimsError):
        validate_credential(["not", "an", "object"])


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_parser_raises_only_invalid_input(data: bytes | str) -> None:
    try:
        peek_vc_jwt(data)
    except InvalidTokenError:
        pass
    except ValueError as exc:  # InvalidInputError subclasses
        assert type(exc).__module__ == "vcsdk.errors"


_TOKEN = issue_vc_jwt(_vc(), KEY)


@given(st.integers(0, len(_TOKEN) - 1), st.sampled_from("AQgw_-."))
def test_flipping_any_character_fails_verification(pos: int, ch: str) -> None:
    if _TOKEN[pos] == ch:
        return
    bad = _TOKEN[:pos] + ch + _TOKEN[pos + 1 :]
    try:
        verify_vc_jwt(bad, KEY, now=NOW)
    except (VerificationError, InvalidTokenError, UnsupportedAlgorithmError):
        return
    # Some base64 positions only touch padding bits; strict decoding refuses those too.
    pytest.fail("tampered token verified")


class _Resolver:
    def __init__(self, key: Key) -> None:
        self.key = key

    async def resolve_key(self, issuer: str, kid: str | None, *, relationship: str = "assertionMethod",
                          at: datetime | None = None) -> Key:
        if issuer != ISSUER or kid != KID:
            raise KeyNotFoundError("no such key")
        return self.key.public_key()


class _Status:
    def __init__(self, revoked: bool) -> None:
        self.revoked = revoked
        self.seen: list[dict[str, Any]] = []

    async def check(self, status: Any, *, issuer: str, now: datetime) -> None:
        self.seen.append(dict(status))
        if self.revoked:
            raise CredentialRevokedError("revoked")


class _Trust:
    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.calls: list[tuple[str, str]] = []

    async def check(self, issuer: str, credential_type: str, *, issued_at: datetime, now: datetime) -> None:
        self.calls.append((issuer, credential_type))
        if not self.ok:
            raise IssuerNotAccreditedError("no")


async def test_recipe_runs_status_and_accreditation() -> None:
    token = issue_vc_jwt(_vc(), KEY)
    status, trust = _Status(False), _Trust(True)
    v = await verify_vc(token, resolver=_Resolver(KEY), status=status, accreditation=trust, now=NOW)
    assert v.issuer == ISSUER and status.seen == [STATUS]
    assert trust.calls == [(ISSUER, "ResidentIdentityCredential")]
    with pytest.raises(CredentialStatusError) as info:
        await verify_vc(token, resolver=_Resolver(KEY), now=NOW)
    assert info.value.code == "status_not_checked"
    await verify_vc(token, resolver=_Resolver(KEY), accreditation=trust, now=NOW, policy=NO_STATUS,
                    accreditation_type="https://credentials.kaga.example/ResidentIdentityCredential")
    assert trust.calls[-1] == (ISSUER, "https://credentials.kaga.example/ResidentIdentityCredential")
    with pytest.raises(CredentialRevokedError):
        await verify_vc(token, resolver=_Resolver(KEY), status=_Status(True), now=NOW)
    with pytest.raises(IssuerNotAccreditedError):
        await verify_vc(token, resolver=_Resolver(KEY), accreditation=_Trust(False), now=NOW)
    other = issue_vc_jwt(_vc(), KEY.with_kid(ISSUER + "#other"))
    with pytest.raises(KeyNotFoundError):
        await verify_vc(other, resolver=_Resolver(KEY), now=NOW)
