"""What every part of a :class:`~vcsdk.registry.Chain` stands on: the node connection (web3, chain id,
timeouts, per-sender locks), the bounded request, the plain reads (blocks, balances, code) and the
lifecycle. Contract calls, transactions and event logs build on it in their own modules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from web3 import AsyncWeb3
from web3.types import RPCEndpoint

from vcsdk.errors import InvalidInputError, RegistryError
from vcsdk.registry._types import BlockId, BlockInfo, ChainId
from vcsdk.registry._wire import block_info, block_param, bounded, checksum, missing_block

__all__ = ["ChainBase"]

T = TypeVar("T")


class ChainBase:
    """The connection to one chain and its plain reads; see :class:`~vcsdk.registry.Chain`."""

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

    @property
    def mine_to_confirm(self) -> bool:
        """Whether missing confirmation blocks are mined on demand (dev chains only)."""
        return self._mine_to_confirm

    # -- plumbing ---------------------------------------------------------------------------

    async def _rpc(self, awaitable: Awaitable[T], *, what: str) -> T:
        return await bounded(awaitable, timeout=self._timeout, what=what, endpoint=self._endpoint)

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
        param = block_param(block)
        try:
            raw = await self._rpc(self._w3.eth.get_block(param), what="eth_getBlockByNumber")
        except RegistryError as exc:
            raise missing_block(exc, block)  # noqa: B904 - the cause is set inside
        if raw is None:
            raise RegistryError(f"block {block} does not exist", code="block_not_found")
        return block_info(raw)

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
                self._w3.eth.get_balance(checksum(address), block_identifier=block_param(block)),
                what="eth_getBalance",
            )
        )

    async def get_code(self, address: str, *, block: BlockId = "latest") -> bytes:
        """The runtime bytecode at ``address`` (empty for an account without code)."""
        return bytes(
            await self._rpc(
                self._w3.eth.get_code(checksum(address), block_identifier=block_param(block)),
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
