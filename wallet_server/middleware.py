"""Request ids, access logs, CORS, per-IP rate limits and the one error → problem+json mapping."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from http import HTTPStatus
from itertools import chain
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from vcsdk.errors import ChainUnavailableError, InvalidInputError, NotFoundError, StorageError, VcsdkError
from vcsdk.oid4vc import error_response
from wallet_server._http import json_response
from wallet_server._validate import has_unstorable, json_has_unstorable
from wallet_server.appkeys import IP_LIMITER, METRICS, SETTINGS
from wallet_server.errors import AuthenticationError, DpopProofError, RateLimitedError

__all__ = ["MIDDLEWARES", "REQUEST_ID", "problem_response"]

access_log = logging.getLogger("wallet_server.access")
error_log = logging.getLogger("wallet_server.errors")

REQUEST_ID = web.RequestKey("request_id", str)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HTTP_CODES = {
    400: "invalid_input",
    401: "authentication_failed",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
_ALLOW_HEADERS = "Authorization, DPoP, Content-Type, If-None-Match, X-Request-Id"
_EXPOSE_HEADERS = "ETag, X-Request-Id, Retry-After, WWW-Authenticate, Location"
#: Probes and scrapes: never rate limited, so a busy server still answers its load balancer.
_UNPROTECTED = frozenset({"/health", "/ready", "/metrics"})
# An API answer is never a page to render or frame; the docs page needs inline styles only.
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}


def problem_response(
    request: web.Request, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    """An RFC 9457 problem body with our stable ``code`` and the request id."""
    body: dict[str, Any] = {
        "type": f"urn:vcsdk:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request.get(REQUEST_ID, ""),
    }
    response = json_response(body, status=status, content_type="application/problem+json", headers=headers)
    return response


@web.middleware
async def front(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request's way in and out, in one layer (each middleware layer costs a coroutine per
    request): the request id and a one-line access log without personal data, CORS, the per-IP
    rate limit, the storable-text check, and the one mapping of failures to problem+json."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await _cors(request, handler)
        status = response.status
    except asyncio.CancelledError:
        status = 499  # the client went away and the handler was cancelled (nginx's "client closed")
        raise
    finally:
        resource = request.match_info.route.resource
        # The route template, not the path: no ids or tokens end up in logs or metrics.
        route = resource.canonical if resource is not None else "(unmatched)"
        elapsed = time.perf_counter() - started
        request.app[METRICS].observe(request.method, route, status, elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "event": "request",
                    "request_id": request_id,
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
    headers = response.headers
    headers["X-Request-Id"] = request_id
    for name, value in _SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    return response


async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS for the configured app origins only; answers preflights itself."""
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in request.app[SETTINGS].cors_origins
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        if not allowed:
            return problem_response(request, 403, "forbidden", "this origin may not call the API")
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin or "",
                "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE",
                "Access-Control-Allow-Headers": _ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )
    response = await _errors(request, handler)
    if allowed:
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
        response.headers.add("Vary", "Origin")
    return response


async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes ``application/problem+json``; unexpected ones are logged, never shown."""
    try:
        return await _guarded(request, handler)
    except VcsdkError as exc:
        return _from_vcsdk(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(request, exc.status, code, exc.reason, headers=headers)
    except (ConnectionResetError, HttpProcessingError) as exc:
        # The client left while sending its body, or sent a body that does not parse (a bad chunk
        # or a short Content-Length): its doing, not a server failure; the answer may never arrive.
        disconnected = isinstance(exc, ConnectionResetError)
        access_log.info(
            "client disconnected during the request" if disconnected else "malformed request body",
            extra={
                "event": "client_disconnected" if disconnected else "malformed_request",
                "request_id": request.get(REQUEST_ID, ""),
                "error": type(exc).__name__,
            },
        )
        return problem_response(request, 400, "invalid_input", "the request body did not arrive whole")
    except Exception:
        error_log.exception(
            "unhandled error", extra={"event": "unhandled_error", "request_id": request.get(REQUEST_ID, "")}
        )
        return problem_response(
            request, 500, "internal_error", "the server failed; report the request id if it happens again"
        )


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The per-IP rate limit, then the storable-text check (a body is read only for an allowed
    request), then the handler."""
    if request.path not in _UNPROTECTED:
        await _ip_rate_limit(request)
    refusal = await _unstorable(request)
    if refusal is not None:
        if request.path.startswith(_PROTOCOL_PREFIXES):
            return error_response(refusal, oauth=True)
        raise refusal
    return await handler(request)


