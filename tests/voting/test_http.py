"""The voting and token-issuer routes answer garbage with a 4xx JSON error, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from vcsdk.credentials import StaticKeyResolver
from vcsdk.voting import BallotTokenIssuer, generate_token_keys, token_issuer_routes, voting_routes

from ._mint import mint
from .conftest import LedgerOpener
from .test_service import ELECTION, KEY, PRIVATE, Svc, svc  # noqa: F401 - the fixture

ZERO = "0x" + "00" * 32
TOKEN = json.dumps(mint(KEY, ELECTION, private=PRIVATE).to_json())


@pytest.fixture
async def client(svc: Svc, aiohttp_client: Any) -> Any:  # noqa: F811
    app = web.Application()
    app.add_routes(voting_routes(svc.service, clock=svc.clock))
    return await aiohttp_client(app)


@pytest.fixture
async def city(open_ledger: LedgerOpener, svc: Svc, aiohttp_client: Any) -> AsyncIterator[Any]:  # noqa: F811
    ledger = await open_ledger()
    issuer = BallotTokenIssuer(election=svc.election, keys=generate_token_keys(svc.election), ledger=ledger,
                               audience="https://city.example/voting", resolver=StaticKeyResolver({}),
                               issuers=["did:example:city"], vct="https://v.example/V", status=None, clock=svc.clock)
    app = web.Application()
    app.add_routes(token_issuer_routes(issuer, clock=svc.clock))
    try:
        yield await aiohttp_client(app)
    finally:
        await ledger.close()


BASE = "/e/2026"


async def test_election_description_has_what_the_device_needs(client: Any, svc: Svc) -> None:  # noqa: F811
    answer = await client.get(f"{BASE}/")
    body = await answer.json()
    assert answer.status == 200 and body["election"]["election_id"] == ELECTION.election_id
    assert body["token_keys"] == [KEY.to_json()] and body["anchor"]["contract"] == svc.anchor.address


def _ballot(token: str = TOKEN, choice: str = "Sato", salt: str = ZERO) -> bytes:
    return f'{{"token": {token}, "choice": "{choice}", "salt": "{salt}"}}'.encode()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/ballots", b"not json", 400, None),
        ("POST", "/ballots", b"[]", 400, "invalid_input"),
        ("POST", "/ballots", b'{"token": {}, "choice": "Sato"}', 400, "invalid_input"),
        ("POST", "/ballots", _ballot(token="1"), 401, "invalid_ballot_token"),
        ("POST", "/ballots", _ballot(token='{"serial": "x"}'), 401, "invalid_ballot_token"),
        ("POST", "/ballots", _ballot(salt="0x12"), 400, "invalid_input"),
        ("POST", "/ballots", _ballot(choice="Nobody"), 400, "invalid_input"),
        ("POST", "/ballots", _ballot(token=TOKEN.replace('"signature": "', '"signature": "AA')), 401,
         "invalid_ballot_token"),
        ("POST", "/ballots", b"{" * 100_000, 400, None),
        ("GET", "/receipts/garbage", b"", 400, "invalid_input"),
        ("GET", f"/receipts/{ZERO}", b"", 404, "not_found"),
        ("GET", "/results", b"", 409, "voting_open"),
        ("POST", "/sessions", b"", 404, None),  # no OpenID4VP at the ballot box any more
        ("GET", "/ballot", b"", 404, None),
    ],
)
async def test_garbage_gets_a_4xx(client: Any, method: str, path: str, body: bytes, status: int, code: str) -> None:
    answer = await client.request(method, BASE + path, data=body)
    assert answer.status == status
    if code is not None:
        error = await answer.json()
        assert set(error) == {"error", "error_description"} and error["error"] == code


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/sign", b"not json", 400, None),
        ("POST", "/sign", b"[]", 400, "invalid_input"),
        ("POST", "/sign", b'{"presentation": "a"}', 400, "invalid_input"),
        ("POST", "/sign", b'{"presentation": 1, "nonce": "n", "blinded_msg": "AA"}', 400, "invalid_input"),
        ("POST", "/sign", b'{"presentation": "a.b.c~", "nonce": "n", "blinded_msg": "%%"}', 400, "invalid_input"),
        ("POST", "/sign", b'{"presentation": "a.b.c~", "nonce": "n", "blinded_msg": "AA"}', 400, "invalid_nonce"),
        ("POST", "/sign", b"{" * 200_000, 400, None),
        ("GET", "/sign", b"", 405, None),
    ],
)
async def test_token_issuer_garbage_gets_a_4xx(city: Any, method: str, path: str, body: bytes, status: int,
                                               code: str) -> None:
    answer = await city.request(method, "/voting" + path, data=body)
    assert answer.status == status
    if code is not None:
        assert (await answer.json())["error"] == code


async def test_token_issuer_keys_and_nonces(city: Any, svc: Svc) -> None:  # noqa: F811
    keys = await (await city.get("/voting/keys")).json()
    assert keys["election_id"] == ELECTION.election_id and keys["variant"] == "RSABSSA-SHA384-PSS-Randomized"
    assert [k["district"] for k in keys["keys"]] == [None]
    nonce = await city.post("/voting/nonce")
    assert nonce.status == 201 and nonce.headers["Cache-Control"] == "no-store"
    svc.clock.now = svc.election.closes_at
    closed = await city.post("/voting/nonce")
    assert closed.status == 409 and (await closed.json())["error"] == "voting_closed"


WALLET = "https://wallet.city.example"


@pytest.fixture
async def cors_client(svc: Svc, aiohttp_client: Any) -> Any:  # noqa: F811
    app = web.Application()
    app.add_routes(voting_routes(svc.service, clock=svc.clock, allow_origins=[WALLET]))
    return await aiohttp_client(app)


async def test_the_ballot_page_origin_may_call_the_service_from_a_browser(cors_client: Any) -> None:
    """The wallet's origin gets CORS answers (preflight, then the real request); another origin none."""
    preflight = await cors_client.options(f"{BASE}/ballots", headers={
        "Origin": WALLET, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == WALLET
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    answer = await cors_client.get(f"{BASE}/", headers={"Origin": WALLET})
    assert answer.status == 200 and answer.headers["Access-Control-Allow-Origin"] == WALLET
    refused = await cors_client.post(f"{BASE}/ballots", data=_ballot(token="1"), headers={"Origin": WALLET})
    assert refused.status == 401 and refused.headers["Access-Control-Allow-Origin"] == WALLET  # errors readable too

    other = "https://evil.example"
    preflight = await cors_client.options(f"{BASE}/ballots", headers={"Origin": other,
                                                                       "Access-Control-Request-Method": "POST"})
    assert preflight.status == 403 and "Access-Control-Allow-Origin" not in preflight.headers
    answer = await cors_client.get(f"{BASE}/", headers={"Origin": other})
    assert "Access-Control-Allow-Origin" not in answer.headers


async def test_without_allowed_origins_there_is_no_cors(client: Any) -> None:
    answer = await client.get(f"{BASE}/", headers={"Origin": WALLET})
    assert answer.status == 200 and "Access-Control-Allow-Origin" not in answer.headers
    preflight = await client.options(f"{BASE}/ballots", headers={"Origin": WALLET,
                                                                  "Access-Control-Request-Method": "POST"})
    assert preflight.status == 405


@pytest.mark.parametrize("origins", [["wallet.example"], ["https://w.example/app"], "https://w.example", ["ftp://x"]])
def test_allowed_origins_are_plain_origins(svc: Svc, origins: Any) -> None:  # noqa: F811
    from vcsdk.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        voting_routes(svc.service, clock=svc.clock, allow_origins=origins)
