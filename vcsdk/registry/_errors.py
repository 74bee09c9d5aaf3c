"""Translate web3, eth-tester and transport exceptions into the vcsdk error tree at the boundary."""

from __future__ import annotations

import ast
from typing import Any, Final

import aiohttp
from eth_abi import abi as eth_abi
from eth_abi.exceptions import DecodingError
from eth_utils.exceptions import ValidationError as EthValidationError
from web3 import exceptions as w3exc

from vcsdk.errors import (
    ChainUnavailableError,
    InvalidInputError,
    RegistryError,
    TransactionRevertedError,
    VcsdkError,
)

__all__ = ["add_backend_errors", "revert_error", "translate"]

#: Solidity's ``Error(string)`` and ``Panic(uint256)`` selectors.
ERROR_SELECTOR: Final = bytes.fromhex("08c379a0")
PANIC_SELECTOR: Final = bytes.fromhex("4e487b71")
_REVERTED_PREFIX: Final = "execution reverted"
_MAX_NODE_MESSAGE: Final = 300


# Exceptions of in-process backends, added by the backend's module when it loads (the embedded
# chain adds eth-tester's), so that this module does not import py-evm for JSON-RPC users.
_REVERTED: list[type[BaseException]] = []
_REJECTED: list[type[BaseException]] = [EthValidationError]


def add_backend_errors(
    *, reverted: tuple[type[BaseException], ...] = (), rejected: tuple[type[BaseException], ...] = ()
) -> None:
    """Teach :func:`translate` a backend's own exceptions: ``reverted`` become ``TransactionRevertedError``,
    ``rejected`` a ``RegistryError`` with code ``tx_rejected``."""
    _REVERTED.extend(e for e in reverted if e not in _REVERTED)
    _REJECTED.extend(e for e in rejected if e not in _REJECTED)


_UNAVAILABLE: Final[tuple[type[BaseException], ...]] = (
    TimeoutError,
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    aiohttp.ClientResponseError,
    ConnectionError,
    w3exc.ProviderConnectionError,
    w3exc.RequestTimedOut,
    w3exc.BadResponseFormat,
)

_BAD_INPUT: Final[tuple[type[BaseException], ...]] = (
    w3exc.Web3ValidationError,
    w3exc.MismatchedABI,
    w3exc.Web3TypeError,
    w3exc.Web3ValueError,
    w3exc.InvalidAddress,
)


def _short(text: object) -> str:
    shown = str(text).replace("\n", " ")
    return shown if len(shown) <= _MAX_NODE_MESSAGE else shown[:_MAX_NODE_MESSAGE] + "…"


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return None
    if isinstance(value, dict):
        return _as_bytes(value.get("data"))
    return None


def decode_revert_data(data: bytes) -> str | None:
    """The human reason inside revert data: ``Error(string)`` text or ``panic 0x..`` code."""
    try:
        if data[:4] == ERROR_SELECTOR:
            return str(eth_abi.decode(["string"], data[4:])[0])
        if data[:4] == PANIC_SELECTOR:
            return f"panic 0x{eth_abi.decode(['uint256'], data[4:])[0]:02x}"
    except (DecodingError, OverflowError, ValueError):
        return None
    return None


def _reason_from_message(message: str) -> str | None:
    text = message.strip()
    if text.startswith(_REVERTED_PREFIX):
        text = text[len(_REVERTED_PREFIX) :].lstrip(": ").strip()
    return text or None


def revert_error(exc: BaseException, *, what: str) -> TransactionRevertedError:
    """Build a :class:`TransactionRevertedError` keeping the reason and the raw revert data.

    eth-tester reports ``Error(string)`` reverts as text only; for those the data is rebuilt as
    the exact ABI encoding Solidity emits, so callers see the same ``data`` on every backend.
    """
    data: bytes | None = None
    reason: str | None = None
    if isinstance(exc, w3exc.ContractLogicError):
        data = _as_bytes(exc.data)
        message = exc.message or ""
        reason = decode_revert_data(data) if data else None
        if reason is None and not isinstance(exc, w3exc.ContractCustomError):
            reason = _reason_from_message(message)
    else:
        message = str(exc.args[0]) if exc.args else ""
        reason = _reason_from_message(message)
        if reason is not None and reason.startswith(("b'", 'b"')):
            # eth-tester prints undecodable revert data (custom errors, panics) as a bytes repr.
            try:
                literal = ast.literal_eval(reason)
            except (ValueError, SyntaxError):
                literal = None
            if isinstance(literal, bytes):
                data = literal
                reason = decode_revert_data(literal)
        elif reason is not None:
            data = ERROR_SELECTOR + eth_abi.encode(["string"], [reason])
    shown = f": {_short(reason)}" if reason else " without a reason"
    return TransactionRevertedError(
        f"{what} reverted{shown}",
        reason=reason,
        data="0x" + data.hex() if data is not None else None,
    )


def translate(exc: Exception, *, what: str, endpoint: str, timeout: float | None) -> VcsdkError:
    """Map any exception raised while talking to a chain to a :class:`VcsdkError`."""
    if isinstance(exc, VcsdkError):
        return exc
    if isinstance(exc, w3exc.ContractLogicError | w3exc.OffchainLookup) or isinstance(exc, tuple(_REVERTED)):
        return revert_error(exc, what=what)
    if isinstance(exc, _UNAVAILABLE):
        within = f" within {timeout:g} s" if timeout is not None else ""
        return ChainUnavailableError(
            f"the chain node at {endpoint} did not answer {what}{within}; check the RPC URL and that "
            "the node is running",
            details={"endpoint": endpoint},
        )
    if isinstance(exc, w3exc.TimeExhausted):
        return RegistryError(
            f"{what}: the transaction was not mined in time; it may still be mined later", code="tx_timeout"
        )
    if isinstance(exc, w3exc.Web3RPCError):
        return RegistryError(f"{what}: the node refused the request: {_short(exc.message)}", code="rpc_error")
    if isinstance(exc, tuple(_REJECTED)):
        return RegistryError(f"{what}: the chain refused the transaction: {_short(exc)}", code="tx_rejected")
    if isinstance(exc, _BAD_INPUT):
        return InvalidInputError(f"{what}: invalid arguments for the contract ABI: {_short(exc)}")
    return RegistryError(f"{what} failed: {type(exc).__name__}: {_short(exc)}")
