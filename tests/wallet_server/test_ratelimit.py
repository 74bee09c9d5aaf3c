"""Token buckets: in-process with a hand-moved clock, and in a real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import secrets

import pytest
import redis.asyncio as redis

from wallet_server.ratelimit import InProcessRateLimiter, RateLimit, RedisRateLimiter


class Ticks:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_in_process_bucket_refills_at_its_rate() -> None:
    ticks = Ticks()
    limiter = InProcessRateLimiter(RateLimit(rate=2.0, burst=3), clock=ticks)
    assert [await limiter.acquire("a") for _ in range(3)] == [None, None, None]
    wait = await limiter.acquire("a")
    assert wait == pytest.approx(0.5)
    assert await limiter.acquire("b") is None  # keys are independent
    ticks.t += 0.5
    assert await limiter.acquire("a") is None
    assert await limiter.acquire("a") is not None
    ticks.t += 100
    assert [await limiter.acquire("a") for _ in range(4)][:3] == [None, None, None]  # capped at burst


async def test_in_process_limiter_forgets_least_recent_keys() -> None:
    limiter = InProcessRateLimiter(RateLimit(rate=0.001, burst=1), max_keys=2, clock=Ticks())
    for key in ("a", "b", "c"):
        assert await limiter.acquire(key) is None
    assert await limiter.acquire("a") is None  # "a" was evicted, so it starts full again
    assert await limiter.acquire("c") is not None


def test_rate_limit_values_are_checked() -> None:
    with pytest.raises(ValueError):
        RateLimit(rate=0, burst=1)
    with pytest.raises(ValueError):
        RateLimit(rate=1, burst=0)


async def test_redis_bucket_is_shared_between_limiters() -> None:
    prefix = f"wallet-test:{secrets.token_hex(6)}"
    first = RedisRateLimiter(redis.from_url("redis://127.0.0.1:6379/0"), RateLimit(rate=0.001, burst=3), prefix=prefix)
    second = RedisRateLimiter(redis.from_url("redis://127.0.0.1:6379/0"), RateLimit(rate=0.001, burst=3), prefix=prefix)
    try:
        results = [await first.acquire("ip"), await second.acquire("ip"), await first.acquire("ip")]
        assert results == [None, None, None]
        wait = await second.acquire("ip")
        assert wait is not None and wait > 0
        assert await first.acquire("other") is None
    finally:
        await first.close()
        await second.close()


async def test_redis_limiter_fails_open_when_redis_is_down(caplog) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    limiter = RedisRateLimiter(
        redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1), RateLimit(rate=1, burst=1), prefix="x"
    )
    try:
        assert await limiter.acquire("ip") is None
        assert any(r.__dict__.get("event") == "ratelimit_down" for r in caplog.records)
    finally:
        await limiter.close()
