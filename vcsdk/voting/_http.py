"""aiohttp routes of a voting service, and the voter client's request builders.

Routes, relative to the service's ``base_url`` path:

=======  ==============================  ==================================================
GET      ``/``                           the election (choices, districts, period)
POST     ``/sessions``                   a new OpenID4VP request: ``deep_link``, ``request_uri``
GET      ``/oid4vp/request/{id}``        the signed Request Object
POST     ``/oid4vp/response``            the wallet's ``direct_post``; answers ``redirect_uri``
                                         ``<base>/ballot#ballot_token=…``
POST     ``/ballots``                    ``{"ballot_token", "choice", "salt"}`` → the receipt (201)
GET      ``/receipts/{commitment}``      ``{"commitment", "proof"}`` (``proof`` null until anchored)
GET      ``/results``                    the publication, once the election is closed
=======  ==============================  ==================================================

Errors are ``{"error": code, "error_description": …}`` with the error class's HTTP status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from vcsdk._json import parse_json
from vcsdk.errors import InvalidInputError, ProofInvalidError, ProtocolError, VcsdkError
from vcsdk.oid4vc import HttpRequest, HttpResponse
from vcsdk.oid4vc._http import NO_STORE, error_response, read_form
from vcsdk.oid4vc._vp_messages import REQUEST_OBJECT_TYP
from vcsdk.receipts import InclusionProof, hex32
from vcsdk.voting._ballot import BallotChoice, BallotReceipt
from vcsdk.voting._service import VotingService

__all__ = [
    "ballot_token_from_redirect",
    "cast_request",
    "parse_cast_answer",
    "parse_proof_answer",
    "proof_request",
    "voting_routes",
]

MAX_BODY = 16 * 1024


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(handler: Handler) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except VcsdkError as exc:
            return error_response(exc)

    return run


def voting_routes(service: VotingService, *, clock: Callable[[], datetime]) -> list[web.RouteDef]:
    """The voting service's HTTP routes at the path of ``service.base_url``.

    :param clock: returns the current time.
    :return: routes for ``app.add_routes``.
    """
    base = urlsplit(service.base_url).path.rstrip("/")
    verifier = service.verifier

    async def election(_: web.Request) -> web.StreamResponse:
        return web.json_response(dict(service.election_json()))

    async def sessions(_: web.Request) -> web.StreamResponse:
        created = await service.start(now=clock())
        body = {
            "request_id": created.request_id,
            "deep_link": created.deep_link,
            "request_uri": created.request_uri,
            "expires_at": created.expires_at.isoformat(),
        }
        return web.json_response(body, status=201, headers=NO_STORE)

    async def request_object(request: web.Request) -> web.StreamResponse:
        jwt = await verifier.request_object(request.match_info["request_id"], now=clock())
        return web.Response(text=jwt, content_type=f"application/{REQUEST_OBJECT_TYP}", headers=NO_STORE)

    async def response(request: web.Request) -> web.StreamResponse:
        now = clock()
        result = await verifier.handle_response(await read_form(request), now=now)
        if result.error is not None:
            return web.json_response({}, headers=NO_STORE)
        token = await service.admit(result, now=now)
        # The presentation is not kept: only the nullifier travels on, inside the token's state.
        return web.json_response({"redirect_uri": f"{service.base_url}/ballot#ballot_token={token}"}, headers=NO_STORE)

    async def ballots(request: web.Request) -> web.StreamResponse:
        body = parse_json(await request.content.read(MAX_BODY + 1), what="ballot", max_bytes=MAX_BODY)
        if not isinstance(body, dict) or set(body) != {"ballot_token", "choice", "salt"}:
            raise InvalidInputError("a ballot is {ballot_token, choice, salt}")
        token, choice = body["ballot_token"], body["choice"]
        if not isinstance(token, str) or not isinstance(choice, str):
            raise InvalidInputError("ballot_token and choice must be strings")
        ballot = BallotChoice(service.election_id, choice, hex32(body["salt"], what="salt"))
        receipt = await service.cast(token, ballot, now=clock())
        return web.json_response(dict(receipt.to_json()), status=201, headers=NO_STORE)

    async def receipt(request: web.Request) -> web.StreamResponse:
        commitment = hex32(request.match_info["commitment"], what="commitment")
        proof = await service.inclusion_proof(commitment)
        body = {"commitment": "0x" + commitment.hex(), "proof": proof.to_json() if proof is not None else None}
        return web.json_response(body, headers=NO_STORE)

    async def results(_: web.Request) -> web.StreamResponse:
        return web.json_response(dict(service.published()))

    return [
        *([web.get(base, _guard(election))] if base else []),
        web.get(f"{base}/", _guard(election)),
        web.post(f"{base}/sessions", _guard(sessions)),
        web.get(f"{base}/oid4vp/request/{{request_id}}", _guard(request_object)),
        web.post(f"{base}/oid4vp/response", _guard(response)),
        web.post(f"{base}/ballots", _guard(ballots)),
        web.get(f"{base}/receipts/{{commitment}}", _guard(receipt)),
        web.get(f"{base}/results", _guard(results)),
    ]


# -- voter client (I/O-free: send the requests with vcsdk.oid4vc.send) -------------------------


def _raise_for_error(answer: HttpResponse, *, what: str) -> None:
    if 200 <= answer.status < 300:
        return
    code, description = "server_error", ""
    try:
        body = parse_json(answer.body, what=what)
    except InvalidInputError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"].isidentifier():
        code = body["error"]
        desc = body.get("error_description")
        description = f": {desc[:200]}" if isinstance(desc, str) else ""
    raise ProtocolError(f"{what} failed with HTTP {answer.status} ({code}){description}", code=code)


def ballot_token_from_redirect(redirect_uri: str) -> str:
    """The ballot token in the ``redirect_uri`` the service answered the wallet with.

    :raises ProtocolError: (``invalid_response``) if there is none.
    """
    fragment = dict(parse_qsl(urlsplit(redirect_uri).fragment))
    token = fragment.get("ballot_token")
    if not token:
        raise ProtocolError("the voting service's answer carries no ballot token", code="invalid_response")
    return token


def cast_request(base_url: str, token: str, ballot: BallotChoice) -> HttpRequest:
    """The request casting ``ballot`` with ``token``."""
    body: dict[str, Any] = {"ballot_token": token, "choice": ballot.choice, "salt": "0x" + ballot.salt.hex()}
    return HttpRequest.json(f"{base_url.rstrip('/')}/ballots", body)


def parse_cast_answer(answer: HttpResponse, ballot: BallotChoice) -> BallotReceipt:
    """Read the receipt and check it is for the voter's own ballot.

    :raises ProtocolError: with the service's error code if it refused the ballot
        (``already_voted``, ``voting_closed``, ``invalid_ballot_token``, …).
    :raises ProofInvalidError: (``commitment_mismatch``) if the receipt is for another ballot.
    """
    _raise_for_error(answer, what="ballot")
    receipt = BallotReceipt.from_json(answer.json_object(what="ballot receipt"))
    if (receipt.commitment, receipt.choice, receipt.election_id) != (
        ballot.commitment,
        ballot.choice,
        ballot.election_id,
    ):
        raise ProofInvalidError("the receipt is not for the ballot this voter cast", code="commitment_mismatch")
    return receipt


def proof_request(base_url: str, commitment: bytes) -> HttpRequest:
    """The request for a ballot's inclusion proof."""
    return HttpRequest("GET", f"{base_url.rstrip('/')}/receipts/0x{commitment.hex()}")


def parse_proof_answer(answer: HttpResponse) -> InclusionProof | None:
    """The inclusion proof, or ``None`` while the ballot's batch is not anchored.

    :raises ProtocolError: with the service's error code.
    """
    _raise_for_error(answer, what="inclusion proof")
    proof = answer.json_object(what="inclusion proof").get("proof")
    return InclusionProof.from_json(proof) if proof is not None else None
