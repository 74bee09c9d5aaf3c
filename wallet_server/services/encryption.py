"""Envelope encryption: a per-resident AES-256-GCM data key, wrapped by a server key.

The server key lives behind :class:`KeyProvider` (a local key from settings here; a KMS or HSM in
production can implement the same three members). Associated data binds every ciphertext to its
resident and record, so a row copied onto another resident or record fails to decrypt.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vcsdk.errors import InvalidInputError, StorageError

if TYPE_CHECKING:
    from wallet_server.storage import ResidentStore

__all__ = [
    "DataKeys",
    "KeyProvider",
    "LocalKeyProvider",
    "WrappedKey",
    "credential_aad",
    "new_data_key",
    "open_sealed",
    "resident_key_aad",
    "seal",
]

_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under the server key ``key_id``."""

    key_id: str
    blob: bytes

    def __repr__(self) -> str:
        return f"WrappedKey(key_id={self.key_id!r})"


class KeyProvider(Protocol):
    """Wraps and unwraps data keys with a server key the wallet never stores in its database."""

    @property
    def current_key_id(self) -> str:
        """The id of the server key new data keys are wrapped with."""
        ...

    async def wrap(self, data_key: bytes, *, aad: bytes) -> WrappedKey:
        """Encrypt ``data_key`` under the current server key."""
        ...

    async def unwrap(self, wrapped: WrappedKey, *, aad: bytes) -> bytes:
        """:raises StorageError: if the key id is unknown or the blob does not decrypt."""
        ...


class LocalKeyProvider:
    """Server keys held in memory, from settings: 32-byte AES keys by id.

    :param keys: every key that may still unwrap data keys (current and retired ones).
    :param current: the id new data keys are wrapped with.
    :raises InvalidInputError: if ``current`` is not in ``keys`` or a key is not 32 bytes.
    """

    __slots__ = ("_current", "_keys")

    def __init__(self, keys: Mapping[str, bytes], *, current: str) -> None:
        if current not in keys:
            raise InvalidInputError("the current data-wrapping key id is not among the configured keys")
        if any(len(k) != 32 for k in keys.values()):
            raise InvalidInputError("data-wrapping keys must be 32 bytes (AES-256)")
        self._keys = {kid: AESGCM(k) for kid, k in keys.items()}
        self._current = current

    @property
    def current_key_id(self) -> str:
        return self._current

    async def wrap(self, data_key: bytes, *, aad: bytes) -> WrappedKey:
        return WrappedKey(self._current, seal(self._keys[self._current], data_key, aad=aad))

    async def unwrap(self, wrapped: WrappedKey, *, aad: bytes) -> bytes:
        cipher = self._keys.get(wrapped.key_id)
        if cipher is None:
            raise StorageError("a data key is wrapped with a server key this instance does not have")
        return open_sealed(cipher, wrapped.blob, aad=aad)

    def __repr__(self) -> str:
        return f"LocalKeyProvider(current={self._current!r}, key_ids={sorted(self._keys)!r})"


class DataKeys:
    """Residents' data keys, unwrapped once per process and kept in a bounded cache.

    A resident's data key never changes (re-wrapping under a new server key keeps it), so a cached
    key is never stale; the cache only spares the resident row read and the unwrap per request.

    :param store: where the wrapped keys are.
    :param keys: unwraps them.
    :param max_entries: residents kept; the oldest is dropped first.
    """

    __slots__ = ("_cache", "_keys", "_max", "_store")

    def __init__(self, store: ResidentStore, keys: KeyProvider, *, max_entries: int = 10_000) -> None:
        self._store = store
        self._keys = keys
        self._max = max_entries
        self._cache: dict[str, AESGCM] = {}

    async def cipher(self, resident_id: str) -> AESGCM:
        """The resident's data key, ready to seal and open.

        :raises NotFoundError: no such resident. :raises StorageError: the key does not unwrap.
        """
        cipher = self._cache.get(resident_id)
        if cipher is None:
            resident = await self._store.get_resident(resident_id)
            wrapped = WrappedKey(resident.wrap_key_id, resident.wrapped_key)
            cipher = AESGCM(await self._keys.unwrap(wrapped, aad=resident_key_aad(resident_id)))
            if len(self._cache) >= self._max:
                del self._cache[next(iter(self._cache))]
            self._cache[resident_id] = cipher
        return cipher

    def __repr__(self) -> str:
        return f"DataKeys(cached={len(self._cache)})"


def new_data_key() -> bytes:
    """A fresh random AES-256 key."""
    return AESGCM.generate_key(bit_length=256)


def resident_key_aad(resident_id: str) -> bytes:
    """Associated data binding a wrapped data key to its resident."""
    return f"vcsdk-wallet/resident-key/v1/{resident_id}".encode()


def credential_aad(resident_id: str, credential_id: str) -> bytes:
    """Associated data binding a credential ciphertext to its resident and record."""
    return f"vcsdk-wallet/credential/v1/{resident_id}/{credential_id}".encode()


def seal(cipher: AESGCM | bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    """AES-GCM encrypt with a random 96-bit nonce; returns ``nonce || ciphertext || tag``."""
    aes = cipher if isinstance(cipher, AESGCM) else AESGCM(cipher)
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + aes.encrypt(nonce, plaintext, aad)


def open_sealed(cipher: AESGCM | bytes, blob: bytes, *, aad: bytes) -> bytes:
    """Decrypt what :func:`seal` made.

    :raises StorageError: if the blob was altered, moved to another record, or the key is wrong.
    """
    aes = cipher if isinstance(cipher, AESGCM) else AESGCM(cipher)
    if len(blob) < _NONCE_BYTES + 16:
        raise StorageError("an encrypted record is truncated")
    try:
        return aes.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
    except InvalidTag:
        raise StorageError("an encrypted record does not decrypt; it was altered or belongs elsewhere") from None
