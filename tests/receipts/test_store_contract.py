"""One contract suite for the outbox store, run on real SQLite and real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.receipts._factories import T0, make_consent, make_receipt, service_key
from vcsdk.errors import ConflictError, InvalidInputError, NotFoundError
from vcsdk.outbox import Batch, ReceiptStore, StoredReceipt
from vcsdk.receipts import ConsentRecord, MerkleTree, peek_access_receipt, receipt_leaf

KEY = service_key()
CONSENT = make_consent()


def stored(i: int, *, consent: ConsentRecord = CONSENT, purpose: str = "age_check") -> StoredReceipt:
    token = make_receipt(KEY, consent, receipt_id=f"r{i:03d}", purpose=purpose, at=T0 + timedelta(minutes=i))
    salt = bytes([i]) * 32
    return StoredReceipt(
        receipt=peek_access_receipt(token),
        salt=salt,
        leaf=receipt_leaf(token.encode(), salt),
        stored_at=T0 + timedelta(minutes=i, seconds=1),
    )


async def test_add_get_idempotent_and_conflict(receipt_store: ReceiptStore) -> None:
    first = stored(1)
    assert await receipt_store.add_receipt(first) == first
    assert await receipt_store.add_receipt(first) == first
    got = await receipt_store.get_receipt("r001")
    assert got == first and got.batch_id is None
    other = stored(2)
    clash = StoredReceipt(
        receipt=other.receipt.__class__(**{**_fields(other.receipt), "receipt_id": "r001"}),
        salt=other.salt,
        leaf=other.leaf,
        stored_at=other.stored_at,
    )
    with pytest.raises(ConflictError):
        await receipt_store.add_receipt(clash)
    with pytest.raises(NotFoundError):
        await receipt_store.get_receipt("nope")


async def test_the_same_receipt_again_keeps_the_stored_salt_and_the_queue_counts_past_it(
    receipt_store: ReceiptStore,
) -> None:
    """A receipt is inserted first and read only when its id is taken: the same token again (kept
    anew, so with another salt) returns the stored one, and the queue position the refused insert
    may have used leaves no hole in the batch's leaf indexes."""
    first, second = stored(1), stored(2)
    assert await receipt_store.add_receipt(first) == first
    again = StoredReceipt(
        receipt=first.receipt, salt=b"\x09" * 32, leaf=receipt_leaf(first.receipt.token.encode(), b"\x09" * 32),
        stored_at=first.stored_at + timedelta(minutes=5),
    )
    assert await receipt_store.add_receipt(again) == first
    assert await receipt_store.add_receipt(second) == second
    queued = await receipt_store.queued_receipts(limit=10)
    assert [(r.receipt_id, r.salt) for r in queued] == [("r001", first.salt), ("r002", second.salt)]
    tree = MerkleTree([r.leaf for r in queued])
    await receipt_store.create_batch(
        Batch(batch_id=tree.batch_id, root=tree.root, size=2, state="pending", created_at=T0), ["r001", "r002"]
    )
    assert [(await receipt_store.get_receipt(i)).leaf_index for i in ("r001", "r002")] == [0, 1]
    assert await receipt_store.batch_leaves(tree.batch_id) == [first.leaf, second.leaf]


def _fields(value: object) -> dict[str, object]:
    return {name: getattr(value, name) for name in value.__slots__}  # type: ignore[attr-defined]


