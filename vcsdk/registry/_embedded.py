"""The embedded chain: an in-process py-evm chain (web3's eth-tester provider), made fresh each time.

Its own module so that py-evm loads only when an embedded chain is made (``Chain.embedded()``).
"""

from __future__ import annotations

from eth_tester.exceptions import TransactionFailed
from eth_tester.exceptions import ValidationError as TesterValidationError
from web3 import AsyncWeb3
from web3.providers.eth_tester import AsyncEthereumTesterProvider

from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key
from vcsdk.registry._dev import DevChain
from vcsdk.registry._errors import add_backend_errors
from vcsdk.registry._transactions import MAX_MINE
from vcsdk.registry._types import BlockInfo

__all__ = ["EmbeddedChain"]

add_backend_errors(reverted=(TransactionFailed,), rejected=(TesterValidationError,))


class EmbeddedChain(DevChain):
    """An in-process chain on py-evm (web3's ``AsyncEthereumTesterProvider``), made fresh each time.

    Ten dev accounts are funded and unlocked (:meth:`dev_accounts`); their keys are in
    :attr:`dev_keys`. Mining is instant; confirmations beyond 1 are mined as empty blocks.
    """

    def __init__(self, *, confirmations: int = 1) -> None:
        provider = AsyncEthereumTesterProvider()
        tester = provider.ethereum_tester
        super().__init__(
            AsyncWeb3(provider),
            chain_id=int(tester.backend.chain.chain_id),
            endpoint="embedded",
            confirmations=confirmations,
            timeout=None,  # in process: nothing to wait for
            tx_timeout=60.0,
            poll_interval=0.0,
            mine_to_confirm=True,
        )
        self._tester = tester

    @property
    def dev_keys(self) -> list[Key]:
        """Private keys of the funded dev accounts (test use only; never on a real chain)."""
        return [Key.from_secp256k1_bytes(k.to_bytes()) for k in self._tester.backend.account_keys]

    async def mine(self, blocks: int = 1) -> int:
        if not 0 < blocks <= MAX_MINE:
            raise InvalidInputError(f"blocks must be between 1 and {MAX_MINE}")
        self._tester.mine_blocks(blocks)
        return await self.block_number()

    async def advance_time(self, seconds: int) -> BlockInfo:
        if seconds < 0:
            raise InvalidInputError("seconds must not be negative")
        latest = await self.get_block("latest")
        # eth-tester stamps the block it mines with one second less than the time travelled to.
        target = latest.timestamp + seconds + 1
        pending = int(self._tester.get_block_by_number("pending")["timestamp"])
        if target > pending:
            self._tester.time_travel(target)
        else:  # the wall clock is already past the target: a plain block carries it
            self._tester.mine_blocks(1)
        return await self.get_block("latest")
