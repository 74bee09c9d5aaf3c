"""The issuer's side of status lists: random index allocation, revoke, suspend, reinstate, publish.

Indices are drawn with a CSPRNG (``secrets``) and never reused, so a credential's index says nothing
about when it was issued (draft-ietf-oauth-status-list-21 §13.3 / Bitstring Status List §6.4).
The whole state (statuses and the allocation bitmap) round-trips through :meth:`to_json`, so the
city can keep it in a file or a database row.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.credentials._status_list._bitstring import bitstring_status_entry, issue_status_list_credential
from vcsdk.credentials._status_list._lists import BITSTRING_MIN_ENTRIES, Bitstring, TokenStatusList, bounded_inflate
from vcsdk.credentials._status_list._token import (
    STATUS_INVALID,
    STATUS_SUSPENDED,
    STATUS_VALID,
    StatusListClaim,
    issue_status_list_token,
    status_claim,
    status_list_digest,
)
from vcsdk.errors import ConflictError, InvalidInputError
from vcsdk.keys import Signer

__all__ = ["BitstringStatusListIssuer", "StatusListIssuer"]

RandomBelow = Callable[[int], int]
_RANDOM_TRIES: Final = 64
StatusName = Literal["valid", "revoked", "suspended"]


class _Allocator:
    """A bitmap of used indices with CSPRNG draws and a bounded fallback scan."""

    __slots__ = ("_used", "count", "size")

    def __init__(self, size: int, used: bytes | None = None) -> None:
        self.size = size
        self._used = bytearray(used) if used is not None else bytearray(-(-size // 8))
        if len(self._used) != -(-size // 8):
            raise InvalidInputError("allocation bitmap does not match the list size")
        self.count = int.from_bytes(self._used, "little").bit_count()

    def is_used(self, index: int) -> bool:
        return bool(self._used[index // 8] & (1 << (index % 8)))

    def allocate(self, randbelow: RandomBelow) -> int:
        if self.count >= self.size:
            raise ConflictError("status list is full; start a new list", code="status_list_full")
        for _ in range(_RANDOM_TRIES):
            index = randbelow(self.size)
            if not self.is_used(index):
                return self._take(index)
        # A nearly full list: scan from a random point, still bounded by the list size.
        start = randbelow(self.size)
        for offset in range(self.size):
            index = (start + offset) % self.size
            if not self.is_used(index):
                return self._take(index)
        raise ConflictError("status list is full; start a new list", code="status_list_full")  # pragma: no cover

    def _take(self, index: int) -> int:
        self._used[index // 8] |= 1 << (index % 8)
        self.count += 1
        return index

    def encode(self) -> str:
        return b64url_encode(zlib.compress(bytes(self._used), 9))

    @classmethod
    def decode(cls, size: int, text: str) -> _Allocator:
        raw = bounded_inflate(b64url_decode(text, what="allocation bitmap"), container="zlib", max_bytes=size // 8 + 1)
        return cls(size, raw)


def _require_int(state: dict[str, Any], name: str) -> int:
    value = state.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"status list state: {name} must be a non-negative integer")
    return value


def _require_str(state: dict[str, Any], name: str) -> str:
    value = state.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"status list state: {name} must be a string")
    return value


class StatusListIssuer:
    """An IETF Token Status List the city owns: allocate, revoke, suspend, reinstate, publish.

    :param uri: where the Status List Token is served (``sub``, and ``status_list.uri`` in credentials).
    :param size: number of entries (default 1,048,576).
    :param bits: 1 (valid/revoked) or 2 (adds suspended); 2 by default.
    :param randbelow: the index source, ``secrets.randbelow`` unless a test pins it.
    """

    FORMAT: Final = "token-status-list"

    def __init__(
        self,
        uri: str,
        *,
        size: int = 1 << 20,
        bits: Literal[1, 2] = 2,
        randbelow: RandomBelow = secrets.randbelow,
        _statuses: TokenStatusList | None = None,
        _allocator: _Allocator | None = None,
        _version: int = 0,
    ) -> None:
        if bits not in (1, 2):
            raise InvalidInputError("an issuer status list uses 1 bit (valid/revoked) or 2 bits (adds suspended)")
        if size <= 0:
            raise InvalidInputError("status list size must be positive")
        self.uri = uri
        self.statuses = _statuses if _statuses is not None else TokenStatusList(size, bits=bits)
        self._alloc = _allocator if _allocator is not None else _Allocator(self.statuses.size)
        self._randbelow = randbelow
        self.version = _version

    @property
    def size(self) -> int:
        """How many entries the list has."""
        return self.statuses.size

    @property
    def allocated(self) -> int:
        """How many indices have been handed out."""
        return self._alloc.count

    def allocate(self) -> StatusListClaim:
        """Take a fresh random index for a new credential.

        :raises ConflictError: (``status_list_full``) when every index is taken.
        :return: the ``status`` claim to put in the credential.
        """
        return status_claim(self.uri, self._alloc.allocate(self._randbelow))

    def _set(self, idx: int, value: int) -> None:
        if not 0 <= idx < self.size or not self._alloc.is_used(idx):
            raise InvalidInputError("status index was never allocated from this list")
        if self.statuses.get(idx) != value:
            self.statuses.set(idx, value)
            self.version += 1

    def revoke(self, idx: int) -> None:
        """Mark ``idx`` INVALID (permanent)."""
        self._set(idx, STATUS_INVALID)

    def suspend(self, idx: int) -> None:
        """Mark ``idx`` SUSPENDED (2-bit lists only).

        :raises InvalidInputError: on a 1-bit list or a revoked credential.
        """
        if self.statuses.bits < 2:
            raise InvalidInputError("a 1-bit status list cannot express suspension; use bits=2")
        if self.statuses.get(idx) == STATUS_INVALID:
            raise InvalidInputError("a revoked credential cannot be suspended")
        self._set(idx, STATUS_SUSPENDED)

    def reinstate(self, idx: int) -> None:
        """Lift a suspension.

        :raises InvalidInputError: if the credential is revoked (revocation is final).
        """
        if self.statuses.get(idx) == STATUS_INVALID:
            raise InvalidInputError("a revoked credential cannot be reinstated")
        self._set(idx, STATUS_VALID)

    def status(self, idx: int) -> StatusName:
        """The status of ``idx`` as a word."""
        value = self.statuses.get(idx)
        return "revoked" if value == STATUS_INVALID else "suspended" if value == STATUS_SUSPENDED else "valid"

    @property
    def digest(self) -> bytes:
        """The digest of the current version (what gets anchored on chain)."""
        return status_list_digest(self.statuses)

    def publish(
        self,
        signer: Signer,
        *,
        now: datetime,
        ttl: timedelta = timedelta(minutes=5),
        lifetime: timedelta | None = timedelta(hours=24),
        iss: str | None = None,
    ) -> str:
        """Sign the current list as a Status List Token.

        :param ttl: the cache lifetime verifiers honour; revocation reaches them within it.
        :param lifetime: ``exp`` = ``now`` + lifetime (``None`` omits ``exp``).
        :return: the ``statuslist+jwt`` to serve at :attr:`uri`.
        """
        return issue_status_list_token(
            self.statuses,
            signer,
            uri=self.uri,
            now=now,
            ttl=int(ttl.total_seconds()),
            exp=now + lifetime if lifetime is not None else None,
            iss=iss,
        )

    def to_json(self) -> dict[str, Any]:
        """The state as JSON (list, allocation bitmap, version)."""
        return {
            "format": self.FORMAT,
            "uri": self.uri,
            "bits": self.statuses.bits,
            "size": self.size,
            "version": self.version,
            "lst": self.statuses.encode(),
            "allocated": self._alloc.encode(),
        }

    @classmethod
    def from_json(cls, state: dict[str, Any], *, randbelow: RandomBelow = secrets.randbelow) -> StatusListIssuer:
        """Restore a list saved with :meth:`to_json`.

        :raises InvalidInputError: if the state is malformed.
        """
        if not isinstance(state, dict) or state.get("format") != cls.FORMAT:
            raise InvalidInputError(f"status list state is not a {cls.FORMAT} list")
        bits, size = _require_int(state, "bits"), _require_int(state, "size")
        statuses = TokenStatusList.decode(_require_str(state, "lst"), bits=bits, max_bytes=size * bits // 8 + 1)
        return cls(
            _require_str(state, "uri"),
            bits=bits,  # type: ignore[arg-type]
            randbelow=randbelow,
            _statuses=statuses,
            _allocator=_Allocator.decode(statuses.size, _require_str(state, "allocated")),
            _version=_require_int(state, "version"),
        )


class BitstringStatusListIssuer:
    """A pair of W3C Bitstring Status Lists (revocation and suspension) sharing one index space.

    A credential gets two ``BitstringStatusListEntry`` values with the same index: one per purpose.

    :param revocation_url: where the revocation list credential is served.
    :param suspension_url: where the suspension list credential is served.
    :param issuer: the issuer DID written into the list credentials.
    :param size: entries per list (at least 131,072).
    """

    FORMAT: Final = "bitstring-status-list"

    def __init__(
        self,
        revocation_url: str,
        suspension_url: str,
        *,
        issuer: str,
        size: int = BITSTRING_MIN_ENTRIES,
        randbelow: RandomBelow = secrets.randbelow,
        _lists: tuple[Bitstring, Bitstring] | None = None,
        _allocator: _Allocator | None = None,
        _version: int = 0,
    ) -> None:
        self.urls = {"revocation": revocation_url, "suspension": suspension_url}
        self.issuer = issuer
        rev, sus = _lists if _lists is not None else (Bitstring(size), Bitstring(size))
        self.lists = {"revocation": rev, "suspension": sus}
        self._alloc = _allocator if _allocator is not None else _Allocator(rev.size)
        self._randbelow = randbelow
        self.version = _version

    @property
    def size(self) -> int:
        """How many entries each list has."""
        return self.lists["revocation"].size

    def allocate(self) -> list[dict[str, Any]]:
        """Take a fresh random index.

        :raises ConflictError: (``status_list_full``) when every index is taken.
        :return: the two ``credentialStatus`` entries (revocation, suspension).
        """
        idx = self._alloc.allocate(self._randbelow)
        return [bitstring_status_entry(self.urls[p], idx, purpose=p) for p in ("revocation", "suspension")]

    def _set(self, purpose: str, idx: int, value: int) -> None:
        if not 0 <= idx < self.size or not self._alloc.is_used(idx):
            raise InvalidInputError("status index was never allocated from this list")
        if self.lists[purpose].get(idx) != value:
            self.lists[purpose].set(idx, value)
            self.version += 1

    def revoke(self, idx: int) -> None:
        """Set the revocation bit (permanent)."""
        self._set("revocation", idx, 1)

    def suspend(self, idx: int) -> None:
        """Set the suspension bit."""
        if self.lists["revocation"].get(idx):
            raise InvalidInputError("a revoked credential cannot be suspended")
        self._set("suspension", idx, 1)

    def reinstate(self, idx: int) -> None:
        """Clear the suspension bit.

        :raises InvalidInputError: if the credential is revoked.
        """
        if self.lists["revocation"].get(idx):
            raise InvalidInputError("a revoked credential cannot be reinstated")
        self._set("suspension", idx, 0)

    def status(self, idx: int) -> StatusName:
        """The status of ``idx`` as a word."""
        if self.lists["revocation"].get(idx):
            return "revoked"
        return "suspended" if self.lists["suspension"].get(idx) else "valid"

    def digest(self, purpose: str) -> bytes:
        """The digest of one list's current version."""
        return status_list_digest(self.lists[purpose])

    def publish(
        self,
        signer: Signer,
        purpose: str,
        *,
        now: datetime,
        ttl: timedelta = timedelta(minutes=5),
        lifetime: timedelta | None = timedelta(hours=24),
    ) -> str:
        """Sign one list as a ``BitstringStatusListCredential`` (``vc+jwt``)."""
        return issue_status_list_credential(
            self.lists[purpose],
            signer,
            url=self.urls[purpose],
            issuer=self.issuer,
            purpose=purpose,
            now=now,
            valid_until=now + lifetime if lifetime is not None else None,
            ttl=ttl,
        )

    def to_json(self) -> dict[str, Any]:
        """The state as JSON."""
        return {
            "format": self.FORMAT,
            "issuer": self.issuer,
            "urls": dict(self.urls),
            "size": self.size,
            "version": self.version,
            "lists": {p: b.encode() for p, b in self.lists.items()},
            "allocated": self._alloc.encode(),
        }

    @classmethod
    def from_json(
        cls, state: dict[str, Any], *, randbelow: RandomBelow = secrets.randbelow
    ) -> BitstringStatusListIssuer:
        """Restore a pair saved with :meth:`to_json`.

        :raises InvalidInputError: if the state is malformed.
        """
        if not isinstance(state, dict) or state.get("format") != cls.FORMAT:
            raise InvalidInputError(f"status list state is not a {cls.FORMAT} list")
        urls, lists = state.get("urls"), state.get("lists")
        if not isinstance(urls, dict) or not isinstance(lists, dict):
            raise InvalidInputError("status list state needs urls and lists")
        size = _require_int(state, "size")
        rev = Bitstring.decode(str(lists.get("revocation")), max_bytes=size // 8 + 1)
        sus = Bitstring.decode(str(lists.get("suspension")), max_bytes=size // 8 + 1)
        return cls(
            str(urls.get("revocation")),
            str(urls.get("suspension")),
            issuer=_require_str(state, "issuer"),
            randbelow=randbelow,
            _lists=(rev, sus),
            _allocator=_Allocator.decode(rev.size, _require_str(state, "allocated")),
            _version=_require_int(state, "version"),
        )