def _from_vcsdk(request: web.Request, exc: VcsdkError) -> web.Response:
    status = exc.http_status
    headers: dict[str, str] = {}
    if isinstance(exc, StorageError) and status >= 500:
        status = 503
        headers["Retry-After"] = "5"
        request.app[METRICS].dependency_failed("database")
    elif isinstance(exc, ChainUnavailableError):
        request.app[METRICS].dependency_failed("chain")
    if status >= 500:
        error_log.error(
            "service failure",
            extra={"event": "service_error", "request_id": request.get(REQUEST_ID, ""), "code": exc.code},
        )
    if status == 401 and not isinstance(exc, AuthenticationError):
        # Only the caller's own credentials answer 401 (which tells an app to log in again): a check
        # that failed on another party's material while serving the caller (a service's token, a
        # status list, a receipt) is a bad request with that check's code.
        status = 400
    if status == 401:
        if request.path.startswith("/admin/"):
            headers["WWW-Authenticate"] = 'Bearer realm="admin"'
        else:
            error = "invalid_dpop_proof" if isinstance(exc, DpopProofError) else "invalid_token"
            headers["WWW-Authenticate"] = f'DPoP algs="ES256", error="{error}"'
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after + 0.5)))
    return problem_response(request, status, exc.code, exc.message, headers=headers or None)


async def _ip_rate_limit(request: web.Request) -> None:
    """Per-client-address token bucket (the load balancer's forwarded address when configured).

    :raises RateLimitedError: this address sent too many requests.
    """
    header = request.app[SETTINGS].forwarded_for_header
    address = request.remote or "unknown"
    if header is not None and header in request.headers:
        address = request.headers[header].split(",")[-1].strip() or address
    wait = await request.app[IP_LIMITER].acquire(address)
    if wait is not None:
        raise RateLimitedError("too many requests from this address; slow down", retry_after=wait)


_FORM = "application/x-www-form-urlencoded"


#: Paths whose id is parsed by its own syntax, which refuses these characters in its own terms (a DID
#: with a NUL is `invalidDid`, DID Resolution §7.1); nothing from them is stored.
_OWN_SYNTAX = ("/1.0/identifiers/",)

#: Paths whose answers follow OAuth 2.0's error format rather than RFC 9457 problems.
_PROTOCOL_PREFIXES = ("/issuer/", "/sso/", "/voting/")


async def _unstorable(request: web.Request) -> VcsdkError | None:
    """The refusal for text no database can store, or None."""
    # Each group is searched as one joined string (one regex pass, not one per value).
    if not request.path.startswith(_OWN_SYNTAX) and has_unstorable("".join(request.match_info.values())):
        return NotFoundError("no such resource: the path holds a NUL character or an invalid character")
    if request.query and has_unstorable("".join(chain.from_iterable(request.query.items()))):
        return InvalidInputError("a query parameter holds a NUL character or a lone surrogate")
    if has_unstorable("".join(chain.from_iterable(request.headers.items()))):
        return InvalidInputError("a request header holds a NUL character or bytes that are not UTF-8")
    if request.body_exists and request.method in ("POST", "PUT", "PATCH"):
        content_type = request.content_type
        if content_type == _FORM:
            try:
                form = await request.post()  # kept by aiohttp: the handler reads the same form
            except ValueError:  # UnicodeDecodeError: raw bytes that are not UTF-8
                return InvalidInputError("the form body is not UTF-8 text")
            if any(has_unstorable(k) or (isinstance(v, str) and has_unstorable(v)) for k, v in form.items()):
                return InvalidInputError("a form parameter holds a NUL character or a lone surrogate")
        elif content_type == "application/json" or content_type.endswith("+json"):
            if json_has_unstorable(await request.read()):  # kept by aiohttp for the handler
                return InvalidInputError("a JSON string in the body holds a NUL character or a lone surrogate")
    return None


#: One layer: request id and log, CORS, errors, the rate limit inside the error mapping, then the
#: text check (after the rate limit, so a body is read only for an allowed request); see :func:`front`.
MIDDLEWARES = (front,)
