"""Two wallet server processes on one PostgreSQL schema and one anvil node: one anchorer at a time.

Receipts are queued in the shared outbox; one instance takes the anchorer's advisory lock and
anchors them. It is killed with SIGKILL (no clean shutdown); its connection dies, PostgreSQL
releases the lock, and the other instance, waiting for it, takes over at once (well before a lease
of two rounds would have expired) and anchors what comes next. Every receipt ends in a final batch,
and every batch is anchored on chain exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests._net import free_port
from tests.receipts._factories import make_consent, make_receipt, service_key
from tests.wallet_server.conftest import PG_DSN
from vcsdk.keys import Key
from vcsdk.outbox import AccessReceiptRegistry, PostgresReceiptStore, StoredReceipt
from vcsdk.receipts import peek_access_receipt, receipt_leaf
from vcsdk.registry import Chain, DevNode, deploy_contracts, key_address

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Bounded waits of this test (seconds).
DEADLINE = 90.0
#: Seconds between anchoring rounds; a lease would expire 2 * 2 + 2 = 6 s after the holder died.
INTERVAL = 2.0


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    name = f"wstest_takeover_{secrets.token_hex(4)}"
    yield name
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


class Instance:
    """``python -m wallet_server`` with its JSON log lines in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wallet_server"],
            env={**env, "VCSDK_WALLET_PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=self._out,
        )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + DEADLINE
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log.read_text()[-3000:]
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/ready") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("instance did not become ready")

    def events(self) -> list[str]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line).get("event", ""))
            except ValueError:
                continue
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


async def _queue(store: PostgresReceiptStore, count: int, *, tag: str) -> list[str]:
    key = service_key()
    consent = make_consent(record_id=f"consent-{tag}")
    await store.put_consent(consent)
    ids = []
    for i in range(count):
        token = make_receipt(key, consent, receipt_id=f"{tag}-{i:03d}")
        salt = secrets.token_bytes(32)
        leaf = receipt_leaf(token.encode(), salt)
        await store.add_receipt(StoredReceipt(peek_access_receipt(token), salt, leaf, datetime.now(UTC)))
        ids.append(f"{tag}-{i:03d}")
    return ids


async def _all_final(store: PostgresReceiptStore, ids: list[str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        receipts = [await store.get_receipt(i) for i in ids]
        batches = {r.batch_id for r in receipts}
        if None not in batches:
            states = [(await store.get_batch(b)).state for b in batches if b is not None]
            if all(state == "final" for state in states):
                return
        await asyncio.sleep(0.2)
    raise AssertionError("receipts were not anchored in time")


async def test_kill_9_the_anchorer_and_the_other_instance_takes_over(
    anvil_node: DevNode, anvil_chain: Chain, schema: str, tmp_path: Path
) -> None:
    city_key = Key.generate("secp256k1")
    await anvil_chain.fund(key_address(city_key), 10**20)
    config = await deploy_contracts(anvil_node.url, city_key, chain_id=anvil_node.chain_id)
    (tmp_path / "network.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "VCSDK_WALLET_DATABASE_URL": PG_DSN,
        "VCSDK_WALLET_DATABASE_SCHEMA": schema,
        "VCSDK_WALLET_RPC_URL": anvil_node.url,
        "VCSDK_WALLET_NETWORK_CONFIG": str(tmp_path / "network.json"),
        "VCSDK_WALLET_CITY_KEY": json.dumps(city_key.private_jwk()),
        "VCSDK_WALLET_CITY_SIGNING_KEY": json.dumps(Key.generate("P-256").private_jwk()),
        "VCSDK_WALLET_TOKEN_SIGNING_KEYS": json.dumps(Key.generate("P-256").private_jwk()),
        "VCSDK_WALLET_DATA_KEYS": "k1:" + "A" * 43,
        "VCSDK_WALLET_RECEIPT_BATCH_SIZE": "4",
        "VCSDK_WALLET_RECEIPT_BATCH_MAX_AGE": "0",
        "VCSDK_WALLET_RECEIPT_CONFIRMATIONS": "1",
        "VCSDK_WALLET_RECEIPT_ANCHOR_INTERVAL": str(INTERVAL),
    }
    first = Instance(env, tmp_path / "first.log")
    second: Instance | None = None
    store = await PostgresReceiptStore.open(PG_DSN, schema=schema)
    try:
        await first.wait_ready()  # one at a time: the city's set-up transactions come from one process
        second = Instance(env, tmp_path / "second.log")
        await second.wait_ready()
        before = await _queue(store, 10, tag="before")
        await _all_final(store, before)
        anchorers = [i for i in (first, second) if "anchorer_elected" in i.events()]
        assert len(anchorers) == 1, "exactly one instance anchors"
        holder = anchorers[0]
        other = second if holder is first else first

        holder.proc.send_signal(signal.SIGKILL)  # no clean stop: nothing is released by the holder
        killed = time.monotonic()
        holder.proc.wait()
        while "anchorer_elected" not in other.events():
            assert time.monotonic() - killed < DEADLINE, "nobody took over"
            await asyncio.sleep(0.05)
        taken_over = time.monotonic() - killed
        assert taken_over < 2 * INTERVAL + 2, f"takeover took {taken_over:.1f} s, as long as a lease"
        after = await _queue(store, 10, tag="after")
        await _all_final(store, after)

        # Every receipt in one final batch, every batch anchored once on chain.
        registry = AccessReceiptRegistry(anvil_chain, config["contracts"]["AccessReceiptRegistry"]["address"])
        batch_ids = {(await store.get_receipt(i)).batch_id for i in before + after}
        topic = registry.contract.event_topic("BatchAnchored")
        for batch_id in batch_ids:
            assert batch_id is not None
            logs = await anvil_chain.get_logs(address=registry.address, topics=[topic, batch_id])
            assert len(logs) == 1, f"batch anchored {len(logs)} times"
            assert (await registry.root_of(batch_id)) == (await store.get_batch(batch_id)).root
    finally:
        await store.close()
        first.stop()
        if second is not None:
            second.stop()


def test_takeover_waits_for_the_lease_to_expire() -> None:
    # The lease a killed anchorer leaves: two rounds and their pauses, at least 5 s.
    from wallet_server.app import anchor_lease_ttl
    from wallet_server.settings import Settings

    assert anchor_lease_ttl(Settings(receipt_anchor_interval=timedelta(seconds=0.3))) == timedelta(seconds=5)
    assert anchor_lease_ttl(Settings()) == timedelta(seconds=62)
