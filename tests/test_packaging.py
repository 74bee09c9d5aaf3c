"""The package builds without warnings (the licence table setuptools deprecated printed three times
during `make demo`'s set-up)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_licence_is_an_spdx_expression() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "Apache-2.0"  # PEP 639; a table is deprecated
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to read PEP 639


@pytest.mark.slow
def test_the_wheel_builds_without_warnings(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    assert "Warning" not in output and "deprecated" not in output.lower(), output[-2000:]
    assert list(tmp_path.glob("vcsdk-*.whl"))
