"""The city's OpenID Provider, mounted under ``/sso`` (:mod:`vcsdk.sso` does the work).

* ``/sso/.well-known/openid-configuration`` and ``/sso/jwks``: OpenID Connect Discovery 1.0.
* ``/sso/authorize``: the authentication request; it starts a login and sends the browser to the
  login page ``/sso/login/{login_id}``, which shows the QR code (cross-device) and the same-device
  link of the provider's OpenID4VP request, refreshes itself until the wallet has answered, then
  sends the browser back to the relying party with a code (or an OAuth error).
* ``/sso/token``, ``/sso/userinfo``, ``/sso/logout``: OAuth 2.0 / OpenID Connect endpoints.
* ``/sso/oid4vp/request/{id}``, ``/sso/oid4vp/response``: the provider as an OpenID4VP verifier
  (the SDK's verifier routes); ``/sso/receipts/{login_id}``: the wallet fetches the access receipt
  of a login there; ``/sso/withdrawals``: withdrawn login consents.

OAuth endpoints answer OAuth errors (``{"error", "error_description"}``), never a problem body.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from vcsdk.errors import InvalidInputError, VcsdkError
from vcsdk.oid4vc import HttpRequest, PresentationResult, error_response, read_form, render_qr, verifier_routes
from vcsdk.receipts import verify_consent_record_resolved
from vcsdk.sso import LoginStarted, OAuthResponse, OpenIDProvider
from wallet_server._http import once_per_key, read_json, require_admin
from wallet_server.appkeys import CITY, CLOCK, SSO
from wallet_server.services.sso import SSO_PATH

__all__ = ["register_sso_client", "sso_routes"]

_COOKIE = "sso_login"
_NO_STORE = {"Cache-Control": "no-store"}


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def _provider(request: web.Request) -> OpenIDProvider:
    return await request.app[SSO].provider(_origin(request))


def _answer(response: OAuthResponse) -> web.Response:
    headers = {**_NO_STORE, **dict(response.headers)}
    if response.location is not None:
        return web.Response(status=response.status if response.status in (302, 303) else 302, headers=headers)
    body = dict(response.body or {})
    headers.pop("Content-Type", None)
    return web.json_response(body, status=response.status, headers=headers)


def _oauth(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Callable[
        [web.Request], Awaitable[web.StreamResponse]]:
    """Our errors as OAuth errors (RFC 6749 §5.2), whatever the endpoint."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except VcsdkError as exc:
            return error_response(exc, oauth=True)

    return wrapped


async def _query_or_form(request: web.Request) -> dict[str, str]:
    if request.method == "POST":
        return await read_form(request)
    if len(request.query) != len(set(request.query.keys())):
        raise InvalidInputError("a parameter is repeated")  # RFC 6749 §3.1
    return dict(request.query)


# -- discovery ------------------------------------------------------------------------------------


async def configuration(request: web.Request) -> web.Response:
    return web.json_response((await _provider(request)).metadata(), headers={"Cache-Control": "max-age=300"})


async def jwks(request: web.Request) -> web.Response:
    return web.json_response((await _provider(request)).jwks(), headers={"Cache-Control": "max-age=300"})


# -- the browser ----------------------------------------------------------------------------------


async def authorize(request: web.Request) -> web.StreamResponse:
    provider = await _provider(request)
    started = await provider.authorize(await _query_or_form(request), now=request.app[CLOCK]())
    if isinstance(started, OAuthResponse):
        return _answer(started)
    page = f"{SSO_PATH}/login/{started.login_id}"
    response = web.Response(status=303, headers={**_NO_STORE, "Location": page})
    response.set_cookie(_cookie(started), started.browser_secret, path=page, httponly=True, samesite="Lax",
                        secure=request.scheme == "https", max_age=int(provider.login_ttl.total_seconds()) + 600)
    return response


def _cookie(started: LoginStarted | str) -> str:
    login_id = started if isinstance(started, str) else started.login_id
    return f"{_COOKIE}_{login_id}"


async def login_page(request: web.Request) -> web.StreamResponse:
    provider = await _provider(request)
    login_id = request.match_info["login_id"]
    secret = request.cookies.get(_cookie(login_id))
    now = request.app[CLOCK]()
    state = await provider.login_state(login_id, secret, now=now)
    if request.headers.get("Accept", "").startswith("application/json"):
        return web.json_response(state, headers=_NO_STORE)
    if state["state"] != "pending":
        return _answer(await provider.finish(login_id, secret, now=now))
    return web.Response(text=_page(state), content_type="text/html", headers=_NO_STORE)


def _page(state: dict[str, Any]) -> str:
    """The login page: the QR code for a phone (cross-device) and the link for this device."""
    link = str(state["link"])
    qr = render_qr(link, kind="svg", scale=4).decode("utf-8")
    qr = qr[qr.index("<svg"):] if "<svg" in qr else qr
    claims = "".join(f"<li>{html.escape(str(c))}</li>" for c in state["claims"])
    body = (
        f"<h1>Log in to {html.escape(str(state['client_name']))} with the city wallet</h1>"
        f"<p>Scan this code with the phone that holds your wallet:</p><div id='qr'>{qr}</div>"
        f"<p>On this phone? <a id='same-device' href='{html.escape(link, quote=True)}'>Open the wallet</a></p>"
        f"<p>Your wallet will ask you to share:</p><ul>{claims}</ul>"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta http-equiv='refresh' content='2'><title>Log in with the city wallet</title></head>"
        f"<body>{body}</body></html>"
    )


