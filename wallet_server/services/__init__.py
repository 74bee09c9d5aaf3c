"""The wallet's services: plain classes that get their store, keys and clock in ``__init__``.

Routes call these; they hold no HTTP and no SQL. Services for offers, presentations and receipts
join here as their SDK parts land, each with its own ``AppKey`` in :mod:`wallet_server.app`.
"""

from __future__ import annotations

from wallet_server.services._common import Clock
from wallet_server.services.admin import Administrator, AdminRole, AdminService, AdminToken
from wallet_server.services.auth import AuthService, Challenge, Principal, TokenPair
from wallet_server.services.credentials import (
    CredentialService,
    CredentialsPage,
    CredentialSummary,
    CredentialView,
)
from wallet_server.services.devices import DeviceService
from wallet_server.services.encryption import KeyProvider, LocalKeyProvider, WrappedKey
from wallet_server.services.presentations import PresentationService, PresentationView
from wallet_server.services.receipts import ChainPort, CityChainPort, ReceiptService
from wallet_server.services.wallet import OfferView, OutgoingHttp, ProofSigningRequest, ResidentVault, WalletService

__all__ = [
    "AdminRole",
    "AdminService",
    "AdminToken",
    "Administrator",
    "AuthService",
    "ChainPort",
    "Challenge",
    "CityChainPort",
    "Clock",
    "CredentialService",
    "CredentialSummary",
    "CredentialView",
    "CredentialsPage",
    "DeviceService",
    "KeyProvider",
    "LocalKeyProvider",
    "OfferView",
    "OutgoingHttp",
    "PresentationService",
    "PresentationView",
    "Principal",
    "ProofSigningRequest",
    "ReceiptService",
    "ResidentVault",
    "TokenPair",
    "WalletService",
    "WrappedKey",
]
