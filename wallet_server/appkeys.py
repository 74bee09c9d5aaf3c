"""Typed application state: every piece of state the app holds has an ``AppKey`` here."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractResolver

from vcsdk.kyc import ResidentRegistry
from wallet_server.chain import LazyChain
from wallet_server.metrics import Metrics
from wallet_server.ratelimit import CircuitBreaker, RateLimiter
from wallet_server.services import AdminService, AuthService, Clock, CredentialService, DeviceService
from wallet_server.services.city import CitySetup
from wallet_server.services.elections import ElectionService
from wallet_server.services.idempotency import IdempotencyKeys
from wallet_server.services.issuance import IssuanceService
from wallet_server.services.lease import JobHolder
from wallet_server.services.presentations import PresentationService
from wallet_server.services.public import PublicService
from wallet_server.services.receipts import ChainPort, ReceiptService
from wallet_server.services.registrations import OpenDataService, RegistrationService
from wallet_server.services.sso import SsoService
from wallet_server.services.status_lists import StatusListService
from wallet_server.services.trust import TrustService
from wallet_server.services.wallet import WalletService
from wallet_server.settings import Settings
from wallet_server.storage import Store

__all__ = [
    "ADMIN",
    "ANCHORER",
    "AUTH",
    "CHAIN",
    "CITY",
    "CLOCK",
    "CREDENTIALS",
    "DEVICES",
    "DEVICE_LIMITER",
    "ELECTIONS",
    "IDEMPOTENCY",
    "IP_LIMITER",
    "ISSUANCE",
    "METRICS",
    "OPENAPI",
    "OPEN_DATA",
    "OUTGOING_DNS",
    "PRESENTATIONS",
    "PUBLIC",
    "RECEIPTS",
    "REDIS_BREAKER",
    "REGISTRATIONS",
    "RESIDENT_CHAIN",
    "RESIDENT_REGISTRY",
    "SETTINGS",
    "STATUS_LISTS",
    "STORE",
    "TRUST",
    "WALLET",
]

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
STORE: web.AppKey[Store] = web.AppKey("store")
CHAIN = web.AppKey("chain", LazyChain)
IP_LIMITER: web.AppKey[RateLimiter] = web.AppKey("ip_limiter")
DEVICE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("device_limiter")
REDIS_BREAKER = web.AppKey("redis_breaker", CircuitBreaker)
METRICS = web.AppKey("metrics", Metrics)
AUTH = web.AppKey("auth", AuthService)
DEVICES = web.AppKey("devices", DeviceService)
CREDENTIALS = web.AppKey("credentials", CredentialService)
ADMIN = web.AppKey("admin", AdminService)
OPENAPI: web.AppKey[dict[str, object]] = web.AppKey("openapi")
# The city back office: its chain set-up (DID, signing key, registries; shared with the resident
# side, e.g. the receipt registry address) and its services.
CITY = web.AppKey("city", CitySetup)
ISSUANCE = web.AppKey("issuance", IssuanceService)
STATUS_LISTS = web.AppKey("status_lists", StatusListService)
TRUST = web.AppKey("trust", TrustService)
PUBLIC = web.AppKey("public", PublicService)
# The resident side: offers inbox, presentations, consents and receipts. RESIDENT_CHAIN may be set
# on the app before it starts (tests do); otherwise it comes from the city set-up (CITY).
WALLET = web.AppKey("wallet", WalletService)
PRESENTATIONS = web.AppKey("presentations", PresentationService)
# Idempotency-Key on the resident API's POSTs that create something.
IDEMPOTENCY = web.AppKey("idempotency", IdempotencyKeys)
RECEIPTS = web.AppKey("receipts", ReceiptService)
# Who anchors: this instance while it holds the lock (PostgreSQL) or the lease (SQLite).
ANCHORER: web.AppKey[JobHolder] = web.AppKey("anchorer")
# The city's registered services and its open-data releases (the console's "Services" and "Open data").
REGISTRATIONS = web.AppKey("registrations", RegistrationService)
OPEN_DATA = web.AppKey("open_data", OpenDataService)
# The city's elections (the console's "Elections"; the ballot-token issuer under /voting/{id}).
ELECTIONS = web.AppKey("elections", ElectionService)
# The resident registry the back office checks identities against (None without kyc_registry_url).
RESIDENT_REGISTRY: web.AppKey[ResidentRegistry | None] = web.AppKey("resident_registry")
# The city's OpenID Provider (single sign-on with the wallet), mounted under /sso.
SSO = web.AppKey("sso", SsoService)
RESIDENT_CHAIN: web.AppKey[ChainPort] = web.AppKey("resident_chain")
# The name lookup under outgoing calls (the system's by default; tests set an in-memory zone). The
# app always wraps it in PublicAddressResolver with the settings' rules.
OUTGOING_DNS: web.AppKey[AbstractResolver] = web.AppKey("outgoing_dns")
