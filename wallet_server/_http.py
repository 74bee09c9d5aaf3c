"""Request parsing and response helpers the handlers share (no business logic here)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from vcsdk.encoding import b64url_encode, json_bytes, parse_json_object
from vcsdk.errors import InvalidInputError
from wallet_server._validate import validate
from wallet_server.appkeys import ADMIN, AUTH, DEVICE_LIMITER, IDEMPOTENCY, SETTINGS
from wallet_server.errors import RateLimitedError
from wallet_server.schemas import SCHEMAS
from wallet_server.services import Administrator, AdminRole, Principal
from wallet_server.services.auth import refuse_proof
from wallet_server.storage import DeviceProof

__all__ = [
    "BODY_SCHEMA",
    "answer_spending_proof",
    "authenticate",
    "authenticate_unrecorded",
    "compact_json",
    "etag_body",
    "etag_json",
    "once_per_key",
    "query_int",
    "read_json",
    "request_url",
    "require_admin",
    "spend_proof",
]


#: The component schema name of the current route's request body (set by the route table).
BODY_SCHEMA = web.RequestKey("body_schema", str)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object that fits the route's published request schema.

    :raises InvalidInputError: wrong content type, not UTF-8 JSON, duplicate names, not an object,
        or not what the schema says.
    """
    if request.content_type != "application/json":
        raise InvalidInputError("send the body as application/json")
    body = parse_json_object(await request.read(), what="request body")  # aiohttp raises 413 past the limit
    schema_name = request.get(BODY_SCHEMA)
    if schema_name is not None:
        validate(body, SCHEMAS[schema_name], SCHEMAS)
    return body


def query_int(request: web.Request, name: str, *, default: int) -> int:
    """An integer query parameter.

    :raises InvalidInputError: if present and not a plain decimal integer.
    """
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 6:
        raise InvalidInputError(f"{name} must be a positive integer")
    return int(text)


def request_url(request: web.Request) -> str:
    """The URL the client used, for DPoP ``htu``: the configured public base URL plus the raw path."""
    base = request.app[SETTINGS].public_base_url
    origin = base.rstrip("/") if base else f"{request.scheme}://{request.host}"
    return origin + request.rel_url.raw_path


async def authenticate(request: web.Request) -> Principal:
    """The resident and device behind a DPoP-authenticated request; applies the per-device rate limit.

    :raises AuthenticationError: see :meth:`AuthService.authenticate`.
    :raises RateLimitedError: this device sent too many requests.
    """
    principal, proof = _checked_request(request)
    refuse_proof(await request.app[AUTH].record_proof(proof))
    await _device_limit(request, principal)
    return principal


async def authenticate_unrecorded(request: web.Request) -> tuple[Principal, DeviceProof]:
    """:func:`authenticate` without recording the DPoP proof: the handler records it in the same
    statement as its own query and refuses the request by the outcome (see
    :meth:`AuthService.check_request`); the per-device rate limit applies here.

    :raises AuthenticationError: no or bad access token.
    :raises RateLimitedError: this device sent too many requests.
    """
    principal, proof = _checked_request(request)
    await _device_limit(request, principal, unspent=proof)
    return principal, proof


def _checked_request(request: web.Request) -> tuple[Principal, DeviceProof]:
    """The access token and DPoP proof of ``request``, checked (see :meth:`AuthService.check_request`)."""
    return request.app[AUTH].check_request(
        authorization=request.headers.get("Authorization"),
        dpop=request.headers.getall("DPoP", []),
        method=request.method,
        url=request_url(request),
    )


async def _device_limit(request: web.Request, principal: Principal, *, unspent: DeviceProof | None = None) -> None:
    """The per-device rate limit; a refused request spends its ``unspent`` proof first.

    :raises RateLimitedError: this device sent too many requests.
    """
    wait = await request.app[DEVICE_LIMITER].acquire(principal.device_id)
    if wait is not None:
        if unspent is not None:
            await spend_proof(request, unspent)
        raise RateLimitedError("this device sent too many requests; slow down", retry_after=wait)


async def spend_proof(request: web.Request, proof: DeviceProof) -> None:
    """Record a proof from :func:`authenticate_unrecorded` whose request is refused before the
    handler's own statement recorded it: a DPoP proof is used once, whatever the answer (RFC 9449
    §11.1), so the same proof cannot carry another request. Recording it again is harmless.

    :raises AuthenticationError: the device was removed or the login ended (said instead of the
        refusal, which an unauthenticated caller is not told).
    """
    outcome = await request.app[AUTH].record_proof(proof)
    if outcome in ("no_device", "logged_out"):
        refuse_proof(outcome)


async def answer_spending_proof(
    request: web.Request, proof: DeviceProof | None, answer: Callable[[], Awaitable[web.Response]]
) -> web.Response:
    """``answer()``, with ``proof`` (unrecorded, or ``None`` once recorded) spent if it fails.

    :raises AuthenticationError: the device was removed or the login ended.
    """
    try:
        return await answer()
    except Exception:
        if proof is not None:
            await spend_proof(request, proof)
        raise


async def once_per_key(
    request: web.Request, admin: Administrator, produce: Callable[[], Awaitable[web.Response]]
) -> web.Response:
    """A back-office POST that creates something, answered once per ``Idempotency-Key`` of the
    admin token (see :class:`~wallet_server.services.idempotency.IdempotencyKeys`)."""
    resource = request.match_info.route.resource
    route = f"{request.method} {resource.canonical if resource is not None else request.path}"
    return await request.app[IDEMPOTENCY].answer_admin(request, admin.name, route, produce)


def require_admin(request: web.Request, role: AdminRole | None) -> Administrator:
    """:raises AuthenticationError: no or bad admin token. :raises ForbiddenError: lacks ``role``
    (``None``: any valid admin token will do)."""
    return request.app[ADMIN].authenticate(request.headers.get("Authorization"), role=role)


def _etag(body: bytes) -> str:
    return '"' + b64url_encode(hashlib.sha256(body).digest()[:18]) + '"'


def _matches(header: str, etag: str) -> bool:
    # RFC 9110 §13.1.2: If-None-Match uses the weak comparison.
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def json_response(
    value: Any,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    """``aiohttp.web.json_response`` with the fast compact encoder (:func:`vcsdk.encoding.json_bytes`):
    an answer of the wallet (a consent screen lists every credential that can answer) is encoded
    several times faster than by the standard library."""
    return web.Response(
        body=json_bytes(value), status=status, headers=headers, content_type=content_type, charset="utf-8"
    )


def etag_json(request: web.Request, value: Any, *, status: int = 200) -> web.Response:
    """A JSON response with a strong ``ETag``; ``304 Not Modified`` if ``If-None-Match`` matches."""
    return etag_body(request, compact_json(value), status=status)


def compact_json(value: Any) -> bytes:
    """``value`` as the JSON :func:`etag_json` sends: compact, keys sorted."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def etag_body(request: web.Request, body: bytes, *, status: int = 200) -> web.Response:
    """:func:`etag_json` for a body already encoded (by :func:`compact_json` or pieces of it)."""
    etag = _etag(body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    condition = request.headers.get("If-None-Match")
    if condition is not None and _matches(condition, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)
