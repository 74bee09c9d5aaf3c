"""The outbox's batched paths on real SQLite and PostgreSQL: many receipts accepted in one
transaction (all or nothing), batches cut from the queue in one transaction (refused when the queue
changed underneath), and every receipt of large batches provable against the root on chain."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Literal

import pytest

from tests.receipts._factories import OTHER_DID, T0, make_consent, make_receipt, service_key
from tests.receipts.conftest import PG_DSN
from vcsdk.errors import (
    ClaimsNotConsentedError,
    ConflictError,
    ConsentMismatchError,
    ConsentWithdrawnError,
    DisallowedAlgorithmError,
    KeyNotFoundError,
    NotFoundError,
    PurposeNotConsentedError,
    SignatureInvalidError,
    TokenNotYetValidError,
    TokenTypeError,
    UntrustedKeyError,
)
from vcsdk.ethr import Resolver
from vcsdk.keys import Key, decode_jws, sign_jws
from vcsdk.outbox import (
    AccessReceiptRegistry,
    PostgresReceiptStore,
    ReceiptEntry,
    ReceiptOutbox,
    ReceiptStore,
    ResidentView,
)
from vcsdk.outbox._models import Batch
from vcsdk.receipts import (
    ACCESS_RECEIPT_TYP,
    WITHDRAWAL_RECEIPT_TYP,
    MerkleTree,
    issue_withdrawal_receipt,
    peek_access_receipt,
    receipt_leaf,
    resident_pseudonym,
    verify_access_receipt,
    verify_inclusion,
    verify_withdrawal_receipt,
)

KEY = service_key()
NOW = T0 + timedelta(hours=1)


async def _consented(store: Any, n: int, *, consents: int = 10, prefix: str = "r") -> tuple[list, list[str]]:
    """:func:`_tokens`, with their consents put in ``store``."""
    made, tokens = _tokens(n, consents=consents, prefix=prefix)
    for consent in made:
        await store.put_consent(consent)
    return made, tokens


def _tokens(n: int, *, consents: int = 10, prefix: str = "r") -> tuple[list, list[str]]:
    made = [make_consent(record_id=f"{prefix}-c{i}", secret=bytes([i + 1]) * 32) for i in range(consents)]
    tokens = [
        make_receipt(KEY, made[i % consents], receipt_id=f"{prefix}{i:05d}", at=T0 + timedelta(minutes=i % 50))
        for i in range(n)
    ]
    return made, tokens


class _CountingResolver(Resolver):
    """A real resolver that counts the key lookups asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[tuple[str, str | None]] = []

    async def resolve_key(
        self,
        issuer: str,
        kid: str | None,
        *,
        relationship: Literal["assertionMethod", "authentication"] = "assertionMethod",
        at: Any = None,
    ) -> Key:
        self.lookups.append((issuer, kid))
        return await super().resolve_key(issuer, kid, relationship=relationship, at=at)


def _did_jwk_key() -> Key:
    key = Key.generate("P-256")
    did = "did:jwk:" + base64.urlsafe_b64encode(json.dumps(key.public_jwk()).encode()).decode().rstrip("=")
    return key.with_kid(f"{did}#0")


