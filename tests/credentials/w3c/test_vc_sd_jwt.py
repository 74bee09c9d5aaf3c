"""W3C VC secured as vc+sd-jwt: credentialSubject members disclosable, data model always visible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcsdk.credentials import VerificationPolicy, present
from vcsdk.credentials._w3c import build_credential, issue_vc_sd_jwt, verify_vc_sd_jwt
from vcsdk.credentials.sd_jwt import issue as raw_issue
from vcsdk.errors import (
    ClaimsError,
    KeyBindingError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenTypeError,
    UnsupportedAlgorithmError,
)
from vcsdk.keys import Key

ISSUER = "did:ethr:0x539:0x1111111111111111111111111111111111111111"
NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)
KEY = Key.generate("P-256").with_kid(ISSUER + "#k1")


def _vc() -> dict:
    return build_credential(
        issuer=ISSUER, types=["ResidentIdentityCredential"], valid_from=NOW, valid_until=NOW + timedelta(days=30),
        subject={"given_name": "Hanako", "address": {"locality": "Kaga", "street_address": "Daishoji 1-1"},
                 "age_equal_or_over": {"20": True}},
    )


def _issued() -> str:
    return issue_vc_sd_jwt(_vc(), KEY, disclosable=["given_name", "address.locality", "address.street_address",
                                                   "age_equal_or_over.20"])


def test_full_and_selective_disclosure() -> None:
    token = _issued()
    full = verify_vc_sd_jwt(token, KEY.public_key(), now=NOW)
    assert full.credential["credentialSubject"] == _vc()["credentialSubject"]
    assert full.issuer == ISSUER and full.credential_type == "ResidentIdentityCredential"
    chosen = present(token, disclose=[["credentialSubject", "address", "locality"]])
    part = verify_vc_sd_jwt(chosen, KEY, now=NOW)
    assert part.credential["credentialSubject"] == {"address": {"locality": "Kaga"}}
    nothing = present(token, disclose=[])
    assert verify_vc_sd_jwt(nothing, KEY, now=NOW).credential["credentialSubject"] == {}


def test_checks() -> None:
    token = _issued()
    with pytest.raises(SignatureInvalidError):
        verify_vc_sd_jwt(token, Key.generate("P-256"), now=NOW)
    with pytest.raises(UnsupportedAlgorithmError):
        verify_vc_sd_jwt(token, KEY, now=NOW, policy=VerificationPolicy(algorithms=("EdDSA",)))
    with pytest.raises(TokenExpiredError):
        verify_vc_sd_jwt(token, KEY, now=NOW + timedelta(days=31))
    wrong_typ = raw_issue(_vc(), signer=KEY, typ="dc+sd-jwt")
    with pytest.raises(TokenTypeError):
        verify_vc_sd_jwt(wrong_typ, KEY, now=NOW)
    hidden_type = raw_issue(_vc(), signer=KEY, typ="vc+sd-jwt", disclosable=[["type"]])
    with pytest.raises(ClaimsError):
        verify_vc_sd_jwt(hidden_type, KEY, now=NOW)
    holder = Key.generate("P-256")
    bound = issue_vc_sd_jwt(_vc(), KEY, disclosable=["given_name"], holder_key=holder.public_key())
    vp = present(bound, disclose=[["credentialSubject", "given_name"]], holder_signer=holder, audience="a",
                 nonce="n", now=NOW)
    with pytest.raises(KeyBindingError):
        verify_vc_sd_jwt(vp, KEY, now=NOW)


def test_jwt_exp_nbf_and_hidden_dates() -> None:
    from vcsdk.errors import ClaimsError, TokenNotYetValidError

    ts, day = int(NOW.timestamp()), 86400
    vc = build_credential(
        issuer=ISSUER, types=["ResidentIdentityCredential"], subject={"given_name": "Hanako"},
        valid_from=NOW - timedelta(days=2),
    )
    with pytest.raises(TokenExpiredError):
        verify_vc_sd_jwt(issue_vc_sd_jwt({**vc, "exp": ts - day}, KEY), KEY, now=NOW)
    with pytest.raises(TokenNotYetValidError):
        verify_vc_sd_jwt(issue_vc_sd_jwt({**vc, "nbf": ts + day}, KEY), KEY, now=NOW)
    verify_vc_sd_jwt(issue_vc_sd_jwt({**vc, "exp": ts + day, "nbf": ts - day}, KEY), KEY, now=NOW)
    # A date the holder could withhold is no date: exp must not be selectively disclosable.
    hidden = raw_issue({**vc, "exp": ts - day}, signer=KEY, typ="vc+sd-jwt", disclosable=[["exp"]])
    with pytest.raises(ClaimsError):
        verify_vc_sd_jwt(hidden, KEY, now=NOW)
