"""The ``vcsdk`` command line.

Each command group lives in its own module under ``vcsdk._cli`` and exposes
``register(subparsers)``; a handler returns the process exit code. Other installed packages add
commands the same way through the ``vcsdk.commands`` entry point group (``wallet_server`` adds
``serve``), so the SDK never imports them. Errors from the SDK are printed as a JSON problem
(``{"code": …, "message": …}``) on stderr with exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from vcsdk import __version__
from vcsdk.errors import VcsdkError

__all__ = ["main"]

#: Entry point group of commands other installed packages add (``name = "module:register"``).
PLUGIN_GROUP = "vcsdk.commands"

Handler = Callable[[argparse.Namespace], int]


def print_json(value: Any) -> None:
    """Write ``value`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def fail(error: VcsdkError) -> int:
    """Report an SDK error as a JSON problem on stderr; return exit code 1."""
    sys.stderr.write(json.dumps({"error": error.to_dict()}, ensure_ascii=False) + "\n")
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcsdk",
        description="Decentralized identity and verifiable credentials: did:ethr, SD-JWT VC, receipts.",
    )
    parser.add_argument("--version", action="version", version=f"vcsdk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from vcsdk._cli import (  # in the order --help lists them
        demo_cmd,
        deploy_cmd,
        did_cmd,
        issuer_cmd,
        keys_cmd,
        kyc_cmd,
        oid4vc_cmd,
        receipts_cmd,
        sd_jwt_cmd,
        status_cmd,
        vc_cmd,
        voting_cmd,
    )

    commands = (keys_cmd, did_cmd, sd_jwt_cmd, vc_cmd, status_cmd, issuer_cmd, oid4vc_cmd, kyc_cmd, demo_cmd,
                deploy_cmd, receipts_cmd, voting_cmd)
    for command in commands:
        command.register(sub)
    for entry in sorted(importlib.metadata.entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        entry.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 a reported error, 2 a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except VcsdkError as exc:
        return fail(exc)
    except OSError as exc:
        # Files the user named that cannot be read: a usage problem, not a crash.
        return fail(VcsdkError(f"{exc.strerror or 'I/O error'}: {exc.filename or ''}".strip(), code="io_error"))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
