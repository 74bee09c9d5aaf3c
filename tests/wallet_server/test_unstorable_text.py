"""NUL characters and lone surrogates never reach storage: refused as bad input, on both databases.

PostgreSQL cannot store U+0000 in text, and neither database can store a lone surrogate as UTF-8;
before this rule such values came back as ``503 storage_error`` and were logged as service
failures. One middleware refuses them in path ids (404: no id contains them), query values,
headers, form and JSON bodies (400), before any handler runs.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN, admin_headers, new_resident

NUL_IDS = ["cred_%00", "%00", "cred_a%00b"]


def _problem(status: int, body: dict[str, Any], expected: int) -> None:
    assert status == expected, body
    assert body["code"] == ("not_found" if expected == 404 else "invalid_input"), body


@pytest.mark.parametrize("raw_id", NUL_IDS)
async def test_path_ids_with_nul_are_not_found(client, clock, raw_id) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(client, clock)
    for method, path in [
        ("GET", f"/v1/credentials/{raw_id}"),
        ("DELETE", f"/v1/credentials/{raw_id}"),
        ("GET", f"/v1/offers/{raw_id}"),
        ("GET", f"/v1/consents/{raw_id}"),
        ("DELETE", f"/v1/devices/{raw_id}"),
        ("GET", f"/v1/receipts/{raw_id}"),  # reached PostgreSQL: 503 storage_error
        ("GET", f"/v1/presentations/{raw_id}"),
    ]:
        resp = await phone.call(method, path)
        _problem(resp.status, await resp.json(), 404)
    resp = await client.get(f"/admin/v1/credentials/{raw_id}", headers=admin_headers(ISSUER_TOKEN))
    _problem(resp.status, await resp.json(), 404)


@pytest.mark.parametrize("value", ["%00", "a%00b", "%ED%A0%80"])  # NUL; an encoded lone surrogate
async def test_query_values(client, clock, value) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(client, clock)
    resp = await phone.call("GET", f"/v1/credentials?cursor={value}")
    _problem(resp.status, await resp.json(), 400)
    for path in [f"/admin/v1/residents?cursor={value}", f"/admin/v1/accreditations?issuer={value}&type=x",
                 f"/admin/v1/credentials?resident_id={value}"]:
        resp = await client.get(path, headers=admin_headers(OPERATOR_TOKEN if "residents" in path else ISSUER_TOKEN))
        _problem(resp.status, await resp.json(), 400)


@pytest.mark.parametrize("text", ["res_\u0000", "a\u0000b", "\ud800", "x\udfffy"])
async def test_json_body_strings(client, clock, text, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    resp = await client.post("/admin/v1/enrolment-codes", json={"resident_id": text}, headers=admin_headers())
    _problem(resp.status, await resp.json(), 400)
    resp = await client.post("/v1/enrolment", json={"code": text, "public_jwk": {"kty": "EC"}})
    _problem(resp.status, await resp.json(), 400)
    phone = await new_resident(client, clock)
    resp = await phone.call("POST", "/v1/credentials", json={"credential": "a.b.c", "format": "vc+jwt",
                                                            "metadata": {"name": text}})
    _problem(resp.status, await resp.json(), 400)
    resp = await phone.call("POST", "/v1/credentials", json={"credential": "a.b.c", "format": "vc+jwt",
                                                            "metadata": {text: 1}})
    _problem(resp.status, await resp.json(), 400)
    # Refused as bad input: nothing logged as a service failure.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.records


async def test_form_bodies(client) -> None:  # type: ignore[no-untyped-def]
    form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code=a%00b"
    resp = await client.post(
        "/issuer/token", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    body = await resp.json()
    # An OAuth endpoint answers in OAuth's error format (RFC 6749 §5.2), as for any other bad request.
    assert resp.status == 400 and body["error"] == "invalid_request", body
    assert "NUL" in body["error_description"] and resp.headers["Cache-Control"] == "no-store"


async def test_headers(client, clock) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(client, clock)
    # Bytes that are not UTF-8 arrive as lone surrogates (aiohttp decodes with surrogateescape).
    resp = await client.get("/v1/credentials", headers={"Authorization": b"DPoP \xff\xfe".decode("latin-1"),
                                                         "DPoP": phone.proof("GET", "/v1/credentials")})
    assert resp.status in (400, 401), await resp.text()
    resp = await client.get("/admin/v1/residents", headers={"Authorization": "Bearer op\u00e9rator"})
    assert resp.status in (400, 401), await resp.text()


@pytest.mark.parametrize(
    ("raw", "unstorable"),
    [
        (b'{"a": "\\u0000"}', True),
        (b'{"a": "\\uD800"}', True),
        (b'{"\\udfff": 1}', True),
        (b'{"a": "x\x00y"}', True),  # a raw NUL: not JSON either, refused all the same
        (b'{"a": "\\\\u0000"}', False),  # an escaped backslash, then the text u0000
        (b'{"a": "line\\nbreak \\u00e9 \\"q\\""}', False),
        (b'{"a": "plain"}', False),
        (b"not json \\u0000", False),  # left to the handler, which refuses it as JSON
    ],
)
def test_json_body_scan(raw: bytes, unstorable: bool) -> None:
    from wallet_server._validate import json_has_unstorable

    assert json_has_unstorable(raw) is unstorable
