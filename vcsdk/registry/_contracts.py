"""Contract calls: a prepared call (:class:`ContractCall`), a handle on a deployed contract
(:class:`ContractHandle`: encoding, calls, transactions, custom errors, events) and the chain's
``eth_call`` of a contract function, which says which address is wrong when a call fails silently."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from web3 import AsyncWeb3
from web3.contract import AsyncContract

from vcsdk.errors import InvalidInputError, RegistryError, RegistryNotConfiguredError, TransactionRevertedError
from vcsdk.keys import Key
from vcsdk.registry._artifacts import Artifact
from vcsdk.registry._base import ChainBase
from vcsdk.registry._signing import key_address
from vcsdk.registry._types import BlockId, EventLog, LogEntry, LogFilter, Sender, TxResult
from vcsdk.registry._wire import block_param, checksum, plain

if TYPE_CHECKING:  # pragma: no cover
    from vcsdk.registry._chain import Chain

__all__ = ["ContractCall", "ContractCalls", "ContractHandle"]


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
        self.address: str = checksum(address, what="contract address")
        self._contract: AsyncContract = chain.w3.eth.contract(
            address=checksum(address),
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
            decoded.append(EventLog(event=name, args=plain(event_data["args"]), log=log))
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


class ContractCalls(ChainBase):
    """The chain's read-only contract calls (``eth_call``); part of :class:`~vcsdk.registry.Chain`."""

    async def call(self, call: ContractCall, *, sender: Sender | None = None, block: BlockId = "latest") -> Any:
        """Run a contract function with ``eth_call`` and return its decoded result.

        :param sender: the ``msg.sender`` to simulate (an address or a key), if the function cares.
        :raises TransactionRevertedError: if the call reverts (``reason`` and ``data`` kept).
        :raises ChainUnavailableError: if the node does not answer in time.
        """
        fn = call.contract.contract.functions[call.function](*call.args)
        tx: dict[str, Any] = {}
        if sender is not None:
            tx["from"] = key_address(sender) if isinstance(sender, Key) else checksum(sender, what="sender")
        try:
            result = await self._rpc(
                fn.call(tx, block_identifier=block_param(block)),  # type: ignore[arg-type]
                what=f"{call.contract.name}.{call.function}",
            )
        except RegistryError as exc:
            raise await self._explain_silent_failure(call, exc)  # noqa: B904 - the cause is set inside
        return plain(result)

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
