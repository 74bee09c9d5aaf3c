"""HTTP hygiene: garbage never gives 5xx, problem+json everywhere, request ids, CORS, limits, logs."""

from __future__ import annotations

import json
import logging
import re
import secrets

import pytest
from aiohttp import web

from tests.wallet_server._helpers import ISSUER_TOKEN, admin_headers, new_resident
from tests.wallet_server.conftest import APP_ORIGIN, make_settings
from vcsdk.errors import SignatureInvalidError, TokenExpiredError
from wallet_server import create_app
from wallet_server.errors import AccessTokenExpiredError, AuthenticationError
from wallet_server.ratelimit import RateLimit
from wallet_server.routes import ROUTES

GARBAGE_BODIES: list[tuple[str, bytes]] = [
    ("application/json", b"{not json"),
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b'"a string"'),
    ("application/json", b"null"),
    ("application/json", b'{"a": 1, "a": 2}'),
    ("application/json", b"\xff\xfe\x00"),
    (
        "application/json",
        b'{"code": 1, "public_jwk": "x", "name": [], "device_id": {}, "assertion": 5, '
        b'"refresh_token": null, "credential": {}, "format": 7, "metadata": "m", "resident_id": []}',
    ),
    (
        "application/json",
        b'{"resident_id": "res_x", "family_name": 1, "given_name": [], "birthdate": 5, "address": {}, '
        b'"device_id": null, "issuer": 3, "credential_type": [], "valid_from": 1, "valid_until": "x"}',
    ),
    (
        "application/json",
        b'{"resident_id": "res_x", "family_name": "a", "given_name": "b", "birthdate": "1990-13-45", '
        b'"address": "c", "issuer": "did:x", "credential_type": "t", "valid_from": "0000-00-00T00:00:00Z"}',
    ),
    ("application/json", b"[" * 5000 + b"]" * 5000),
    ("text/plain", b"hello"),
    ("application/x-www-form-urlencoded", b"a=1&b=2"),
]
BAD_AUTH = [
    {},
    {"Authorization": "DPoP"},
    {"Authorization": "DPoP a.b.c", "DPoP": "x.y.z"},
    {"Authorization": "Bearer " + "A" * 8100},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "DPoP eyJhbGciOiJub25lIn0.e30.", "DPoP": "eyJhbGciOiJub25lIn0.e30."},
]


def concrete(path: str, *, ident: str = "res_%00%2F..") -> str:
    return re.sub(r"\{\w+\}", ident, path)


async def assert_client_error(resp, what: str) -> None:
    assert 400 <= resp.status < 500, f"{what}: {resp.status} {await resp.text()}"
    assert resp.content_type == "application/problem+json", what
    body = await resp.json()
    assert body["status"] == resp.status and body["code"] and "Traceback" not in json.dumps(body)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method != "GET"], ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.matrix
async def test_garbage_bodies_give_4xx(client, clock, route) -> None:
    phone = await new_resident(client, clock)
    path = concrete(route.path)
    for content_type, body in GARBAGE_BODIES:
        # Operator and issuer tokens both: each admin route's body is parsed by the role it needs.
        for headers in ({}, admin_headers(), admin_headers(ISSUER_TOKEN), phone.auth_headers(route.method, path)):
            resp = await client.request(
                route.method, path, data=body, headers={"Content-Type": content_type, **headers}
            )
            if route.body is None and resp.status < 400:
                continue  # a route without a body may ignore one; it must just not fail
            await assert_client_error(resp, f"{content_type} {body[:30]!r}")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.auth != "none"], ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.matrix
async def test_bad_tokens_give_401(client, route) -> None:
    for headers in BAD_AUTH:
        # An id of the shape this server makes: a NUL in the path is answered 404 before any
        # authentication, like a path that matches no route (tests/wallet_server/test_unstorable_text.py).
        path = concrete(route.path, ident="res_x")
        resp = await client.request(route.method, path, json={"refresh_token": "rt"}, headers=headers)
        await assert_client_error(resp, str(headers)[:40])
        assert resp.status == 401


async def test_huge_bodies_are_refused_before_parsing(client, clock) -> None:
    phone = await new_resident(client, clock)
    huge = {"credential": "A" * (70 * 1024), "format": "dc+sd-jwt"}
    resp = await phone.call("POST", "/v1/credentials", json=huge)
    await assert_client_error(resp, "huge")
    assert resp.status == 413 and (await resp.json())["code"] == "payload_too_large"
    for route in [r for r in ROUTES if r.body is not None]:
        resp = await client.request(
            route.method,
            concrete(route.path, ident="res_x"),
            data=b"{" + b" " * 70_000 + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert resp.status in (401, 413), route.path


async def test_unknown_routes_and_methods_are_problems(client) -> None:
    resp = await client.get("/nope")
    await assert_client_error(resp, "unknown path")
    assert resp.status == 404
    resp = await client.put("/v1/credentials")
    await assert_client_error(resp, "wrong method")
    assert resp.status == 405 and "GET" in resp.headers["Allow"]


async def test_unexpected_errors_are_500_problems_without_details(aiohttp_client, settings, caplog) -> None:
    app = create_app(settings)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="wallet_server.errors"):
        resp = await client.get("/boom", headers={"X-Request-Id": "req-123"})
    assert resp.status == 500
    body = await resp.json()
    assert body["code"] == "internal_error" and body["request_id"] == "req-123"
    assert "secret" not in json.dumps(body) and "Traceback" not in json.dumps(body)
    assert any(getattr(r, "request_id", None) == "req-123" for r in caplog.records)


