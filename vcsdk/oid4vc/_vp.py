"""OpenID for Verifiable Presentations 1.0: the verifier's and the wallet's side.

Verifier (a third-party service): :class:`Verifier` builds a signed Request Object (JAR, §5) with a
DCQL query (§6), passes it by reference (``request_uri``) behind an ``openid4vp://`` deep link or QR
code, and processes the ``direct_post`` Authorization Response (§8.2) once: state binding, nonce and
audience binding (§14.1), the injected credential verification, DCQL satisfaction (§8.6) and refusal
of disclosures that were not requested (§6.4).

Wallet: :func:`parse_authorization_request_uri`, :func:`verify_request_object` /
:func:`load_request_object` (the ``decentralized_identifier`` Client Identifier Prefix, §5.9.3),
:func:`build_consent` and :func:`build_authorization_response`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from vcsdk._json import parse_json
from vcsdk.credentials import IssuerKeyResolver
from vcsdk.errors import (
    AudienceMismatchError,
    ClaimsError,
    DisclosureError,
    InvalidInputError,
    KeyBindingMissingError,
    KeyNotFoundError,
    NonceMismatchError,
    ProtocolError,
    TokenExpiredError,
    TokenNotYetValidError,
    VcsdkError,
)
from vcsdk.keys import DEFAULT_POLICY, AlgorithmPolicy, Key, Signer, decode_jws, sign_jws, verify_jws
from vcsdk.oid4vc._common import (
    SYSTEM_RANDOMNESS,
    URL_SAFE,
    HttpRequest,
    HttpResponse,
    Randomness,
    StateStore,
    is_https_url,
    raise_for_error,
    random_token,
    render_qr,
)
from vcsdk.oid4vc._dcql import (
    SD_JWT_VC_FORMAT,
    CandidateCredential,
    ClaimPath,
    CredentialQuery,
    DcqlMatch,
    DcqlQuery,
    match_credential_query,
    parse_dcql_query,
    path_covers,
)
from vcsdk.oid4vc._sd_jwt_view import view_sd_jwt
from vcsdk.registration import MAX_REGISTRATION_BYTES, RelyingPartyRegistration, check_request, peek_registration

__all__ = [
    "CLIENT_ID_PREFIX",
    "PURPOSE_FORMAT",
    "REGISTRATION_FORMAT",
    "REQUEST_OBJECT_TYP",
    "AuthorizationRequest",
    "AuthorizationRequestReference",
    "ConsentCredential",
    "ConsentScreen",
    "PresentationRequest",
    "PresentationResult",
    "PresentationVerifyFn",
    "VerifiedCredential",
    "Verifier",
    "build_authorization_response",
    "build_consent",
    "build_error_response",
    "load_request_object",
    "parse_authorization_request_uri",
    "parse_response_uri_answer",
    "peek_request_object",
    "request_object_request",
    "verify_request_object",
]

#: OpenID4VP 1.0 §5.9.3: the Client Identifier Prefix for a verifier identified by a DID.
CLIENT_ID_PREFIX = "decentralized_identifier:"
#: RFC 9101 / OpenID4VP §5: the Request Object's ``typ``.
REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"
#: OpenID4VP §5.8: ``aud`` of a Request Object under static discovery (the ``openid4vp://`` scheme).
SELF_ISSUED_AUDIENCE = "https://self-issued.me/v2"
#: The ``verifier_info`` format (OpenID4VP §5.1, §5.11) carrying the purpose shown to the resident.
#: It is bound to the verifier by the Request Object's signature (a claim-bound attestation).
PURPOSE_FORMAT = "urn:vcsdk:verifier-info:purpose"
#: The ``verifier_info`` format carrying the service's registration with the city (a compact JWS the
#: city signed, :mod:`vcsdk.registration`); the wallet checks the request against it before consent.
REGISTRATION_FORMAT = "urn:vcsdk:verifier-info:registration"
DEEP_LINK_SCHEME = "openid4vp://"
MAX_PURPOSE_CHARS = 500
MAX_REQUEST_OBJECT_BYTES = 64 * 1024


def _did_of_client_id(client_id: str) -> str:
    if not client_id.startswith(CLIENT_ID_PREFIX):
        raise ProtocolError(
            "client_id does not use the decentralized_identifier prefix; this wallet supports only that one",
            code="invalid_request",
        )
    did = client_id[len(CLIENT_ID_PREFIX) :]
    if not did.startswith("did:") or "#" in did or len(did) > 512:
        raise ProtocolError("client_id does not carry a DID after its prefix", code="invalid_request")
    return did


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """The parameters of an OpenID4VP Authorization Request, as carried in the Request Object."""

    client_id: str
    response_uri: str
    nonce: str
    dcql_query: DcqlQuery
    state: str | None = None
    purpose: str | None = None
    client_name: str | None = None
    response_mode: str = "direct_post"
    response_type: str = "vp_token"
    issued_at: int | None = None
    expires_at: int | None = None
    wallet_nonce: str | None = None
    registration: str | None = None

    @property
    def verifier_did(self) -> str:
        """The verifier's DID (the Client Identifier without its prefix)."""
        return _did_of_client_id(self.client_id)

    def to_claims(self) -> dict[str, Any]:
        """The Request Object payload."""
        out: dict[str, Any] = {
            "iss": self.client_id,
            "aud": SELF_ISSUED_AUDIENCE,
            "response_type": self.response_type,
            "response_mode": self.response_mode,
            "client_id": self.client_id,
            "response_uri": self.response_uri,
            "nonce": self.nonce,
            "dcql_query": self.dcql_query.to_dict(),
            "client_metadata": {
                "vp_formats_supported": {
                    SD_JWT_VC_FORMAT: {"sd-jwt_alg_values": ["ES256", "ES256K"], "kb-jwt_alg_values": ["ES256"]}
                },
            },
        }
        if self.client_name is not None:
            out["client_metadata"]["client_name"] = self.client_name
        if self.state is not None:
            out["state"] = self.state
        info: list[dict[str, Any]] = []
        if self.purpose is not None:
            info.append({"format": PURPOSE_FORMAT, "data": {"purpose": self.purpose}})
        if self.registration is not None:
            info.append({"format": REGISTRATION_FORMAT, "data": self.registration})
        if info:
            out["verifier_info"] = info
        if self.issued_at is not None:
            out["iat"] = self.issued_at
        if self.expires_at is not None:
            out["exp"] = self.expires_at
        if self.wallet_nonce is not None:
            out["wallet_nonce"] = self.wallet_nonce
        return out


