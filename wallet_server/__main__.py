"""``python -m wallet_server``: load settings from file, environment and flags, then serve."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from vcsdk.errors import ChainUnavailableError, InvalidInputError, VcsdkError
from wallet_server._logging import configure_logging
from wallet_server.app import create_app, pg_timeouts, system_clock
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


async def _prepare_database(settings: Settings) -> None:
    """Create and migrate the wallet's tables and the receipt outbox's, once, before workers start.

    Workers that all opened a new SQLite file at once raced to switch it to WAL and migrate it, and
    the losers stopped at start (``database is locked``) until they were replaced.
    """
    from vcsdk.outbox import PostgresReceiptStore, SqliteReceiptStore

    store = await open_store(settings.database_url, schema=settings.database_schema,
                             timeouts=pg_timeouts(settings), pool_size=1)  # fmt: skip
    try:
        if store.dialect == "sqlite":
            outbox: SqliteReceiptStore | PostgresReceiptStore = await SqliteReceiptStore.open(
                settings.database_url.split("sqlite:///", 1)[-1]
            )
        else:
            outbox = await PostgresReceiptStore.open(
                settings.database_url, schema=settings.database_schema, max_size=1, timeouts=pg_timeouts(settings)
            )
        await outbox.close()
    finally:
        await store.close()


def serve(args: argparse.Namespace) -> int:
    """Load settings (the one place that reads ``os.environ``) and run the server until interrupted.

    With ``--rewrap-keys``: re-wrap residents' data keys under the current server key, then exit.
    With ``workers`` above one: that many processes serve the same listening socket.
    """
    settings = load_settings(args, os.environ)
    configure_logging(settings.log_level)
    if getattr(args, "rewrap_keys", False):
        count = asyncio.run(_rewrap(settings))
        sys.stdout.write(f"re-wrapped {count} resident data keys under {settings.current_data_key}\n")
        return 0
    banner = _banner(args, settings)
    if settings.workers == 1:
        _run(settings, banner=banner)
        return 0
    if settings.rpc_url is None:
        raise InvalidInputError(
            "several workers need a chain node (rpc_url): the embedded chain lives inside one process"
        )
    _run_workers(settings, banner=banner)
    return 0


def _banner(args: argparse.Namespace, settings: Settings) -> str:
    """Where the server listens, and where the development admin token is (if it made one)."""
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    lines = [f"wallet server on {base} (API page: {base}/docs); Ctrl-C stops it"]
    keys_file = _dev_keys_file(args, settings)
    if keys_file is not None:
        lines.append(f"development keys and the admin token (dev_admin_token): {keys_file}")
    return "\n".join(lines)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _run(settings: Settings, sock: socket.socket | None = None, *, banner: str | None = None) -> None:
    # aiohttp's own access log would print client addresses and full paths; ours logs route templates.
    app = create_app(settings)
    app.on_startup.append(_set_up_city)  # after the app's own start-up contexts
    if banner is not None:

        async def announce(_: web.Application) -> None:
            _say(banner)

        app.on_startup.append(announce)
    app.on_startup.append(_freeze_startup_objects)  # last: after the city's set-up
    loop = _new_loop(settings)
    if sock is None:
        web.run_app(app, host=settings.host, port=settings.port, access_log=None, print=None, loop=loop)
    else:
        web.run_app(app, sock=sock, access_log=None, print=None, loop=loop)


async def _freeze_startup_objects(_: web.Application) -> None:
    """Move what start-up made (modules, the app, the city's state: about 125,000 objects, which
    live as long as the process) out of the cyclic collector's reach. A full collection over them
    took about 60 ms, a pause every request in flight waited through (the p99 latency under load)."""
    gc.collect()
    gc.freeze()


def _new_loop(settings: Settings) -> asyncio.AbstractEventLoop:
    """The event loop the server runs on (``settings.event_loop``)."""
    if settings.event_loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _run_workers(settings: Settings, *, banner: str) -> None:
    """Fork ``settings.workers`` processes onto one listening socket; restart any that dies.

    Forked before any event loop or thread exists. SIGTERM or SIGINT stops them all.
    """
    log = logging.getLogger("wallet_server.workers")
    asyncio.run(_prepare_database(settings))
    for thread in threading.enumerate():  # the database's connection threads, ending after their close
        if thread is not threading.current_thread():
            thread.join(timeout=5.0)
    sock = socket.create_server((settings.host, settings.port), backlog=1024)
    _say(banner)
    stopping = False

    def spawn() -> int:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                _run(settings, sock)
            except BaseException:
                log.exception("worker failed", extra={"event": "worker_failed"})
                code = 1
            os._exit(code)
        return pid

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)

    children = {spawn(): time.monotonic() for _ in range(settings.workers)}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        log.warning("a worker stopped; starting another", extra={"event": "worker_restarted"})
        if time.monotonic() - started < 1.0:
            time.sleep(1.0)  # a worker that dies at start must not spin
        children[spawn()] = time.monotonic()
    sock.close()


def _dev_keys_file(args: argparse.Namespace, settings: Settings) -> Path | None:
    """The development keys file the settings came from (SQLite without configured keys), if any."""
    if not settings.database_url.startswith("sqlite:"):
        return None
    path = Path(getattr(args, "keys_file", None) or settings.database_url.split("///", 1)[-1] + ".keys.json")
    return path.resolve() if path.is_file() else None


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
