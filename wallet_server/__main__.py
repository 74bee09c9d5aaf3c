"""``python -m wallet_server``: load settings from file, environment and flags, then serve."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from vcsdk.errors import VcsdkError
from wallet_server._logging import configure_logging
from wallet_server.app import create_app
from wallet_server.settings import add_arguments, load_settings

__all__ = ["main", "serve"]


def serve(args: argparse.Namespace) -> int:
    """Load settings (the one place that reads ``os.environ``) and run the server until interrupted."""
    settings = load_settings(args, os.environ)
    configure_logging(settings.log_level)
    # aiohttp's own access log would print client addresses and full paths; ours logs route templates.
    web.run_app(create_app(settings), host=settings.host, port=settings.port, access_log=None, print=None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wallet_server", description="Run the vcsdk wallet server.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except VcsdkError as exc:
        sys.stderr.write(f"wallet_server: {exc.message} ({exc.code})\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
