"""The chain port of the outbox and its adapter over the ``AccessReceiptRegistry`` contract."""

from __future__ import annotations

from typing import Final, Protocol

from vcsdk.errors import RegistryError, TransactionRevertedError
from vcsdk.outbox._models import AnchorLocation
from vcsdk.registry import Chain, ContractHandle, Sender, TxResult, load_artifact

__all__ = ["AccessReceiptRegistry", "AnchorChain"]

CONTRACT_NAME: Final = "AccessReceiptRegistry"

#: The contract's custom errors, as the ``reason`` of the :class:`TransactionRevertedError` raised.
_REASONS: Final = {
    "NotOwner": "not_owner",
    "NotAnchorer": "not_anchorer",
    "EmptyRoot": "empty_root",
    "EmptyBatch": "empty_batch",
    "ZeroAddress": "zero_address",
    "BatchConflict": "batch_conflict",
}


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

    async def confirmations_of(self, block_number: int, *, wanted: int) -> int:
        """Blocks on ``block_number`` (its own included); a dev chain that mines on demand mines
        the missing ones up to ``wanted`` first (see :meth:`vcsdk.registry.Chain.confirmations_of`)."""
        ...

    async def tx_pending(self, tx_hash: str) -> bool:
        """True if the node still knows ``tx_hash`` as an unmined transaction."""
        ...


