"""The application factory: ``create_app(settings)``; state under ``AppKey``s, resources in ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from vcsdk.sql import PgTimeouts
from wallet_server._logging import install_server_log_filter
from wallet_server.appkeys import (
    ADMIN,
    AUTH,
    CHAIN,
    CITY,
    CLOCK,
    CREDENTIALS,
    DEVICE_LIMITER,
    DEVICES,
    IP_LIMITER,
    ISSUANCE,
    METRICS,
    OPENAPI,
    OUTGOING_DNS,
    PUBLIC,
    REDIS_BREAKER,
    RESIDENT_REGISTRY,
    SETTINGS,
    STATUS_LISTS,
    STORE,
    TRUST,
)
from wallet_server.chain import LazyChain
from wallet_server.metrics import Metrics
from wallet_server.middleware import MIDDLEWARES
from wallet_server.openapi import build_openapi
from wallet_server.ratelimit import (
    CircuitBreaker,
    InProcessRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    redis_client,
)
from wallet_server.routes import add_routes
from wallet_server.services import (
    AdminService,
    AuthService,
    Clock,
    CredentialService,
    DeviceService,
    LocalKeyProvider,
)
from wallet_server.settings import Settings
from wallet_server.storage import SqliteStore, open_store

__all__ = ["create_app", "system_clock"]

log = logging.getLogger("wallet_server")
PURGE_INTERVAL_SECONDS = 60.0
#: How often a SQLite database's WAL is copied back into the file, off the requests' way.
CHECKPOINT_INTERVAL_SECONDS = 0.2
#: How often owed receipt fetches are looked for (each one waits its own backoff).
RECEIPT_FETCH_INTERVAL_SECONDS = 1.0
#: How long the city set-up lease lasts unrenewed (its holder renews it every third of this); a
#: process that dies setting the city up holds the others' start back at most this long.
CITY_SETUP_LEASE = timedelta(seconds=30)


def pg_timeouts(settings: Settings) -> PgTimeouts:
    """The PostgreSQL waits the settings allow."""
    return PgTimeouts(
        statement=settings.database_timeout.total_seconds(),
        acquire=settings.database_pool_timeout.total_seconds(),
        connect=settings.database_timeout.total_seconds(),
    )


def anchor_lease_ttl(settings: Settings) -> timedelta:
    """How long the anchorer's lease lasts unrenewed: two rounds and their pauses, at least 5 s."""
    return max(timedelta(seconds=5), 2 * settings.receipt_anchor_interval + timedelta(seconds=2))


def system_clock() -> datetime:
    """The production clock: now, in UTC."""
    return datetime.now(UTC)


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings, clock = app[SETTINGS], app[CLOCK]
    store = await open_store(
        settings.database_url,
        schema=settings.database_schema,
        timeouts=pg_timeouts(settings),
        pool_size=settings.database_pool_size,
    )
    keys = LocalKeyProvider(dict(settings.data_keys), current=settings.current_data_key)
    app[STORE] = store
    app[AUTH] = AuthService(
        store,
        signing_keys=settings.token_signing_keys,
        issuer=settings.issuer,
        clock=clock,
        access_ttl=settings.access_token_ttl,
        refresh_ttl=settings.refresh_token_ttl,
        challenge_ttl=settings.challenge_ttl,
        dpop_max_age=settings.dpop_max_age,
    )
    app[DEVICES] = DeviceService(store, clock=clock, max_devices=settings.max_devices)
    app[CREDENTIALS] = CredentialService(store, keys=keys, clock=clock)
    app[ADMIN] = AdminService(
        store, keys=keys, tokens=settings.admin_tokens, clock=clock, enrolment_ttl=settings.enrolment_code_ttl
    )
    try:
        yield
    finally:
        await store.close()