@dataclass(frozen=True, slots=True)
class PresentationRequest:
    """A request the verifier created: show :attr:`deep_link` (or :meth:`qr`) to the resident."""

    request_id: str
    state: str
    nonce: str
    client_id: str
    request_uri: str
    request_object: str
    expires_at: datetime

    @property
    def deep_link(self) -> str:
        """``openid4vp://?client_id=…&request_uri=…`` (OpenID4VP §5.7, request by reference)."""
        return f"{DEEP_LINK_SCHEME}?{urlencode({'client_id': self.client_id, 'request_uri': self.request_uri})}"

    def qr(self, *, kind: Literal["svg", "png"] = "svg", scale: int = 4) -> bytes:
        """The deep link as a QR code image."""
        return render_qr(self.deep_link, kind=kind, scale=scale)


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


# -- wallet ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthorizationRequestReference:
    """What a deep link or QR code carries: the Client Identifier and where to get the request."""

    client_id: str
    request_uri: str | None = None
    request: str | None = None
    request_uri_method: str = "get"


def parse_authorization_request_uri(uri: str) -> AuthorizationRequestReference:
    """Parse an ``openid4vp://`` (or wallet https) link into a request reference.

    Only signed requests are accepted (passed by value in ``request`` or by reference in
    ``request_uri``), since the ``decentralized_identifier`` prefix requires signing (§5.9.3).

    :raises ProtocolError: (``invalid_request``) if ``client_id`` is missing, the prefix is not
        ``decentralized_identifier``, both or neither of ``request``/``request_uri`` are present,
        or (``invalid_request_uri_method``) the method is neither ``get`` nor ``post``.
    :return: the reference.
    """
    if not isinstance(uri, str) or len(uri) > 8192:
        raise ProtocolError("the request link is not a string of reasonable length", code="invalid_request")
    params = parse_qs(urlsplit(uri).query, keep_blank_values=True)
    if any(len(v) != 1 for v in params.values()):
        raise ProtocolError("the request link repeats a parameter", code="invalid_request")
    single = {k: v[0] for k, v in params.items()}
    client_id = single.get("client_id")
    if not client_id:
        raise ProtocolError("the request link has no client_id", code="invalid_request")
    _did_of_client_id(client_id)
    request_uri, request = single.get("request_uri"), single.get("request")
    if (request_uri is None) == (request is None):
        raise ProtocolError(
            "the request must be passed signed, in exactly one of request or request_uri", code="invalid_request"
        )
    method = single.get("request_uri_method", "get")
    if method not in ("get", "post"):
        raise ProtocolError("request_uri_method must be get or post", code="invalid_request_uri_method")
    if request_uri is not None and not is_https_url(request_uri):
        raise ProtocolError("request_uri must be an https URL", code="invalid_request")
    return AuthorizationRequestReference(
        client_id=client_id, request_uri=request_uri, request=request, request_uri_method=method
    )


