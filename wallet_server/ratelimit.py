"""Token-bucket rate limits: in-process by default, Redis when several instances share the limits."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["InProcessRateLimiter", "RateLimit", "RateLimiter", "RedisRateLimiter"]

log = logging.getLogger("wallet_server.ratelimit")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``rate`` requests per second on average, bursts of up to ``burst``."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")


class RateLimiter(Protocol):
    """A token bucket per key (client address, device id)."""

    async def acquire(self, key: str) -> float | None:
        """Take one token for ``key``: ``None`` if allowed, else the seconds to wait."""
        ...

    async def close(self) -> None:
        """Release connections and memory."""
        ...


class InProcessRateLimiter:
    """One token bucket per key in this process; least recently used keys are forgotten first.

    :param limit: the bucket size and refill rate.
    :param max_keys: memory bound; a forgotten key starts again with a full bucket.
    :param clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, limit: RateLimit, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self._limit = limit
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def acquire(self, key: str) -> float | None:
        now = self._clock()
        tokens, last = self._buckets.pop(key, (float(self._limit.burst), now))
        tokens = min(float(self._limit.burst), tokens + (now - last) * self._limit.rate)
        wait: float | None = None
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self._limit.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait

    async def close(self) -> None:
        self._buckets.clear()


# Runs atomically in Redis, on Redis's clock, so every instance shares one bucket per key.
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """Token buckets in Redis (``redis.asyncio``), shared by every instance behind the load balancer.

    If Redis cannot be reached the request is let through and a warning logged: losing rate
    limiting for a moment is better than losing the API.

    :param client: a ``redis.asyncio.Redis`` client (the limiter closes it).
    :param prefix: namespaces the keys, e.g. per limit kind.
    """

    def __init__(self, client: Any, limit: RateLimit, *, prefix: str) -> None:
        self._client = client
        self._limit = limit
        self._prefix = prefix
        self._script = client.register_script(_BUCKET_LUA)

    async def acquire(self, key: str) -> float | None:
        try:
            args = [self._limit.rate, self._limit.burst]
            wait = float(await self._script(keys=[f"{self._prefix}:{key}"], args=args))
        except Exception as exc:  # any Redis or network failure: fail open, loudly
            log.warning("rate limiter unavailable", extra={"event": "ratelimit_down", "error": type(exc).__name__})
            return None
        return wait if wait > 0 else None

    async def close(self) -> None:
        await self._client.aclose()
