"""Single-use presentation nonces for callers of ``verify_presentation`` (replay protection).

A verifier sends a fresh nonce with each request and accepts a presentation bound to it once
(OpenID4VP §14.1, RFC 9901 §7.3). :class:`NonceStore` is the port; :class:`InMemoryNonceStore`
serves one process and tests; :class:`StateStoreNonces` keeps the nonces in any store with the
``put``/``take`` shape of ``vcsdk.oid4vc.StateStore`` (``InMemoryStateStore``, ``RedisStateStore``),
so several verifier processes share them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from vcsdk._time import aware
from vcsdk.errors import ConflictError, InvalidInputError

__all__ = ["InMemoryNonceStore", "NonceStore", "StateStoreNonces"]

#: How long a nonce may wait for its presentation by default.
DEFAULT_NONCE_TTL = timedelta(minutes=5)


class NonceStore(Protocol):
    """Issues nonces and accepts each one once, before it expires."""

    async def issue(self, *, now: datetime, ttl: timedelta = DEFAULT_NONCE_TTL) -> str:
        """A fresh random nonce (at least 128 bits, URL-safe), valid until ``now`` + ``ttl``."""
        ...

    async def consume(self, nonce: str, *, now: datetime) -> bool:
        """Use ``nonce``: ``True`` the first time for a nonce this store issued and that has not
        expired, ``False`` otherwise (unknown, used, expired). Atomic: of two concurrent calls,
        one wins."""
        ...


def _new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _check_ttl(ttl: timedelta) -> None:
    if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
        raise InvalidInputError("ttl must be a positive timedelta")


class InMemoryNonceStore:
    """A :class:`NonceStore` in a dict, for one process and tests (expired nonces are swept on issue)."""

    def __init__(self) -> None:
        self._expiry: dict[str, datetime] = {}

    async def issue(self, *, now: datetime, ttl: timedelta = DEFAULT_NONCE_TTL) -> str:
        now = aware(now, what="now")
        _check_ttl(ttl)
        for old in [n for n, exp in self._expiry.items() if exp <= now]:
            del self._expiry[old]
        nonce = _new_nonce()
        self._expiry[nonce] = now + ttl
        return nonce

    async def consume(self, nonce: str, *, now: datetime) -> bool:
        now = aware(now, what="now")
        expires = self._expiry.pop(nonce, None) if isinstance(nonce, str) else None
        return expires is not None and now < expires


class _PutTake(Protocol):
    async def put(self, namespace: str, key: str, value: Mapping[str, Any], *, expires_at: datetime) -> None: ...

    async def take(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None: ...


class StateStoreNonces:
    """A :class:`NonceStore` over a ``vcsdk.oid4vc.StateStore`` (namespace ``presentation_nonce``)."""

    namespace = "presentation_nonce"

    def __init__(self, store: _PutTake) -> None:
        self._store = store

    async def issue(self, *, now: datetime, ttl: timedelta = DEFAULT_NONCE_TTL) -> str:
        now = aware(now, what="now")
        _check_ttl(ttl)
        for _ in range(3):
            nonce = _new_nonce()
            try:
                await self._store.put(self.namespace, nonce, {}, expires_at=now + ttl)
            except ConflictError:
                continue
            return nonce
        raise ConflictError("could not store a fresh nonce; the randomness source repeats")

    async def consume(self, nonce: str, *, now: datetime) -> bool:
        if not isinstance(nonce, str) or not nonce or len(nonce) > 256:
            return False
        return await self._store.take(self.namespace, nonce, now=aware(now, what="now")) is not None
