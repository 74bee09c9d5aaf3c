"""Answering a service's OpenID4VP request for a resident, with the phone signing the key binding.

The protocol is the SDK's holder state machine, :class:`vcsdk.oid4vc.HolderPresentation`; this
service stores it (sealed under the resident's data key) between three calls, so the device key
never leaves the phone:

1. :meth:`PresentationService.start` — fetch the Request Object behind an ``openid4vp://`` link,
   verify its signature against the service's DID, and start the holder presentation against the
   resident's stored credentials: the consent screen says who asks, why, and exactly which claims
   of which credential would be shared.
2. :meth:`PresentationService.consent` — the resident's choice: the holder prepares each
   presentation (only the requested Disclosures) and the KB-JWT signing inputs go to the phone.
3. :meth:`PresentationService.sign` — the phone's signatures: the holder finishes the
   presentations, the server posts them to the service's ``response_uri``, records the consent
   (under the resident's pseudonym for that service) and verifies and stores the access receipt the
   service returns, for anchoring.

Before the resident is asked anything, the request is checked against the service's registration
with the city (:func:`vcsdk.registration.check_registered_request`): an unregistered service, or one
asking beyond its registration, is refused there and the refusal kept in the resident's history.

A service returns its receipt either in the answer to the ``direct_post`` (``access_receipt``) or
at a ``receipt_uri`` it names there, to which the wallet posts the consent record it signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from vcsdk.credentials import UnverifiedSdJwtVc, peek
from vcsdk.encoding import b64url_decode, from_numeric_date
from vcsdk.errors import (
    ConflictError,
    CredentialRevokedError,
    CredentialSuspendedError,
    InvalidInputError,
    KeyBindingError,
    NotFoundError,
    ProtocolError,
    RegistrationError,
    RegistryError,
    StorageError,
    VcsdkError,
    VerificationError,
)
from vcsdk.oid4vc import (
    CandidateCredential,
    ConsentCredential,
    HolderPresentation,
    HttpRequest,
    fetch_request_object,
    load_request_object,
    parse_authorization_request_uri,
)
from vcsdk.receipts import CONSENT_HEADER, ConsentRecord, peek_access_receipt, presentation_hash, sign_consent_record
from vcsdk.registration import RelyingPartyRegistration, check_registered_request, claim_path_name, peek_registration
from vcsdk.status import StatusListChecker
from wallet_server.errors import ForbiddenError
from wallet_server.services._common import Clock, new_id, require_id, require_str
from wallet_server.services._cursor import decode_cursor, encode_cursor
from wallet_server.services.auth import Principal, refuse_proof
from wallet_server.services.credentials import CredentialService, CredentialView
from wallet_server.services.receipts import ChainPort, ReceiptService
from wallet_server.services.wallet import BATCH, OutgoingHttp, ResidentVault
from wallet_server.storage import (
    CopyPolicy,
    DeviceProof,
    PresentationRow,
    PresentationState,
    ReceiptFetchRow,
    ViolationKind,
    WalletDataStore,
)

__all__ = [
    "DELIVERY_UNKNOWN",
    "SERVICE_REFUSED",
    "PresentationService",
    "PresentationView",
    "PresentationsPage",
    "claim_name",
]

MAX_PAGE = 100
MAX_CREDENTIAL_PAGES = 20
MAX_ITEMS = 16
KB_ALG = "ES256"
_KIND = "presentation"
_SD_JWT_FORMATS = ("dc+sd-jwt", "vc+sd-jwt")
#: Stored credentials whose parsed token a process keeps for consent screens.
_PEEKED = 20_000
#: The ``outcome.error`` of a presentation whose send to the service was interrupted.
DELIVERY_UNKNOWN = "delivery_unknown"
log = logging.getLogger("wallet_server.presentations")
#: The ``outcome.error`` of a request the wallet refused because the service broke a promise before
#: and the resident chose to refuse such services.
SERVICE_REFUSED = "service_refused_after_violation"


def claim_name(path: Any) -> str:
    """A claims path pointer as a consent record names it: ``["address", "locality"]`` → ``address.locality``
    (``null``, any array element, is ``*``); :func:`vcsdk.registration.claim_path_name`."""
    return claim_path_name(path)


@dataclass(frozen=True, slots=True)
class PresentationView:
    """A presentation as the app sees it.

    ``state``: ``consent_required`` → ``signature_required`` → ``sending`` → ``shared``; or
    ``refused`` (the service refused the presentation: ``error`` says why), ``declined`` (the
    resident said no), ``expired`` (not finished in time), ``unknown`` (the server stopped while
    sending it: the service may or may not have received it; ``error`` is ``delivery_unknown``; it
    is never sent again, the resident starts again from the service's QR code).

    :ivar credentials: per requested credential query: the credentials that can answer it, each
        with exactly the claims it would share; the first is the default choice.
    :ivar signing_inputs: while ``signature_required``: what the phone signs (KB-JWT, ES256).
    :ivar outcome: once finished: consent id, shared claims, receipt id or error codes. A request the
        wallet refused before asking the resident (``refused``: an unregistered service, or one asking
        beyond its registration) has ``error`` (``service_not_registered`` / ``request_not_registered``),
        ``reason`` (a sentence for the resident) and ``refused_by`` ``wallet``.
    :ivar refill: batches of credential copies (by the offer they came from) to refill
        (``POST /v1/offers/{batch}/refill``): with no copy left that may be shown to this service (not
        offered), or offering their last one.
    :ivar registration: what the city registered the service for, for the consent screen: ``name``,
        ``purposes`` (``id``, ``description``), ``retention_days``, ``privacy_policy``,
        ``jurisdiction``, ``recipients``.
    """

    id: str
    state: PresentationState
    created_at: datetime
    expires_at: datetime
    service_did: str
    service_name: str | None
    purpose: str | None
    satisfiable: bool
    credentials: tuple[dict[str, Any], ...] = ()
    signing_inputs: tuple[dict[str, Any], ...] = ()
    outcome: dict[str, Any] = field(default_factory=dict)
    registration: dict[str, Any] | None = None
    refill: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PresentationsPage:
    items: tuple[PresentationView, ...]
    next_cursor: str | None


def _holder(body: dict[str, Any]) -> HolderPresentation:
    """The SDK's holder presentation the body keeps (next to this service's ``outcome`` and ``sending``)."""
    return HolderPresentation.from_state(body)


def _option_json(option: ConsentCredential, copies: dict[str, Any]) -> dict[str, Any]:
    copy = copies.get(option.ref)
    return {
        "credential_id": option.ref,
        "claims": [list(p) for p in option.claims],
        "concrete": [list(p) for p in option.concrete_claims],
        # A copy of a batch: unshown copies left after this one. None: bound to the device key, the
        # same in every presentation (linkable).
        "copies_left": copy["left"] if copy is not None else None,
    }


def _holder_jwk(facts: UnverifiedSdJwtVc | None) -> dict[str, Any] | None:
    """The holder key a credential is bound to (``cnf.jwk``), from its unverified facts."""
    cnf = facts.unverified_claims.get("cnf") if facts is not None else None
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    return dict(jwk) if isinstance(jwk, dict) else None


#: A registration token read for a consent screen, by its text: the parse depends on nothing else,
#: and a service's presentations all carry the same token (bounded: the least recently used goes).
_peek_registration = functools.lru_cache(maxsize=1024)(peek_registration)


def _registered(body: dict[str, Any], holder: HolderPresentation) -> RelyingPartyRegistration | None:
    """The registration the wallet checked at the start (``registered`` marks a checked one)."""
    token = holder.request.registration
    return _peek_registration(token) if isinstance(token, str) and body.get("registered") else None


def _registration_json(registration: RelyingPartyRegistration | None) -> dict[str, Any] | None:
    if registration is None:
        return None
    return {
        "name": registration.name,
        "purposes": [{"id": p.id, "description": p.description} for p in registration.purposes],
        "retention_days": registration.retention_days,
        "privacy_policy": registration.privacy_policy,
        "jurisdiction": registration.jurisdiction,
        "recipients": list(registration.recipients),
    }


class PresentationService:
    """Answers OpenID4VP requests for residents; every method is scoped to the calling resident.

    :param data: the resident-side tables.
    :param vault: seals each presentation's state under the resident's data key.
    :param credentials: the resident's stored credentials.
    :param receipts: records consents and accepts receipts.
    :param chain: resolves services' DIDs.
    :param http: calls services.
    :param clock: returns the current UTC time.
    :param ttl: how long a started presentation can be finished.
    :param consent_ttl: how long a consent lasts.
    :param custodial: whether the custodial key option is enabled (off by default).
    :param sending_timeout: how long a presentation may stay ``sending`` before it counts as
        interrupted and shows as ``unknown``; longer than any send (outgoing calls time out sooner).
    :param receipt_retry: the pause before the first retry of a failed receipt fetch, doubled after
        each failure up to ``receipt_retry_max``.
    :param receipt_give_up: how long the wallet keeps asking for a receipt before it records the
        service's violation (``receipt_missing``).
    """

    def __init__(
        self,
        data: WalletDataStore,
        *,
        vault: ResidentVault,
        credentials: CredentialService,
        receipts: ReceiptService,
        chain: ChainPort,
        http: OutgoingHttp,
        clock: Clock,
        ttl: timedelta = timedelta(minutes=10),
        consent_ttl: timedelta = timedelta(days=365),
        custodial: bool = False,
        sending_timeout: timedelta = timedelta(seconds=45),
        receipt_retry: timedelta = timedelta(seconds=2),
        receipt_retry_max: timedelta = timedelta(minutes=10),
        receipt_give_up: timedelta = timedelta(days=3),
    ) -> None:
        self._data = data
        self._vault = vault
        self._credentials = credentials
        self._receipts = receipts
        self._chain = chain
        self._http = http
        self._clock = clock
        self._ttl = ttl
        self._consent_ttl = consent_ttl
        self._custodial = custodial
        self._sending_timeout = sending_timeout
        self._receipt_retry = receipt_retry
        self._receipt_retry_max = receipt_retry_max
        self._receipt_give_up = receipt_give_up
        # A stored credential never changes: its token is read for the consent screen once per
        # process (bounded), keyed by id and creation time like the credential summaries.
        self._peeked: dict[str, tuple[datetime, UnverifiedSdJwtVc | None]] = {}

    def _peek(self, view: CredentialView) -> UnverifiedSdJwtVc | None:
        """The unverified facts of a stored SD-JWT VC, or ``None`` if its token does not parse."""
        known = self._peeked.get(view.id)
        if known is not None and known[0] == view.created_at:
            return known[1]
        try:
            facts: UnverifiedSdJwtVc | None = peek(view.credential)
        except VcsdkError:
            facts = None
        if len(self._peeked) >= _PEEKED:
            del self._peeked[next(iter(self._peeked))]
        self._peeked[view.id] = (view.created_at, facts)
        return facts

    # -- reading

    async def settle_interrupted(self) -> int:
        """Mark every presentation left ``sending`` for longer than the timeout as ``unknown``.

        Run at start-up: a server that stopped mid-send left them so. They are never sent again.

        :return: how many changed.
        """
        now = self._clock()
        return await self._data.settle_interrupted_presentations(sending_before=now - self._sending_timeout, now=now)

    async def _settle(self, row: PresentationRow) -> PresentationRow:
        """A ``sending`` row older than the timeout, read by any instance, becomes ``unknown``."""
        now = self._clock()
        if row.state != "sending" or now - row.updated_at < self._sending_timeout:
            return row
        if await self._data.get_receipt_fetch(row.id) is not None:
            return row  # the service answered; the receipt fetch finishes it
        try:
            await self._data.update_presentation(
                row.resident_id, row.id, expect_state="sending", state="unknown", body=row.body, now=now
            )
        except ConflictError:
            # The send finished meanwhile after all: read what it wrote.
            return await self._data.get_presentation(row.resident_id, row.id)
        return replace(row, state="unknown", updated_at=now)

    async def _load(
        self, principal: Principal, presentation_id: str, *, proof: DeviceProof | None = None
    ) -> tuple[PresentationRow, dict[str, Any]]:
        """The presentation and its state; with ``proof`` (the request's DPoP proof, not yet recorded),
        the proof is recorded in the same round trip and the request refused if it cannot be.

        :raises AuthenticationError: (with ``proof``) removed device or ended login.
        :raises DpopReplayError: (with ``proof``) the proof was used before.
        """
        wanted = require_id(presentation_id, "presentation")
        if proof is None:
            row = await self._data.get_presentation(principal.resident_id, wanted)
        else:
            if proof.resident_id != principal.resident_id:
                raise InvalidInputError("the proof belongs to another resident")
            outcome, found = await self._data.prove_and_get_presentation(proof, wanted)
            refuse_proof(outcome)
            if found is None:
                raise NotFoundError("no such presentation")
            row = found
        row = await self._settle(row)
        body = await self._vault.open_json(principal.resident_id, row.body, kind=_KIND, row_id=row.id)
        return row, body

    def _view(
        self,
        row: PresentationRow,
        body: dict[str, Any],
        *,
        with_inputs: bool = True,
        holder: HolderPresentation | None = None,
    ) -> PresentationView:
        """The app's view of a presentation; ``holder``: the body's holder state, when the caller
        has it parsed already (what ``body`` keeps, not parsed again)."""
        if holder is None:
            holder = _holder(body)
        copies = body.get("copies") or {}
        credentials = tuple(
            {"query_id": qid, "options": [_option_json(o, copies) for o in holder.options.get(qid, ())]}
            for qid in holder.selected or ()
        )
        inputs: tuple[dict[str, Any], ...] = ()
        if with_inputs and row.state == "signature_required":
            inputs = tuple(
                {
                    "query_id": p.query_id,
                    "credential_id": p.ref,
                    "signing_input": p.signing_input.decode("ascii"),
                    "alg": KB_ALG,
                    "jwk": (body.get("holder_jwks") or {}).get(p.ref),
                }
                for p in holder.prepared
            )
        state = row.state
        outcome = dict(body.get("outcome") or {})
        if state in ("consent_required", "signature_required") and self._clock() >= row.expires_at:
            state = "expired"
        elif state == "unknown":
            if body.get("sending") == "decline":
                # Only the refusal was on its way: nothing of the resident's was shared.
                state, outcome = "declined", {"error": "access_denied"}
            else:
                outcome = {"error": DELIVERY_UNKNOWN}
        registration = _registered(body, holder)
        name, purpose = holder.request.client_name, holder.request.purpose
        if registration is not None:
            # The consent screen shows what the city registered, not what the service says of itself.
            registered_purpose = registration.purpose(purpose) if isinstance(purpose, str) else None
            name = registration.name
            purpose = registered_purpose.description if registered_purpose is not None else purpose
        return PresentationView(
            id=row.id,
            state=state,
            created_at=row.created_at,
            expires_at=row.expires_at,
            service_did=holder.request.verifier_did,
            service_name=name,
            purpose=purpose,
            satisfiable=holder.satisfiable,
            credentials=credentials,
            signing_inputs=inputs,
            outcome=outcome,
            registration=_registration_json(registration),
            refill=tuple(body.get("exhausted") or ()),
        )

    async def get(self, principal: Principal, presentation_id: str) -> PresentationView:
        """:raises NotFoundError: if the resident has no such presentation."""
        row, body = await self._load(principal, presentation_id)
        return self._view(row, body)

    async def history(self, principal: Principal, *, limit: int = 20, cursor: str | None = None) -> PresentationsPage:
        """The resident's presentation history, oldest first.

        :raises InvalidInputError: bad ``limit`` or cursor.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        page = await self._data.list_presentations(principal.resident_id, limit=limit, after=decode_cursor(cursor))
        items = []
        for row in page.items:
            row = await self._settle(row)
            body = await self._vault.open_json(principal.resident_id, row.body, kind=_KIND, row_id=row.id)
            items.append(self._view(row, body, with_inputs=False))
        return PresentationsPage(tuple(items), encode_cursor(page.next_after) if page.next_after else None)

    # -- step 1: the request and the consent screen

    async def _credential_page(
        self, principal: Principal, cursor: str | None
    ) -> tuple[list[tuple[str, dict[str, Any], UnverifiedSdJwtVc | None]], str | None]:
        """One page of the resident's SD-JWT VCs as the consent screen reads them (id, metadata and
        the token's unverified facts), and the next cursor. Credentials never change, so the page is
        listed without its ciphertexts when this process knows every one of them already (by id and
        creation time); otherwise the page is read and decrypted."""
        keys, after = await self._credentials.keys(principal, limit=MAX_PAGE, cursor=cursor)
        entries: list[tuple[str, dict[str, Any], UnverifiedSdJwtVc | None]] = []
        for key in keys:
            if key.format not in _SD_JWT_FORMATS:
                continue
            summary = self._credentials.known(key)
            peeked = self._peeked.get(key.id)
            if summary is None or peeked is None or peeked[0] != key.created_at:
                break
            entries.append((key.id, summary.metadata, peeked[1]))
        else:
            return entries, after
        page = await self._credentials.list(principal, limit=MAX_PAGE, cursor=cursor)
        views = [view for view in page.items if view.format in _SD_JWT_FORMATS]
        return [(view.id, view.metadata, self._peek(view)) for view in views], page.next_cursor

    async def _candidates(
        self, principal: Principal, *, service: str, policy: CopyPolicy, status: StatusListChecker
    ) -> tuple[list[CandidateCredential], dict[str, Any]]:
        """The credentials that may answer a request of ``service`` (the resident's pseudonym for it):
        of each batch of copies one copy, never one shown to another service — with ``one_time``
        a copy never shown, with ``per_service`` the copy this service saw before if there is one.

        :param status: the consent screen's status checker (a revoked or suspended credential is
            not offered).
        :return: the candidates, and per batch copy offered: its batch and how many unshown copies
            the batch has left (``copies``), plus the batches to refill: none left for this service,
            or this is the last (``exhausted``).
        """
        uses = await self._data.copy_uses(principal.resident_id)
        out: list[CandidateCredential] = []
        batches: dict[str, list[CandidateCredential]] = {}
        cursor: str | None = None
        for _ in range(MAX_CREDENTIAL_PAGES):
            entries, cursor = await self._credential_page(principal, cursor)
            for ref, metadata, facts in entries:
                if facts is None:
                    continue
                claims = facts.unverified_claims
                if await _revoked(status, claims, now=self._clock()):
                    continue  # offering it would only end in a refusal from the service
                candidate = CandidateCredential(
                    ref=ref, format="dc+sd-jwt", vct=facts.unverified_vct, claims=claims,
                    holder_binding="cnf" in claims,
                )
                batch = metadata.get(BATCH)
                if isinstance(batch, str):
                    batches.setdefault(batch, []).append(candidate)
                else:
                    out.append(candidate)  # not a copy: bound to the device key, linkable by it anyway
            if cursor is None:
                break
        copies: dict[str, Any] = {}
        exhausted: list[str] = []
        for batch, members in batches.items():
            fresh = [c for c in members if c.ref not in uses]
            mine = [c for c in members if uses.get(c.ref) == service]
            chosen = mine[0] if policy == "per_service" and mine else (fresh[0] if fresh else None)
            if chosen is None:
                exhausted.append(batch)
                continue
            out.append(chosen)
            left = len([c for c in fresh if c.ref != chosen.ref])
            copies[chosen.ref] = {"batch": batch, "left": left}
            if left == 0:
                exhausted.append(batch)  # no unshown copy after this one: refill before it runs out
        return out, {"copies": copies, "exhausted": exhausted}

    async def start(self, principal: Principal, request_uri: Any) -> PresentationView:
        """Load and verify a service's request and build the consent screen.

        :param request_uri: the ``openid4vp://`` link from the QR code.
        :raises InvalidInputError: not a string of sensible length.
        :raises ProtocolError: (``invalid_request``) a malformed link or Request Object, a
            ``client_id`` that is not a DID, a Request Object signed by a key of another DID, a link
            the server will not fetch; the service's error when fetching fails.
            A failed signature, type or time check is a ``ProtocolError`` with that check's code
            (``signature_invalid``, ``invalid_typ``, ``token_expired``, …).
        :raises DidResolutionError: the service's DID cannot be resolved.
        :raises StatusListUnavailableError: the request's registration has a status entry and the
            city's status list cannot be read (an outage: the service is not refused for it).
        :return: the presentation in state ``consent_required`` (``satisfiable`` false if the
            resident holds no credential that answers it: decline it then).
        """
        text = require_str(request_uri, "request_uri", max_len=8192)
        ref = parse_authorization_request_uri(text)
        jwt = await self._http.run(fetch_request_object(ref))
        now = self._clock()
        resolver = await self._chain.resolver()
        try:
            request = await load_request_object(jwt, resolver=resolver, expected_client_id=ref.client_id, now=now)
        except VerificationError as exc:
            # The service's request failed a check: a bad request (400), not the app's own credentials
            # (401); the specific code (signature_invalid, token_expired, …) is kept.
            raise ProtocolError(f"the service's request does not verify: {exc.message}", code=exc.code) from None
        # One checker per consent screen: each status list (the city's for its registrations, the
        # issuers' for the credentials offered) is fetched once, and fresh.
        status = StatusListChecker(resolver=resolver, source=self._http.status_fetcher())
        try:
            # A registration with a status entry the city has set (withdrawn early) is refused.
            await check_registered_request(
                request, city_did=await self._chain.registration_authority(), resolver=resolver, now=now,
                status=status,
            )
        except RegistrationError as exc:
            # Refused before the resident is asked anything, and kept in their history with the reason.
            # The service is not told: an unregistered party learns nothing, not even that it was scanned.
            refused = HolderPresentation.start(request, [])
            return await self._refuse(principal, refused, exc.code, exc.message, now=now)
        # One read of the resident's choices serves both the refusal rule and the copy policy.
        refuses, privacy = await self._receipts.screen(principal.resident_id, request.verifier_did)
        if refuses:
            registration = _peek_registration(request.registration) if request.registration else None
            name = registration.name if registration is not None else "This service"
            reason = (
                f"{name} did not keep its promise to you before (no valid access receipt, or a withdrawal left "
                "unanswered); as you chose, your wallet refuses it"
            )
            refused = HolderPresentation.start(request, [])
            return await self._refuse(principal, refused, SERVICE_REFUSED, reason, now=now)
        self._http.check_url(request.response_uri)
        service = await self._receipts.pseudonym(principal.resident_id, request.verifier_did)
        policy = privacy.copy_policy
        candidates, copies = await self._candidates(principal, service=service, policy=policy, status=status)
        holder = HolderPresentation.start(request, candidates)
        expires = now + self._ttl
        if request.expires_at is not None:
            expires = min(expires, from_numeric_date(request.expires_at, what="the request's exp"))
        body = {**holder.to_state(), "registered": True, "copy_policy": policy, **copies}
        row_id = new_id("prs")
        sealed = await self._vault.seal_json(principal.resident_id, body, kind=_KIND, row_id=row_id)
        row = PresentationRow(row_id, principal.resident_id, "consent_required", now, expires, now, sealed)
        await self._data.add_presentation(row)
        return self._view(row, body, holder=holder)

    async def _refuse(
        self, principal: Principal, holder: HolderPresentation, code: str, reason: str, *, now: datetime
    ) -> PresentationView:
        body = {**holder.to_state(), "outcome": {"error": code, "reason": reason, "refused_by": "wallet"}}
        row_id = new_id("prs")
        sealed = await self._vault.seal_json(principal.resident_id, body, kind=_KIND, row_id=row_id)
        row = PresentationRow(row_id, principal.resident_id, "refused", now, now, now, sealed)
        await self._data.add_presentation(row)
        return self._view(row, body)

    # -- step 2: consent

    def _check_open(self, row: PresentationRow, state: str) -> None:
        if row.state != state:
            raise ConflictError(f"the presentation is {row.state}, not {state}")
        if self._clock() >= row.expires_at:
            raise ConflictError("the request has expired; scan the service's QR code again")

    async def consent(
        self,
        principal: Principal,
        presentation_id: str,
        *,
        selections: Any = None,
        custodial: bool = False,
        proof: DeviceProof | None = None,
    ) -> PresentationView:
        """The resident consents: prepare the presentations and return what the phone must sign.

        :param selections: ``[{"query_id", "credential_id"}]`` to choose another of the offered
            credentials for a query; omitted queries take the first (default) choice.
        :param custodial: sign with the server-held key and finish at once (custodial option).
        :raises NotFoundError: no such presentation. :raises ConflictError: not waiting for consent,
            expired, or nothing the resident holds answers it.
        :raises InvalidInputError: a selection that is not one of the offered choices.
        :raises ForbiddenError: ``custodial`` while the option is off.
        :param proof: the request's DPoP proof, not yet recorded: recorded with the presentation's read
            (see :meth:`~wallet_server.services.AuthService.check_request`).
        :return: the presentation in state ``signature_required`` (or finished, when custodial).
        """
        row, body = await self._load(principal, presentation_id, proof=proof)
        self._check_open(row, "consent_required")
        holder = _holder(body)
        if not holder.satisfiable:
            raise ConflictError("no stored credential answers this request; decline it instead")
        if custodial and not self._custodial:
            raise ForbiddenError("the custodial key option is not enabled on this server")
        if selections is not None and (not isinstance(selections, list) or len(selections) > MAX_ITEMS):
            raise InvalidInputError(f"selections must be a list of at most {MAX_ITEMS} choices")
        picked: dict[str, str] = {}
        for item in selections or []:
            qid, cid = (item.get("query_id"), item.get("credential_id")) if isinstance(item, dict) else (None, None)
            if not isinstance(qid, str) or not isinstance(cid, str):
                raise InvalidInputError("each selection must name a requested query and one of its offered credentials")
            picked[qid] = cid
        chosen = holder.consent_screen.choose(picked)
        views = {c.ref: await self._credentials.get(principal, c.ref) for c in chosen}
        stored = {ref: view.credential for ref, view in views.items()}
        now = self._clock()
        holder = holder.consent(stored, now=now, selections=picked, alg=KB_ALG)
        body.update(holder.to_state())
        # Which key the phone signs each KB-JWT with: the copy's own key (cnf.jwk).
        body["holder_jwks"] = {ref: _holder_jwk(self._peek(view)) for ref, view in views.items()}
        sealed = await self._vault.seal_json(principal.resident_id, body, kind=_KIND, row_id=row.id)
        await self._data.update_presentation(
            principal.resident_id, row.id, expect_state="consent_required", state="signature_required",
            body=sealed, now=now,
        )
        if custodial:
            key = await self._vault.custodial_key(principal.resident_id, create=False)
            if key is None:
                raise ConflictError("this resident has no custodial key; accept an offer with custodial first")
            signatures = [{"query_id": p.query_id, "signature": key.sign(p.signing_input)} for p in holder.prepared]
            return await self._finish(principal, row.id, signatures)
        # The row as just written (the update checked the state it moved from): no second read.
        return self._view(replace(row, state="signature_required", updated_at=now, body=sealed), body, holder=holder)

    # -- step 3: signatures, the answer, consent record and receipt

    async def sign(
        self, principal: Principal, presentation_id: str, signatures: Any, *, proof: DeviceProof | None = None
    ) -> PresentationView:
        """Attach the phone's KB-JWT signatures, post the presentations, keep consent and receipt.

        :param signatures: ``[{"query_id", "signature"}]``: base64url raw ES256 signatures over the
            signing inputs, made with the device key the credentials are bound to.
        :raises NotFoundError: no such presentation. :raises ConflictError: not waiting for
            signatures, or expired.
        :raises InvalidInputError: (``signature_invalid``) a missing signature or one that does not
            verify with the credential's holder key.
        :param proof: the request's DPoP proof, not yet recorded: recorded with the presentation's read.
        :return: the presentation, ``shared`` or ``refused`` (with the service's error code).
        """
        if not isinstance(signatures, list) or not 0 < len(signatures) <= MAX_ITEMS:
            raise InvalidInputError(f"signatures must be a list of 1 to {MAX_ITEMS} signatures")
        decoded = []
        for item in signatures:
            if not isinstance(item, dict):
                raise InvalidInputError("each signature is an object with query_id and signature")
            text = require_str(item.get("signature"), "signature", max_len=200)
            decoded.append({"query_id": item.get("query_id"), "signature": b64url_decode(text, what="signature")})
        return await self._finish(principal, presentation_id, decoded, proof=proof)

    async def _finish(
        self,
        principal: Principal,
        presentation_id: str,
        signatures: list[dict[str, Any]],
        *,
        proof: DeviceProof | None = None,
    ) -> PresentationView:
        row, body = await self._load(principal, presentation_id, proof=proof)
        signed = _signatures_digest(signatures)
        if row.state in ("sending", "shared", "refused", "unknown") and body.get("signed") == signed:
            # The same signatures again (the app lost the answer): the same presentation, never a
            # second send; a receipt still owed is asked for once more now.
            job = await self._data.get_receipt_fetch(row.id)
            if job is not None and job.state == "pending":
                with contextlib.suppress(StorageError):
                    await self._attempt_fetch(job, inline=False)
            return await self.get(principal, row.id)
        self._check_open(row, "signature_required")
        holder = _holder(body)
        by_query = {s["query_id"]: s["signature"] for s in signatures if isinstance(s.get("query_id"), str)}
        try:
            presentations, answer = holder.finish(by_query)
        except KeyBindingError:
            raise InvalidInputError(
                "a signature is missing or does not verify with the credential's device key; "
                "sign the signing_input with ES256",
                code="signature_invalid",
            ) from None
        # Each copy is shown to this service only (and, one_time, only this once): recorded before
        # it leaves, so a concurrent presentation cannot show the same copy elsewhere.
        copies = body.get("copies") or {}
        service = await self._receipts.pseudonym(principal.resident_id, holder.request.verifier_did)
        for p in holder.prepared:
            if p.ref in copies:
                await self._data.use_copy(
                    principal.resident_id, p.ref, service, once=body.get("copy_policy") != "per_service",
                    now=self._clock(),
                )
        # Single use on our side too: a second call finds the state moved on (the same signatures
        # again get the presentation as it stands, never a second send).
        body["signed"] = signed
        sending = await self._vault.seal_json(principal.resident_id, body, kind=_KIND, row_id=row.id)
        await self._data.update_presentation(
            principal.resident_id, row.id, expect_state="signature_required", state="sending",
            body=sending, now=self._clock(),
        )
        try:
            reply = await self._http.send(answer)
            reply.raise_for_error(what="presentation")
            answered = reply.json_object(what="service answer") if reply.body else {}
        except ProtocolError as exc:
            body["outcome"] = {"error": exc.code}
            return await self._save(principal, row, body, "refused", holder=holder)
        try:
            outcome = await self._after_shared(principal, row.id, body, holder, presentations, answered)
        except VcsdkError as exc:
            # The service has the data; that the consent could not be recorded must show, not hide.
            outcome = {"consent_error": exc.code}
        # A redirect is the app's to follow, once; it is never stored: its fragment may carry what the
        # service hands the resident alone (a session, a one-time token) and the server must not keep.
        redirect = outcome.pop("redirect_uri", None)
        body["outcome"] = outcome
        body["pending"] = []
        view = await self._save(principal, row, body, "shared", holder=replace(holder, prepared=()))
        if redirect is not None:
            view = replace(view, outcome={**view.outcome, "redirect_uri": redirect})
        return view

    async def _save(
        self,
        principal: Principal,
        row: PresentationRow,
        body: dict[str, Any],
        state: PresentationState,
        *,
        holder: HolderPresentation | None = None,
    ) -> PresentationView:
        sealed = await self._vault.seal_json(principal.resident_id, body, kind=_KIND, row_id=row.id)
        now = self._clock()
        await self._data.update_presentation(
            principal.resident_id, row.id, expect_state="sending", state=state, body=sealed, now=now
        )
        # The row as just written (the update checked it was still ``sending``): no second read.
        return self._view(replace(row, state=state, updated_at=now, body=sealed), body, holder=holder)

    async def _after_shared(
        self,
        principal: Principal,
        presentation_id: str,
        body: dict[str, Any],
        holder: HolderPresentation,
        presentations: dict[str, str],
        reply: dict[str, Any],
    ) -> dict[str, Any]:
        now = self._clock()
        request = holder.request
        did = request.verifier_did
        claims = list(dict.fromkeys(claim_name(c) for p in holder.prepared for c in p.claims))
        # The consent covers exactly what was sent: one presentation's hash, or the vp_token's.
        if len(presentations) == 1:
            digest = presentation_hash(next(iter(presentations.values())))
        else:
            digest = presentation_hash(json.dumps({k: [v] for k, v in presentations.items()}, separators=(",", ":")))
        registration = _registered(body, holder)
        if registration is None or request.purpose is None:
            raise ConflictError("this presentation was not checked against a registration")
        consent = ConsentRecord.give(
            record_id=new_id("cns"),
            resident_pseudonym=await self._receipts.pseudonym(principal.resident_id, did),
            registration=registration,
            purposes=(request.purpose,),
            claims_requested=claims,
            claims_disclosed=claims,
            presentation_hash=digest,
            now=now,
            expires_at=now + self._consent_ttl,
        )
        signed = sign_consent_record(consent, await self._chain.consent_signer())
        outcome: dict[str, Any] = {"consent_id": consent.record_id, "claims": claims}
        redirect = reply.get("redirect_uri")
        if isinstance(redirect, str) and redirect.startswith("https://"):
            outcome["redirect_uri"] = redirect
        # A registered service must return an access receipt: without a valid one, the access is a
        # violation the resident and the city see (and, by the resident's setting, the service is
        # refused next time). The data was shared either way; nothing is hidden.
        kind: ViolationKind | None = None
        token = reply.get("access_receipt")
        receipt_uri = reply.get("receipt_uri")
        job: ReceiptFetchRow | None = None
        if not isinstance(token, str) and isinstance(receipt_uri, str):
            try:
                self._http.check_url(receipt_uri)
            except VcsdkError as exc:
                kind, outcome["receipt_error"] = "receipt_missing", exc.code
            else:
                # Written with the consent, before the service is asked: whatever fails from here on
                # (the service, this server's database, the process), the fetch is retried until the
                # receipt is stored.
                job = ReceiptFetchRow(
                    presentation_id, principal.resident_id, consent.record_id, did, receipt_uri, signed, "pending",
                    attempts=1, next_at=now + self._receipt_retry, created_at=now, updated_at=now,
                )
        # The consent (outbox and the resident's index) and the fetch owed: one transaction.
        await self._receipts.record_consent(principal.resident_id, presentation_id, consent, fetch=job)
        if job is not None:
            outcome.update(await self._attempt_fetch(job, inline=True, consent=consent))
            return outcome
        if not isinstance(token, str) and kind is None:  # a refused receipt_uri keeps its own code
            kind, outcome["receipt_error"] = "receipt_missing", "receipt_missing"
        if isinstance(token, str) and kind is None:
            try:
                resolver = await self._chain.resolver()
                receipt = await self._receipts.accept_receipt(token, consent_id=consent.record_id, resolver=resolver)
                outcome["receipt_id"] = receipt.receipt_id
            except VcsdkError as exc:
                kind, outcome["receipt_error"] = "receipt_invalid", exc.code
        if kind is not None:
            await self._receipts.record_violation(
                principal.resident_id, did, kind, outcome["receipt_error"], presentation_id
            )
            outcome["violation"] = kind
        return outcome

    # -- receipts owed: asked for until stored

    async def _attempt_fetch(
        self, job: ReceiptFetchRow, *, inline: bool, consent: ConsentRecord | None = None
    ) -> dict[str, Any]:
        """One attempt to get and store the receipt of ``job`` (already counted in ``job.attempts``).

        A failure that may pass (the service unreachable or answering 5xx, this server's database
        failing) leaves the fetch pending for the next attempt; a definitive one (the service answers
        without a receipt, or with one that does not verify) or giving up records a violation.
        Unless ``inline`` (the request that shared the presentation saves it itself), the
        presentation's outcome is updated. ``consent``: the consent the inline attempt just recorded.

        :raises StorageError: if the database fails while recording the result.
        :return: the outcome's receipt fields: ``receipt_id``, or ``receipt_pending``, or
            ``receipt_error`` and ``violation``.
        """
        try:
            token = await self._ask_receipt(job)
            if token is None:
                result: dict[str, Any] = {"receipt_error": "receipt_missing", "violation": "receipt_missing"}
            else:
                result = await self._store_receipt(job, token, consent=consent)
        except _Transient as exc:
            return await self._retry_later(job, exc.code, inline=inline)
        now = self._clock()
        done = replace(job, updated_at=now, last_error=result.get("receipt_error"))
        if "receipt_id" in result:
            done = replace(done, state="done", receipt_id=result["receipt_id"])
        else:
            done = replace(done, state="failed")
            await self._receipts.record_violation(
                job.resident_id, job.service_did, result["violation"], result["receipt_error"], job.presentation_id
            )
        if not await self._data.update_receipt_fetch(done, expect_attempts=job.attempts):
            return {"receipt_pending": True}  # another instance attempts it now; it records the result
        if "receipt_id" in result:
            with contextlib.suppress(VcsdkError):  # the service forgets it; best effort
                await self._http.send(HttpRequest("DELETE", job.receipt_uri, {CONSENT_HEADER: job.consent_id}))
        if not inline:
            await self._record_outcome(job, result)
        return result

    async def _ask_receipt(self, job: ReceiptFetchRow) -> str | None:
        """The service's receipt: posted for on the first attempt, fetched again (``GET`` of the
        receipt URI) after that, posted for again if the service keeps none.

        :raises _Transient: the service is unreachable or failing for now.
        :return: the token, or ``None`` if the service answered without one.
        """
        post = HttpRequest.json(job.receipt_uri, {"consent_record": job.consent_record})
        # The kept receipt is the consent's: a GET names it (the request id in the link is no secret).
        again = HttpRequest("GET", job.receipt_uri, {CONSENT_HEADER: job.consent_id})
        try:
            response = await self._http.send(post if job.attempts <= 1 else again)
            if job.attempts > 1 and response.status in (404, 405):
                response = await self._http.send(post)
        except ProtocolError as exc:
            if exc.code == "server_unreachable":
                raise _Transient(exc.code) from None
            return None
        if response.status >= 500 or response.status in (408, 429):
            raise _Transient(response.error_code or f"http_{response.status}")
        try:
            response.raise_for_error(what="access receipt")
            token = response.json_object(what="access receipt").get("access_receipt")
        except VcsdkError:
            return None
        return token if isinstance(token, str) else None

    async def _store_receipt(
        self, job: ReceiptFetchRow, token: str, *, consent: ConsentRecord | None = None
    ) -> dict[str, Any]:
        """Verify and store ``token``; one stored before under its id (an earlier attempt whose
        answer was lost) counts as stored when it is the same token.

        :param consent: the consent as the sharing request just recorded it (its first attempt);
            a later attempt reads it as stored then, so that a withdrawal since counts.
        :raises _Transient: this server's database or the chain failed.
        """
        try:
            receipt = await self._receipts.accept_receipt(
                token, consent_id=job.consent_id, resolver=await self._chain.resolver(), consent=consent
            )
            return {"receipt_id": receipt.receipt_id}
        except ConflictError:
            try:
                receipt_id = peek_access_receipt(token).receipt_id
                stored = await self._receipts.store.get_receipt(receipt_id)
            except StorageError as exc:
                raise _Transient(exc.code) from None
            if stored.receipt.token == token:
                return {"receipt_id": receipt_id}
            return {"receipt_error": "conflict", "violation": "receipt_invalid"}
        except StorageError as exc:
            raise _Transient(exc.code) from None
        except RegistryError as exc:
            raise _Transient(exc.code) from None
        except VcsdkError as exc:
            return {"receipt_error": exc.code, "violation": "receipt_invalid"}

    async def _retry_later(self, job: ReceiptFetchRow, code: str, *, inline: bool) -> dict[str, Any]:
        now = self._clock()
        if now - job.created_at >= self._receipt_give_up:
            result: dict[str, Any] = {"receipt_error": code, "violation": "receipt_missing"}
            failed = replace(job, state="failed", updated_at=now, last_error=code)
            if await self._data.update_receipt_fetch(failed, expect_attempts=job.attempts):
                await self._receipts.record_violation(
                    job.resident_id, job.service_did, "receipt_missing", code, job.presentation_id
                )
                if not inline:
                    await self._record_outcome(job, result)
            return result
        log.info("receipt fetch delayed", extra={"event": "receipt_fetch_delayed", "code": code})
        with contextlib.suppress(StorageError):  # the next attempt is due anyway (claimed at next_at)
            await self._data.update_receipt_fetch(
                replace(job, updated_at=now, last_error=code), expect_attempts=job.attempts
            )
        return {"receipt_pending": True}

    async def _record_outcome(self, job: ReceiptFetchRow, result: dict[str, Any]) -> None:
        """Put a fetch's result in the presentation's outcome; the service answered, so it is shared."""
        row = await self._data.get_presentation(job.resident_id, job.presentation_id)
        body = await self._vault.open_json(job.resident_id, row.body, kind=_KIND, row_id=row.id)
        outcome = {k: v for k, v in (body.get("outcome") or {}).items() if k != "receipt_pending"}
        if "consent_id" not in outcome:
            outcome["consent_id"] = job.consent_id
        outcome.update(result)
        body["outcome"], body["pending"] = outcome, []
        sealed = await self._vault.seal_json(job.resident_id, body, kind=_KIND, row_id=row.id)
        with contextlib.suppress(ConflictError):  # the request that shared it saved it meanwhile: next round
            await self._data.update_presentation(
                job.resident_id, row.id, expect_state=row.state, state="shared", body=sealed, now=self._clock()
            )

    def _backoff(self, attempts: int) -> timedelta:
        pause: timedelta = self._receipt_retry * (2 ** min(attempts - 1, 30))
        return min(pause, self._receipt_retry_max)

    async def fetch_due_receipts(self, *, limit: int = 50) -> int:
        """Attempt every receipt fetch that is due (each claimed first, so instances do not race).

        :raises StorageError: if the database fails.
        :return: how many were attempted.
        """
        now = self._clock()
        attempted = 0
        for job in await self._data.due_receipt_fetches(now=now, limit=limit):
            attempts = job.attempts + 1
            claimed = replace(job, attempts=attempts, next_at=now + self._backoff(attempts), updated_at=now)
            if not await self._data.update_receipt_fetch(claimed, expect_attempts=job.attempts):
                continue
            attempted += 1
            try:
                await self._attempt_fetch(claimed, inline=False)
            except VcsdkError as exc:
                log.warning("receipt fetch failed", extra={"event": "receipt_fetch_failed", "code": exc.code})
        return attempted

    async def run_receipt_fetcher(self, *, interval: float, stop: asyncio.Event) -> None:
        """Retry owed receipt fetches on a timer until ``stop`` is set (every instance runs it)."""
        while not stop.is_set():
            try:
                await self.fetch_due_receipts()
            except VcsdkError as exc:
                log.warning("receipt fetch round failed", extra={"event": "receipt_fetch_failed", "code": exc.code})
            except Exception:  # a background loop must outlive any one failed round
                log.exception("receipt fetch round failed", extra={"event": "receipt_fetch_failed"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    # -- declining

    async def decline(self, principal: Principal, presentation_id: str) -> PresentationView:
        """The resident says no: the service gets ``access_denied`` (best effort).

        :raises NotFoundError: no such presentation. :raises ConflictError: already finished.
        """
        row, body = await self._load(principal, presentation_id)
        if row.state not in ("consent_required", "signature_required"):
            raise ConflictError(f"the presentation is {row.state}; it can no longer be declined")
        # Marked, so that an interrupted refusal shows as declined rather than as unknown.
        marked = await self._vault.seal_json(
            principal.resident_id, {**body, "sending": "decline"}, kind=_KIND, row_id=row.id
        )
        await self._data.update_presentation(
            principal.resident_id, row.id, expect_state=row.state, state="sending", body=marked, now=self._clock()
        )
        try:
            await self._http.send(_holder(body).decline(error="access_denied"))
        except VcsdkError:
            pass  # the service's request simply expires
        body["pending"] = []
        body["outcome"] = {"error": "access_denied"}
        return await self._save(principal, row, body, "declined")


class _Transient(Exception):
    """A receipt fetch failed in a way that may pass: try again later."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _signatures_digest(signatures: list[dict[str, Any]]) -> str:
    """What identifies a signature request, to recognise the same one sent again."""
    parts = sorted(
        (str(s.get("query_id")), s["signature"].hex() if isinstance(s.get("signature"), bytes) else "")
        for s in signatures
    )
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


async def _revoked(status: StatusListChecker, claims: dict[str, Any], *, now: datetime) -> bool:
    """Whether the issuer's status list says the credential is revoked or suspended now.

    A list that cannot be fetched or checked does not hide the credential: the service checks it
    anyway, and an unreachable status server must not empty the resident's wallet.
    """
    entry, issuer = claims.get("status"), claims.get("iss")
    if not isinstance(entry, dict) or not isinstance(issuer, str):
        return False
    try:
        await status.check(entry, issuer=issuer, now=now)
    except (CredentialRevokedError, CredentialSuspendedError):
        return True
    except VcsdkError:
        return False
    return False
