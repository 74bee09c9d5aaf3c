"""The StateStore contract (put/get/take/incr with expiry), run against InMemoryStateStore.

A server's own implementation (SQL, Redis) can reuse :func:`check_state_store_contract`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from vcsdk.errors import ConflictError
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
