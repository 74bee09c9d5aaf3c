"""wallet_server fixtures: a store on real SQLite and on real PostgreSQL, and test settings.

PostgreSQL runs at 127.0.0.1:5432 (database ``test``, trust auth). Each test session makes its own
schema (``wstest_<random>``), empties its tables before each test, and drops it at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN, SIGNING_KEY, Clock
from wallet_server.ratelimit import RateLimit
from wallet_server.services import AdminToken
from wallet_server.settings import Settings
from wallet_server.storage import PostgresStore, SqliteStore, Store

PG_DSN = os.environ.get("VCSDK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """One schema for the whole test session, dropped at the end."""
    name = f"wstest_{secrets.token_hex(6)}"
    yield name

    async def drop() -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


_TABLES = "residents, enrolment_codes, devices, credentials, challenges, seen_jtis, refresh_tokens"
# The city back office (migration 0002).
_TABLES += ", protocol_state, offers, status_lists, issued_credentials, leases"
# The city's registered services and open-data releases (migration 0005).
_TABLES += ", service_registrations, open_data_releases"
# Receipt fetches owed and idempotent answers (migration 0009).
_TABLES += ", receipt_fetches, idempotency_keys"


@pytest.hookimpl(tryfirst=True)  # before -m "not slow" deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The PostgreSQL half of a wide bad-input matrix runs in ``make test``, not ``make test-fast``."""
    for item in items:
        params = getattr(item, "callspec", None)
        if item.get_closest_marker("matrix") and params is not None and params.params.get("backend") == "postgres":
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database(backend: str, tmp_path: Path, pg_schema: str) -> tuple[str, str | None]:
    """``(database_url, schema)`` for the parametrized backend; PostgreSQL tables start empty."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'wallet.db'}", None
    store = await PostgresStore.open(PG_DSN, schema=pg_schema, min_size=1, max_size=1)
    try:
        async with store._tx() as conn:
            await conn.execute(f"TRUNCATE {_TABLES} CASCADE")
    finally:
        await store.close()
    return PG_DSN, pg_schema


@pytest.fixture
async def store(database: tuple[str, str | None]) -> AsyncIterator[Store]:
    url, schema = database
    opened: Store
    if schema is None:
        opened = await SqliteStore.open(url[len("sqlite:///") :])
    else:
        opened = await PostgresStore.open(url, schema=schema, max_size=4)
    try:
        yield opened
    finally:
        await opened.close()


# -- the HTTP app on either backend -------------------------------------------------------------

APP_ORIGIN = "https://app.city.example"


def make_settings(database: tuple[str, str | None], **overrides: object) -> Settings:
    url, schema = database
    base = Settings(
        database_url=url,
        database_schema=schema,
        issuer="https://wallet.test",
        token_signing_keys=(SIGNING_KEY,),
        data_keys=(("k1", b"\x01" * 32),),
        current_data_key="k1",
        admin_tokens=(
            AdminToken("ops", hashlib.sha256(OPERATOR_TOKEN.encode()).hexdigest(), frozenset({"operator"})),
            AdminToken("iss", hashlib.sha256(ISSUER_TOKEN.encode()).hexdigest(), frozenset({"issuer"})),
        ),
        cors_origins=(APP_ORIGIN,),
        client_max_size=64 * 1024,
        ip_rate_limit=RateLimit(rate=1000.0, burst=10_000),
        device_rate_limit=RateLimit(rate=1000.0, burst=10_000),
        access_token_ttl=timedelta(minutes=5),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database: tuple[str, str | None]) -> Settings:
    return make_settings(database)


@pytest.fixture
async def client(aiohttp_client, settings: Settings, clock: Clock):  # type: ignore[no-untyped-def]
    from wallet_server import create_app

    return await aiohttp_client(create_app(settings, clock=clock))
