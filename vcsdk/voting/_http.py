"""aiohttp routes of a voting service and of the city's ballot-token issuer.

Voting service, relative to its ``base_url`` path:

=======  ==============================  ==================================================
GET      ``/``                           the election, its token keys and the anchor contract
POST     ``/ballots``                    ``{"token", "choice", "salt"}`` → the receipt (201)
GET      ``/receipts/{commitment}``      ``{"commitment", "proof"}`` (``proof`` null until anchored)
GET      ``/results``                    the publication, once the election is closed
=======  ==============================  ==================================================

Token issuer, relative to the path of its ``audience`` URL:

=======  ==============================  ==================================================
GET      ``/keys``                       ``{"election_id", "variant", "keys"}``
POST     ``/nonce``                      ``{"nonce", "expires_at"}`` (201)
POST     ``/sign``                       ``{"presentation", "nonce", "blinded_msg"}`` → ``{"blind_sig"}``
=======  ==============================  ==================================================

Errors are ``{"error": code, "error_description": …}`` with the error class's HTTP status. No route
logs or keeps a request body.

A voter's ballot page runs on another origin (the city's web wallet) and calls the voting service
from the browser: name that origin in ``voting_routes(…, allow_origins=…)`` and the service answers
CORS preflights and adds ``Access-Control-Allow-Origin`` for it (never with credentials; nothing
here uses cookies). Other origins get no CORS headers, so browsers keep their pages out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._body import read_capped
from vcsdk._json import parse_json
from vcsdk.errors import InvalidInputError, VcsdkError
from vcsdk.oid4vc import NO_STORE, error_response
from vcsdk.receipts import hex32
from vcsdk.voting._ballot import BallotChoice
from vcsdk.voting._service import VotingService
from vcsdk.voting._token import TOKEN_VARIANT, BallotToken
from vcsdk.voting._tokens import BallotTokenIssuer

__all__ = ["token_issuer_routes", "voting_routes"]

MAX_BODY = 16 * 1024
MAX_TOKEN_REQUEST = 96 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except VcsdkError as exc:
            return error_response(exc)

    return run


async def _json_body(request: web.Request, *, what: str, max_bytes: int) -> dict[str, Any]:
    try:
        data = await read_capped(request.content, max_bytes)
    except ConnectionError:
        raise InvalidInputError(f"the {what} did not arrive whole; send it again") from None
    body = parse_json(data, what=what, max_bytes=max_bytes)
    if not isinstance(body, dict):
        raise InvalidInputError(f"the {what} must be a JSON object")
    return body


def _base(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def _cors(allowed: frozenset[str], handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        response = await handler(request)
        origin = request.headers.get("Origin")
        if origin is not None and origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return run


def _preflight(allowed: frozenset[str], methods: str) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or origin not in allowed:
            return web.Response(status=403, headers={"Vary": "Origin"})
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        })

    return run


def _origins(allow_origins: Collection[str]) -> frozenset[str]:
    if isinstance(allow_origins, str):
        raise InvalidInputError("allow_origins is a collection of origins, not one string")
    out = set()
    for origin in allow_origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.path or parts.query or parts.fragment:
            raise InvalidInputError("each allowed origin is scheme://host[:port], e.g. https://wallet.city.example")
        out.add(origin)
    return frozenset(out)


def voting_routes(
    service: VotingService, *, clock: Callable[[], datetime], allow_origins: Collection[str] = ()
) -> list[web.RouteDef]:
    """The voting service's HTTP routes at the path of ``service.base_url``.

    :param clock: returns the current time.
    :param allow_origins: origins whose pages may call the service from a browser (CORS), e.g. the
        city's web wallet ``https://wallet.city.example``; none by default.
    :raises InvalidInputError: for an origin that is not ``scheme://host[:port]``.
    :return: routes for ``app.add_routes``.
    """
    base = _base(service.base_url)
    allowed = _origins(allow_origins)

    async def election(_: web.Request) -> web.StreamResponse:
        return web.json_response(dict(service.election_json()))

    async def ballots(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request, what="ballot", max_bytes=MAX_BODY)
        if set(body) != {"token", "choice", "salt"} or not isinstance(body["choice"], str):
            raise InvalidInputError("a ballot is {token, choice, salt}")
        ballot = BallotChoice(service.election_id, body["choice"], hex32(body["salt"], what="salt"))
        receipt = await service.cast(BallotToken.from_json(body["token"]), ballot, now=clock())
        return web.json_response(dict(receipt.to_json()), status=201, headers=NO_STORE)

    async def receipt(request: web.Request) -> web.StreamResponse:
        commitment = hex32(request.match_info["commitment"], what="commitment")
        proof = await service.inclusion_proof(commitment)
        body = {"commitment": "0x" + commitment.hex(), "proof": proof.to_json() if proof is not None else None}
        return web.json_response(body, headers=NO_STORE)

    async def results(_: web.Request) -> web.StreamResponse:
        return web.json_response(dict(service.published()))

    def guarded(handler: Handler) -> Handler:
        return _cors(allowed, _guard(handler)) if allowed else _guard(handler)

    routes = [
        *([web.get(base, guarded(election))] if base else []),
        web.get(f"{base}/", guarded(election)),
        web.post(f"{base}/ballots", guarded(ballots)),
        web.get(f"{base}/receipts/{{commitment}}", guarded(receipt)),
        web.get(f"{base}/results", guarded(results)),
    ]
    if allowed:
        routes += [
            web.options(f"{base}/", _preflight(allowed, "GET")),
            web.options(f"{base}/ballots", _preflight(allowed, "POST")),
            web.options(f"{base}/receipts/{{commitment}}", _preflight(allowed, "GET")),
            web.options(f"{base}/results", _preflight(allowed, "GET")),
        ]
    return routes


def token_issuer_routes(issuer: BallotTokenIssuer, *, clock: Callable[[], datetime]) -> list[web.RouteDef]:
    """The token issuer's HTTP routes at the path of ``issuer.audience``.

    :param clock: returns the current time.
    :return: routes for ``app.add_routes``.
    """
    base = _base(issuer.audience)

    async def keys(_: web.Request) -> web.StreamResponse:
        body = {
            "election_id": issuer.election.election_id,
            "variant": TOKEN_VARIANT.name,
            "keys": [k.to_json() for k in issuer.token_keys.values()],
        }
        return web.json_response(body)

    async def nonce(_: web.Request) -> web.StreamResponse:
        value, expires = await issuer.nonce(now=clock())
        return web.json_response({"nonce": value, "expires_at": expires.isoformat()}, status=201, headers=NO_STORE)

    async def sign(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request, what="token request", max_bytes=MAX_TOKEN_REQUEST)
        if set(body) != {"presentation", "nonce", "blinded_msg"}:
            raise InvalidInputError("a token request is {presentation, nonce, blinded_msg}")
        presentation, value, blinded = body["presentation"], body["nonce"], body["blinded_msg"]
        if not isinstance(presentation, str) or not isinstance(value, str) or not isinstance(blinded, str):
            raise InvalidInputError("presentation, nonce and blinded_msg are strings")
        blind_sig = await issuer.issue(
            presentation, nonce=value, blinded_msg=b64url_decode(blinded, what="blinded_msg"), now=clock()
        )
        return web.json_response({"blind_sig": b64url_encode(blind_sig)}, headers=NO_STORE)

    return [
        web.get(f"{base}/keys", _guard(keys)),
        web.post(f"{base}/nonce", _guard(nonce)),
        web.post(f"{base}/sign", _guard(sign)),
    ]