async def _rate_limiters(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    ip: RateLimiter
    device: RateLimiter
    if settings.redis_url:
        timeout = settings.redis_timeout.total_seconds()
        breaker = CircuitBreaker("redis", event="ratelimit")
        prefix = settings.redis_prefix
        ip = RedisRateLimiter(
            redis_client(settings.redis_url, timeout=timeout), settings.ip_rate_limit, prefix=f"{prefix}:ip",
            breaker=breaker,
        )
        device = RedisRateLimiter(
            redis_client(settings.redis_url, timeout=timeout), settings.device_rate_limit, prefix=f"{prefix}:dev",
            breaker=breaker,
        )
        app[REDIS_BREAKER] = breaker
        app[METRICS].watch_breaker(breaker)
    else:
        ip = InProcessRateLimiter(settings.ip_rate_limit)
        device = InProcessRateLimiter(settings.device_rate_limit)
    app[IP_LIMITER], app[DEVICE_LIMITER] = ip, device
    try:
        yield
    finally:
        await ip.close()
        await device.close()


async def _chain(app: web.Application) -> AsyncIterator[None]:
    app[CHAIN] = LazyChain(app[SETTINGS].rpc_url, dev=app[SETTINGS].mine_to_confirm)
    try:
        yield
    finally:
        await app[CHAIN].close()


async def _back_office(app: web.Application) -> AsyncIterator[None]:
    """The city's issuance back office; the chain set-up happens on first use."""
    from vcsdk.credentials import VctRegistry
    from wallet_server.services.city import CitySetup
    from wallet_server.services.issuance import IssuanceService
    from wallet_server.services.lease import Lease
    from wallet_server.services.protocol_state import DatabaseStateStore
    from wallet_server.services.public import PublicService
    from wallet_server.services.status_lists import StatusListService
    from wallet_server.services.trust import TrustService

    settings, clock, store = app[SETTINGS], app[CLOCK], app[STORE]
    vcts = VctRegistry(settings.vct_base) if settings.vct_base else VctRegistry()
    city = CitySetup(
        app[CHAIN],
        embedded=settings.rpc_url is None,
        city_key=settings.city_key,
        signing_key=settings.city_signing_key,
        network_config=settings.network_config,
        accredit_types=(vcts.resident_identity,),
        # Every worker and instance sets the city up at start: one at a time writes it on chain.
        lease=None if settings.rpc_url is None else Lease(store, "city-setup", ttl=CITY_SETUP_LEASE, clock=clock),
    )
    status_lists = StatusListService(
        store, city=city, clock=clock, size=settings.status_list_size, ttl=settings.status_list_ttl
    )
    registry = None
    if settings.kyc_registry_url:
        from vcsdk.kyc import RegistryClientConfig, ResidentRegistryClient

        registry = ResidentRegistryClient(
            settings.kyc_registry_url,
            config=RegistryClientConfig(
                ca_file=settings.kyc_registry_ca_file,
                client_cert_file=settings.kyc_registry_client_cert_file,
                client_key_file=settings.kyc_registry_client_key_file,
            ),
        )
    keys = LocalKeyProvider(dict(settings.data_keys), current=settings.current_data_key)
    app[CITY] = city
    app[RESIDENT_REGISTRY] = registry
    app[STATUS_LISTS] = status_lists
    app[ISSUANCE] = IssuanceService(
        store,
        state=DatabaseStateStore(store, keys=keys),
        city=city,
        status_lists=status_lists,
        registry=registry,
        clock=clock,
        public_base_url=settings.public_base_url,
        vcts=vcts,
        city_name=settings.city_name,
        credential_lifetime=settings.credential_lifetime,
        offer_ttl=settings.offer_ttl,
    )
    app[TRUST] = TrustService(city=city, clock=clock)
    app[PUBLIC] = PublicService(city=city)
    try:
        yield
    finally:
        if registry is not None:
            await registry.aclose()
        await city.close()


async def _resident_wallet(app: web.Application) -> AsyncIterator[None]:
    """The resident side: offers inbox, presentations, consents and receipts, and the anchoring task."""
    import aiohttp

    from vcsdk.outbox import PostgresReceiptStore, ReceiptStore, SqliteReceiptStore
    from wallet_server.appkeys import (
        ANCHORER,
        ELECTIONS,
        IDEMPOTENCY,
        OPEN_DATA,
        PRESENTATIONS,
        RECEIPTS,
        REGISTRATIONS,
        RESIDENT_CHAIN,
        SSO,
        WALLET,
    )
    from wallet_server.services.elections import ElectionService
    from wallet_server.services.idempotency import IdempotencyKeys
    from wallet_server.services.lease import AdvisoryLock, JobHolder, Lease
    from wallet_server.services.presentations import PresentationService
    from wallet_server.services.protocol_state import DatabaseStateStore
    from wallet_server.services.receipts import CityChainPort, ReceiptService
    from wallet_server.services.registrations import OpenDataService, RegistrationService
    from wallet_server.services.sso import SsoService, subject_secret
    from wallet_server.services.wallet import OutgoingHttp, PublicAddressResolver, ResidentVault, WalletService
    from wallet_server.storage import CityDataStore, ElectionDataStore, WalletDataStore

    settings, clock, store = app[SETTINGS], app[CLOCK], app[STORE]
    receipts_store: ReceiptStore
    if store.dialect == "sqlite":
        # The receipt outbox shares the wallet's SQLite file (WAL; its own connection).
        receipts_store = await SqliteReceiptStore.open(settings.database_url.split("sqlite:///", 1)[-1])
    else:
        receipts_store = await PostgresReceiptStore.open(
            settings.database_url, schema=settings.database_schema, timeouts=pg_timeouts(settings)
        )
    if RESIDENT_CHAIN not in app:
        app[RESIDENT_CHAIN] = CityChainPort(app[CITY], mine_to_confirm=settings.mine_to_confirm)
    chain = app[RESIDENT_CHAIN]
    # Outgoing calls for residents: every host name is resolved through PublicAddressResolver.
    resolver = PublicAddressResolver(
        allow_loopback=settings.allow_loopback_http,
        private_hosts=settings.outgoing_private_hosts,
        upstream=app.get(OUTGOING_DNS),
    )
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=15, connect=5), connector=aiohttp.TCPConnector(resolver=resolver)
    )
    http = OutgoingHttp(
        session, allow_loopback_http=settings.allow_loopback_http, private_hosts=settings.outgoing_private_hosts
    )
    data = WalletDataStore(store)
    keys = LocalKeyProvider(dict(settings.data_keys), current=settings.current_data_key)
    vault = ResidentVault(store, data, keys=keys, clock=clock)
    app[IDEMPOTENCY] = IdempotencyKeys(data, vault=vault, keys=keys, clock=clock)
    receipts = ReceiptService(
        data,
        vault=vault,
        receipts=receipts_store,
        chain=chain,
        http=http,
        clock=clock,
        batch_size=settings.receipt_batch_size,
        max_age=settings.receipt_batch_max_age,
        confirmations=settings.receipt_confirmations,
    )
    app[RECEIPTS] = receipts
    city_data = CityDataStore(store)
    app[REGISTRATIONS] = RegistrationService(
        city_data, city=app[CITY], clock=clock, status_lists=app[STATUS_LISTS], validity=settings.registration_validity,
        public_base_url=settings.public_base_url,
    )
    app[OPEN_DATA] = OpenDataService(
        city_data, receipts=receipts_store, clock=clock, budget_per_period=settings.open_data_budget
    )
    app[ELECTIONS] = ElectionService(
        ElectionDataStore(store),
        city=app[CITY],
        keys=keys,
        state=DatabaseStateStore(store, keys=keys),
        ledger=lambda: _open_ledger(settings),
        registry=app[RESIDENT_REGISTRY],
        http=http,
        clock=clock,
        public_base_url=settings.public_base_url,
        vcts=app[ISSUANCE].vcts,
        rpc_url=settings.web_rpc_url,
    )
    app[SSO] = SsoService(
        city_data, store, state=DatabaseStateStore(store, keys=keys), city=app[CITY], http=http, clock=clock,
        base_url=settings.public_base_url, vct=app[ISSUANCE].vcts.resident_identity,
        secret=subject_secret(settings.sso_subject_secret, settings.data_keys), login_ttl=settings.sso_login_ttl,
    )
    app[WALLET] = WalletService(
        store,
        vault=vault,
        credentials=app[CREDENTIALS],
        http=http,
        clock=clock,
        custodial=settings.custodial_keys,
        chain=chain,
    )
    app[PRESENTATIONS] = PresentationService(
        data,
        vault=vault,
        credentials=app[CREDENTIALS],
        receipts=receipts,
        chain=chain,
        http=http,
        clock=clock,
        ttl=settings.presentation_ttl,
        consent_ttl=settings.consent_ttl,
        custodial=settings.custodial_keys,
    )
    stop = asyncio.Event()
    interval = settings.receipt_anchor_interval.total_seconds()
    # Every instance (and worker) runs the batcher; the lock (PostgreSQL) or lease lets one anchor at a time.
    lease: JobHolder
    if store.dialect == "postgres":
        lease = AdvisoryLock(
            settings.database_url, schema=settings.database_schema, name="receipt-anchorer",
            timeouts=pg_timeouts(settings),
        )
    else:
        lease = Lease(store, "receipt-anchorer", ttl=anchor_lease_ttl(settings), clock=clock)
    app[ANCHORER] = lease
    batcher = asyncio.create_task(receipts.run_batcher(interval=interval, stop=stop, lease=lease))
    # Receipts services signed and this wallet has not stored yet are asked for again (every instance).
    fetcher = asyncio.create_task(
        app[PRESENTATIONS].run_receipt_fetcher(interval=RECEIPT_FETCH_INTERVAL_SECONDS, stop=stop)
    )
    try:
        # A presentation left "sending" by a server that stopped mid-send shows as "unknown", never re-sent.
        await app[PRESENTATIONS].settle_interrupted()
        yield
    finally:
        stop.set()
        for task in (batcher, fetcher):
            task.cancel()
            # Cancelled, or failed: either way the resources below must close.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await app[ELECTIONS].close()
        await session.close()
        await resolver.close()
        await receipts_store.close()


