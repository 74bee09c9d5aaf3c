"""ERC-1056 wire formats: event topics, log decoding, and the digests ``…Signed`` calls verify.

Pure: bytes in, values out. The lower level under :mod:`vcsdk.ethr` (the registry binding and
the resolver's history walk); most callers never need it. The signed digests follow the ERC-1056
reference registry exactly:
``keccak256(0x19 ‖ 0x00 ‖ registry ‖ nonce ‖ identity ‖ "<function>" ‖ args…)`` (``abi.encodePacked``).
They contain the registry address but **no chain id**: a signature is valid on every chain where a
registry sits at the same address with the same nonce. :mod:`vcsdk.did` therefore only signs for
registries it was configured with (see :class:`vcsdk.ethr.EthrRegistry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from vcsdk.did._events import NULL_ADDRESS, DidAttributeChanged, DidDelegateChanged, DidOwnerChanged, Erc1056Event
from vcsdk.errors import InvalidInputError

__all__ = [
    "ATTRIBUTE_CHANGED_TOPIC",
    "DELEGATE_CHANGED_TOPIC",
    "NULL_ADDRESS",
    "OWNER_CHANGED_TOPIC",
    "add_delegate_digest",
    "bytes32",
    "change_owner_digest",
    "decode_erc1056_log",
    "revoke_attribute_digest",
    "revoke_delegate_digest",
    "set_attribute_digest",
]

OWNER_CHANGED_TOPIC = keccak(text="DIDOwnerChanged(address,address,uint256)")
DELEGATE_CHANGED_TOPIC = keccak(text="DIDDelegateChanged(address,bytes32,address,uint256,uint256)")
ATTRIBUTE_CHANGED_TOPIC = keccak(text="DIDAttributeChanged(address,bytes32,bytes,uint256,uint256)")


def bytes32(text: str | bytes) -> bytes:
    """A delegate type or attribute name as ``bytes32`` (UTF-8, right-padded with NUL bytes).

    :raises InvalidInputError: if it is longer than 32 bytes (ERC-1056 would silently truncate it).
    """
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(raw) > 32:
        raise InvalidInputError("ERC-1056 names and delegate types are at most 32 bytes")
    return raw.ljust(32, b"\x00")


def decode_erc1056_log(
    topics: Sequence[bytes],
    data: bytes,
    *,
    block_number: int,
    block_timestamp: int,
    tx_hash: str,
    log_index: int,
) -> Erc1056Event | None:
    """Decode one registry log into its typed event.

    :return: the event, or ``None`` for logs that are not one of the three ERC-1056 events.
    :raises InvalidInputError: if an ERC-1056 topic carries data that does not decode.
    """
    if len(topics) != 2:
        return None
    topic, identity_topic = bytes(topics[0]), bytes(topics[1])
    identity = to_checksum_address(identity_topic[-20:])
    common: dict[str, Any] = {
        "identity": identity,
        "block_number": block_number,
        "block_timestamp": block_timestamp,
        "tx_hash": tx_hash,
        "log_index": log_index,
    }
    try:
        if topic == OWNER_CHANGED_TOPIC:
            owner, previous = abi_decode(["address", "uint256"], data)
            return DidOwnerChanged(owner=to_checksum_address(owner), previous_change=previous, **common)
        if topic == DELEGATE_CHANGED_TOPIC:
            dtype, delegate, valid_to, previous = abi_decode(["bytes32", "address", "uint256", "uint256"], data)
            return DidDelegateChanged(
                delegate_type=dtype,
                delegate=to_checksum_address(delegate),
                valid_to=valid_to,
                previous_change=previous,
                **common,
            )
        if topic == ATTRIBUTE_CHANGED_TOPIC:
            name, value, valid_to, previous = abi_decode(["bytes32", "bytes", "uint256", "uint256"], data)
            return DidAttributeChanged(name=name, value=value, valid_to=valid_to, previous_change=previous, **common)
    except Exception as exc:  # eth_abi raises several decoding error types
        raise InvalidInputError("ERC-1056 log data does not decode; is this the right registry address?") from exc
    return None


def _address(value: str) -> bytes:
    return bytes.fromhex(to_checksum_address(value)[2:])


def _uint(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _digest(registry: str, nonce: int, identity: str, function: str, *parts: bytes) -> bytes:
    packed = b"\x19\x00" + _address(registry) + _uint(nonce) + _address(identity) + function.encode("ascii")
    return keccak(packed + b"".join(parts))


def change_owner_digest(registry: str, nonce: int, identity: str, new_owner: str) -> bytes:
    """The hash the identity's owner signs for ``changeOwnerSigned``."""
    return _digest(registry, nonce, identity, "changeOwner", _address(new_owner))


def add_delegate_digest(
    registry: str, nonce: int, identity: str, delegate_type: bytes, delegate: str, validity: int
) -> bytes:
    """The hash the identity's owner signs for ``addDelegateSigned``."""
    return _digest(registry, nonce, identity, "addDelegate", delegate_type, _address(delegate), _uint(validity))


def revoke_delegate_digest(registry: str, nonce: int, identity: str, delegate_type: bytes, delegate: str) -> bytes:
    """The hash the identity's owner signs for ``revokeDelegateSigned``."""
    return _digest(registry, nonce, identity, "revokeDelegate", delegate_type, _address(delegate))


def set_attribute_digest(registry: str, nonce: int, identity: str, name: bytes, value: bytes, validity: int) -> bytes:
    """The hash the identity's owner signs for ``setAttributeSigned``."""
    return _digest(registry, nonce, identity, "setAttribute", name, value, _uint(validity))


def revoke_attribute_digest(registry: str, nonce: int, identity: str, name: bytes, value: bytes) -> bytes:
    """The hash the identity's owner signs for ``revokeAttributeSigned``."""
    return _digest(registry, nonce, identity, "revokeAttribute", name, value)
