"""Compile the registry's Solidity sources into committed JSON artifacts.

Run ``python -m vcsdk.registry.compile`` (or ``make contracts``) after adding or editing a ``.sol``
file in ``vcsdk/registry/contracts/``; ``--check`` only reports whether the artifacts are current.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from vcsdk.errors import VcsdkError
from vcsdk.registry._solc import (
    ARTIFACTS_DIR,
    CONTRACTS_DIR,
    build_artifacts,
    render_artifact,
    write_artifacts,
)

__all__ = ["main"]


def _check(contracts_dir: Path, artifacts_dir: Path, tools_dir: Path | None) -> int:
    artifacts = build_artifacts(contracts_dir=contracts_dir, tools_dir=tools_dir)
    stale = []
    for name, artifact in sorted(artifacts.items()):
        target = artifacts_dir / f"{name}.json"
        if not target.is_file() or target.read_bytes() != render_artifact(artifact):
            stale.append(target.name)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m vcsdk.registry.compile", file=sys.stderr)
        return 1
    print(f"{len(artifacts)} artifact(s) up to date")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m vcsdk.registry.compile", description=__doc__)
    parser.add_argument("--contracts-dir", type=Path, default=CONTRACTS_DIR, help="folder of .sol files")
    parser.add_argument("--artifacts-dir", type=Path, default=ARTIFACTS_DIR, help="where <Name>.json goes")
    parser.add_argument("--tools-dir", type=Path, default=None, help="folder with node_modules/solc")
    parser.add_argument("--check", action="store_true", help="fail if any artifact is out of date")
    args = parser.parse_args(argv)
    try:
        if args.check:
            return _check(args.contracts_dir, args.artifacts_dir, args.tools_dir)
        result = write_artifacts(
            contracts_dir=args.contracts_dir, artifacts_dir=args.artifacts_dir, tools_dir=args.tools_dir
        )
    except VcsdkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    for path in result.written:
        print(f"wrote {path.name}")
    for path in result.removed:
        print(f"removed {path.name}")
    print(f"{len(result.written)} written, {len(result.unchanged)} unchanged, {len(result.removed)} removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