# -- OAuth endpoints -------------------------------------------------------------------------------


async def token(request: web.Request) -> web.StreamResponse:
    form = await read_form(request, strict=True)
    provider = await _provider(request)
    return _answer(await provider.token(form, dict(request.headers), now=request.app[CLOCK]()))


async def userinfo(request: web.Request) -> web.StreamResponse:
    provider = await _provider(request)
    return _answer(await provider.userinfo(request.headers.get("Authorization"), now=request.app[CLOCK]()))


async def logout(request: web.Request) -> web.StreamResponse:
    provider = await _provider(request)
    answer, tokens = await provider.end_session(await _query_or_form(request), now=request.app[CLOCK]())
    # OIDC Back-Channel Logout: best effort, each relying party told once.
    http = request.app[SSO].http
    for uri, logout_token in tokens:
        try:
            await http.send(HttpRequest.form(uri, {"logout_token": logout_token}))
        except VcsdkError:
            pass
    if answer.status == 200:
        return web.Response(text="<!doctype html><title>Logged out</title><p>You are logged out.</p>",
                            content_type="text/html", headers=_NO_STORE)
    return _answer(answer)


# -- the wallet's side -----------------------------------------------------------------------------


async def access_receipt(request: web.Request) -> web.Response:
    provider = await _provider(request)
    record = (await read_json(request)).get("consent_record")
    if not isinstance(record, str):
        raise InvalidInputError("send {\"consent_record\": <the signed consent record>}")
    receipt = await provider.access_receipt(request.match_info["login_id"], record, now=request.app[CLOCK]())
    return web.json_response({"access_receipt": receipt}, headers=_NO_STORE)


async def withdrawal(request: web.Request) -> web.Response:
    """A withdrawn login consent: the provider keeps no claims after the login, so it only checks the
    record the wallet signed and acknowledges it."""
    record = (await read_json(request)).get("consent_record")
    if not isinstance(record, str):
        raise InvalidInputError("send {\"consent_record\": <the signed consent record>}")
    city = await request.app[CITY].get()
    consent = await verify_consent_record_resolved(record, wallet_did=city.did, resolver=city.resolver)
    return web.json_response({"withdrawn": consent.record_id}, headers=_NO_STORE)


def sso_routes(app: web.Application) -> list[web.RouteDef]:
    """The provider's routes (outside the route table: OAuth and OpenID4VP answer in their own terms)."""
    clock = app[CLOCK]

    async def _verifier_route(request: web.Request, kind: str) -> web.StreamResponse:
        provider = await _provider(request)

        async def on_result(result: PresentationResult) -> dict[str, Any]:
            return await provider.presentation_verified(result, now=clock())

        async def on_failure(result: PresentationResult) -> None:
            await provider.presentation_failed(result, now=clock())

        routes = verifier_routes(provider.verifier, clock=clock, on_result=on_result, on_failure=on_failure)
        handler = {"request": routes[0].handler, "response": routes[2].handler}[kind]
        return await handler(request)

    async def request_object(request: web.Request) -> web.StreamResponse:
        return await _verifier_route(request, "request")

    async def response(request: web.Request) -> web.StreamResponse:
        return await _verifier_route(request, "response")

    p = SSO_PATH
    return [
        web.get(f"{p}/.well-known/openid-configuration", configuration),
        web.get(f"{p}/jwks", jwks),
        web.get(f"{p}/authorize", _oauth(authorize)),
        web.post(f"{p}/authorize", _oauth(authorize)),
        web.get(f"{p}/login/{{login_id}}", _oauth(login_page)),
        web.post(f"{p}/token", _oauth(token)),
        web.get(f"{p}/userinfo", _oauth(userinfo)),
        web.post(f"{p}/userinfo", _oauth(userinfo)),
        web.get(f"{p}/logout", _oauth(logout)),
        web.post(f"{p}/logout", _oauth(logout)),
        web.get(f"{p}/oid4vp/request/{{request_id}}", request_object),
        web.post(f"{p}/oid4vp/request/{{request_id}}", request_object),
        web.post(f"{p}/oid4vp/response", response),
        web.post(f"{p}/receipts/{{login_id}}", _oauth(access_receipt)),
        web.post(f"{p}/withdrawals", _oauth(withdrawal)),
    ]


# -- admin ------------------------------------------------------------------------------------------


async def register_sso_client(request: web.Request) -> web.Response:
    admin = require_admin(request, "operator")

    async def produce() -> web.Response:
        body = await read_json(request)
        registered = await request.app[SSO].register_client(admin, body, origin=_origin(request))
        client = registered.client
        answer = {
            "client_id": client.client_id,
            "registration_id": registered.registration_id,
            "issuer": request.app[SSO].issuer(_origin(request)),
            "redirect_uris": list(client.redirect_uris),
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
            "id_token_signed_response_alg": client.id_token_signed_response_alg,
        }
        if registered.client_secret is not None:
            answer["client_secret"] = registered.client_secret  # shown once; the city keeps its hash
        return web.json_response(answer, status=201, headers=_NO_STORE)

    return await once_per_key(request, admin, produce)