async def test_queue_batches_and_leaves(receipt_store: ReceiptStore) -> None:
    items = [stored(i) for i in range(5)]
    for item in items:
        await receipt_store.add_receipt(item)
    queued = await receipt_store.queued_receipts(limit=3)
    assert [r.receipt_id for r in queued] == ["r000", "r001", "r002"]
    assert await receipt_store.count_queued() == 5
    tree = MerkleTree([r.leaf for r in queued])
    batch = Batch(batch_id=tree.batch_id, root=tree.root, size=3, state="pending", created_at=T0)
    await receipt_store.create_batch(batch, [r.receipt_id for r in queued])
    assert await receipt_store.count_queued() == 2
    assert await receipt_store.batch_leaves(tree.batch_id) == [r.leaf for r in queued]
    assert (await receipt_store.get_receipt("r002")).leaf_index == 2
    assert await receipt_store.open_batches() == [batch]
    # A receipt already in a batch cannot be put in another; nothing of the failed batch remains.
    other = Batch(batch_id=bytes(32), root=bytes(32), size=2, state="pending", created_at=T0)
    with pytest.raises(ConflictError):
        await receipt_store.create_batch(other, ["r003", "r001"])
    assert await receipt_store.count_queued() == 2
    with pytest.raises(NotFoundError):
        await receipt_store.get_batch(bytes(32))
    await receipt_store.update_batch(tree.batch_id, state="pending", tx_hash="0xab", block_number=None, sent=True)
    await receipt_store.update_batch(tree.batch_id, state="final", tx_hash="0xab", block_number=7, final_at=T0)
    final = await receipt_store.get_batch(tree.batch_id)
    assert (final.state, final.tx_hash, final.block_number, final.attempts, final.final_at) == (
        "final",
        "0xab",
        7,
        1,
        T0,
    )
    assert await receipt_store.open_batches() == []
    assert await receipt_store.recent_batches(limit=5) == [final]
    with pytest.raises(NotFoundError):
        await receipt_store.update_batch(bytes(32), state="sent", tx_hash=None, block_number=None)


async def test_recent_batches_newest_first_in_any_state(receipt_store: ReceiptStore) -> None:
    for i in range(4):
        await receipt_store.add_receipt(stored(i))
    batches = []
    for i in range(4):
        batch = Batch(batch_id=bytes([i + 1]) * 32, root=bytes([i]) * 32, size=1, state="pending",
                      created_at=T0 + timedelta(minutes=i))
        await receipt_store.create_batch(batch, [f"r{i:03d}"])
        batches.append(batch)
    await receipt_store.update_batch(batches[0].batch_id, state="final", tx_hash="0x01", block_number=3, final_at=T0)
    recent = await receipt_store.recent_batches(limit=3)
    assert [b.batch_id for b in recent] == [b.batch_id for b in reversed(batches[1:])]
    assert (await receipt_store.recent_batches(limit=10))[-1].state == "final"


async def test_list_filters(receipt_store: ReceiptStore) -> None:
    other_resident = make_consent(record_id="consent-2", secret=bytes(range(1, 33)))
    await receipt_store.add_receipt(stored(1))
    await receipt_store.add_receipt(stored(2, purpose="library_membership"))
    await receipt_store.add_receipt(stored(3, consent=other_resident))
    mine = [CONSENT.resident_pseudonym]
    assert [r.receipt_id for r in await receipt_store.list_receipts(pseudonyms=mine)] == ["r001", "r002"]
    assert [r.receipt_id for r in await receipt_store.list_receipts(pseudonyms=mine, purpose="age_check")] == ["r001"]
    since = await receipt_store.list_receipts(pseudonyms=mine, since=T0 + timedelta(minutes=2))
    assert [r.receipt_id for r in since] == ["r002"]
    until = await receipt_store.list_receipts(until=T0 + timedelta(minutes=2))
    assert [r.receipt_id for r in until] == ["r001"]
    assert await receipt_store.list_receipts(pseudonyms=[]) == []
    assert len(await receipt_store.list_receipts(service_did=CONSENT.controller.did)) == 3


