"""A presentation whose send to the service was interrupted (the server stopped) is recoverable and visible.

The crash is simulated by writing the ``sending`` state through the store, as a server that stopped
mid-send leaves it; then a new app starts on the same database (SQLite and PostgreSQL).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.wallet_server._helpers import Phone, new_resident
from tests.wallet_server._resident_parties import StaticChainPort, b64sig, parties
from tests.wallet_server.conftest import make_settings
from tests.wallet_server.test_resident_presentations import credential_for, start
from wallet_server import create_app
from wallet_server.appkeys import PRESENTATIONS, RESIDENT_CHAIN, STORE
from wallet_server.services.auth import Principal
from wallet_server.storage import PresentationState, WalletDataStore


def _app(database: Any, clock: Any) -> Any:
    app = create_app(make_settings(database, allow_loopback_http=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    return app


async def _signature_required(phone: Phone, service: Any) -> tuple[str, list[dict[str, Any]]]:
    screen = await (await start(phone, (await service.request()).deep_link)).json()
    consent = await (await phone.call("POST", f"/v1/presentations/{screen['id']}/consent", json={})).json()
    assert consent["state"] == "signature_required", consent
    signatures = [
        {"query_id": s["query_id"], "signature": b64sig(phone.key, s["signing_input"])}
        for s in consent["signing_inputs"]
    ]
    return screen["id"], signatures


async def _crash_while_sending(client: Any, phone: Phone, presentation_id: str, *, previous: str) -> None:
    """What a server that stopped mid-send leaves behind: the row in ``sending``."""
    data = WalletDataStore(client.app[STORE])
    row = await data.get_presentation(phone.resident_id, presentation_id)
    assert row.state == previous
    await data.update_presentation(
        phone.resident_id, presentation_id, expect_state=row.state, state="sending", body=row.body,
        now=phone.clock(),
    )


async def _stored_state(client: Any, phone: Phone, presentation_id: str) -> PresentationState:
    row = await WalletDataStore(client.app[STORE]).get_presentation(phone.resident_id, presentation_id)
    return row.state


async def test_a_new_app_marks_an_interrupted_send_unknown_and_never_resends_it(
    aiohttp_client: Any, database: Any, clock: Any
) -> None:
    first = await aiohttp_client(_app(database, clock))
    phone = await new_resident(first, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        presentation_id, signatures = await _signature_required(phone, service)
        await _crash_while_sending(first, phone, presentation_id, previous="signature_required")

        clock.advance(minutes=3)
        second = await aiohttp_client(_app(database, clock))
        # The start-up itself settled it, before anyone read it.
        assert await _stored_state(second, phone, presentation_id) == "unknown"

        phone = replace(phone, client=second)
        resp = await phone.call("GET", f"/v1/presentations/{presentation_id}")
        assert resp.status == 200, await resp.text()
        shown = await resp.json()
        assert shown["state"] == "unknown" and shown["outcome"] == {"error": "delivery_unknown"}
        assert shown["signing_inputs"] == []
        history = await (await phone.call("GET", "/v1/history/presentations")).json()
        assert [(p["id"], p["state"]) for p in history["items"]] == [(presentation_id, "unknown")]

        # Single use: it is never sent again, neither by the server nor on the app's request.
        again = await phone.call(
            "POST", f"/v1/presentations/{presentation_id}/signature", json={"signatures": signatures}
        )
        assert again.status == 409
        declined = await phone.call("POST", f"/v1/presentations/{presentation_id}/decline")
        assert declined.status == 409
        assert service.results == []

        # The resident starts again from the service's request; that one is shared normally.
        fresh_id, fresh_signatures = await _signature_required(phone, service)
        done = await phone.call(
            "POST", f"/v1/presentations/{fresh_id}/signature", json={"signatures": fresh_signatures}
        )
        assert (await done.json())["state"] == "shared"
        assert len(service.results) == 1


async def test_a_recent_send_is_left_alone_at_start_and_settled_when_read_later(
    aiohttp_client: Any, database: Any, clock: Any
) -> None:
    first = await aiohttp_client(_app(database, clock))
    phone = await new_resident(first, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        presentation_id, _ = await _signature_required(phone, service)
        await _crash_while_sending(first, phone, presentation_id, previous="signature_required")

        # Another instance may still be sending it: a start-up within the timeout does not touch it.
        clock.advance(seconds=30)
        second = await aiohttp_client(_app(database, clock))
        assert await _stored_state(second, phone, presentation_id) == "sending"
        phone = replace(phone, client=second)
        shown = await (await phone.call("GET", f"/v1/presentations/{presentation_id}")).json()
        assert shown["state"] == "sending"

        # Past the timeout, reading it settles it (no restart needed).
        clock.advance(minutes=2)
        shown = await (await phone.call("GET", f"/v1/presentations/{presentation_id}")).json()
        assert shown["state"] == "unknown" and shown["outcome"]["error"] == "delivery_unknown"
        assert await _stored_state(second, phone, presentation_id) == "unknown"
        assert service.results == []


async def test_an_interrupted_decline_shows_as_declined(aiohttp_client: Any, database: Any, clock: Any) -> None:
    first = await aiohttp_client(_app(database, clock))
    phone = await new_resident(first, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        screen = await (await start(phone, (await service.request()).deep_link)).json()
        # decline() marks the refusal in the sealed body as it moves to sending; stop right there.
        presentations = first.app[PRESENTATIONS]
        principal = Principal(resident_id=phone.resident_id, device_id=phone.device_id, jkt=phone.key.thumbprint())
        row, body = await presentations._load(principal, screen["id"])
        marked = await presentations._vault.seal_json(
            phone.resident_id, {**body, "sending": "decline"}, kind="presentation", row_id=row.id
        )
        await WalletDataStore(first.app[STORE]).update_presentation(
            phone.resident_id, row.id, expect_state="consent_required", state="sending", body=marked, now=clock()
        )

        clock.advance(minutes=3)
        second = await aiohttp_client(_app(database, clock))
        phone = replace(phone, client=second)
        shown = await (await phone.call("GET", f"/v1/presentations/{screen['id']}")).json()
        assert shown["state"] == "declined" and shown["outcome"] == {"error": "access_denied"}


async def test_openapi_lists_the_unknown_state(aiohttp_client: Any, database: Any, clock: Any) -> None:
    client = await aiohttp_client(_app(database, clock))
    spec = await (await client.get("/openapi.json")).json()
    states = spec["components"]["schemas"]["Presentation"]["properties"]["state"]["enum"]
    assert "unknown" in states and "sending" in states
