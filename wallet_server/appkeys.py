"""Typed application state: every piece of state the app holds has an ``AppKey`` here."""

from __future__ import annotations

from aiohttp import web

from wallet_server.chain import LazyChain
from wallet_server.ratelimit import RateLimiter
from wallet_server.services import AdminService, AuthService, Clock, CredentialService, DeviceService
from wallet_server.services.city import CitySetup
from wallet_server.services.issuance import IssuanceService
from wallet_server.services.public import PublicService
from wallet_server.services.status_lists import StatusListService
from wallet_server.services.trust import TrustService
from wallet_server.settings import Settings
from wallet_server.storage import Store

__all__ = [
    "ADMIN",
    "AUTH",
    "CHAIN",
    "CITY",
    "CLOCK",
    "CREDENTIALS",
    "DEVICES",
    "DEVICE_LIMITER",
    "IP_LIMITER",
    "ISSUANCE",
    "OPENAPI",
    "PUBLIC",
    "SETTINGS",
    "STATUS_LISTS",
    "STORE",
    "TRUST",
]

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
STORE: web.AppKey[Store] = web.AppKey("store")
CHAIN = web.AppKey("chain", LazyChain)
IP_LIMITER: web.AppKey[RateLimiter] = web.AppKey("ip_limiter")
DEVICE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("device_limiter")
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
