"""``vcsdk receipts``: check a receipt's inclusion proof against the chain; export open data."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._json import parse_json_object
from vcsdk._time import parse_rfc3339
from vcsdk.errors import InvalidInputError, ProofInvalidError
from vcsdk.receipts import AccessCounter, PrivacyParameters, peek_access_receipt, receipt_leaf, verify_inclusion


def register(sub: Any) -> None:
    receipts = sub.add_parser("receipts", help="access receipts: verify inclusion proofs, export open data")
    r = receipts.add_subparsers(dest="receipts_command", metavar="ACTION", required=True)

    proof = r.add_parser(
        "verify-proof", help="check that RECEIPT.json is in a batch anchored on chain (exit 0 if it is)"
    )
    proof.add_argument("receipt", type=Path, help="a receipt with salt and proof, as the resident view returns it")
    proof.add_argument("--rpc-url", required=True, help="JSON-RPC URL of an Ethereum node")
    proof.add_argument("--registry", required=True, help="address of the AccessReceiptRegistry contract")
    proof.add_argument("--chain-id", type=int, help="refuse a node serving another chain id")
    proof.set_defaults(handler=_verify_proof)

    export = r.add_parser("export", help="differentially private access statistics as CSV or JSON")
    export.add_argument("--epsilon", type=float, required=True, help="privacy budget of this export, e.g. 1.0")
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path, help="the outbox's SQLite file")
    source.add_argument("--postgres", metavar="DSN", help="the outbox's PostgreSQL DSN")
    export.add_argument("--schema", help="PostgreSQL schema of the outbox tables")
    export.add_argument("--k", type=int, default=10, help="suppress cells whose noisy count is below K (10)")
    export.add_argument(
        "--max-contributions", type=int, default=16, help="cells one pseudonym may add to (sensitivity, 16)"
    )
    export.add_argument("--since", help="first access time to count (RFC 3339)")
    export.add_argument("--until", help="end of the period, exclusive (RFC 3339)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--out", type=Path, help="write here instead of stdout")
    export.set_defaults(handler=_export)


def _verify_proof(args: argparse.Namespace) -> int:
    from vcsdk.outbox import ReceiptEntry

    body = parse_json_object(args.receipt.read_bytes(), what="RECEIPT.json")
    token, salt, proof = ReceiptEntry.proof_material(body)
    receipt = peek_access_receipt(token)
    root = asyncio.run(_root_of(args.rpc_url, args.registry, proof.batch_id, args.chain_id))
    if root is None:
        raise ProofInvalidError("the registry holds no root for this receipt's batch (not anchored yet?)")
    verify_inclusion(receipt_leaf(token.encode("ascii"), salt), proof, root)
    print_json(
        {
            "anchored": True,
            "receipt_id": receipt.receipt_id,
            "service": receipt.service_did,
            "accessed_at": receipt.accessed_at.isoformat(),
            "batch_id": "0x" + proof.batch_id.hex(),
            "root": "0x" + root.hex(),
            "leaf_index": proof.leaf_index,
            "tree_size": proof.tree_size,
        }
    )
    return 0


async def _root_of(rpc_url: str, address: str, batch_id: bytes, chain_id: int | None) -> bytes | None:
    from vcsdk.outbox import AccessReceiptRegistry
    from vcsdk.registry import Chain

    async with await Chain.connect(rpc_url, chain_id=chain_id) as chain:
        return await AccessReceiptRegistry(chain, address).root_of(batch_id)


def _export(args: argparse.Namespace) -> int:
    params = PrivacyParameters(epsilon=args.epsilon, k_threshold=args.k, max_contributions=args.max_contributions)
    since = parse_rfc3339(args.since, what="--since") if args.since else None
    until = parse_rfc3339(args.until, what="--until") if args.until else None
    if args.schema and not args.postgres:
        raise InvalidInputError("--schema goes with --postgres")
    counter = asyncio.run(_count(args, params, since, until))
    stats = counter.statistics()
    text = stats.to_csv() if args.format == "csv" else stats.to_json_text()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


async def _count(
    args: argparse.Namespace, params: PrivacyParameters, since: datetime | None, until: datetime | None
) -> AccessCounter:
    """Stream the period's receipts from the store into a counter (memory: one page, not the period)."""
    from vcsdk.outbox import PostgresReceiptStore, ReceiptStore, SqliteReceiptStore

    store: ReceiptStore
    if args.db is not None:
        if not args.db.is_file():
            raise InvalidInputError("--db must name an existing outbox database file")
        store = await SqliteReceiptStore.open(str(args.db))
    else:
        store = await PostgresReceiptStore.open(args.postgres, schema=args.schema)
    counter = AccessCounter(params)
    try:
        async for stored in store.iter_receipts(since=since, until=until):
            counter.add(stored.receipt)
    finally:
        await store.close()
    return counter
