"""Bounded waits: PostgreSQL statement and pool timeouts, the Redis circuit breaker, /ready and /metrics.

Dependencies that do not answer are real: a closed loopback port, a PostgreSQL statement that
sleeps longer than the timeout, a pool whose only connection is taken. The TCP-proxy fault suite
(frozen and killed dependencies, several instances) is tests/wallet_server/test_faults.py.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest

from tests._net import free_port
from tests._proxy import TcpProxy
from tests.wallet_server._helpers import new_resident
from tests.wallet_server.conftest import PG_DSN, make_settings
from vcsdk._sql import PgTimeouts, open_pg_pool, pg_connection
from vcsdk.errors import InvalidInputError, StorageError
from wallet_server import create_app
from wallet_server.appkeys import RECEIPTS
from wallet_server.ratelimit import CircuitBreaker, RateLimit, RedisRateLimiter, redis_client


class Ticks:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_breaker_opens_then_lets_one_call_try_after_the_cooldown(caplog: pytest.LogCaptureFixture) -> None:
    ticks = Ticks()
    breaker = CircuitBreaker("redis", event="ratelimit", cooldown=5.0, clock=ticks)
    assert breaker.allow()
    breaker.failure(ConnectionError())
    assert breaker.is_open and not breaker.allow()
    ticks.t += 5.0
    assert breaker.allow()  # one trial call …
    assert not breaker.allow()  # … and only one while it runs
    breaker.failure(TimeoutError())
    assert not breaker.allow()
    ticks.t += 5.0
    assert breaker.allow()
    breaker.success()
    assert not breaker.is_open and breaker.allow()
    events = [r.__dict__.get("event") for r in caplog.records]
    # One line when the outage starts, one when it ends: never one per failed call.
    assert events.count("ratelimit_down") == 1 and events.count("ratelimit_up") == 1
    assert breaker.failures == 2


async def test_redis_down_costs_one_failed_call_then_none(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    class CountingClient:
        """A Redis client whose every call fails, as a frozen Redis does after its socket timeout."""

        def register_script(self, script: str):  # type: ignore[no-untyped-def]
            async def run(**kwargs):  # type: ignore[no-untyped-def]
                nonlocal calls
                calls += 1
                raise TimeoutError("Timeout reading from socket")

            return run

        async def aclose(self) -> None:
            return None

    limiter = RedisRateLimiter(CountingClient(), RateLimit(rate=1, burst=1), prefix="x")
    assert [await limiter.acquire("ip") for _ in range(50)] == [None] * 50  # fails open
    assert calls == 1  # the breaker is open: the other 49 never waited for Redis
    assert [r.__dict__.get("event") for r in caplog.records].count("ratelimit_down") == 1


async def test_redis_client_has_bounded_calls() -> None:
    # Port 1 on loopback: refused at once; a frozen Redis is bounded by the socket timeout.
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0", timeout=0.25)
    try:
        with pytest.raises(Exception) as info:
            await client.ping()
        assert "Connection" in type(info.value).__name__ or isinstance(info.value, OSError)
        assert client.connection_pool.connection_kwargs["socket_timeout"] == 0.25
    finally:
        await client.aclose()


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(InvalidInputError):
        PgTimeouts(statement=0)


async def test_a_statement_past_its_timeout_is_a_storage_error() -> None:
    pool = await open_pg_pool(PG_DSN, max_size=1, timeouts=PgTimeouts(statement=0.2, acquire=0.2, connect=2.0))
    try:
        with pytest.raises(StorageError):
            async with pg_connection(pool, acquire_timeout=0.2) as conn:
                await conn.fetch("SELECT pg_sleep(3)")
        # The pool is usable again afterwards.
        async with pg_connection(pool, acquire_timeout=0.2) as conn:
            assert (await conn.fetch("SELECT 1"))[0][0] == 1
    finally:
        await pool.close()


async def test_waiting_for_a_busy_pool_is_bounded() -> None:
    pool = await open_pg_pool(PG_DSN, max_size=1, timeouts=PgTimeouts(statement=2.0, acquire=0.1, connect=2.0))
    try:
        async with pg_connection(pool, acquire_timeout=0.1):
            with pytest.raises(StorageError):
                async with pg_connection(pool, acquire_timeout=0.1):
                    pass
    finally:
        await pool.close()


async def test_ready_is_green_with_its_dependencies(client) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get("/ready")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body == {"status": "ready", "checks": {"database": "ok", "redis": "not_configured", "chain": "ok"}}


async def test_ready_is_red_when_redis_or_the_chain_is_down(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        database, redis_url=f"redis://127.0.0.1:{free_port()}/0", rpc_url=f"http://127.0.0.1:{free_port()}"
    )
    client = await aiohttp_client(create_app(settings, clock=clock))
    resp = await client.get("/ready")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "not_ready"
    assert body["checks"] == {"database": "ok", "redis": "down", "chain": "down"}
    # Liveness stays green: the process itself is fine.
    assert (await client.get("/health")).status == 200


async def test_ready_follows_redis_down_and_back(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    async with TcpProxy(6379) as redis:
        settings = make_settings(database, redis_url=f"redis://{redis.address}/0")
        client = await aiohttp_client(create_app(settings, clock=clock))
        assert await _turns_ready(client), "ready never turned green with Redis up"
        redis.freeze()  # Redis hangs: the check times out, the answer does not
        body = await (await client.get("/ready")).json()
        assert body["checks"]["redis"] == "down"
        redis.thaw()
        await redis.cut()  # Redis is gone
        assert (await client.get("/ready")).status == 503
        redis.restore()
        assert await _turns_ready(client), "ready did not turn green again once Redis was back"


async def _turns_ready(client, *, within: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll /ready as a load balancer does until it answers 200 (bounded): a first connection to
    Redis through the proxy can outlast the 250 ms Redis check on a loaded machine."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        if (await client.get("/ready")).status == 200:
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)


async def test_metrics_show_latency_by_route_template_and_the_outbox(client, clock) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(client, clock)
    credential_id = secrets.token_hex(4)
    resp = await phone.call("GET", f"/v1/credentials/cred_{credential_id}")
    assert resp.status == 404
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    labels = 'method="GET",route="/v1/credentials/{credential_id}",status="404"'
    assert f"wallet_request_duration_seconds_count{{{labels}}} 1.0" in text
    assert credential_id not in text  # templates, never paths
    # The outbox figures come from the database (shared by the tests of one session on PostgreSQL).
    queued, open_batches, _ = await client.app[RECEIPTS].outbox_figures()
    assert f"wallet_outbox_queued_receipts {float(queued)}" in text
    assert f"wallet_outbox_open_batches {float(open_batches)}" in text
    assert "\nwallet_anchoring_lag_seconds " in text


@pytest.mark.parametrize("backend", ["postgres"])  # a closed pool stands for a server gone; SQLite is a file
async def test_metrics_count_a_database_failure(client, clock) -> None:  # type: ignore[no-untyped-def]
    from wallet_server.appkeys import STORE

    phone = await new_resident(client, clock)
    await client.app[STORE].close()  # the database goes away under the running app
    resp = await phone.call("GET", "/v1/me")
    assert resp.status == 503
    assert resp.headers["Retry-After"]
    text = await (await client.get("/metrics")).text()
    assert 'wallet_dependency_errors_total{dependency="database"} 1.0' in text
    ready = await client.get("/ready")
    assert ready.status == 503 and (await ready.json())["checks"]["database"] == "down"
