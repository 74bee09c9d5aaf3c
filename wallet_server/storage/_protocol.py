"""The storage ports: small protocols the services depend on; both backends implement them all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from wallet_server.storage._models import (
    CredentialKey,
    CredentialState,
    Device,
    DeviceProof,
    EnrolmentCode,
    IssuedCredential,
    Offer,
    OfferState,
    Page,
    RefreshToken,
    Resident,
    StatusListRecord,
    StoredCredential,
)

__all__ = [
    "BackOfficeStore",
    "CredentialStore",
    "DeviceProofOutcome",
    "DeviceStore",
    "EnrolmentStore",
    "RefreshTokenStore",
    "ReplayCache",
    "ResidentStore",
    "Store",
]

Cursor = tuple[datetime, str]
#: What :meth:`ReplayCache.use_device_proof` found.
DeviceProofOutcome = Literal["ok", "replay", "no_device", "logged_out"]
R = TypeVar("R")


class ResidentStore(Protocol):
    """Residents and their wrapped data keys."""

    async def create_resident(self, resident: Resident) -> None:
        """:raises ConflictError: if the id exists."""
        ...

    async def get_resident(self, resident_id: str) -> Resident:
        """:raises NotFoundError: if there is no such resident."""
        ...

    async def list_residents(self, *, limit: int, after: Cursor | None = None) -> Page[Resident]:
        """Oldest first, ``limit`` at most, strictly after the ``(created_at, id)`` key ``after``."""
        ...

    async def replace_resident_key(
        self, resident_id: str, *, old_key_id: str, new_key_id: str, wrapped_key: bytes
    ) -> None:
        """Store a re-wrapped data key (server key rotation) if the row still has ``old_key_id``.

        :raises ConflictError: if another instance re-wrapped it first.
        """
        ...


class EnrolmentStore(Protocol):
    """One-time enrolment codes (hashed) and their atomic use."""

    async def add_enrolment_code(self, code: EnrolmentCode) -> None:
        """Store a code's hash for its resident until it expires or is used."""
        ...

    async def enrol_device(self, code_hash: str, device: Device, *, now: datetime) -> Device:
        """Use a one-time enrolment code and register ``device`` for its resident, atomically.

        ``device.resident_id`` is ignored; the code decides the resident.

        :raises NotFoundError: if the code is unknown, used or expired.
        :raises ConflictError: if the device key is already registered (the code stays unused).
        :return: the stored device.
        """
        ...


class DeviceStore(Protocol):
    """Residents' devices (public keys only)."""

    async def add_device(self, device: Device) -> None:
        """:raises ConflictError: if the key (``jkt``) or id is already registered."""
        ...

    async def get_device(self, device_id: str) -> Device:
        """:raises NotFoundError: if there is no such device."""
        ...

    async def list_devices(self, resident_id: str) -> tuple[Device, ...]:
        """The resident's devices, oldest first (none for an unknown resident)."""
        ...

    async def delete_device(self, resident_id: str, device_id: str) -> None:
        """Remove a resident's device and its refresh tokens.

        :raises NotFoundError: if the resident has no such device.
        """
        ...


class CredentialStore(Protocol):
    """Encrypted credential rows; every read and delete is scoped to one resident."""

    async def put_credential(self, credential: StoredCredential) -> None:
        """:raises ConflictError: if the id exists."""
        ...

    async def get_credential(self, resident_id: str, credential_id: str) -> StoredCredential:
        """:raises NotFoundError: if the resident has no such credential."""
        ...

    async def list_credentials(
        self, resident_id: str, *, limit: int, after: Cursor | None = None
    ) -> Page[StoredCredential]:
        """The resident's credentials oldest first, ``limit`` at most, after the key ``after``."""
        ...

    async def list_credential_keys(
        self, resident_id: str, *, limit: int, after: Cursor | None = None
    ) -> Page[CredentialKey]:
        """:meth:`list_credentials` without the ciphertexts: ids, formats and creation times."""
        ...

    async def delete_credential(self, resident_id: str, credential_id: str) -> None:
        """:raises NotFoundError: if the resident has no such credential."""
        ...

    async def prove_and_put_credential(self, proof: DeviceProof, credential: StoredCredential) -> DeviceProofOutcome:
        """Record ``proof`` as :meth:`ReplayCache.use_device_proof` does and store ``credential``
        only if that gives ``"ok"`` (PostgreSQL: in one statement).

        :raises ConflictError: if the credential id exists (nothing is recorded then).
        """
        ...

    async def prove_and_list_credential_keys(
        self, proof: DeviceProof, *, limit: int, after: Cursor | None = None
    ) -> tuple[DeviceProofOutcome, Page[CredentialKey]]:
        """Record ``proof`` as :meth:`ReplayCache.use_device_proof` does and, only if that gives
        ``"ok"``, list ``proof.resident_id``'s credentials without their ciphertext (oldest first,
        ``limit`` at most, after ``after``); otherwise the page is empty. PostgreSQL does both in
        one round trip."""
        ...