async def test_accept_many_resolved_looks_each_service_key_up_once(
    receipt_store: ReceiptStore, registry: AccessReceiptRegistry
) -> None:
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=64, confirmations=1)
    library, museum = _did_jwk_key(), _did_jwk_key()
    dids = {k: str(k.kid).split("#")[0] for k in (library, museum)}
    consents = {k: make_consent(did=dids[k], record_id=f"c-{n}") for n, k in enumerate((library, museum))}
    for consent in consents.values():
        await receipt_store.put_consent(consent)
    tokens = [make_receipt(k, consents[k], receipt_id=f"m{i:03d}-{n}")
              for i in range(40) for n, k in enumerate((library, museum))]
    resolver = _CountingResolver()
    stored = await outbox.accept_many_resolved(tokens, resolver=resolver, now=NOW)
    assert [s.receipt.token for s in stored] == tokens
    # 80 receipts from two services: two lookups, each for the consent's controller DID.
    assert sorted(resolver.lookups) == sorted((dids[k], k.kid) for k in (library, museum))
    # A receipt signed by another key under a kid of the controller fails its signature; one whose
    # kid is under another DID than the consent's controller is never looked up. Nothing is stored.
    forged = make_receipt(museum.with_kid(str(library.kid)), consents[library], receipt_id="f1")
    with pytest.raises(SignatureInvalidError):
        await outbox.accept_many_resolved([make_receipt(library, consents[library], receipt_id="ok1"), forged],
                                          resolver=resolver, now=NOW)
    # The library's receipt signed instead by the museum under the museum's kid: never looked up.
    claims = decode_jws(make_receipt(library, consents[library], receipt_id="f2")).unverified_claims()
    alien = sign_jws(claims, museum, typ=ACCESS_RECEIPT_TYP)
    resolver.lookups.clear()
    with pytest.raises(KeyNotFoundError):
        await outbox.accept_many_resolved([alien], resolver=resolver, now=NOW)
    assert resolver.lookups == []
    assert await receipt_store.count_queued() == 80


async def test_accept_many_is_one_transaction(receipt_store: ReceiptStore, registry: AccessReceiptRegistry) -> None:
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=64, confirmations=1)
    consents, tokens = await _consented(receipt_store, 300)
    key = KEY.public_key()
    stored = await outbox.accept_many([(t, key) for t in tokens[:200]], now=NOW)
    assert [s.receipt_id for s in stored] == [f"r{i:05d}" for i in range(200)]
    for s in stored[:3]:
        assert s.leaf == receipt_leaf(s.receipt.to_bytes(), s.salt)
        assert (await receipt_store.get_receipt(s.receipt_id)).salt == s.salt
    # The same receipts again (a retry) come back as stored, with the salts stored the first time.
    again = await outbox.accept_many([(t, key) for t in tokens[190:210]], now=NOW)
    assert [a.salt for a in again[:10]] == [s.salt for s in stored[190:200]]
    assert await receipt_store.count_queued() == 210

    # All or nothing: a bad signature, an unknown consent or another receipt under a stored id.
    stranger = service_key()
    with pytest.raises(SignatureInvalidError):
        await outbox.accept_many([(tokens[210], key), (make_receipt(stranger, consents[0], receipt_id="x1"), key)],
                                 now=NOW)  # fmt: skip
    lost = make_consent(record_id="never-stored")
    with pytest.raises(NotFoundError):
        await outbox.accept_many([(tokens[211], key), (make_receipt(KEY, lost, receipt_id="x2"), key)], now=NOW)
    reused = make_receipt(KEY, consents[1], receipt_id="r00000", at=T0 + timedelta(minutes=7))
    with pytest.raises(ConflictError):
        await outbox.accept_many([(tokens[212], key), (reused, key)], now=NOW)
    with pytest.raises(ConflictError):
        await outbox.accept_many([(tokens[213], key), (tokens[213], key)], now=NOW)
    assert await receipt_store.count_queued() == 210
    for receipt_id in ("r00210", "r00211", "r00212", "r00213", "x1", "x2"):
        with pytest.raises(NotFoundError):
            await receipt_store.get_receipt(receipt_id)


def _forged(token: str, **changes: Any) -> dict[str, Any]:
    """The claims of ``token`` with ``changes``, to sign again."""
    return {**decode_jws(token).unverified_claims(), **changes}


def _flip(token: str) -> str:
    """``token`` with one base64url character of its signature changed."""
    head, body, signature = token.split(".")
    return f"{head}.{body}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"


