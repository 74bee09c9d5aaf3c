"""Faults, through a TCP proxy on loopback in front of the real PostgreSQL and Redis.

For each fault: no request waits longer than its timeout (it gets an answer: 503 for the
database, the request itself for Redis, which rate limiting may skip), /ready turns red with the
dependency and green again after it, and the API works again afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from tests._proxy import TcpProxy
from tests.wallet_server._helpers import new_resident
from tests.wallet_server._resident_parties import StaticChainPort, b64sig, parties
from tests.wallet_server.conftest import PG_DSN, make_settings
from tests.wallet_server.test_resident_presentations import credential_for, start
from vcsdk.errors import StorageError
from vcsdk.outbox import AccessReceiptRegistry
from vcsdk.receipts import peek_access_receipt
from vcsdk.registry import Chain
from wallet_server import create_app
from wallet_server.appkeys import PRESENTATIONS, RECEIPTS, RESIDENT_CHAIN

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


@pytest.mark.parametrize("backend", ["postgres"])
async def test_database_killed_between_sign_and_store_loses_no_receipt(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    """The service signs the receipt, then the wallet's database goes away before the wallet stores
    it: the fetch recorded before asking is retried once the database is back, the service hands
    out the same receipt, and it is stored and anchored exactly once."""
    async with TcpProxy(urlsplit(PG_DSN).port or 5432) as proxy, Chain.embedded() as chain:
        registry = await AccessReceiptRegistry.deploy(chain, sender=chain.dev_keys[0])
        settings = make_settings(
            (_through(proxy), database[1]),
            allow_loopback_http=True,
            database_timeout=timedelta(seconds=1),
            database_pool_timeout=timedelta(seconds=0.5),
            receipt_batch_size=1,
            receipt_confirmations=1,
            receipt_anchor_interval=timedelta(hours=1),
        )
        app = create_app(settings, clock=clock)
        app[RESIDENT_CHAIN] = StaticChainPort(registry=registry)
        client = await aiohttp_client(app)
        phone = await new_resident(client, clock)
        store = app[RECEIPTS].store
        async with parties(clock) as (issuer, service):
            await credential_for(phone, issuer)

            async def cut_storage(token: str) -> None:
                await proxy.cut()

            service.desk.after_sign = cut_storage
            screen = await (await start(phone, (await service.request()).deep_link)).json()
            consent = await (await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", json={})).json()
            body = {
                "signatures": [
                    {"query_id": s["query_id"], "signature": b64sig(phone.key, s["signing_input"])}
                    for s in consent["signing_inputs"]
                ]
            }
            resp = await _call(phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json=body))
            assert resp.status == 503, await resp.text()  # the database is gone: said so, within bounds
            (signed,) = service.receipts
            receipt_id = peek_access_receipt(signed).receipt_id
            service.desk.after_sign = None
            proxy.restore()

            # The app's retries (its loop, or the same signatures sent again) store the receipt once.
            clock.advance(seconds=5)
            outcome: dict = {}
            for _ in range(100):
                with contextlib.suppress(StorageError):
                    await app[PRESENTATIONS].fetch_due_receipts()
                resp = await _call(phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json=body))
                if resp.status == 200:
                    outcome = (await resp.json())["outcome"]
                    if "receipt_id" in outcome:
                        break
                await asyncio.sleep(0.1)
            assert outcome.get("receipt_id") == receipt_id, outcome
            assert len(service.receipts) == 1 and len(service.results) == 1
            listing = (await (await phone.call("GET", "/v1/receipts")).json())["items"]
            assert [r["id"] for r in listing] == [receipt_id]

            # Anchored exactly once.
            for _ in range(5):
                await app[RECEIPTS].tick()
                await chain.mine(1)
            stored = await store.get_receipt(receipt_id)
            assert stored.batch_id is not None and (await store.get_batch(stored.batch_id)).state == "final"
            topic = registry.contract.event_topic("BatchAnchored")
            logs = await chain.get_logs(address=registry.address, topics=[topic, stored.batch_id])
            assert len(logs) == 1