async def test_iter_receipts_pages_by_access_time_then_id(receipt_store: ReceiptStore) -> None:
    """Keyset pages: ties in access time are split by id, nothing repeats, nothing is skipped."""
    same_minute = [(f"r{i:03d}", 5) for i in range(7)]  # seven receipts in one second
    spread = [(f"r{i:03d}", i) for i in range(7, 20)]
    for receipt_id, minute in same_minute + spread:
        token = make_receipt(KEY, CONSENT, receipt_id=receipt_id, at=T0 + timedelta(minutes=minute))
        salt = receipt_id.encode().ljust(32, b"0")
        await receipt_store.add_receipt(
            StoredReceipt(peek_access_receipt(token), salt, receipt_leaf(token.encode(), salt), T0)
        )
    everything = await receipt_store.list_receipts(limit=100)
    for page_size in (1, 3, 7, 100):
        streamed = [r async for r in receipt_store.iter_receipts(page_size=page_size)]
        assert [r.receipt_id for r in streamed] == [r.receipt_id for r in everything]
    assert len(everything) == 20
    window = [r.receipt_id async for r in receipt_store.iter_receipts(
        since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=9), page_size=2
    )]  # fmt: skip
    assert window == [f"r{i:03d}" for i in range(7)] + ["r007", "r008"]
    with pytest.raises(InvalidInputError):
        [r async for r in receipt_store.iter_receipts(page_size=0)]


async def test_consents_store_and_only_withdraw(receipt_store: ReceiptStore) -> None:
    await receipt_store.put_consent(CONSENT)
    await receipt_store.put_consent(CONSENT)
    assert await receipt_store.get_consent("consent-1") == CONSENT
    withdrawn = CONSENT.withdraw(now=T0 + timedelta(days=1))
    await receipt_store.put_consent(withdrawn)
    assert await receipt_store.get_consent("consent-1") == withdrawn
    with pytest.raises(ConflictError):
        await receipt_store.put_consent(CONSENT)
    with pytest.raises(ConflictError):
        await receipt_store.put_consent(make_consent(expires_at=None))
    with pytest.raises(NotFoundError):
        await receipt_store.get_consent("consent-9")


async def test_a_residents_pages_hold_every_receipt_once_in_order(receipt_store: ReceiptStore) -> None:
    """Keyset pages over several pseudonyms (one per service): ties in access time split by id,
    other residents' receipts never appear, receipts added while paging come at the end."""
    dids = [f"did:example:service{n}" for n in range(3)]
    consents = [make_consent(did=did, record_id=f"c-{n}") for n, did in enumerate(dids)]
    stranger = make_consent(did=dids[0], record_id="c-x", secret=bytes(range(1, 33)))
    keys = [service_key(did) for did in dids]
    expected: list[str] = []
    for i in range(40):
        which = i % 3
        # Several receipts share each second, across services, so pages must split ties by id.
        at = T0 + timedelta(seconds=i // 4)
        token = make_receipt(keys[which], consents[which], receipt_id=f"r{i:03d}-{which}", at=at)
        salt = bytes([i]) * 32
        await receipt_store.add_receipt(
            StoredReceipt(peek_access_receipt(token), salt, receipt_leaf(token.encode(), salt), at)
        )
        expected.append(f"r{i:03d}-{which}")
        if i % 5 == 0:  # someone else's history, interleaved
            other = make_receipt(keys[0], stranger, receipt_id=f"x{i:03d}", at=at)
            await receipt_store.add_receipt(
                StoredReceipt(peek_access_receipt(other), salt, receipt_leaf(other.encode(), salt), at)
            )
    mine = [c.resident_pseudonym for c in consents]
    seen: list[str] = []
    after = None
    for _ in range(20):  # bounded: 40 receipts in pages of 7
        page = await receipt_store.list_receipts(pseudonyms=mine, limit=7, after=after)
        seen += [r.receipt_id for r in page]
        if len(page) < 7:
            break
        after = (page[-1].receipt.accessed_at, page[-1].receipt.receipt_id)
    ordered = sorted(expected, key=lambda rid: (int(rid[1:4]) // 4, rid))
    assert seen == ordered
    only_one = await receipt_store.list_receipts(pseudonyms=mine[1:2], limit=100)
    assert [r.receipt_id for r in only_one] == [rid for rid in ordered if rid.endswith("-1")]
