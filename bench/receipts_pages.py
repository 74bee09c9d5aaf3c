"""A resident's access history, page by page: the cost of one page as the history grows.

Fills a fresh outbox (SQLite file, and a PostgreSQL schema) with the signed access receipts of one
resident who used three services, among other residents' receipts, once with 10 receipts of theirs
and once with 10,000 (``VCSDK_BENCH_QUICK=1``: 1,000), and lists the history 10 at a time with
``ResidentView.list(after=…)`` as ``GET /v1/receipts`` does. Prints the mean time per page for both
sizes; the last line is ``page_cost_ratio=<per page with the long history / per page with 10>``
(PostgreSQL), about 1 when a page's cost does not grow with the history.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from vcsdk.keys import Key
from vcsdk.outbox import PostgresReceiptStore, ReceiptStore, ResidentView, SqliteReceiptStore, StoredReceipt
from vcsdk.receipts import (
    ConsentRecord,
    issue_access_receipt,
    peek_access_receipt,
    presentation_hash,
    receipt_leaf,
    resident_pseudonym,
)
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration

QUICK = os.environ.get("VCSDK_BENCH_QUICK") == "1"
LONG = 1_000 if QUICK else 10_000
PAGE = 10
PG_DSN = os.environ.get("VCSDK_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
VCT = "https://city.example/ResidentIdentityCredential"


class _NoChain:
    """Listing reads no chain."""

    async def send_anchor(self, batch_id: bytes, root: bytes, size: int) -> str:
        raise AssertionError("not used")

    async def find_anchor(self, batch_id: bytes) -> None:
        return None

    async def root_of(self, batch_id: bytes) -> bytes | None:
        return None

    async def block_number(self) -> int:
        return 0

    async def tx_pending(self, tx_hash: str) -> bool:
        return False


async def _fill(store: ReceiptStore, secret: bytes, count: int, keys: list[Key], *, tag: str) -> list[str]:
    pseudonyms = []
    consents = []
    for n, key in enumerate(keys):
        did = key.kid.split("#")[0]
        registration = RelyingPartyRegistration(
            issuer="did:example:city", service_did=did, registration_id=f"reg-{n}", name=f"Service {n}",
            purposes=(Purpose("age_check", "Age check"),), claim_sets=(ClaimSet("age", VCT, (("age_over_18",),)),),
            retention_days=30, receipt_endpoint="https://service.example/withdrawals",
            privacy_policy="https://service.example/privacy", jurisdiction="JP", issued_at=T0 - timedelta(days=30),
            expires_at=T0 + timedelta(days=365),
        )
        consent = ConsentRecord.give(
            record_id=f"{tag}-c{n}", resident_pseudonym=resident_pseudonym(secret, did), registration=registration,
            purposes=("age_check",), claims_requested=("age_over_18",), claims_disclosed=("age_over_18",),
            presentation_hash=presentation_hash("p"), now=T0, expires_at=None,
        )  # fmt: skip
        consents.append(consent)
        pseudonyms.append(consent.resident_pseudonym)
    for i in range(count):
        n = i % len(keys)
        at = T0 + timedelta(seconds=i)
        token = issue_access_receipt(keys[n], consent=consents[n], receipt_id=f"{tag}-r{i:06d}",
                                     claims=("age_over_18",), purpose="age_check", now=at)  # fmt: skip
        salt = secrets.token_bytes(32)
        await store.add_receipt(StoredReceipt(peek_access_receipt(token), salt, receipt_leaf(token.encode(), salt), at))
    return pseudonyms


async def _per_page(store: ReceiptStore, pseudonyms: list[str], expected: int) -> tuple[float, int]:
    """Mean seconds per page over the whole history, and how many receipts were listed."""
    view = ResidentView(store, _NoChain())
    after = None
    pages = listed = 0
    started = time.perf_counter()
    while True:
        entries = await view.list(pseudonyms, limit=PAGE, after=after)
        pages += 1
        listed += len(entries)
        if len(entries) < PAGE or listed == expected:
            break
        last = entries[-1].receipt
        after = (last.accessed_at, last.receipt_id)
    return (time.perf_counter() - started) / pages, listed


async def _measure(store: ReceiptStore) -> tuple[float, float]:
    keys = [Key.generate("P-256").with_kid(f"did:example:service{n}#key-1") for n in range(3)]
    short = await _fill(store, secrets.token_bytes(32), 10, keys, tag="short")
    await _fill(store, secrets.token_bytes(32), LONG // 2, keys, tag="others")  # someone else's history
    long = await _fill(store, secrets.token_bytes(32), LONG, keys, tag="long")
    if isinstance(store, PostgresReceiptStore):
        # What autovacuum does to a table that grew: fresh statistics, so the planner walks the index.
        async with store._conn() as conn:
            await conn.execute("ANALYZE outbox_receipts")
    await _per_page(store, long, LONG)  # warm caches and plans alike for both
    short_page, n_short = await _per_page(store, short, 10)
    long_page, n_long = await _per_page(store, long, LONG)
    assert (n_short, n_long) == (10, LONG), (n_short, n_long)
    return short_page, long_page


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await SqliteReceiptStore.open(str(Path(tmp) / "outbox.db"))
        try:
            s_short, s_long = await _measure(sqlite)
        finally:
            await sqlite.close()
    schema = f"bench_pages_{secrets.token_hex(4)}"
    pg = await PostgresReceiptStore.open(PG_DSN, schema=schema)
    try:
        p_short, p_long = await _measure(pg)
    finally:
        await pg.close()
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    print(f"sqlite: {s_short * 1000:.2f} ms per page of {PAGE} with 10 receipts, "
          f"{s_long * 1000:.2f} ms with {LONG} (ratio {s_long / s_short:.2f})")  # fmt: skip
    print(f"postgres: {p_short * 1000:.2f} ms per page of {PAGE} with 10 receipts, "
          f"{p_long * 1000:.2f} ms with {LONG} (ratio {p_long / p_short:.2f})")  # fmt: skip
    print(f"page_cost_ratio={p_long / p_short:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