async def test_each_receipt_of_a_chunk_meets_every_check(
    receipt_store: ReceiptStore, registry: AccessReceiptRegistry
) -> None:
    """accept_many parses each distinct header once and checks it once per key, and verifies from
    the preview's parse; a bad receipt in the middle of a chunk of good ones under the same header
    still fails with the error verifying it alone gives, and nothing of the chunk is stored."""
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=64, confirmations=1)
    consents, tokens = _tokens(40, consents=4, prefix="k")
    withdrawn = make_consent(record_id="k-withdrawn", secret=bytes([9]) * 32)
    for consent in (*consents, withdrawn.withdraw(now=NOW - timedelta(minutes=5))):
        await receipt_store.put_consent(consent)
    withdrawn = await receipt_store.get_consent("k-withdrawn")
    key = KEY.public_key()
    good = tokens[0]
    other = service_key()  # the same kid, so the same header text as KEY's receipts
    lost = make_consent(record_id="k-never-stored")
    after_withdrawal = int((NOW - timedelta(minutes=1)).timestamp())
    elsewhere = service_key(OTHER_DID)
    bad: list[tuple[str, str, Key, type[Exception]]] = [
        ("a signature changed", _flip(good), key, SignatureInvalidError),
        ("another receipt's payload under its signature",
         ".".join((good.split(".")[0], tokens[1].split(".")[1], good.split(".")[2])), key, SignatureInvalidError),
        ("signed by another key under the service's kid", make_receipt(other, consents[1], receipt_id="kx1"), key,
         SignatureInvalidError),
        ("the caller's key for it is of another curve", make_receipt(KEY, consents[1], receipt_id="kx0"),
         service_key(curve="secp256k1").public_key(), DisallowedAlgorithmError),
        ("a header carrying its own key",
         sign_jws(_forged(good, jti="kx2"), KEY, typ=ACCESS_RECEIPT_TYP, header={"jwk": KEY.public_jwk()}), key,
         UntrustedKeyError),
        ("another typ", sign_jws(_forged(good, jti="kx3"), KEY, typ="JWT"), key, TokenTypeError),
        ("a kid under another DID than the receipt's issuer",
         sign_jws(_forged(good, jti="kx4"), elsewhere, typ=ACCESS_RECEIPT_TYP), elsewhere.public_key(),
         KeyNotFoundError),
        ("issued in the future",
         sign_jws(_forged(good, jti="kx5", iat=int((NOW + timedelta(hours=1)).timestamp())), KEY,
                  typ=ACCESS_RECEIPT_TYP), key, TokenNotYetValidError),
        ("claims not disclosed", sign_jws(_forged(good, jti="kx6", claims=["address"]), KEY, typ=ACCESS_RECEIPT_TYP),
         key, ClaimsNotConsentedError),
        ("a purpose not consented",
         sign_jws(_forged(good, jti="kx7", purpose="marketing"), KEY, typ=ACCESS_RECEIPT_TYP), key,
         PurposeNotConsentedError),
        ("a withdrawal receipt for a consent still given",
         sign_jws(_forged(issue_withdrawal_receipt(KEY, consent=withdrawn, receipt_id="kx8", now=NOW),
                          consent_id=consents[2].record_id, sub=consents[2].resident_pseudonym),
                  KEY, typ=WITHDRAWAL_RECEIPT_TYP), key, ConsentMismatchError),
        ("an access after the withdrawal",
         sign_jws(_forged(make_receipt(KEY, withdrawn, receipt_id="kx9"), iat=after_withdrawal), KEY,
                  typ=ACCESS_RECEIPT_TYP), key, ConsentWithdrawnError),
        ("a consent that is not stored", make_receipt(KEY, lost, receipt_id="kx10"), key, NotFoundError),
        ("the chunk's first receipt again", good, key, ConflictError),
    ]
    stored_consents = {c.record_id: c for c in (*consents, withdrawn)}
    for what, token, service, error in bad:
        # Alone, through the single receipt verifiers, it fails with the same error (or is a duplicate).
        if error not in (NotFoundError, ConflictError):
            unverified = peek_access_receipt(token)
            verify = verify_withdrawal_receipt if unverified.kind == "withdrawal" else verify_access_receipt
            with pytest.raises(error):
                verify(token, consent=stored_consents[unverified.consent_id], service_key=service, now=NOW)
        chunk = [(t, key) for t in tokens[:20]] + [(token, service)] + [(t, key) for t in tokens[20:]]
        with pytest.raises(error):
            await outbox.accept_many(chunk, now=NOW)
        assert await receipt_store.count_queued() == 0, what
    # The chunk with a withdrawal receipt for the withdrawn consent and access receipts before the
    # withdrawal: stored, each receipt as the single verifiers give it.
    withdrawal = issue_withdrawal_receipt(KEY, consent=withdrawn, receipt_id="kw1", now=NOW)
    earlier = make_receipt(KEY, withdrawn, receipt_id="kw0", at=T0 + timedelta(minutes=3))
    chunk = [*tokens[:20], withdrawal, earlier, *tokens[20:]]
    stored = await outbox.accept_many([(t, key) for t in chunk], now=NOW)
    expected = [
        (verify_withdrawal_receipt if t == withdrawal else verify_access_receipt)(
            t, consent=stored_consents[peek_access_receipt(t).consent_id], service_key=key, now=NOW
        )
        for t in chunk
    ]
    assert [s.receipt for s in stored] == expected
    assert all(type(s.receipt.token) is str for s in stored)
    assert len({s.salt for s in stored}) == len(chunk)
    assert all(s.leaf == receipt_leaf(s.receipt.to_bytes(), s.salt) for s in stored)
    assert await receipt_store.count_queued() == len(chunk)


