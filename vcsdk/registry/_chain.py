"""The chain layer: one small async API over an embedded py-evm chain or any JSON-RPC node."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp
from eth_account import Account
from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_checksum_address
from web3 import AsyncWeb3
from web3.contract import AsyncContract
from web3.providers.rpc import AsyncHTTPProvider
from web3.types import BlockIdentifier, RPCEndpoint

from vcsdk.errors import (
    ChainIdMismatchError,
    InvalidInputError,
    RegistryError,
    RegistryNotConfiguredError,
    TransactionRevertedError,
    VcsdkError,
)
from vcsdk.keys import Key
from vcsdk.registry._artifacts import Artifact, load_artifact
from vcsdk.registry._errors import revert_error, translate
from vcsdk.registry._signing import key_address
from vcsdk.registry._types import BlockId, BlockInfo, ChainId, EventLog, LogEntry, LogFilter, TxResult

if TYPE_CHECKING:  # pragma: no cover
    from vcsdk.registry._embedded import EmbeddedChain

__all__ = ["Chain", "ContractCall", "ContractHandle", "JsonRpcChain", "Sender"]

T = TypeVar("T")

#: Who pays for and signs a transaction: a private secp256k1 :class:`Key` (signed locally, sent raw)
#: or the address of an account the node has unlocked (``eth_sendTransaction``).
Sender = Key | str

_BLOCK_TAGS: Final = frozenset({"latest", "earliest", "pending", "safe", "finalized"})
_GAS_MARGIN: Final = 1.25
_GAS_PAD: Final = 10_000
_RPC_BATCH: Final = 100
_MAX_MINE: Final = 10_000


def _display_url(url: str) -> str:
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


def _checksum(address: str, *, what: str = "address") -> ChecksumAddress:
    if not isinstance(address, str) or not is_address(address):
        raise InvalidInputError(f"{what} is not an Ethereum address (expected 0x and 40 hex digits)")
    return to_checksum_address(address)


def _block_param(block: BlockId) -> BlockIdentifier:
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


def _log_entry(raw: Any) -> LogEntry:
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


def _result_from_receipt(receipt: Any) -> TxResult:
    created = receipt.get("contractAddress")
    return TxResult(
        tx_hash=bytes(receipt["transactionHash"]),
        block_number=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
        status=int(receipt["status"]),
        logs=tuple(_log_entry(log) for log in receipt["logs"]),
        contract_address=str(to_checksum_address(created)) if created else None,
    )


def _block_info(raw: Any) -> BlockInfo:
    return BlockInfo(
        number=int(raw["number"]),
        timestamp=int(raw["timestamp"]),
        hash=bytes(raw["hash"]),
        gas_used=int(raw.get("gasUsed", 0)),
        transaction_count=len(raw.get("transactions", ())),
    )


def _missing_block(exc: RegistryError, block: object) -> RegistryError:
    """``block_not_found`` for web3's "no such block" answers; ``exc`` itself otherwise."""
    if isinstance(exc.__cause__, Exception) and type(exc.__cause__).__name__ in {
        "BlockNotFound",
        "BlockNumberOutOfRange",
    }:
        missing = RegistryError(f"block {block} does not exist", code="block_not_found")
        missing.__cause__ = exc
        return missing
    return exc


