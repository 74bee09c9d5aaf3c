"""No signed receipt lost: the wallet records the receipt fetch before it asks the service, and asks
again (a GET of the receipt URI, the service's SDK desk keeping what it signed) after a lost answer,
a failing service, or a restart, until the receipt is stored once; a service that never answers
becomes a violation after the give-up time. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from tests.wallet_server._helpers import Phone, new_resident
from tests.wallet_server._resident_parties import StaticChainPort, b64sig, parties
from tests.wallet_server.conftest import make_settings
from tests.wallet_server.test_resident_presentations import credential_for, share
from vcsdk.receipts import peek_access_receipt
from wallet_server import create_app
from wallet_server.appkeys import PRESENTATIONS, RESIDENT_CHAIN, STORE
from wallet_server.storage import WalletDataStore


@pytest.fixture(autouse=True)
async def empty_outbox(database: tuple[str, str | None]) -> None:
    url, schema = database
    if schema is None:
        return
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        if await conn.fetchval("SELECT to_regclass('outbox_receipts')") is not None:
            await conn.execute("TRUNCATE outbox_receipts, outbox_batches, outbox_consents")
    finally:
        await conn.close()


def _app(database: Any, clock: Any) -> Any:
    app = create_app(make_settings(database, allow_loopback_http=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    return app


async def _outcome(phone: Phone, presentation_id: str) -> dict[str, Any]:
    shown = await (await phone.call("GET", f"/v1/presentations/{presentation_id}")).json()
    assert shown["state"] == "shared", shown
    outcome: dict[str, Any] = shown["outcome"]
    return outcome


async def _settled(client: Any, phone: Phone, presentation_id: str) -> dict[str, Any]:
    """Run the app's fetch rounds until the presentation's receipt is no longer pending."""
    for _ in range(50):
        await client.app[PRESENTATIONS].fetch_due_receipts()
        outcome = await _outcome(phone, presentation_id)
        if not outcome.get("receipt_pending"):
            return outcome
        await asyncio.sleep(0.05)
    raise AssertionError("the receipt stayed pending")


async def _receipt_ids(phone: Phone) -> list[str]:
    return [r["id"] for r in (await (await phone.call("GET", "/v1/receipts")).json())["items"]]


async def test_a_lost_answer_is_fetched_again_and_stored_once(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(_app(database, clock))
    phone = await new_resident(client, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        service.desk.receipt_behaviour = "lost_answer"  # signed and kept, but the answer is lost
        done = await share(phone, (await service.request()).deep_link)
        assert done["state"] == "shared"
        assert done["outcome"]["receipt_pending"] is True and "violation" not in done["outcome"]
        (signed,) = service.receipts
        job = await WalletDataStore(client.app[STORE]).get_receipt_fetch(done["id"])
        assert job is not None and job.state == "pending" and job.attempts == 1

        # Not before its backoff; then the same receipt, by a GET of the receipt URI.
        assert await client.app[PRESENTATIONS].fetch_due_receipts() == 0
        clock.advance(seconds=3)
        outcome = await _settled(client, phone, done["id"])
        receipt_id = peek_access_receipt(signed).receipt_id
        assert outcome["receipt_id"] == receipt_id and outcome["consent_id"] == done["outcome"]["consent_id"]
        assert service.desk.fetched_again == 1 and len(service.receipts) == 1
        assert await _receipt_ids(phone) == [receipt_id]
        # Confirmed: the service no longer keeps it.
        assert len(service.desk.confirmed) == 1 and await service.desk.sdk.store.get(service.desk.confirmed[0]) is None
        job = await WalletDataStore(client.app[STORE]).get_receipt_fetch(done["id"])
        assert job is not None and job.state == "done" and job.receipt_id == receipt_id


async def test_a_failing_service_is_retried_with_backoff_then_a_violation(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(_app(database, clock))
    phone = await new_resident(client, clock)
    data = WalletDataStore(client.app[STORE])
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        service.desk.receipt_behaviour = "down"
        done = await share(phone, (await service.request()).deep_link)
        assert done["outcome"]["receipt_pending"] is True
        pauses = []
        for _ in range(4):
            job = await data.get_receipt_fetch(done["id"])
            assert job is not None and job.state == "pending" and job.last_error == "temporarily_unavailable"
            pauses.append((job.next_at - clock()).total_seconds())
            clock.advance(seconds=pauses[-1])
            assert await client.app[PRESENTATIONS].fetch_due_receipts() in (0, 1)  # the app's own loop may be first
        assert pauses == [2, 4, 8, 16]  # doubling, from the first attempt
        assert (await _outcome(phone, done["id"]))["receipt_pending"] is True

        clock.advance(days=3)  # the give-up time: the service broke its promise
        await phone.login()  # the phone's access token expired meanwhile
        outcome = await _settled(client, phone, done["id"])
        assert outcome["violation"] == "receipt_missing" and outcome["receipt_error"] == "temporarily_unavailable"
        violations = (await (await phone.call("GET", "/v1/violations")).json())["items"]
        assert [(v["kind"], v["ref_id"]) for v in violations] == [("receipt_missing", done["id"])]
        assert await _receipt_ids(phone) == []


async def test_a_restarted_wallet_finishes_an_owed_fetch(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    first = await aiohttp_client(_app(database, clock))
    phone = await new_resident(first, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        service.desk.receipt_behaviour = "lost_answer"
        done = await share(phone, (await service.request()).deep_link)
        assert done["outcome"]["receipt_pending"] is True
        await first.close()  # the server stops with the fetch owed

        clock.advance(minutes=5)
        second = await aiohttp_client(_app(database, clock))
        phone = replace(phone, client=second)
        await phone.login()
        outcome = await _settled(second, phone, done["id"])
        (signed,) = service.receipts
        assert outcome["receipt_id"] == peek_access_receipt(signed).receipt_id
        assert await _receipt_ids(phone) == [outcome["receipt_id"]]


async def test_the_same_signatures_again_finish_an_owed_fetch(aiohttp_client, database, clock) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(_app(database, clock))
    phone = await new_resident(client, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        service.desk.receipt_behaviour = "lost_answer"
        link = (await service.request()).deep_link
        screen = await (await phone.call("POST", "/v1/presentations", json={"request_uri": link})).json()
        consent = await (await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", json={})).json()
        body = {
            "signatures": [
                {"query_id": s["query_id"], "signature": b64sig(phone.key, s["signing_input"])}
                for s in consent["signing_inputs"]
            ]
        }
        first = await (await phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json=body)).json()
        assert first["outcome"]["receipt_pending"] is True
        # The app, not having seen the answer, sends the same signatures again: no second send, and
        # the receipt the service kept is fetched now.
        again = await phone.call("POST", f"/v1/presentations/{screen['id']}/signature", json=body)
        assert again.status == 200
        outcome = (await again.json())["outcome"]
        assert "receipt_id" in outcome and len(service.results) == 1 and len(service.receipts) == 1
