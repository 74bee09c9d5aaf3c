"""The consent a resident gives is written in one transaction of the wallet's database: the outbox's
consent record, the resident's consent row and the receipt fetch owed. A failure between the writes
leaves none of them, on a real SQLite file and on the real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.wallet_server._helpers import new_resident
from tests.wallet_server._resident_parties import StaticChainPort, parties
from tests.wallet_server.conftest import make_settings
from tests.wallet_server.test_resident_presentations import consents, credential_for, share
from vcsdk.errors import StorageError
from wallet_server import create_app
from wallet_server.appkeys import RESIDENT_CHAIN
from wallet_server.storage import ReceiptFetchRow, ResidentConsentRow, WalletDataStore, open_store
from wallet_server.storage._sql import SqlStore


@pytest.fixture
async def wallet(aiohttp_client, database, clock):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(database, allow_loopback_http=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    return await aiohttp_client(app)


async def _written(database: tuple[str, str | None], consent_id: str, presentation_id: str) -> dict[str, bool]:
    """Which of the three writes a new connection sees (committed), by table."""
    url, schema = database
    store = await open_store(url, schema=schema)
    assert isinstance(store, SqlStore)
    try:
        return {
            "outbox_consents": bool(
                await store._fetch("SELECT 1 FROM outbox_consents WHERE record_id = ?", consent_id)
            ),
            "resident_consents": bool(
                await store._fetch("SELECT 1 FROM resident_consents WHERE consent_id = ?", consent_id)
            ),
            "receipt_fetches": bool(
                await store._fetch("SELECT 1 FROM receipt_fetches WHERE presentation_id = ?", presentation_id)
            ),
        }
    finally:
        await store.close()


async def test_the_normal_path_writes_the_consent_everywhere_and_the_fetch(wallet, clock, database) -> None:
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        shared = await share(phone, (await service.request()).deep_link)
    outcome = shared["outcome"]
    assert shared["state"] == "shared" and "receipt_id" in outcome, outcome
    assert await _written(database, outcome["consent_id"], shared["id"]) == {
        "outbox_consents": True, "resident_consents": True, "receipt_fetches": True,
    }
    assert [c["id"] for c in await consents(phone)] == [outcome["consent_id"]]


@pytest.mark.parametrize("failing", ["add_consent", "add_receipt_fetch"])
async def test_a_failure_between_the_writes_leaves_none_of_them(
    wallet, clock, database, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """The outbox's consent is written first; the database then fails before the resident's consent
    row (``add_consent``) or before the receipt fetch (``add_receipt_fetch``): nothing is kept."""
    attempted: list[ResidentConsentRow | ReceiptFetchRow] = []

    async def fail(self: WalletDataStore, row: Any) -> None:
        attempted.append(row)
        raise StorageError("the database failed")

    monkeypatch.setattr(WalletDataStore, failing, fail)
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        shared = await share(phone, (await service.request()).deep_link)
    # The service has the data, and the resident sees that the consent could not be recorded.
    assert shared["state"] == "shared" and shared["outcome"] == {"consent_error": "storage_error"}
    (row,) = attempted
    assert await _written(database, row.consent_id, shared["id"]) == {
        "outbox_consents": False, "resident_consents": False, "receipt_fetches": False,
    }
    assert await consents(phone) == []