def _plain(value: Any) -> Any:
    """Turn web3 containers (AttributeDict, HexBytes, lists) into plain Python values."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value) if isinstance(value, tuple) else [_plain(v) for v in value]
    return value


def _filter_params(flt: LogFilter) -> dict[str, Any]:
    params: dict[str, Any] = {
        "fromBlock": _block_param(flt.from_block),
        "toBlock": _block_param(flt.to_block),
    }
    if flt.address is not None:
        params["address"] = (
            _checksum(flt.address) if isinstance(flt.address, str) else [_checksum(a) for a in flt.address]
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


class ContractCall:
    """One prepared contract function call: the contract, the function name and its arguments.

    Make one with :meth:`ContractHandle.function`; pass it to :meth:`Chain.call` or
    :meth:`Chain.transact`.
    """

    __slots__ = ("args", "contract", "function")

    def __init__(self, contract: ContractHandle, function: str, args: tuple[Any, ...]) -> None:
        self.contract = contract
        self.function = function
        self.args = args

    def calldata(self) -> bytes:
        """The ABI-encoded call data (selector and arguments).

        :raises InvalidInputError: if the arguments do not fit the function's ABI.
        """
        return self.contract.encode(self.function, *self.args)

    def __repr__(self) -> str:
        return f"ContractCall({self.contract.name}.{self.function}, {len(self.args)} args)"


class ContractHandle:
    """A deployed contract known by its artifact: typed-free but checked calls, transactions and events.

    Get one from :meth:`Chain.contract` or :meth:`Chain.deploy_contract`.
    """

    __slots__ = ("_contract", "address", "artifact", "chain")

    def __init__(self, chain: Chain, artifact: Artifact, address: str) -> None:
        self.chain = chain
        self.artifact = artifact
        self.address: str = _checksum(address, what="contract address")
        self._contract: AsyncContract = chain.w3.eth.contract(
            address=_checksum(address),
            abi=artifact.abi_list(),  # type: ignore[arg-type]
        )

    @property
    def name(self) -> str:
        """The contract name (the artifact's)."""
        return self.artifact.name

    @property
    def contract(self) -> AsyncContract:
        """The web3 contract object, an escape hatch for what this API does not cover."""
        return self._contract

    def function(self, name: str, /, *args: Any) -> ContractCall:
        """Prepare a call of function ``name`` with positional ``args``.

        :raises InvalidInputError: if the contract has no such function or the arguments do not fit.
        """
        self.encode(name, *args)  # fail early, at the caller's line, on a wrong name or argument
        return ContractCall(self, name, args)

    def encode(self, name: str, /, *args: Any) -> bytes:
        """ABI-encode a call of function ``name``.

        :raises InvalidInputError: if the contract has no such function or the arguments do not fit.
        """
        try:
            encoded = self._contract.encode_abi(name, args=list(args))
        except Exception as exc:  # web3 raises several unrelated types for a bad name or argument
            raise InvalidInputError(
                f"cannot encode {self.name}.{name} with {len(args)} argument(s): {type(exc).__name__}"
            ) from exc
        return bytes.fromhex(encoded.removeprefix("0x"))

    async def call(self, name: str, /, *args: Any, sender: Sender | None = None, block: BlockId = "latest") -> Any:
        """Call a view function (``eth_call``) and return its decoded result.

        :raises TransactionRevertedError: if the call reverts (``reason`` and ``data`` kept).
        :raises ChainUnavailableError: if the node does not answer in time.
        """
        return await self.chain.call(self.function(name, *args), sender=sender, block=block)

    async def transact(
        self,
        name: str,
        /,
        *args: Any,
        sender: Sender,
        gas: int | None = None,
        value: int = 0,
        confirmations: int | None = None,
    ) -> TxResult:
        """Send a transaction calling ``name`` and wait for the configured confirmations.

        :raises TransactionRevertedError: if gas estimation or the mined transaction reverts.
        :raises ChainUnavailableError: if the node does not answer in time.
        """
        return await self.chain.transact(
            self.function(name, *args), sender=sender, gas=gas, value=value, confirmations=confirmations
        )

    def event_topic(self, event: str) -> bytes:
        """Topic 0 of ``event``: the keccak-256 hash of its canonical signature.

        :raises InvalidInputError: if the contract has no such event.
        """
        for entry in self.artifact.abi:
            if entry.get("type") == "event" and entry.get("name") == event:
                types = ",".join(str(i["type"]) for i in entry.get("inputs", []))
                return bytes(AsyncWeb3.keccak(text=f"{event}({types})"))
        raise InvalidInputError(f"contract {self.name} has no event {event!r}")

    def error_name(self, data: str | bytes | None) -> str | None:
        """The name of the contract's custom error that revert ``data`` encodes, e.g. ``"NotOwner"``.

        Pass a :class:`~vcsdk.errors.TransactionRevertedError`'s ``data``; ``None`` when the data is
        missing or matches none of the ABI's errors (a plain ``require`` message, a panic).
        """
        try:
            raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
        except ValueError:
            return None
        if not raw or len(raw) < 4:
            return None
        for entry in self.artifact.abi:
            if entry.get("type") == "error":
                types = ",".join(str(i["type"]) for i in entry.get("inputs", []))
                name = str(entry["name"])
                if bytes(AsyncWeb3.keccak(text=f"{name}({types})"))[:4] == raw[:4]:
                    return name
        return None

    def decode_logs(self, logs: Iterable[LogEntry]) -> list[EventLog]:
        """Decode the logs this contract emitted; logs of other contracts or unknown events are skipped."""
        by_topic: dict[bytes, str] = {}
        for entry in self.artifact.abi:
            if entry.get("type") == "event" and not entry.get("anonymous", False):
                by_topic[self.event_topic(str(entry["name"]))] = str(entry["name"])
        decoded: list[EventLog] = []
        for log in logs:
            if log.address != self.address or not log.topics or log.topics[0] not in by_topic:
                continue
            name = by_topic[log.topics[0]]
            raw = {
                "address": log.address,
                "topics": list(log.topics),
                "data": log.data,
                "blockNumber": log.block_number,
                "blockHash": log.block_hash,
                "transactionHash": log.transaction_hash,
                "transactionIndex": log.transaction_index,
                "logIndex": log.log_index,
            }
            try:
                event_data = self._contract.events[name]().process_log(raw)  # type: ignore[arg-type]
            except Exception as exc:  # malformed data under a known topic
                raise RegistryError(
                    f"log {log.log_index} in block {log.block_number} does not decode as {self.name}.{name}",
                    code="bad_log",
                ) from exc
            decoded.append(EventLog(event=name, args=_plain(event_data["args"]), log=log))
        return decoded

    async def get_events(
        self,
        event: str | None = None,
        *,
        topics: Sequence[bytes | tuple[bytes, ...] | None] = (),
        from_block: BlockId = 0,
        to_block: BlockId = "latest",
    ) -> list[EventLog]:
        """Fetch and decode this contract's events.

        :param event: only this event (its topic 0 is prepended to ``topics``); ``None`` for all.
        :param topics: filters for the indexed arguments (topic 1, 2, 3), e.g. ``address_topic(identity)``.
        :raises ChainUnavailableError: if the node does not answer in time.
        """
        all_topics: tuple[bytes | tuple[bytes, ...] | None, ...] = (
            (self.event_topic(event), *topics) if event is not None else ((None, *topics) if topics else ())
        )
        logs = await self.chain.get_logs(
            LogFilter(address=self.address, topics=all_topics, from_block=from_block, to_block=to_block)
        )
        return self.decode_logs(logs)

    def __repr__(self) -> str:
        return f"ContractHandle({self.name} at {self.address})"


class Chain:
    """An Ethereum chain: reads, contract calls, transactions that wait for N confirmations, logs.

    Build one with :meth:`Chain.embedded` (in-process py-evm chain, no set-up) or
    ``await Chain.connect(url)`` (any JSON-RPC node). Use it as an async context manager, or call
    :meth:`close`, to release the HTTP session.

    A transaction counts once ``confirmations`` blocks, its own included, are on the chain
    (``1``: mined; ``3``: mined and two more blocks). On chains that only make blocks for new
    transactions (the embedded chain, a dev node in automine mode) set ``mine_to_confirm`` so the
    chain mines the missing empty blocks itself; otherwise it polls until the network makes them.
    """

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        *,
        chain_id: int,
        endpoint: str,
        confirmations: int = 1,
        timeout: float | None = 10.0,
        tx_timeout: float = 120.0,
        poll_interval: float = 1.0,
        mine_to_confirm: bool = False,
    ) -> None:
        if confirmations < 0:
            raise InvalidInputError("confirmations must be 0 or more")
        if timeout is not None and timeout <= 0:
            raise InvalidInputError("timeout must be positive")
        self._w3 = w3
        self._chain_id = ChainId(chain_id)
        self._endpoint = endpoint
        self._confirmations = confirmations
        self._timeout = timeout
        self._tx_timeout = tx_timeout
        self._poll_interval = poll_interval
        self._mine_to_confirm = mine_to_confirm
        self._sender_locks: dict[str, asyncio.Lock] = {}

    # -- constructors -----------------------------------------------------------------------

    @staticmethod
    def embedded(*, confirmations: int = 1) -> EmbeddedChain:
        """A fresh in-process chain (web3's eth-tester provider on py-evm) with funded dev accounts.

        :param confirmations: blocks a transaction needs before it counts; the chain mines the
            missing empty blocks itself, since nothing else makes blocks here.
        """
        # Imported here for start-up cost: py-evm loads only for the embedded chain.
        from vcsdk.registry._embedded import EmbeddedChain

        return EmbeddedChain(confirmations=confirmations)

    @staticmethod
    async def connect(
        rpc_url: str,
        *,
        chain_id: int | None = None,
        timeout: float = 10.0,
        confirmations: int = 1,
        tx_timeout: float = 120.0,
        poll_interval: float = 1.0,
        mine_to_confirm: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> JsonRpcChain:
        """Connect to a JSON-RPC node over HTTP and check its chain id.

        :param rpc_url: ``http://`` or ``https://`` URL of the node.
        :param chain_id: the chain id the caller expects; ``None`` accepts what the node reports.
        :param timeout: seconds any single request may take, connection included.
        :param confirmations: blocks a transaction needs before it counts (default 1: mined).
        :param tx_timeout: seconds to wait for a transaction to be mined and confirmed.
        :param poll_interval: seconds between polls for receipts and new blocks.
        :param mine_to_confirm: mine missing blocks with ``evm_mine`` (dev nodes such as anvil only).
        :param headers: extra HTTP headers for every request, e.g. an ``Authorization`` header
            for a node behind an API gateway (never logged or shown in errors).
        :raises InvalidInputError: if ``rpc_url`` is not an http(s) URL.
        :raises ChainUnavailableError: if the node does not answer within ``timeout``.
        :raises ChainIdMismatchError: if the node's chain id is not ``chain_id``.
        :return: the connected chain; close it when done.
        """
        return await _connect_json_rpc(
            JsonRpcChain, rpc_url, chain_id=chain_id, timeout=timeout, confirmations=confirmations,
            tx_timeout=tx_timeout, poll_interval=poll_interval, mine_to_confirm=mine_to_confirm, headers=headers,
        )

    # -- properties -------------------------------------------------------------------------

    @property
    def chain_id(self) -> ChainId:
        """The chain id (EIP-155) of this chain."""
        return self._chain_id

    @property
    def w3(self) -> AsyncWeb3[Any]:
        """The underlying ``AsyncWeb3``, an escape hatch; its exceptions are not translated."""
        return self._w3

    @property
    def confirmations(self) -> int:
        """Blocks a transaction needs, its own included, before :meth:`transact` returns."""
        return self._confirmations

    @property
    def endpoint(self) -> str:
        """Where the chain lives: ``scheme://host:port`` of the RPC URL, or ``"embedded"``.

        Path, query and credentials are left out (node URLs often carry API keys), so this is
        safe to log and is what error messages show.
        """
        return self._endpoint

    # -- plumbing ---------------------------------------------------------------------------

    async def _rpc(self, awaitable: Awaitable[T], *, what: str) -> T:
        return await _bounded(awaitable, timeout=self._timeout, what=what, endpoint=self._endpoint)

    async def _raw(self, method: str, params: list[Any], *, what: str | None = None) -> Any:
        return await self._rpc(self._w3.manager.coro_request(RPCEndpoint(method), params), what=what or method)

    def _lock_for(self, address: str) -> asyncio.Lock:
        lock = self._sender_locks.get(address)
        if lock is None:
            lock = self._sender_locks[address] = asyncio.Lock()
        return lock

    # -- reads ------------------------------------------------------------------------------

    async def block_number(self) -> int:
        """The number of the newest block.

        :raises ChainUnavailableError: if the node does not answer in time.
        """
        return int(await self._rpc(self._w3.eth.block_number, what="eth_blockNumber"))

    async def confirmed_block_number(self) -> int:
        """The newest block that has the configured confirmations (``head - confirmations + 1``).

        Read registry state at this block when a change must be final before it counts.

        :raises ChainUnavailableError: if the node does not answer in time.
        """
        return max(await self.block_number() - max(self._confirmations, 1) + 1, 0)

    async def get_block(self, block: BlockId = "latest") -> BlockInfo:
        """A block's number, timestamp and hash.

        :raises InvalidInputError: for a negative number or an unknown tag.
        :raises RegistryError: ``code="block_not_found"`` if the block does not exist yet.
        :raises ChainUnavailableError: if the node does not answer in time.
        """
        param = _block_param(block)
        try:
            raw = await self._rpc(self._w3.eth.get_block(param), what="eth_getBlockByNumber")
        except RegistryError as exc:
            raise _missing_block(exc, block)  # noqa: B904 - the cause is set inside
        if raw is None:
            raise RegistryError(f"block {block} does not exist", code="block_not_found")
        return _block_info(raw)

    async def get_blocks(self, blocks: Sequence[BlockId]) -> list[BlockInfo]:
        """Several block headers, batched into few JSON-RPC round trips where the node allows.

        Useful for the timestamps of the blocks an identity's history touched.

        :raises InvalidInputError: for a negative number or an unknown tag.
        :raises RegistryError: ``code="block_not_found"`` if a block does not exist yet.
        :raises ChainUnavailableError: if the node does not answer in time.
        :return: one header per requested block, in the same order.
        """
        return [await self.get_block(block) for block in blocks]

    async def get_balance(self, address: str, *, block: BlockId = "latest") -> int:
        """The balance of ``address`` in wei."""
        return int(
            await self._rpc(
                self._w3.eth.get_balance(_checksum(address), block_identifier=_block_param(block)),
                what="eth_getBalance",
            )
        )

    async def get_code(self, address: str, *, block: BlockId = "latest") -> bytes:
        """The runtime bytecode at ``address`` (empty for an account without code)."""
        return bytes(
            await self._rpc(
                self._w3.eth.get_code(_checksum(address), block_identifier=_block_param(block)),
                what="eth_getCode",
            )
        )

    async def probe_code(self, code: bytes) -> bytes:
        """Run ``code`` as creation code in an ``eth_call`` (no recipient, no state change).

        Used to learn whether the node's EVM knows an opcode (see :func:`check_chain`).

        :raises RegistryError: if the EVM refuses the code (e.g. an opcode its hardfork lacks).
        :raises ChainUnavailableError: if the node does not answer in time.
        :return: what the code returned.
        """
        return bytes(await self._rpc(self._w3.eth.call({"data": code}), what="eth_call (EVM probe)"))

    # -- contracts --------------------------------------------------------------------------

    def contract(self, name: str, address: str) -> ContractHandle:
        """A handle on contract ``name`` (its shipped artifact's ABI) deployed at ``address``.

        :raises RegistryError: ``code="artifact_missing"`` if no artifact ``name`` ships with vcsdk.
        :raises InvalidInputError: if ``address`` is not an address.
        """
        return ContractHandle(self, load_artifact(name), address)

    async def deploy(
        self, name: str, *args: Any, sender: Sender, gas: int | None = None, confirmations: int | None = None
    ) -> str:
        """Deploy contract ``name`` from its artifact with constructor ``args``.

        :param confirmations: override the chain's confirmations for this deployment.
        :raises TransactionRevertedError: if the constructor reverts.
        :raises ChainUnavailableError: if the node does not answer in time.
        :return: the new contract's checksummed address.
        """
        handle = await self.deploy_contract(name, *args, sender=sender, gas=gas, confirmations=confirmations)
        return handle.address

    async def deploy_contract(
        self, name: str, *args: Any, sender: Sender, gas: int | None = None, confirmations: int | None = None
    ) -> ContractHandle:
        """Like :meth:`deploy`, returning a :class:`ContractHandle` on the new contract."""
        artifact = load_artifact(name)
        factory = self._w3.eth.contract(abi=artifact.abi_list(), bytecode=artifact.bytecode)
        try:
            data = factory.constructor(*args).data_in_transaction
        except Exception as exc:
            raise InvalidInputError(
                f"cannot encode the {name} constructor with {len(args)} argument(s): {type(exc).__name__}"
            ) from exc
        result = await self.send(
            to=None,
            data=bytes.fromhex(data.removeprefix("0x")),
            sender=sender,
            gas=gas,
            confirmations=confirmations,
            what=f"deploying {name}",
        )
        if result.contract_address is None:
            raise RegistryError(f"deploying {name} created no contract", code="deploy_failed")
        return ContractHandle(self, artifact, result.contract_address)

    async def call(self, call: ContractCall, *, sender: Sender | None = None, block: BlockId = "latest") -> Any:
        """Run a contract function with ``eth_call`` and return its decoded result.

        :param sender: the ``msg.sender`` to simulate (an address or a key), if the function cares.
        :raises TransactionRevertedError: if the call reverts (``reason`` and ``data`` kept).
        :raises ChainUnavailableError: if the node does not answer in time.
        """
        fn = call.contract.contract.functions[call.function](*call.args)
        tx: dict[str, Any] = {}
        if sender is not None:
            tx["from"] = key_address(sender) if isinstance(sender, Key) else _checksum(sender, what="sender")
        try:
            result = await self._rpc(
                fn.call(tx, block_identifier=_block_param(block)),  # type: ignore[arg-type]
                what=f"{call.contract.name}.{call.function}",
            )
        except RegistryError as exc:
            raise await self._explain_silent_failure(call, exc)  # noqa: B904 - the cause is set inside
        return _plain(result)

    async def _explain_silent_failure(self, call: ContractCall, exc: RegistryError) -> RegistryError:
        """A call that failed with no reason at all usually means a wrong address: say which.

        An address without code answers every call with empty data (web3: "could not decode"), and
        another contract without the function reverts with no data ("reverted without a reason").
        """
        silent = (isinstance(exc, TransactionRevertedError) and exc.reason is None and exc.data in (None, "0x")) or (
            type(exc.__cause__).__name__ == "BadFunctionCallOutput"
        )
        if not silent:
            return exc
        try:
            code = await self.get_code(call.contract.address)
        except RegistryError:
            return exc
        name, address = call.contract.name, call.contract.address
        if not code:
            better = RegistryNotConfiguredError(
                f"no contract at {address} on the node at {self._endpoint} (chain id {int(self._chain_id)}): the "
                f"{name} address is wrong, or belongs to another chain or to a dev node that was restarted; "
                "check the address (the network config's) and the RPC URL",
                code="contract_missing",
                details={"contract": name, "address": address},
            )
        elif not any(
            sig.startswith(call.function + "(") and push in code
            for sig, push in call.contract.artifact.dispatch_codes().items()
        ):
            better = RegistryNotConfiguredError(
                f"the contract at {address} has no {call.function} function: it is not the {name}; check the "
                f"{name} address (the network config's)",
                code="contract_mismatch",
                details={"contract": name, "address": address},
            )
        else:
            return exc
        better.__cause__ = exc
        return better

    async def transact(
        self,
        call: ContractCall,
        *,
        sender: Sender,
        gas: int | None = None,
        value: int = 0,
        confirmations: int | None = None,
    ) -> TxResult:
        """Send a transaction calling a contract function; wait until mined and confirmed.

        Gas is estimated (with a margin) unless given; fees follow EIP-1559 when the chain has a
        base fee. A ``Key`` sender signs locally; an address sender must be unlocked on the node.

        :param confirmations: override the chain's confirmations for this transaction.
        :raises TransactionRevertedError: if estimation or the mined transaction reverts.
        :raises ChainUnavailableError: if the node does not answer in time.
        :raises RegistryError: ``tx_timeout`` / ``confirmation_timeout`` / ``rpc_error`` otherwise.
        """
        return await self.send(
            to=call.contract.address,
            data=call.calldata(),
            value=value,
            sender=sender,
            gas=gas,
            confirmations=confirmations,
            what=f"{call.contract.name}.{call.function}",
        )

    async def send(
        self,
        *,
        to: str | None,
        data: bytes = b"",
        value: int = 0,
        sender: Sender,
        gas: int | None = None,
        confirmations: int | None = None,
        what: str = "transaction",
    ) -> TxResult:
        """Send a raw transaction (``to=None`` deploys ``data`` as creation code).

        :raises TransactionRevertedError: if estimation or the mined transaction reverts.
        :raises ChainUnavailableError: if the node does not answer in time.
        """
        tx_hash, tx = await self._submit(to=to, data=data, value=value, sender=sender, gas=gas, what=what)
        receipt = await self._wait_receipt(tx_hash, what=what)
        if int(receipt["status"]) != 1:
            raise await self._replay_revert(tx, int(receipt["blockNumber"]), what=what)
        return await self.wait_for_confirmations(_result_from_receipt(receipt), confirmations=confirmations)

    async def submit(self, call: ContractCall, *, sender: Sender, gas: int | None = None, value: int = 0) -> bytes:
        """Send a transaction calling a contract function and return its hash without waiting.

        For callers that keep their own record of what is in flight (an outbox): follow the
        transaction with :meth:`transaction_pending` and :meth:`wait_for_confirmations`. Gas is
        estimated first, so a call that would revert raises here and is never sent.

        :raises TransactionRevertedError: if gas estimation reverts (``reason`` and ``data`` kept).
        :raises ChainUnavailableError: if the node does not answer in time.
        :raises RegistryError: ``rpc_error`` or ``tx_rejected`` if the node refuses the transaction.
        :return: the 32-byte transaction hash.
        """
        tx_hash, _ = await self._submit(
            to=call.contract.address,
            data=call.calldata(),
            value=value,
            sender=sender,
            gas=gas,
            what=f"{call.contract.name}.{call.function}",
        )
        return tx_hash

    async def _submit(
        self, *, to: str | None, data: bytes, value: int, sender: Sender, gas: int | None, what: str
    ) -> tuple[bytes, dict[str, Any]]:
        if value < 0:
            raise InvalidInputError("value must not be negative")
        from_address: str = key_address(sender) if isinstance(sender, Key) else _checksum(sender, what="sender")
        tx: dict[str, Any] = {"from": from_address, "value": value, "data": "0x" + data.hex()}
        if to is not None:
            tx["to"] = _checksum(to, what="recipient")
        async with self._lock_for(from_address):
            if gas is None:
                estimate = await self._rpc(self._w3.eth.estimate_gas(tx), what=f"{what} (gas estimate)")  # type: ignore[arg-type]
                gas = int(int(estimate) * _GAS_MARGIN) + _GAS_PAD
            tx["gas"] = gas
            tx["chainId"] = int(self._chain_id)
            tx.update(await self._fees())
            if isinstance(sender, Key):
                tx["nonce"] = await self._rpc(
                    self._w3.eth.get_transaction_count(_checksum(from_address), "pending"),
                    what="eth_getTransactionCount",
                )
                unsigned = {k: v for k, v in tx.items() if k != "from"}
                signed = Account.sign_transaction(unsigned, sender.secp256k1_bytes())
                tx_hash = await self._rpc(
                    self._w3.eth.send_raw_transaction(signed.raw_transaction), what=f"{what} (send)"
                )
            else:
                tx_hash = await self._rpc(self._w3.eth.send_transaction(tx), what=f"{what} (send)")  # type: ignore[arg-type]
        return bytes(tx_hash), tx

    async def transaction_pending(self, tx_hash: bytes) -> bool:
        """Whether the node knows ``tx_hash`` as a sent transaction that is not mined yet.

        ``False`` for a mined transaction and for one the node does not know (never sent, dropped
        from its pool, or removed by a reorganisation and not re-added).

        :raises ChainUnavailableError: if the node does not answer in time.
        """
        try:
            tx = await self._rpc(
                self._w3.eth.get_transaction(tx_hash),  # type: ignore[arg-type]
                what="eth_getTransactionByHash",
            )
        except RegistryError as exc:
            if type(exc.__cause__).__name__ != "TransactionNotFound":
                raise
            return False
        return tx is not None and tx.get("blockNumber") is None

    async def _fees(self) -> dict[str, int]:
        latest = await self._rpc(self._w3.eth.get_block("latest"), what="eth_getBlockByNumber")
        base_fee = latest.get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": int(await self._rpc(self._w3.eth.gas_price, what="eth_gasPrice"))}
        priority = int(await self._rpc(self._w3.eth.max_priority_fee, what="eth_maxPriorityFeePerGas"))
        return {"maxPriorityFeePerGas": priority, "maxFeePerGas": 2 * int(base_fee) + priority}

    async def _wait_receipt(self, tx_hash: bytes, *, what: str) -> Any:
        return await _bounded(
            self._w3.eth.wait_for_transaction_receipt(
                tx_hash,  # type: ignore[arg-type]
                timeout=self._tx_timeout,
                poll_latency=self._poll_interval,
            ),
            timeout=None,
            what=f"{what} (receipt)",
            endpoint=self._endpoint,
        )

    async def _replay_revert(self, tx: dict[str, Any], block_number: int, *, what: str) -> VcsdkError:
        """Re-run a mined, failed transaction as ``eth_call`` on the state before its block to learn why."""
        replay = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        try:
            await self._w3.eth.call(replay, block_identifier=max(block_number - 1, 0))  # type: ignore[arg-type]
        except Exception as exc:
            translated = translate(exc, what=what, endpoint=self._endpoint, timeout=self._timeout)
            if isinstance(translated, RegistryError) and translated.code == "tx_reverted":
                return translated
            return revert_error(RuntimeError("execution reverted"), what=what)
        return RegistryError(
            f"{what} failed on chain (status 0) without a revert reason; it may have run out of gas",
            code="tx_reverted",
        )

    async def wait_for_confirmations(self, tx: TxResult | bytes, *, confirmations: int | None = None) -> TxResult:
        """Wait until a transaction has ``confirmations`` blocks (its own included).

        Checks again that the receipt is still on the canonical chain before returning, and
        follows the transaction if a reorganisation moved it to another block.

        :param tx: a :class:`TxResult`, or a transaction hash (e.g. from a timed-out wait's
            ``details["tx_hash"]``) whose receipt is fetched first.
        :raises RegistryError: ``code="confirmation_timeout"`` if the blocks do not come within
            the transaction timeout (``details`` has ``tx_hash`` and ``block_number``),
            ``code="tx_dropped"`` if a reorganisation removed it.
        :raises ChainUnavailableError: if the node does not answer in time.
        :return: the transaction's result with its current ``block_number`` and ``confirmations``.
        """
        wanted = self._confirmations if confirmations is None else confirmations
        if wanted < 0:
            raise InvalidInputError("confirmations must be 0 or more")
        if isinstance(tx, TxResult):
            result = tx
        elif await self.transaction_pending(bytes(tx)):
            # Sent but not in a block yet (a dev node mines a moment after the send): wait for it.
            result = _result_from_receipt(await self._wait_receipt(bytes(tx), what="transaction"))
        else:
            result = _result_from_receipt(await self._receipt(bytes(tx)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._tx_timeout
        while True:
            depth = await self.confirmations_of(result.block_number, wanted=wanted)
            head = result.block_number + depth - 1
            if depth < wanted:
                if loop.time() >= deadline:
                    raise RegistryError(
                        f"transaction has {depth} of {wanted} confirmations after {self._tx_timeout:g} s; the "
                        f"chain at {self._endpoint} is not making blocks (a dev node that mines only on demand "
                        "needs Chain.connect(…, mine_to_confirm=True), or fewer confirmations)",
                        code="confirmation_timeout",
                        details={"tx_hash": "0x" + result.tx_hash.hex(), "block_number": result.block_number},
                    )
                await asyncio.sleep(self._poll_interval)
                continue
            if wanted <= 1:
                break
            current = _result_from_receipt(await self._receipt(result.tx_hash))
            if current.block_number == result.block_number:
                break
            result = current  # moved by a reorganisation: wait for confirmations of its new block
        return replace(result, confirmations=max(head - result.block_number + 1, 0))

    async def confirmations_of(self, block_number: int, *, wanted: int | None = None, mine: bool | None = None) -> int:
        """How many blocks, ``block_number``'s own included, the chain has on that block now.

        On a chain that mines only on demand (the embedded chain, a dev node in automine or
        no-mining mode), ``mine`` first mines the missing empty blocks up to ``wanted``, so a
        transaction there becomes final as soon as it is asked about.

        :param wanted: the confirmations the caller waits for (default: the chain's).
        :param mine: mine the missing blocks (default: the chain's ``mine_to_confirm``).
        :raises RegistryError: ``code="rpc_error"`` when mining is asked of a node that does not offer it.
        :raises ChainUnavailableError: if the node does not answer in time.
        :return: 0 if the block is not on the chain yet.
        """
        target = block_number + (self._confirmations if wanted is None else wanted) - 1
        head = await self.block_number()
        if head < target and (self._mine_to_confirm if mine is None else mine):
            head = await self._mine_blocks(min(target - head, _MAX_MINE))
        return max(head - block_number + 1, 0)

    @property
    def mine_to_confirm(self) -> bool:
        """Whether missing confirmation blocks are mined on demand (dev chains only)."""
        return self._mine_to_confirm

    async def _receipt(self, tx_hash: bytes) -> Any:
        try:
            receipt = await self._rpc(
                self._w3.eth.get_transaction_receipt(tx_hash),  # type: ignore[arg-type]
                what="eth_getTransactionReceipt",
            )
        except RegistryError as exc:
            if type(exc.__cause__).__name__ != "TransactionNotFound":
                raise
            receipt = None
        if receipt is None:
            raise RegistryError(
                "transaction is not on the chain (dropped by a reorganisation, or never mined)",
                code="tx_dropped",
                details={"tx_hash": "0x" + tx_hash.hex()},
            )
        return receipt

    # -- logs -------------------------------------------------------------------------------

    async def get_logs(
        self,
        flt: LogFilter | None = None,
        *,
        address: str | tuple[str, ...] | None = None,
        topics: Sequence[bytes | tuple[bytes, ...] | None] = (),
        from_block: BlockId = 0,
        to_block: BlockId = "latest",
    ) -> list[LogEntry]:
        """Logs matching a filter (``eth_getLogs``), in chain order.

        Pass a :class:`LogFilter` or the same fields as keywords.

        :raises ChainUnavailableError: if the node does not answer in time.
        """
        query = flt or LogFilter(address=address, topics=tuple(topics), from_block=from_block, to_block=to_block)
        raw = await self._rpc(self._w3.eth.get_logs(_filter_params(query)), what="eth_getLogs")  # type: ignore[arg-type]
        return [_log_entry(log) for log in raw]

    async def get_logs_many(self, filters: Sequence[LogFilter]) -> list[list[LogEntry]]:
        """Run several log queries, batched into few JSON-RPC round trips where the node allows.

        Useful for walking a linked list of blocks (ERC-1056 ``previousChange``) level by level.

        :raises ChainUnavailableError: if the node does not answer in time.
        :return: one list of logs per filter, in the same order.
        """
        return [await self.get_logs(flt) for flt in filters]

    # -- mining on demand (dev nodes; DevChain.mine is the public face) ----------------------

    async def _mine_blocks(self, blocks: int = 1) -> int:
        """Mine ``blocks`` empty blocks (dev chains only: embedded, anvil, hardhat).

        :raises RegistryError: ``code="rpc_error"`` if the node does not offer ``evm_mine``.
        :return: the new head block number.
        """
        if not 0 < blocks <= _MAX_MINE:
            raise InvalidInputError(f"blocks must be between 1 and {_MAX_MINE}")
        for _ in range(blocks):
            try:
                await self._raw("evm_mine", [])
            except RegistryError as exc:
                if exc.code != "rpc_error":
                    raise
                raise RegistryError(
                    f"the node at {self._endpoint} does not mine blocks on request (evm_mine): only dev nodes "
                    "(anvil, hardhat, the embedded chain) do; do not ask this node to mine for confirmations "
                    "(mine_to_confirm)",
                    code="rpc_error",
                ) from exc
        return await self.block_number()

    # -- lifecycle --------------------------------------------------------------------------

    async def close(self) -> None:
        """Release network resources (the HTTP session). The chain cannot be used afterwards."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(chain_id={int(self._chain_id)}, endpoint={self._endpoint!r}, "
            f"confirmations={self._confirmations})"
        )


async def _bounded(awaitable: Awaitable[T], *, timeout: float | None, what: str, endpoint: str) -> T:
    """Await one chain request within ``timeout`` and translate its failure at the boundary."""
    try:
        if timeout is None:
            return await awaitable
        async with asyncio.timeout(timeout):
            return await awaitable
    except Exception as exc:
        raise translate(exc, what=what, endpoint=endpoint, timeout=timeout) from exc


class JsonRpcChain(Chain):
    """A chain reached over HTTP JSON-RPC; made by :meth:`Chain.connect`."""

    async def get_logs_many(self, filters: Sequence[LogFilter]) -> list[list[LogEntry]]:
        out: list[list[LogEntry]] = []
        for start in range(0, len(filters), _RPC_BATCH):
            chunk = filters[start : start + _RPC_BATCH]
            params = [_filter_params(flt) for flt in chunk]

            async def run_batch(params: list[dict[str, Any]] = params) -> list[Any]:
                async with self._w3.batch_requests() as batch:
                    for p in params:
                        batch.add(self._w3.eth.get_logs(p))  # type: ignore[arg-type]
                    return list(await batch.async_execute())

            responses = await self._rpc(run_batch(), what="eth_getLogs (batch)")
            out.extend([_log_entry(log) for log in response] for response in responses)
        return out

    async def get_blocks(self, blocks: Sequence[BlockId]) -> list[BlockInfo]:
        out: list[BlockInfo] = []
        for start in range(0, len(blocks), _RPC_BATCH):
            params = [_block_param(block) for block in blocks[start : start + _RPC_BATCH]]

            async def run_batch(params: list[BlockIdentifier] = params) -> list[Any]:
                async with self._w3.batch_requests() as batch:
                    for p in params:
                        batch.add(self._w3.eth.get_block(p))
                    return list(await batch.async_execute())

            try:
                headers = await self._rpc(run_batch(), what="eth_getBlockByNumber (batch)")
            except RegistryError as exc:
                raise _missing_block(exc, "in the batch")  # noqa: B904 - the cause is set inside
            for block, raw in zip(blocks[start : start + _RPC_BATCH], headers, strict=True):
                if raw is None:
                    raise RegistryError(f"block {block} does not exist", code="block_not_found")
                out.append(_block_info(raw))
        return out

    async def close(self) -> None:
        provider = self._w3.provider
        if isinstance(provider, AsyncHTTPProvider):
            with contextlib.suppress(Exception):
                await provider.disconnect()


J = TypeVar("J", bound="JsonRpcChain")


async def _connect_json_rpc(
    kind: type[J],
    rpc_url: str,
    *,
    chain_id: int | None,
    timeout: float,
    confirmations: int,
    tx_timeout: float,
    poll_interval: float,
    mine_to_confirm: bool,
    headers: Mapping[str, str] | None,
) -> J:
    """:meth:`Chain.connect`, building a ``kind`` (:class:`JsonRpcChain` or the dev chain's)."""
    if not isinstance(rpc_url, str) or not rpc_url.startswith(("http://", "https://")):
        raise InvalidInputError("rpc_url must be an http:// or https:// URL")
    if timeout <= 0:
        raise InvalidInputError("timeout must be positive")
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    provider = AsyncHTTPProvider(
        rpc_url,
        request_kwargs={"timeout": client_timeout},
        exception_retry_configuration=None,  # one bounded attempt; retries would break the timeout
    )
    session = aiohttp.ClientSession(raise_for_status=True, timeout=client_timeout, headers=dict(headers or {}))
    await provider.cache_async_session(session)
    w3 = AsyncWeb3(provider)
    chain: J | None = None
    try:
        shown = _display_url(rpc_url)
        node_chain_id = await _bounded(w3.eth.chain_id, timeout=timeout, what="eth_chainId", endpoint=shown)
        if chain_id is not None and int(node_chain_id) != int(chain_id):
            raise ChainIdMismatchError(
                f"the node at {shown} serves chain id {node_chain_id}, not the configured {chain_id}; "
                "check the RPC URL or the configured chain id",
                details={"expected": int(chain_id), "actual": int(node_chain_id)},
            )
        chain = kind(
            w3,
            chain_id=int(node_chain_id),
            endpoint=shown,
            confirmations=confirmations,
            timeout=timeout,
            tx_timeout=tx_timeout,
            poll_interval=poll_interval,
            mine_to_confirm=mine_to_confirm,
        )
        return chain
    finally:
        if chain is None:
            await provider.disconnect()
            await session.close()
