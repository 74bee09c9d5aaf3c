"""The chain layer: one small async API over an embedded py-evm chain or any JSON-RPC node.

:class:`Chain` is put together from focused parts: the connection and plain reads
(``_base``), contract calls (``_contracts``), transactions and confirmations (``_transactions``) and
event logs (``_events``); the wire formats are in ``_wire``. This module adds the constructors, the
contract handles and deployment, and the JSON-RPC chain. Dev helpers live on
:class:`~vcsdk.registry.DevChain` (``_dev``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiohttp
from web3 import AsyncWeb3
from web3.providers.rpc import AsyncHTTPProvider
from web3.types import BlockIdentifier

from vcsdk.errors import ChainIdMismatchError, InvalidInputError, RegistryError
from vcsdk.registry._artifacts import load_artifact
from vcsdk.registry._contracts import ContractCall, ContractCalls, ContractHandle
from vcsdk.registry._events import EventReads
from vcsdk.registry._transactions import Transactions
from vcsdk.registry._types import BlockId, BlockInfo, LogEntry, LogFilter, Sender
from vcsdk.registry._wire import block_info, block_param, bounded, display_url, filter_params, log_entry, missing_block

if TYPE_CHECKING:  # pragma: no cover
    from vcsdk.registry._embedded import EmbeddedChain

__all__ = ["Chain", "ContractCall", "ContractHandle", "JsonRpcChain", "Sender"]

_RPC_BATCH: Final = 100


class Chain(Transactions, ContractCalls, EventReads):
    """An Ethereum chain: reads, contract calls, transactions that wait for N confirmations, logs.

    Build one with :meth:`Chain.embedded` (in-process py-evm chain, no set-up) or
    ``await Chain.connect(url)`` (any JSON-RPC node). Use it as an async context manager, or call
    :meth:`close`, to release the HTTP session.

    A transaction counts once ``confirmations`` blocks, its own included, are on the chain
    (``1``: mined; ``3``: mined and two more blocks). On chains that only make blocks for new
    transactions (the embedded chain, a dev node in automine mode) set ``mine_to_confirm`` so the
    chain mines the missing empty blocks itself; otherwise it polls until the network makes them.
    """

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
        :param mine_to_confirm: mine missing blocks with ``evm_mine`` (dev nodes such as anvil only):
            the chain returned is then a :class:`~vcsdk.registry.DevChain`, as from
            ``DevChain.connect``, since only a dev chain mines.
        :param headers: extra HTTP headers for every request, e.g. an ``Authorization`` header
            for a node behind an API gateway (never logged or shown in errors).
        :raises InvalidInputError: if ``rpc_url`` is not an http(s) URL.
        :raises ChainUnavailableError: if the node does not answer within ``timeout``.
        :raises ChainIdMismatchError: if the node's chain id is not ``chain_id``.
        :return: the connected chain; close it when done.
        """
        kind: type[JsonRpcChain] = JsonRpcChain
        if mine_to_confirm:
            # Imported here: _dev builds on this module.
            from vcsdk.registry._dev import DevJsonRpcChain

            kind = DevJsonRpcChain
        return await _connect_json_rpc(
            kind, rpc_url, chain_id=chain_id, timeout=timeout, confirmations=confirmations,
            tx_timeout=tx_timeout, poll_interval=poll_interval, mine_to_confirm=mine_to_confirm, headers=headers,
        )

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


class JsonRpcChain(Chain):
    """A chain reached over HTTP JSON-RPC; made by :meth:`Chain.connect`."""

    async def get_logs_many(self, filters: Sequence[LogFilter]) -> list[list[LogEntry]]:
        out: list[list[LogEntry]] = []
        for start in range(0, len(filters), _RPC_BATCH):
            chunk = filters[start : start + _RPC_BATCH]
            params = [filter_params(flt) for flt in chunk]

            async def run_batch(params: list[dict[str, Any]] = params) -> list[Any]:
                async with self._w3.batch_requests() as batch:
                    for p in params:
                        batch.add(self._w3.eth.get_logs(p))  # type: ignore[arg-type]
                    return list(await batch.async_execute())

            responses = await self._rpc(run_batch(), what="eth_getLogs (batch)")
            out.extend([log_entry(log) for log in response] for response in responses)
        return out

    async def get_blocks(self, blocks: Sequence[BlockId]) -> list[BlockInfo]:
        out: list[BlockInfo] = []
        for start in range(0, len(blocks), _RPC_BATCH):
            params = [block_param(block) for block in blocks[start : start + _RPC_BATCH]]

            async def run_batch(params: list[BlockIdentifier] = params) -> list[Any]:
                async with self._w3.batch_requests() as batch:
                    for p in params:
                        batch.add(self._w3.eth.get_block(p))
                    return list(await batch.async_execute())

            try:
                headers = await self._rpc(run_batch(), what="eth_getBlockByNumber (batch)")
            except RegistryError as exc:
                raise missing_block(exc, "in the batch")  # noqa: B904 - the cause is set inside
            for block, raw in zip(blocks[start : start + _RPC_BATCH], headers, strict=True):
                if raw is None:
                    raise RegistryError(f"block {block} does not exist", code="block_not_found")
                out.append(block_info(raw))
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
        shown = display_url(rpc_url)
        node_chain_id = await bounded(w3.eth.chain_id, timeout=timeout, what="eth_chainId", endpoint=shown)
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
