"""The web pages the server hosts, and their static files.

- ``/app/``: the residents' web wallet (a PWA: plain ES modules, no build step; the device key is a
  non-extractable WebCrypto key in the browser's IndexedDB);
- ``/console/``: the city staff's console (admin tokens);
- ``/docs``: the API reference (Swagger UI, :mod:`wallet_server.api_docs`);
- ``/static/…``: files under ``wallet_server/web/`` (the pages' scripts and styles, and the pinned
  third-party assets ``make setup`` copies into ``web/vendor/``).

Every file comes from this origin; the pages' Content-Security-Policy allows nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from vcsdk.errors import NotFoundError
from wallet_server.appkeys import SETTINGS

__all__ = ["PAGE_PREFIXES", "STATIC_PREFIX", "WEB_DIR", "page_csp", "page_routes"]

WEB_DIR = Path(__file__).resolve().parent / "web"
STATIC_PREFIX = "/static/"
# Only these kinds of file are served; anything else under web/ is not a web asset.
_MEDIA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".html": "text/html",
}
# Plain names only: no "..", no hidden files, no NUL, backslash or percent tricks.
_RELATIVE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}){0,5}")
def page_csp(connect_origins: tuple[str, ...] = ()) -> str:
    """The pages' Content-Security-Policy: scripts, styles, images and API calls from this origin
    only (plus ``connect_origins``, which the ballot page calls: the voting service, the city's
    ballot-token issuer, a chain node); the camera for QR codes; no framing, no plugins."""
    connect = " ".join(("'self'", *connect_origins))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"media-src 'self' blob: mediastream:; connect-src {connect}; worker-src 'self'; manifest-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


_PAGE_HEADERS = {
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
#: Where the pages live (not API operations, so not in the OpenAPI document).
PAGE_PREFIXES = ("/app", "/console", STATIC_PREFIX)
# Revalidate on every use (the file's ETag makes that a 304): a server upgrade shows at once.
_STATIC_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _web_file(relative: str) -> Path:
    """The file under :data:`WEB_DIR` that ``relative`` names.

    :raises NotFoundError: for anything outside it, hidden, of an unknown kind, or missing.
    """
    if not _RELATIVE.fullmatch(relative):
        raise NotFoundError("no such file")
    path = (WEB_DIR / relative).resolve()
    if not path.is_relative_to(WEB_DIR) or path.suffix not in _MEDIA_TYPES or not path.is_file():
        raise NotFoundError("no such file")
    return path


async def static_file(request: web.Request) -> web.FileResponse:
    path = _web_file(request.match_info["path"])
    return web.FileResponse(path, headers={**_STATIC_HEADERS, "Content-Type": _MEDIA_TYPES[path.suffix]})


def _page(request: web.Request, relative: str) -> web.FileResponse:
    path = _web_file(relative)
    csp = page_csp(request.app[SETTINGS].web_connect_origins)
    headers = {**_PAGE_HEADERS, "Content-Security-Policy": csp, "Content-Type": _MEDIA_TYPES[path.suffix]}
    return web.FileResponse(path, headers=headers)


async def wallet_page(request: web.Request) -> web.FileResponse:
    return _page(request, "app/index.html")


async def wallet_manifest(request: web.Request) -> web.FileResponse:
    return _page(request, "app/manifest.webmanifest")


async def wallet_worker(request: web.Request) -> web.FileResponse:
    # Served under /app/ so that its scope is the wallet's.
    return _page(request, "app/sw.js")


async def console_page(request: web.Request) -> web.FileResponse:
    return _page(request, "console/index.html")


def _redirect(to: str) -> web.RouteDef:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(to)

    return web.get(to.rstrip("/"), handler)


def page_routes() -> list[web.RouteDef]:
    """The pages and their static files (``/docs`` is declared in the route table)."""
    return [
        web.get("/app/", wallet_page),
        web.get("/app/manifest.webmanifest", wallet_manifest),
        web.get("/app/sw.js", wallet_worker),
        web.get("/console/", console_page),
        _redirect("/app/"),
        _redirect("/console/"),
        web.get(STATIC_PREFIX + "{path:.+}", static_file),
    ]