async def test_only_the_callers_own_credentials_answer_401(aiohttp_client, settings) -> None:
    """A check that fails on another party's material while serving a request (a service's
    signature, an issuer's expired token) is a 400 with the check's code: a 401 would tell the app
    to log the resident in again. The caller's own login failing stays 401 with its challenge."""
    app = create_app(settings)
    raised: dict[str, Exception] = {
        "peer_signature": SignatureInvalidError("the service's signature does not verify"),
        "peer_expired": TokenExpiredError("the service's token expired"),
        "login": AuthenticationError("the access token is not valid"),
        "access_expired": AccessTokenExpiredError("the access token expired; use the refresh token"),
    }

    async def failing(request: web.Request) -> web.Response:
        raise raised[request.match_info["what"]]

    app.router.add_get("/v1/failing/{what}", failing)
    client = await aiohttp_client(app)
    for what, status, code in [("peer_signature", 400, "signature_invalid"), ("peer_expired", 400, "token_expired"),
                               ("login", 401, "authentication_failed"), ("access_expired", 401, "token_expired")]:
        resp = await client.get(f"/v1/failing/{what}")
        body = await resp.json()
        assert (resp.status, body["code"]) == (status, code), (what, body)
        assert ("WWW-Authenticate" in resp.headers) == (status == 401), what


async def test_security_headers(client) -> None:
    for path in ("/health", "/docs", "/nope"):
        resp = await client.get(path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


async def test_request_ids(client) -> None:
    resp = await client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    resp = await client.get("/health", headers={"X-Request-Id": "bad id with spaces\t"})
    assert re.fullmatch(r"[0-9a-f]{16}", resp.headers["X-Request-Id"])
    resp = await client.get("/nope")
    assert (await resp.json())["request_id"] == resp.headers["X-Request-Id"]


async def test_cors(client) -> None:
    preflight = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}
    resp = await client.options("/v1/credentials", headers=preflight)
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "DPoP" in resp.headers["Access-Control-Allow-Headers"]
    resp = await client.options("/v1/credentials", headers={**preflight, "Origin": "https://evil.example"})
    assert resp.status == 403
    resp = await client.get("/health", headers={"Origin": APP_ORIGIN})
    assert resp.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "ETag" in resp.headers["Access-Control-Expose-Headers"]
    resp = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_per_ip_rate_limit(aiohttp_client, database, clock) -> None:
    settings = make_settings(database, ip_rate_limit=RateLimit(rate=0.001, burst=3))
    client = await aiohttp_client(create_app(settings, clock=clock))
    statuses = [(await client.post("/v1/auth/challenge")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    resp = await client.post("/v1/auth/challenge")
    assert resp.content_type == "application/problem+json" and int(resp.headers["Retry-After"]) >= 1
    assert (await client.get("/health")).status == 200  # health checks are never limited


async def test_rate_limits_shared_through_redis(aiohttp_client, database, clock) -> None:
    settings = make_settings(
        database,
        redis_url="redis://127.0.0.1:6379/0",
        redis_prefix=f"wallet-test:{secrets.token_hex(6)}",
        ip_rate_limit=RateLimit(rate=0.001, burst=4),
    )
    first = await aiohttp_client(create_app(settings, clock=clock))
    second = await aiohttp_client(create_app(settings, clock=clock))  # another instance, same Redis
    statuses = [(await c.post("/v1/auth/challenge")).status for c in (first, second, first, second, first)]
    assert statuses == [200, 200, 200, 200, 429]


async def test_per_device_rate_limit(aiohttp_client, database, clock) -> None:
    settings = make_settings(database, device_rate_limit=RateLimit(rate=0.001, burst=2))
    client = await aiohttp_client(create_app(settings, clock=clock))
    alice = await new_resident(client, clock)
    bob = await new_resident(client, clock)
    assert [(await alice.call("GET", "/v1/me")).status for _ in range(3)] == [200, 200, 429]
    assert (await bob.call("GET", "/v1/me")).status == 200  # other devices are unaffected


async def test_openapi_document_and_docs_page(client) -> None:
    doc = await (await client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        assert str(route.status) in op["responses"]
    page = await client.get("/docs")
    assert page.content_type == "text/html"
    assert "/v1/credentials" in await page.text()


async def test_logs_carry_no_tokens_or_keys(client, clock, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        phone = await new_resident(client, clock)
        await phone.call("GET", "/v1/me")
        await phone.call("GET", f"/v1/credentials/{'cred_x'}")
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith("wallet_server"))
    assert "request" in text
    for secret in (phone.access_token, phone.refresh_token, phone.key.public_jwk()["x"], "cred_x"):
        assert secret not in text


@pytest.mark.parametrize(
    "path", ["/issuer/token", "/issuer/par", "/sso/token", "/sso/authorize", "/sso/oid4vp/response", "/v1/auth/token"]
)
async def test_a_form_that_is_not_utf8_is_a_client_error(client, path) -> None:
    """Raw bytes that are not UTF-8 in a form body: a 4xx with the protocol's or the API's error,
    never a 500 (the form is parsed by the storable-text check and by the protocol endpoints)."""
    for body in (b"grant_type=\xff\xfe", b"\xc3=1&code=%FF", b"a=1&b=\xed\xb3\xbf"):
        resp = await client.post(path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert 400 <= resp.status < 500, (path, body, resp.status, await resp.text())
