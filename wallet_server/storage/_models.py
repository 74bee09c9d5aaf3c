"""Values the stores return: our own dataclasses, never database rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

__all__ = [
    "Device",
    "EnrolmentCode",
    "Page",
    "RefreshToken",
    "Resident",
    "ResidentStatus",
    "StoredCredential",
]

ResidentStatus = Literal["active", "suspended"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resident:
    """A resident of the city known to the wallet; ``wrapped_key`` is their data key, wrapped."""

    id: str
    status: ResidentStatus
    created_at: datetime
    wrap_key_id: str
    wrapped_key: bytes

    def __repr__(self) -> str:
        return f"Resident(id={self.id!r}, status={self.status!r}, wrap_key_id={self.wrap_key_id!r})"


@dataclass(frozen=True, slots=True)
class EnrolmentCode:
    """A one-time code that lets a phone register the first device of a resident (stored hashed)."""

    code_hash: str
    resident_id: str
    created_at: datetime
    expires_at: datetime
    created_by: str
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """A resident's phone: its P-256 public JWK and RFC 7638 thumbprint (``jkt``)."""

    id: str
    resident_id: str
    jkt: str
    public_jwk: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """A credential row: metadata in clear, the credential itself as AES-GCM ciphertext."""

    id: str
    resident_id: str
    format: str
    created_at: datetime
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"StoredCredential(id={self.id!r}, format={self.format!r}, {len(self.ciphertext)} bytes)"


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A refresh token record (hash only); tokens of one login form a ``family``."""

    token_hash: str
    family_id: str
    resident_id: str
    device_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated listing; ``next_after`` is the key to continue after, if any."""

    items: tuple[T, ...]
    next_after: tuple[datetime, str] | None
