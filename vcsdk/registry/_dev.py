"""Development chains: what a test, a demo or a local city needs and a production node must not offer.

:class:`DevChain` adds mining on request, moving the clock, the node's unlocked accounts and funding
from them to :class:`~vcsdk.registry.Chain`. The embedded chain is one; ``DevChain.connect`` opens a
local dev node (anvil, hardhat) as one. A production service uses ``Chain.connect`` and never sees
these methods.
"""

from __future__ import annotations

from collections.abc import Mapping

from eth_utils.address import to_checksum_address

from vcsdk.errors import InvalidInputError, RegistryError
from vcsdk.registry._chain import Chain, JsonRpcChain, _connect_json_rpc
from vcsdk.registry._transactions import MAX_MINE
from vcsdk.registry._types import BlockInfo, Sender, TxResult

__all__ = ["DevChain", "DevJsonRpcChain"]


class DevChain(Chain):
    """A :class:`~vcsdk.registry.Chain` on a development node, with its dev helpers."""

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
    ) -> DevJsonRpcChain:
        """:meth:`Chain.connect <vcsdk.registry.Chain.connect>` to a dev node (anvil, hardhat)."""
        return await _connect_json_rpc(
            DevJsonRpcChain, rpc_url, chain_id=chain_id, timeout=timeout, confirmations=confirmations,
            tx_timeout=tx_timeout, poll_interval=poll_interval, mine_to_confirm=mine_to_confirm, headers=headers,
        )

    async def mine(self, blocks: int = 1) -> int:
        """Mine ``blocks`` empty blocks.

        :raises InvalidInputError: unless ``blocks`` is between 1 and ``MAX_MINE``.
        :raises RegistryError: ``code="rpc_error"`` if the node does not offer ``evm_mine``.
        :return: the new head block number.
        """
        if not 0 < blocks <= MAX_MINE:
            raise InvalidInputError(f"blocks must be between 1 and {MAX_MINE}")
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

    async def _mine_for_confirmations(self, blocks: int) -> int:
        # The hook of Chain.confirmations_of: a dev chain mines what a confirmation wait lacks.
        return await self.mine(blocks)

    async def advance_time(self, seconds: int) -> BlockInfo:
        """Move the chain clock forward by ``seconds`` and mine a block carrying the new time (dev only).

        :raises RegistryError: ``code="rpc_error"`` if the node does not offer ``evm_increaseTime``.
        :return: the new head block.
        """
        if seconds < 0:
            raise InvalidInputError("seconds must not be negative")
        await self._raw("evm_increaseTime", [seconds])
        await self._raw("evm_mine", [])
        return await self.get_block("latest")

    async def dev_accounts(self) -> list[str]:
        """Accounts the node holds unlocked and funded (``eth_accounts``); usable as ``sender``."""
        accounts = await self._rpc(self._w3.eth.accounts, what="eth_accounts")
        return [str(to_checksum_address(a)) for a in accounts]

    async def fund(self, address: str, amount_wei: int, *, sender: Sender | None = None) -> TxResult:
        """Send ``amount_wei`` to ``address``, from the first dev account unless ``sender`` is given.

        :raises RegistryError: ``code="no_dev_accounts"`` if the node has no unlocked account.
        """
        if sender is None:
            accounts = await self.dev_accounts()
            if not accounts:
                raise RegistryError("the node has no unlocked account to fund from", code="no_dev_accounts")
            sender = accounts[0]
        return await self.send(to=address, value=amount_wei, sender=sender, what="funding transfer")


class DevJsonRpcChain(JsonRpcChain, DevChain):
    """A dev node over JSON-RPC (``DevChain.connect``)."""
