"""SQLite upkeep off the requests' way: a delete holds the write lock of the whole file, so the purge
of expired rows lets the requests queued behind it run between its batches; the WAL is copied back
into the file on a connection of its own, not inside a request's commit."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import wallet_server.app as app_module
from tests.wallet_server.conftest import make_settings
from wallet_server import create_app
from wallet_server.appkeys import STORE
from wallet_server.storage import SqliteStore
from wallet_server.storage._paging import to_ts
from wallet_server.storage._sqlite import CHECKPOINT_BACKSTOP_PAGES

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


async def test_checkpoints_run_off_the_requests_connection(tmp_path: Path) -> None:
    path = tmp_path / "wallet.db"
    store = await SqliteStore.open(str(path))
    try:
        async with store.transaction():  # settle the file after the migrations
            pass
        await store.checkpoint()
        size = path.stat().st_size
        for n in range(300):  # about a thousand WAL pages: below the backstop, no commit copies them back
            await store.remember_jti(f"{n:04d}" + "j" * 2000, expires_at=NOW)
        assert path.stat().st_size == size
        await store.checkpoint()
        assert path.stat().st_size > size
        rows = await store._fetch("PRAGMA wal_autocheckpoint")
        assert rows[0][0] == CHECKPOINT_BACKSTOP_PAGES
    finally:
        await store.close()


async def test_the_server_checkpoints_its_sqlite_database_in_the_background(  # type: ignore[no-untyped-def]
    aiohttp_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[SqliteStore] = []
    checkpoint = SqliteStore.checkpoint

    async def counted(self: SqliteStore) -> None:
        calls.append(self)
        await checkpoint(self)

    monkeypatch.setattr(SqliteStore, "checkpoint", counted)
    monkeypatch.setattr(app_module, "CHECKPOINT_INTERVAL_SECONDS", 0.01)
    app = create_app(make_settings((f"sqlite:///{tmp_path / 'wallet.db'}", None)))
    await aiohttp_client(app)
    async with asyncio.timeout(10):
        while len(calls) < 3:
            await asyncio.sleep(0.01)
    assert all(store is app[STORE] for store in calls)
