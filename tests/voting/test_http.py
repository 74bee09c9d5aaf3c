"""The voting routes answer garbage with a 4xx JSON error, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from vcsdk.voting import voting_routes

from .test_service import ELECTION, Svc, svc  # noqa: F401 - the fixture


@pytest.fixture
async def client(svc: Svc, aiohttp_client: Any) -> Any:  # noqa: F811
    app = web.Application()
    app.add_routes(voting_routes(svc.service, clock=svc.clock))
    return await aiohttp_client(app)


BASE = "/e/2026"
ZERO = "0x" + "00" * 32


async def test_election_description(client: Any) -> None:
    answer = await client.get(f"{BASE}/")
    assert answer.status == 200 and (await answer.json())["election_id"] == ELECTION.election_id


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/ballots", b"not json", 400, None),
        ("POST", "/ballots", b"[]", 400, "invalid_input"),
        ("POST", "/ballots", b'{"ballot_token": "t", "choice": "Sato"}', 400, "invalid_input"),
        ("POST", "/ballots", b'{"ballot_token": 1, "choice": "Sato", "salt": "' + ZERO.encode() + b'"}', 400, None),
        ("POST", "/ballots", b'{"ballot_token": "t", "choice": "Sato", "salt": "0x12"}', 400, "invalid_input"),
        ("POST", "/ballots", b'{"ballot_token": "t", "choice": "Nobody", "salt": "' + ZERO.encode() + b'"}', 400,
         "invalid_input"),
        ("POST", "/ballots", b'{"ballot_token": "t", "choice": "Sato", "salt": "' + ZERO.encode() + b'"}', 404,
         "invalid_ballot_token"),
        ("POST", "/ballots", b"{" * 100_000, 400, None),
        ("GET", "/receipts/garbage", b"", 400, "invalid_input"),
        ("GET", f"/receipts/{ZERO}", b"", 404, "not_found"),
        ("POST", "/oid4vp/response", b"", 400, "invalid_request"),
        ("POST", "/oid4vp/response", b"state=unknown&vp_token=%7B%7D", 400, "invalid_request"),
        ("GET", "/oid4vp/request/unknown", b"", 400, "invalid_request"),
        ("GET", "/results", b"", 409, "voting_open"),
    ],
)
async def test_garbage_gets_a_4xx(client: Any, method: str, path: str, body: bytes, status: int, code: str) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if "oid4vp" in path else {}
    answer = await client.request(method, BASE + path, data=body, headers=headers)
    assert answer.status == status
    error = await answer.json()
    assert set(error) == {"error", "error_description"}
    if code is not None:
        assert error["error"] == code


async def test_sessions_are_refused_after_the_period(client: Any, svc: Svc) -> None:  # noqa: F811
    assert (await client.post(f"{BASE}/sessions")).status == 201
    svc.clock.now = ELECTION.closes_at
    answer = await client.post(f"{BASE}/sessions")
    assert answer.status == 409 and (await answer.json())["error"] == "voting_closed"
