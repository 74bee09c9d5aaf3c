"""Typed application state: every piece of state the app holds has an ``AppKey`` here."""

from __future__ import annotations

from aiohttp import web

from wallet_server.chain import LazyChain
from wallet_server.ratelimit import RateLimiter
from wallet_server.services import AdminService, AuthService, Clock, CredentialService, DeviceService
from wallet_server.settings import Settings
from wallet_server.storage import Store

__all__ = [
    "ADMIN",
    "AUTH",
    "CHAIN",
    "CLOCK",
    "CREDENTIALS",
    "DEVICES",
    "DEVICE_LIMITER",
    "IP_LIMITER",
    "OPENAPI",
    "SETTINGS",
    "STORE",
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