async def test_consents_read_again_are_the_stored_text_parsed(
    receipt_store: ReceiptStore, registry: AccessReceiptRegistry
) -> None:
    """A consent body read again is not parsed again (kept by its text), and a withdrawal, which
    changes the stored text, is what the next read and the next intake see."""
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=64, confirmations=1)
    consent = make_consent(record_id="kept-1", secret=bytes([7]) * 32)
    await receipt_store.put_consent(consent)
    first = (await receipt_store.get_consents(["kept-1"]))["kept-1"]  # type: ignore[attr-defined]
    assert first == consent
    assert (await receipt_store.get_consents(["kept-1"]))["kept-1"] is first  # type: ignore[attr-defined]
    assert await receipt_store.get_consent("kept-1") is first
    key = KEY.public_key()
    before = make_receipt(KEY, consent, receipt_id="kept-r1", at=T0 + timedelta(minutes=5))
    after = sign_jws(_forged(make_receipt(KEY, consent, receipt_id="kept-r2"),
                             iat=int((T0 + timedelta(minutes=30)).timestamp())), KEY, typ=ACCESS_RECEIPT_TYP)
    await outbox.accept_many([(before, key)], now=NOW)
    withdrawn = consent.withdraw(now=T0 + timedelta(minutes=10))
    await receipt_store.put_consent(withdrawn)
    assert (await receipt_store.get_consents(["kept-1"]))["kept-1"] == withdrawn  # type: ignore[attr-defined]
    assert await receipt_store.get_consent("kept-1") == withdrawn
    with pytest.raises(ConsentWithdrawnError):
        await outbox.accept_many([(after, key)], now=NOW)
    assert await receipt_store.count_queued() == 1


@pytest.mark.slow  # load: thousands of receipts
async def test_large_batches_prove_against_the_chain(
    receipt_store: ReceiptStore, registry: AccessReceiptRegistry
) -> None:
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=1000, max_age=timedelta(hours=1), confirmations=1)
    consents, tokens = await _consented(receipt_store, 2300, consents=23)
    key = KEY.public_key()
    for i in range(0, len(tokens), 500):
        await outbox.accept_many([(t, key) for t in tokens[i : i + 500]], now=NOW)
    report = await outbox.tick(now=NOW)
    assert (report.batches_cut, report.queued_receipts) == (2, 300)  # the rest waits for max_age
    await outbox.drain(now=NOW + timedelta(hours=2))
    batches = {(await receipt_store.get_receipt(f"r{i:05d}")).batch_id for i in range(len(tokens))}
    assert len(batches) == 3 and None not in batches
    for batch_id in batches:
        assert batch_id is not None
        batch = await receipt_store.get_batch(batch_id)
        leaves = await receipt_store.batch_leaves(batch_id)
        tree = MerkleTree(leaves)
        root = await registry.root_of(batch_id)
        assert batch.state == "final" and root == batch.root == tree.root and len(leaves) == batch.size
        for index in range(len(leaves)):
            verify_inclusion(leaves[index], tree.proof(index), root)
    # In queue order: the first batch holds the first thousand receipts, leaf i is receipt i.
    first = await receipt_store.get_receipt("r00000")
    assert first.batch_id is not None
    assert await receipt_store.batch_leaves(first.batch_id) == [
        (await receipt_store.get_receipt(f"r{i:05d}")).leaf for i in range(1000)
    ]
    # As a resident's app sees one: the proof from the view, the root from the chain.
    pseudonym = resident_pseudonym(bytes([1]) * 32, consents[0].controller.did)
    # r01242: 1242 = 54 x 23, under consent 0.
    entry = await ResidentView(receipt_store, registry).get("r01242", pseudonyms=[pseudonym])
    token, salt, proof = ReceiptEntry.proof_material(entry.to_json())
    root = await registry.root_of(proof.batch_id)
    assert root is not None
    verify_inclusion(receipt_leaf(token.encode(), salt), proof, root)


