"""The chain layer's wire formats: what goes to a node (addresses, block ids, log filters), what
comes back (logs, receipts, blocks, web3 containers), and the one boundary where a node's failure
becomes a :mod:`vcsdk.errors` class (:func:`bounded`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_checksum_address
from web3.types import BlockIdentifier

from vcsdk.errors import InvalidInputError, RegistryError
from vcsdk.registry._errors import translate
from vcsdk.registry._types import BlockId, BlockInfo, LogEntry, LogFilter, TxResult

__all__ = [
    "block_info",
    "block_param",
    "bounded",
    "checksum",
    "display_url",
    "filter_params",
    "log_entry",
    "missing_block",
    "plain",
    "result_from_receipt",
]

T = TypeVar("T")

_BLOCK_TAGS: Final = frozenset({"latest", "earliest", "pending", "safe", "finalized"})


def display_url(url: str) -> str:
    """``scheme://host[:port]`` only: node URLs often carry API keys in their path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def checksum(address: str, *, what: str = "address") -> ChecksumAddress:
    if not isinstance(address, str) or not is_address(address):
        raise InvalidInputError(f"{what} is not an Ethereum address (expected 0x and 40 hex digits)")
    return to_checksum_address(address)


def block_param(block: BlockId) -> BlockIdentifier:
    if isinstance(block, bool) or not isinstance(block, int | str):
        raise InvalidInputError("block must be a block number or a block tag such as 'latest'")
    if isinstance(block, int):
        if block < 0:
            raise InvalidInputError("block number must not be negative")
        return block
    if block not in _BLOCK_TAGS:
        raise InvalidInputError(f"unknown block tag {block[:20]!r}; use one of {sorted(_BLOCK_TAGS)}")
    return block


def _to_bytes(value: Any) -> bytes:
    return bytes(value) if value is not None else b""


def log_entry(raw: Any) -> LogEntry:
    return LogEntry(
        address=str(to_checksum_address(raw["address"])),
        topics=tuple(bytes(t) for t in raw["topics"]),
        data=_to_bytes(raw["data"]),
        block_number=int(raw["blockNumber"]),
        block_hash=_to_bytes(raw["blockHash"]),
        transaction_hash=_to_bytes(raw["transactionHash"]),
        transaction_index=int(raw["transactionIndex"]),
        log_index=int(raw["logIndex"]),
    )


def result_from_receipt(receipt: Any) -> TxResult:
    created = receipt.get("contractAddress")
    return TxResult(
        tx_hash=bytes(receipt["transactionHash"]),
        block_number=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
        status=int(receipt["status"]),
        logs=tuple(log_entry(log) for log in receipt["logs"]),
        contract_address=str(to_checksum_address(created)) if created else None,
    )


def block_info(raw: Any) -> BlockInfo:
    return BlockInfo(
        number=int(raw["number"]),
        timestamp=int(raw["timestamp"]),
        hash=bytes(raw["hash"]),
        gas_used=int(raw.get("gasUsed", 0)),
        transaction_count=len(raw.get("transactions", ())),
    )


def missing_block(exc: RegistryError, block: object) -> RegistryError:
    """``block_not_found`` for web3's "no such block" answers; ``exc`` itself otherwise."""
    if isinstance(exc.__cause__, Exception) and type(exc.__cause__).__name__ in {
        "BlockNotFound",
        "BlockNumberOutOfRange",
    }:
        missing = RegistryError(f"block {block} does not exist", code="block_not_found")
        missing.__cause__ = exc
        return missing
    return exc


def plain(value: Any) -> Any:
    """Turn web3 containers (AttributeDict, HexBytes, lists) into plain Python values."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value) if isinstance(value, tuple) else [plain(v) for v in value]
    return value


def filter_params(flt: LogFilter) -> dict[str, Any]:
    params: dict[str, Any] = {
        "fromBlock": block_param(flt.from_block),
        "toBlock": block_param(flt.to_block),
    }
    if flt.address is not None:
        params["address"] = (
            checksum(flt.address) if isinstance(flt.address, str) else [checksum(a) for a in flt.address]
        )
    if flt.topics:
        topics: list[Any] = []
        for topic in flt.topics:
            if topic is None:
                topics.append(None)
            elif isinstance(topic, bytes):
                topics.append("0x" + topic.hex())
            else:
                topics.append(["0x" + t.hex() for t in topic])
        params["topics"] = topics
    return params


async def bounded(awaitable: Awaitable[T], *, timeout: float | None, what: str, endpoint: str) -> T:
    """Await one chain request within ``timeout`` and translate its failure at the boundary."""
    try:
        if timeout is None:
            return await awaitable
        async with asyncio.timeout(timeout):
            return await awaitable
    except Exception as exc:
        raise translate(exc, what=what, endpoint=endpoint, timeout=timeout) from exc
