"""``python -m wallet_server``: load settings from file, environment and flags, then serve."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from vcsdk.errors import VcsdkError
from wallet_server._logging import configure_logging
from wallet_server.app import create_app, system_clock
from wallet_server.services import AdminService, LocalKeyProvider
from wallet_server.settings import Settings, add_arguments, load_settings
from wallet_server.storage import open_store

__all__ = ["main", "serve"]


async def _rewrap(settings: Settings) -> int:
    store = await open_store(settings.database_url, schema=settings.database_schema)
    try:
        keys = LocalKeyProvider(dict(settings.data_keys), current=settings.current_data_key)
        admin = AdminService(store, keys=keys, tokens=(), clock=system_clock)
        return await admin.rewrap_resident_keys()
    finally:
        await store.close()


def serve(args: argparse.Namespace) -> int:
    """Load settings (the one place that reads ``os.environ``) and run the server until interrupted.

    With ``--rewrap-keys``: re-wrap residents' data keys under the current server key, then exit.
    """
    settings = load_settings(args, os.environ)
    configure_logging(settings.log_level)
    if getattr(args, "rewrap_keys", False):
        count = asyncio.run(_rewrap(settings))
        sys.stdout.write(f"re-wrapped {count} resident data keys under {settings.current_data_key}\n")
        return 0
    # aiohttp's own access log would print client addresses and full paths; ours logs route templates.
    web.run_app(create_app(settings), host=settings.host, port=settings.port, access_log=None, print=None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wallet_server``: returns the exit code (1 for a configuration or startup error)."""
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
