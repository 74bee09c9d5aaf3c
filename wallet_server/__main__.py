"""``python -m wallet_server``: load settings from file, environment and flags, then serve."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from vcsdk.errors import ChainUnavailableError, VcsdkError
from wallet_server._logging import configure_logging
from wallet_server.app import create_app, system_clock
from wallet_server.appkeys import CITY
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


async def _set_up_city(app: web.Application) -> None:
    """Set the city up on chain at start (contracts on the embedded chain, DID, accreditation).

    A misconfiguration stops the start; a node that does not answer yet only delays the set-up to
    the first request that needs it.
    """
    try:
        await app[CITY].get()
    except ChainUnavailableError:
        logging.getLogger("wallet_server.city").warning(
            "the chain node does not answer; the city is set up on first use", extra={"event": "city_deferred"}
        )


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
    app = create_app(settings)
    app.on_startup.append(_set_up_city)  # after the app's own start-up contexts
    web.run_app(app, host=settings.host, port=settings.port, access_log=None, print=None)
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
