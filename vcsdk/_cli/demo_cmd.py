"""``vcsdk demo``: run the whole story on the embedded chain (or any node) with every server on loopback."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from vcsdk._demo import Narrator, run_story
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the whole story on the embedded chain or a node (city, resident, shop, receipts, revocation, "
        "open data)",
    )
    demo.add_argument("--json", action="store_true", help="print machine-readable events (one JSON document)")
    demo.add_argument("--out", type=Path, help="folder for the open-data export and the receipt store")
    demo.add_argument("--rpc-url", help="run on this JSON-RPC node (e.g. vcsdk dev up's), not the embedded chain")
    demo.add_argument("--key", type=Path,
                      help="with --rpc-url: a funded secp256k1 private JWK that pays for the story (default: the "
                      "node's first unlocked dev account, as on anvil)")
    demo.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    out = args.out or Path(tempfile.mkdtemp(prefix="vcsdk-demo-"))
    narrator = Narrator(json_mode=args.json, write=lambda line: print(line, flush=True))
    funder = None
    if args.key is not None:
        if args.rpc_url is None:
            raise InvalidInputError("--key pays for the story on a node: give --rpc-url too")
        funder = Key.from_jwk(args.key.read_bytes())
        if funder.curve != "secp256k1" or not funder.is_private:
            raise InvalidInputError("--key must be a private secp256k1 JWK (an Ethereum account)")
    result = asyncio.run(run_story(narrator, out_dir=out, rpc_url=args.rpc_url, funder=funder))
    if args.json:
        sys.stdout.write(json.dumps({"ok": result.ok, "events": result.events, "summary": result.summary},
                                    ensure_ascii=False, default=str) + "\n")
    else:
        print("\nDone: every step behaved as expected." if result.ok else "\nSome steps did not behave as expected.")
    return 0 if result.ok else 1
