"""StateStoreNonces over the real Redis state store: nonces shared by verifier processes, each used once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from vcsdk.credentials import StateStoreNonces

from .conftest import NOW


async def test_nonces_in_redis_are_single_use_across_stores(redis_store: Any) -> None:
    from vcsdk.oid4vc import RedisStateStore

    issuing = StateStoreNonces(redis_store)
    other = RedisStateStore.from_url("redis://127.0.0.1:6379/0", prefix=redis_store._prefix)
    try:
        consuming = StateStoreNonces(other)  # another verifier process
        nonce = await issuing.issue(now=NOW)
        attempts = [consuming.consume(nonce, now=NOW) for _ in range(4)]
        results = await asyncio.gather(*attempts, issuing.consume(nonce, now=NOW))
        assert sorted(results) == [False, False, False, False, True]
        assert not await consuming.consume("never-issued", now=NOW)
        late = await issuing.issue(now=NOW, ttl=timedelta(seconds=30))
        assert not await consuming.consume(late, now=NOW + timedelta(seconds=31))
    finally:
        await other.close()
