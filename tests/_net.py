"""Loopback networking for tests: free and closed ports, and an aiohttp app served on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from aiohttp import web


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Bound, then released: nothing listens there once this returns, so it also serves as a closed
    port (a node or service that is down), and as the port of a server whose handlers must know
    their own URL before it starts.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve(app: web.Application | Iterable[web.RouteDef], *, port: int = 0) -> AsyncIterator[str]:
    """Serve an app (or a route table) on 127.0.0.1 for the block; yield its base URL ``http://127.0.0.1:<port>``."""
    if not isinstance(app, web.Application):
        routes = app
        app = web.Application()
        app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
