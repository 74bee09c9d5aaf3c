"""Runs the interop scripts (Node, the pinned npm packages in tools/node_modules) as subprocesses.

Each script reads one JSON request on stdin and answers one JSON object on stdout; the subprocess
runs without blocking the event loop, so our side keeps serving over HTTP on 127.0.0.1 meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NODE_MODULES = ROOT / "tools" / "node_modules"
#: The independent implementations and the exact versions tools/package.json pins.
PACKAGES = (
    "@openid4vc/openid4vci", "@openid4vc/openid4vp", "@openid4vc/oauth2", "@sd-jwt/sd-jwt-vc", "did-jwt-vc", "did-jwt",
)


def require_node() -> None:
    missing = [p for p in PACKAGES if not (NODE_MODULES / p).is_dir()]
    if shutil.which("node") is None or missing:
        pytest.skip(f"node and tools/node_modules ({', '.join(missing) or 'node'}) are needed; run `make setup`")


async def run_node(script: str, request: dict[str, Any], *, timeout: float = 60) -> dict[str, Any]:
    """Run ``tests/interop/<script>`` with ``request``; its answer (``{"error": …}`` when it failed)."""
    require_node()
    proc = await asyncio.create_subprocess_exec(
        "node", str(HERE / script),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(request).encode()), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    answer: dict[str, Any] = json.loads(out)
    return answer


def ok(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer of a run that must have succeeded."""
    assert "error" not in answer, answer
    return answer
