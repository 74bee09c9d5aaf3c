"""The StateStore contract (put/get/take/incr with expiry), run against InMemoryStateStore.

A server's own implementation (SQL, Redis) can reuse :func:`check_state_store_contract`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from vcsdk.errors import ConflictError, InvalidInputError
from vcsdk.oid4vc import InMemoryStateStore, StateStore

from .conftest import NOW


async def check_state_store_contract(store: StateStore) -> None:
    later = NOW + timedelta(minutes=5)
    await store.put("ns", "k", {"v": 1}, expires_at=later)
    with pytest.raises(ConflictError):
        await store.put("ns", "k", {"v": 2}, expires_at=later)
    await store.put("other", "k", {"v": 3}, expires_at=later)  # namespaces are separate
    assert await store.get("ns", "k", now=NOW) == {"v": 1}
    assert await store.take("ns", "k", now=NOW) == {"v": 1}
    assert await store.take("ns", "k", now=NOW) is None  # single use
    assert await store.get("other", "k", now=NOW) == {"v": 3}
    assert await store.get("other", "k", now=later) is None  # expired at expires_at (time only moves on)
    assert await store.take("other", "k", now=later) is None
    assert [await store.incr("count", "c", expires_at=later, now=NOW) for _ in range(3)] == [1, 2, 3]
    assert await store.incr("count", "c", expires_at=later + timedelta(minutes=5), now=later) == 1  # restarted


async def test_in_memory_state_store():
    store = InMemoryStateStore()
    await check_state_store_contract(store)
    assert "InMemoryStateStore" in repr(store)


async def test_redis_state_store(redis_store) -> None:
    await check_state_store_contract(redis_store)
    assert "RedisStateStore" in repr(redis_store)
    # Keys are stored hashed: nothing in Redis contains the key or the namespace's secret value.
    await redis_store.put("codes", "pre-authorized-code-123", {"claims": "x"}, expires_at=NOW + timedelta(minutes=5))
    names = [k.decode() async for k in redis_store._client.scan_iter(match=f"{redis_store._prefix}:*")]
    assert names and not any("pre-authorized-code-123" in n for n in names)


async def test_redis_take_is_single_use_under_concurrency(redis_store) -> None:
    import asyncio

    from vcsdk.oid4vc import RedisStateStore

    # Two stores on separate clients (two service instances) race for one entry.
    other = RedisStateStore.from_url("redis://127.0.0.1:6379/0", prefix=redis_store._prefix)
    try:
        for round_ in range(5):
            await redis_store.put("nonce", f"n{round_}", {"v": round_}, expires_at=NOW + timedelta(minutes=5))
            takers = [s.take("nonce", f"n{round_}", now=NOW) for s in (redis_store, other) for _ in range(10)]
            got = [r for r in await asyncio.gather(*takers) if r is not None]
            assert got == [{"v": round_}]
        later = NOW + timedelta(minutes=5)
        counts = await asyncio.gather(
            *[s.incr("tries", "code", expires_at=later, now=NOW) for _ in range(10) for s in (redis_store, other)]
        )
        assert sorted(counts) == list(range(1, 21))
    finally:
        await other.close()


async def test_redis_down_is_a_storage_error_not_a_pass() -> None:
    from vcsdk.errors import StorageError
    from vcsdk.oid4vc import RedisStateStore

    store = RedisStateStore.from_url("redis://127.0.0.1:1/0", timeout=1.0)
    try:
        with pytest.raises(StorageError, match="unavailable"):
            await store.take("nonce", "n", now=NOW)
        with pytest.raises(StorageError):
            await store.put("nonce", "n", {"v": 1}, expires_at=NOW)
    finally:
        await store.close()


async def test_redis_refuses_entries_it_did_not_write(redis_store) -> None:
    from vcsdk.errors import StorageError

    await redis_store._client.set(redis_store._key("ns", "k"), b"not json")
    with pytest.raises(StorageError, match="not one this store wrote"):
        await redis_store.get("ns", "k", now=NOW)
    with pytest.raises(InvalidInputError):
        type(redis_store)(redis_store._client, prefix="ends-with:")
