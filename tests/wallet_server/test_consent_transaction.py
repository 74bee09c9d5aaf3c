"""The consent a resident gives is written in one transaction of the wallet's database: the outbox's
consent record, the resident's consent row and the receipt fetch owed. A failure between the writes
leaves none of them, on a real SQLite file and on the real PostgreSQL."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.wallet_server._helpers import new_resident
from tests.wallet_server._resident_parties import StaticChainPort, parties
from tests.wallet_server.conftest import make_settings
from tests.wallet_server.test_resident_presentations import consents, credential_for, share
from vcsdk.errors import InvalidInputError, StorageError
from vcsdk.sql import PostgresConn, SqliteConn
from wallet_server import create_app
from wallet_server.appkeys import RESIDENT_CHAIN
from wallet_server.storage import ReceiptFetchRow, Resident, ResidentConsentRow, WalletDataStore, open_store
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


async def test_a_store_joins_only_a_transaction_of_its_own_dialect(store) -> None:  # type: ignore[no-untyped-def]
    """A connection of the other SQL dialect is refused before any statement runs on it."""
    assert isinstance(store, SqlStore)
    other = PostgresConn(None) if store.dialect == "sqlite" else SqliteConn(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="another database"):
        store.joined(other)
    with pytest.raises(InvalidInputError):
        WalletDataStore(store).joined(other)


async def test_a_joined_write_is_rolled_back_with_the_transaction(store) -> None:  # type: ignore[no-untyped-def]
    """The statements of a joined store run in the caller's transaction: kept on commit, gone on rollback."""
    assert isinstance(store, SqlStore)
    data = WalletDataStore(store)
    now = datetime.now(UTC)
    rid = f"res_{secrets.token_hex(6)}"
    await store.create_resident(Resident(rid, "active", now, "k1", b"w" * 40))
    row = ResidentConsentRow(f"cns_{secrets.token_hex(6)}", rid, "did:example:svc", "prs_x", now)
    with pytest.raises(StorageError):
        async with data.transaction() as conn:
            await data.joined(conn).add_consent(row)
            assert await store.joined(conn)._fetch(
                "SELECT 1 FROM resident_consents WHERE consent_id = ?", row.consent_id
            )
            raise StorageError("the database failed")
    assert not await store._fetch("SELECT 1 FROM resident_consents WHERE consent_id = ?", row.consent_id)
    kept = replace(row, consent_id=f"cns_{secrets.token_hex(6)}")
    async with data.transaction() as conn:
        await data.joined(conn).add_consent(kept)
    assert await store._fetch("SELECT 1 FROM resident_consents WHERE consent_id = ?", kept.consent_id)
