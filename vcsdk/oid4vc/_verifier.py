"""OpenID for Verifiable Presentations 1.0: the Verifier (a third-party service).

:class:`Verifier` builds a signed Request Object (JAR, §5) with a DCQL query (§6), passes it by
reference (``request_uri``) behind an ``openid4vp://`` deep link or QR code, and processes the
``direct_post`` Authorization Response (§8.2) once: state binding, nonce and audience binding
(§14.1), the injected credential verification, DCQL satisfaction (§8.6) and refusal of disclosures
that were not requested (§6.4).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from vcsdk._json import parse_json
from vcsdk.errors import (
    AudienceMismatchError,
    ClaimsError,
    DisclosureError,
    InvalidInputError,
    KeyBindingMissingError,
    NonceMismatchError,
    ProtocolError,
    VcsdkError,
)
from vcsdk.keys import Signer, sign_jws
from vcsdk.oid4vc._common import SYSTEM_RANDOMNESS, URL_SAFE, Randomness, StateStore, is_https_url, random_token
from vcsdk.oid4vc._dcql import (
    SD_JWT_VC_FORMAT,
    CandidateCredential,
    ClaimPath,
    CredentialQuery,
    DcqlQuery,
    match_credential_query,
    parse_dcql_query,
    path_covers,
)
from vcsdk.oid4vc._sd_jwt_view import view_sd_jwt
from vcsdk.oid4vc._vp_messages import (
    CLIENT_ID_PREFIX,
    MAX_PURPOSE_CHARS,
    REQUEST_OBJECT_TYP,
    AuthorizationRequest,
    PresentationRequest,
)
from vcsdk.registration import RelyingPartyRegistration, check_request, peek_registration

__all__ = ["PresentationResult", "PresentationVerifyFn", "VerifiedCredential", "Verifier"]



@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """One verified presentation in a response.

    :ivar claims: every processed claim the verify function returned (disclosed and always-visible).
    :ivar disclosed: only the claims the request asked for (the DCQL selection), nested as in the
        credential.
    :ivar paths: the requested claims path pointers this presentation satisfied.
    :ivar verified: the verify function's own result (e.g. the credentials recipe's value).
    """

    query_id: str
    presentation: str
    claims: Mapping[str, Any]
    disclosed: Mapping[str, Any]
    paths: tuple[ClaimPath, ...]
    verified: Any


@dataclass(frozen=True, slots=True)
class PresentationResult:
    """The outcome of one Authorization Response at the ``response_uri``.

    ``error`` is set (and ``credentials`` empty) when the wallet answered with an error response,
    e.g. ``access_denied`` because the resident declined.
    """

    request_id: str
    state: str
    client_id: str
    nonce: str
    purpose: str | None
    query: DcqlQuery
    credentials: Mapping[str, tuple[VerifiedCredential, ...]] = field(default_factory=dict)
    error: str | None = None
    error_description: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def claims(self, query_id: str | None = None) -> Mapping[str, Any]:
        """The requested claims of the first presentation for ``query_id`` (default: the only query).

        :raises KeyError: if there is no presentation for that query.
        """
        if query_id is None:
            if len(self.query.credentials) != 1:
                raise KeyError("name the credential query id: the request had several")
            query_id = self.query.credentials[0].id
        return self.credentials[query_id][0].disclosed


class PresentationVerifyFn(Protocol):
    """Verifies one presentation (signature, issuer, expiry, status, key binding) and returns the
    result: an object with a ``claims`` mapping of processed claims, or that mapping itself. It may
    be a coroutine function. Wrap the credentials recipe (``verify_presentation``) with it."""

    def __call__(self, presentation: str, *, audience: str, nonce: str) -> Any: ...


# -- verifier -------------------------------------------------------------------------------------


class Verifier:
    """The verifier's OpenID4VP state machine (a third-party service identified by its DID).

    :param did: the service's DID (e.g. ``did:ethr:…``); the Client Identifier is
        ``decentralized_identifier:<did>``.
    :param signer: signs Request Objects; its ``kid`` must be a DID URL of ``did`` (``did#key``).
    :param response_uri: where wallets POST the response (``direct_post``).
    :param request_uri_base: request objects are served at ``<request_uri_base>/<request_id>``.
    :param store: short-lived state (requests, nonces); see :class:`~vcsdk.oid4vc.StateStore`.
    :param verify: checks each presentation; see :class:`PresentationVerifyFn`.
    :param name: the service name shown to the resident (``client_metadata.client_name``).
    :param randomness: source of ``state``, ``nonce`` and request ids.
    :param request_ttl: how long a request can be answered.
    :param registration: the service's registration the city signed (:mod:`vcsdk.registration`);
        attached to every request, and every request is checked against it before it is signed.
    :raises InvalidInputError: if the signer's ``kid`` is not a DID URL of ``did``, the URLs are
        not https (plain http is accepted only for the loopback interface), or the registration is
        malformed or registers another DID.
    """

    def __init__(
        self,
        *,
        did: str,
        signer: Signer,
        response_uri: str,
        request_uri_base: str,
        store: StateStore,
        verify: PresentationVerifyFn,
        name: str | None = None,
        randomness: Randomness = SYSTEM_RANDOMNESS,
        request_ttl: timedelta = timedelta(minutes=5),
        registration: str | None = None,
    ) -> None:
        kid = signer.kid
        if not isinstance(kid, str) or not kid.startswith(did + "#"):
            raise InvalidInputError("the signer's kid must be a DID URL of the verifier's DID (did#fragment)")
        if not is_https_url(response_uri) or not is_https_url(request_uri_base):
            raise InvalidInputError("response_uri and request_uri_base must be https URLs")
        self.did = did
        self.client_id = CLIENT_ID_PREFIX + did
        self._signer = signer
        self.response_uri = response_uri
        self.request_uri_base = request_uri_base.rstrip("/")
        self._store = store
        self._verify = verify
        self.name = name
        self._randomness = randomness
        self.request_ttl = request_ttl
        self.registration = registration
        self._registered: RelyingPartyRegistration | None = None
        if registration is not None:
            try:
                self._registered = peek_registration(registration)
            except VcsdkError as exc:
                raise InvalidInputError(f"the registration does not parse: {exc.message}") from None
            if self._registered.service_did != did:
                raise InvalidInputError("the registration is for another DID than this verifier's")

    def __repr__(self) -> str:
        return f"Verifier(client_id={self.client_id!r}, response_uri={self.response_uri!r})"

    async def create_request(
        self, dcql_query: DcqlQuery | Mapping[str, Any], *, purpose: str, now: datetime
    ) -> PresentationRequest:
        """Create and sign a request for the claims in ``dcql_query``, with a fresh nonce and state.

        :param purpose: why the service asks, shown to the resident before consent; with a
            registration, the id of one of its registered purposes.
        :raises ProtocolError: (``invalid_request``) if the DCQL query is malformed.
        :raises InvalidInputError: if the purpose is empty or too long.
        :raises RequestNotRegisteredError: with a registration, if the query or purpose goes beyond it
            (the wallet would refuse the request).
        :raises ConflictError: if the randomness source repeats a nonce or state (never in production).
        :return: the request with its deep link and request object.
        """
        query = dcql_query if isinstance(dcql_query, DcqlQuery) else parse_dcql_query(dcql_query)
        if not isinstance(purpose, str) or not purpose.strip() or len(purpose) > MAX_PURPOSE_CHARS:
            raise InvalidInputError(f"purpose must be a non-empty text of at most {MAX_PURPOSE_CHARS} characters")
        if self._registered is not None:
            check_request(self._registered, service_did=self.did, credentials=query.credentials, purpose=purpose)
        state = random_token(self._randomness)
        nonce = random_token(self._randomness)
        request_id = random_token(self._randomness)
        expires = now + self.request_ttl
        request = AuthorizationRequest(
            client_id=self.client_id,
            response_uri=self.response_uri,
            nonce=nonce,
            state=state,
            dcql_query=query,
            purpose=purpose,
            client_name=self.name,
            issued_at=int(now.timestamp()),
            expires_at=int(expires.timestamp()),
            registration=self.registration,
        )
        jwt = sign_jws(request.to_claims(), self._signer, typ=REQUEST_OBJECT_TYP)
        # A nonce is never handed out twice (OpenID4VP §5.2: fresh for every request).
        await self._store.put("vp_nonce", nonce, {"state": state}, expires_at=expires)
        await self._store.put(
            "vp_request",
            state,
            {"request_id": request_id, "nonce": nonce, "dcql_query": query.to_dict(), "purpose": purpose},
            expires_at=expires,
        )
        await self._store.put("vp_request_object", request_id, {"jwt": jwt}, expires_at=expires)
        return PresentationRequest(
            request_id=request_id,
            state=state,
            nonce=nonce,
            client_id=self.client_id,
            request_uri=f"{self.request_uri_base}/{request_id}",
            request_object=jwt,
            expires_at=expires,
        )

    async def request_object(self, request_id: str, *, now: datetime) -> str:
        """The signed Request Object to serve at ``request_uri`` (``application/oauth-authz-req+jwt``).

        :raises ProtocolError: (``invalid_request``) if the request is unknown or expired.
        """
        entry = await self._store.get("vp_request_object", request_id, now=now)
        if entry is None:
            raise ProtocolError("unknown or expired request; ask the service for a new QR code", code="invalid_request")
        return str(entry["jwt"])

    async def handle_response(self, form: Mapping[str, str], *, now: datetime) -> PresentationResult:
        """Process a ``direct_post`` Authorization Response (the form the wallet POSTed).

        The request is consumed first, so a response is accepted at most once, and a failed one
        cannot be retried with other presentations.

        :raises ProtocolError: (``invalid_request``) for a missing, unknown or already answered
            ``state``, a malformed ``vp_token``, or one that does not answer the DCQL query.
        :raises KeyBindingMissingError: a presentation lacks the Key Binding JWT.
        :raises NonceMismatchError: a presentation is bound to another request's nonce.
        :raises AudienceMismatchError: a presentation is bound to another verifier.
        :raises ClaimsError: a presentation lacks a requested claim or has the wrong type (``vct``).
        :raises DisclosureError: a presentation discloses claims that were not requested.
        :raises VerificationError: whatever the injected verify function raises.
        :return: the verified claims per credential query, or the wallet's error.
        """
        state = form.get("state")
        if not isinstance(state, str) or URL_SAFE.fullmatch(state) is None:
            raise ProtocolError("the response has no valid state parameter", code="invalid_request")
        record = await self._store.take("vp_request", state, now=now)
        if record is None:
            raise ProtocolError(
                "the response answers an unknown, expired or already answered request", code="invalid_request"
            )
        query = parse_dcql_query(record["dcql_query"])
        nonce = str(record["nonce"])
        base: dict[str, Any] = {
            "request_id": str(record["request_id"]),
            "state": state,
            "client_id": self.client_id,
            "nonce": nonce,
            "purpose": record.get("purpose"),
            "query": query,
        }
        if "error" in form:
            code = form["error"]
            if not isinstance(code, str) or URL_SAFE.fullmatch(code) is None:
                raise ProtocolError("the error response carries an invalid error code", code="invalid_request")
            desc = form.get("error_description")
            return PresentationResult(**base, error=code, error_description=desc[:300] if desc else None)
        token = _parse_vp_token(form.get("vp_token"), query)
        verified: dict[str, tuple[VerifiedCredential, ...]] = {}
        for qid, presentations in token.items():
            cq = query.credential(qid)
            verified[qid] = tuple([await self._check_one(cq, p, nonce) for p in presentations])
        return PresentationResult(**base, credentials=verified)

    async def _check_one(self, cq: CredentialQuery, presentation: str, nonce: str) -> VerifiedCredential:
        view = view_sd_jwt(presentation)
        kb = view.key_binding_claims
        if kb is None:
            if cq.require_cryptographic_holder_binding:
                raise KeyBindingMissingError("the presentation has no Key Binding JWT; the request requires one")
        else:
            # OpenID4VP §14.1 / B.3.6: bound to this request's nonce and to our full Client Identifier.
            if kb.get("nonce") != nonce:
                raise NonceMismatchError(
                    "presentation nonce does not match the request; ask the wallet for a new presentation"
                )
            aud = kb.get("aud")
            if aud != self.client_id:
                raise AudienceMismatchError("presentation is bound to another verifier (aud)")
        result = self._verify(presentation, audience=self.client_id, nonce=nonce)
        if inspect.isawaitable(result):
            result = await result
        claims = _claims_of(result)
        candidate = CandidateCredential(
            ref=cq.id,
            format=cq.format,
            vct=_str_or_none(claims.get("vct")),
            claims=claims,
            holder_binding=kb is not None,
        )
        if cq.format == SD_JWT_VC_FORMAT and candidate.vct not in cq.vct_values:
            raise ClaimsError("the presented credential is not of a requested type (vct)")
        match = match_credential_query(cq, candidate)
        if match is None:
            raise ClaimsError("the presentation does not disclose the claims the request asked for")
        # OpenID4VP §6.4: selectively disclosable claims that were not selected must not be sent.
        extra = [p for p in view.disclosed_paths if not any(path_covers(r, p) for r in match.paths)]
        if extra:
            raise DisclosureError(
                f"the presentation discloses {len(extra)} claim(s) the request did not ask for; refused"
            )
        return VerifiedCredential(
            query_id=cq.id,
            presentation=presentation,
            claims=claims,
            disclosed=_project(claims, match.concrete_paths),
            paths=match.paths,
            verified=result,
        )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _claims_of(result: Any) -> Mapping[str, Any]:
    claims = getattr(result, "claims", result)
    if callable(claims):
        claims = claims()
    if not isinstance(claims, Mapping):
        raise TypeError("the verify function must return a claims mapping or an object with a claims mapping")
    return claims


def _project(claims: Mapping[str, Any], paths: Sequence[tuple[str | int, ...]]) -> dict[str, Any]:
    """Only the claims at ``paths``, nested like the credential; selected array elements keep their
    order (unselected ones are left out, so indexes are not preserved)."""
    tree: dict[str | int, Any] = {}
    for path in paths:
        node: Any = claims
        target = tree
        for i, comp in enumerate(path):
            node = node[comp]
            if i == len(path) - 1:
                target[comp] = node
            else:
                if comp in target and not _is_branch(target[comp]):
                    break  # the whole value is already selected by a shorter path
                target = target.setdefault(comp, {_BRANCH: True})

    def finish(value: Any) -> Any:
        if not _is_branch(value):
            return value
        members = {k: finish(v) for k, v in value.items() if k is not _BRANCH}
        # JSON object member names are strings, so integer keys can only be array indexes.
        if members and all(isinstance(k, int) for k in members):
            return [members[k] for k in sorted(members)]
        return members

    projected = finish({_BRANCH: True, **tree})
    return projected if isinstance(projected, dict) else {}


_BRANCH: Any = object()


def _is_branch(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_BRANCH) is True


def _parse_vp_token(raw: Any, query: DcqlQuery) -> dict[str, list[str]]:
    if not isinstance(raw, str):
        raise ProtocolError("the response has no vp_token", code="invalid_request")
    try:
        value = parse_json(raw, what="vp_token", max_bytes=2_000_000)
    except InvalidInputError as exc:
        raise ProtocolError("vp_token is not valid JSON", code="invalid_request") from exc
    if not isinstance(value, dict) or not value:
        raise ProtocolError(
            "vp_token must be a non-empty JSON object keyed by credential query id", code="invalid_request"
        )
    ids = {c.id for c in query.credentials}
    out: dict[str, list[str]] = {}
    for qid, presentations in value.items():
        if qid not in ids:
            raise ProtocolError("vp_token answers a credential query that was not asked", code="invalid_request")
        if not isinstance(presentations, list) or not presentations:
            raise ProtocolError("each vp_token entry must be a non-empty array", code="invalid_request")
        if not all(isinstance(p, str) for p in presentations):
            raise ProtocolError("dc+sd-jwt presentations are strings", code="invalid_request")
        if not query.credential(qid).multiple and len(presentations) != 1:
            raise ProtocolError(
                "vp_token has several presentations for a query without multiple", code="invalid_request"
            )
        out[qid] = presentations
    given = set(out)
    # OpenID4VP §6.4.2 / §8.6: the set of presentations must satisfy the credential sets.
    if query.credential_sets is None:
        if given != ids:
            raise ProtocolError("vp_token does not answer every requested credential", code="invalid_request")
    else:
        allowed: set[str] = set()
        for cset in query.credential_sets:
            allowed.update(i for o in cset.options for i in o)
            if cset.required and not any(set(o) <= given for o in cset.options):
                raise ProtocolError("vp_token does not satisfy a required credential set", code="invalid_request")
        if not given <= allowed:
            raise ProtocolError("vp_token answers a query outside the credential sets", code="invalid_request")
    return out

