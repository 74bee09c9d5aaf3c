"""A :class:`~vcsdk.oid4vc.StateStore` in Redis, shared by every instance of a service or issuer.

Entries live under ``<prefix>:<namespace>:<SHA-256 of the key>`` (a dump of Redis yields no
usable code, nonce or request id) as JSON ``{"v": value, "exp": "<expiry, ms since the epoch>"}``.
Expiry follows the ``now`` each call is given, exactly as :class:`InMemoryStateStore` does; Redis
also drops each key on its own a grace period after its expiry, so nothing needs sweeping.
``take`` is ``GETDEL`` and ``incr`` a Lua script, both atomic in Redis: a code, nonce or response
is used once across all instances. Unlike a rate limiter this store never fails open: if Redis
cannot be reached, every call raises :class:`~vcsdk.errors.StorageError`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from vcsdk.errors import ConflictError, InvalidInputError, StorageError

__all__ = ["RedisStateStore"]

T = TypeVar("T")

#: KEYS[1] the counter; ARGV: now (ms), new expiry (ms), Redis lifetime (ms). Returns the new count.
_INCR_LUA = """
local raw = redis.call('GET', KEYS[1])
local count = 0
if raw then
  local entry = cjson.decode(raw)
  if tonumber(entry['exp']) > tonumber(ARGV[1]) and type(entry['v']) == 'table' then
    count = tonumber(entry['v']['count']) or 0
  end
end
count = count + 1
redis.call('SET', KEYS[1], cjson.encode({v = {count = count}, exp = ARGV[2]}), 'PX', ARGV[3])
return count
"""


def _ms(when: datetime) -> int:
    return math.floor(when.timestamp() * 1000)


class RedisStateStore:
    """Short-lived protocol state in Redis (``redis.asyncio``), for several instances of a service.

    :param client: a ``redis.asyncio.Redis`` client (:meth:`close` closes it).
    :param prefix: namespaces this store's keys (one per service or deployment).
    :raises InvalidInputError: for an empty prefix or one ending in ``:``.
    :param grace: how long Redis keeps an entry past its expiry before dropping it (reads already
        treat it as gone); covers clock differences between the instances and Redis.
    """

    def __init__(self, client: Any, *, prefix: str = "vcsdk:state", grace: timedelta = timedelta(minutes=1)) -> None:
        if not prefix or prefix.endswith(":"):
            raise InvalidInputError("prefix must be non-empty and not end with ':'")
        self._client = client
        self._prefix = prefix
        self._grace_ms = max(0, math.ceil(grace.total_seconds() * 1000))
        self._incr = client.register_script(_INCR_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "vcsdk:state", timeout: float = 5.0) -> RedisStateStore:
        """A store on a new client for ``url`` (``redis://host:6379/0``, ``rediss://`` for TLS).

        :param timeout: seconds for connecting and for each command.
        """
        try:
            import redis.asyncio as redis
        except ImportError:  # pragma: no cover - the extra is installed wherever the tests run
            raise InvalidInputError("RedisStateStore needs the redis package: pip install 'vcsdk[redis]'") from None
        client = redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        return cls(client, prefix=prefix)

    def _key(self, namespace: str, key: str) -> str:
        return f"{self._prefix}:{namespace}:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"

    def _lifetime_ms(self, expires_at: datetime) -> int:
        remaining = _ms(expires_at) - _ms(datetime.now(UTC))
        return max(0, remaining) + self._grace_ms + 1

    async def _call(self, awaitable: Awaitable[T]) -> T:
        from redis.exceptions import RedisError

        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise StorageError("the protocol state store (Redis) is unavailable; try again") from exc

    @staticmethod
    def _live(raw: bytes | str | None, now: datetime) -> dict[str, Any] | None:
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            expires_ms, value = int(entry["exp"]), entry["v"]
        except (ValueError, KeyError, TypeError):
            raise StorageError("a protocol state entry in Redis is not one this store wrote") from None
        if not isinstance(value, dict):
            raise StorageError("a protocol state entry in Redis is not an object")
        return value if expires_ms > _ms(now) else None

    async def put(self, namespace: str, key: str, value: Mapping[str, Any], *, expires_at: datetime) -> None:
        """Store a new entry. :raises ConflictError: if the key already exists."""
        text = json.dumps({"v": dict(value), "exp": str(_ms(expires_at))}, separators=(",", ":"))
        stored = await self._call(
            self._client.set(self._key(namespace, key), text, nx=True, px=self._lifetime_ms(expires_at))
        )
        if not stored:
            raise ConflictError(f"a {namespace} entry with this key already exists")

    async def get(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None:
        """The live entry, or ``None``."""
        return self._live(await self._call(self._client.get(self._key(namespace, key))), now)

    async def take(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None:
        """Remove and return the live entry in one step (``GETDEL``), or ``None``."""
        return self._live(await self._call(self._client.getdel(self._key(namespace, key))), now)

    async def incr(self, namespace: str, key: str, *, expires_at: datetime, now: datetime) -> int:
        """Add one to a counter (created at 0, restarted once expired) and return the new value."""
        args = [_ms(now), str(_ms(expires_at)), self._lifetime_ms(expires_at)]
        return int(await self._call(self._incr(keys=[self._key(namespace, key)], args=args)))

    async def close(self) -> None:
        """Close the Redis client."""
        await self._client.aclose()

    def __repr__(self) -> str:
        return f"RedisStateStore(prefix={self._prefix!r})"
