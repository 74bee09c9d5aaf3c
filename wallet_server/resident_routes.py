"""Handlers of the resident's offers, presentations, consents, receipts and history routes.

Each: authenticate → validate → call a service → serialise. They are listed, with their schemas
and errors, in :data:`wallet_server.routes.ROUTES`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from wallet_server._http import (
    answer_spending_proof,
    authenticate,
    authenticate_unrecorded,
    etag_json,
    json_response,
    query_int,
    read_json,
    require_admin,
)
from wallet_server.appkeys import IDEMPOTENCY, PRESENTATIONS, RECEIPTS, WALLET
from wallet_server.resident_schemas import (
    consent_json,
    offer_json,
    presentation_json,
    privacy_json,
    proof_request_json,
    receipt_json,
    violation_json,
    violation_summary_json,
)
from wallet_server.schemas import credential_summary_json
from wallet_server.services import Principal
from wallet_server.services.wallet import ProofSigningRequest

__all__ = [
    "accept_offer",
    "consent_presentation",
    "decline_offer",
    "decline_presentation",
    "get_consent",
    "get_offer",
    "get_presentation",
    "get_receipt",
    "list_consents",
    "list_offers",
    "list_presentation_history",
    "list_receipts",
    "refill_offer",
    "scan_offer",
    "sign_offer",
    "sign_presentation",
    "sign_refill",
    "start_presentation",
    "withdraw_consent",
]

#: A create handler's work: the resident and the request's JSON body in, the answer out.
_Respond = Callable[[Principal, dict[str, Any]], Awaitable[web.Response]]


async def _idempotent(request: web.Request, route: str, respond: _Respond) -> web.Response:
    """Authenticate, then ``respond`` to the body once per ``Idempotency-Key`` (keys scoped to the
    resident and ``route``); a repeated key replays the kept answer."""
    principal = await authenticate(request)

    async def produce() -> web.Response:
        return await respond(principal, await read_json(request))

    return await request.app[IDEMPOTENCY].answer(request, principal.resident_id, route, produce)


def _created(body: dict[str, Any], location: str) -> web.Response:
    return json_response(body, status=201, headers={"Location": location})


# -- offers ----------------------------------------------------------------------------------------


async def list_offers(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    limit = query_int(request, "limit", default=20)
    page = await request.app[WALLET].list(principal, limit=limit, cursor=request.query.get("cursor"))
    return etag_json(request, {"items": [offer_json(o) for o in page.items], "next_cursor": page.next_cursor})


async def scan_offer(request: web.Request) -> web.Response:
    async def respond(principal: Principal, body: dict[str, Any]) -> web.Response:
        view = await request.app[WALLET].add_scanned(principal, body.get("offer_uri"))
        return _created(offer_json(view), f"/v1/offers/{view.id}")

    return await _idempotent(request, "POST /v1/offers", respond)


async def get_offer(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    return etag_json(request, offer_json(await request.app[WALLET].get(principal, request.match_info["offer_id"])))


async def accept_offer(request: web.Request) -> web.Response:
    async def respond(principal: Principal, body: dict[str, Any]) -> web.Response:
        result = await request.app[WALLET].accept(
            principal, request.match_info["offer_id"], tx_code=body.get("tx_code"),
            custodial=body.get("custodial") is True, keys=body.get("keys"),
        )
        if isinstance(result, ProofSigningRequest):
            return json_response(proof_request_json(result), headers={"Cache-Control": "no-store"})
        location = f"/v1/credentials/{result.id}"
        return json_response(credential_summary_json(result), headers={"Location": location})

    return await _idempotent(request, "POST /v1/offers/{offer_id}/accept", respond)


async def sign_offer(request: web.Request) -> web.Response:
    async def respond(principal: Principal, body: dict[str, Any]) -> web.Response:
        view = await request.app[WALLET].finish(
            principal, request.match_info["offer_id"], body.get("signature"), signatures=body.get("signatures")
        )
        return _created(credential_summary_json(view), f"/v1/credentials/{view.id}")

    return await _idempotent(request, "POST /v1/offers/{offer_id}/signature", respond)


async def refill_offer(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await read_json(request)
    result = await request.app[WALLET].refill(principal, request.match_info["offer_id"], body.get("keys"))
    return json_response(proof_request_json(result), headers={"Cache-Control": "no-store"})


async def sign_refill(request: web.Request) -> web.Response:
    async def respond(principal: Principal, body: dict[str, Any]) -> web.Response:
        offer_id = request.match_info["offer_id"]
        view = await request.app[WALLET].finish_refill(principal, offer_id, body.get("signatures"))
        return _created(credential_summary_json(view), f"/v1/credentials/{view.id}")

    return await _idempotent(request, "POST /v1/offers/{offer_id}/refill/signature", respond)


async def decline_offer(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    return json_response(offer_json(await request.app[WALLET].decline(principal, request.match_info["offer_id"])))


# -- presentations ---------------------------------------------------------------------------------


async def start_presentation(request: web.Request) -> web.Response:
    async def respond(principal: Principal, body: dict[str, Any]) -> web.Response:
        view = await request.app[PRESENTATIONS].start(principal, body.get("request_uri"))
        return _created(presentation_json(view), f"/v1/presentations/{view.id}")

    return await _idempotent(request, "POST /v1/presentations", respond)


async def get_presentation(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    view = await request.app[PRESENTATIONS].get(principal, request.match_info["presentation_id"])
    return json_response(presentation_json(view), headers={"Cache-Control": "no-store"})


async def consent_presentation(request: web.Request) -> web.Response:
    # The DPoP proof is recorded in the presentation's read (refused there if it cannot be).
    principal, proof = await authenticate_unrecorded(request)

    async def answer() -> web.Response:
        body = await read_json(request)
        view = await request.app[PRESENTATIONS].consent(
            principal,
            request.match_info["presentation_id"],
            selections=body.get("selections"),
            custodial=body.get("custodial") is True,
            proof=proof,
        )
        return json_response(presentation_json(view), headers={"Cache-Control": "no-store"})

    # A request refused before that read (a body that is not JSON) still spends its proof.
    return await answer_spending_proof(request, proof, answer)


async def sign_presentation(request: web.Request) -> web.Response:
    # The DPoP proof is recorded in the presentation's read (refused there if it cannot be).
    principal, proof = await authenticate_unrecorded(request)

    async def answer() -> web.Response:
        body = await read_json(request)
        presentation_id = request.match_info["presentation_id"]
        view = await request.app[PRESENTATIONS].sign(principal, presentation_id, body.get("signatures"), proof=proof)
        return json_response(presentation_json(view))

    # A request refused before that read (malformed signatures) still spends its proof.
    return await answer_spending_proof(request, proof, answer)


async def decline_presentation(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    view = await request.app[PRESENTATIONS].decline(principal, request.match_info["presentation_id"])
    return json_response(presentation_json(view))


async def list_presentation_history(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    limit = query_int(request, "limit", default=20)
    page = await request.app[PRESENTATIONS].history(principal, limit=limit, cursor=request.query.get("cursor"))
    items = [presentation_json(v) for v in page.items]
    return etag_json(request, {"items": items, "next_cursor": page.next_cursor})


# -- consents and receipts -------------------------------------------------------------------------


async def list_consents(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    limit = query_int(request, "limit", default=20)
    page = await request.app[RECEIPTS].list_consents(principal, limit=limit, cursor=request.query.get("cursor"))
    return etag_json(request, {"items": [consent_json(c) for c in page.items], "next_cursor": page.next_cursor})


async def get_consent(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    view = await request.app[RECEIPTS].get_consent(principal, request.match_info["consent_id"])
    return etag_json(request, consent_json(view))


async def withdraw_consent(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    view = await request.app[RECEIPTS].withdraw(principal, request.match_info["consent_id"])
    return json_response(consent_json(view))


async def list_receipts(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    limit = query_int(request, "limit", default=20)
    page = await request.app[RECEIPTS].list_receipts(principal, limit=limit, cursor=request.query.get("cursor"))
    return etag_json(request, {"items": [receipt_json(r) for r in page.items], "next_cursor": page.next_cursor})


async def get_receipt(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    view = await request.app[RECEIPTS].get_receipt(principal, request.match_info["receipt_id"])
    return json_response(receipt_json(view), headers={"Cache-Control": "no-store"})


# -- the resident's privacy choices and the services that broke a promise ---------------------------


async def list_violations(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    limit = query_int(request, "limit", default=20)
    page = await request.app[RECEIPTS].violations(principal, limit=limit, cursor=request.query.get("cursor"))
    return etag_json(request, {"items": [violation_json(v) for v in page.items], "next_cursor": page.next_cursor})


async def get_privacy(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    return json_response(privacy_json(await request.app[RECEIPTS].privacy_settings(principal)))


async def update_privacy(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await read_json(request)
    return json_response(privacy_json(await request.app[RECEIPTS].update_privacy_settings(principal, body)))


async def violation_summary(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    return json_response(violation_summary_json(await request.app[RECEIPTS].violation_summary()))
