"""SQLite upkeep off the requests' way: a delete holds the write lock of the whole file, so the purge
of expired rows lets the requests queued behind it run between its batches."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wallet_server.storage import SqliteStore
from wallet_server.storage._paging import to_ts

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRED, BATCH = 2000, 100


async def test_requests_run_between_purge_batches(tmp_path: Path) -> None:
    store = await SqliteStore.open(str(tmp_path / "wallet.db"))
    try:
        async with store.transaction() as conn:
            for n in range(EXPIRED):
                await conn.execute("INSERT INTO seen_jtis (jti_hash, expires_at) VALUES (?, ?)", f"j{n}", 0)
        purge = asyncio.create_task(store.purge_expired(now=NOW, batch=BATCH, pause=0))
        seen = [EXPIRED]  # expired proof ids left, as requests arriving during the purge see them
        while not purge.done():
            assert await store.remember_jti(f"fresh{len(seen)}", expires_at=NOW + timedelta(minutes=1))
            rows = await store._fetch("SELECT count(*) FROM seen_jtis WHERE expires_at <= ?", to_ts(NOW))
            seen.append(int(rows[0][0]))
        assert await purge == EXPIRED
        # Each of the two statements above waited for one batch at most, never for the whole purge.
        steps = [before - after for before, after in itertools.pairwise(seen)]
        assert max(steps) <= 2 * BATCH
        assert seen[-1] == 0
        assert len(seen) > EXPIRED // (2 * BATCH)
    finally:
        await store.close()

