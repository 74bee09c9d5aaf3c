"""Open-data export memory: streaming from the outbox store vs loading the period into memory.

Fills a temporary SQLite outbox with ``N`` signed access receipts over one month (``--receipts``,
default 20,000: N/5 residents, each with 5 services) and runs the export twice, each in a fresh
process:

- in memory: ``list_receipts`` for the whole period, sorted, into an ``AccessCounter`` (what
  ``access_statistics`` does);
- streaming: ``iter_receipts`` pages into an ``AccessCounter`` (what ``vcsdk receipts export`` does).

Both then release through OpenDP, and both must count the same exact cells before noise (the noise
itself comes from the OS CSPRNG and differs). Prints each run's peak memory above the interpreter's
start and its time; the last line is ``export_memory_ratio=<in-memory/streaming>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vcsdk.keys import Key
from vcsdk.outbox import SqliteReceiptStore, StoredReceipt
from vcsdk.receipts import (
    AccessCounter,
    CellDomain,
    ConsentRecord,
    PrivacyLedger,
    PrivacyParameters,
    issue_access_receipt,
    peek_access_receipt,
    presentation_hash,
    receipt_leaf,
    resident_pseudonym,
)
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PARAMETERS = PrivacyParameters(epsilon=1.0, k_threshold=10, per_service=1)
SERVICES = 5
VCT = "https://city.example/ResidentIdentityCredential"
REGISTRATIONS = [
    RelyingPartyRegistration(
        issuer="did:ethr:0x1:0x00000000000000000000000000000000000000c1", service_did=f"did:ethr:0x1:0x{s:040x}",
        registration_id=f"reg-{s}", name=f"Service {s}", purposes=(Purpose("age_check", "Age check"),),
        claim_sets=(ClaimSet("age", VCT, (("age_over_18",),)), ClaimSet("locality", VCT, (("locality",),))),
        retention_days=30, receipt_endpoint="https://service.example/withdrawals",
        privacy_policy="https://service.example/privacy", jurisdiction="JP", issued_at=T0 - timedelta(days=30),
        expires_at=T0 + timedelta(days=365),
    )
    for s in range(SERVICES)
]
DOMAIN = CellDomain.from_registrations(REGISTRATIONS, period="2026-11")


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _fill(path: str, n: int) -> None:
    keys = [Key.generate("P-256").with_kid(f"did:ethr:0x1:0x{s:040x}#key-1") for s in range(SERVICES)]
    store = await SqliteReceiptStore.open(path)
    await store._db.execute("PRAGMA synchronous=OFF")  # a throwaway file: skip the fsyncs
    rng = random.Random(7)
    residents = max(1, n // SERVICES)
    try:
        for i in range(n):
            resident, service = divmod(i, SERVICES)
            did = keys[service].kid.split("#")[0]
            consent = ConsentRecord.give(
                record_id=f"c{resident}-{service}",
                resident_pseudonym=resident_pseudonym(resident.to_bytes(32, "big"), did),
                registration=REGISTRATIONS[service],
                purposes=("age_check",),
                claims_requested=("age_over_18", "locality"),
                claims_disclosed=("age_over_18", "locality"),
                presentation_hash=presentation_hash("p"),
                now=T0,
                expires_at=None,
            )
            at = T0 + timedelta(seconds=rng.randrange(29 * 86400))
            claims = ("age_over_18", "locality") if rng.random() < 0.5 else ("age_over_18",)
            token = issue_access_receipt(
                keys[service], consent=consent, receipt_id=f"r{i:08d}", claims=claims, purpose="age_check", now=at
            )
            salt = rng.randbytes(32)
            receipt = StoredReceipt(peek_access_receipt(token), salt, receipt_leaf(token.encode(), salt), at)
            await store.add_receipt(receipt)
            if i and i % 10_000 == 0:
                print(f"  {i:,} receipts stored", file=sys.stderr)
    finally:
        await store.close()
    print(f"  {n:,} receipts for {residents:,} residents and {SERVICES} services", file=sys.stderr)


async def _export(path: str, mode: str) -> list[list[object]]:
    store = await SqliteReceiptStore.open(path)
    counter = AccessCounter(DOMAIN, PARAMETERS)
    try:
        if mode == "memory":
            stored = await store.list_receipts(limit=100_000_000)
            for r in sorted((s.receipt for s in stored), key=lambda r: (r.accessed_at, r.receipt_id)):
                counter.add(r)
        else:
            async for s in store.iter_receipts():
                counter.add(s.receipt)
        ledger = PrivacyLedger(budget_per_period=1.0)
        stats = counter.statistics(ledger=ledger, release_id="bench", now=T0 + timedelta(days=31))
    finally:
        await store.close()
    exact = [counter._counts.get(cell, 0) for cell in DOMAIN.cells]
    return [[*key, n] for (key, _), n in zip(stats.cells, exact, strict=True)]


def _child(path: str, mode: str) -> None:
    base = _peak_kib()
    start = time.perf_counter()
    cells = asyncio.run(_export(path, mode))
    print(json.dumps({"peak_kib": _peak_kib() - base, "seconds": time.perf_counter() - start, "cells": cells}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # VCSDK_BENCH_QUICK=1: a few thousand receipts, for the test that keeps the benchmarks running.
    quick = os.environ.get("VCSDK_BENCH_QUICK") == "1"
    parser.add_argument("--receipts", type=int, default=3_000 if quick else 20_000)
    parser.add_argument("--child", nargs=2, metavar=("DB", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "outbox.db")
        asyncio.run(_fill(path, args.receipts))
        runs = {}
        for mode in ("memory", "streaming"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", path, mode], capture_output=True, text=True, check=True
            )
            runs[mode] = json.loads(out.stdout)
    assert runs["memory"]["cells"] == runs["streaming"]["cells"], "the two exports count different cells"
    print(f"{'export':<12}{'peak MiB':>10}{'seconds':>10}   ({args.receipts:,} receipts, same cells)")
    for mode, run in runs.items():
        print(f"{mode:<12}{run['peak_kib'] / 1024:>10.1f}{run['seconds']:>10.2f}")
    ratio = runs["memory"]["peak_kib"] / max(1, runs["streaming"]["peak_kib"])
    print(f"export_memory_ratio={ratio:.1f}")


if __name__ == "__main__":
    main()
