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

from vcsdk._body import read_capped
from vcsdk.errors import ProtocolError, VcsdkError
from vcsdk.oid4vc._authorization import AuthorizationSession, RequestContext
from vcsdk.oid4vc._client_attestation import ATTESTATION_HEADER, ATTESTATION_POP_HEADER
from vcsdk.oid4vc._common import Flow, HttpRequest, HttpResponse
from vcsdk.oid4vc._issuer import CredentialIssuer
from vcsdk.oid4vc._vci_messages import IssuedCredentials
from vcsdk.oid4vc._verifier import PresentationResult, Verifier
from vcsdk.oid4vc._vp_messages import REQUEST_OBJECT_TYP

__all__ = ["issuer_routes", "run_flow", "send", "verifier_routes"]

T = TypeVar("T")
Clock = Callable[[], datetime]
#: Finds the issuer serving a request (a server whose public URL follows the request's host).
IssuerLookup = Callable[[web.Request], CredentialIssuer]
#: One issuance call of an issuer endpoint: the issuer, the request body and its headers.
IssueCall = Callable[[CredentialIssuer, bytes, RequestContext], Awaitable[IssuedCredentials]]
#: An authorization-server endpoint taking a form (PAR, token): its JSON answer.
FormCall = Callable[[CredentialIssuer, dict[str, str], RequestContext], Awaitable[Mapping[str, object]]]
MAX_FLOW_STEPS = 16
MAX_RESPONSE_BYTES = 2_000_000
MAX_TOKEN_CHARS = 1024
MAX_ID_CHARS = 64
NO_STORE = {"Cache-Control": "no-store"}


async def send(session: aiohttp.ClientSession, request: HttpRequest) -> HttpResponse:
    """Perform one :class:`HttpRequest` and return the :class:`HttpResponse` (body capped at 2 MB).

    :raises ProtocolError: (``invalid_response``) if the answer is larger than the cap.
    """
    async with session.request(
        request.method, request.url, headers=dict(request.headers), data=request.body, allow_redirects=False
    ) as resp:
        body = await read_capped(resp.content, MAX_RESPONSE_BYTES)
        if len(body) > MAX_RESPONSE_BYTES:
            raise ProtocolError("the peer's answer is too large", code="invalid_response")
        return HttpResponse(resp.status, body, {k: v for k, v in resp.headers.items()})


async def run_flow(
    flow: Flow[T], transport: aiohttp.ClientSession | Callable[[HttpRequest], Awaitable[HttpResponse]]
) -> T:
    """Drive a protocol flow (e.g. :func:`~vcsdk.oid4vc.receive_credential`) to its end.

    :param transport: an aiohttp session (each request goes through :func:`send`), or a function
        performing a request (a server's own egress rules).
    :raises ProtocolError: whatever the flow raises, or (``invalid_response``) a flow that does not
        finish within a bounded number of steps.
    :return: the flow's result.
    """
    perform: Callable[[HttpRequest], Awaitable[HttpResponse]]
    if isinstance(transport, aiohttp.ClientSession):
        session = transport

        async def perform(request: HttpRequest) -> HttpResponse:
            return await send(session, request)

    else:
        perform = transport
    try:
        request = next(flow)
    except StopIteration as done:  # a flow that needed nothing (an offer passed by value)
        return done.value  # type: ignore[no-any-return]
    for _ in range(MAX_FLOW_STEPS):
        response = await perform(request)
        try:
            request = flow.send(response)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
    flow.close()
    raise ProtocolError("the protocol flow did not finish", code="invalid_response")


