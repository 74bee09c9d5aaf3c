"""Typed values for the three ERC-1056 events (``DIDOwnerChanged``, ``DIDDelegateChanged``,
``DIDAttributeChanged``) as the registry adapter decodes them from logs.

Pure: no I/O. ``bytes32`` fields keep their raw bytes; ``…_text`` properties give the UTF-8 reading
that the did:ethr method uses (trailing NUL bytes removed, ``None`` if not valid UTF-8).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "NULL_ADDRESS",
    "DidAttributeChanged",
    "DidDelegateChanged",
    "DidOwnerChanged",
    "Erc1056Event",
    "bytes32_text",
]

#: An owner change to this address deactivates the DID (did:ethr spec, "Delete").
NULL_ADDRESS = "0x0000000000000000000000000000000000000000"


def bytes32_text(raw: bytes) -> str | None:
    """Decode a ``bytes32`` name as did:ethr does: strict UTF-8, trailing NULs stripped.

    :return: the text, or ``None`` if ``raw`` is not valid UTF-8 (such events are not DID events).
    """
    try:
        return raw.decode("utf-8").rstrip("\x00")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True, slots=True)
class _EventBase:
    """Fields every ERC-1056 event has, plus where the chain put it.

    :ivar identity: the identity's address (EIP-55 checksummed).
    :ivar previous_change: the block of the identity's previous change (0 for the first).
    :ivar block_number: the block this event is in.
    :ivar block_timestamp: that block's timestamp (seconds since the epoch).
    :ivar tx_hash: the transaction hash (``0x`` hex).
    :ivar log_index: the log's index within its block.
    """

    identity: str
    previous_change: int
    block_number: int
    block_timestamp: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True, slots=True)
class DidOwnerChanged(_EventBase):
    """``DIDOwnerChanged(identity, owner, previousChange)``."""

    owner: str


@dataclass(frozen=True, slots=True)
class DidDelegateChanged(_EventBase):
    """``DIDDelegateChanged(identity, delegateType, delegate, validTo, previousChange)``.

    A revocation is the same event with ``valid_to`` set to the revoking block's timestamp.
    """

    delegate_type: bytes
    delegate: str
    valid_to: int

    @property
    def delegate_type_text(self) -> str | None:
        """``delegateType`` as text (``veriKey``, ``sigAuth``), or ``None`` if not UTF-8."""
        return bytes32_text(self.delegate_type)


@dataclass(frozen=True, slots=True)
class DidAttributeChanged(_EventBase):
    """``DIDAttributeChanged(identity, name, value, validTo, previousChange)``.

    A revocation is the same event with ``valid_to`` 0.
    """

    name: bytes
    value: bytes
    valid_to: int

    @property
    def name_text(self) -> str | None:
        """``name`` as text (``did/pub/…``, ``did/svc/…``), or ``None`` if not UTF-8."""
        return bytes32_text(self.name)


Erc1056Event = DidOwnerChanged | DidDelegateChanged | DidAttributeChanged