class AccessReceiptRegistry:
    """Typed access to a deployed ``AccessReceiptRegistry`` on a :class:`~vcsdk.registry.Chain`.

    Transactions come from ``sender``: a secp256k1 :class:`~vcsdk.keys.Key` (signed locally, what
    production uses) or the address of an account the node holds unlocked (a dev node). Without a
    sender the client is read-only (``root_of``, ``find_anchor``: enough to check proofs).
    Implements :class:`AnchorChain`; node timeouts and confirmations are the chain's.

    :param chain: the chain (``Chain.embedded()`` or ``await Chain.connect(url)``).
    :param address: the contract address.
    :param sender: who sends ``anchor`` and ``setAnchorer`` transactions, if anyone.
    :param from_block: the contract's deployment block; event searches start there.
    :param mine_to_confirm: on a dev chain that mines only on demand, mine the empty blocks a batch
        still needs for its confirmations (without it, such a chain never confirms anything).
    :raises InvalidInputError: if ``address`` is not an address.
    """

    def __init__(
        self,
        chain: Chain,
        address: str,
        *,
        sender: Sender | None = None,
        from_block: int = 0,
        mine_to_confirm: bool = False,
    ) -> None:
        self.chain = chain
        self.mine_to_confirm = mine_to_confirm
        self.contract: ContractHandle = chain.contract(CONTRACT_NAME, address)
        self.sender = sender
        self.from_block = from_block
        self._topic0 = self.contract.event_topic("BatchAnchored")

    @property
    def address(self) -> str:
        """The contract address (checksummed)."""
        return self.contract.address

    def __repr__(self) -> str:
        return f"AccessReceiptRegistry({self.address}, chain_id={int(self.chain.chain_id)})"

    @classmethod
    async def deploy(cls, chain: Chain, *, sender: Sender) -> AccessReceiptRegistry:
        """Deploy a new registry; ``sender`` becomes its owner and first anchorer, and the client's sender.

        Waits for the chain's confirmations.

        :raises ChainUnavailableError: if the node cannot be reached.
        :raises TransactionRevertedError: if the deployment fails.
        :return: a client bound to the new contract, searching events from its deployment block.
        """
        # The constructor takes no arguments: the creation code is the artifact's bytecode.
        result = await chain.send(
            to=None, data=load_artifact(CONTRACT_NAME).bytecode, sender=sender, what=f"deploying {CONTRACT_NAME}"
        )
        if result.contract_address is None:
            raise RegistryError(f"deploying {CONTRACT_NAME} created no contract", code="deploy_failed")
        return cls(chain, result.contract_address, sender=sender, from_block=result.block_number)

    def _sender_or_raise(self, what: str) -> Sender:
        if self.sender is None:
            raise RegistryError(
                f"{what}: this registry client is read-only; give it a sender", code="read_only"
            )
        return self.sender

    def _named(self, exc: TransactionRevertedError, what: str) -> TransactionRevertedError:
        name = _REASONS.get(self.contract.error_name(exc.data) or "")
        if name is None:
            return exc
        return TransactionRevertedError(f"{what}: the registry refused it ({name})", reason=name, data=exc.data)

    async def set_anchorer(self, account: str, allowed: bool) -> TxResult:
        """Allow or disallow ``account`` to anchor (owner only); waits for the chain's confirmations.

        :raises TransactionRevertedError: ``reason="not_owner"`` if the sender is not the owner.
        :raises RegistryError: ``code="read_only"`` without a sender.
        """
        what = "setting an anchorer"
        try:
            return await self.contract.transact(
                "setAnchorer", account, allowed, sender=self._sender_or_raise(what)
            )
        except TransactionRevertedError as exc:
            raise self._named(exc, what) from exc

    async def is_anchorer(self, account: str) -> bool:
        """Whether ``account`` may anchor batches."""
        return bool(await self.contract.call("isAnchorer", account))

    async def anchor(self, batch_id: bytes, root: bytes, size: int) -> TxResult:
        """Anchor one batch root and wait for the chain's confirmations (a repeat is a no-op).

        The outbox uses :meth:`send_anchor` instead, which does not wait.

        :raises TransactionRevertedError: ``reason`` ``batch_conflict``, ``not_anchorer``,
            ``empty_root`` or ``empty_batch``.
        :raises RegistryError: ``code="read_only"`` without a sender.
        """
        what = "anchoring a receipt batch"
        try:
            return await self.contract.transact("anchor", batch_id, root, size, sender=self._sender_or_raise(what))
        except TransactionRevertedError as exc:
            raise self._named(exc, what) from exc

    # -- AnchorChain -----------------------------------------------------------------------------

    async def send_anchor(self, batch_id: bytes, root: bytes, size: int) -> str:
        """See :meth:`AnchorChain.send_anchor`."""
        what = "anchoring a receipt batch"
        try:
            tx_hash = await self.chain.submit(
                self.contract.function("anchor", batch_id, root, size), sender=self._sender_or_raise(what)
            )
        except TransactionRevertedError as exc:
            raise self._named(exc, what) from exc
        return "0x" + tx_hash.hex()

    async def find_anchor(self, batch_id: bytes) -> AnchorLocation | None:
        """See :meth:`AnchorChain.find_anchor`."""
        logs = await self.chain.get_logs(
            address=self.address, topics=[self._topic0, batch_id], from_block=self.from_block
        )
        for log in logs:
            if len(log.data) != 64:
                continue
            return AnchorLocation(
                batch_id=batch_id,
                root=log.data[:32],
                size=int.from_bytes(log.data[32:], "big"),
                tx_hash="0x" + log.transaction_hash.hex(),
                block_number=log.block_number,
            )
        return None

    async def root_of(self, batch_id: bytes) -> bytes | None:
        """See :meth:`AnchorChain.root_of`."""
        root = bytes(await self.contract.call("rootOf", batch_id))
        return None if root == bytes(32) else root

    async def block_number(self) -> int:
        """See :meth:`AnchorChain.block_number`."""
        return await self.chain.block_number()

    async def confirmations_of(self, block_number: int, *, wanted: int) -> int:
        """See :meth:`AnchorChain.confirmations_of`."""
        return await self.chain.confirmations_of(block_number, wanted=wanted, mine=self.mine_to_confirm)

    async def tx_pending(self, tx_hash: str) -> bool:
        """See :meth:`AnchorChain.tx_pending`."""
        return await self.chain.transaction_pending(bytes.fromhex(tx_hash.removeprefix("0x")))
