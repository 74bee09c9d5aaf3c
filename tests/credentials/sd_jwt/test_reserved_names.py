"""Reserved SD-JWT names (``_sd``, ``...``, ``_sd_alg``) never become claims, at any depth (RFC 9901 §7.1).

A Disclosure that names one is refused wherever its digest sits, and so is a plain member that uses
``_sd_alg`` below the top level or ``...`` outside an array element; the issuer refuses to sign such
claims in the first place.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.credentials.sd_jwt.conftest import AUD, ISSUER, KID, NONCE, NOW, VCT, sign_compact
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import issue_sd_jwt_vc, verify_presentation_with_key, verify_sd_jwt
from vcsdk.credentials.sd_jwt import issue
from vcsdk.errors import DisclosureError, InvalidInputError
from vcsdk.keys import Key

ISSUER_KEY = Key.generate("P-256").with_kid(KID)
HOLDER_KEY = Key.generate("P-256")
TS = int(NOW.timestamp())
SALT = b64url_encode(b"0123456789abcdef")
RESERVED = ("_sd", "...", "_sd_alg")


def _encode(value: Any) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _dig(encoded: str) -> str:
    return b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())


def _token(payload: dict[str, Any], disclosures: list[str]) -> str:
    base = {"iss": ISSUER, "iat": TS, "vct": VCT, "_sd_alg": "sha-256", "cnf": {"jwk": HOLDER_KEY.public_jwk()}}
    header = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": KID}
    jwt = sign_compact(header, {**base, **payload}, ISSUER_KEY)
    return "~".join([jwt, *disclosures]) + "~"


def _present(token: str) -> str:
    sd_hash = b64url_encode(hashlib.sha256(token.encode()).digest())
    kb = {"iat": TS, "aud": AUD, "nonce": NONCE, "sd_hash": sd_hash}
    return token + sign_compact({"alg": "ES256", "typ": "kb+jwt"}, kb, HOLDER_KEY)


def _refused(token: str) -> None:
    with pytest.raises(DisclosureError) as info:
        verify_sd_jwt(token, issuer_key=ISSUER_KEY.public_key(), now=NOW)
    assert info.value.code == "reserved_claim_name", repr(info.value)
    with pytest.raises(DisclosureError) as info:
        verify_presentation_with_key(
            _present(token), issuer_key=ISSUER_KEY.public_key(), audience=AUD, nonce=NONCE, now=NOW
        )
    assert info.value.code == "reserved_claim_name", repr(info.value)


def test_a_disclosed_sd_alg_at_the_top_level_is_refused() -> None:
    # The top-level _sd_alg is read before the claims; a Disclosure of the same name must not slip in.
    bad = _encode([SALT, "_sd_alg", "sha-256"])
    _refused(_token({"_sd": [_dig(bad)]}, [bad]))


@pytest.mark.parametrize("name", RESERVED)
def test_a_disclosure_with_a_reserved_name_in_a_nested_object_is_refused(name: str) -> None:
    bad = _encode([SALT, name, "x"])
    _refused(_token({"address": {"locality": "Kaga", "_sd": [_dig(bad)]}}, [bad]))


def test_a_plain_nested_sd_alg_is_refused() -> None:
    _refused(_token({"address": {"locality": "Kaga", "_sd_alg": "sha-256"}}, []))


def test_a_plain_ellipsis_member_outside_an_array_element_is_refused() -> None:
    _refused(_token({"address": {"locality": "Kaga", "...": "x"}}, []))
    _refused(_token({"nationalities": [{"...": "x", "other": 1}]}, []))


def test_the_top_level_sd_alg_stays_out_of_the_claims() -> None:
    token = _token({}, [])
    assert "_sd_alg" not in verify_sd_jwt(token, issuer_key=ISSUER_KEY.public_key(), now=NOW).claims


@pytest.mark.parametrize("name", RESERVED)
def test_the_issuer_refuses_reserved_names_below_the_top_level(name: str) -> None:
    with pytest.raises(InvalidInputError):
        issue_sd_jwt_vc(
            {"address": {name: "x"}}, issuer=ISSUER, signer=ISSUER_KEY, vct=VCT, disclosable=[], now=NOW
        )
    with pytest.raises(InvalidInputError):
        issue({"a": [{name: 1}]}, signer=ISSUER_KEY)


# -- property: a reserved name at any depth, reached through any mix of containers ------------------

_WRAPS = st.sampled_from(["object", "array", "disclosed_property", "disclosed_element"])


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(RESERVED),
    plain=st.booleans(),
    wraps=st.lists(_WRAPS, max_size=5),
    salt=st.text("abcdefghij", min_size=16, max_size=24),
)
def test_reserved_names_at_any_depth_are_a_typed_error(name: str, plain: bool, wraps: list[str], salt: str) -> None:
    if plain and name == "_sd":
        name = "_sd_alg"  # a plain '_sd' is the digest array itself; its misuse has its own checks
    if plain and name == "_sd_alg" and not wraps:
        wraps = ["object"]  # a plain top-level _sd_alg is the real one
    disclosures: list[str] = []
    if plain:
        inner: dict[str, Any] = {"other": 1, name: "sha-256"}
    else:
        bad = _encode([salt, name, "x"])
        disclosures.append(bad)
        inner = {"other": 1, "_sd": [_dig(bad)]}
    value: Any = inner
    for i, wrap in enumerate(wraps):
        if wrap == "object":
            value = {f"w{i}": value}
        elif wrap == "array":
            value = [value]
        elif wrap == "disclosed_property":
            encoded = _encode([f"{salt}{i}", f"w{i}", value])
            disclosures.append(encoded)
            value = {"_sd": [_dig(encoded)]}
        else:
            encoded = _encode([f"{salt}{i}", value])
            disclosures.append(encoded)
            value = [{"...": _dig(encoded)}]
    payload = value if isinstance(value, dict) else {"nested": value}
    _refused(_token(payload, disclosures))
