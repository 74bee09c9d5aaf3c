"""The back office's storage on real SQLite and real PostgreSQL: protocol state (the oid4vc
StateStore contract), offers, status lists under their row lock, issued-credential metadata."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.oid4vc.test_state_store import check_state_store_contract
from vcsdk.errors import ConflictError, NotFoundError
from wallet_server.services import LocalKeyProvider
from wallet_server.services.protocol_state import DatabaseStateStore
from wallet_server.storage import IssuedCredential, Offer, PostgresStore, Resident, StatusListRecord, Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEYS = LocalKeyProvider({"k1": b"\x01" * 32}, current="k1")


async def _resident(store: Store, rid: str = "res_1") -> str:
    await store.create_resident(Resident(rid, "active", NOW, "k1", b"w" * 40))
    return rid


async def test_state_store_contract(store: Store) -> None:
    await check_state_store_contract(DatabaseStateStore(store, keys=KEYS))


async def test_state_is_sealed_and_keys_hashed(store: Store) -> None:
    state = DatabaseStateStore(store, keys=KEYS)
    await state.put("vci_code", "secret-code", {"claims": {"given_name": "Hanako"}}, expires_at=NOW + timedelta(1))
    async with store._conn() as conn:  # type: ignore[attr-defined]
        rows = await conn.fetch("SELECT key_hash, sealed FROM protocol_state")
    assert rows and b"Hanako" not in bytes(rows[0][1]) and "secret-code" not in rows[0][0]
    # A sealed value moved to another key does not open.
    other = DatabaseStateStore(store, keys=LocalKeyProvider({"k1": b"\x02" * 32}, current="k1"))
    with pytest.raises(Exception):  # noqa: B017 - StorageError from the AES-GCM tag check
        await other.get("vci_code", "secret-code", now=NOW)


async def test_take_is_single_use_under_concurrency(store: Store) -> None:
    state = DatabaseStateStore(store, keys=KEYS)
    await state.put("vci_code", "c", {"v": 1}, expires_at=NOW + timedelta(minutes=5))
    results = await asyncio.gather(*(state.take("vci_code", "c", now=NOW) for _ in range(8)))
    assert [r for r in results if r is not None] == [{"v": 1}]
    assert await store.purge_expired(now=NOW + timedelta(days=2)) >= 0


def _list(list_id: int = 1) -> StatusListRecord:
    return StatusListRecord(id=list_id, uri=f"https://wallet.test/status/{list_id}", state={"n": 0}, size=16,
                            allocated=0, version=0, created_at=NOW)


async def test_status_list_updates_are_serialised(store: Store) -> None:
    await store.create_status_list(_list())
    with pytest.raises(ConflictError):
        await store.create_status_list(_list())

    def bump(record: StatusListRecord) -> tuple[StatusListRecord, int]:
        n = int(record.state["n"]) + 1  # type: ignore[call-overload]
        return StatusListRecord(**{**_fields(record), "state": {"n": n}, "allocated": n}), n

    got = await asyncio.gather(*(store.update_status_list(1, bump) for _ in range(10)))
    assert sorted(got) == list(range(1, 11))
    assert (await store.get_status_list(1)).allocated == 10
    with pytest.raises(NotFoundError):
        await store.update_status_list(99, bump)
    assert await store.published_status_list(1) is None


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # two pools on one database server
async def test_status_list_lock_across_two_instances(backend: str, database) -> None:  # type: ignore[no-untyped-def]
    url, schema = database
    a = await PostgresStore.open(url, schema=schema, max_size=4)
    b = await PostgresStore.open(url, schema=schema, max_size=4)
    try:
        await a.create_status_list(_list(7))

        def bump(record: StatusListRecord) -> tuple[StatusListRecord, int]:
            n = int(record.state["n"]) + 1  # type: ignore[call-overload]
            return StatusListRecord(**{**_fields(record), "state": {"n": n}}), n

        got = await asyncio.gather(*(s.update_status_list(7, bump) for s in (a, b) * 10))
        assert sorted(got) == list(range(1, 21))
    finally:
        await a.close()
        await b.close()


def _fields(record: StatusListRecord) -> dict[str, object]:
    return {f: getattr(record, f) for f in StatusListRecord.__dataclass_fields__}


async def test_offers_and_issued_credentials(store: Store) -> None:
    rid = await _resident(store)
    offer = Offer("off_1", rid, "ResidentIdentityCredential", "openid-credential-offer://?x", "{}", "iss",
                  NOW, NOW + timedelta(hours=1), "pending", NOW)
    await store.add_offer(offer)
    assert await store.get_offer("off_1") == offer
    page = await store.list_offers(rid, limit=10)
    assert page.items == (offer,) and page.next_after is None
    # The resident's side reads and moves the same row, scoped to the resident.
    with pytest.raises(NotFoundError):
        await store.get_offer("off_1", resident_id="res_other")
    assert not await store.set_offer_state("off_1", "accepting", now=NOW, resident_id="res_other", flow=b"f")
    assert await store.set_offer_state("off_1", "accepting", now=NOW, resident_id=rid, flow=b"sealed")
    accepting = await store.get_offer("off_1", resident_id=rid)
    assert (accepting.state, accepting.flow, accepting.credential_id) == ("accepting", b"sealed", None)
    assert b"sealed" not in repr(accepting).encode()
    assert not await store.set_offer_state("off_1", "redeemed", now=NOW)  # expected "pending": it moved on
    assert await store.set_offer_state(
        "off_1", "redeemed", now=NOW, expected=("pending", "accepting"), resident_id=rid, credential_id="cred_x"
    )
    redeemed = await store.get_offer("off_1")
    assert (redeemed.state, redeemed.flow, redeemed.credential_id) == ("redeemed", None, "cred_x")
    assert not await store.set_offer_state("off_1", "redeemed", now=NOW)
    await store.create_status_list(_list())
    for i in range(3):
        await store.add_issued_credential(IssuedCredential(
            f"cred_{i}", "off_1", rid, "ResidentIdentityCredential", "urn:vct", 1, i, NOW + timedelta(seconds=i),
            None, "valid", NOW))
    first = await store.list_issued_credentials(limit=2)
    assert [c.id for c in first.items] == ["cred_0", "cred_1"] and first.next_after is not None
    rest = await store.list_issued_credentials(limit=2, after=first.next_after, resident_id=rid)
    assert [c.id for c in rest.items] == ["cred_2"] and rest.next_after is None
    assert (await store.list_issued_credentials(limit=5, resident_id="res_other")).items == ()
    seen: list[list[int]] = []

    def mark(record: StatusListRecord, indices: list[int]) -> StatusListRecord:
        seen.append(sorted(indices))
        return StatusListRecord(**{**_fields(record), "version": record.version + 1})

    ids = [c.id for c in await store.issued_credentials_of_offer("off_1")]
    changed = await store.set_credentials_state(ids, "revoked", now=NOW, mutate=mark)
    assert {c.state for c in changed} == {"revoked"} and seen == [[0, 1, 2]]
    assert (await store.get_issued_credential("cred_1")).state == "revoked"
    assert (await store.get_status_list(1)).version == 1
    with pytest.raises(NotFoundError):
        await store.set_credentials_state(["cred_nope"], "revoked", now=NOW, mutate=mark)
    with pytest.raises(NotFoundError):
        await store.get_offer("off_nope")