async def test_a_cut_refuses_a_queue_that_changed(receipt_store: ReceiptStore, registry: AccessReceiptRegistry) -> None:
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=8, confirmations=1)
    _, tokens = await _consented(receipt_store, 8, consents=2)
    await outbox.accept_many([(t, KEY.public_key()) for t in tokens], now=NOW)
    queued = await receipt_store.queued_leaves(limit=8)  # type: ignore[attr-defined]
    # Another batcher cuts the first two meanwhile.
    other = MerkleTree([q.leaf for q in queued[:2]])
    await receipt_store.create_batch(
        Batch(other.batch_id, other.root, 2, "pending", NOW), [q.receipt_id for q in queued[:2]]
    )
    stale = MerkleTree([q.leaf for q in queued])
    batch = Batch(stale.batch_id, stale.root, 8, "pending", NOW)
    with pytest.raises(ConflictError):
        await receipt_store.create_batch_of_range(batch, queued)  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError):
        await receipt_store.get_batch(stale.batch_id)
    assert await receipt_store.count_queued() == 6
    # The outbox itself cuts what is left, in order.
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=6, confirmations=1)
    assert (await outbox.tick(now=NOW)).batches_cut == 1
    rest = (await receipt_store.get_receipt(queued[2].receipt_id)).batch_id
    assert rest is not None
    assert await receipt_store.batch_leaves(rest) == [q.leaf for q in queued[2:]]


async def test_positions_a_failed_insert_consumed_do_not_shift_leaves(
    receipt_store: ReceiptStore, registry: AccessReceiptRegistry
) -> None:
    """A batch covers a range of queue positions; positions no receipt holds (on PostgreSQL a rolled
    back insert, or a retry that found its receipts stored, still takes sequence values) are
    skipped, so every receipt's leaf index is its place in the batch and its proof verifies."""
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=9, max_age=timedelta(hours=1), confirmations=1)
    consents, tokens = await _consented(receipt_store, 9, consents=3, prefix="g")
    key = KEY.public_key()
    await outbox.accept_many([(t, key) for t in tokens[:3]], now=NOW)
    reused = make_receipt(KEY, consents[0], receipt_id="g00000", at=T0 + timedelta(minutes=9))
    with pytest.raises(ConflictError):  # rolled back after inserting one row
        await outbox.accept_many([(tokens[3], key), (reused, key)], now=NOW)
    await outbox.accept_many([(t, key) for t in tokens[:6]], now=NOW)  # three of them again
    await outbox.accept_many([(t, key) for t in tokens[6:]], now=NOW)
    assert (await outbox.tick(now=NOW)).batches_cut == 1
    await outbox.drain(now=NOW)
    first = await receipt_store.get_receipt("g00000")
    assert first.batch_id is not None
    leaves = await receipt_store.batch_leaves(first.batch_id)
    assert leaves == [(await receipt_store.get_receipt(f"g{i:05d}")).leaf for i in range(9)]
    if isinstance(receipt_store, PostgresReceiptStore):  # the range does hold positions without a receipt
        assert len((await receipt_store._fetch("SELECT gaps FROM outbox_batches"))[0][0]) >= 16
    pseudonyms = [c.resident_pseudonym for c in consents]
    view = ResidentView(receipt_store, registry)
    for i in range(9):
        stored = await receipt_store.get_receipt(f"g{i:05d}")
        assert (stored.batch_id, stored.leaf_index) == (first.batch_id, i)
        entry = await view.get(f"g{i:05d}", pseudonyms=pseudonyms)  # checked against the root on chain
        assert entry.state == "final" and entry.proof is not None and entry.proof.leaf_index == i
    listed = await receipt_store.list_receipts(pseudonyms=pseudonyms)
    assert sorted((r.receipt_id, r.leaf_index) for r in listed) == [(f"g{i:05d}", i) for i in range(9)]


