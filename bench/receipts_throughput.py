"""The receipt anchorer's throughput: accepted → anchored → final through one anchorer, with the floor.

For SQLite and PostgreSQL, on the embedded chain and on an anvil node (automine; skipped with a note
when anvil is not installed in ``tools/``), a fresh outbox (one ``AccessReceiptRegistry``, one
confirmation) takes realistic signed access receipts (ES256, signed beforehand as services would)
from 4 concurrent producers, ``ReceiptOutbox.accept_many`` in chunks of 500 (each receipt's
consent read, its signature verified, a salted leaf hashed, the chunk stored in one transaction),
while one anchorer ticks: batches of up to 4,096 receipts cut in one transaction, anchored, final.

Printed per database: ``intake_per_s`` (receipts stored per second while producing),
``anchored_per_s`` (receipts final per second from the first accept to the last final),
``lag_p99_s`` (accept → final, per receipt), and the floor measured in the same run on the same
receipts: one ES256 verification, one leaf hash and one batched insert per receipt
(``floor_per_s``); ``ratio`` is ``anchored_per_s / floor_per_s``; and ``anchorer_per_s``, the
anchorer alone (receipts already stored: cut, Merkle tree, anchor, final); and ``half_rate_lag_p99_s``,
accept → final per receipt when producers offer half of ``anchored_per_s`` (batches then close on
``max_age`` = 1 s, so the aim is about 1 s plus two blocks). The last line is PostgreSQL's on the
embedded chain: ``anchored_per_s=<n> intake_per_s=<n> lag_p99_s=<s> floor_per_s=<n> ratio=<r>
anchorer_per_s=<n> half_rate_lag_p99_s=<s>``.

``VCSDK_BENCH_QUICK=1`` runs 2,000 receipts per database instead of 20,000;
``VCSDK_BENCH_CHAINS=embedded`` (or ``anvil``) runs one chain only; ``VCSDK_BENCH_RECEIPTS`` and
``VCSDK_BENCH_BATCH`` set the number of receipts and the largest batch.

Then intake on PostgreSQL from 1 and 2 processes (``VCSDK_BENCH_PROCESSES``), each with its own
pool and two producers, into one outbox schema, while one anchorer in the bench's own process
anchors what they store: ``intake_processes=<n> intake_per_s=<n> anchored_per_s=<n>`` (receipt
inserts share a lock only with batch cuts, never with each other; ``anchored_per_s`` runs from the
first accept to the last receipt final).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from vcsdk._b64 import b64url_decode
from vcsdk.keys import Key
from vcsdk.outbox import AccessReceiptRegistry, PostgresReceiptStore, ReceiptOutbox, ReceiptStore, SqliteReceiptStore
from vcsdk.receipts import ConsentRecord, issue_access_receipt, presentation_hash, resident_pseudonym
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration
from vcsdk.registry import Chain, DevChain, DevNode

QUICK = os.environ.get("VCSDK_BENCH_QUICK") == "1"
RECEIPTS = int(os.environ.get("VCSDK_BENCH_RECEIPTS", "0")) or (2_000 if QUICK else 20_000)
PRODUCERS = 4
CHUNK = 500
BATCH = int(os.environ.get("VCSDK_BENCH_BATCH", "4096"))
PER_CONSENT = 10
CHAINS = [c for c in os.environ.get("VCSDK_BENCH_CHAINS", "embedded,anvil").split(",") if c in ("embedded", "anvil")]
PROCESSES = [int(n) for n in os.environ.get("VCSDK_BENCH_PROCESSES", "1,2").split(",")]
MAX_AGE = timedelta(seconds=1)
TOOLS = Path(__file__).resolve().parents[1] / "tools"
PG_DSN = os.environ.get("VCSDK_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
VCT = "https://city.example/ResidentIdentityCredential"


def _consents(count: int, did: str) -> list[ConsentRecord]:
    now = datetime.now(UTC)
    registration = RelyingPartyRegistration(
        issuer="did:example:city", service_did=did, registration_id="reg-1", name="Kaga Library",
        purposes=(Purpose("age_check", "Age check"),), claim_sets=(ClaimSet("age", VCT, (("age_over_18",),)),),
        retention_days=30, receipt_endpoint="https://library.example/withdrawals",
        privacy_policy="https://library.example/privacy", jurisdiction="JP", issued_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=365),
    )
    return [
        ConsentRecord.give(
            record_id=f"c-{n:06d}", resident_pseudonym=resident_pseudonym(secrets.token_bytes(32), did),
            registration=registration, purposes=("age_check",), claims_requested=("age_over_18",),
            claims_disclosed=("age_over_18",), presentation_hash=presentation_hash(f"p{n}"),
            now=now - timedelta(hours=1), expires_at=None,
        )
        for n in range(count)
    ]


def _signed(key: Key, consents: list[ConsentRecord], count: int, *, prefix: str = "r") -> list[str]:
    now = datetime.now(UTC) - timedelta(minutes=1)
    return [
        issue_access_receipt(
            key, consent=consents[i // PER_CONSENT], receipt_id=f"{prefix}-{i:07d}", claims=("age_over_18",),
            purpose="age_check", now=now,
        )
        for i in range(count)
    ]


async def _floor(
    store_kind: str, tokens: list[str], public: ec.EllipticCurvePublicKey, workdir: Path, schema: str
) -> float:
    """Receipts per second for one ES256 verification, one leaf hash and one batched insert each."""
    started = time.perf_counter()
    rows = []
    for token in tokens:
        head, body, sig = token.split(".")
        raw = b64url_decode(sig, what="signature")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        salt = secrets.token_bytes(32)
        rows.append((token, salt, hashlib.sha256(salt + token.encode()).digest()))
    if store_kind == "postgres":
        conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": schema})
        try:
            await conn.execute("CREATE TABLE floor_rows (token TEXT, salt BYTEA, leaf BYTEA)")
            async with conn.transaction():
                await conn.executemany("INSERT INTO floor_rows VALUES ($1, $2, $3)", rows)
        finally:
            await conn.close()
    else:
        import sqlite3

        db = sqlite3.connect(workdir / f"floor-{schema}.db")
        db.execute("CREATE TABLE floor_rows (token TEXT, salt BLOB, leaf BLOB)")
        with db:
            db.executemany("INSERT INTO floor_rows VALUES (?, ?, ?)", rows)
        db.close()
    return len(tokens) / (time.perf_counter() - started)


@contextlib.asynccontextmanager
async def _chain(node: DevNode | None) -> AsyncIterator[tuple[Chain, Any]]:
    """The embedded chain (``node`` None) or a connection to the anvil node, with a funded sender."""
    if node is None:
        async with Chain.embedded() as chain:
            yield chain, chain.dev_keys[0]
    else:
        async with await DevChain.connect(node.url, chain_id=node.chain_id, timeout=30.0, poll_interval=0.01) as dev:
            yield dev, (await dev.dev_accounts())[0]


async def _final_ids(store: ReceiptStore, seen: set[bytes]) -> list[tuple[bytes, list[bytes]]]:
    """Batches that became final since the last look, with their leaves."""
    out = []
    for batch in await store.recent_batches(limit=64):
        if batch.state == "final" and batch.batch_id not in seen:
            seen.add(batch.batch_id)
            out.append((batch.batch_id, await store.batch_leaves(batch.batch_id)))
    return out


async def _run(
    store: ReceiptStore, key: Key, tokens: list[str], node: DevNode | None, *, rate: float | None = None
) -> tuple[float, float, float]:
    """Producers accept ``tokens`` (as fast as they can, or ``rate`` receipts per second in all)
    while one anchorer ticks; returns anchored per second, intake per second and the lag p99."""
    async with _chain(node) as (chain, sender):
        registry = await AccessReceiptRegistry.deploy(chain, sender=sender)
        outbox = ReceiptOutbox(store, registry, batch_size=BATCH, max_age=MAX_AGE, confirmations=1)
        accepted_at: dict[bytes, float] = {}
        final_at: dict[bytes, float] = {}
        chunks = [tokens[i : i + CHUNK] for i in range(0, len(tokens), CHUNK)]
        queue: asyncio.Queue[list[str]] = asyncio.Queue()
        for chunk in chunks:
            queue.put_nowait(chunk)
        started = time.perf_counter()
        intake_done = 0.0

        paced = 0

        async def produce() -> None:
            nonlocal intake_done, paced
            while not queue.empty():
                chunk = queue.get_nowait()
                if rate is not None:  # offer the chunk no earlier than its turn at ``rate``
                    due = started + paced / rate
                    paced += len(chunk)
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                stored = await outbox.accept_many([(t, key) for t in chunk], now=datetime.now(UTC))
                done = time.perf_counter()
                for s in stored:
                    accepted_at[s.leaf] = done
                intake_done = max(intake_done, done)

        before = {b.batch_id for b in await store.recent_batches(limit=100_000)}  # batches of earlier runs

        async def anchor() -> None:
            seen = set(before)
            while len(final_at) < len(tokens):
                await outbox.tick(now=datetime.now(UTC))
                for _, leaves in await _final_ids(store, seen):
                    done = time.perf_counter()
                    for leaf in leaves:
                        final_at.setdefault(leaf, done)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(produce() for _ in range(PRODUCERS)), anchor())
        last = max(final_at.values())
        lags = sorted(final_at[leaf] - accepted_at[leaf] for leaf in final_at)
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        return len(tokens) / (last - started), len(tokens) / (intake_done - started), p99


async def _anchorer_only(store: ReceiptStore, key: Key, tokens: list[str], node: DevNode | None) -> float:
    """Receipts per second through the anchorer alone: already stored, cut, anchored and final."""
    async with _chain(node) as (chain, sender):
        registry = await AccessReceiptRegistry.deploy(chain, sender=sender)
        outbox = ReceiptOutbox(store, registry, batch_size=BATCH, max_age=timedelta(0), confirmations=1)
        for i in range(0, len(tokens), CHUNK):
            await outbox.accept_many([(t, key) for t in tokens[i : i + CHUNK]], now=datetime.now(UTC))
        started = time.perf_counter()
        while True:
            report = await outbox.tick(now=datetime.now(UTC))
            if not (report.open_batches or report.queued_receipts):
                break
        return len(tokens) / (time.perf_counter() - started)


async def measure(kind: str, workdir: Path, node: DevNode | None) -> dict[str, float]:
    private = ec.generate_private_key(ec.SECP256R1())
    key = Key(private, kid="did:example:library#key-1")
    consents = _consents(RECEIPTS // PER_CONSENT, "did:example:library")
    tokens = _signed(key, consents, RECEIPTS)
    schema = f"bench_rt_{secrets.token_hex(4)}"
    store: ReceiptStore
    if kind == "postgres":
        store = await PostgresReceiptStore.open(PG_DSN, schema=schema)
    else:
        store = await SqliteReceiptStore.open(str(workdir / f"outbox-{schema}.db"))
    try:
        for consent in consents:
            await store.put_consent(consent)
        floor = await _floor(kind, tokens, private.public_key(), workdir, schema)
        anchored, intake, p99 = await _run(store, key, tokens, node)
        again = _signed(key, consents, RECEIPTS, prefix="s")
        anchorer = await _anchorer_only(store, key, again, node)
        half = _signed(key, consents, RECEIPTS // 2, prefix="h")
        _, _, half_p99 = await _run(store, key, half, node, rate=anchored / 2)
    finally:
        await store.close()
        if kind == "postgres":
            conn = await asyncpg.connect(PG_DSN)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
    return {
        "anchored_per_s": anchored, "intake_per_s": intake, "lag_p99_s": p99, "floor_per_s": floor,
        "ratio": anchored / floor, "anchorer_per_s": anchorer, "half_rate_lag_p99_s": half_p99,
    }


def _intake_worker(schema: str, pem: bytes, tokens: list[str], barrier: Any, results: Any) -> None:
    """One intake process: two producers accept its share of ``tokens`` into the shared schema."""

    async def go() -> tuple[float, float]:
        private = serialization.load_pem_private_key(pem, password=None)
        key = Key(private, kid="did:example:library#key-1")  # type: ignore[arg-type]
        store = await PostgresReceiptStore.open(PG_DSN, schema=schema)
        try:
            async with Chain.embedded() as chain:  # accepting never touches the chain
                registry = await AccessReceiptRegistry.deploy(chain, sender=chain.dev_keys[0])
                outbox = ReceiptOutbox(store, registry)
                chunks = [tokens[i : i + CHUNK] for i in range(0, len(tokens), CHUNK)]
                await asyncio.to_thread(barrier.wait)
                started = time.time()

                async def produce(mine: list[list[str]]) -> None:
                    for chunk in mine:
                        await outbox.accept_many([(t, key) for t in chunk], now=datetime.now(UTC))

                await asyncio.gather(produce(chunks[0::2]), produce(chunks[1::2]))
                return started, time.time()
        finally:
            await store.close()

    results.put(asyncio.run(go()))


async def _anchor_until_final(store: ReceiptStore, total: int, *, deadline: float) -> float:
    """One anchorer on the embedded chain ticking until ``total`` receipts are final (or the
    deadline passes); returns when (``time.time()``) the last became final."""
    async with Chain.embedded() as chain:
        registry = await AccessReceiptRegistry.deploy(chain, sender=chain.dev_keys[0])
        outbox = ReceiptOutbox(store, registry, batch_size=BATCH, max_age=MAX_AGE, confirmations=1)
        seen: set[bytes] = set()
        final = 0
        while final < total:
            if time.time() > deadline:
                raise RuntimeError(f"only {final} of {total} receipts final before the deadline")
            await outbox.tick(now=datetime.now(UTC))
            final += sum(len(leaves) for _, leaves in await _final_ids(store, seen))
            await asyncio.sleep(0.01)
        return time.time()


async def intake_by_processes() -> dict[int, tuple[float, float]]:
    """Receipts on PostgreSQL from 1, 2, … intake processes into one outbox, while one anchorer in
    this process anchors them: stored per second, and final per second from the first accept to
    the last final (the deployment a nation needs: intake scaled out, one anchorer)."""
    private = ec.generate_private_key(ec.SECP256R1())
    key = Key(private, kid="did:example:library#key-1")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    consents = _consents(RECEIPTS // PER_CONSENT, "did:example:library")
    tokens = _signed(key, consents, RECEIPTS)
    ctx = multiprocessing.get_context("spawn")
    out: dict[int, tuple[float, float]] = {}
    for count in PROCESSES:
        schema = f"bench_rt_{secrets.token_hex(4)}"
        store = await PostgresReceiptStore.open(PG_DSN, schema=schema)
        try:
            for consent in consents:
                await store.put_consent(consent)
        finally:
            await store.close()
        barrier, results = ctx.Barrier(count), ctx.Queue()
        workers = [
            ctx.Process(target=_intake_worker, args=(schema, pem, tokens[n::count], barrier, results))
            for n in range(count)
        ]
        anchoring = await PostgresReceiptStore.open(PG_DSN, schema=schema)
        try:
            for worker in workers:
                worker.start()
            spans, last_final = await asyncio.gather(
                asyncio.gather(*(asyncio.to_thread(results.get, True, 600) for _ in workers)),
                _anchor_until_final(anchoring, len(tokens), deadline=time.time() + 600),
            )
            first = min(start for start, _ in spans)
            out[count] = (len(tokens) / (max(end for _, end in spans) - first), len(tokens) / (last_final - first))
        finally:
            await anchoring.close()
            for worker in workers:
                worker.join(timeout=60)
            conn = await asyncpg.connect(PG_DSN)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
    return out


def _line(figures: dict[str, float]) -> str:
    return (
        f"anchored_per_s={figures['anchored_per_s']:.0f} intake_per_s={figures['intake_per_s']:.0f} "
        f"lag_p99_s={figures['lag_p99_s']:.2f} floor_per_s={figures['floor_per_s']:.0f} ratio={figures['ratio']:.3f} "
        f"anchorer_per_s={figures['anchorer_per_s']:.0f} half_rate_lag_p99_s={figures['half_rate_lag_p99_s']:.2f}"
    )


async def main() -> None:
    print(f"{RECEIPTS} receipts, {PRODUCERS} producers x {CHUNK}, batches of up to {BATCH}, one anchorer, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    last: dict[str, float] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for chain_kind in CHAINS:
            node: DevNode | None = None
            if chain_kind == "anvil":
                try:
                    node = DevNode.start(tools_dir=TOOLS, startup_timeout=60.0)
                except Exception as exc:  # the bench runs on without anvil
                    print(f"anvil: skipped ({type(exc).__name__}: {exc})", flush=True)
                    continue
            try:
                for kind in ("sqlite", "postgres"):
                    figures = await measure(kind, Path(tmp), node)
                    print(f"{kind} {chain_kind}:", _line(figures), flush=True)
                    if kind == "postgres" and (last is None or chain_kind == "embedded"):
                        last = figures
            finally:
                if node is not None:
                    node.stop()
    for count, (rate, anchored) in (await intake_by_processes()).items():
        print(f"postgres intake_processes={count} intake_per_s={rate:.0f} anchored_per_s={anchored:.0f}", flush=True)
    if last is not None:
        print(_line(last), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
