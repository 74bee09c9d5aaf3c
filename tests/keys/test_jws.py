"""Compact JWS behind the allow-list: round trips, and every way a token may try to choose its key."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcsdk._b64 import b64url_encode
from vcsdk.errors import (
    InvalidInputError,
    InvalidTokenError,
    SignatureInvalidError,
    TokenTypeError,
    UnsupportedAlgorithmError,
    UntrustedKeyError,
    VcsdkError,
)
from vcsdk.keys import AlgorithmPolicy, Key, decode_jws, sign_jws, verify_jws


def _compact(header: dict[str, object], payload: dict[str, object], signature: bytes = b"") -> str:
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(json.dumps(payload).encode())
    return f"{h}.{p}.{b64url_encode(signature)}"


@pytest.mark.parametrize("curve", ["P-256", "secp256k1", "Ed25519"])
def test_every_allowed_algorithm_round_trips(curve: str) -> None:
    key = Key.generate(curve)  # type: ignore[arg-type]
    token = sign_jws({"sub": "x", "n": 1}, key, typ="example+jwt")
    verified = verify_jws(token, key.public_key(), typ="example+jwt")
    assert verified.claims() == {"sub": "x", "n": 1}
    assert verified.alg == key.alg
    assert verified.kid == key.kid


def test_alg_none_is_refused() -> None:
    key = Key.generate("P-256")
    token = _compact({"alg": "none"}, {"sub": "x"})
    with pytest.raises(UnsupportedAlgorithmError):
        verify_jws(token, key.public_key())


def test_missing_alg_is_refused() -> None:
    key = Key.generate("P-256")
    with pytest.raises(UnsupportedAlgorithmError):
        verify_jws(_compact({"typ": "JWT"}, {}), key.public_key())


def test_hs256_with_public_key_as_secret_is_refused() -> None:
    # The classic confusion attack: HMAC keyed with the verifier's public key bytes.
    key = Key.generate("P-256")
    secret = json.dumps(key.public_jwk()).encode()
    h = b64url_encode(json.dumps({"alg": "HS256"}).encode())
    p = b64url_encode(json.dumps({"sub": "attacker"}).encode())
    mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    with pytest.raises(UnsupportedAlgorithmError):
        verify_jws(f"{h}.{p}.{b64url_encode(mac)}", key.public_key())


@pytest.mark.parametrize("param", ["jwk", "jku", "x5u", "x5c"])
def test_header_embedded_key_is_refused(param: str) -> None:
    attacker = Key.generate("P-256")
    victim = Key.generate("P-256")
    value: object = attacker.public_jwk() if param == "jwk" else ["MIIB"] if param == "x5c" else "https://evil/k"
    token = sign_jws({"sub": "x"}, attacker, header={param: value})
    # Even when the caller passes the attacker's key, a token carrying its own key is refused…
    with pytest.raises(UntrustedKeyError):
        verify_jws(token, attacker.public_key())
    # …and the embedded key never verifies in place of the expected one.
    with pytest.raises(UntrustedKeyError):
        verify_jws(token, victim.public_key())
    with pytest.raises(SignatureInvalidError):
        verify_jws(token, victim.public_key(), header_keys="ignore")


def test_alg_cannot_choose_another_curve() -> None:
    key = Key.generate("secp256k1")
    token = sign_jws({"a": 1}, key)
    forged = _compact({"alg": "ES256"}, {"a": 1}, decode_jws(token).signature)
    with pytest.raises(UnsupportedAlgorithmError):
        verify_jws(forged, key.public_key())


def test_policy_is_enforced() -> None:
    key = Key.generate("secp256k1")
    token = sign_jws({"a": 1}, key)
    with pytest.raises(UnsupportedAlgorithmError):
        verify_jws(token, key.public_key(), policy=AlgorithmPolicy(("ES256",)))


def test_wrong_key_and_tampering() -> None:
    key = Key.generate("P-256")
    token = sign_jws({"a": 1}, key)
    with pytest.raises(SignatureInvalidError):
        verify_jws(token, Key.generate("P-256").public_key())
    h, _p, s = token.split(".")
    other_payload = b64url_encode(b'{"a":2}')
    with pytest.raises(SignatureInvalidError):
        verify_jws(f"{h}.{other_payload}.{s}", key.public_key())


def test_typ_is_checked() -> None:
    key = Key.generate("P-256")
    token = sign_jws({"a": 1}, key, typ="kb+jwt")
    verify_jws(token, key, typ="KB+JWT")
    with pytest.raises(TokenTypeError):
        verify_jws(token, key, typ="dc+sd-jwt")
    with pytest.raises(TokenTypeError):
        verify_jws(sign_jws({"a": 1}, key), key, typ="kb+jwt")


def test_crit_is_refused() -> None:
    key = Key.generate("P-256")
    token = sign_jws({"a": 1}, key, header={"crit": ["b64"], "b64": False})
    with pytest.raises(InvalidTokenError):
        verify_jws(token, key)


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!.e30.", "eyJhbGciOiJFUzI1NiJ9.e30.a=", "W10.e30.", "\u00e9.e30."],
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(InvalidInputError):
        verify_jws(token, Key.generate("P-256"))


def test_duplicate_header_member_is_refused() -> None:
    h = b64url_encode(b'{"alg":"ES256","alg":"none"}')
    with pytest.raises(InvalidTokenError):
        decode_jws(f"{h}.e30.")


def test_oversized_token_is_refused() -> None:
    with pytest.raises(InvalidTokenError):
        decode_jws("a" * (300 * 1024))


@given(st.text(max_size=300))
def test_decode_raises_only_invalid_input(text: str) -> None:
    try:
        decode_jws(text)
    except InvalidInputError:
        pass


@given(st.binary(max_size=200))
def test_verify_raises_only_typed_errors(data: bytes) -> None:
    key = Key.generate("P-256")
    token = sign_jws({"a": 1}, key)
    mutated = token.encode()[: len(data) % (len(token) + 1)] + data
    try:
        verify_jws(mutated, key)
    except VcsdkError:
        pass
