"""The OpenAPI 3.1 document, generated from the route table and :data:`wallet_server.schemas.SCHEMAS`."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from vcsdk import __version__
from wallet_server.openapi_public import PUBLIC_PATHS, PUBLIC_SCHEMAS
from wallet_server.routes import ROUTES, Route
from wallet_server.schemas import SCHEMAS

__all__ = ["build_openapi"]

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_QUERY: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "cursor": {"type": "string", "maxLength": 200, "description": "Opaque; pass back `next_cursor`."},
    "resident_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "issuer": {"type": "string", "minLength": 1, "maxLength": 300, "description": "The issuer's DID."},
    "credential_type": {"type": "string", "minLength": 1, "maxLength": 300},
}


_STRING = {"schema": {"type": "string"}}
_PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {**_STRING, "required": True, "description": "`DPoP` or `Bearer` challenge"}},
    405: {"Allow": {**_STRING, "required": True}},
    429: {"Retry-After": {**_STRING, "required": True, "description": "seconds to wait"}},
}


def _problem(status: int) -> dict[str, Any]:
    out: dict[str, Any] = {"description": HTTPStatus(status).phrase, "content": _PROBLEM}
    if status in _PROBLEM_HEADERS:
        out["headers"] = _PROBLEM_HEADERS[status]
    return out


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
        for name in re.findall(r"\{(\w+)\}", route.path)
    ]
    params += [{"name": q, "in": "query", "required": False, "schema": _QUERY[q]} for q in route.query]
    if route.etag:
        params.append({"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}})
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.body}"}}},
        }
    ok: dict[str, Any] = {"description": HTTPStatus(route.status).phrase}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.response}"}}}
    elif route.path == "/openapi.json":
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    elif route.path == "/docs":
        ok["content"] = {"text/html": {"schema": {"type": "string"}}}
    if route.etag:
        ok["headers"] = {"ETag": {**_STRING, "required": True}}
    responses: dict[str, Any] = {str(route.status): ok}
    if route.etag:
        responses["304"] = {"description": "Not Modified (the If-None-Match ETag still matches)"}
    errors = {400, 429, *route.errors}
    if route.body is not None:
        errors.add(413)
    if route.auth != "none":
        errors.add(401)
    if route.auth in ("operator", "issuer", "admin"):
        errors.add(403)
        op["security"] = [{"adminToken": []}]
    elif route.auth in ("dpop", "dpop-refresh"):
        op["security"] = [{"dpop": []}]
    for status in sorted(errors):
        responses[str(status)] = _problem(status)
    op["responses"] = responses
    return op


def build_openapi(*, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route in the table and the public protocol endpoints."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    for path, ops in PUBLIC_PATHS.items():
        paths.setdefault(path, {}).update(ops)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "vcsdk wallet server",
            "version": __version__,
            "description": (
                "Backend of the city's wallet app. Devices authenticate with their P-256 key: "
                "login by signing a challenge, then `Authorization: DPoP <access token>` and a "
                "`DPoP` proof (RFC 9449) on every request. Errors are RFC 9457 problem details. "
                "The public endpoints (OpenID4VCI issuer and its metadata, Token Status Lists, DID "
                "resolution) follow their own specifications' media types and error bodies."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **PUBLIC_SCHEMAS},
            "securitySchemes": {
                "dpop": {
                    "type": "http",
                    "scheme": "DPoP",
                    "description": "Access token in `Authorization: DPoP <token>` plus a `DPoP` proof JWT "
                    "(typ dpop+jwt, ES256, jwk header; claims htm, htu, iat, jti, ath).",
                },
                "adminToken": {"type": "http", "scheme": "bearer", "description": "City admin API token."},
                "issuerAccessToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The OpenID4VCI access token from `/issuer/token`.",
                },
            },
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
