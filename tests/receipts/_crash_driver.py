"""Runs the outbox in its own process for the crash test; kills itself with SIGKILL at one step.

``python -m tests.receipts._crash_driver DB RPC_URL REGISTRY SENDER FROM_BLOCK CONFIRMATIONS [STEP]``

Without STEP it ticks (mining one block between ticks, as the network would) until everything is
final and prints ``drained``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime

from vcsdk.outbox import AccessReceiptRegistry, ReceiptOutbox, SqliteReceiptStore
from vcsdk.registry import DevChain

LATER = datetime(2030, 1, 1, tzinfo=UTC)


async def main(
    db: str, rpc: str, address: str, sender: str, from_block: int, confirmations: int, crash_at: str | None
) -> int:
    def on_step(step: str) -> None:
        if step == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    store = await SqliteReceiptStore.open(db)
    async with await DevChain.connect(rpc, timeout=10.0) as chain:
        registry = AccessReceiptRegistry(chain, address, sender=sender, from_block=from_block)
        outbox = ReceiptOutbox(store, registry, batch_size=3, confirmations=confirmations, on_step=on_step)
        for _ in range(40):
            report = await outbox.tick(now=LATER)
            if report.chain_error:
                print(f"chain error {report.chain_error}", file=sys.stderr)
                return 3
            if report.open_batches == 0 and report.queued_receipts == 0:
                print("drained")
                await store.close()
                return 0
            await chain.mine(1)
    await store.close()
    return 4


if __name__ == "__main__":
    args = sys.argv[1:]
    raise SystemExit(
        asyncio.run(
            main(args[0], args[1], args[2], args[3], int(args[4]), int(args[5]), args[6] if len(args) > 6 else None)
        )
    )
