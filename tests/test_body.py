"""Capped body reads take the whole body even when it arrives in several network reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from vcsdk._body import read_capped
from vcsdk.errors import InvalidInputError, ProtocolError
from vcsdk.oid4vc import HttpRequest, send
from vcsdk.oid4vc._http import MAX_RESPONSE_BYTES
from vcsdk.voting._http import _json_body

PIECES = [b'{"access_receipt": "', b"a" * 70_000, b"b" * 5, b'"}']


async def _in_pieces(request: web.Request) -> web.StreamResponse:
    """A body written in pieces, each flushed and followed by a pause, so the client reads it in several reads."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = sum(len(p) for p in PIECES) if request.query.get("length") else None
    await response.prepare(request)
    for piece in PIECES:
        await response.write(piece)
        await asyncio.sleep(0.02)
    await response.write_eof()
    return response


async def _too_large(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    piece = b"x" * 65_536
    for _ in range(MAX_RESPONSE_BYTES // len(piece) + 2):
        await response.write(piece)
    await response.write_eof()
    return response


@pytest.mark.parametrize("length", ["", "1"], ids=["chunked", "content-length"])
async def test_send_reads_a_response_that_arrives_in_pieces(aiohttp_server, length):
    app = web.Application()
    app.router.add_get("/pieces", _in_pieces)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        answer = await send(session, HttpRequest("GET", str(server.make_url("/pieces")) + f"?length={length}"))
    assert answer.body == b"".join(PIECES)
    assert answer.json_object(what="answer")["access_receipt"].endswith("bbbbb")


async def test_send_refuses_a_response_over_the_cap_in_pieces(aiohttp_server):
    app = web.Application()
    app.router.add_get("/big", _too_large)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProtocolError) as caught:
            await send(session, HttpRequest("GET", str(server.make_url("/big"))))
    assert caught.value.code == "invalid_response"


async def _pieces_body(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(("cap", "size"), [(100_000, 70_000), (100_000, 100_000), (10, 11), (10, 200_000)])
async def test_read_capped_reads_to_the_end_and_no_further_than_the_cap(aiohttp_server, cap, size):
    seen: list[int] = []

    async def read(request: web.Request) -> web.Response:
        body = await read_capped(request.content, cap)
        seen.append(len(body))
        return web.Response(text="ok")

    app = web.Application(client_max_size=1_000_000)
    app.router.add_post("/", read)
    server = await aiohttp_server(app)
    data = b"z" * size
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/"), data=_pieces_body([data[: size // 3], data[size // 3 :]])) as r:
            assert r.status == 200
    if size <= cap:
        assert seen == [size]
    else:
        assert cap < seen[0] <= size  # over the cap: the caller refuses it; not read to the end


async def test_a_voting_request_body_in_pieces_is_read_whole(aiohttp_server):
    async def echo(request: web.Request) -> web.Response:
        try:
            return web.json_response(await _json_body(request, what="ballot", max_bytes=100_000))
        except InvalidInputError as exc:
            return web.json_response({"error": exc.message}, status=400)

    app = web.Application()
    app.router.add_post("/", echo)
    server = await aiohttp_server(app)
    body = json.dumps({"choice": "a" * 50_000, "token": "t"}).encode()
    async with aiohttp.ClientSession() as session:
        async with session.post(
            server.make_url("/"), data=_pieces_body([body[:7], body[7:30_000], body[30_000:]])
        ) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["token"] == "t"
        too_big = json.dumps({"choice": "a" * 150_000}).encode()
        async with session.post(server.make_url("/"), data=_pieces_body([too_big[:50_000], too_big[50_000:]])) as r:
            assert r.status == 400
            assert "larger than" in (await r.json())["error"]


async def test_a_negative_cap_is_refused_not_read_without_bound() -> None:
    stream = aiohttp.StreamReader(protocol=_NoProtocol(), limit=2**16, loop=asyncio.get_running_loop())
    stream.feed_data(b"x" * 10)
    stream.feed_eof()
    with pytest.raises(ValueError, match="negative"):
        await read_capped(stream, -2)
    assert await read_capped(stream, 0) == b"x"  # over a cap of 0: one byte, nothing more


class _NoProtocol:
    """A stream's protocol for a stream fed by the test itself: never paused, never resumed."""

    _reading_paused = False

    def pause_reading(self) -> None: ...

    def resume_reading(self, *, resume_parser: bool = True) -> None: ...


async def test_a_form_that_is_not_utf8_is_invalid_request(aiohttp_server) -> None:
    from vcsdk.oid4vc._http import read_form

    async def form(request: web.Request) -> web.Response:
        try:
            return web.json_response(await read_form(request, strict=True))
        except ProtocolError as exc:
            return web.json_response({"error": exc.code, "message": exc.message}, status=400)

    app = web.Application()
    app.router.add_post("/", form)
    server = await aiohttp_server(app)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/"), data=b"grant_type=\xff\xfe", headers=headers) as r:
            assert r.status == 400 and (await r.json())["error"] == "invalid_request"
        async with session.post(server.make_url("/"), data=b"code=%C3%A9", headers=headers) as r:
            assert r.status == 200 and (await r.json()) == {"code": "é"}
