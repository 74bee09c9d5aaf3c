"""The outbox on the embedded chain: accept, batch by size and age, confirmations, re-sends, the
contract's rules, the resident view, and a scan proving nothing personal reaches the chain."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from tests.receipts._factories import OTHER_DID, RESIDENT_SECRET, T0, make_consent, make_receipt, service_key
from vcsdk._b64 import b64url_decode
from vcsdk.errors import (
    ConflictError,
    ConsentWithdrawnError,
    NotFoundError,
    ProofInvalidError,
    RegistryError,
    SignatureInvalidError,
    TransactionRevertedError,
)
from vcsdk.outbox import AccessReceiptRegistry, ReceiptEntry, ReceiptOutbox, ReceiptStore, ResidentView
from vcsdk.receipts import ConsentRecord, MerkleTree, receipt_leaf, resident_pseudonym, verify_inclusion
from vcsdk.registry import EmbeddedChain

KEY = service_key()
OTHER_KEY = service_key(OTHER_DID)
NOW = T0 + timedelta(hours=1)


async def _fill(
    store: ReceiptStore,
    outbox: ReceiptOutbox,
    n: int,
    *,
    consent: ConsentRecord | None = None,
    key=KEY,
    prefix: str = "r",
) -> list[str]:
    consent = consent or make_consent()
    await store.put_consent(consent)
    ids = []
    for i in range(n):
        token = make_receipt(key, consent, receipt_id=f"{prefix}{i:03d}", at=T0 + timedelta(minutes=i % 50))
        ids.append((await outbox.accept(token, service_key=key.public_key(), now=NOW)).receipt_id)
    return ids


async def test_accept_stores_before_ack_and_checks_consent(
    sqlite_store: ReceiptStore, registry: AccessReceiptRegistry
) -> None:
    outbox = ReceiptOutbox(sqlite_store, registry, batch_size=4, confirmations=1)
    consent = make_consent()
    token = make_receipt(KEY, consent)
    with pytest.raises(NotFoundError):
        await outbox.accept(token, service_key=KEY.public_key(), now=NOW)
    await sqlite_store.put_consent(consent)
    with pytest.raises(SignatureInvalidError):
        await outbox.accept(token, service_key=OTHER_KEY.public_key(), now=NOW)
    first = await outbox.accept(token, service_key=KEY.public_key(), now=NOW)
    assert await sqlite_store.get_receipt(first.receipt_id) == first
    assert await outbox.accept(token, service_key=KEY.public_key(), now=NOW) == first  # a retry
    assert first.leaf == receipt_leaf(token.encode(), first.salt) and len(first.salt) == 32
    # After the resident withdraws, later accesses are refused; earlier ones stay valid history.
    view = ResidentView(sqlite_store, registry)
    await view.withdraw("consent-1", pseudonyms=[consent.resident_pseudonym], now=T0 + timedelta(minutes=10))
    late = make_receipt(KEY, consent, receipt_id="late", at=T0 + timedelta(minutes=20))
    with pytest.raises(ConsentWithdrawnError):
        await outbox.accept(late, service_key=KEY.public_key(), now=NOW)
    early = make_receipt(KEY, consent, receipt_id="early", at=T0 + timedelta(minutes=5))
    assert (await outbox.accept(early, service_key=KEY.public_key(), now=NOW)).receipt_id == "early"
    with pytest.raises(ConflictError):
        await view.withdraw("consent-1", pseudonyms=[consent.resident_pseudonym], now=NOW)
    with pytest.raises(NotFoundError):
        await view.withdraw("consent-1", pseudonyms=["x" * 43], now=NOW)


async def test_batches_by_size_and_confirmations(
    receipt_store: ReceiptStore, embedded_chain: EmbeddedChain, registry: AccessReceiptRegistry
) -> None:
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=4, max_age=timedelta(hours=1), confirmations=3)
    await _fill(receipt_store, outbox, 10)
    report = await outbox.tick(now=NOW)
    assert (report.batches_cut, report.sent, report.queued_receipts) == (2, 2, 2)
    # Mined (automine) but not yet 3 blocks deep.
    report = await outbox.tick(now=NOW)
    assert report.finalized == 0 and report.open_batches == 2
    assert {b.state for b in await receipt_store.open_batches()} == {"sent"}
    await embedded_chain.mine(2)
    report = await outbox.tick(now=NOW)
    assert report.finalized == 2 and report.open_batches == 0 and report.queued_receipts == 2
    # The last two wait for max_age, then go out on their own.
    assert (await outbox.tick(now=NOW + timedelta(minutes=59))).batches_cut == 0
    report = await outbox.drain(now=NOW + timedelta(hours=2))
    assert report.batches_cut == 0 and report.open_batches == 1  # cut and sent, waiting for blocks
    await embedded_chain.mine(3)
    report = await outbox.drain(now=NOW + timedelta(hours=2))
    assert (report.open_batches, report.queued_receipts) == (0, 0)
    logs = await embedded_chain.get_logs(address=registry.address, topics=[_topic(registry)])
    assert len(logs) == 3


def _topic(registry: AccessReceiptRegistry) -> bytes:
    return registry.contract.event_topic("BatchAnchored")


async def test_contract_rules(embedded_chain: EmbeddedChain, registry: AccessReceiptRegistry) -> None:
    tree = MerkleTree([bytes([i]) * 32 for i in range(3)])
    tx1 = await registry.send_anchor(tree.batch_id, tree.root, 3)
    tx2 = await registry.send_anchor(tree.batch_id, tree.root, 3)  # a repeat is a no-op
    assert tx1 != tx2
    location = await registry.find_anchor(tree.batch_id)
    assert location is not None and location.tx_hash == tx1 and location.root == tree.root and location.size == 3
    logs = await embedded_chain.get_logs(address=registry.address, topics=[_topic(registry)])
    assert len(logs) == 1
    assert await registry.root_of(tree.batch_id) == tree.root
    assert await registry.root_of(bytes(32)) is None
    with pytest.raises(TransactionRevertedError) as conflict:
        await registry.send_anchor(tree.batch_id, bytes([9]) * 32, 3)
    assert conflict.value.reason == "batch_conflict"
    with pytest.raises(TransactionRevertedError):
        await registry.send_anchor(bytes([1]) * 32, bytes(32), 3)
    accounts = await embedded_chain.dev_accounts()
    stranger = AccessReceiptRegistry(embedded_chain, registry.address, sender=accounts[1])
    with pytest.raises(TransactionRevertedError) as refused:
        await stranger.send_anchor(bytes([2]) * 32, tree.root, 3)
    assert refused.value.reason == "not_anchorer"
    with pytest.raises(TransactionRevertedError) as not_owner:
        await stranger.set_anchorer(accounts[1], True)
    assert not_owner.value.reason == "not_owner"
    await registry.set_anchorer(accounts[1], True)
    assert await registry.is_anchorer(accounts[1])
    await stranger.send_anchor(bytes([2]) * 32, tree.root, 3)
    await registry.set_anchorer(accounts[1], False)
    assert not await registry.is_anchorer(accounts[1])


async def test_read_only_client_and_waiting_anchor(
    embedded_chain: EmbeddedChain, registry: AccessReceiptRegistry
) -> None:
    tree = MerkleTree([bytes([i]) * 32 for i in range(4)])
    reader = AccessReceiptRegistry(embedded_chain, registry.address, from_block=registry.from_block)
    with pytest.raises(RegistryError) as refused:
        await reader.send_anchor(tree.batch_id, tree.root, 4)
    assert refused.value.code == "read_only"
    result = await registry.anchor(tree.batch_id, tree.root, 4)  # waits for the chain's confirmations
    assert result.status == 1 and result.gas_used > 0
    location = await reader.find_anchor(tree.batch_id)
    assert location is not None and location.block_number == result.block_number
    assert await reader.root_of(tree.batch_id) == tree.root
    assert not await reader.tx_pending(location.tx_hash)  # mined
    with pytest.raises(TransactionRevertedError) as conflict:
        await registry.anchor(tree.batch_id, bytes([7]) * 32, 4)
    assert conflict.value.reason == "batch_conflict"


async def test_signing_key_sender(embedded_chain: EmbeddedChain, sqlite_store: ReceiptStore) -> None:
    key = embedded_chain.dev_keys[2]
    registry = await AccessReceiptRegistry.deploy(embedded_chain, sender=key)
    outbox = ReceiptOutbox(sqlite_store, registry, batch_size=2, confirmations=1)
    await _fill(sqlite_store, outbox, 2)
    report = await outbox.drain(now=NOW)
    assert (report.open_batches, report.queued_receipts, report.chain_error) == (0, 0, None)


async def test_reorged_transaction_is_resent(
    sqlite_store: ReceiptStore, embedded_chain: EmbeddedChain, registry: AccessReceiptRegistry
) -> None:
    tester = embedded_chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    outbox = ReceiptOutbox(sqlite_store, registry, batch_size=3, confirmations=2)
    await _fill(sqlite_store, outbox, 3)
    snapshot = tester.take_snapshot()
    report = await outbox.tick(now=NOW)
    assert report.sent == 1
    (batch,) = await sqlite_store.open_batches()
    assert await registry.find_anchor(batch.batch_id) is not None
    # A reorganisation drops the block with the anchoring transaction (and the transaction with it).
    tester.revert_to_snapshot(snapshot)
    assert await registry.find_anchor(batch.batch_id) is None
    report = await outbox.tick(now=NOW)
    assert report.sent == 1
    await embedded_chain.mine(1)
    report = await outbox.tick(now=NOW)
    assert report.finalized == 1
    final = await sqlite_store.get_batch(batch.batch_id)
    assert final.attempts == 2 and final.state == "final"
    location = await registry.find_anchor(batch.batch_id)
    assert location is not None and final.tx_hash == location.tx_hash


async def test_resident_view_lists_and_proves(
    receipt_store: ReceiptStore, registry: AccessReceiptRegistry, embedded_chain: EmbeddedChain
) -> None:
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=4, confirmations=1)
    mine = make_consent()
    theirs = make_consent(record_id="consent-x", secret=bytes(range(5, 37)))
    at_other = make_consent(did=OTHER_DID, record_id="consent-o")
    await _fill(receipt_store, outbox, 5, consent=mine, prefix="m")
    await _fill(receipt_store, outbox, 2, consent=theirs, prefix="t")
    await _fill(receipt_store, outbox, 1, consent=at_other, key=OTHER_KEY, prefix="o")
    await outbox.tick(now=NOW)  # two batches of 4 cut and sent
    pseudonyms = [resident_pseudonym(RESIDENT_SECRET, d) for d in (mine.controller.did, OTHER_DID)]
    view = ResidentView(receipt_store, registry)
    entries = await view.list(pseudonyms)
    assert sorted(e.receipt.receipt_id for e in entries) == ["m000", "m001", "m002", "m003", "m004", "o000"]
    assert {e.state for e in entries} == {"anchoring"}
    only_other = await view.list(pseudonyms, service_did=OTHER_DID)
    assert [e.receipt.receipt_id for e in only_other] == ["o000"]
    await outbox.drain(now=NOW + timedelta(days=1))
    for entry in await view.list(pseudonyms):
        assert entry.state == "final" and entry.proof is not None and entry.tx_hash is not None
        checked = await view.get(entry.receipt.receipt_id, pseudonyms=pseudonyms)
        # Anyone can re-check with the SDK alone: leaf from receipt + salt, root from the chain.
        material = ReceiptEntry.proof_material(checked.to_json())
        root = await registry.root_of(material[2].batch_id)
        assert root is not None
        verify_inclusion(receipt_leaf(material[0].encode(), material[1]), material[2], root)
    with pytest.raises(NotFoundError):
        await view.get("t000", pseudonyms=pseudonyms)
    with pytest.raises(NotFoundError):
        await view.get("nope", pseudonyms=pseudonyms)
    # Against a registry that never anchored the batch, the proof cannot be checked.
    elsewhere = await AccessReceiptRegistry.deploy(embedded_chain, sender=(await embedded_chain.dev_accounts())[0])
    with pytest.raises(ProofInvalidError):
        await ResidentView(receipt_store, elsewhere).get("m000", pseudonyms=pseudonyms)


async def test_chain_sees_no_personal_data(
    sqlite_store: ReceiptStore, embedded_chain: EmbeddedChain, registry: AccessReceiptRegistry
) -> None:
    outbox = ReceiptOutbox(sqlite_store, registry, batch_size=3, confirmations=1)
    consents = [make_consent(record_id=f"consent-{i}", secret=bytes([i + 1]) * 32) for i in range(3)]
    for i, consent in enumerate(consents):
        await _fill(sqlite_store, outbox, 3, consent=consent, prefix=f"c{i}-")
    await outbox.drain(now=NOW)
    needles: set[bytes] = set()
    for consent in consents:
        p = consent.resident_pseudonym
        needles |= {p.encode(), b64url_decode(p), p.encode().hex().encode(), b64url_decode(p).hex().encode()}
        needles |= {
            consent.record_id.encode(),
            consent.presentation_hash.encode(),
            b64url_decode(consent.presentation_hash),
        }
        for claim in (*consent.claims_requested, *consent.purposes):
            needles |= {claim.encode(), claim.encode().hex().encode()}
    needles |= {b"Tanaka", base64.b64encode(b"Tanaka")}
    for r in await sqlite_store.list_receipts():
        needles |= {r.receipt_id.encode(), r.receipt.token.encode()[:40]}
    w3 = embedded_chain.w3
    blobs: list[bytes] = []
    for number in range(await w3.eth.get_block_number() + 1):
        block = await w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            blobs.append(bytes(tx.get("input") or tx.get("data") or b""))
            receipt = await w3.eth.get_transaction_receipt(tx["hash"])
            for log in receipt["logs"]:
                blobs.append(bytes(log["data"]))
                blobs.extend(bytes(t) for t in log["topics"])
    # Positive control: the scan does see what the outbox anchored (every batch root).
    batch_ids = {r.batch_id for r in await sqlite_store.list_receipts()}
    assert len(batch_ids) == 3 and None not in batch_ids
    for batch_id in batch_ids:
        root = (await sqlite_store.get_batch(batch_id)).root  # type: ignore[arg-type]
        assert any(root in blob for blob in blobs)
    for blob in blobs:
        for needle in needles:
            assert needle not in blob and needle not in blob.hex().encode()


async def test_run_loop_ticks_until_stopped(sqlite_store: ReceiptStore, registry: AccessReceiptRegistry) -> None:
    import asyncio

    outbox = ReceiptOutbox(sqlite_store, registry, batch_size=2, confirmations=1)
    await _fill(sqlite_store, outbox, 4)
    stop = asyncio.Event()
    calls: list[int] = []

    def clock():  # the loop reads the time once per tick; stop after three ticks
        calls.append(1)
        if len(calls) == 3:
            stop.set()
        return NOW

    await outbox.run(clock=clock, interval=0, stop=stop)
    assert len(calls) == 3
    assert (await outbox.tick(now=NOW)).open_batches == 0
    assert (await outbox.batch_of("r003")).state == "final"
    with pytest.raises(NotFoundError):
        await outbox.batch_of("nope")


async def test_two_outboxes_on_one_database(receipt_store: ReceiptStore, registry: AccessReceiptRegistry,
                                            embedded_chain: EmbeddedChain) -> None:
    import asyncio

    first = ReceiptOutbox(receipt_store, registry, batch_size=3, confirmations=1)
    second = ReceiptOutbox(receipt_store, registry, batch_size=3, confirmations=1)
    ids = await _fill(receipt_store, first, 9)
    for _ in range(4):
        reports = await asyncio.gather(first.tick(now=NOW), second.tick(now=NOW))
        assert all(r.chain_error is None for r in reports)
    assert (await first.tick(now=NOW)).open_batches == 0
    batch_ids = {(await receipt_store.get_receipt(i)).batch_id for i in ids}
    assert len(batch_ids) == 3
    logs = await embedded_chain.get_logs(address=registry.address, topics=[_topic(registry)])
    assert sorted(bytes(log.topics[1]) for log in logs) == sorted(batch_ids)  # type: ignore[type-var]