def request_object_request(reference: AuthorizationRequestReference) -> HttpRequest:
    """The GET that fetches the Request Object (RFC 9101 §5.2; a ``post``-method request falls back
    to GET, which OpenID4VP §5 allows a wallet that does not support POST).

    :raises InvalidInputError: if the reference carries the request by value.
    """
    if reference.request_uri is None:
        raise InvalidInputError("this request was passed by value; there is nothing to fetch")
    return HttpRequest("GET", reference.request_uri, {"Accept": f"application/{REQUEST_OBJECT_TYP}"})


@dataclass(frozen=True, slots=True)
class UnverifiedRequestObject:
    """A parsed Request Object whose signature has not been checked: use it only to find the key."""

    token: str
    client_id: str
    did: str
    kid: str


def peek_request_object(token: str | bytes) -> UnverifiedRequestObject:
    """Read the Client Identifier and ``kid`` of a Request Object, to resolve the verifier's key.

    :raises InvalidTokenError: if it is not a compact JWS.
    :raises ProtocolError: (``invalid_request``) if ``client_id`` or ``kid`` is missing, the prefix is
        not ``decentralized_identifier``, or ``kid`` is not a DID URL of that DID (the request was
        signed by another DID).
    """
    text = token.decode("ascii", errors="replace") if isinstance(token, bytes) else token
    jws = decode_jws(text, max_bytes=MAX_REQUEST_OBJECT_BYTES)
    claims = jws.unverified_claims()
    client_id = claims.get("client_id")
    if not isinstance(client_id, str):
        raise ProtocolError("the request object has no client_id", code="invalid_request")
    did = _did_of_client_id(client_id)
    kid = jws.header.get("kid")
    if not isinstance(kid, str) or not kid.startswith(did + "#"):
        raise ProtocolError(
            "the request object is not signed by a key of the client_id's DID (kid must be a DID URL of it)",
            code="invalid_request",
        )
    return UnverifiedRequestObject(token=text, client_id=client_id, did=did, kid=kid)


