"""Ballot batch roots on chain, through an ``AccessReceiptRegistry`` deployed for the election.

The contract is a write-once map ``batchId -> root`` with a ``BatchAnchored`` event, which is all a
ballot box needs: roots cannot be changed once written, a re-sent batch is a no-op, and the events
list every batch ever anchored. Deploying one instance per election (its address goes in the
publication) lets an auditor read *all* of the election's batches from the chain alone and notice
any batch the publication leaves out.

The same contract holds the election's **token key commitments**: each token key is anchored once,
before voting opens, at its slot (``TokenKey.slot``) with its digest as the root. The contract
never overwrites a root, so there is exactly one key per slot, and the block says when it was
written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from vcsdk.errors import RegistryError
from vcsdk.registry import Chain, ContractHandle, EventLog, Sender
from vcsdk.voting._token import CommittedTokenKey, TokenKey

__all__ = ["ANCHOR_CONTRACT", "AnchoredBatch", "BallotAnchor"]

#: The shipped contract artifact ballot batches are anchored with.
ANCHOR_CONTRACT = "AccessReceiptRegistry"


@dataclass(frozen=True, slots=True)
class AnchoredBatch:
    """A batch root on chain: where, and in which transaction."""

    batch_id: bytes
    root: bytes
    size: int
    tx_hash: str
    block_number: int


class BallotAnchor:
    """Anchors and reads ballot batch roots in one election's anchor contract.

    :param chain: the chain (``Chain.embedded()`` or ``await Chain.connect(url)``).
    :param address: the election's ``AccessReceiptRegistry`` instance.
    :param sender: the account allowed to anchor (``None`` for a read-only auditor).
    :param from_block: the contract's deployment block; event searches start there.
    """

    def __init__(self, chain: Chain, address: str, *, sender: Sender | None = None, from_block: int = 0) -> None:
        self.chain = chain
        self.from_block = from_block
        self._contract: ContractHandle = chain.contract(ANCHOR_CONTRACT, address)
        self.address = self._contract.address
        self._sender = sender

    def __repr__(self) -> str:
        return f"BallotAnchor({self.address}, chain_id={int(self.chain.chain_id)})"

    @classmethod
    async def deploy(cls, chain: Chain, *, sender: Sender) -> BallotAnchor:
        """Deploy a fresh anchor contract for one election; ``sender`` owns it and may anchor.

        :raises TransactionRevertedError: if the deployment fails.
        :raises ChainUnavailableError: if the node does not answer.
        """
        handle = await chain.deploy_contract(ANCHOR_CONTRACT, sender=sender)
        # No batch can be anchored before the deployment is confirmed: start event searches here.
        return cls(chain, handle.address, sender=sender, from_block=await chain.block_number())

    async def anchor(self, batch_id: bytes, root: bytes, size: int) -> AnchoredBatch:
        """Write one batch root and wait for the chain's confirmations (idempotent on re-send).

        :raises RegistryError: (``read_only``) without a sender; the chain's errors otherwise
            (``TransactionRevertedError`` for a batch id already anchored with another root).
        """
        if self._sender is None:
            raise RegistryError("this BallotAnchor has no sender; it can only read", code="read_only")
        result = await self._contract.transact("anchor", batch_id, root, size, sender=self._sender)
        for event in self._contract.decode_logs(result.logs):
            if event.event == "BatchAnchored" and bytes(event.args["batchId"]) == batch_id:
                return _batch(event)
        # Already anchored by an earlier send (the contract's no-op): report that transaction.
        located = await self.find(batch_id)
        if located is None:
            raise RegistryError("the anchoring transaction was mined but no BatchAnchored event is found")
        return located

    async def find(self, batch_id: bytes) -> AnchoredBatch | None:
        """The ``BatchAnchored`` event of ``batch_id``, if any."""
        for batch in await self.batches(batch_id=batch_id):
            return batch
        return None

    async def root_of(self, batch_id: bytes) -> bytes | None:
        """The root the contract holds for ``batch_id`` (``None`` if not anchored)."""
        root = bytes(await self._contract.call("rootOf", batch_id))
        return None if root == bytes(32) else root

    async def batches(self, *, batch_id: bytes | None = None) -> list[AnchoredBatch]:
        """Every batch anchored in the contract (or the one with ``batch_id``), in chain order."""
        events = await self._contract.get_events(
            "BatchAnchored", topics=(batch_id,) if batch_id else (), from_block=self.from_block
        )
        return [_batch(e) for e in events]

    async def anchored_roots(self) -> dict[bytes, bytes]:
        """``batch_id -> root`` of everything anchored (ballot batches and token key commitments):
        the input of ``verify_published_election``."""
        return {b.batch_id: b.root for b in await self.batches()}

    async def set_anchorer(self, account: str, *, allowed: bool = True) -> None:
        """Let ``account`` (e.g. the city, to commit its token keys) anchor in this contract (owner only).

        :raises RegistryError: (``read_only``) without a sender; ``TransactionRevertedError`` if the
            sender is not the owner.
        """
        if self._sender is None:
            raise RegistryError("this BallotAnchor has no sender; it can only read", code="read_only")
        await self._contract.transact("setAnchorer", account, allowed, sender=self._sender)

    async def commit_token_key(self, key: TokenKey) -> AnchoredBatch:
        """Commit a token key (its digest at its slot), once and before voting opens.

        :raises TransactionRevertedError: if another key is already committed at this slot.
        :raises RegistryError: (``read_only``) without a sender.
        """
        return await self.anchor(key.slot, key.digest, 1)

    async def committed_token_key(self, key: TokenKey) -> CommittedTokenKey | None:
        """What the contract holds at ``key.slot`` (``None`` if nothing), with the block's time.

        The voter's device passes this to ``begin_token``; it reads it from the chain itself.
        """
        located = await self.find(key.slot)
        if located is None:
            return None
        block = await self.chain.get_block(located.block_number)
        return CommittedTokenKey(
            key.slot, located.root, located.block_number, datetime.fromtimestamp(block.timestamp, UTC)
        )

    async def token_key_commitments(self, keys: list[TokenKey]) -> dict[bytes, datetime]:
        """``slot -> block time`` of each key's commitment (missing slots are left out): the
        ``committed_at`` input of ``verify_published_election``."""
        out: dict[bytes, datetime] = {}
        for key in keys:
            committed = await self.committed_token_key(key)
            if committed is not None:
                out[key.slot] = committed.committed_at
        return out


def _batch(event: EventLog) -> AnchoredBatch:
    return AnchoredBatch(
        batch_id=bytes(event.args["batchId"]),
        root=bytes(event.args["root"]),
        size=int(event.args["size"]),
        tx_hash="0x" + event.log.transaction_hash.hex(),
        block_number=event.log.block_number,
    )
