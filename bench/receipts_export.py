"""Open-data export memory: streaming from the outbox store vs loading the period into memory.

Fills a temporary SQLite outbox with ``N`` signed access receipts over one month (``--receipts``,
default 20,000: N/5 residents, each with 5 services) and runs the export twice, each in a fresh
process:

- in memory: ``list_receipts`` for the whole period, then ``access_statistics`` (sorts them);
- streaming: ``iter_receipts`` pages into an ``AccessCounter`` (what ``vcsdk receipts export`` does).

Both must give the same cells (same seeded noise). Prints each run's peak memory above the
interpreter's start and its time; the last line is ``export_memory_ratio=<in-memory/streaming>``.
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
    ConsentRecord,
    Controller,
    PrivacyParameters,
    access_statistics,
    issue_access_receipt,
    peek_access_receipt,
    presentation_hash,
    receipt_leaf,
    resident_pseudonym,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PARAMETERS = PrivacyParameters(epsilon=1.0, k_threshold=10, max_contributions=16)
SERVICES = 5


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
                controller=Controller(did=did, name=f"Service {service}"),
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
    try:
        if mode == "memory":
            stored = await store.list_receipts(limit=100_000_000)
            stats = access_statistics([s.receipt for s in stored], parameters=PARAMETERS, rng=random.Random(1))
        else:
            counter = AccessCounter(PARAMETERS)
            async for s in store.iter_receipts():
                counter.add(s.receipt)
            stats = counter.statistics(rng=random.Random(1))
    finally:
        await store.close()
    return [[*key, n] for key, n in stats.cells]


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
    assert runs["memory"]["cells"] == runs["streaming"]["cells"], "the two exports differ"
    print(f"{'export':<12}{'peak MiB':>10}{'seconds':>10}   ({args.receipts:,} receipts, same cells)")
    for mode, run in runs.items():
        print(f"{mode:<12}{run['peak_kib'] / 1024:>10.1f}{run['seconds']:>10.2f}")
    ratio = runs["memory"]["peak_kib"] / max(1, runs["streaming"]["peak_kib"])
    print(f"export_memory_ratio={ratio:.1f}")


if __name__ == "__main__":
    main()
