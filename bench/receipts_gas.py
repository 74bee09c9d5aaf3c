"""Gas per access receipt when anchoring Merkle batches, next to one transaction per receipt.

Runs on the embedded py-evm chain (no set-up): ``python bench/receipts_gas.py``. The last line is
``gas_per_receipt_at_1024=<n>``.
"""

from __future__ import annotations

import asyncio
import math
import secrets

from vcsdk.outbox import AccessReceiptRegistry
from vcsdk.receipts import MerkleTree, receipt_leaf
from vcsdk.registry import Chain

SIZES = (1, 16, 256, 1024)


async def _gas(registry: AccessReceiptRegistry, size: int) -> int:
    leaves = [receipt_leaf(secrets.token_bytes(400), secrets.token_bytes(32)) for _ in range(size)]
    tree = MerkleTree(leaves)
    return (await registry.anchor(tree.batch_id, tree.root, tree.size)).gas_used


async def main() -> None:
    async with Chain.embedded() as chain:
        sender = (await chain.dev_accounts())[0]
        registry = await AccessReceiptRegistry.deploy(chain, sender=sender)
        per_receipt_tx = await _gas(registry, 1)  # one transaction per receipt = batches of 1
        print(f"{'batch size':>10}  {'gas per batch':>13}  {'gas per receipt':>15}  {'one tx per receipt':>18}")
        last = 0
        for size in SIZES:
            gas = await _gas(registry, size)
            last = math.ceil(gas / size)
            print(f"{size:>10}  {gas:>13,}  {gas / size:>15,.1f}  {per_receipt_tx:>18,}")
        print(f"gas_per_receipt_at_1024={last}")


if __name__ == "__main__":
    asyncio.run(main())
