"""Run the reference did:ethr resolver (npm ethr-did-resolver 11.x) through tests/did/ethr_reference.mjs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("ethr_reference.mjs")
TOOLS = ROOT / "tools" / "node_modules" / "ethr-did-resolver"


def require_reference() -> None:
    """Skip (with the reason) when node or the npm tools are not installed (`make setup` installs them)."""
    if shutil.which("node") is None or not TOOLS.is_dir():
        pytest.skip("node and tools/node_modules (ethr-did-resolver) are needed; run `make setup`")


def run_reference(request: dict[str, Any], *, timeout: float = 120) -> Any:
    """Send one request to the node script and return its JSON answer."""
    require_reference()
    proc = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError("reference resolver failed: " + proc.stderr.decode(errors="replace")[-2000:])
    return json.loads(proc.stdout)