async def _open_ledger(settings: Settings) -> Any:
    """The voting issuance ledger in the wallet's database (its own tables and migrations)."""
    from vcsdk.voting import PostgresIssuanceLedger, SqliteIssuanceLedger

    if settings.database_url.startswith("sqlite:///"):
        return await SqliteIssuanceLedger.open(settings.database_url.split("sqlite:///", 1)[-1])
    return await PostgresIssuanceLedger.open(settings.database_url, schema=settings.database_schema)


async def _purge_loop(app: web.Application) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
        try:
            await app[STORE].purge_expired(now=app[CLOCK]())
        except Exception:  # keep purging later; a failed round loses nothing
            log.warning("purging expired nonces and tokens failed", extra={"event": "purge_failed"})


async def _checkpoint_loop(store: SqliteStore) -> None:
    while True:
        await asyncio.sleep(CHECKPOINT_INTERVAL_SECONDS)
        try:
            await store.checkpoint()
        except Exception:  # the next round copies what this one did not; commits are the backstop
            log.warning("checkpointing the SQLite database failed", extra={"event": "checkpoint_failed"})


@contextlib.asynccontextmanager
async def _in_background(loop: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``loop`` as a task for the block; cancelled, and awaited, at its end."""
    task = asyncio.create_task(loop)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _checkpointer(app: web.Application) -> AsyncIterator[None]:
    """On SQLite, checkpoint the WAL in the background (see :meth:`SqliteStore.checkpoint`)."""
    store = app[STORE]
    if not isinstance(store, SqliteStore):
        yield
        return
    async with _in_background(_checkpoint_loop(store)):
        yield


async def _purger(app: web.Application) -> AsyncIterator[None]:
    async with _in_background(_purge_loop(app)):
        yield


def create_app(settings: Settings, *, clock: Clock = system_clock) -> web.Application:
    """Build the wallet server application.

    :param settings: loaded once by the entry point (:func:`wallet_server.settings.load_settings`).
    :param clock: returns the current UTC time (tests may pass a fixed one).
    :return: an aiohttp application; the database opens when it starts and closes when it stops.
    """
    # aiohttp's own log of a request it could not parse holds the client address and raw header bytes.
    install_server_log_filter()
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=settings.client_max_size)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[OPENAPI] = build_openapi(server_url=settings.public_base_url)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_rate_limiters)
    app.cleanup_ctx.append(_chain)
    app.cleanup_ctx.append(_back_office)
    app.cleanup_ctx.append(_resident_wallet)
    app.cleanup_ctx.append(_purger)
    app.cleanup_ctx.append(_checkpointer)
    add_routes(app)
    return app
