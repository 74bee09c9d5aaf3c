"""The chain port of the outbox and its web3 adapter over the ``AccessReceiptRegistry`` contract."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from vcsdk.errors import InvalidInputError, TransactionRevertedError, VcsdkError
from vcsdk.keys import Key
from vcsdk.receipts.outbox._models import AnchorLocation
from vcsdk.registry import Artifact, load_artifact

__all__ = ["AccessReceiptRegistry", "AnchorChain"]

_EVENT_SIGNATURE = "BatchAnchored(bytes32,bytes32,uint32)"


class AnchorChain(Protocol):
    """What the outbox needs from the chain. :class:`AccessReceiptRegistry` implements it.

    Every method raises :class:`~vcsdk.errors.ChainUnavailableError` when the node cannot be
    reached and :class:`~vcsdk.errors.RegistryError` for other chain failures.
    """

    async def send_anchor(self, batch_id: bytes, root: bytes, size: int) -> str:
        """Send ``anchor(batchId, root, size)`` without waiting for it to be mined; return the tx hash.

        :raises TransactionRevertedError: if the node refuses it (batch anchored with another root,
            sender not an anchorer).
        """
        ...

    async def find_anchor(self, batch_id: bytes) -> AnchorLocation | None:
        """The ``BatchAnchored`` event of ``batch_id`` on the current canonical chain, if any."""
        ...

    async def root_of(self, batch_id: bytes) -> bytes | None:
        """The root the contract holds for ``batch_id`` (``None`` if not anchored)."""
        ...

    async def block_number(self) -> int:
        """The latest block number."""
        ...

    async def tx_pending(self, tx_hash: str) -> bool:
        """True if the node still knows ``tx_hash`` as an unmined transaction."""
        ...


def _artifact() -> Artifact:
    return load_artifact("AccessReceiptRegistry")


class _Transactor:
    """Sends transactions from a node account or signs them locally; translates web3 errors."""

    def __init__(self, w3: Any, *, sender: str | None, private_key: Key | None, timeout: float) -> None:
        from web3 import AsyncWeb3

        if sender is not None and private_key is not None:
            raise InvalidInputError("give at most one of sender (a node account) or private_key")
        self.w3 = w3
        self.timeout = timeout
        if private_key is not None:
            from eth_account import Account

            self._account: Any = Account.from_key(private_key.secp256k1_bytes())
            self.address: str = self._account.address
        else:
            self._account = None
            self.address = AsyncWeb3.to_checksum_address(sender) if sender is not None else ""

    async def transact(self, call: Any, *, what: str) -> str:
        if not self.address:
            raise InvalidInputError(f"{what}: this registry client is read-only; give sender or private_key")
        if self._account is None:
            tx_hash = await self.call(call.transact({"from": self.address}), what=what)
            return "0x" + bytes(tx_hash).hex()
        nonce = await self.call(self.w3.eth.get_transaction_count(self.address, "pending"), what=what)
        tx = await self.call(call.build_transaction({"from": self.address, "nonce": nonce}), what=what)
        signed = self._account.sign_transaction(tx)
        tx_hash = await self.call(self.w3.eth.send_raw_transaction(signed.raw_transaction), what=what)
        return "0x" + bytes(tx_hash).hex()

    async def mined(self, tx_hash: str, *, what: str) -> Any:
        receipt = await self.call(
            self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout), what=what
        )
        if receipt["status"] != 1:
            raise TransactionRevertedError(f"{what}: the transaction reverted")
        return receipt

    async def call(self, awaitable: Any, *, what: str) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self.timeout)
        except Exception as exc:
            raise _translate(exc, what=what) from exc


class AccessReceiptRegistry:
    """Typed access to a deployed ``AccessReceiptRegistry`` through web3's ``AsyncWeb3``.

    Transactions come from ``sender`` (an account the node holds, as on a dev node) or are signed
    locally with ``private_key`` (a secp256k1 :class:`~vcsdk.keys.Key`), which is what production uses.
    With neither, the client is read-only (``root_of``, ``find_anchor``: enough to check proofs).
    Implements :class:`AnchorChain`.

    :param w3: an ``AsyncWeb3`` connected to the chain (HTTP JSON-RPC or the embedded tester).
    :param address: the contract address.
    :param from_block: the contract's deployment block; event searches start there.
    :param timeout: seconds to wait for any one node call.
    :raises InvalidInputError: if both ``sender`` and ``private_key`` are given.
    """

    def __init__(
        self,
        w3: Any,
        address: str,
        *,
        sender: str | None = None,
        private_key: Key | None = None,
        from_block: int = 0,
        timeout: float = 30.0,
    ) -> None:
        from web3 import AsyncWeb3

        self._tx = _Transactor(w3, sender=sender, private_key=private_key, timeout=timeout)
        self._w3 = w3
        self.address = AsyncWeb3.to_checksum_address(address)
        self.sender = self._tx.address
        self.from_block = from_block
        self._contract = w3.eth.contract(address=self.address, abi=_artifact().abi_list())
        self._topic0 = "0x" + AsyncWeb3.keccak(text=_EVENT_SIGNATURE).hex().removeprefix("0x")

    @classmethod
    async def deploy(
        cls, w3: Any, *, sender: str | None = None, private_key: Key | None = None, timeout: float = 30.0
    ) -> AccessReceiptRegistry:
        """Deploy a new registry; the deployer becomes its owner and first anchorer.

        :raises ChainUnavailableError: if the node cannot be reached.
        :raises TransactionRevertedError: if the deployment fails.
        :return: a client bound to the new contract.
        """
        artifact = _artifact()
        factory = w3.eth.contract(abi=artifact.abi_list(), bytecode=artifact.bytecode)
        tx = _Transactor(w3, sender=sender, private_key=private_key, timeout=timeout)
        receipt = await tx.mined(
            await tx.transact(factory.constructor(), what="deploying AccessReceiptRegistry"),
            what="deploying AccessReceiptRegistry",
        )
        return cls(
            w3,
            receipt["contractAddress"],
            sender=sender,
            private_key=private_key,
            from_block=int(receipt["blockNumber"]),
            timeout=timeout,
        )

    async def set_anchorer(self, account: str, allowed: bool) -> None:
        """Allow or disallow ``account`` to anchor (owner only); waits until mined.

        :raises TransactionRevertedError: if the sender is not the owner.
        """
        from web3 import AsyncWeb3

        call = self._contract.functions.setAnchorer(AsyncWeb3.to_checksum_address(account), allowed)
        await self._tx.mined(
            await self._tx.transact(call, what="setting an anchorer"), what="setting an anchorer"
        )

    async def is_anchorer(self, account: str) -> bool:
        """Whether ``account`` may anchor batches."""
        from web3 import AsyncWeb3

        call = self._contract.functions.isAnchorer(AsyncWeb3.to_checksum_address(account)).call()
        return bool(await self._tx.call(call, what="reading isAnchorer"))

    # -- AnchorChain -----------------------------------------------------------------------------

    async def send_anchor(self, batch_id: bytes, root: bytes, size: int) -> str:
        """See :meth:`AnchorChain.send_anchor`."""
        call = self._contract.functions.anchor(batch_id, root, size)
        return await self._tx.transact(call, what="anchoring a receipt batch")

    async def find_anchor(self, batch_id: bytes) -> AnchorLocation | None:
        """See :meth:`AnchorChain.find_anchor`."""
        params = {
            "address": self.address,
            "fromBlock": self.from_block,
            "toBlock": "latest",
            "topics": [self._topic0, "0x" + batch_id.hex()],
        }
        logs = await self._tx.call(self._w3.eth.get_logs(params), what="reading BatchAnchored events")
        for log in logs:
            data = bytes(log["data"])
            if log.get("removed") or len(data) != 64:
                continue
            return AnchorLocation(
                batch_id=batch_id,
                root=data[:32],
                size=int.from_bytes(data[32:], "big"),
                tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                block_number=int(log["blockNumber"]),
            )
        return None

    async def root_of(self, batch_id: bytes) -> bytes | None:
        """See :meth:`AnchorChain.root_of`."""
        root = bytes(
            await self._tx.call(self._contract.functions.rootOf(batch_id).call(), what="reading rootOf")
        )
        return None if root == bytes(32) else root

    async def block_number(self) -> int:
        """See :meth:`AnchorChain.block_number`."""
        return int(await self._tx.call(self._w3.eth.get_block_number(), what="reading the block number"))

    async def tx_pending(self, tx_hash: str) -> bool:
        """See :meth:`AnchorChain.tx_pending`."""
        from web3.exceptions import TransactionNotFound

        try:
            tx = await asyncio.wait_for(self._w3.eth.get_transaction(tx_hash), self._tx.timeout)
        except TransactionNotFound:
            return False
        except Exception as exc:
            raise _translate(exc, what="reading a transaction") from exc
        return tx.get("blockNumber") is None


def _translate(exc: BaseException, *, what: str) -> VcsdkError:
    from vcsdk.registry._errors import translate

    if not isinstance(exc, Exception):  # pragma: no cover - cancellation and exits pass through
        raise exc
    error = translate(exc, what=what, endpoint="the configured node", timeout=None)
    if isinstance(error, TransactionRevertedError) and error.data:
        name = _reason(error.data)
        if name is not None:
            return TransactionRevertedError(f"{what}: the registry refused it ({name})", reason=name, data=error.data)
    return error


_ERRORS = {
    "NotOwner()": "not_owner",
    "NotAnchorer()": "not_anchorer",
    "EmptyRoot()": "empty_root",
    "EmptyBatch()": "empty_batch",
    "ZeroAddress()": "zero_address",
    "BatchConflict(bytes32,bytes32)": "batch_conflict",
}


def _reason(data: str | None) -> str | None:
    if not data or len(data) < 10:
        return None
    from web3 import Web3

    for signature, name in _ERRORS.items():
        if data[:10] == "0x" + Web3.keccak(text=signature).hex().removeprefix("0x")[:8]:
            return name
    return None
