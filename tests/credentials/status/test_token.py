"""Status List Token and BitstringStatusListCredential verification: each check has its own error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcsdk.credentials import VerificationPolicy
from vcsdk.credentials._status_list import (
    Bitstring,
    StatusListIssuer,
    TokenStatusList,
    issue_status_list_credential,
    issue_status_list_token,
    parse_status_claim,
    raise_for_status,
    verify_status_list_credential,
    verify_status_list_token,
)
from vcsdk.errors import (
    ClaimsError,
    CredentialRevokedError,
    CredentialStatusError,
    CredentialSuspendedError,
    InvalidTokenError,
    SignatureInvalidError,
    StatusListStaleError,
    TokenNotYetValidError,
    TokenTypeError,
    UnsupportedAlgorithmError,
)
from vcsdk.keys import Key, sign_jws

URI = "https://city.example/status/1"
NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)
KEY = Key.generate("P-256")


def _token(**kw: object) -> str:
    lst = TokenStatusList(64, bits=2)
    lst.set(5, 1)
    args = {"uri": URI, "now": NOW, "ttl": 300, "exp": NOW + timedelta(hours=1)} | kw
    return issue_status_list_token(lst, KEY, **args)  # type: ignore[arg-type]


def test_valid_token_verifies() -> None:
    v = verify_status_list_token(_token(), KEY.public_key(), uri=URI, now=NOW + timedelta(minutes=1))
    assert v.statuses.get(5) == 1 and v.ttl == 300 and v.uri == URI
    assert v.expires_at == NOW + timedelta(hours=1)


def test_wrong_key_is_signature_error() -> None:
    with pytest.raises(SignatureInvalidError):
        verify_status_list_token(_token(), Key.generate("P-256"), uri=URI, now=NOW)


def test_tampered_token_is_signature_error() -> None:
    t = _token()
    h, p, s = t.split(".")
    bad = f"{h}.{p}.{s[:-4]}{'AAAA' if s[-4:] != 'AAAA' else 'BBBB'}"
    with pytest.raises(SignatureInvalidError):
        verify_status_list_token(bad, KEY, uri=URI, now=NOW)


def test_wrong_typ_is_typ_error() -> None:
    token = sign_jws({"sub": URI, "iat": 1, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}, KEY, typ="JWT")
    with pytest.raises(TokenTypeError):
        verify_status_list_token(token, KEY, uri=URI, now=NOW)


def test_disallowed_alg_is_algorithm_error() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        verify_status_list_token(_token(), KEY, uri=URI, now=NOW, policy=VerificationPolicy(algorithms=("EdDSA",)))


def test_sub_must_equal_uri() -> None:
    with pytest.raises(ClaimsError, match="sub"):
        verify_status_list_token(_token(), KEY, uri="https://city.example/status/2", now=NOW)


def test_expired_token_is_stale() -> None:
    with pytest.raises(StatusListStaleError):
        verify_status_list_token(_token(), KEY, uri=URI, now=NOW + timedelta(hours=2))


def test_token_older_than_max_age_is_stale() -> None:
    with pytest.raises(StatusListStaleError):
        verify_status_list_token(
            _token(exp=None), KEY, uri=URI, now=NOW + timedelta(days=2), max_age=timedelta(days=1)
        )


def test_future_iat_is_not_yet_valid() -> None:
    with pytest.raises(TokenNotYetValidError):
        verify_status_list_token(_token(), KEY, uri=URI, now=NOW - timedelta(hours=1))


def test_missing_iat_is_claims_error() -> None:
    token = sign_jws({"sub": URI, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}, KEY, typ="statuslist+jwt")
    with pytest.raises(ClaimsError):
        verify_status_list_token(token, KEY, uri=URI, now=NOW)


def test_garbage_list_is_invalid_token() -> None:
    token = sign_jws({"sub": URI, "iat": 1, "status_list": {"bits": 1, "lst": "!!"}}, KEY, typ="statuslist+jwt")
    with pytest.raises(InvalidTokenError):
        verify_status_list_token(token, KEY, uri=URI, now=NOW)


def test_status_values_map_to_errors() -> None:
    raise_for_status(0)
    with pytest.raises(CredentialRevokedError):
        raise_for_status(1)
    with pytest.raises(CredentialSuspendedError):
        raise_for_status(2)
    with pytest.raises(CredentialStatusError) as info:
        raise_for_status(3)
    assert type(info.value) is CredentialStatusError
    with pytest.raises(CredentialRevokedError):
        raise_for_status(1, purpose="revocation")
    with pytest.raises(CredentialSuspendedError):
        raise_for_status(1, purpose="suspension")


def test_issuer_publish_verifies() -> None:
    issuer = StatusListIssuer(URI, size=1024)
    idx = parse_status_claim(issuer.allocate()).idx
    issuer.suspend(idx)
    v = verify_status_list_token(issuer.publish(KEY, now=NOW), KEY, uri=URI, now=NOW)
    assert v.statuses.get(idx) == 2 and v.digest == issuer.digest and v.ttl == 300


W3C_URL = "https://city.example/w3c/rev/1"
ISSUER = "did:ethr:0x7a69:0x1111111111111111111111111111111111111111"


def _w3c(**kw: object) -> str:
    bits = Bitstring()
    bits.set(42, 1)
    args = {"url": W3C_URL, "issuer": ISSUER, "purpose": "revocation", "now": NOW, "ttl": timedelta(minutes=5)} | kw
    return issue_status_list_credential(bits, KEY, **args)  # type: ignore[arg-type]


def test_w3c_list_credential_verifies() -> None:
    v = verify_status_list_credential(_w3c(), KEY, url=W3C_URL, purpose="revocation", now=NOW)
    assert v.statuses.get(42) == 1 and v.statuses.get(41) == 0 and v.ttl == 300 and v.issuer == ISSUER


def test_w3c_list_credential_checks() -> None:
    with pytest.raises(ClaimsError, match="id"):
        verify_status_list_credential(_w3c(), KEY, url="https://other.example/x", purpose="revocation", now=NOW)
    with pytest.raises(ClaimsError, match="purpose"):
        verify_status_list_credential(_w3c(), KEY, url=W3C_URL, purpose="suspension", now=NOW)
    with pytest.raises(SignatureInvalidError):
        verify_status_list_credential(_w3c(), Key.generate("P-256"), url=W3C_URL, purpose="revocation", now=NOW)
    with pytest.raises(StatusListStaleError):
        verify_status_list_credential(
            _w3c(valid_until=NOW + timedelta(hours=1)), KEY, url=W3C_URL, purpose="revocation",
            now=NOW + timedelta(hours=3),
        )
    with pytest.raises(StatusListStaleError):
        verify_status_list_credential(
            _w3c(), KEY, url=W3C_URL, purpose="revocation", now=NOW + timedelta(days=3), max_age=timedelta(days=1)
        )
    with pytest.raises(ClaimsError):
        verify_status_list_credential(_w3c(), KEY, url=W3C_URL, purpose="revocation", now=NOW,
                                      expected_issuer="did:example:other")
