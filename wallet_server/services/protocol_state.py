"""OpenID4VCI protocol state in the wallet database: a :class:`vcsdk.oid4vc.StateStore`.

Pre-authorized codes, access tokens, nonces and offers live in the ``protocol_state`` table, so a
code redeemed on one instance is refused on every other. Keys are stored as SHA-256 digests (a
database dump yields no usable code or token) and values sealed with AES-GCM under the server data
key (an offer's claims are personal data), bound to their namespace and key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vcsdk.errors import StorageError
from wallet_server.services.encryption import KeyProvider, WrappedKey
from wallet_server.storage import BackOfficeStore

__all__ = ["DatabaseStateStore"]


def _key_hash(namespace: str, key: str) -> str:
    return hashlib.sha256(f"{namespace}\x00{key}".encode()).hexdigest()


def _aad(namespace: str, key_hash: str) -> bytes:
    return f"vcsdk-wallet/protocol-state/v1/{namespace}/{key_hash}".encode()


class DatabaseStateStore:
    """A :class:`vcsdk.oid4vc.StateStore` over the wallet store, safe for several instances.

    :param store: the wallet store (SQLite or PostgreSQL).
    :param keys: seals the values.
    """

    def __init__(self, store: BackOfficeStore, *, keys: KeyProvider) -> None:
        self._store = store
        self._keys = keys

    async def put(self, namespace: str, key: str, value: Mapping[str, Any], *, expires_at: datetime) -> None:
        """Store a new entry. :raises ConflictError: if the key already exists."""
        key_hash = _key_hash(namespace, key)
        plain = json.dumps(dict(value), separators=(",", ":")).encode()
        wrapped = await self._keys.wrap(plain, aad=_aad(namespace, key_hash))
        await self._store.put_state(
            namespace, key_hash, wrap_key_id=wrapped.key_id, sealed=wrapped.blob, expires_at=expires_at
        )

    async def _open(self, namespace: str, key_hash: str, found: tuple[str, bytes] | None) -> dict[str, Any] | None:
        if found is None:
            return None
        plain = await self._keys.unwrap(WrappedKey(found[0], found[1]), aad=_aad(namespace, key_hash))
        value = json.loads(plain)
        if not isinstance(value, dict):
            raise StorageError("a protocol state entry is not an object")
        return value

    async def get(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None:
        """The live entry, or ``None``."""
        key_hash = _key_hash(namespace, key)
        return await self._open(namespace, key_hash, await self._store.get_state(namespace, key_hash, now=now))

    async def take(self, namespace: str, key: str, *, now: datetime) -> dict[str, Any] | None:
        """Remove and return the live entry, atomically (single use), or ``None``."""
        key_hash = _key_hash(namespace, key)
        return await self._open(namespace, key_hash, await self._store.take_state(namespace, key_hash, now=now))

    async def incr(self, namespace: str, key: str, *, expires_at: datetime, now: datetime) -> int:
        """Add one to a counter (created at 0, restarted once expired) and return the new value."""
        return await self._store.incr_state(namespace, _key_hash(namespace, key), expires_at=expires_at, now=now)

    def __repr__(self) -> str:
        return "DatabaseStateStore()"
