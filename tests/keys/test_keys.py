"""Keys: generation, JWK import/export, RFC 7638 thumbprints, no private material in repr."""

from __future__ import annotations

import json

import pytest

from vcsdk.errors import InvalidInputError, SignatureInvalidError, UnsupportedAlgorithmError
from vcsdk.keys import ALGORITHM_FOR_CURVE, AlgorithmPolicy, Key

CURVES = ["P-256", "secp256k1", "Ed25519"]


@pytest.mark.parametrize("curve", CURVES)
def test_jwk_round_trip(curve: str) -> None:
    key = Key.generate(curve)  # type: ignore[arg-type]
    private = Key.from_jwk(key.private_jwk())
    public = Key.from_jwk(json.dumps(key.public_jwk()))
    assert private == key
    assert private.is_private and not public.is_private
    assert public.public_jwk() == key.public_jwk()
    assert public.thumbprint() == key.thumbprint() == key.kid
    assert key.alg == ALGORITHM_FOR_CURVE[curve]


@pytest.mark.parametrize("curve", CURVES)
def test_sign_verify_raw(curve: str) -> None:
    key = Key.generate(curve)  # type: ignore[arg-type]
    sig = key.sign(b"hello")
    key.public_key().verify(b"hello", sig, alg=key.alg)
    with pytest.raises(SignatureInvalidError):
        key.public_key().verify(b"hellO", sig, alg=key.alg)
    with pytest.raises(SignatureInvalidError):
        key.public_key().verify(b"hello", sig[:-1] + bytes([sig[-1] ^ 1]), alg=key.alg)


def test_rfc7638_thumbprint_example() -> None:
    # RFC 7638 §3.1 uses an RSA key; RFC 8037 §A.3 gives the Ed25519 example thumbprint.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert Key.from_jwk(jwk).thumbprint() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_repr_has_no_private_material() -> None:
    key = Key.generate("P-256")
    d = key.private_jwk()["d"]
    assert d not in repr(key) and d not in str(key)
    assert "private" in repr(key) and key.kid in repr(key)


def test_public_key_cannot_sign_or_export_private() -> None:
    pub = Key.generate("P-256").public_key()
    with pytest.raises(InvalidInputError):
        pub.sign(b"x")
    with pytest.raises(InvalidInputError):
        pub.private_jwk()


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "X25519", "x": "AA"},
    ],
)
def test_unsupported_key_types(jwk: dict[str, str]) -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        Key.from_jwk(jwk)


def test_point_not_on_curve() -> None:
    good = Key.generate("P-256").public_jwk()
    bad = dict(good, y=Key.generate("P-256").public_jwk()["y"])
    with pytest.raises(InvalidInputError):
        Key.from_jwk(bad)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"kty": 1}', "\xff"])
def test_malformed_jwk_text(text: str) -> None:
    with pytest.raises((InvalidInputError, UnsupportedAlgorithmError)):
        Key.from_jwk(text)


def test_alg_must_fit_curve() -> None:
    jwk = dict(Key.generate("P-256").public_jwk(), alg="ES256K")
    with pytest.raises(UnsupportedAlgorithmError):
        Key.from_jwk(jwk)
    key = Key.generate("P-256")
    with pytest.raises(UnsupportedAlgorithmError):
        key.verify(b"x", key.sign(b"x"), alg="ES256K")
    with pytest.raises(UnsupportedAlgorithmError):
        key.verify(b"x", key.sign(b"x"), alg="EdDSA")


@pytest.mark.parametrize("name", ["none", "HS256", "RS256", "ES384", "PS256", ""])
def test_policy_cannot_admit_other_algorithms(name: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        AlgorithmPolicy((name,))
    with pytest.raises(UnsupportedAlgorithmError):
        AlgorithmPolicy().check(name)


def test_policy_narrowing() -> None:
    only_p256 = AlgorithmPolicy(("ES256",))
    key = Key.generate("Ed25519")
    with pytest.raises(UnsupportedAlgorithmError):
        key.verify(b"x", key.sign(b"x"), alg="EdDSA", policy=only_p256)
    assert "ES256" in repr(only_p256)


def test_secp256k1_bytes_round_trip() -> None:
    key = Key.generate("secp256k1")
    again = Key.from_secp256k1_bytes(key.secp256k1_bytes())
    assert again == key
    with pytest.raises(InvalidInputError):
        Key.generate("P-256").secp256k1_bytes()
    with pytest.raises(InvalidInputError):
        Key.from_secp256k1_bytes(b"\x00" * 32)
