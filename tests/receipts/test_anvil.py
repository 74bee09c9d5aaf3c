"""The outbox against a real anvil node: an RPC outage, and a process killed at each anchoring step."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._proxy import TcpProxy
from tests.chain_fixtures import REPO_ROOT
from tests.receipts._factories import T0, make_consent, make_receipt, service_key
from vcsdk.outbox import STEPS, AccessReceiptRegistry, ReceiptOutbox, SqliteReceiptStore
from vcsdk.receipts import verify_inclusion
from vcsdk.registry import Chain, DevChain, DevNode

pytestmark = pytest.mark.integration

KEY = service_key()
NOW = T0 + timedelta(hours=1)
LATER = T0 + timedelta(days=3650)


async def _accept(store: SqliteReceiptStore, registry: AccessReceiptRegistry, n: int, prefix: str) -> list[str]:
    consent = make_consent(record_id=f"consent-{prefix}")
    await store.put_consent(consent)
    outbox = ReceiptOutbox(store, registry, batch_size=3, confirmations=1)
    ids = []
    for i in range(n):
        token = make_receipt(KEY, consent, receipt_id=f"{prefix}-{i}", at=T0 + timedelta(minutes=i))
        ids.append((await outbox.accept(token, service_key=KEY.public_key(), now=NOW)).receipt_id)
    return ids


async def _anchored_exactly_once(
    chain: Chain, registry: AccessReceiptRegistry, store: SqliteReceiptStore, ids: list[str]
) -> None:
    batches: dict[bytes, list[str]] = {}
    for receipt_id in ids:
        stored = await store.get_receipt(receipt_id)
        assert stored.batch_id is not None
        batches.setdefault(stored.batch_id, []).append(receipt_id)
    topic0 = registry.contract.event_topic("BatchAnchored")
    for batch_id, members in batches.items():
        batch = await store.get_batch(batch_id)
        assert batch.state == "final" and batch.size == len(members)
        logs = await chain.get_logs(address=registry.address, topics=[topic0, batch_id])
        assert len(logs) == 1, "each batch is anchored by exactly one event"
        assert batch.tx_hash == "0x" + logs[0].transaction_hash.hex()
        root = await registry.root_of(batch_id)
        assert root == batch.root
    from vcsdk.receipts import MerkleTree

    for batch_id, members in batches.items():
        tree = MerkleTree(await store.batch_leaves(batch_id))
        for receipt_id in members:
            stored = await store.get_receipt(receipt_id)
            assert stored.leaf_index is not None
            verify_inclusion(stored.leaf, tree.proof(stored.leaf_index), tree.root)


# -- RPC down, then up ---------------------------------------------------------------------------


@pytest.fixture
async def proxy(anvil_node: DevNode) -> AsyncIterator[TcpProxy]:
    port = int(anvil_node.url.rsplit(":", 1)[1])
    forwarder = TcpProxy(port)
    await forwarder.start()
    try:
        yield forwarder
    finally:
        await forwarder.close()


async def test_rpc_outage_then_queue_drains(proxy: TcpProxy, tmp_path: Path) -> None:
    store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    async with await DevChain.connect(proxy.url, timeout=5.0) as chain:
        sender = (await chain.dev_accounts())[0]
        registry = await AccessReceiptRegistry.deploy(chain, sender=sender)
        ids = await _accept(store, registry, 7, "outage")
        outbox = ReceiptOutbox(store, registry, batch_size=3, confirmations=2)
        await proxy.cut()
        for _ in range(3):
            report = await outbox.tick(now=LATER)
            assert report.chain_error == "chain_unavailable"
        # Batches were cut (local work) but nothing was sent; every receipt is still held.
        assert report.open_batches == 3 and report.queued_receipts == 0
        assert all(b.attempts == 0 for b in await store.open_batches())
        proxy.restore()
        for _ in range(10):
            report = await outbox.tick(now=LATER)
            assert report.chain_error is None
            if report.open_batches == 0:
                break
            await chain.mine(1)
        assert (report.open_batches, report.queued_receipts) == (0, 0)
        await _anchored_exactly_once(chain, registry, store, ids)
    await store.close()


# -- a dev node that mines only on demand ---------------------------------------------------------


async def test_confirmations_on_a_node_that_mines_only_on_demand(anvil_node: DevNode, tmp_path: Path) -> None:
    """anvil makes a block per transaction and no other: 12 confirmations never come by themselves.
    ``mine_to_confirm`` mines the empty blocks a batch still needs; without it the batch waits."""
    store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    async with await DevChain.connect(anvil_node.url, timeout=5.0) as chain:
        sender = (await chain.dev_accounts())[0]
        deployed = await AccessReceiptRegistry.deploy(chain, sender=sender)
        ids = await _accept(store, deployed, 3, "ondemand")
        waiting = ReceiptOutbox(store, deployed, batch_size=3, confirmations=12)
        reports = [await waiting.tick(now=LATER) for _ in range(3)]
        assert reports[0].sent == 1 and reports[-1].open_batches == 1 and reports[-1].finalized == 0
        head = await chain.block_number()
        mining = AccessReceiptRegistry(chain, deployed.address, sender=sender, from_block=deployed.from_block,
                                       mine_to_confirm=True)
        report = await ReceiptOutbox(store, mining, batch_size=3, confirmations=12).tick(now=LATER)
        assert report.finalized == 1 and report.open_batches == 0
        assert await chain.block_number() == head + 11  # exactly the missing blocks, no more
        await _anchored_exactly_once(chain, mining, store, ids)
    await store.close()


# -- a process killed at every step ---------------------------------------------------------------


@pytest.fixture(scope="module")
def manual_node(node_tools: Path) -> Iterator[DevNode]:
    """A dedicated anvil that mines only when asked, so transactions can be in flight at a kill."""
    node = DevNode.start(tools_dir=node_tools, startup_timeout=60.0)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def manual_registry(manual_node: DevNode) -> dict[str, Any]:
    async def setup() -> dict[str, Any]:
        async with await DevChain.connect(manual_node.url, timeout=10.0) as chain:
            sender = (await chain.dev_accounts())[0]
            registry = await AccessReceiptRegistry.deploy(chain, sender=sender)
            await chain.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
            return {"address": registry.address, "sender": sender, "from_block": registry.from_block}

    return asyncio.run(setup())


def _bind(chain: Chain, info: dict[str, Any]) -> AccessReceiptRegistry:
    """A client on the module's registry, as the outbox process builds it."""
    return AccessReceiptRegistry(chain, info["address"], sender=info["sender"], from_block=info["from_block"])


