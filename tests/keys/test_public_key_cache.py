"""Public keys imported from JWKs are kept by their members (bounded): the same members give the
same key at once, a changed member is imported and checked anew, private keys are never kept."""

from __future__ import annotations

import pytest

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key, _keys


def test_the_same_public_jwk_imports_the_same_key_with_its_own_kid() -> None:
    key = Key.generate("P-256")
    jwk = key.public_jwk()
    first, again = Key.from_jwk({**jwk, "kid": "a"}), Key.from_jwk({**jwk, "kid": "b"})
    assert (first.kid, again.kid) == ("a", "b")
    assert first.public_jwk() == again.public_jwk() == jwk
    signature = key.sign(b"message")
    again.verify(b"message", signature, alg="ES256")


def test_a_changed_point_is_checked_again() -> None:
    jwk = Key.generate("P-256").public_jwk()
    Key.from_jwk(jwk)
    y = bytearray(b64url_decode(jwk["y"]))
    y[-1] ^= 1  # the same x with another y: not on the curve
    with pytest.raises(InvalidInputError):
        Key.from_jwk({**jwk, "y": b64url_encode(bytes(y))})
    other = Key.generate("P-256").public_jwk()
    assert Key.from_jwk(other).public_jwk() == other


def test_private_keys_are_not_kept_and_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_keys, "_PUBLIC_KEYS", {})
    monkeypatch.setattr(_keys, "_PUBLIC_KEYS_KEPT", 3)
    private = Key.generate("P-256")
    assert Key.from_jwk(private.private_jwk()).public_jwk() == private.public_jwk()
    assert _keys._PUBLIC_KEYS == {}
    jwks = [Key.generate(curve).public_jwk() for curve in ("P-256", "secp256k1", "Ed25519", "P-256", "P-256")]
    for jwk in jwks:
        assert Key.from_jwk(jwk).public_jwk() == jwk
    assert len(_keys._PUBLIC_KEYS) == 3
    kept = {(j["kty"], j["crv"], j.get("x"), j.get("y")) for j in jwks[2:]}
    assert set(_keys._PUBLIC_KEYS) == kept  # the oldest went first
