"""Every numeric date claim goes through one gate: any JSON number gives a result or a typed error.

A validly signed token may carry ``exp: 1e400`` (a float infinity once parsed), ``1e18`` or
``-1e18`` (beyond what ``datetime`` holds), ``253402300800`` (the year 10000), a boolean or a
string. None of them may escape as ``OverflowError``, ``OSError`` or ``ValueError``: each token kind
below is signed with such a value in each of its date claims and must answer with the project's
error tree (and the ``invalid_numeric_date`` code where the value is not a date at all).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.credentials.sd_jwt.conftest import AUD, ISSUER, KID, NONCE, NOW, VCT
from tests.receipts._factories import T0 as RECEIPT_T0
from tests.receipts._factories import make_consent, make_receipt, service_key
from tests.registration._factories import CITY_DID, CITY_KEY, registration_token
from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._time import MAX_NUMERIC_DATE, from_numeric_date, numeric_date
from vcsdk.credentials import (
    TokenStatusList,
    issue_sd_jwt_vc,
    issue_status_list_token,
    present,
    verify_presentation_with_key,
    verify_sd_jwt,
    verify_status_list_token,
)
from vcsdk.credentials._w3c import build_credential, issue_vc_jwt, issue_vc_sd_jwt, verify_vc_jwt, verify_vc_sd_jwt
from vcsdk.errors import ClaimsError, InvalidInputError, VcsdkError, VerificationError
from vcsdk.keys import Key
from vcsdk.receipts import verify_access_receipt
from vcsdk.registration import verify_registration

ISSUER_KEY = Key.generate("P-256").with_kid(KID)
HOLDER_KEY = Key.generate("P-256")
W3C_ISSUER = "did:ethr:0x7a69:0x1111111111111111111111111111111111111111"
W3C_KEY = Key.generate("secp256k1").with_kid(W3C_ISSUER + "#controller")

#: JSON number texts found breaking date handling, and their neighbours.
BAD_NUMBERS = [
    "1e400", "-1e400", "1e18", "-1e18", "253402300800", "253402300799.9999999", "1e308", "-1", "-0.5",
    "99999999999999999999999999999999999999", "1E19", "0.0000001", "true", "false", '"1775000000"', "[]", "{}",
]


def resign(token: str, key: Key, claim: str, raw: str) -> str:
    """The compact JWS ``token`` with its payload's ``claim`` set to the raw JSON text ``raw``, signed again."""
    header_b64, payload_b64, _ = token.split(".")
    payload = json.loads(b64url_decode(payload_b64))
    payload[claim] = "@@DATE@@"
    body = json.dumps(payload, separators=(",", ":")).replace('"@@DATE@@"', raw).encode()
    signing_input = f"{header_b64}.{b64url_encode(body)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"


def _typed(call: Callable[[], object], error: type[Exception] = VerificationError) -> str:
    """Run a verification: a result, or an error of the tree (never a bare Python exception)."""
    try:
        call()
    except VcsdkError as exc:
        assert isinstance(exc, error), repr(exc)
        return exc.code
    return "ok"


json_numbers = (
    st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(0, MAX_NUMERIC_DATE + 10)
)


def _raw(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


any_date = json_numbers.map(_raw) | st.sampled_from(BAD_NUMBERS)


# -- the gate itself --------------------------------------------------------------------------------


@given(value=json_numbers | st.sampled_from([math.inf, -math.inf, math.nan, True, False, "1", None, 10**400]))
@example(value=1e400)
@example(value=10**18)
@example(value=-(10**18))
@example(value=253402300800)
def test_the_gate_turns_any_value_into_a_time_or_the_typed_error(value: Any) -> None:
    try:
        when = from_numeric_date(value, what="exp", error=ClaimsError)
    except ClaimsError as exc:
        assert exc.code == "invalid_numeric_date"
        return
    assert isinstance(when, datetime) and when.tzinfo is not None
    assert 0 <= numeric_date(value, what="exp") <= MAX_NUMERIC_DATE


def test_the_gate_bounds() -> None:
    assert from_numeric_date(0, what="x") == datetime(1970, 1, 1, tzinfo=UTC)
    assert from_numeric_date(MAX_NUMERIC_DATE, what="x").year == 9999
    assert from_numeric_date(1.5, what="x") == datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)
    for bad in (MAX_NUMERIC_DATE + 1, -1, math.inf, math.nan, True, "0"):
        with pytest.raises(InvalidInputError):
            from_numeric_date(bad, what="x")
    with pytest.raises(InvalidInputError):
        from_numeric_date(1.5, what="x", whole=True)


# -- SD-JWT VC and its KB-JWT ---------------------------------------------------------------------


def _sd_jwt() -> str:
    return issue_sd_jwt_vc(
        {"given_name": "Hanako"}, issuer=ISSUER, signer=ISSUER_KEY, vct=VCT, disclosable=[["given_name"]],
        holder_key=HOLDER_KEY, now=NOW, expires_at=NOW + timedelta(days=1),
    )


SD_JWT = _sd_jwt()


