"""``vcsdk receipts``: check a receipt's inclusion proof against the chain; export open data."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._cli._common import chain_id_arg
from vcsdk._json import parse_json_object
from vcsdk.errors import InvalidInputError, ProofInvalidError
from vcsdk.receipts import (
    AccessCounter,
    CellDomain,
    PrivacyParameters,
    peek_access_receipt,
    receipt_leaf,
    verify_inclusion,
)
from vcsdk.registration import RelyingPartyRegistration, peek_registration


def register(sub: Any) -> None:
    receipts = sub.add_parser("receipts", help="access receipts: verify inclusion proofs, export open data")
    r = receipts.add_subparsers(dest="receipts_command", metavar="ACTION", required=True)

    proof = r.add_parser(
        "verify-proof", help="check that RECEIPT.json is in a batch anchored on chain (exit 0 if it is)"
    )
    proof.add_argument("receipt", type=Path, help="a receipt with salt and proof, as the resident view returns it")
    proof.add_argument("--rpc-url", required=True, help="JSON-RPC URL of an Ethereum node")
    proof.add_argument("--registry", required=True, help="address of the AccessReceiptRegistry contract")
    proof.add_argument("--chain-id", type=chain_id_arg,
                       help="refuse a node serving another chain id (decimal or 0x hex)")
    proof.set_defaults(handler=_verify_proof)

    export = r.add_parser(
        "export", help="one month's differentially private access statistics (OpenDP), charged to a budget ledger"
    )
    export.add_argument("--period", required=True, help="the calendar month to release, YYYY-MM")
    export.add_argument("--epsilon", type=float, required=True, help="privacy budget this release spends, e.g. 0.5")
    export.add_argument(
        "--registrations", type=Path, required=True,
        help="the city's relying-party registrations, one token per line: the public cell domain",
    )
    export.add_argument("--ledger", type=Path, required=True, help="the budget ledger (JSON); created if missing")
    export.add_argument("--budget", help="epsilon per month for a new ledger (must match an existing one)")
    export.add_argument("--release-id", help="the release's name in the ledger (default access-PERIOD-TIME-RANDOM)")
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path, help="the outbox's SQLite file")
    source.add_argument("--postgres", metavar="DSN", help="the outbox's PostgreSQL DSN")
    export.add_argument("--schema", help="PostgreSQL schema of the outbox tables")
    export.add_argument("--k", type=int, default=10, help="suppress cells whose noisy count is below K (10, the least)")
    export.add_argument(
        "--per-service", type=int, default=1, help="accesses counted per resident per service in the month (1)"
    )
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
    from vcsdk.outbox import LedgerFile

    params = PrivacyParameters(epsilon=args.epsilon, k_threshold=args.k, per_service=args.per_service)
    domain = CellDomain.from_registrations(_read_registrations(args.registrations), period=args.period)
    if args.schema and not args.postgres:
        raise InvalidInputError("--schema goes with --postgres")
    ledger = LedgerFile(args.ledger, budget_per_period=args.budget)
    ledger.read()  # fail on a missing budget or a bad ledger before reading a month of receipts
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    release_id = args.release_id or f"access-{args.period}-{stamp}-{secrets.token_hex(3)}"
    counter = asyncio.run(_count(args, AccessCounter(domain, params)))
    stats = counter.statistics(ledger=ledger, release_id=release_id, now=now)
    text = stats.to_csv() if args.format == "csv" else stats.to_json_text()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _read_registrations(path: Path) -> list[RelyingPartyRegistration]:
    """One compact JWS per line (blank lines and ``#`` comments skipped): the city's own list."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        raise InvalidInputError("--registrations must name a text file of registration tokens") from None
    tokens = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not tokens:
        raise InvalidInputError("--registrations lists no registration")
    return [peek_registration(t) for t in tokens]


async def _count(args: argparse.Namespace, counter: AccessCounter) -> AccessCounter:
    """Stream the month's receipts from the store into the counter (memory: one page, not the month)."""
    from vcsdk.outbox import PostgresReceiptStore, ReceiptStore, SqliteReceiptStore

    store: ReceiptStore
    if args.db is not None:
        if not args.db.is_file():
            raise InvalidInputError("--db must name an existing outbox database file")
        store = await SqliteReceiptStore.open(str(args.db))
    else:
        store = await PostgresReceiptStore.open(args.postgres, schema=args.schema)
    since, until = counter.domain.bounds
    try:
        async for stored in store.iter_receipts(since=since, until=until):
            counter.add(stored.receipt)
    finally:
        await store.close()
    return counter
