"""The durable outbox: accept receipts (stored before acknowledged), cut Merkle batches, anchor them.

Anchoring is a small state machine per batch, driven by :meth:`ReceiptOutbox.tick`. Every step is
safe to repeat after a crash at any point, because the chain is asked before anything is sent:

1. receipts without a batch are cut into a batch once ``batch_size`` are queued or the oldest
   waited ``max_age`` (one database transaction; the batch id derives from the batch's content);
2. for each open batch the outbox looks for its ``BatchAnchored`` event on the canonical chain;
   none and no transaction of ours still pending → send ``anchor`` (again). The contract treats
   the same batch id and root as a no-op, so a repeated send never anchors twice;
3. once the event's block has ``confirmations`` blocks on top, the batch and its receipts are final.
   Until then a dropped or reorganised-away transaction is noticed (the event disappears) and re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from vcsdk._time import aware
from vcsdk.credentials import DEFAULT_VERIFICATION_POLICY, IssuerKeyResolver, VerificationPolicy
from vcsdk.errors import ConflictError, InvalidInputError, NotFoundError, RegistryError
from vcsdk.keys import Key, UnverifiedJws
from vcsdk.outbox._chain import AnchorChain
from vcsdk.outbox._models import Batch, QueuedLeaf, StoredReceipt, TickReport
from vcsdk.outbox._store import ReceiptStore, SqlReceiptStore
from vcsdk.receipts import (
    MAX_BATCH_SIZE,
    SALT_BYTES,
    AccessReceipt,
    ConsentRecord,
    MerkleTree,
    peek_access_receipt,
    receipt_leaf,
    verify_access_receipt,
    verify_withdrawal_receipt,
)
from vcsdk.receipts._receipt import ReceiptVerifier, controller_kid, peek_receipts

__all__ = ["STEPS", "ReceiptOutbox"]

#: The points of one anchoring round, in order, reported to ``on_step`` (for logs and crash tests).
STEPS = ("batch_cut", "before_send", "after_send", "send_recorded", "confirmed", "final_recorded")

_MAX_BATCHES_PER_TICK = 64


class ReceiptOutbox:
    """Accepts access receipts durably and anchors them on chain in Merkle batches.

    :param store: where receipts, batches and consents live.
    :param chain: the anchoring contract (:class:`AccessReceiptRegistry`).
    :param batch_size: cut a batch when this many receipts are queued (at most 65,536).
    :param max_age: or when the oldest queued receipt has waited this long.
    :param confirmations: blocks (the anchoring block included) before a batch counts as final.
    :param on_step: called with each name in :data:`STEPS` as anchoring passes it.
    :param salt_source: returns fresh random salts; default ``secrets.token_bytes``.
    """

    def __init__(
        self,
        store: ReceiptStore,
        chain: AnchorChain,
        *,
        batch_size: int = 1024,
        max_age: timedelta = timedelta(minutes=5),
        confirmations: int = 12,
        on_step: Callable[[str], None] | None = None,
        salt_source: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        if not 0 < batch_size <= MAX_BATCH_SIZE:
            raise InvalidInputError(f"batch_size must be 1..{MAX_BATCH_SIZE}")
        if confirmations < 1:
            raise InvalidInputError("confirmations must be at least 1 (the anchoring block itself)")
        self.store = store
        self.chain = chain
        self.batch_size = batch_size
        self.max_age = max_age
        self.confirmations = confirmations
        self._on_step = on_step
        self._salt_source = salt_source

    def _step(self, name: str) -> None:
        if self._on_step is not None:
            self._on_step(name)

    # -- accepting ---------------------------------------------------------------------------------

    async def accept(
        self,
        token: str,
        *,
        service_key: Key,
        now: datetime,
        policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    ) -> StoredReceipt:
        """Verify a receipt against its stored consent, then store it durably; acknowledge after this.

        An access receipt is checked with :func:`~vcsdk.receipts.verify_access_receipt`, a withdrawal
        receipt (for a consent stored as withdrawn) with :func:`~vcsdk.receipts.verify_withdrawal_receipt`;
        both are anchored alike.

        The same receipt again is accepted again (idempotent), so a service may retry.

        :param token: the receipt the service returned.
        :param service_key: the service's key resolved from its DID for the token's ``kid``.
        :raises NotFoundError: if the consent it names is not stored.
        :raises VerificationError: any check of :func:`~vcsdk.receipts.verify_access_receipt`, e.g.
            :class:`~vcsdk.errors.ConsentWithdrawnError` for an access after a withdrawal.
        :raises ConflictError: if another receipt with the same id is stored.
        :return: the stored receipt, with its salt and leaf.
        """
        # The preview's token carries its parse, so verifying it does not read the text again.
        unverified = peek_access_receipt(token)
        consent = await self.store.get_consent(unverified.consent_id)
        verify = verify_withdrawal_receipt if unverified.kind == "withdrawal" else verify_access_receipt
        receipt = verify(unverified.token, consent=consent, service_key=service_key, now=now, policy=policy)
        return await self.keep(receipt, now=now)

    async def keep(self, receipt: AccessReceipt, *, now: datetime) -> StoredReceipt:
        """Store a receipt the caller verified against its stored consent (e.g. with
        :func:`~vcsdk.receipts.verify_access_receipt_resolved` or
        :func:`~vcsdk.receipts.verify_withdrawal_receipt`); acknowledge after this.

        :raises ConflictError: if another receipt with the same id is stored.
        :return: the stored receipt, with its salt and leaf.
        """
        salt = self._salt_source(SALT_BYTES)
        stored = StoredReceipt(
            receipt=receipt, salt=salt, leaf=receipt_leaf(receipt.to_bytes(), salt), stored_at=aware(now)
        )
        return await self.store.add_receipt(stored)

    async def accept_many(
        self,
        receipts: Sequence[tuple[str, Key]],
        *,
        now: datetime,
        policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    ) -> list[StoredReceipt]:
        """:meth:`accept` for many receipts at once (each with its service's key): their consents read
        in one query, each parsed once and verified, and all stored in one transaction; acknowledge
        after this.

        :raises NotFoundError: if a consent one names is not stored (nothing is stored).
        :raises VerificationError: if one fails a check (nothing is stored).
        :raises ConflictError: if another receipt with one of the ids is stored (nothing is stored).
        :return: the stored receipts, in the order given.
        """
        peeked = peek_receipts([token for token, _ in receipts])
        consents = await self._consents_of(peeked)
        return await self._verify_and_store(peeked, consents, [key for _, key in receipts], now=now, policy=policy)

    async def accept_many_resolved(
        self,
        tokens: Sequence[str],
        *,
        resolver: IssuerKeyResolver,
        now: datetime,
        policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    ) -> list[StoredReceipt]:
        """:meth:`accept_many` with each service's key resolved through ``resolver``: looked up for
        the consent's controller DID (never a DID the token names) by the token's ``kid``, once per
        distinct DID and ``kid`` in the call, however many receipts a service signed with it.

        :raises NotFoundError: if a consent one names is not stored (nothing is stored).
        :raises KeyNotFoundError: if a ``kid`` is missing or not a key of the consent's controller DID.
        :raises DidResolutionError: if a controller's DID cannot be resolved.
        :raises VerificationError: if one fails a check (nothing is stored).
        :raises ConflictError: if another receipt with one of the ids is stored (nothing is stored).
        :return: the stored receipts, in the order given.
        """
        peeked = peek_receipts(tokens)
        consents = await self._consents_of(peeked)
        found: dict[tuple[str, str], Key] = {}
        keys = []
        for receipt, _ in peeked:
            did, kid = controller_kid(receipt, _consent(consents, receipt))
            key = found.get((did, kid))
            if key is None:
                key = found[did, kid] = await resolver.resolve_key(did, kid, relationship="assertionMethod")
            keys.append(key)
        return await self._verify_and_store(peeked, consents, keys, now=now, policy=policy)

    async def _consents_of(self, receipts: Sequence[tuple[AccessReceipt, UnverifiedJws]]) -> dict[str, ConsentRecord]:
        """The stored consents the receipts name (one query on the SQL stores); absent ones left out."""
        wanted = [r.consent_id for r, _ in receipts]
        if isinstance(self.store, SqlReceiptStore):
            return await self.store.get_consents(wanted)
        found = {}
        for cid in dict.fromkeys(wanted):
            with contextlib.suppress(NotFoundError):
                found[cid] = await self.store.get_consent(cid)
        return found

    async def _verify_and_store(
        self,
        peeked: Sequence[tuple[AccessReceipt, UnverifiedJws]],
        consents: dict[str, ConsentRecord],
        keys: Sequence[Key],
        *,
        now: datetime,
        policy: VerificationPolicy,
    ) -> list[StoredReceipt]:
        """Verify each previewed receipt against its consent with its key, then store all in one
        transaction (nothing stored if one fails)."""
        stored_at = aware(now)
        verifier = ReceiptVerifier(now=stored_at, policy=policy)
        if self._salt_source is secrets.token_bytes:
            # One read of the system's random source for the call, cut into the receipts' salts.
            pool = secrets.token_bytes(SALT_BYTES * len(peeked))
            salts = [pool[i : i + SALT_BYTES] for i in range(0, len(pool), SALT_BYTES)]
        else:
            salts = [self._salt_source(SALT_BYTES) for _ in peeked]
        kept = []
        for (unverified, jws), key, salt in zip(peeked, keys, salts, strict=True):
            # Verified from the preview's parse: each receipt is parsed and read once.
            receipt = verifier.verify(unverified, jws, consent=_consent(consents, unverified), service_key=key)
            kept.append(StoredReceipt(receipt, salt, receipt_leaf(receipt.to_bytes(), salt), stored_at))
        if isinstance(self.store, SqlReceiptStore):
            return await self.store.add_receipts(kept)
        return [await self.store.add_receipt(r) for r in kept]

    # -- anchoring ---------------------------------------------------------------------------------

    async def tick(self, *, now: datetime) -> TickReport:
        """Cut due batches and move every open batch one step towards final.

        Chain failures do not raise: the report carries the error code and the work stays queued
        for the next tick (an RPC outage simply delays anchoring).

        :raises StorageError: if the store fails.
        :return: what happened.
        """
        now = aware(now)
        cut, queued = await self._cut_batches(now)
        sent = finalized = 0
        chain_error: str | None = None
        for batch in await self.store.open_batches():
            try:
                outcome = await self._advance(batch, now)
            except RegistryError as exc:
                chain_error = exc.code
                break
            sent += outcome == "sent"
            finalized += outcome == "final"
        if queued is None:
            # The round stopped with a full batch's worth or more still queued: count at most that
            # much again (never the whole queue, which grows when intake outruns anchoring).
            queued = len(await self._queued(self.batch_size))
        return TickReport(
            batches_cut=cut,
            sent=sent,
            finalized=finalized,
            open_batches=len(await self.store.open_batches()),
            queued_receipts=queued,
            chain_error=chain_error,
        )

    async def _queued(self, limit: int) -> Sequence[QueuedLeaf | StoredReceipt]:
        """The first ``limit`` receipts queued: the SQL stores read only what a batch needs (no
        token parsed); any other store gives whole receipts."""
        if isinstance(self.store, SqlReceiptStore):
            return await self.store.queued_leaves(limit=limit)
        return await self.store.queued_receipts(limit=limit)

    async def _cut_batches(self, now: datetime) -> tuple[int, int | None]:
        """Cut the batches due; return how many, and how many receipts were left queued when the
        cutting stopped (exact when fewer than ``batch_size``; ``None`` when not known without
        another look: the round's batch limit was reached or another outbox cut first)."""
        cut = 0
        fast = isinstance(self.store, SqlReceiptStore)
        while cut < _MAX_BATCHES_PER_TICK:
            # The SQL stores cut a batch in one transaction of three statements; any other store
            # goes receipt by receipt.
            queued = await self._queued(self.batch_size)
            if not queued:
                return cut, 0
            if len(queued) < self.batch_size and now - queued[0].stored_at < self.max_age:
                return cut, len(queued)
            tree = MerkleTree([r.leaf for r in queued])
            batch = Batch(
                batch_id=tree.batch_id, root=tree.root, size=tree.size, state="pending", created_at=now
            )
            try:
                if fast:
                    await self.store.create_batch_of_range(batch, queued)  # type: ignore[attr-defined]
                else:
                    await self.store.create_batch(batch, [r.receipt_id for r in queued])
            except ConflictError:
                # Another outbox on the same database cut these receipts first; its batch stands.
                return cut, None
            self._step("batch_cut")
            cut += 1
        return cut, None

    async def _advance(self, batch: Batch, now: datetime) -> str:
        location = await self.chain.find_anchor(batch.batch_id)
        if location is None:
            if batch.tx_hash is not None and await self.chain.tx_pending(batch.tx_hash):
                return "waiting"
            self._step("before_send")
            tx_hash = await self.chain.send_anchor(batch.batch_id, batch.root, batch.size)
            self._step("after_send")
            await self.store.update_batch(
                batch.batch_id, state="pending", tx_hash=tx_hash, block_number=None, sent=True
            )
            self._step("send_recorded")
            return "sent"
        if location.root != batch.root:
            # Impossible unless sha256 collides: the batch id is derived from the root.
            raise RegistryError("the chain holds another root for this batch id", code="batch_conflict")
        depth = await self.chain.confirmations_of(location.block_number, wanted=self.confirmations)
        if depth < self.confirmations:
            if (batch.state, batch.tx_hash, batch.block_number) != (
                "sent",
                location.tx_hash,
                location.block_number,
            ):
                await self.store.update_batch(
                    batch.batch_id, state="sent", tx_hash=location.tx_hash, block_number=location.block_number
                )
            return "waiting"
        self._step("confirmed")
        await self.store.update_batch(
            batch.batch_id,
            state="final",
            tx_hash=location.tx_hash,
            block_number=location.block_number,
            final_at=now,
        )
        self._step("final_recorded")
        return "final"

    async def drain(self, *, now: datetime, max_ticks: int = 100) -> TickReport:
        """Tick until nothing is queued or open, a chain error occurs, or ``max_ticks`` pass.

        Meant for shutdown and tests on an auto-mining chain; a server calls :meth:`tick` on a timer.

        :return: the last tick's report.
        """
        report = TickReport()
        for _ in range(max_ticks):
            report = await self.tick(now=now)
            if report.chain_error or (report.open_batches == 0 and report.queued_receipts == 0):
                break
        return report

    async def run(self, *, clock: Callable[[], datetime], interval: float, stop: asyncio.Event) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set (a server's background task).

        A failing store is logged by the caller's task supervision; chain outages never end the loop.

        :param clock: returns the current aware time (``lambda: datetime.now(UTC)`` in production).
        :param interval: seconds between ticks.
        :param stop: set it to end the loop after the current tick.
        """
        if interval < 0:
            raise InvalidInputError("interval must not be negative")
        while not stop.is_set():
            await self.tick(now=clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def batch_of(self, receipt_id: str) -> Batch:
        """The batch a receipt is in.

        :raises NotFoundError: if the receipt is unknown or not batched yet.
        """
        stored = await self.store.get_receipt(receipt_id)
        if stored.batch_id is None:
            raise NotFoundError("the receipt is not in a batch yet")
        return await self.store.get_batch(stored.batch_id)


def _consent(consents: dict[str, ConsentRecord], receipt: AccessReceipt) -> ConsentRecord:
    """The stored consent a receipt names.

    :raises NotFoundError: if it is not stored.
    """
    consent = consents.get(receipt.consent_id)
    if consent is None:
        raise NotFoundError("no such consent")
    return consent
