"""Token-bucket rate limits: in-process by default, Redis when several instances share the limits."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from vcsdk.errors import InvalidInputError

__all__ = ["CircuitBreaker", "InProcessRateLimiter", "RateLimit", "RateLimiter", "RedisRateLimiter", "redis_client"]

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

    async def ping(self) -> None:
        """Check the shared store is there (for readiness); raises if not."""
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

    async def ping(self) -> None:
        return None

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


class CircuitBreaker:
    """Stops calling a dependency that failed, for ``cooldown`` seconds, then lets one call try it.

    Callers ask :meth:`allow` before a call and report :meth:`failure` or :meth:`success`. While
    open, callers skip the dependency at once instead of each waiting for its timeout. The outage
    is logged once when it starts and once when it ends, never per request.

    :param name: the dependency, for logs and metrics (``redis``).
    :param event: the log events are ``<event>_down`` and ``<event>_up`` (default: ``name``).
    :param cooldown: seconds to stay open before the next try.
    :param clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self, name: str, *, event: str | None = None, cooldown: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self._event = event or name
        self._cooldown = cooldown
        self._clock = clock
        self._open_until: float | None = None
        self._probing = False
        #: Failed calls since the start (for metrics).
        self.failures = 0

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def allow(self) -> bool:
        """Whether to call the dependency now (closed, or one trial call after the cooldown)."""
        if self._open_until is None:
            return True
        if self._probing or self._clock() < self._open_until:
            return False
        self._probing = True
        return True

    def success(self) -> None:
        if self._open_until is not None:
            log.warning(f"{self.name} answers again", extra={"event": f"{self._event}_up"})
        self._open_until = None
        self._probing = False

    def failure(self, exc: BaseException) -> None:
        self.failures += 1
        if self._open_until is None:
            log.warning(
                f"{self.name} unavailable; going on without it",
                extra={"event": f"{self._event}_down", "error": type(exc).__name__},
            )
        self._open_until = self._clock() + self._cooldown
        self._probing = False


def redis_client(url: str, *, timeout: float) -> Any:
    """A ``redis.asyncio`` client whose every call ends within ``timeout`` seconds: socket and
    connect timeouts, and no retries (a retry would wait the timeout again).

    :raises InvalidInputError: if the redis package is not installed.
    """
    try:
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        raise InvalidInputError("redis_url is set but the redis package is missing; install vcsdk[redis]") from None
    return redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


class RedisRateLimiter:
    """Token buckets in Redis (``redis.asyncio``), shared by every instance behind the load balancer.

    If Redis cannot be reached the request is let through: losing rate limiting for a moment is
    better than losing the API. The circuit breaker makes that fast (no request waits for a Redis
    that just failed) and quiet (one log line per outage).

    :param client: a ``redis.asyncio`` client with socket timeouts (:func:`redis_client`); the
        limiter closes it.
    :param prefix: namespaces the keys, e.g. per limit kind.
    :param breaker: shared by every limiter on the same Redis.
    """

    def __init__(self, client: Any, limit: RateLimit, *, prefix: str, breaker: CircuitBreaker | None = None) -> None:
        self._client = client
        self._limit = limit
        self._prefix = prefix
        self._script = client.register_script(_BUCKET_LUA)
        self._breaker = breaker or CircuitBreaker("redis", event="ratelimit")

    async def acquire(self, key: str) -> float | None:
        if not self._breaker.allow():
            return None
        try:
            args = [self._limit.rate, self._limit.burst]
            wait = float(await self._script(keys=[f"{self._prefix}:{key}"], args=args))
        except Exception as exc:  # any Redis or network failure, timeouts included: fail open
            self._breaker.failure(exc)
            return None
        self._breaker.success()
        return wait if wait > 0 else None

    async def ping(self) -> None:
        """:raises Exception: whatever the Redis client raises when Redis does not answer in time."""
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