class ReplayCache(Protocol):
    """Short-lived single-use values: login nonces and DPoP proof ids (stored hashed)."""

    async def add_challenge(self, nonce_hash: str, *, expires_at: datetime) -> None:
        """Remember a login nonce until ``expires_at``."""
        ...

    async def consume_challenge(self, nonce_hash: str, *, now: datetime) -> bool:
        """Delete the challenge; ``True`` only for the first call before it expired."""
        ...

    async def remember_jti(self, jti_hash: str, *, expires_at: datetime) -> bool:
        """Record a DPoP proof id; ``False`` if it was seen before (a replay)."""
        ...

    async def use_device_proof(self, proof: DeviceProof) -> DeviceProofOutcome:
        """Record the DPoP proof id ``proof.jti_hash`` (until ``proof.expires_at``) if the device
        ``proof.device_id`` is (still) registered to ``proof.resident_id`` with key ``proof.jkt``
        and the login ``proof.family_id`` (if given) was not ended, in one statement: ``"ok"``,
        ``"replay"`` (the id was seen before), ``"no_device"`` or ``"logged_out"`` (the login's
        refresh-token family was revoked: logout or refresh-token reuse)."""
        ...

    async def purge_expired(self, *, now: datetime, batch: int = 500, pause: float = 0.02) -> int:
        """Drop expired challenges, proof ids, refresh tokens, enrolment codes, protocol state and
        idempotent answers (``expires_at`` at or before ``now``); returns how many rows went.

        Deletes at most ``batch`` rows per statement, each committed on its own and followed by a
        ``pause`` (seconds), so no request waits behind the database's write lock for longer than
        one batch.

        :raises InvalidInputError: if ``batch`` is below one or ``pause`` negative.
        """
        ...

    async def take_lease(self, name: str, holder: str, *, until: datetime, now: datetime) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``until``, atomically: ``True``
        if ``holder`` now holds it (it was free, expired, or already its own)."""
        ...

    async def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up if ``holder`` holds it, so another instance takes it at once."""
        ...


