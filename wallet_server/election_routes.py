"""Handlers of the city's elections: the admin API (declared in :data:`wallet_server.routes.ROUTES`)
and the public endpoints a voter's device and a voting service call (:func:`election_protocol_routes`).

Public, under ``/voting/{election_id}``:

=======  ==============================  ==================================================
GET      ``""``                          the election, its state, token keys, anchor contract, tally
GET      ``/ballot-tokens/keys``         the token keys (``vcsdk.voting.token_keys_request``)
POST     ``/ballot-tokens/nonce``        a single-use nonce for the eligibility presentation
POST     ``/ballot-tokens/sign``         ``{presentation, nonce, blinded_msg}`` → ``{blind_sig}``
*        ``/issuer/…``                   the eligibility credential's OpenID4VCI issuer
=======  ==============================  ==================================================

The token endpoints answer errors as the SDK's token issuer does (``{"error", "error_description"}``,
see :mod:`vcsdk.voting`), so the SDK's voter functions and the ballot page read them alike. No
handler logs or keeps a request body: the blinded message is in the issuance ledger only as a digest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from vcsdk.encoding import b64url_decode, b64url_encode
from vcsdk.errors import InvalidInputError, VcsdkError
from vcsdk.oid4vc import NO_STORE, CredentialIssuer, error_response, issuer_routes
from vcsdk.voting import TOKEN_VARIANT
from wallet_server._http import once_per_key, read_json, require_admin
from wallet_server.appkeys import CLOCK, ELECTIONS
from wallet_server.services.elections import ELECTIONS_PATH, ElectionView, EligibilityOutcome

__all__ = [
    "close_election",
    "commit_election",
    "create_election",
    "election_protocol_routes",
    "get_election",
    "list_elections",
    "offer_eligibility",
    "open_election",
    "publish_election",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_TOKEN_REQUEST = 96 * 1024


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def election_json(view: ElectionView, *, origin: str, service: Any) -> dict[str, Any]:
    election_id = view.election.election_id
    facts = view.facts
    return {
        "election_id": election_id,
        "state": view.state,
        "election": view.election.to_json(),
        "per_district": facts["per_district"],
        "token_keys": facts["token_keys"],
        "voting_service_url": facts["voting_service_url"],
        "voting_service_name": facts.get("voting_service_name"),
        "token_issuer": service.token_issuer_url(election_id, origin),
        "credential_issuer": service.credential_issuer_url(election_id, origin),
        "anchor": facts["anchor"],
        "tally": facts["tally"],
        "ballot_page": service.ballot_page(view, origin) if view.state in ("committed", "open") else None,
        "created_by": view.created_by,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
    }


def _answer(request: web.Request, view: ElectionView, *, status: int = 200) -> web.Response:
    service = request.app[ELECTIONS]
    return web.json_response(election_json(view, origin=_origin(request), service=service), status=status)


def _outcome_json(outcome: EligibilityOutcome) -> dict[str, Any]:
    return {
        "outcome": outcome.outcome,
        "offer_uri": outcome.offer_uri,
        "tx_code": outcome.tx_code,
        "district": outcome.district,
        "reason": outcome.reason,
    }


# -- admin -------------------------------------------------------------------------------------------


async def create_election(request: web.Request) -> web.Response:
    admin = require_admin(request, "operator")

    async def produce() -> web.Response:
        body = await read_json(request)
        view = await request.app[ELECTIONS].create(admin, body)
        return _answer(request, view, status=201)

    return await once_per_key(request, admin, produce)


async def list_elections(request: web.Request) -> web.Response:
    require_admin(request, None)
    service = request.app[ELECTIONS]
    items = [election_json(v, origin=_origin(request), service=service) for v in await service.list()]
    return web.json_response({"items": items}, headers={"Cache-Control": "no-store"})


async def get_election(request: web.Request) -> web.Response:
    require_admin(request, None)
    return _answer(request, await request.app[ELECTIONS].get(request.match_info["election_id"]))


async def commit_election(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    body = await read_json(request)
    view = await request.app[ELECTIONS].commit(request.match_info["election_id"], anchorer=body.get("anchorer"))
    return _answer(request, view)


async def open_election(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    return _answer(request, await request.app[ELECTIONS].transition(request.match_info["election_id"], "open"))


async def close_election(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    return _answer(request, await request.app[ELECTIONS].transition(request.match_info["election_id"], "close"))


async def publish_election(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    return _answer(request, await request.app[ELECTIONS].publish(request.match_info["election_id"]))


async def offer_eligibility(request: web.Request) -> web.Response:
    admin = require_admin(request, "issuer")

    async def produce() -> web.Response:
        body = await read_json(request)
        outcome = await request.app[ELECTIONS].offer(request.match_info["election_id"], body, origin=_origin(request))
        return web.json_response(_outcome_json(outcome), headers={"Cache-Control": "no-store"})

    return await once_per_key(request, admin, produce)


# -- public: the election, the ballot-token issuer, the eligibility issuer ---------------------------


def _guard(handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except VcsdkError as exc:
            return error_response(exc)

    return run


async def public_election(request: web.Request) -> web.StreamResponse:
    view = await request.app[ELECTIONS].get(request.match_info["election_id"])
    return _answer(request, view)


async def token_keys(request: web.Request) -> web.StreamResponse:
    view = await request.app[ELECTIONS].get(request.match_info["election_id"])
    body = {"election_id": view.election.election_id, "variant": TOKEN_VARIANT.name, "keys": view.facts["token_keys"]}
    return web.json_response(body)


async def token_nonce(request: web.Request) -> web.StreamResponse:
    runtime = await request.app[ELECTIONS].runtime(request.match_info["election_id"], origin=_origin(request))
    value, expires = await runtime.tokens.nonce(now=request.app[CLOCK]())
    return web.json_response({"nonce": value, "expires_at": expires.isoformat()}, status=201, headers=NO_STORE)


async def token_sign(request: web.Request) -> web.StreamResponse:
    runtime = await request.app[ELECTIONS].runtime(request.match_info["election_id"], origin=_origin(request))
    raw = await _body(request, MAX_TOKEN_REQUEST)
    from vcsdk.encoding import parse_json

    body = parse_json(raw, what="token request", max_bytes=MAX_TOKEN_REQUEST)
    if not isinstance(body, dict) or set(body) != {"presentation", "nonce", "blinded_msg"}:
        raise InvalidInputError("a token request is {presentation, nonce, blinded_msg}")
    presentation, value, blinded = body["presentation"], body["nonce"], body["blinded_msg"]
    if not isinstance(presentation, str) or not isinstance(value, str) or not isinstance(blinded, str):
        raise InvalidInputError("presentation, nonce and blinded_msg are strings")
    blind_sig = await runtime.tokens.issue(
        presentation, nonce=value, blinded_msg=b64url_decode(blinded, what="blinded_msg"), now=request.app[CLOCK]()
    )
    return web.json_response({"blind_sig": b64url_encode(blind_sig)}, headers=NO_STORE)


async def _body(request: web.Request, limit: int) -> bytes:
    """The whole body (``request.read`` keeps it for every reader), refused past ``limit``."""
    raw = await request.read()
    if len(raw) > limit:
        raise InvalidInputError("the token request is too large")
    return raw


def _loading(handler: Handler) -> Handler:
    """Load the open election's issuers before the SDK's OpenID4VCI handler looks them up."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            await request.app[ELECTIONS].runtime(request.match_info["election_id"], origin=_origin(request))
        except VcsdkError as exc:
            return error_response(exc, oauth=True)
        return await handler(request)

    return run


def election_protocol_routes(app: web.Application) -> list[web.RouteDef]:
    """The public election routes and each open election's OpenID4VCI eligibility issuer."""
    base = f"{ELECTIONS_PATH}/{{election_id}}"

    def lookup(request: web.Request) -> CredentialIssuer:
        return request.app[ELECTIONS].loaded(request.match_info["election_id"]).eligibility.oid4vci

    oid4vci = [
        web.route(r.method, r.path, _loading(r.handler), **r.kwargs)
        for r in issuer_routes(lookup, clock=app[CLOCK], base_path=f"{base}/issuer")
        if isinstance(r, web.RouteDef)
    ]
    return [
        web.get(base, _guard(public_election)),
        web.get(f"{base}/ballot-tokens/keys", _guard(token_keys)),
        web.post(f"{base}/ballot-tokens/nonce", _guard(token_nonce)),
        web.post(f"{base}/ballot-tokens/sign", _guard(token_sign)),
        *oid4vci,
    ]
