"""A real status server on 127.0.0.1 and a fixed-key resolver for the checker tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from aiohttp import web

from vcsdk.errors import KeyNotFoundError
from vcsdk.keys import Key
from vcsdk.status import StatusListStore, status_list_routes

ISSUER = "did:ethr:0x7a69:0x1111111111111111111111111111111111111111"
KID = ISSUER + "#status-key"


class FixedResolver:
    """Resolves exactly one issuer DID and kid to one key."""

    def __init__(self, key: Key, issuer: str = ISSUER, kid: str = KID) -> None:
        self.key, self.issuer, self.kid = key.public_key(), issuer, kid

    async def resolve_key(self, issuer: str, kid: str | None, *, relationship: str = "assertionMethod",
                          at: datetime | None = None) -> Key:
        if issuer != self.issuer or kid != self.kid:
            raise KeyNotFoundError("no key with that kid in the issuer's DID document")
        return self.key


@dataclass
class StatusServer:
    base: str
    store: StatusListStore
    hits: list[tuple[str, int]] = field(default_factory=list)
    extra: dict[str, Callable[[], web.StreamResponse]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
async def status_server(aiohttp_server) -> AsyncIterator[StatusServer]:  # type: ignore[no-untyped-def]
    store = StatusListStore()
    server_ref: list[StatusServer] = []

    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        srv = server_ref[0]
        if request.path in srv.extra:
            resp = srv.extra[request.path]()
            srv.hits.append((request.path, resp.status))
            return resp
        resp = await handler(request)
        srv.hits.append((request.path, resp.status))
        return resp

    app = web.Application(middlewares=[record])
    app.add_routes(status_list_routes(store))
    server = await aiohttp_server(app, host="127.0.0.1")
    srv = StatusServer(f"http://127.0.0.1:{server.port}", store)
    server_ref.append(srv)
    yield srv