async def _driver(db: Path, node: DevNode, info: dict[str, Any], step: str | None) -> tuple[int, str]:
    args = [str(db), node.url, info["address"], info["sender"], str(info["from_block"]), "2"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.receipts._crash_driver",
        *args,
        *([step] if step else []),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


@pytest.mark.slow  # a fault suite: kill -9 at each step against a real node
@pytest.mark.parametrize(
    "crashes", [[s] for s in STEPS] + [["after_send", "send_recorded", "confirmed"]], ids=lambda c: "+".join(c)
)
async def test_killed_at_each_step_then_restarted(
    crashes: list[str], manual_node: DevNode, manual_registry: dict[str, Any], tmp_path: Path
) -> None:
    db = tmp_path / "outbox.db"
    store = await SqliteReceiptStore.open(str(db))
    async with await DevChain.connect(manual_node.url, timeout=10.0) as chain:
        registry = _bind(chain, manual_registry)
        ids = await _accept(store, registry, 7, "crash-" + "-".join(crashes))
        await store.close()
        for step in crashes:
            code, output = await _driver(db, manual_node, manual_registry, step)
            assert code == -signal.SIGKILL, output
        code, output = await _driver(db, manual_node, manual_registry, None)
        assert code == 0 and "drained" in output, output
        store = await SqliteReceiptStore.open(str(db))
        await _anchored_exactly_once(chain, registry, store, ids)
        await store.close()


# -- dropped and reorganised transactions on a real node -------------------------------------------


async def _rpc(chain: Chain, method: str, params: list[Any]) -> Any:
    answer = await chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


async def test_dropped_transaction_is_resent(
    manual_node: DevNode, manual_registry: dict[str, Any], tmp_path: Path
) -> None:
    store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    async with await DevChain.connect(manual_node.url, timeout=10.0) as chain:
        registry = _bind(chain, manual_registry)
        ids = await _accept(store, registry, 3, "dropped")
        outbox = ReceiptOutbox(store, registry, batch_size=3, confirmations=1)
        assert (await outbox.tick(now=NOW)).sent == 1
        (batch,) = await store.open_batches()
        assert batch.tx_hash is not None and await registry.tx_pending(batch.tx_hash)
        assert (await outbox.tick(now=NOW)).sent == 0  # still pending: no second send
        await _rpc(chain, "anvil_dropTransaction", [batch.tx_hash])
        assert not await registry.tx_pending(batch.tx_hash)
        assert (await outbox.tick(now=NOW)).sent == 1
        await chain.mine(1)
        assert (await outbox.tick(now=NOW)).finalized == 1
        assert (await store.get_batch(batch.batch_id)).attempts == 2
        await _anchored_exactly_once(chain, registry, store, ids)
    await store.close()


async def test_reorganised_anchor_is_resent(
    manual_node: DevNode, manual_registry: dict[str, Any], tmp_path: Path
) -> None:
    store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    async with await DevChain.connect(manual_node.url, timeout=10.0) as chain:
        registry = _bind(chain, manual_registry)
        ids = await _accept(store, registry, 3, "reorg")
        outbox = ReceiptOutbox(store, registry, batch_size=3, confirmations=3)
        snapshot = await _rpc(chain, "evm_snapshot", [])
        assert (await outbox.tick(now=NOW)).sent == 1
        await chain.mine(1)
        await outbox.tick(now=NOW)
        (batch,) = await store.open_batches()
        assert batch.state == "sent" and batch.block_number is not None  # mined, 1 of 3 confirmations
        await _rpc(chain, "evm_revert", [snapshot])  # the block with the anchor is gone
        assert await registry.find_anchor(batch.batch_id) is None
        for _ in range(8):
            report = await outbox.tick(now=NOW)
            if report.open_batches == 0:
                break
            await chain.mine(1)
        assert report.open_batches == 0
        assert (await store.get_batch(batch.batch_id)).attempts == 2
        await _anchored_exactly_once(chain, registry, store, ids)
    await store.close()
