"""Faults, through a TCP proxy on loopback in front of the real PostgreSQL and Redis.

For each fault: no request waits longer than its timeout (it gets an answer: 503 for the
database, the request itself for Redis, which rate limiting may skip), /ready turns red with the
dependency and green again after it, and the API works again afterwards.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from tests._proxy import TcpProxy
from tests.wallet_server._helpers import new_resident
from tests.wallet_server.conftest import PG_DSN, make_settings
from wallet_server import create_app

pytestmark = pytest.mark.slow

#: Seconds the test allows any one request: the server's own bounds are well inside it.
BOUND = 10.0


def _through(proxy: TcpProxy) -> str:
    parts = urlsplit(PG_DSN)
    return parts._replace(netloc=f"{parts.username}@{proxy.address}").geturl()


async def _call(coro):  # type: ignore[no-untyped-def]
    """A request that must come back within BOUND seconds (a hang fails the test)."""
    return await asyncio.wait_for(coro, BOUND)


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("fault", ["frozen", "killed"])
async def test_database_fault_answers_503_then_recovers(aiohttp_client, database, clock, fault: str) -> None:  # type: ignore[no-untyped-def]
    async with TcpProxy(urlsplit(PG_DSN).port or 5432) as proxy:
        settings = make_settings(
            (_through(proxy), database[1]),
            database_timeout=timedelta(seconds=1),
            database_pool_timeout=timedelta(seconds=0.5),
        )
        client = await aiohttp_client(create_app(settings, clock=clock))
        phone = await new_resident(client, clock)
        assert (await _call(phone.call("GET", "/v1/me"))).status == 200
        if fault == "frozen":
            proxy.freeze()
        else:
            await proxy.cut()
        for _ in range(3):
            resp = await _call(phone.call("GET", "/v1/me"))
            assert resp.status == 503, await resp.text()
            assert (await resp.json())["code"] == "storage_error" and resp.headers["Retry-After"]
        ready = await _call(client.get("/ready"))
        assert ready.status == 503 and (await ready.json())["checks"]["database"] == "down"
        assert (await _call(client.get("/health"))).status == 200
        if fault == "frozen":
            proxy.thaw()
        else:
            proxy.restore()
        # Connections broken by the fault are replaced; within a few tries every answer is right.
        for _ in range(20):
            ready = await _call(client.get("/ready"))
            if ready.status == 200:
                break
        assert ready.status == 200, await ready.text()
        for _ in range(20):
            resp = await _call(phone.call("GET", "/v1/me"))
            if resp.status == 200:
                break
            assert resp.status == 503
        assert resp.status == 200


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("fault", ["frozen", "killed"])
async def test_redis_fault_lets_requests_through_at_once(aiohttp_client, database, clock, fault: str, caplog) -> None:  # type: ignore[no-untyped-def]
    async with TcpProxy(6379) as proxy:
        settings = make_settings(database, redis_url=f"redis://{proxy.address}/0", redis_timeout=timedelta(seconds=0.2))
        client = await aiohttp_client(create_app(settings, clock=clock))
        phone = await new_resident(client, clock)
        assert (await _call(client.get("/ready"))).status == 200
        if fault == "frozen":
            proxy.freeze()
        else:
            await proxy.cut()
        for _ in range(20):
            assert (await _call(phone.call("GET", "/v1/me"))).status == 200
        down = [r for r in caplog.records if r.__dict__.get("event") == "ratelimit_down"]
        assert len(down) == 1  # once per outage, not per request
        ready = await _call(client.get("/ready"))
        assert ready.status == 503 and (await ready.json())["checks"]["redis"] == "down"
        if fault == "frozen":
            proxy.thaw()
        else:
            proxy.restore()
        for _ in range(20):
            ready = await _call(client.get("/ready"))
            if ready.status == 200:
                break
        assert ready.status == 200
        assert (await _call(phone.call("GET", "/v1/me"))).status == 200
