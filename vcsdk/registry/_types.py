"""Values the chain layer returns: our own frozen dataclasses, never web3 ``AttributeDict``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NewType

from vcsdk.keys import Key

__all__ = [
    "BlockId",
    "BlockInfo",
    "BlockTag",
    "ChainId",
    "EventLog",
    "LogEntry",
    "LogFilter",
    "Sender",
    "Signature",
    "TxResult",
]

ChainId = NewType("ChainId", int)
BlockTag = Literal["latest", "earliest", "pending", "safe", "finalized"]
#: A block number or one of the JSON-RPC block tags.
BlockId = int | BlockTag
#: Who pays for and signs a transaction: a private secp256k1 :class:`~vcsdk.keys.Key` (signed
#: locally, sent raw) or the address of an account the node has unlocked (``eth_sendTransaction``).
Sender = Key | str


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """A block header, reduced to what callers need.

    :ivar number: block height.
    :ivar timestamp: block time, seconds since the Unix epoch (UTC).
    :ivar hash: the 32-byte block hash.
    :ivar gas_used: gas used by all of the block's transactions.
    :ivar transaction_count: how many transactions the block holds.
    """

    number: int
    timestamp: int
    hash: bytes
    gas_used: int = 0
    transaction_count: int = 0


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One raw event log as the node returned it.

    :ivar address: checksummed address of the contract that emitted it.
    :ivar topics: topic 0 (the event signature hash for non-anonymous events) and indexed arguments.
    :ivar data: ABI-encoded non-indexed arguments.
    """

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    transaction_hash: bytes
    transaction_index: int
    log_index: int


@dataclass(frozen=True, slots=True)
class EventLog:
    """A log decoded with a contract's ABI.

    :ivar event: the event name, e.g. ``"DIDOwnerChanged"``.
    :ivar args: decoded arguments by name (addresses checksummed, ``bytes32`` as ``bytes``).
    :ivar log: the raw log it came from.
    """

    event: str
    args: dict[str, Any]
    log: LogEntry


@dataclass(frozen=True, slots=True)
class LogFilter:
    """An ``eth_getLogs`` query.

    :ivar address: contract address(es); ``None`` for any.
    :ivar topics: per position, a topic, a list of alternatives, or ``None`` for any.
    :ivar from_block: first block (inclusive).
    :ivar to_block: last block (inclusive).
    """

    address: str | tuple[str, ...] | None = None
    topics: tuple[bytes | tuple[bytes, ...] | None, ...] = ()
    from_block: BlockId = 0
    to_block: BlockId = "latest"


@dataclass(frozen=True, slots=True)
class TxResult:
    """A mined transaction and what it did.

    :ivar tx_hash: the 32-byte transaction hash.
    :ivar block_number: the block it was included in.
    :ivar gas_used: gas the transaction consumed.
    :ivar status: 1 for success (a reverted transaction raises instead of returning 0).
    :ivar logs: the logs it emitted, in order.
    :ivar contract_address: the new contract's address for a deployment, else ``None``.
    :ivar confirmations: blocks seen on top of and including ``block_number`` when returned.
    """

    tx_hash: bytes
    block_number: int
    gas_used: int
    status: int
    logs: tuple[LogEntry, ...] = field(default=())
    contract_address: str | None = None
    confirmations: int = 1


@dataclass(frozen=True, slots=True)
class Signature:
    """A secp256k1 signature in the Ethereum ``(v, r, s)`` form (``v`` is 27 or 28)."""

    v: int
    r: bytes
    s: bytes

    def to_bytes(self) -> bytes:
        """The 65-byte ``r || s || v`` encoding."""
        return self.r + self.s + bytes([self.v])