@pytest.mark.slow  # load: concurrent producers and cuts
async def test_batches_cut_while_receipts_arrive_hold_each_receipt_once(
    receipt_store: ReceiptStore, registry: AccessReceiptRegistry
) -> None:
    """Producers store receipts in concurrent transactions while the outbox cuts: no receipt is left
    out of the range it falls in (on PostgreSQL an insert may commit after a later one), none is in
    two batches, and every batch's leaves are exactly its receipts, anchored as its root."""
    import asyncio

    outbox = ReceiptOutbox(receipt_store, registry, batch_size=64, max_age=timedelta(0), confirmations=1)
    _, tokens = await _consented(receipt_store, 1200, consents=12, prefix="k")
    key = KEY.public_key()
    chunks = [tokens[i : i + 25] for i in range(0, len(tokens), 25)]
    producing = 4

    async def produce(part: list[list[str]]) -> None:
        nonlocal producing
        for chunk in part:
            await outbox.accept_many([(t, key) for t in chunk], now=NOW)
            await asyncio.sleep(0)
        producing -= 1

    async def cut() -> None:
        while producing:
            await outbox.tick(now=NOW)
            await asyncio.sleep(0)

    await asyncio.gather(*(produce(chunks[n::4]) for n in range(4)), cut())
    report = await outbox.drain(now=NOW)
    assert (report.open_batches, report.queued_receipts) == (0, 0)
    members: dict[bytes, list[tuple[int, bytes]]] = {}
    for i in range(len(tokens)):
        stored = await receipt_store.get_receipt(f"k{i:05d}")
        assert stored.batch_id is not None and stored.leaf_index is not None
        members.setdefault(stored.batch_id, []).append((stored.leaf_index, stored.leaf))
    for batch_id, held in members.items():
        leaves = await receipt_store.batch_leaves(batch_id)
        assert sorted(held) == list(enumerate(leaves))
        assert await registry.root_of(batch_id) == MerkleTree(leaves).root
    assert sum(len(held) for held in members.values()) == len(tokens) and len(members) >= 19


@asynccontextmanager
async def _pg_outbox(schemas: Any, registry: AccessReceiptRegistry) -> AsyncIterator[tuple[Any, ReceiptOutbox]]:
    """A PostgreSQL outbox in a new schema that cuts a batch of up to 5 at every tick."""
    store = await PostgresReceiptStore.open(PG_DSN, schema=schemas.new(), max_size=4)
    try:
        yield store, ReceiptOutbox(store, registry, batch_size=5, max_age=timedelta(0), confirmations=1)
    finally:
        await store.close()