def verify_request_object(
    token: str | bytes,
    key: Key,
    *,
    expected_client_id: str | None,
    now: datetime,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    leeway: timedelta = timedelta(seconds=60),
    wallet_nonce: str | None = None,
) -> AuthorizationRequest:
    """Verify a Request Object with the verifier's key (from its DID document) and validate it.

    :param key: the key the ``kid`` header names, resolved from the verifier's DID document.
    :param expected_client_id: the ``client_id`` of the deep link; it must equal the signed one
        (OpenID4VP §5.10.1), including the prefix. ``None`` only for requests without a link.
    :param wallet_nonce: the ``wallet_nonce`` the wallet sent with ``request_uri_method=post``.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises TokenTypeError: if ``typ`` is not ``oauth-authz-req+jwt``.
    :raises UnsupportedAlgorithmError: for an algorithm outside ``policy`` or not fitting the key.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises SignatureInvalidError: if the signature does not verify with ``key``.
    :raises TokenExpiredError: if ``exp`` has passed; :raises TokenNotYetValidError: for a future ``iat``.
    :raises ProtocolError: (``invalid_request``) for a client_id/kid/link mismatch or any parameter
        this profile requires (``vp_token``, ``direct_post``, ``response_uri``, ``nonce``, DCQL);
        (``invalid_transaction_data``) if ``transaction_data`` is present (not supported).
    :return: the validated request.
    """
    peeked = peek_request_object(token)
    if expected_client_id is not None and peeked.client_id != expected_client_id:
        raise ProtocolError("the signed client_id differs from the link's client_id", code="invalid_request")
    verified = verify_jws(peeked.token, key, policy=policy, typ=REQUEST_OBJECT_TYP)
    claims = verified.claims()
    ts = int(now.timestamp())
    slack = int(leeway.total_seconds())
    exp = claims.get("exp")
    if exp is not None:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise ProtocolError("the request object's exp is not a number", code="invalid_request")
        if ts > exp + slack:
            raise TokenExpiredError("the request has expired; ask the service for a new QR code")
    iat = claims.get("iat")
    if iat is not None:
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise ProtocolError("the request object's iat is not a number", code="invalid_request")
        if iat > ts + slack:
            raise TokenNotYetValidError("the request object is issued in the future")
    aud = claims.get("aud")
    if aud is not None and aud != SELF_ISSUED_AUDIENCE and not (isinstance(aud, list) and SELF_ISSUED_AUDIENCE in aud):
        raise ProtocolError("the request object is addressed to another wallet (aud)", code="invalid_request")
    if "transaction_data" in claims:
        raise ProtocolError("this wallet does not support transaction_data", code="invalid_transaction_data")
    if claims.get("response_type") != "vp_token":
        raise ProtocolError("response_type must be vp_token", code="invalid_request")
    if claims.get("response_mode") != "direct_post":
        raise ProtocolError("response_mode must be direct_post", code="invalid_request")
    if "redirect_uri" in claims:
        raise ProtocolError("redirect_uri must not be present with direct_post", code="invalid_request")
    response_uri = claims.get("response_uri")
    if not isinstance(response_uri, str) or not is_https_url(response_uri):
        raise ProtocolError("response_uri must be an https URL", code="invalid_request")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or URL_SAFE.fullmatch(nonce) is None:
        raise ProtocolError("nonce is missing or not URL-safe ASCII", code="invalid_request")
    state = claims.get("state")
    if state is not None and (not isinstance(state, str) or URL_SAFE.fullmatch(state) is None):
        raise ProtocolError("state is not URL-safe ASCII", code="invalid_request")
    if "scope" in claims and "dcql_query" in claims:
        raise ProtocolError("a request carries dcql_query or scope, not both", code="invalid_request")
    if "dcql_query" not in claims:
        raise ProtocolError("the request has no dcql_query", code="invalid_request")
    if wallet_nonce is not None and claims.get("wallet_nonce") != wallet_nonce:
        raise ProtocolError("the request object does not echo the wallet_nonce", code="invalid_request")
    query = parse_dcql_query(claims["dcql_query"])
    metadata = claims.get("client_metadata")
    name = metadata.get("client_name") if isinstance(metadata, Mapping) else None
    return AuthorizationRequest(
        client_id=peeked.client_id,
        response_uri=response_uri,
        nonce=nonce,
        dcql_query=query,
        state=state,
        purpose=_purpose_of(claims.get("verifier_info")),
        registration=_registration_of(claims.get("verifier_info")),
        client_name=name[:200] if isinstance(name, str) else None,
        issued_at=int(iat) if iat is not None else None,
        expires_at=int(exp) if exp is not None else None,
        wallet_nonce=claims.get("wallet_nonce") if isinstance(claims.get("wallet_nonce"), str) else None,
    )


def _purpose_of(info: Any) -> str | None:
    if not isinstance(info, list):
        return None
    for entry in info:
        if isinstance(entry, Mapping) and entry.get("format") == PURPOSE_FORMAT:
            data = entry.get("data")
            if isinstance(data, Mapping) and isinstance(data.get("purpose"), str):
                return str(data["purpose"])[:MAX_PURPOSE_CHARS]
    return None


def _registration_of(info: Any) -> str | None:
    if not isinstance(info, list):
        return None
    found = [e for e in info if isinstance(e, Mapping) and e.get("format") == REGISTRATION_FORMAT]
    if len(found) > 1:
        raise ProtocolError("the request carries more than one registration", code="invalid_request")
    if not found:
        return None
    data = found[0].get("data")
    if not isinstance(data, str) or len(data) > MAX_REGISTRATION_BYTES:
        raise ProtocolError("the request's registration is not a compact JWS", code="invalid_request")
    return data


