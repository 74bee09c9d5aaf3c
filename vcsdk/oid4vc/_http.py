"""aiohttp glue for the OpenID4VC state machines: small, optional, and the only place here doing I/O.

* :func:`send` / :func:`run_flow` perform the requests a wallet flow yields (client side).
* :func:`verifier_routes` mounts a :class:`~vcsdk.oid4vc.Verifier`'s ``request_uri`` and
  ``response_uri`` endpoints in a third-party service's aiohttp app.
* :func:`issuer_routes` mounts a :class:`~vcsdk.oid4vc.CredentialIssuer`'s endpoints (metadata,
  offers by reference, token, nonce, credential, notification).

Errors become the spec's JSON error bodies (``{"error": code, "error_description": …}``) with
``Cache-Control: no-store``; anything that is not a :class:`~vcsdk.errors.VcsdkError` propagates to
the application's own error middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from vcsdk.errors import ProtocolError, VcsdkError
from vcsdk.oid4vc._common import Flow, HttpRequest, HttpResponse
from vcsdk.oid4vc._vci import CredentialIssuer
from vcsdk.oid4vc._vp import REQUEST_OBJECT_TYP, PresentationResult, Verifier

__all__ = ["issuer_routes", "run_flow", "send", "verifier_routes"]

T = TypeVar("T")
Clock = Callable[[], datetime]
MAX_FLOW_STEPS = 16
MAX_RESPONSE_BYTES = 2_000_000
NO_STORE = {"Cache-Control": "no-store"}


async def send(session: aiohttp.ClientSession, request: HttpRequest) -> HttpResponse:
    """Perform one :class:`HttpRequest` and return the :class:`HttpResponse` (body capped at 2 MB).

    :raises ProtocolError: (``invalid_response``) if the answer is larger than the cap.
    """
    async with session.request(
        request.method, request.url, headers=dict(request.headers), data=request.body, allow_redirects=False
    ) as resp:
        body = await resp.content.read(MAX_RESPONSE_BYTES + 1)
        if len(body) > MAX_RESPONSE_BYTES:
            raise ProtocolError("the peer's answer is too large", code="invalid_response")
        return HttpResponse(resp.status, body, {k: v for k, v in resp.headers.items()})


async def run_flow(flow: Flow[T], session: aiohttp.ClientSession) -> T:
    """Drive a protocol flow (e.g. :func:`~vcsdk.oid4vc.receive_credential`) over ``session``.

    :raises ProtocolError: whatever the flow raises, or (``invalid_response``) a flow that does not
        finish within a bounded number of steps.
    :return: the flow's result.
    """
    request = next(flow)
    for _ in range(MAX_FLOW_STEPS):
        response = await send(session, request)
        try:
            request = flow.send(response)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
    flow.close()
    raise ProtocolError("the protocol flow did not finish", code="invalid_response")


def error_response(exc: VcsdkError) -> web.Response:
    """An error as the OAuth-style JSON answer (``error``, ``error_description``) with its HTTP status."""
    status = exc.http_status if 400 <= exc.http_status < 600 else 400
    headers = dict(NO_STORE)
    if exc.code == "invalid_token":
        status = 401
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    # RFC 6749 §5.2: error_description is printable ASCII without '"' and '\'.
    desc = "".join(ch for ch in exc.message if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\')
    return web.json_response({"error": exc.code, "error_description": desc}, status=status, headers=headers)


async def read_form(request: web.Request) -> dict[str, str]:
    """A form-encoded body as name → value.

    :raises ProtocolError: (``invalid_request``) if a parameter repeats or is not text.
    """
    data = await request.post()
    out: dict[str, str] = {}
    for name in data:
        values = data.getall(name)
        if len(values) != 1 or not isinstance(values[0], str):
            raise ProtocolError(f"form parameter {name!r} must appear once, as text", code="invalid_request")
        out[name] = values[0]
    return out


def _bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def verifier_routes(
    verifier: Verifier,
    *,
    clock: Clock,
    on_result: Callable[[PresentationResult], Awaitable[Mapping[str, Any] | None]] | None = None,
) -> list[web.RouteDef]:
    """Routes serving ``request_uri`` (GET, the signed Request Object) and ``response_uri`` (POST,
    ``direct_post``) at the paths of the verifier's URLs.

    :param clock: returns the current time.
    :param on_result: called with each processed response; it stores the result for the service's
        frontend and may return extra JSON for the wallet, such as ``{"redirect_uri": …}``.
    :return: routes for ``app.add_routes``.
    """
    request_path = urlsplit(verifier.request_uri_base).path.rstrip("/") + "/{request_id}"
    response_path = urlsplit(verifier.response_uri).path or "/"

    async def request_object(request: web.Request) -> web.Response:
        try:
            jwt = await verifier.request_object(request.match_info["request_id"], now=clock())
        except VcsdkError as exc:
            return error_response(exc)
        return web.Response(text=jwt, content_type=f"application/{REQUEST_OBJECT_TYP}", headers=NO_STORE)

    async def response(request: web.Request) -> web.Response:
        try:
            result = await verifier.handle_response(await read_form(request), now=clock())
        except VcsdkError as exc:
            return error_response(exc)
        extra = await on_result(result) if on_result is not None else None
        return web.json_response(dict(extra or {}), headers=NO_STORE)

    return [web.get(request_path, request_object), web.post(response_path, response)]


def issuer_routes(issuer: CredentialIssuer, *, clock: Clock) -> list[web.RouteDef]:
    """Routes for every endpoint of a :class:`~vcsdk.oid4vc.CredentialIssuer`, at the paths of its
    Credential Issuer Identifier (well-known metadata inserted before the path, §12.2.2).

    :return: routes for ``app.add_routes``.
    """
    base = urlsplit(issuer.credential_issuer).path.rstrip("/")

    def path(url: str) -> str:
        return urlsplit(url).path

    async def metadata(_: web.Request) -> web.Response:
        return web.json_response(issuer.metadata())

    async def as_metadata(_: web.Request) -> web.Response:
        return web.json_response(issuer.authorization_server_metadata())

    async def offer(request: web.Request) -> web.Response:
        try:
            body = await issuer.offer_by_reference(request.match_info["offer_id"], now=clock())
        except VcsdkError as exc:
            return error_response(exc)
        return web.json_response(body, headers=NO_STORE)

    async def token(request: web.Request) -> web.Response:
        try:
            answer = await issuer.token(await read_form(request), now=clock())
        except VcsdkError as exc:
            return error_response(exc)
        return web.json_response(answer.to_dict(), headers=NO_STORE)

    async def nonce(_: web.Request) -> web.Response:
        return web.json_response(await issuer.nonce(now=clock()), headers=NO_STORE)

    async def credential(request: web.Request) -> web.Response:
        try:
            answer = await issuer.credential(_bearer(request), await request.read(), now=clock())
        except VcsdkError as exc:
            return error_response(exc)
        return web.json_response(answer.to_dict(), headers=NO_STORE)

    async def notification(request: web.Request) -> web.Response:
        try:
            await issuer.notification(_bearer(request), await request.read(), now=clock())
        except VcsdkError as exc:
            return error_response(exc)
        return web.Response(status=204)

    return [
        web.get(f"/.well-known/openid-credential-issuer{base}", metadata),
        web.get(f"/.well-known/oauth-authorization-server{base}", as_metadata),
        web.get(path(issuer.credential_offer_uri("{offer_id}")), offer),
        web.post(path(issuer.token_endpoint), token),
        web.post(path(issuer.nonce_endpoint), nonce),
        web.post(path(issuer.credential_endpoint), credential),
        web.post(path(issuer.notification_endpoint), notification),
    ]
