"""Every benchmark in bench/ still runs and ends with its ``name=value`` line (quick mode).

Only that they run and what they print is checked, never a speed: the figures live in the
benchmarks' own output. The benchmarks also assert their comparisons as they go (same claims as
the reference SD-JWT library, same DID document metadata as ethr-did-resolver, same export cells).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
#: The last line: one or more ``name=<non-negative number>`` separated by spaces.
LAST_LINE = re.compile(r"[a-z0-9_]+=\d+(\.\d+)?( [a-z0-9_]+=\d+(\.\d+)?)*")
NEEDS_NODE = {"did_resolve.py"}  # anvil and the npm reference resolver


# Load runs (quick mode still drives real servers for tens of seconds): CI, not every local edit.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "script",
    [pytest.param(p.name, marks=pytest.mark.integration) if p.name in NEEDS_NODE else p.name
     for p in sorted(BENCH.glob("*.py")) if not p.name.startswith("_")],
)  # fmt: skip
def test_benchmark_runs_and_reports(script: str) -> None:
    env = {**os.environ, "VCSDK_BENCH_QUICK": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCH / script)], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert LAST_LINE.fullmatch(last), last
    assert all(float(pair.split("=")[1]) > 0 for pair in last.split()), last