def error_response(exc: VcsdkError, *, oauth: bool = False) -> web.Response:
    """An error as the OAuth-style JSON answer (``error``, ``error_description``) with its HTTP status.

    :param oauth: the endpoint follows OAuth 2.0 (RFC 6749 §5.2, RFC 6750 §3.1): an input error that
        is not a protocol error is answered ``invalid_request`` rather than with its own code.
    """
    status = exc.http_status if 400 <= exc.http_status < 600 else 400
    code = exc.code
    headers = dict(NO_STORE)
    if code == "invalid_token":
        status = 401
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    elif isinstance(exc, ProtocolError) and code == "server_error":
        status = 500
    elif oauth and not isinstance(exc, ProtocolError) and status < 500:
        code = "invalid_request"
    # RFC 6749 §5.2: error_description is printable ASCII without '"' and '\'.
    desc = "".join(ch for ch in exc.message if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\')
    return web.json_response({"error": code, "error_description": desc}, status=status, headers=headers)


async def read_form(request: web.Request, *, strict: bool = False) -> dict[str, str]:
    """A form-encoded body as name → value.

    :param strict: refuse another content type (OAuth endpoints, RFC 6749 §3.2).
    :raises ProtocolError: (``invalid_request``) if a parameter repeats or is not text, the body is
        not UTF-8, or (strict) it is not ``application/x-www-form-urlencoded``.
    """
    if strict and request.content_type != "application/x-www-form-urlencoded":
        raise ProtocolError("send the request as application/x-www-form-urlencoded", code="invalid_request")
    try:
        data = await request.post()
    except ValueError:  # UnicodeDecodeError: raw bytes that are not UTF-8
        raise ProtocolError("the form body is not UTF-8 text", code="invalid_request") from None
    out: dict[str, str] = {}
    for name in data:
        values = data.getall(name)
        if len(values) != 1 or not isinstance(values[0], str):
            raise ProtocolError(f"form parameter {name!r} must appear once, as text", code="invalid_request")
        out[name] = values[0]
    return out


def bearer_token(request: web.Request) -> str | None:
    """The access token of an ``Authorization: Bearer`` header (RFC 6750 §2.1), or ``None``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token and len(token) <= MAX_TOKEN_CHARS else None


def verifier_routes(
    verifier: Verifier,
    *,
    clock: Clock,
    on_result: Callable[[PresentationResult], Awaitable[Mapping[str, Any] | None]] | None = None,
    on_failure: Callable[[PresentationResult], Awaitable[None]] | None = None,
) -> list[web.RouteDef]:
    """Routes serving ``request_uri`` (GET, or POST with ``wallet_metadata`` and ``wallet_nonce``:
    the signed Request Object) and ``response_uri`` (POST, ``direct_post`` or ``direct_post.jwt``) at
    the paths of the verifier's URLs. With the verifier's ``redirect_uri``, the answer to the wallet
    carries the redirect with the ``response_code``.

    :param clock: returns the current time.
    :param on_result: called with each verified presentation and each wallet error (``result.ok``
        is false when the resident declined: ``result.error == "access_denied"``); it stores the
        result for the service's frontend and may return extra JSON for the wallet, such as
        ``{"redirect_uri": …}`` or ``{"receipt_uri": …}``. A :class:`~vcsdk.errors.VcsdkError` it
        raises is answered to the wallet as that error.
    :param on_failure: called when a presentation failed a check (``result.failure`` is the error,
        ``result.error`` its code, e.g. ``credential_revoked``), so the service can tell its customer
        why; the wallet gets the error answer either way.
    :return: routes for ``app.add_routes``.
    """
    request_path = urlsplit(verifier.request_uri_base).path.rstrip("/") + "/{request_id}"
    response_path = urlsplit(verifier.response_uri).path or "/"

    async def request_object(request: web.Request) -> web.Response:
        try:
            form = await read_form(request, strict=True) if request.method == "POST" else None
            jwt = await verifier.request_object(request.match_info["request_id"], now=clock(), form=form)
        except VcsdkError as exc:
            return error_response(exc)
        return web.Response(text=jwt, content_type=f"application/{REQUEST_OBJECT_TYP}", headers=NO_STORE)

    async def response(request: web.Request) -> web.Response:
        try:
            result = await verifier.process_response(await read_form(request), now=clock())
            if result.failure is not None:
                if on_failure is not None:
                    await on_failure(result)
                return error_response(result.failure)
            returned = await on_result(result) if on_result is not None else None
        except VcsdkError as exc:
            return error_response(exc)
        extra = dict(returned or {})
        if result.response_code is not None and verifier.redirect_uri is not None:
            # OpenID4VP §8.2, HAIP 1.0 §5.1: the wallet sends the browser back with the response
            # code, which the session that made the request needs to fetch the result.
            extra["redirect_uri"] = f"{verifier.redirect_uri}#response_code={result.response_code}"
        return web.json_response(extra, headers=NO_STORE)

    return [
        web.get(request_path, request_object),
        web.post(request_path, request_object),
        web.post(response_path, response),
    ]


#: Called at the authorization endpoint with the wallet's request: authenticate the resident (KYC,
#: a login page) and finish with ``issuer.authorization_server.authorize(session.id, claims, now=…)``
#: (redirect the browser to the URL it returns) or ``deny``.
AuthorizationHandler = Callable[[web.Request, AuthorizationSession], Awaitable[web.StreamResponse]]


def _context(request: web.Request) -> RequestContext:
    """The headers an issuer endpoint reads; RFC 9449 §4.3: at most one DPoP header."""
    proofs = request.headers.getall("DPoP", [])
    if len(proofs) > 1:
        raise ProtocolError("send exactly one DPoP header", code="invalid_dpop_proof")
    return RequestContext(
        method=request.method,
        authorization=request.headers.get("Authorization"),
        dpop=proofs[0] if proofs else None,
        client_attestation=request.headers.get(ATTESTATION_HEADER),
        client_attestation_pop=request.headers.get(ATTESTATION_POP_HEADER),
    )


def _issuer_error(exc: VcsdkError, *, resource: bool, request: web.Request, nonce: str | None) -> web.Response:
    response = error_response(exc, oauth=True)
    if nonce is not None:
        response.headers["DPoP-Nonce"] = nonce
    if resource and exc.code in ("invalid_token", "invalid_dpop_proof", "use_dpop_nonce"):
        # RFC 6750 §3 / RFC 9449 §7.1, §9: a protected resource answers 401 with a challenge in
        # the scheme the client used (DPoP for a DPoP-bound token).
        scheme = "DPoP" if request.headers.get("Authorization", "").lower().startswith("dpop ") else "Bearer"
        if exc.code != "invalid_token" or exc.details.get("auth_scheme") == "DPoP":
            scheme = "DPoP"
        response.set_status(401)
        challenge = f'{scheme} error="{exc.code}"'
        if scheme == "DPoP":
            challenge += ', algs="ES256"'
        response.headers["WWW-Authenticate"] = challenge
    elif exc.code == "invalid_client":
        response.set_status(401)  # RFC 6749 §5.2
    elif exc.code in ("use_dpop_nonce", "invalid_dpop_proof"):
        response.set_status(400)  # RFC 9449 §8: the authorization server answers 400
    return response


def issuer_routes(
    issuer: CredentialIssuer | IssuerLookup,
    *,
    clock: Clock,
    base_path: str | None = None,
    on_authorization: AuthorizationHandler | None = None,
) -> list[web.RouteDef]:
    """Routes for every endpoint of a :class:`~vcsdk.oid4vc.CredentialIssuer` and its Authorization
    Server, at the paths of its Credential Issuer Identifier (well-known metadata inserted before the
    path, §12.2.2).

    Every answer of the token, PAR, nonce, credential, deferred and notification endpoints carries the
    current ``DPoP-Nonce`` when the issuer asks for server nonces.

    :param issuer: the issuer, or a function finding it for each request (a server answering under
        several host names, each its own Credential Issuer Identifier with the same path).
    :param clock: returns the current time.
    :param base_path: the path of the Credential Issuer Identifier; required with a function.
    :param on_authorization: authenticates the resident at the authorization endpoint (see
        :data:`AuthorizationHandler`); without it, every authorization request is denied.
    :return: routes for ``app.add_routes``.
    """
    lookup: IssuerLookup
    if isinstance(issuer, CredentialIssuer):
        fixed = issuer
        base = urlsplit(issuer.credential_issuer).path.rstrip("/")
        lookup = lambda _: fixed  # noqa: E731
    else:
        if base_path is None:
            raise ValueError("pass base_path with an issuer lookup function")
        base = base_path.rstrip("/")
        lookup = issuer

    async def nonce_header(found: CredentialIssuer) -> str | None:
        return await found.dpop_nonce(now=clock()) if found.dpop.require_nonce else None

    def answer(body: Any, *, status: int = 200, nonce: str | None) -> web.Response:
        headers = dict(NO_STORE)
        if nonce is not None:
            headers["DPoP-Nonce"] = nonce
        return web.json_response(body, status=status, headers=headers)

    async def metadata(request: web.Request) -> web.Response:
        return web.json_response(lookup(request).metadata())

    async def as_metadata(request: web.Request) -> web.Response:
        return web.json_response(lookup(request).authorization_server_metadata())

    async def offer(request: web.Request) -> web.Response:
        try:
            offer_id = request.match_info["offer_id"]
            if len(offer_id) > MAX_ID_CHARS:
                raise ProtocolError("unknown or expired credential offer", code="invalid_request")
            body = await lookup(request).offer_by_reference(offer_id, now=clock())
        except VcsdkError as exc:
            return error_response(exc, oauth=True)
        return web.json_response(body, headers=NO_STORE)

    async def form_post(request: web.Request, call: FormCall, *, status: int = 200) -> web.Response:
        """A form-encoded POST to the authorization server (PAR, token): ``call``'s answer, and the
        issuer's DPoP nonce on every answer, errors included."""
        found = lookup(request)
        nonce = None
        try:
            nonce = await nonce_header(found)
            body = await call(found, await read_form(request, strict=True), _context(request))
        except VcsdkError as exc:
            return _issuer_error(exc, resource=False, request=request, nonce=nonce)
        return answer(body, status=status, nonce=nonce)

    async def pushed(found: CredentialIssuer, form: dict[str, str], context: RequestContext) -> dict[str, Any]:
        return await found.authorization_server.pushed_authorization_request(form, now=clock(), context=context)

    async def tokens(found: CredentialIssuer, form: dict[str, str], context: RequestContext) -> Mapping[str, object]:
        return (await found.token(form, now=clock(), context=context)).to_dict()

    async def par(request: web.Request) -> web.Response:
        return await form_post(request, pushed, status=201)

    async def authorize(request: web.Request) -> web.StreamResponse:
        server = lookup(request).authorization_server
        try:
            session = await server.authorization_request(dict(request.query), now=clock())
        except VcsdkError as exc:
            # RFC 6749 §4.1.2.1: without a valid request there is no redirect_uri to trust.
            return error_response(exc, oauth=True)
        if on_authorization is None:
            raise web.HTTPFound(await server.deny(session.id, now=clock()))
        return await on_authorization(request, session)

    async def token(request: web.Request) -> web.Response:
        return await form_post(request, tokens)

    async def nonce_endpoint(request: web.Request) -> web.Response:
        found = lookup(request)
        try:
            nonce = await nonce_header(found)
            body = await found.nonce(now=clock())
        except VcsdkError as exc:
            return error_response(exc, oauth=True)
        return answer(body, nonce=nonce)

    async def issuance(request: web.Request, issue: IssueCall) -> web.Response:
        """A credential or deferred-credential request: 200 with credentials, 202 while deferred;
        the issuer's DPoP nonce on every answer, errors included."""
        found = lookup(request)
        nonce = None
        try:
            nonce = await nonce_header(found)
            issued = await issue(found, await request.read(), _context(request))
        except VcsdkError as exc:
            return _issuer_error(exc, resource=True, request=request, nonce=nonce)
        return answer(issued.to_dict(), status=202 if issued.deferred else 200, nonce=nonce)

    async def credential(request: web.Request) -> web.Response:
        return await issuance(
            request, lambda found, body, context: found.credential(None, body, now=clock(), context=context)
        )

    async def deferred(request: web.Request) -> web.Response:
        return await issuance(
            request, lambda found, body, context: found.deferred_credential(body, now=clock(), context=context)
        )

    async def notification(request: web.Request) -> web.Response:
        found = lookup(request)
        nonce = None
        try:
            nonce = await nonce_header(found)
            await found.notification(None, await request.read(), now=clock(), context=_context(request))
        except VcsdkError as exc:
            return _issuer_error(exc, resource=True, request=request, nonce=nonce)
        response = web.Response(status=204)
        if nonce is not None:
            response.headers["DPoP-Nonce"] = nonce
        return response

    return [
        web.get(f"/.well-known/openid-credential-issuer{base}", metadata),
        web.get(f"/.well-known/oauth-authorization-server{base}", as_metadata),
        web.get(f"{base}/credential-offer/{{offer_id}}", offer),
        web.post(f"{base}/par", par),
        web.get(f"{base}/authorize", authorize),
        web.post(f"{base}/token", token),
        web.post(f"{base}/nonce", nonce_endpoint),
        web.post(f"{base}/credential", credential),
        web.post(f"{base}/deferred_credential", deferred),
        web.post(f"{base}/notification", notification),
    ]
