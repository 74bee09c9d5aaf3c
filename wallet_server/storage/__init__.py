"""Storage for ``wallet_server``: small protocols, SQLite and PostgreSQL backends, numbered migrations.

Stores return the dataclasses below, never rows, and raise only :class:`~vcsdk.errors.StorageError`
and its subclasses :class:`~vcsdk.errors.NotFoundError` and :class:`~vcsdk.errors.ConflictError`.
Open one from a URL with :func:`open_store`.
"""

from __future__ import annotations

from wallet_server.storage._city import CityDataStore, ReleaseRow, ServiceRegistrationRow
from wallet_server.storage._elections import ElectionDataStore, ElectionRow
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
    ResidentStatus,
    StatusListRecord,
    StoredCredential,
)
from wallet_server.storage._open import open_store
from wallet_server.storage._postgres import PostgresStore
from wallet_server.storage._protocol import (
    BackOfficeStore,
    CredentialStore,
    DeviceProofOutcome,
    DeviceStore,
    EnrolmentStore,
    RefreshTokenStore,
    ReplayCache,
    ResidentStore,
    Store,
)
from wallet_server.storage._sqlite import SqliteStore
from wallet_server.storage._wallet import (
    CopyPolicy,
    IdempotentAnswerRow,
    PresentationRow,
    PresentationState,
    PrivacyRow,
    ReceiptFetchRow,
    ReceiptFetchState,
    ResidentConsentRow,
    ResidentSecretsRow,
    ViolationKind,
    ViolationRow,
    ViolationSummary,
    WalletDataStore,
)

__all__ = [
    "BackOfficeStore",
    "CityDataStore",
    "CopyPolicy",
    "CredentialKey",
    "CredentialState",
    "CredentialStore",
    "Device",
    "DeviceProof",
    "DeviceProofOutcome",
    "DeviceStore",
    "ElectionDataStore",
    "ElectionRow",
    "EnrolmentCode",
    "EnrolmentStore",
    "IdempotentAnswerRow",
    "IssuedCredential",
    "Offer",
    "OfferState",
    "Page",
    "PostgresStore",
    "PresentationRow",
    "PresentationState",
    "PrivacyRow",
    "ReceiptFetchRow",
    "ReceiptFetchState",
    "RefreshToken",
    "RefreshTokenStore",
    "ReleaseRow",
    "ReplayCache",
    "Resident",
    "ResidentConsentRow",
    "ResidentSecretsRow",
    "ResidentStatus",
    "ResidentStore",
    "ServiceRegistrationRow",
    "SqliteStore",
    "StatusListRecord",
    "Store",
    "StoredCredential",
    "ViolationKind",
    "ViolationRow",
    "ViolationSummary",
    "WalletDataStore",
    "open_store",
]
