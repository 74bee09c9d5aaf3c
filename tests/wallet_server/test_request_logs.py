"""What a malformed or abandoned request leaves in the logs: no client address, no header bytes.

docs/operations.md promises logs never hold tokens or client addresses. aiohttp's own "Error handling
request from <address>" line carries both (its exception text quotes the raw header line), at error
level with a traceback; a client that disconnects while sending its body used to be logged as an
``unhandled_error`` with a traceback. Both are the client's doing: one info line, nothing else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._net import serve
from tests.wallet_server.conftest import make_settings
from wallet_server import create_app

#: Loggers the server writes in production (aiohttp's access log is off there: ``access_log=None``).
_LOGGERS = ("aiohttp.server", "aiohttp.web", "wallet_server")
SECRET = "DPoP eyJzZWNyZXQiOiJ0b2tlbi12YWx1ZSJ9.c2VjcmV0.c2lnbmF0dXJl"


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    # Not the city's set-up, which may warn about its development key when the first request opens
    # it: that is start-up, not the handling of the request under test.
    return [r for r in caplog.records if r.name.startswith(_LOGGERS) and r.name != "wallet_server.city"]


@pytest.fixture
async def server(database, clock) -> AsyncIterator[tuple[str, int]]:  # type: ignore[no-untyped-def]
    # As in production (web.run_app, access log off): a handler is not cancelled when its client
    # leaves (aiohttp's test server cancels it, which hides what production does).
    async with serve(create_app(make_settings(database), clock=clock)) as base:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        yield host, int(port)


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    out = []
    for record in _records(caplog):
        out.append(record.getMessage())
        if record.exc_info:
            out.append(logging.Formatter().formatException(record.exc_info))
        out.extend(str(v) for v in record.__dict__.values())
    return "\n".join(out)


async def _raw(server: tuple[str, int], data: bytes, *, close_early: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(data)
    await writer.drain()
    if close_early:
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.2)  # let the server notice
        return b""
    answer = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    return answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: " + SECRET.encode() + b"\r\nBad\x01Header: y\r\n\r\n",
        b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: " + SECRET.encode() + b"\x00\x01\r\n\r\n",
        b"GET /v1/me HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\nAuthorization: "
        + SECRET.encode() + b"\r\n\r\nhello",
        b"GET /v1/me\x00 HTTP/1.1\r\nAuthorization: " + SECRET.encode() + b"\r\n\r\n",
    ],
)
async def test_malformed_requests_log_no_address_and_no_header_bytes(server, caplog, request_bytes) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    answer = await _raw(server, request_bytes)
    assert answer.split(b" ")[1] == b"400", answer[:100]
    text = _all_text(caplog)
    assert "c2VjcmV0" not in text and "eyJzZWNyZXQi" not in text, text
    assert "127.0.0.1" not in text, text
    assert not [r for r in _records(caplog) if r.levelno >= logging.WARNING], [r.getMessage() for r in _records(caplog)]
    assert [r for r in _records(caplog) if getattr(r, "event", None) == "malformed_request"]


async def test_a_client_leaving_during_its_body_is_not_an_unhandled_error(server, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    head = (
        b"POST /v1/enrolment HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n\r\n{\"code\": \"abc"
    )
    await _raw(server, head, close_early=True)
    for _ in range(50):  # the server handles the disconnect in its own time: wait for its log line
        if any(getattr(r, "event", None) == "client_disconnected" for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    events = [getattr(r, "event", None) for r in _records(caplog)]
    assert "unhandled_error" not in events, _all_text(caplog)
    assert not [r for r in _records(caplog) if r.levelno >= logging.WARNING], [r.getMessage() for r in _records(caplog)]
    assert "client_disconnected" in events, [(r.getMessage(), r.__dict__.get("status")) for r in _records(caplog)]


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_log_timestamps_are_datetimes_isoformat(created: float) -> None:
    # The JSON lines format the date and time once per second; the text is what datetime writes.
    from datetime import UTC, datetime

    from wallet_server._logging import JsonFormatter

    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert JsonFormatter()._timestamp(created) == expected
    record = logging.LogRecord("wallet_server.access", logging.INFO, "", 0, "request", None, None)
    record.created = created
    line = JsonFormatter().format(record)
    assert json.loads(line) == {"ts": expected, "level": "info", "logger": "wallet_server.access", "msg": "request"}
