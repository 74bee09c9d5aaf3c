"""The one route table. Each handler: validate input → call a service → serialise.

The table also drives the OpenAPI document (:mod:`wallet_server.openapi`): a route's auth kind,
body schema, answer schema and possible errors are declared next to its handler. Routes for offers,
presentations and receipts are added here, with their own services, as those SDK parts land.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from vcsdk.errors import InvalidInputError
from wallet_server import back_office_routes as city
from wallet_server import election_routes as er
from wallet_server import resident_routes as rr
from wallet_server._http import (
    BODY_SCHEMA,
    answer_spending_proof,
    authenticate,
    authenticate_unrecorded,
    compact_json,
    etag_body,
    etag_json,
    json_response,
    once_per_key,
    query_int,
    read_json,
    request_url,
    require_admin,
)
from wallet_server.api_docs import DOCS_CSP, render_docs
from wallet_server.appkeys import (
    ADMIN,
    AUTH,
    CHAIN,
    CLOCK,
    CREDENTIALS,
    DEVICES,
    IDEMPOTENCY,
    IP_LIMITER,
    METRICS,
    OPENAPI,
    RECEIPTS,
    REDIS_BREAKER,
    STORE,
)
from wallet_server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from wallet_server.metrics import check_ready
from wallet_server.pages import page_routes
from wallet_server.resident_schemas import RESIDENT_SCHEMAS
from wallet_server.schemas import (
    SCHEMAS,
    admin_json,
    anchoring_json,
    challenge_json,
    credential_json,
    credential_summary_json,
    device_json,
    enrolment_code_json,
    resident_json,
    tokens_json,
)
from wallet_server.services import Principal
from wallet_server.services.credentials import CredentialSummary, SummariesPage
from wallet_server.services.idempotency import HEADER as IDEMPOTENCY_HEADER
from wallet_server.sso_routes import register_sso_client, sso_routes
from wallet_server.storage import DeviceProof

__all__ = ["READY_TIMEOUT", "ROUTES", "Route", "add_routes"]

#: Seconds each readiness check may take.
READY_TIMEOUT = 2.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: ``admin``: any valid admin token, whatever its roles.
Auth = Literal["none", "dpop", "dpop-refresh", "operator", "issuer", "admin"]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: what it answers and what it needs, for the router and the OpenAPI document."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: Auth = "none"
    body: str | None = None
    response: str | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    query: tuple[str, ...] = ()
    etag: bool = False


# -- public ------------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    checks = await check_ready(_readiness_checks(request.app), timeout=READY_TIMEOUT)
    up = all(c.state != "down" for c in checks)
    body = {"status": "ready" if up else "not_ready", "checks": {c.name: c.state for c in checks}}
    return json_response(body, status=200 if up else 503, headers={"Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render(request.app[RECEIPTS].outbox_figures, request.app[CLOCK]())
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store"})


def _readiness_checks(app: web.Application) -> dict[str, Callable[[], Awaitable[object]] | None]:
    async def chain() -> None:
        await (await app[CHAIN].get()).block_number()

    redis = app[IP_LIMITER].ping if REDIS_BREAKER in app else None
    return {"database": app[STORE].ping, "redis": redis, "chain": chain}


async def openapi_document(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(
        text=render_docs(request.app[OPENAPI]), content_type="text/html", headers={"Content-Security-Policy": DOCS_CSP}
    )


# -- enrolment and login ---------------------------------------------------------------------


async def enrol(request: web.Request) -> web.Response:
    body = await read_json(request)
    device = await request.app[DEVICES].enrol(body.get("code"), body.get("public_jwk"), body.get("name"))
    return json_response({"resident_id": device.resident_id, "device": device_json(device)}, status=201)


async def challenge(request: web.Request) -> web.Response:
    return json_response(challenge_json(await request.app[AUTH].challenge()))


async def token(request: web.Request) -> web.Response:
    body = await read_json(request)
    tokens = await request.app[AUTH].login(body.get("device_id", ""), body.get("assertion", ""))
    return json_response(tokens_json(tokens), headers={"Cache-Control": "no-store"})


async def refresh(request: web.Request) -> web.Response:
    body = await read_json(request)
    tokens = await request.app[AUTH].refresh(
        body.get("refresh_token", ""),
        dpop=request.headers.getall("DPoP", []),
        method=request.method,
        url=request_url(request),
    )
    return json_response(tokens_json(tokens), headers={"Cache-Control": "no-store"})


async def logout(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await read_json(request)
    await request.app[AUTH].logout(principal, body.get("refresh_token", ""))
    return web.Response(status=204)


# -- resident ----------------------------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    return json_response({"resident_id": principal.resident_id, "device_id": principal.device_id})


async def list_devices(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    devices = await request.app[DEVICES].list(principal)
    return etag_json(request, {"items": [device_json(d) for d in devices]})


async def add_device(request: web.Request) -> web.Response:
    principal = await authenticate(request)

    async def produce() -> web.Response:
        body = await read_json(request)
        device = await request.app[DEVICES].add(principal, body.get("public_jwk"), body.get("name"))
        return json_response(device_json(device), status=201)

    return await request.app[IDEMPOTENCY].answer(request, principal.resident_id, "POST /v1/devices", produce)


async def remove_device(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    await request.app[DEVICES].remove(principal, request.match_info["device_id"])
    return web.Response(status=204)


async def list_credentials(request: web.Request) -> web.Response:
    # The DPoP proof is recorded in the listing's own round trip (refused there if it cannot be).
    principal, proof = await authenticate_unrecorded(request)

    async def listing() -> web.Response:
        limit = query_int(request, "limit", default=20)
        page = await request.app[CREDENTIALS].summaries(
            principal, limit=limit, cursor=request.query.get("cursor"), proof=proof
        )
        return _listing_body(request, page)

    # A request refused before the listing's statement (a bad limit or cursor) still spends its proof.
    return await answer_spending_proof(request, proof, listing)


def _listing_body(request: web.Request, page: SummariesPage) -> web.Response:
    # The same bytes as etag_json of {"items": [...], "next_cursor": ...} ("items" sorts first),
    # each summary encoded once per process.
    items = b",".join(_summary_bytes(c) for c in page.items)
    body = b'{"items":[' + items + b'],"next_cursor":' + compact_json(page.next_cursor) + b"}"
    return etag_body(request, body)


#: Encoded summaries by credential id, with the summary object they encode (a stored credential
#: never changes; the credential service hands out the same object while it keeps it). Bounded.
_SUMMARY_BYTES: dict[str, tuple[CredentialSummary, bytes]] = {}
_SUMMARY_BYTES_ENTRIES = 50_000


def _summary_bytes(summary: CredentialSummary) -> bytes:
    cached = _SUMMARY_BYTES.get(summary.id)
    if cached is not None and cached[0] is summary:
        return cached[1]
    encoded = compact_json(credential_summary_json(summary))
    if len(_SUMMARY_BYTES) >= _SUMMARY_BYTES_ENTRIES:
        del _SUMMARY_BYTES[next(iter(_SUMMARY_BYTES))]
    _SUMMARY_BYTES[summary.id] = (summary, encoded)
    return encoded


async def store_credential(request: web.Request) -> web.Response:
    if IDEMPOTENCY_HEADER in request.headers:
        # A kept answer is given again only to a request whose proof was recorded first.
        principal = await authenticate(request)

        async def produce() -> web.Response:
            return await _store_credential(request, principal, None)

        return await request.app[IDEMPOTENCY].answer(request, principal.resident_id, "POST /v1/credentials", produce)
    # The DPoP proof is recorded in the credential's own statement (refused there if it cannot be).
    # Without a key there is no kept answer to look up: the credential is stored straight away.
    unrecorded, proof = await authenticate_unrecorded(request)
    # A request refused before the credential's statement (a malformed token) still spends its proof.
    return await answer_spending_proof(request, proof, lambda: _store_credential(request, unrecorded, proof))


async def _store_credential(request: web.Request, principal: Principal, proof: DeviceProof | None) -> web.Response:
    body = await read_json(request)
    view = await request.app[CREDENTIALS].put(
        principal, body.get("credential"), format=body.get("format"), metadata=body.get("metadata"), proof=proof
    )
    return json_response(
        credential_summary_json(view), status=201, headers={"Location": f"/v1/credentials/{view.id}"}
    )


async def get_credential(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    view = await request.app[CREDENTIALS].get(principal, request.match_info["credential_id"])
    return etag_json(request, credential_json(view))


async def delete_credential(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    await request.app[CREDENTIALS].delete(principal, request.match_info["credential_id"])
    return web.Response(status=204)


# -- city admin --------------------------------------------------------------------------------


async def issue_enrolment_code(request: web.Request) -> web.Response:
    admin = require_admin(request, "operator")

    async def produce() -> web.Response:
        body = await read_json(request)
        issued = await request.app[ADMIN].issue_enrolment_code(admin, resident_id=body.get("resident_id"))
        return json_response(enrolment_code_json(issued), status=201, headers={"Cache-Control": "no-store"})

    return await once_per_key(request, admin, produce)


async def admin_me(request: web.Request) -> web.Response:
    return json_response(admin_json(require_admin(request, None)), headers={"Cache-Control": "no-store"})


async def anchoring(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    return json_response(anchoring_json(await request.app[RECEIPTS].anchoring_overview()))


async def list_residents(request: web.Request) -> web.Response:
    require_admin(request, "operator")
    limit = query_int(request, "limit", default=50)
    page = await request.app[ADMIN].list_residents(limit=limit, cursor=request.query.get("cursor"))
    return etag_json(request, {"items": [resident_json(r) for r in page.items], "next_cursor": page.next_cursor})



_ELECTION = "/admin/v1/elections/{election_id}"
#: The city's elections (wallet_server.election_routes; the console's "Elections").
ELECTION_ROUTES: tuple[Route, ...] = (
    Route(
        "POST", "/admin/v1/elections", er.create_election,
        "Create an election and its token keys (vcsdk.voting); it starts as a draft", "elections",
        auth="operator", body="ElectionCreate", response="Election", status=201, errors=(409,),
    ),
    Route(
        "GET", "/admin/v1/elections", er.list_elections, "The city's elections, the newest first", "elections",
        auth="admin", response="ElectionList",
    ),
    Route(
        "GET", _ELECTION, er.get_election, "One election", "elections",
        auth="admin", response="Election", errors=(404,),
    ),
    Route(
        "POST", f"{_ELECTION}/commit", er.commit_election,
        "Deploy the election's anchor contract and commit its token keys on chain (before voting opens)",
        "elections", auth="operator", body="ElectionCommit", response="Election", errors=(404, 409, 503),
    ),
    Route(
        "POST", f"{_ELECTION}/open", er.open_election,
        "Open: eligibility credentials and ballot tokens are issued", "elections",
        auth="operator", response="Election", errors=(404, 409),
    ),
    Route(
        "POST", f"{_ELECTION}/close", er.close_election,
        "Close: no more eligibility credentials or ballot tokens", "elections",
        auth="operator", response="Election", errors=(404, 409),
    ),
    Route(
        "POST", f"{_ELECTION}/publish", er.publish_election,
        "Fetch the voting service's publication, verify it against the chain and keep the tally", "elections",
        auth="operator", response="Election", errors=(404, 409, 422, 503),
    ),
    Route(
        "POST", f"{_ELECTION}/eligibility-offers", er.offer_eligibility,
        "Check a resident against the registry and offer the election's eligibility credential", "elections",
        auth="issuer", body="EligibilityOfferRequest", response="EligibilityOfferOutcome", errors=(404, 409, 503),
    ),
)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", health, "Liveness check", "meta", response="Health"),
    Route(
        "GET", "/ready", ready, "Readiness: the database, Redis (if configured) and the chain answer in time", "meta",
        response="Ready", errors=(503,),
    ),
    Route("GET", "/metrics", metrics, "Prometheus metrics (text exposition format)", "meta"),
    Route("GET", "/openapi.json", openapi_document, "This OpenAPI 3.1 document", "meta"),
    Route("GET", "/docs", docs_page, "Interactive API reference (Swagger UI, served from this server)", "meta"),
    Route(
        "POST", "/v1/enrolment", enrol, "Register a resident's first device with a one-time enrolment code", "auth",
        body="EnrolmentRequest", response="Enrolment", status=201, errors=(404, 409),
    ),
    Route("POST", "/v1/auth/challenge", challenge, "Get a single-use login nonce", "auth", response="Challenge"),
    Route(
        "POST", "/v1/auth/token", token, "Log in: exchange a signed challenge for DPoP-bound tokens", "auth",
        body="TokenRequest", response="Tokens", errors=(401,),
    ),
    Route(
        "POST", "/v1/auth/refresh", refresh, "Rotate a refresh token (needs a DPoP proof)", "auth",
        auth="dpop-refresh", body="RefreshRequest", response="Tokens", errors=(401,),
    ),
    Route(
        "POST", "/v1/auth/logout", logout, "End the login a refresh token belongs to", "auth",
        auth="dpop", body="RefreshRequest", status=204, errors=(404,),
    ),
    Route("GET", "/v1/me", me, "Who is calling", "resident", auth="dpop", response="Me"),
    Route(
        "GET", "/v1/devices", list_devices, "List the resident's devices", "resident",
        auth="dpop", response="DeviceList", etag=True,
    ),
    Route(
        "POST", "/v1/devices", add_device, "Register another device of the calling resident", "resident",
        auth="dpop", body="DeviceCreate", response="Device", status=201, errors=(409,),
    ),
    Route(
        "DELETE", "/v1/devices/{device_id}", remove_device, "Remove a device; its tokens stop working", "resident",
        auth="dpop", status=204, errors=(404,),
    ),
    Route(
        "GET", "/v1/credentials", list_credentials, "List the resident's credentials (metadata)", "resident",
        auth="dpop", response="CredentialPage", query=("limit", "cursor"), etag=True,
    ),
    Route(
        "POST", "/v1/credentials", store_credential, "Store a credential, encrypted at rest", "resident",
        auth="dpop", body="CredentialCreate", response="CredentialSummary", status=201,
    ),
    Route(
        "GET", "/v1/credentials/{credential_id}", get_credential, "Get one credential with its raw token",
        "resident", auth="dpop", response="Credential", errors=(404,), etag=True,
    ),
    Route(
        "DELETE", "/v1/credentials/{credential_id}", delete_credential, "Delete a credential", "resident",
        auth="dpop", status=204, errors=(404,),
    ),
    Route(
        "GET", "/admin/v1/me", admin_me, "The calling admin token's name and roles (the console's sign-in)",
        "admin", auth="admin", response="AdminMe",
    ),
    Route(
        "GET", "/admin/v1/receipts/anchoring", anchoring,
        "Where access-receipt anchoring stands: receipts queued, batches open, the newest batches", "admin",
        auth="operator", response="Anchoring",
    ),
    Route(
        "POST", "/admin/v1/enrolment-codes", issue_enrolment_code, "Issue a one-time enrolment code", "admin",
        auth="operator", body="EnrolmentCodeRequest", response="EnrolmentCode", status=201, errors=(404,),
    ),
    Route(
        "GET", "/admin/v1/residents", list_residents, "List residents (metadata only)", "admin",
        auth="operator", response="ResidentPage", query=("limit", "cursor"), etag=True,
    ),
    # -- the city back office: issuance, status, trust (handlers in back_office_routes) --
    Route(
        "POST", "/admin/v1/issuances", city.start_issuance,
        "Check a resident's identity against the registry; on a match, offer the credential", "admin",
        auth="issuer", body="IssuanceRequest", response="IssuanceOutcome", errors=(404, 409, 503),
    ),
    Route(
        "GET", "/admin/v1/credentials", city.list_issued_credentials, "List issued credentials (metadata only)",
        "admin", auth="issuer", response="IssuedCredentialPage", query=("limit", "cursor", "resident_id"),
        etag=True,
    ),
    Route(
        "GET", "/admin/v1/credentials/{credential_id}", city.get_issued_credential,
        "One issued credential's metadata", "admin", auth="issuer", response="IssuedCredential",
        errors=(404,), etag=True,
    ),
    Route(
        "POST", "/admin/v1/credentials/{credential_id}/revoke", city.revoke_credential,
        "Revoke a credential (and its batch copies); publish the status list and anchor its digest", "admin",
        auth="issuer", response="IssuedCredentialList", errors=(404,),
    ),
    Route(
        "POST", "/admin/v1/credentials/{credential_id}/suspend", city.suspend_credential,
        "Suspend a credential (and its batch copies); publish and anchor", "admin",
        auth="issuer", response="IssuedCredentialList", errors=(404,),
    ),
    Route(
        "POST", "/admin/v1/credentials/{credential_id}/reinstate", city.reinstate_credential,
        "Lift a suspension; publish and anchor", "admin",
        auth="issuer", response="IssuedCredentialList", errors=(404,),
    ),
    Route(
        "GET", "/admin/v1/status-lists", city.list_status_lists, "The city's status lists", "admin",
        auth="issuer", response="StatusListList", etag=True,
    ),
    Route(
        "POST", "/admin/v1/status-lists/publish", city.publish_status_lists,
        "Re-sign every status list now and anchor changed digests", "admin",
        auth="issuer", response="StatusListList",
    ),
    Route(
        "POST", "/admin/v1/accreditations", city.accredit_issuer,
        "Accredit an issuer DID for a credential type on the trusted-issuer registry", "admin",
        auth="operator", body="AccreditationRequest", response="Accreditation",
    ),
    Route(
        "GET", "/admin/v1/accreditations", city.get_accreditation, "An issuer's accreditation for a type",
        "admin", auth="operator", response="Accreditation", query=("issuer", "credential_type"), errors=(404,),
    ),
    Route(
        "POST", "/admin/v1/accreditations/suspend", city.suspend_accreditation,
        "Suspend an issuer's accreditation for a type", "admin",
        auth="operator", body="AccreditationRef", response="Accreditation", errors=(404, 409),
    ),
    Route(
        "POST", "/admin/v1/accreditations/reinstate", city.reinstate_accreditation,
        "Lift the suspension of an accreditation", "admin",
        auth="operator", body="AccreditationRef", response="Accreditation", errors=(404, 409),
    ),
    Route(
        "GET", "/admin/v1/city", city.city_info, "The city's DID, chain and contract addresses", "admin",
        auth="operator", response="City",
    ),
    Route(
        "POST", "/admin/v1/services", city.register_service,
        "Register a service: what it may ask and why, signed by the city (vcsdk.registration)", "admin",
        auth="operator", body="ServiceRegistrationRequest", response="ServiceRegistration", status=201,
    ),
    Route(
        "POST", "/admin/v1/services/{registration_id}/withdraw", city.withdraw_service,
        "Withdraw a service's registration before it expires: its status entry is revoked and the list "
        "published, so wallets refuse the service's requests", "admin",
        auth="operator", response="ServiceRegistration", errors=(404, 409),
    ),
    Route(
        "POST", "/admin/v1/sso/clients", register_sso_client,
        "Register a service as an OpenID Connect client of the city's provider (single sign-on)", "admin",
        auth="operator", body="SsoClientRequest", response="SsoClient", status=201, errors=(404,),
    ),
    Route(
        "GET", "/admin/v1/services", city.list_services, "The registered services", "admin",
        auth="operator", response="ServiceRegistrationPage", query=("limit", "cursor"), etag=True,
    ),
    Route(
        "POST", "/admin/v1/open-data/releases", city.export_open_data,
        "Release a month's access statistics with differential privacy (charges the month's epsilon budget)",
        "admin", auth="operator", body="OpenDataExportRequest", response="OpenDataRelease", status=201,
        errors=(409,),
    ),
    Route(
        "GET", "/admin/v1/open-data/releases", city.list_open_data_releases, "Every open-data release",
        "admin", auth="operator", response="OpenDataReleaseList", etag=True,
    ),
    Route(
        "GET", "/admin/v1/open-data/ledger", city.open_data_ledger,
        "The privacy budget ledger: each month's budget and every release's epsilon", "admin",
        auth="operator", response="PrivacyLedger", etag=True,
    ),
    *ELECTION_ROUTES,
)


# -- resident wallet: offers inbox, presentations, consents, receipts, history --------------------
# Handlers live in wallet_server.resident_routes, wire shapes in wallet_server.resident_schemas.
SCHEMAS.update(RESIDENT_SCHEMAS)
_OFFER = "/v1/offers/{offer_id}"
_PRESENTATION = "/v1/presentations/{presentation_id}"
_PAGED = ("limit", "cursor")
_RESIDENT_WALLET_ROUTES: tuple[Route, ...] = (
    Route(
        "GET", "/v1/offers", rr.list_offers, "List the credential offers in the resident's inbox", "offers",
        auth="dpop", response="OfferPage", query=_PAGED, etag=True,
    ),
    Route(
        "POST", "/v1/offers", rr.scan_offer, "Add a scanned openid-credential-offer:// link to the inbox", "offers",
        auth="dpop", body="OfferScan", response="Offer", status=201,
    ),
    Route(
        "GET", _OFFER, rr.get_offer, "Get one offer", "offers", auth="dpop", response="Offer", errors=(404,), etag=True,
    ),
    Route(
        "POST", f"{_OFFER}/accept", rr.accept_offer,
        "Accept an offer (with its tx_code): redeem it at the issuer and get the key proof to sign", "offers",
        auth="dpop", body="OfferAccept", response="OfferAcceptResult", errors=(403, 404, 409),
    ),
    Route(
        "POST", f"{_OFFER}/signature", rr.sign_offer,
        "Send the device's signature of the key proof; the credential is issued and stored", "offers",
        auth="dpop", body="OfferSignature", response="CredentialSummary", status=201, errors=(404, 409),
    ),
    Route(
        "POST", f"{_OFFER}/refill", rr.refill_offer,
        "Refill a batch of credential copies for fresh keys of this phone (re-issuance): the key proofs to sign",
        "offers", auth="dpop", body="OfferRefill", response="ProofSigningRequest", errors=(404, 409),
    ),
    Route(
        "POST", f"{_OFFER}/refill/signature", rr.sign_refill,
        "Send the signatures of a refill's key proofs; the new copies join the batch", "offers",
        auth="dpop", body="RefillSignatures", response="CredentialSummary", status=201, errors=(404, 409),
    ),
    Route(
        "POST", f"{_OFFER}/decline", rr.decline_offer, "Decline an offer", "offers",
        auth="dpop", response="Offer", errors=(404, 409),
    ),
    Route(
        "POST", "/v1/presentations", rr.start_presentation,
        "Open a service's openid4vp:// request: verify it and get the consent screen", "presentations",
        auth="dpop", body="PresentationStart", response="Presentation", status=201, errors=(404,),
    ),
    Route(
        "GET", _PRESENTATION, rr.get_presentation, "Get one presentation and where it stands", "presentations",
        auth="dpop", response="Presentation", errors=(404,),
    ),
    Route(
        "POST", f"{_PRESENTATION}/consent", rr.consent_presentation,
        "Consent (choosing credentials): get the KB-JWT signing inputs", "presentations",
        auth="dpop", body="PresentationConsent", response="Presentation", errors=(403, 404, 409),
    ),
    Route(
        "POST", f"{_PRESENTATION}/signature", rr.sign_presentation,
        "Send the device's KB-JWT signatures: the presentation goes to the service", "presentations",
        auth="dpop", body="PresentationSignatures", response="Presentation", errors=(404, 409),
    ),
    Route(
        "POST", f"{_PRESENTATION}/decline", rr.decline_presentation, "Decline: the service gets access_denied",
        "presentations", auth="dpop", response="Presentation", errors=(404, 409),
    ),
    Route(
        "GET", "/v1/history/presentations", rr.list_presentation_history, "The resident's presentation history",
        "history", auth="dpop", response="PresentationPage", query=_PAGED, etag=True,
    ),
    Route(
        "GET", "/v1/consents", rr.list_consents, "The consents the resident gave", "history",
        auth="dpop", response="ConsentPage", query=_PAGED, etag=True,
    ),
    Route(
        "GET", "/v1/consents/{consent_id}", rr.get_consent, "Get one consent", "history",
        auth="dpop", response="Consent", errors=(404,), etag=True,
    ),
    Route(
        "POST", "/v1/consents/{consent_id}/withdraw", rr.withdraw_consent,
        "Withdraw a consent: receipts for later accesses under it are refused", "history",
        auth="dpop", response="Consent", errors=(404, 409),
    ),
    Route(
        "GET", "/v1/receipts", rr.list_receipts, "The resident's access receipts with their anchoring state",
        "history", auth="dpop", response="ReceiptPage", query=("limit", "cursor"), etag=True,
    ),
    Route(
        "GET", "/v1/receipts/{receipt_id}", rr.get_receipt,
        "One access receipt; a final one's inclusion proof is verified against the chain", "history",
        auth="dpop", response="Receipt", errors=(404,),
    ),
    Route(
        "GET", "/v1/violations", rr.list_violations,
        "Services that broke a promise to the resident: no valid access receipt, a withdrawal left unanswered",
        "history", auth="dpop", response="ViolationPage", query=_PAGED, etag=True,
    ),
    Route(
        "GET", "/v1/privacy", rr.get_privacy, "The resident's privacy choices", "privacy",
        auth="dpop", response="PrivacySettings",
    ),
    Route(
        "PATCH", "/v1/privacy", rr.update_privacy, "Change the resident's privacy choices", "privacy",
        auth="dpop", body="PrivacySettingsUpdate", response="PrivacySettings",
    ),
    Route(
        "GET", "/admin/v1/violations", rr.violation_summary,
        "Violations by service and kind, counted (no resident in it)", "admin",
        auth="operator", response="ViolationSummary",
    ),
)
ROUTES += _RESIDENT_WALLET_ROUTES


def _checked(route: Route) -> Handler:
    """Refuse undeclared query parameters (a typo like ``limt`` fails loudly) and remember the body
    schema so :func:`~wallet_server._http.read_json` validates against what the document says."""
    allowed = frozenset(route.query)
    inner = route.handler

    async def handler(request: web.Request) -> web.StreamResponse:
        unknown = set(request.query) - allowed
        if unknown:
            raise InvalidInputError(f"unknown query parameter(s); this route takes {sorted(allowed) or 'none'}")
        if route.body is not None:
            request[BODY_SCHEMA] = route.body
        return await inner(request)

    return handler


def add_routes(app: web.Application) -> None:
    """Register every route of :data:`ROUTES` on ``app``."""
    app.router.add_routes([web.route(r.method, r.path, _checked(r)) for r in ROUTES])
    app.router.add_routes(city.protocol_routes(app))
    app.router.add_routes(er.election_protocol_routes(app))
    app.router.add_routes(sso_routes(app))
    app.router.add_routes(page_routes())