async def load_request_object(
    token: str | bytes,
    *,
    resolver: IssuerKeyResolver,
    expected_client_id: str | None,
    now: datetime,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    wallet_nonce: str | None = None,
) -> AuthorizationRequest:
    """Resolve the verifier's key from its DID and verify the Request Object with it.

    OpenID4VP §5.9.3 takes the key from the DID document's ``verificationMethod`` named by ``kid``;
    a key referenced from ``authentication`` is looked up first, then ``assertionMethod``.

    :raises KeyNotFoundError: if the DID document has no such key.
    :raises DidResolutionError: if the DID cannot be resolved.
    :raises: everything :func:`verify_request_object` raises.
    :return: the validated request.
    """
    peeked = peek_request_object(token)
    try:
        key = await resolver.resolve_key(peeked.did, peeked.kid, relationship="authentication", at=None)
    except KeyNotFoundError:
        key = await resolver.resolve_key(peeked.did, peeked.kid, relationship="assertionMethod", at=None)
    return verify_request_object(
        peeked.token, key, expected_client_id=expected_client_id, now=now, policy=policy, wallet_nonce=wallet_nonce
    )


@dataclass(frozen=True, slots=True)
class ConsentCredential:
    """One credential the wallet proposes to present, and exactly which claims it would disclose."""

    query_id: str
    ref: str
    claims: tuple[ClaimPath, ...]
    concrete_claims: tuple[tuple[str | int, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentScreen:
    """What the resident must see before consenting: who asks, why, and exactly what is shared."""

    service_did: str
    service_name: str | None
    purpose: str | None
    response_uri: str
    credentials: tuple[ConsentCredential, ...]


def build_consent(request: AuthorizationRequest, match: DcqlMatch) -> ConsentScreen:
    """Build the consent screen model from a verified request and the wallet's DCQL match.

    :raises ProtocolError: (``access_denied``) if the wallet cannot satisfy the request.
    """
    selection = match.selection()
    creds = tuple(
        ConsentCredential(query_id=qid, ref=m.ref, claims=m.paths, concrete_claims=m.concrete_paths)
        for qid, ms in selection.items()
        for m in ms
    )
    return ConsentScreen(
        service_did=request.verifier_did,
        service_name=request.client_name,
        purpose=request.purpose,
        response_uri=request.response_uri,
        credentials=creds,
    )


def build_authorization_response(
    request: AuthorizationRequest, presentations: Mapping[str, str | Sequence[str]]
) -> HttpRequest:
    """The ``direct_post`` Authorization Response: ``vp_token`` keyed by credential query id, ``state``.

    :param presentations: for each answered credential query id, one presentation (or several when
        the query allows ``multiple``), each made with ``audience=request.client_id`` and
        ``nonce=request.nonce``.
    :raises InvalidInputError: if a key is not a credential query id of the request, a list is
        empty, or several presentations answer a query without ``multiple``.
    :return: the POST to send to ``response_uri``.
    """
    token: dict[str, list[str]] = {}
    for qid, value in presentations.items():
        try:
            cq = request.dcql_query.credential(qid)
        except KeyError:
            raise InvalidInputError("a presentation answers a credential query the request did not make") from None
        values = [value] if isinstance(value, str) else list(value)
        if not values or (len(values) > 1 and not cq.multiple):
            raise InvalidInputError("each answered query needs one presentation (several only with multiple)")
        token[qid] = values
    if not token:
        raise InvalidInputError("a response needs at least one presentation")
    import json

    fields = {"vp_token": json.dumps(token, separators=(",", ":"))}
    if request.state is not None:
        fields["state"] = request.state
    return HttpRequest.form(request.response_uri, fields)


def build_error_response(
    request: AuthorizationRequest, *, error: str = "access_denied", description: str | None = None
) -> HttpRequest:
    """An Authorization Error Response by ``direct_post`` (OpenID4VP §8.5), e.g. the resident declined.

    :raises InvalidInputError: if ``error`` is not an ASCII error code.
    """
    if URL_SAFE.fullmatch(error) is None:
        raise InvalidInputError("error must be an ASCII error code")
    fields = {"error": error}
    if description:
        fields["error_description"] = description
    if request.state is not None:
        fields["state"] = request.state
    return HttpRequest.form(request.response_uri, fields)


def parse_response_uri_answer(response: HttpResponse) -> str | None:
    """The verifier's answer to the ``direct_post``: its optional ``redirect_uri`` (§8.2).

    :raises ProtocolError: with the verifier's error code if it refused the response.
    """
    raise_for_error(response, what="authorization response")
    if not response.body:
        return None
    body = response.json_object(what="response_uri answer")
    redirect = body.get("redirect_uri")
    return redirect if isinstance(redirect, str) else None
