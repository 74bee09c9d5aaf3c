"""Ethereum views of a secp256k1 :class:`~vcsdk.keys.Key`: its address and raw-hash signatures."""

from __future__ import annotations

from eth_keys.datatypes import PrivateKey, PublicKey
from eth_utils.address import to_checksum_address

from vcsdk._b64 import b64url_decode
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key
from vcsdk.registry._types import Signature

__all__ = ["address_topic", "key_address", "sign_hash"]


def key_address(key: Key) -> str:
    """The checksummed Ethereum address of a secp256k1 key (public or private).

    :raises InvalidInputError: if ``key`` is not on secp256k1.
    """
    if key.curve != "secp256k1":
        raise InvalidInputError("only a secp256k1 key has an Ethereum address")
    jwk = key.public_jwk()
    point = b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])
    return str(PublicKey(point).to_checksum_address())


def sign_hash(key: Key, digest: bytes) -> Signature:
    """Sign a 32-byte hash as-is (no EIP-191 prefix added), as ERC-1056 ``*Signed`` calls expect.

    The caller builds the digest (for ERC-1056: ``keccak256(0x19 0x00 registry nonce identity …)``).

    :param key: a private secp256k1 key.
    :param digest: exactly 32 bytes.
    :raises InvalidInputError: if the key is not a private secp256k1 key or ``digest`` is not 32 bytes.
    :return: ``(v, r, s)`` with ``v`` in {27, 28} and low ``s``.
    """
    if len(digest) != 32:
        raise InvalidInputError("a message hash to sign must be exactly 32 bytes")
    signature = PrivateKey(key.secp256k1_bytes()).sign_msg_hash(digest)
    return Signature(v=signature.v + 27, r=signature.r.to_bytes(32, "big"), s=signature.s.to_bytes(32, "big"))


def address_topic(address: str) -> bytes:
    """An address as a 32-byte log topic (how indexed ``address`` event arguments are stored).

    :raises InvalidInputError: if ``address`` is not a 20-byte hex address.
    """
    try:
        raw = bytes.fromhex(to_checksum_address(address)[2:])
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("not an Ethereum address (expected 0x and 40 hex digits)") from exc
    return raw.rjust(32, b"\x00")
