"""The anchoring task: receipts a service returned are cut into Merkle batches, anchored on the
embedded chain, and come back final with a proof the chain confirms; chain failures only delay it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from tests.wallet_server._helpers import new_resident
from tests.wallet_server._resident_parties import StaticChainPort, parties
from tests.wallet_server.conftest import make_settings
from tests.wallet_server.test_resident_presentations import credential_for, share
from vcsdk._sql import PgTimeouts
from vcsdk.errors import ChainUnavailableError
from vcsdk.outbox import AccessReceiptRegistry, AnchorLocation, ReceiptEntry
from vcsdk.registry import Chain
from wallet_server import create_app
from wallet_server.appkeys import ANCHORER, RECEIPTS, RESIDENT_CHAIN, STORE
from wallet_server.services.lease import AdvisoryLock, JobHolder, Lease


class StopWhenAnchored:
    """The real registry, plus: set ``stop`` once the chain shows the anchor (the round still completes)."""

    def __init__(self, registry: AccessReceiptRegistry, stop: asyncio.Event, *, failures: int = 0) -> None:
        self._registry = registry
        self._stop = stop
        self.failures = failures
        self.sends = 0

    async def send_anchor(self, batch_id: bytes, root: bytes, size: int) -> str:
        if self.failures:
            self.failures -= 1
            raise ChainUnavailableError("the node does not answer")
        self.sends += 1
        return await self._registry.send_anchor(batch_id, root, size)

    async def find_anchor(self, batch_id: bytes) -> AnchorLocation | None:
        found = await self._registry.find_anchor(batch_id)
        if found is not None:
            self._stop.set()
        return found

    async def root_of(self, batch_id: bytes) -> bytes | None:
        return await self._registry.root_of(batch_id)

    async def block_number(self) -> int:
        return await self._registry.block_number()

    async def confirmations_of(self, block_number: int, *, wanted: int) -> int:
        return await self._registry.confirmations_of(block_number, wanted=wanted)

    async def tx_pending(self, tx_hash: str) -> bool:
        return await self._registry.tx_pending(tx_hash)


@pytest.fixture(autouse=True)
async def empty_outbox(database: tuple[str, str | None]) -> None:
    """The receipt outbox's tables are not among the wallet tables the shared fixture empties: on
    PostgreSQL (one schema per session) start these tests with no receipts left by earlier ones."""
    url, schema = database
    if schema is None:
        return
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        if await conn.fetchval("SELECT to_regclass('outbox_receipts')") is not None:
            await conn.execute("TRUNCATE outbox_receipts, outbox_batches, outbox_consents")
    finally:
        await conn.close()


def _other_instance(app: Any, database: tuple[str, str | None], clock: Any) -> JobHolder:
    """What another instance on the same database would use to decide who anchors."""
    url, schema = database
    if schema is None:
        return Lease(app[STORE], "receipt-anchorer", ttl=timedelta(minutes=1), clock=clock)
    return AdvisoryLock(url, schema=schema, name="receipt-anchorer", timeouts=PgTimeouts())


@pytest.fixture
async def chain() -> Any:
    async with Chain.embedded() as running:
        yield running


@pytest.mark.parametrize("failures", [0, 2], ids=["chain-up", "chain-down-twice"])
async def test_batcher_anchors_receipts_and_proofs_verify(aiohttp_client, database, clock, chain, failures) -> None:
    registry = await AccessReceiptRegistry.deploy(chain, sender=chain.dev_keys[0])
    stop = asyncio.Event()
    anchoring = StopWhenAnchored(registry, stop, failures=failures)
    settings = make_settings(
        database, allow_loopback_http=True, receipt_batch_size=2, receipt_confirmations=1,
        receipt_anchor_interval=timedelta(hours=1),
    )
    app = create_app(settings, clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort(registry=anchoring)
    wallet = await aiohttp_client(app)
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, service):
        await credential_for(phone, issuer)
        first = await share(phone, (await service.request()).deep_link)
        second = await share(phone, (await service.request()).deep_link)
    ids = sorted([first["outcome"]["receipt_id"], second["outcome"]["receipt_id"]])
    listing = (await (await phone.call("GET", "/v1/receipts")).json())["items"]
    assert sorted(r["id"] for r in listing) == ids and {r["state"] for r in listing} == {"queued"}
    # By cursor, a page at a time: each receipt once, in access order, and the last page says so.
    first_page = await (await phone.call("GET", "/v1/receipts?limit=1")).json()
    assert len(first_page["items"]) == 1 and first_page["next_cursor"]
    second_page = await (await phone.call("GET", f"/v1/receipts?limit=1&cursor={first_page['next_cursor']}")).json()
    assert [i["id"] for i in first_page["items"] + second_page["items"]] == [r["id"] for r in listing]
    assert second_page["next_cursor"] is None
    assert (await phone.call("GET", "/v1/receipts?cursor=bogus")).status == 400

    # The app's own batcher (its first round ran at start, the next is an hour away) holds the
    # anchorer's lock (PostgreSQL) or lease (SQLite): another instance does not anchor while it does.
    assert app[ANCHORER].held
    lease = _other_instance(app, database, clock)
    refused = asyncio.Event()
    hold = lease.hold

    async def hold_then_stop() -> bool:
        held = await hold()
        await asyncio.sleep(0.5)  # time enough for a free lock to be taken
        refused.set()  # one round is enough to see it
        return held

    lease.hold = hold_then_stop  # type: ignore[method-assign]
    await asyncio.wait_for(app[RECEIPTS].run_batcher(interval=0, stop=refused, lease=lease), timeout=60)
    assert anchoring.sends == 0 and not lease.held
    if isinstance(app[ANCHORER], AdvisoryLock):
        await app[ANCHORER].release()  # the holder's session ends: the lock is free at once
    else:
        clock.advance(hours=3)  # the holder stopped renewing: the other instance takes over
    await phone.login()  # the phone's access token may have expired meanwhile

    # the app's anchoring loop, run until the chain shows the batch (bounded by the stop event)
    lease = _other_instance(app, database, clock)
    await asyncio.wait_for(app[RECEIPTS].run_batcher(interval=0, stop=stop, lease=lease), timeout=60)
    assert anchoring.sends == 1 and anchoring.failures == 0  # outages only delayed it; one batch of two

    roots = set()
    for receipt_id in ids:
        one = await (await phone.call("GET", f"/v1/receipts/{receipt_id}")).json()
        assert one["state"] == "final" and one["proof_verified"] is True and one["entry"]["tx_hash"]
        _, _, proof = ReceiptEntry.proof_material(one["entry"])
        assert "0x" + (await registry.root_of(proof.batch_id) or b"").hex() == one["entry"]["root"]
        roots.add(one["entry"]["root"])
    assert len(roots) == 1  # one batch, one transaction
    # The list says what the single reads say: both final receipts' proofs hold on chain now.
    listing = (await (await phone.call("GET", "/v1/receipts")).json())["items"]
    assert [(r["state"], r["proof_verified"]) for r in listing] == [("final", True), ("final", True)]


async def test_nothing_queued_never_opens_the_chain(aiohttp_client, database, clock) -> None:
    class Untouchable:
        async def resolver(self) -> Any:
            raise AssertionError("no chain access expected")

        async def receipt_registry(self) -> Any:
            raise AssertionError("no chain access expected")

    app = create_app(make_settings(database), clock=clock)
    app[RESIDENT_CHAIN] = Untouchable()
    await aiohttp_client(app)
    report = await app[RECEIPTS].tick()
    assert report.batches_cut == 0 and report.sent == 0
