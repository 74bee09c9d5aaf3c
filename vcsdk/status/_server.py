"""A small aiohttp status server: serves published status list tokens with ETag and Cache-Control.

The city mounts :func:`status_list_routes` in its own app (or runs :func:`create_status_app`);
tests run it on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from aiohttp import web

__all__ = ["PublishedStatusList", "StatusListStore", "create_status_app", "status_list_routes"]

TOKEN_MEDIA_TYPE: Final = "application/statuslist+jwt"  # noqa: S105 (a media type)
VC_MEDIA_TYPE: Final = "application/vc+jwt"


@dataclass(frozen=True, slots=True)
class PublishedStatusList:
    """One published list: the signed token, its media type, cache lifetime and ETag."""

    token: bytes
    media_type: str
    max_age: int
    etag: str


class StatusListStore:
    """Published lists by URL path (``/status/1``), replaced on each publication."""

    def __init__(self) -> None:
        self._lists: dict[str, PublishedStatusList] = {}

    def publish(self, path: str, token: str | bytes, *, max_age: int, media_type: str = TOKEN_MEDIA_TYPE) -> None:
        """Serve ``token`` at ``path`` from now on.

        :param max_age: ``Cache-Control: max-age`` seconds; use the list's ``ttl``.
        """
        body = token.encode("ascii") if isinstance(token, str) else token
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        self._lists[path] = PublishedStatusList(body, media_type, max_age, etag)

    def get(self, path: str) -> PublishedStatusList | None:
        """The list published at ``path``, if any."""
        return self._lists.get(path)


def status_list_routes(store: StatusListStore) -> list[web.RouteDef]:
    """GET routes serving every list in ``store``; answers 304 to a matching ``If-None-Match``."""

    async def serve(request: web.Request) -> web.StreamResponse:
        published = store.get(request.path)
        if published is None:
            raise web.HTTPNotFound()
        headers = {"ETag": published.etag, "Cache-Control": f"public, max-age={published.max_age}"}
        if published.etag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
            return web.Response(status=304, headers=headers)
        return web.Response(body=published.token, content_type=published.media_type, headers=headers)

    return [web.get("/{path:.*}", serve)]


def create_status_app(store: StatusListStore) -> web.Application:
    """An aiohttp application that serves ``store``."""
    app = web.Application()
    app.add_routes(status_list_routes(store))
    return app
