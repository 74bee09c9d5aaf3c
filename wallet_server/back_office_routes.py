"""Handlers of the city's back office, and the public protocol endpoints.

The admin handlers are declared in :data:`wallet_server.routes.ROUTES` (and so in the OpenAPI
document). The protocol endpoints follow their own specifications and media types and are
registered by :func:`protocol_routes`:

* OpenID4VCI 1.0 (``/issuer/…`` and its ``/.well-known/…/issuer`` metadata): the SDK's
  :func:`vcsdk.oid4vc.issuer_routes`; errors are the spec's ``{"error": …, "error_description": …}``
  bodies.
* Token Status Lists (``/status/{list_id}``): ``application/statuslist+jwt`` with ETag and
  Cache-Control.
* DID resolution in the Universal Resolver's shape (``/1.0/identifiers/{did}``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from vcsdk.errors import (
    DidDeactivatedError,
    DidNotFoundError,
    DidResolutionError,
    InvalidDidError,
    InvalidInputError,
    NotFoundError,
    UnsupportedDidMethodError,
    VcsdkError,
)
from vcsdk.oid4vc import CredentialIssuer, issuer_routes
from wallet_server._http import etag_json, json_response, once_per_key, query_int, read_json, require_admin
from wallet_server.appkeys import CITY, CLOCK, ISSUANCE, OPEN_DATA, PUBLIC, REGISTRATIONS, STATUS_LISTS, TRUST
from wallet_server.middleware import REQUEST_ID
from wallet_server.schemas import (
    accreditation_json,
    issuance_outcome_json,
    issued_credential_json,
    release_json,
    service_registration_json,
    status_list_json,
)
from wallet_server.services.issuance import ISSUER_PATH
from wallet_server.services.status_lists import StatusAction

__all__ = [
    "DID_DOCUMENT_MEDIA_TYPE",
    "DID_RESOLUTION_MEDIA_TYPE",
    "accredit_issuer",
    "city_info",
    "export_open_data",
    "get_accreditation",
    "get_issued_credential",
    "list_issued_credentials",
    "list_open_data_releases",
    "list_services",
    "list_status_lists",
    "open_data_ledger",
    "protocol_routes",
    "publish_status_lists",
    "register_service",
    "reinstate_accreditation",
    "reinstate_credential",
    "revoke_credential",
    "start_issuance",
    "suspend_accreditation",
    "suspend_credential",
    "withdraw_service",
]

DID_DOCUMENT_MEDIA_TYPE = "application/did+ld+json"
DID_RESOLUTION_MEDIA_TYPE = 'application/ld+json;profile="https://w3id.org/did-resolution"'
STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
NO_STORE = {"Cache-Control": "no-store"}


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


# -- admin: issuance ------------------------------------------------------------------------------


async def start_issuance(request: web.Request) -> web.Response:
    admin = require_admin(request, "issuer")

    async def produce() -> web.Response:
        body = await read_json(request)
        outcome = await request.app[ISSUANCE].start(admin, body, origin=_origin(request))
        return json_response(issuance_outcome_json(outcome), headers=NO_STORE)

    return await once_per_key(request, admin, produce)


async def list_issued_credentials(request: web.Request) -> web.Response:
    require_admin(request, "issuer")
    page = await request.app[ISSUANCE].list_issued(
        limit=query_int(request, "limit", default=50),
        cursor=request.query.get("cursor"),
        resident_id=request.query.get("resident_id"),
    )
    items = [issued_credential_json(c) for c in page.items]
    return etag_json(request, {"items": items, "next_cursor": page.next_cursor})


async def get_issued_credential(request: web.Request) -> web.Response:
    require_admin(request, "issuer")
    credential = await request.app[ISSUANCE].get_issued(request.match_info["credential_id"])
    return etag_json(request, issued_credential_json(credential))


async def _change(request: web.Request, action: StatusAction) -> web.Response:
    require_admin(request, "issuer")
    changed = await request.app[ISSUANCE].change_status(request.match_info["credential_id"], action)
    return json_response({"items": [issued_credential_json(c) for c in changed]})


async def revoke_credential(request: web.Request) -> web.Response:
    return await _change(request, "revoke")


async def suspend_credential(request: web.Request) -> web.Response:
    return await _change(request, "suspend")


async def reinstate_credential(request: web.Request) -> web.Response:
    return await _change(request, "reinstate")


async def list_status_lists(request: web.Request) -> web.Response:
    require_admin(request, "issuer")
    records = await request.app[STATUS_LISTS].lists()
    return etag_json(request, {"items": [status_list_json(r) for r in records]})


async def publish_status_lists(request: web.Request) -> web.Response:
    require_admin(request, "issuer")
    await request.app[STATUS_LISTS].publish()
    records = await request.app[STATUS_LISTS].lists()
    return json_response({"items": [status_list_json(r) for r in records]})



# -- admin: registered services and open data ------------------------------------------------------


async def register_service(request: web.Request) -> web.Response:
    admin = require_admin(request, "operator")

    async def produce() -> web.Response:
        body = await read_json(request)
        registered = await request.app[REGISTRATIONS].register(admin, body, origin=_origin(request))
        location = f"/admin/v1/services/{registered.row.id}"
        return json_response(service_registration_json(registered), status=201, headers={"Location": location})

    return await once_per_key(request, admin, produce)


async def withdraw_service(request: web.Request) -> web.Response:
    admin = require_admin(request, "operator")
    withdrawn = await request.app[REGISTRATIONS].withdraw(admin, request.match_info["registration_id"])
    return json_response(service_registration_json(withdrawn))


async def list_services(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    items, cursor = await request.app[REGISTRATIONS].list(
        limit=query_int(request, "limit", default=50), cursor=request.query.get("cursor")
    )
    return etag_json(request, {"items": [service_registration_json(i) for i in items], "next_cursor": cursor})


async def export_open_data(request: web.Request) -> web.Response:
    admin = require_admin(request, "operator")

    async def produce() -> web.Response:
        body = await read_json(request)
        release = await request.app[OPEN_DATA].export(
            admin, period=body["period"], epsilon=body["epsilon"], k_threshold=body.get("k_threshold", 10)
        )
        return json_response(release_json(release), status=201)

    return await once_per_key(request, admin, produce)


async def list_open_data_releases(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    return etag_json(request, {"items": [release_json(r) for r in await request.app[OPEN_DATA].releases()]})


async def open_data_ledger(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    return etag_json(request, await request.app[OPEN_DATA].ledger())


# -- admin: trust ---------------------------------------------------------------------------------


async def accredit_issuer(request: web.Request) -> web.Response:
    admin = require_admin(request, "operator")

    async def produce() -> web.Response:
        body = await read_json(request)
        accreditation = await request.app[TRUST].accredit(
            body.get("issuer"), body.get("credential_type"),
            valid_from=body.get("valid_from"), valid_until=body.get("valid_until"),
        )
        return json_response(accreditation_json(accreditation))

    return await once_per_key(request, admin, produce)


async def get_accreditation(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    accreditation = await request.app[TRUST].get(request.query.get("issuer"), request.query.get("credential_type"))
    return json_response(accreditation_json(accreditation))


async def suspend_accreditation(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    body = await read_json(request)
    accreditation = await request.app[TRUST].suspend(body.get("issuer"), body.get("credential_type"))
    return json_response(accreditation_json(accreditation))


async def reinstate_accreditation(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    body = await read_json(request)
    accreditation = await request.app[TRUST].reinstate(body.get("issuer"), body.get("credential_type"))
    return json_response(accreditation_json(accreditation))


async def city_info(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    city = await request.app[CITY].get()
    issuer = request.app[ISSUANCE].issuer(_origin(request))
    return json_response(
        {
            "did": city.did,
            "chain_id": int(city.chain.chain_id),
            "contracts": dict(city.addresses),
            "credential_issuer": issuer.credential_issuer,
        }
    )


# -- status lists ---------------------------------------------------------------------------------


async def status_list(request: web.Request) -> web.Response:
    text = request.match_info["list_id"]
    if not text.isdigit() or len(text) > 9 or text.startswith("0"):
        raise NotFoundError("no such status list")
    published = await request.app[STATUS_LISTS].served(int(text))
    headers = {
        "ETag": published.etag,
        "Cache-Control": f"public, max-age={published.max_age}",
        "Last-Modified": _http_date(published.published_at),
    }
    condition = request.headers.get("If-None-Match", "")
    if published.etag in {t.strip().removeprefix("W/") for t in condition.split(",")}:
        return web.Response(status=304, headers=headers)
    return web.Response(text=published.token, content_type=STATUS_LIST_MEDIA_TYPE, headers=headers)


def _http_date(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


# -- DID resolution (Universal Resolver shape) ----------------------------------------------------

# W3C DID Resolution error names and the HTTP status the Universal Resolver answers with.
_DID_ERRORS: tuple[tuple[type[VcsdkError], str, int], ...] = (
    (InvalidDidError, "invalidDid", 400),
    (InvalidInputError, "invalidDid", 400),
    (UnsupportedDidMethodError, "methodNotSupported", 400),
    (DidNotFoundError, "notFound", 404),
    (DidDeactivatedError, "deactivated", 410),
)


#: Query parameters of a DID URL this endpoint passes on (W3C DID Core §3.2.1).
_DID_URL_PARAMS = ("versionId", "versionTime")


async def resolve_did(request: web.Request) -> web.Response:
    did = request.match_info["did"]
    unknown = sorted(set(request.query) - set(_DID_URL_PARAMS))
    if unknown or any(len(request.query.getall(name)) > 1 for name in request.query):
        problem = InvalidInputError(
            f"unsupported query parameter {unknown[0][:40]!r}; this endpoint understands versionId and versionTime"
            if unknown else "give versionId or versionTime once"
        )
        return _did_problem(request, problem)
    params = [(name, request.query[name]) for name in _DID_URL_PARAMS if name in request.query]
    if params:
        # /1.0/identifiers/did:ethr:…?versionId=12: the query belongs to the DID URL being resolved.
        did = f"{did}?{urlencode(params)}"
    try:
        result, deactivated = await request.app[PUBLIC].resolve(did)
    except VcsdkError as exc:
        return _did_problem(request, exc)
    accept = request.headers.get("Accept", "")
    status = 410 if deactivated else 200
    if DID_DOCUMENT_MEDIA_TYPE in accept and "did-resolution" not in accept:
        return json_response(result["didDocument"], status=status, content_type=DID_DOCUMENT_MEDIA_TYPE)
    response = json_response(result, status=status)
    response.headers["Content-Type"] = DID_RESOLUTION_MEDIA_TYPE
    return response


def _did_problem(request: web.Request, exc: VcsdkError) -> web.Response:
    error, status = "internalError", exc.http_status
    for cls, name, code in _DID_ERRORS:
        if isinstance(exc, cls):
            error, status = name, code
            break
    else:
        if isinstance(exc, DidResolutionError) and exc.code == "unknown_network":
            error, status = "notFound", 404  # a did:ethr on a chain this server does not know
        elif exc.http_status < 500:
            error, status = "invalidDid", 400
        else:
            raise exc  # the chain is down: the error middleware answers 503 and logs it
    body: dict[str, Any] = {
        "type": f"urn:vcsdk:problem:{exc.code}",
        "title": "Not Found" if status == 404 else "Bad Request" if status == 400 else "Gone",
        "status": status,
        "detail": exc.message,
        "code": exc.code,
        "request_id": request.get(REQUEST_ID, ""),
        # The DID Resolution result members, so Universal Resolver clients read the error too.
        "didResolutionMetadata": {"error": error, "message": exc.message},
        "didDocument": None,
        "didDocumentMetadata": {},
    }
    return json_response(body, status=status, content_type="application/problem+json")


def _issuer(request: web.Request) -> CredentialIssuer:
    return request.app[ISSUANCE].issuer(_origin(request))


def protocol_routes(app: web.Application) -> list[web.RouteDef]:
    """The OpenID4VCI issuer (the SDK's routes, for the issuer at this server's URL), status list and
    DID resolution routes (outside the OpenAPI document)."""
    return [
        *issuer_routes(_issuer, clock=app[CLOCK], base_path=ISSUER_PATH),
        web.get("/status/{list_id}", status_list),
        web.get("/1.0/identifiers/{did}", resolve_did),
    ]