@settings(max_examples=40, deadline=None)
@given(claim=st.sampled_from(["iat", "nbf", "exp"]), raw=any_date)
@example(claim="exp", raw="1e400")
@example(claim="exp", raw="1e18")
@example(claim="iat", raw="-1e18")
@example(claim="exp", raw="253402300800")
def test_sd_jwt_date_claims(claim: str, raw: str) -> None:
    jwt, rest = SD_JWT.split("~", 1)
    token = resign(jwt, ISSUER_KEY, claim, raw) + "~" + rest
    _typed(lambda: verify_sd_jwt(token, issuer_key=ISSUER_KEY.public_key(), now=NOW))


@pytest.mark.parametrize("raw", ["1e400", "1e18", "-1e18", "253402300800", "true", '"soon"'])
def test_sd_jwt_impossible_dates_are_invalid_numeric_date(raw: str) -> None:
    jwt, rest = SD_JWT.split("~", 1)
    for claim in ("iat", "nbf", "exp"):
        token = resign(jwt, ISSUER_KEY, claim, raw) + "~" + rest
        assert _typed(lambda t=token: verify_sd_jwt(t, issuer_key=ISSUER_KEY.public_key(), now=NOW)) == (
            "invalid_numeric_date"
        )


@settings(max_examples=40, deadline=None)
@given(claim=st.sampled_from(["iat", "nbf", "exp"]), raw=any_date)
@example(claim="iat", raw="1e400")
@example(claim="exp", raw="-1e18")
def test_kb_jwt_date_claims(claim: str, raw: str) -> None:
    presentation = present(
        SD_JWT, disclose=[["given_name"]], holder_signer=HOLDER_KEY, audience=AUD, nonce=NONCE, now=NOW
    )
    head, kb = presentation.rsplit("~", 1)
    token = head + "~" + resign(kb, HOLDER_KEY, claim, raw)
    _typed(
        lambda: verify_presentation_with_key(
            token, issuer_key=ISSUER_KEY.public_key(), audience=AUD, nonce=NONCE, now=NOW
        )
    )


# -- W3C VC secured as vc+jwt and vc+sd-jwt ----------------------------------------------------------


def _vc() -> dict[str, Any]:
    return build_credential(
        issuer=W3C_ISSUER,
        types=["ResidentIdentityCredential"],
        subject={"id": "did:key:z6Mk-holder", "locality": "Kaga"},
        valid_from=NOW - timedelta(days=1),
    )


@settings(max_examples=30, deadline=None)
@given(claim=st.sampled_from(["iat", "nbf", "exp"]), raw=any_date)
@example(claim="exp", raw="1e400")
def test_vc_jwt_date_claims(claim: str, raw: str) -> None:
    token = resign(issue_vc_jwt(_vc(), W3C_KEY), W3C_KEY, claim, raw)
    _typed(lambda: verify_vc_jwt(token, W3C_KEY.public_key(), now=NOW))


@settings(max_examples=30, deadline=None)
@given(claim=st.sampled_from(["iat", "nbf", "exp"]), raw=any_date)
@example(claim="exp", raw="1e18")
def test_vc_sd_jwt_date_claims(claim: str, raw: str) -> None:
    jwt, rest = issue_vc_sd_jwt(_vc(), W3C_KEY, disclosable=["locality"]).split("~", 1)
    token = resign(jwt, W3C_KEY, claim, raw) + "~" + rest
    _typed(lambda: verify_vc_sd_jwt(token, W3C_KEY.public_key(), now=NOW))


# -- status list tokens, access receipts, registrations ----------------------------------------------

STATUS_URI = "https://city.example/status/1"


@settings(max_examples=30, deadline=None)
@given(claim=st.sampled_from(["iat", "exp"]), raw=any_date)
@example(claim="exp", raw="1e400")
@example(claim="iat", raw="1e18")
def test_status_list_token_date_claims(claim: str, raw: str) -> None:
    token = issue_status_list_token(
        TokenStatusList(16), ISSUER_KEY, uri=STATUS_URI, now=NOW, exp=NOW + timedelta(hours=1)
    )
    bad = resign(token, ISSUER_KEY, claim, raw)
    _typed(lambda: verify_status_list_token(bad, ISSUER_KEY.public_key(), uri=STATUS_URI, now=NOW))


RECEIPT_KEY = service_key()
CONSENT = make_consent()


@settings(max_examples=30, deadline=None)
@given(raw=any_date)
@example(raw="1e400")
@example(raw="-1e18")
def test_access_receipt_date_claims(raw: str) -> None:
    token = resign(make_receipt(RECEIPT_KEY, CONSENT), RECEIPT_KEY, "iat", raw)
    _typed(
        lambda: verify_access_receipt(
            token, consent=CONSENT, service_key=RECEIPT_KEY.public_key(), now=RECEIPT_T0 + timedelta(hours=1)
        )
    )


@settings(max_examples=30, deadline=None)
@given(claim=st.sampled_from(["iat", "exp"]), raw=any_date)
@example(claim="exp", raw="1e400")
def test_registration_date_claims(claim: str, raw: str) -> None:
    service = "did:ethr:0x539:0x2000000000000000000000000000000000000002"
    token = resign(registration_token(service), CITY_KEY, claim, raw)
    _typed(
        lambda: verify_registration(
            token, city_did=CITY_DID, city_key=CITY_KEY.public_key(), now=datetime(2026, 10, 2, tzinfo=UTC)
        )
    )
