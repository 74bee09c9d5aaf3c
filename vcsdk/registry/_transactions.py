"""Transactions: send (signed locally by a :class:`~vcsdk.keys.Key` or by an unlocked node account),
gas and EIP-1559 fees, receipts, the revert reason of a mined failure, and confirmations (following
a transaction a reorganisation moved; mining the missing blocks on a dev chain that asks for it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, Final, TypeVar

from eth_account import Account

from vcsdk.errors import InvalidInputError, RegistryError, VcsdkError
from vcsdk.keys import Key
from vcsdk.registry._base import ChainBase
from vcsdk.registry._contracts import ContractCall
from vcsdk.registry._errors import revert_error, translate
from vcsdk.registry._signing import key_address
from vcsdk.registry._types import Sender, TxResult
from vcsdk.registry._wire import bounded, checksum, result_from_receipt

__all__ = ["MAX_MINE", "Transactions"]

T = TypeVar("T")

_GAS_MARGIN: Final = 1.25
_GAS_PAD: Final = 10_000
#: The most blocks mined in one request (dev chains).
MAX_MINE: Final = 10_000


class Transactions(ChainBase):
    """Sending transactions and waiting for their confirmations; part of :class:`~vcsdk.registry.Chain`."""

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
        return await self.wait_for_confirmations(result_from_receipt(receipt), confirmations=confirmations)

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
        from_address: str = key_address(sender) if isinstance(sender, Key) else checksum(sender, what="sender")
        tx: dict[str, Any] = {"from": from_address, "value": value, "data": "0x" + data.hex()}
        if to is not None:
            tx["to"] = checksum(to, what="recipient")
        async with self._lock_for(from_address):
            if gas is None:
                estimate = await self._rpc(self._w3.eth.estimate_gas(tx), what=f"{what} (gas estimate)")  # type: ignore[arg-type]
                gas = int(int(estimate) * _GAS_MARGIN) + _GAS_PAD
            tx["gas"] = gas
            tx["chainId"] = int(self._chain_id)
            tx.update(await self._fees())
            if isinstance(sender, Key):
                tx["nonce"] = await self._rpc(
                    self._w3.eth.get_transaction_count(checksum(from_address), "pending"),
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
        tx = await self._unless_not_found(
            self._w3.eth.get_transaction(tx_hash),  # type: ignore[arg-type]
            what="eth_getTransactionByHash",
        )
        return tx is not None and tx.get("blockNumber") is None

    async def _fees(self) -> dict[str, int]:
        latest = await self._rpc(self._w3.eth.get_block("latest"), what="eth_getBlockByNumber")
        base_fee = latest.get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": int(await self._rpc(self._w3.eth.gas_price, what="eth_gasPrice"))}
        priority = int(await self._rpc(self._w3.eth.max_priority_fee, what="eth_maxPriorityFeePerGas"))
        return {"maxPriorityFeePerGas": priority, "maxFeePerGas": 2 * int(base_fee) + priority}

    async def _wait_receipt(self, tx_hash: bytes, *, what: str) -> Any:
        return await bounded(
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
            result = result_from_receipt(await self._wait_receipt(bytes(tx), what="transaction"))
        else:
            result = result_from_receipt(await self._receipt(bytes(tx)))
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
                        "needs DevChain.connect(…, mine_to_confirm=True), or fewer confirmations)",
                        code="confirmation_timeout",
                        details={"tx_hash": "0x" + result.tx_hash.hex(), "block_number": result.block_number},
                    )
                await asyncio.sleep(self._poll_interval)
                continue
            if wanted <= 1:
                break
            current = result_from_receipt(await self._receipt(result.tx_hash))
            if current.block_number == result.block_number:
                break
            result = current  # moved by a reorganisation: wait for confirmations of its new block
        return replace(result, confirmations=max(head - result.block_number + 1, 0))

    async def confirmations_of(self, block_number: int, *, wanted: int | None = None, mine: bool | None = None) -> int:
        """How many blocks, ``block_number``'s own included, the chain has on that block now.

        On a chain that mines only on demand (the embedded chain, a dev node in automine or
        no-mining mode), ``mine`` first mines the missing empty blocks up to ``wanted``, so a
        transaction there becomes final as soon as it is asked about; only a
        :class:`~vcsdk.registry.DevChain` mines.

        :param wanted: the confirmations the caller waits for (default: the chain's).
        :param mine: mine the missing blocks (default: the chain's ``mine_to_confirm``).
        :raises RegistryError: ``code="rpc_error"`` when mining is asked of a chain that is not a
            :class:`~vcsdk.registry.DevChain` or of a node that does not offer it.
        :raises ChainUnavailableError: if the node does not answer in time.
        :return: 0 if the block is not on the chain yet.
        """
        target = block_number + (self._confirmations if wanted is None else wanted) - 1
        head = await self.block_number()
        if head < target and (self._mine_to_confirm if mine is None else mine):
            head = await self._mine_for_confirmations(min(target - head, MAX_MINE))
        return max(head - block_number + 1, 0)

    async def _receipt(self, tx_hash: bytes) -> Any:
        receipt = await self._unless_not_found(
            self._w3.eth.get_transaction_receipt(tx_hash),  # type: ignore[arg-type]
            what="eth_getTransactionReceipt",
        )
        if receipt is None:
            raise RegistryError(
                "transaction is not on the chain (dropped by a reorganisation, or never mined)",
                code="tx_dropped",
                details={"tx_hash": "0x" + tx_hash.hex()},
            )
        return receipt

    async def _unless_not_found(self, awaitable: Awaitable[T], *, what: str) -> T | None:
        """A transaction lookup, ``None`` when the node does not know the transaction."""
        try:
            return await self._rpc(awaitable, what=what)
        except RegistryError as exc:
            if type(exc.__cause__).__name__ != "TransactionNotFound":
                raise
            return None

    # -- blocks on request: none here; DevChain supplies them --------------------------------

    async def _mine_for_confirmations(self, blocks: int) -> int:
        """Make ``blocks`` empty blocks for a confirmation wait that asked to mine; a production
        chain makes none and says so (:class:`~vcsdk.registry.DevChain` mines them).

        :raises RegistryError: ``code="rpc_error"``, always.
        """
        raise RegistryError(
            f"the chain at {self._endpoint} does not mine blocks on request: only a DevChain does "
            "(DevChain.connect to anvil or hardhat, Chain.embedded); do not ask this chain to mine for "
            "confirmations (mine_to_confirm)",
            code="rpc_error",
        )