class RefreshTokenStore(Protocol):
    """Refresh tokens (hashed) in families, for rotation and reuse detection."""

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Store a new, unused refresh token."""
        ...

    async def get_refresh_token(self, token_hash: str) -> RefreshToken:
        """:raises NotFoundError: if unknown."""
        ...

    async def use_refresh_token(self, token_hash: str, *, now: datetime) -> RefreshToken:
        """Mark a refresh token used, atomically.

        :raises NotFoundError: if unknown.
        :return: the record as it was before this call: ``used_at`` set means it was used before.
        """
        ...

    async def revoke_refresh_family(self, family_id: str, *, now: datetime) -> None:
        """Revoke every token of one login (logout, or a detected reuse)."""
        ...


class BackOfficeStore(Protocol):
    """The city's back office: OpenID4VCI protocol state, the offer inbox, status lists, issued credentials.

    Protocol state keys are SHA-256 digests and values sealed by the caller; the store never sees
    either in clear. Status lists change only under their row lock (two instances are safe).
    """

    async def put_state(
        self, namespace: str, key_hash: str, *, wrap_key_id: str, sealed: bytes, expires_at: datetime
    ) -> None:
        """:raises ConflictError: if the key exists."""
        ...

    async def get_state(self, namespace: str, key_hash: str, *, now: datetime) -> tuple[str, bytes] | None:
        """``(wrap_key_id, sealed)`` of a live entry, else ``None``."""
        ...

    async def take_state(self, namespace: str, key_hash: str, *, now: datetime) -> tuple[str, bytes] | None:
        """Delete and return a live entry, atomically; ``None`` if absent or expired."""
        ...

    async def incr_state(self, namespace: str, key_hash: str, *, expires_at: datetime, now: datetime) -> int:
        """Add one to a counter (restarted after it expired) and return the new value, atomically."""
        ...

    async def add_offer(self, offer: Offer) -> None:
        """Put an offer in its resident's inbox. :raises ConflictError: if the id exists."""
        ...

    async def get_offer(self, offer_id: str, *, resident_id: str | None = None) -> Offer:
        """:raises NotFoundError: if there is no such offer (or, with ``resident_id``, not theirs)."""
        ...

    async def list_offers(self, resident_id: str, *, limit: int, after: Cursor | None = None) -> Page[Offer]:
        """The resident's offers oldest first, ``limit`` at most, after the key ``after``."""
        ...

    async def set_offer_state(
        self,
        offer_id: str,
        state: OfferState,
        *,
        now: datetime,
        expected: OfferState | Sequence[OfferState] = "pending",
        resident_id: str | None = None,
        flow: bytes | None = None,
        credential_id: str | None = None,
    ) -> bool:
        """Move an offer from ``expected`` (one state or several) to ``state`` (compare-and-set),
        writing the wallet's sealed ``flow`` and the ``credential_id`` as given (``None`` clears them).

        :param resident_id: change it only if it is this resident's offer.
        :return: ``False`` if it was not in ``expected`` (another request changed it first) or is gone.
        """
        ...

    async def create_status_list(self, record: StatusListRecord) -> None:
        """:raises ConflictError: if a list with this id or URI exists."""
        ...

    async def get_status_list(self, list_id: int) -> StatusListRecord:
        """:raises NotFoundError: if there is no such list."""
        ...

    async def list_status_lists(self) -> tuple[StatusListRecord, ...]:
        """Every status list, by id."""
        ...

    async def published_status_list(self, list_id: int) -> tuple[str, datetime] | None:
        """The last published token of a list and its publication time, if any."""
        ...

    async def update_status_list(
        self, list_id: int, mutate: Callable[[StatusListRecord], tuple[StatusListRecord, R]]
    ) -> R:
        """Change one list under its row lock. :raises NotFoundError: if there is no such list."""
        ...

    async def add_issued_credential(self, credential: IssuedCredential) -> None:
        """Record an issued credential's metadata."""
        ...

    async def get_issued_credential(self, credential_id: str) -> IssuedCredential:
        """:raises NotFoundError: if unknown."""
        ...

    async def issued_credentials_of_offer(self, offer_id: str) -> tuple[IssuedCredential, ...]:
        """Every credential issued from one offer (a batch shares its offer)."""
        ...

    async def list_issued_credentials(
        self, *, limit: int, after: Cursor | None = None, resident_id: str | None = None
    ) -> Page[IssuedCredential]:
        """Issued credentials oldest first (of one resident if given), after the key ``after``."""
        ...

    async def set_credentials_state(
        self,
        credential_ids: Sequence[str],
        state: CredentialState,
        *,
        now: datetime,
        mutate: Callable[[StatusListRecord, list[int]], StatusListRecord],
    ) -> tuple[IssuedCredential, ...]:
        """Change credentials' state and their status-list entries in one transaction.

        :raises NotFoundError: if a credential is unknown.
        """
        ...


class Store(
    ResidentStore,
    EnrolmentStore,
    DeviceStore,
    CredentialStore,
    ReplayCache,
    RefreshTokenStore,
    BackOfficeStore,
    Protocol,
):
    """Everything ``wallet_server`` keeps; ``SqliteStore`` and ``PostgresStore`` implement it."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgres``."""
        ...

    async def migrate(self) -> list[int]:
        """Apply missing numbered migrations; returns the versions applied now."""
        ...

    async def ping(self) -> None:
        """One trivial query. :raises StorageError: if the database does not answer."""
        ...

    async def close(self) -> None:
        """Close the connection or pool."""
        ...