async def test_postgres_cut_waits_for_an_insert_in_flight(
    receipt_pg_schemas: Any, registry: AccessReceiptRegistry
) -> None:
    """On PostgreSQL a receipt takes its queue position when inserted and becomes visible at commit:
    a later insert may commit first. A cut waits for inserts in flight (the intake lock), so the
    early position is never left out of a range that covers it."""
    import asyncio

    async with _pg_outbox(receipt_pg_schemas, registry) as (store, outbox):
        _, tokens = await _consented(store, 5, consents=1, prefix="w")
        key = KEY.public_key()
        await outbox.accept_many([(t, key) for t in tokens[:3]], now=NOW)
        slow = (await outbox.accept_many([(tokens[3], key)], now=NOW))[0]  # its row, re-inserted below
        await store._fetch("DELETE FROM outbox_receipts WHERE receipt_id = $1", slow.receipt_id)
        async with store._tx() as conn:  # an insert that takes position 5 and commits after position 6
            await store._intake(conn)
            r = slow.receipt
            await conn.execute(
                "INSERT INTO outbox_receipts (receipt_id, token, salt, leaf, service_did, pseudonym, consent_id, "
                "purpose, accessed_at, stored_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                r.receipt_id, r.token, slow.salt, slow.leaf, r.service_did, r.resident_pseudonym, r.consent_id,
                r.purpose, int(r.accessed_at.timestamp()), int(NOW.timestamp()),
            )
            await outbox.accept_many([(tokens[4], key)], now=NOW)  # position 6, committed first
            tick = asyncio.ensure_future(outbox.tick(now=NOW))
            done, _ = await asyncio.wait([tick], timeout=0.5)
            assert not done, "the cut must wait for the insert in flight"
        report = await tick
        assert report.batches_cut == 1
        batch_id = (await store.get_receipt("w00004")).batch_id
        assert batch_id is not None and (await store.get_receipt("w00003")).batch_id == batch_id
        # Positions 1-3, then 5 (the slow insert) and 6; 4 holds nothing.
        assert [(await store.get_receipt(f"w{i:05d}")).leaf_index for i in range(5)] == [0, 1, 2, 3, 4]
        assert await store.batch_leaves(batch_id) == [(await store.get_receipt(f"w{i:05d}")).leaf for i in range(5)]


async def test_postgres_cut_waits_for_a_single_receipt_in_a_transaction(
    receipt_pg_schemas: Any, registry: AccessReceiptRegistry
) -> None:
    """add_receipt is one statement that takes the intake lock before its row and queue position:
    inside a caller's transaction the lock holds until that commits, so a cut waits for it and the
    receipt lands in the range that covers its position."""
    import asyncio

    async with _pg_outbox(receipt_pg_schemas, registry) as (store, outbox):
        _, tokens = await _consented(store, 3, consents=1, prefix="s")
        key = KEY.public_key()
        await outbox.accept(tokens[0], service_key=key, now=NOW)
        async with store.transaction() as conn:
            joined = ReceiptOutbox(store.joined(conn), registry, batch_size=5, max_age=timedelta(0), confirmations=1)
            await joined.accept(tokens[1], service_key=key, now=NOW)  # position 2, committed last
            await outbox.accept(tokens[2], service_key=key, now=NOW)  # position 3, committed first
            tick = asyncio.ensure_future(outbox.tick(now=NOW))
            done, _ = await asyncio.wait([tick], timeout=0.5)
            assert not done, "the cut must wait for the receipt in flight"
        report = await tick
        assert report.batches_cut == 1
        stored = [await store.get_receipt(f"s{i:05d}") for i in range(3)]
        assert {r.batch_id for r in stored} == {stored[0].batch_id} and stored[0].batch_id is not None
        assert [r.leaf_index for r in stored] == [0, 1, 2]


async def test_a_round_never_counts_the_whole_queue(
    receipt_store: ReceiptStore, registry: AccessReceiptRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = ReceiptOutbox(receipt_store, registry, batch_size=8, max_age=timedelta(hours=1), confirmations=1)
    _, tokens = await _consented(receipt_store, 43, consents=5)
    key = KEY.public_key()
    await outbox.accept_many([(t, key) for t in tokens], now=NOW)

    async def whole_queue() -> int:
        raise AssertionError("an anchoring round counted the whole queue")

    monkeypatch.setattr(receipt_store, "count_queued", whole_queue)
    monkeypatch.setattr("vcsdk.outbox._outbox._MAX_BATCHES_PER_TICK", 2)
    # The round stops at its batch limit with 27 still queued: it reports at most one batch's worth.
    report = await outbox.tick(now=NOW)
    assert (report.batches_cut, report.open_batches, report.queued_receipts) == (2, 2, 8)
    report = await outbox.tick(now=NOW)
    assert (report.batches_cut, report.queued_receipts) == (2, 8)
    # Below a batch, exact: 11 left, one batch cut, 3 too young to cut.
    report = await outbox.tick(now=NOW)
    assert (report.batches_cut, report.queued_receipts) == (1, 3)
    report = await outbox.drain(now=NOW + timedelta(hours=2))
    assert (report.open_batches, report.queued_receipts) == (0, 0)
    monkeypatch.undo()
    assert await receipt_store.count_queued() == 0
