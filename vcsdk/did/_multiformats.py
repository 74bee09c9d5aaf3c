"""Multibase (base58btc, ``z`` prefix) and the multicodec public-key prefixes did:key and Multikey use."""

from __future__ import annotations

import base58

from vcsdk.errors import InvalidInputError

__all__ = [
    "CODEC_FOR_CURVE",
    "CURVE_FOR_CODEC",
    "decode_multibase",
    "decode_multikey",
    "encode_multibase",
    "encode_multikey",
]

# Multicodec table: ed25519-pub 0xed, secp256k1-pub 0xe7, p256-pub 0x1200, x25519-pub 0xec (varints).
CODEC_FOR_CURVE: dict[str, bytes] = {
    "Ed25519": b"\xed\x01",
    "secp256k1": b"\xe7\x01",
    "P-256": b"\x80\x24",
    "X25519": b"\xec\x01",
}
CURVE_FOR_CODEC: dict[bytes, str] = {prefix: curve for curve, prefix in CODEC_FOR_CURVE.items()}
_KEY_LENGTHS = {"Ed25519": (32,), "X25519": (32,), "secp256k1": (33,), "P-256": (33,)}
MAX_MULTIBASE_LENGTH = 4096


def encode_multibase(data: bytes) -> str:
    """Multibase base58btc: ``z`` followed by base58 (Bitcoin alphabet)."""
    return "z" + base58.b58encode(data).decode("ascii")


def decode_multibase(text: str, *, what: str = "multibase value") -> bytes:
    """Decode a base58btc multibase string.

    :raises InvalidInputError: for any other multibase prefix or malformed base58.
    """
    if not isinstance(text, str) or not text.startswith("z") or len(text) > MAX_MULTIBASE_LENGTH:
        raise InvalidInputError(f"{what} must be base58btc multibase (starting with 'z')")
    try:
        return base58.b58decode(text[1:].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise InvalidInputError(f"{what} is not valid base58btc") from None


def encode_multikey(curve: str, public_key: bytes) -> str:
    """``publicKeyMultibase`` for a key: multicodec prefix + compressed point (EC) or raw bytes (OKP)."""
    return encode_multibase(CODEC_FOR_CURVE[curve] + public_key)


def decode_multikey(raw: bytes) -> tuple[str, bytes]:
    """Split multicodec-prefixed public-key bytes.

    :raises InvalidInputError: for an unknown codec or a key of the wrong length.
    :return: ``(curve, key bytes)`` with curve one of ``Ed25519``, ``X25519``, ``secp256k1``, ``P-256``.
    """
    curve = CURVE_FOR_CODEC.get(raw[:2])
    if curve is None:
        raise InvalidInputError("multikey uses an unsupported multicodec; use Ed25519, secp256k1 or P-256")
    key = raw[2:]
    if len(key) not in _KEY_LENGTHS[curve]:
        raise InvalidInputError(f"multikey {curve} public key has the wrong length")
    return curve, key
