"""The resident's view: their access history, each receipt with a proof checked against the chain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vcsdk.errors import NotFoundError, ProofInvalidError
from vcsdk.outbox._chain import AnchorChain
from vcsdk.outbox._models import AnchoringState, Batch, ReceiptEntry, StoredReceipt
from vcsdk.outbox._store import ReceiptStore
from vcsdk.receipts import ConsentRecord, MerkleTree, verify_inclusion

__all__ = ["ResidentView"]


class ResidentView:
    """Read a resident's receipts (by their set of per-service pseudonyms) and manage consents.

    The resident's app derives one pseudonym per service it has used; the server never learns
    which pseudonyms belong together beyond the request that lists them.

    :param store: the outbox store.
    :param chain: the anchoring contract, read to check proofs of final receipts.
    """

    def __init__(self, store: ReceiptStore, chain: AnchorChain) -> None:
        self.store = store
        self.chain = chain

    async def list(
        self,
        pseudonyms: Sequence[str],
        *,
        service_did: str | None = None,
        purpose: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        after: tuple[datetime, str] | None = None,
    ) -> list[ReceiptEntry]:
        """The resident's receipts with their anchoring state, oldest access first (no chain reads).

        :param pseudonyms: the resident's pseudonyms, one per service.
        :param after: the (access time, receipt id) of the last receipt of the previous page.
        :return: entries with proofs for batched receipts (not yet checked against the chain).
        """
        stored = await self.store.list_receipts(
            pseudonyms=list(pseudonyms),
            service_did=service_did,
            purpose=purpose,
            since=since,
            until=until,
            limit=limit,
            after=after,
        )
        batches: dict[bytes, tuple[Batch, MerkleTree]] = {}
        out = []
        for item in stored:
            out.append(await self._entry(item, batches))
        return out

    async def get(self, receipt_id: str, *, pseudonyms: Sequence[str]) -> ReceiptEntry:
        """One receipt with its inclusion proof, checked against the root read from the chain now.

        :param pseudonyms: the caller's pseudonyms; a receipt about anyone else is "not found".
        :raises NotFoundError: if there is no such receipt for these pseudonyms.
        :raises ProofInvalidError: if the chain does not hold the root the proof leads to.
        :raises RegistryError: if the chain cannot be read.
        :return: the entry; for a final receipt the proof has been verified.
        """
        try:
            stored = await self.store.get_receipt(receipt_id)
        except NotFoundError:
            raise NotFoundError("no such receipt for this resident") from None
        if stored.receipt.resident_pseudonym not in set(pseudonyms):
            raise NotFoundError("no such receipt for this resident")
        entry = await self._entry(stored, {})
        if entry.state == "final" and entry.proof is not None:
            onchain = await self.chain.root_of(entry.proof.batch_id)
            if onchain is None:
                raise ProofInvalidError("the chain holds no root for this receipt's batch")
            verify_inclusion(entry.leaf, entry.proof, onchain)
        return entry

    async def withdraw(self, consent_id: str, *, pseudonyms: Sequence[str], now: datetime) -> ConsentRecord:
        """Withdraw a consent at ``now``; the outbox refuses receipts for later accesses under it.

        :raises NotFoundError: if the consent is unknown or belongs to other pseudonyms.
        :raises ConflictError: if it is already withdrawn.
        :return: the withdrawn consent.
        """
        consent = await self.store.get_consent(consent_id)
        if consent.resident_pseudonym not in set(pseudonyms):
            raise NotFoundError("no such consent for this resident")
        withdrawn = consent.withdraw(now=now)
        await self.store.put_consent(withdrawn)
        return withdrawn

    async def _entry(self, item: StoredReceipt, cache: dict[bytes, tuple[Batch, MerkleTree]]) -> ReceiptEntry:
        if item.batch_id is None or item.leaf_index is None:
            return ReceiptEntry(receipt=item.receipt, salt=item.salt, state="queued")
        if item.batch_id not in cache:
            batch = await self.store.get_batch(item.batch_id)
            cache[item.batch_id] = (batch, MerkleTree(await self.store.batch_leaves(item.batch_id)))
        batch, tree = cache[item.batch_id]
        state: AnchoringState = "final" if batch.state == "final" else "anchoring"
        return ReceiptEntry(
            receipt=item.receipt,
            salt=item.salt,
            state=state,
            proof=tree.proof(item.leaf_index),
            root=tree.root,
            tx_hash=batch.tx_hash if batch.state != "pending" else None,
            block_number=batch.block_number,
        )
