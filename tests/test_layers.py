"""Imports point down: the pure core imports no I/O library (STYLE.md, "Layers").

Each module is imported in a fresh interpreter so that what another test imported cannot hide a
dependency.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("web3", "aiohttp", "sqlite3", "aiosqlite", "asyncpg", "zeep", "httpx", "eth_tester")

PURE_MODULES = [
    "vcsdk.errors",
    "vcsdk.keys",
    "vcsdk.blindrsa",
    "vcsdk.credentials",
    "vcsdk.credentials.sd_jwt",
    "vcsdk.credentials.status_list",
    "vcsdk.did",
    "vcsdk.receipts",
    "vcsdk.registration",
    "vcsdk.oid4vc",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_core_module_imports_no_io_library(module: str) -> None:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
