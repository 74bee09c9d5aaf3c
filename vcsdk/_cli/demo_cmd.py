"""``vcsdk demo``: run the whole story on the embedded chain with every server on loopback."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from vcsdk._demo import Narrator, run_story


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the whole story on the embedded chain (city, resident, shop, receipts, revocation, open data)",
    )
    demo.add_argument("--json", action="store_true", help="print machine-readable events (one JSON document)")
    demo.add_argument("--out", type=Path, help="folder for the open-data export and the receipt store")
    demo.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    out = args.out or Path(tempfile.mkdtemp(prefix="vcsdk-demo-"))
    narrator = Narrator(json_mode=args.json, write=lambda line: print(line, flush=True))
    result = asyncio.run(run_story(narrator, out_dir=out))
    if args.json:
        sys.stdout.write(json.dumps({"ok": result.ok, "events": result.events, "summary": result.summary},
                                    ensure_ascii=False, default=str) + "\n")
    else:
        print("\nDone: every step behaved as expected." if result.ok else "\nSome steps did not behave as expected.")
    return 0 if result.ok else 1
