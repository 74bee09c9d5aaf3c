"""Values the stores return: our own dataclasses, never database rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, NamedTuple, TypeVar

__all__ = [
    "CredentialKey",
    "CredentialState",
    "Device",
    "DeviceProof",
    "EnrolmentCode",
    "IssuedCredential",
    "Offer",
    "OfferState",
    "Page",
    "RefreshToken",
    "Resident",
    "ResidentStatus",
    "StatusListRecord",
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


class CredentialKey(NamedTuple):
    """What a listing of summaries needs of a credential row: everything but the ciphertext (a
    named tuple: a listing makes one per row and request, and tuples are the cheapest to make)."""

    id: str
    format: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceProof:
    """A checked DPoP proof still to be recorded: its replay key (``jti_hash``, kept until
    ``expires_at``) and the device, resident, key thumbprint and login (``family_id``) it must
    still belong to when it is recorded."""

    jti_hash: str
    expires_at: datetime
    device_id: str
    resident_id: str
    jkt: str
    family_id: str | None


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


OfferState = Literal["pending", "accepting", "redeemed", "declined", "expired", "failed"]
CredentialState = Literal["valid", "suspended", "revoked"]


@dataclass(frozen=True, slots=True)
class Offer:
    """A credential offer in a resident's inbox (``offer_uri`` is what the app opens): the city's own
    offers (``created_by`` an administrator) and the ones a resident scanned (``resident``).

    The Transaction Code is never stored here: the city delivers it out of band. ``flow`` is the
    wallet's sealed accept state (``accepting``; after a batch of copies, what refills it), and
    ``credential_id`` the credential an accepted offer produced.
    """

    id: str
    resident_id: str
    configuration_id: str
    offer_uri: str
    offer_json: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    state: OfferState
    updated_at: datetime
    flow: bytes | None = None
    credential_id: str | None = None

    def __repr__(self) -> str:
        return f"Offer(id={self.id!r}, state={self.state!r})"


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """Metadata of a credential the city issued: never its claims."""

    id: str
    offer_id: str
    resident_id: str
    configuration_id: str
    vct: str
    status_list_id: int
    status_index: int
    issued_at: datetime
    expires_at: datetime | None
    state: CredentialState
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StatusListRecord:
    """One status list as stored: the issuer state (``StatusListIssuer.to_json``), the last
    published token and the last digest anchored on chain (hex)."""

    id: int
    uri: str
    state: dict[str, object]
    size: int
    allocated: int
    version: int
    created_at: datetime
    token: str | None = None
    published_at: datetime | None = None
    published_version: int | None = None
    anchored_digest: str | None = None
    anchored_version: int | None = None

    def __repr__(self) -> str:
        return f"StatusListRecord(id={self.id}, uri={self.uri!r}, version={self.version}, allocated={self.allocated})"
