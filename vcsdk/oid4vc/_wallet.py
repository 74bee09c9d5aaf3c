"""The wallet's messages for OpenID4VCI 1.0 and OpenID4VP 1.0, each a pure function.

Issuance: the Token Request (§6.1), ``jwt`` key proofs (Appendix F.1) made in one step or two (the
phone signs later), the Credential Request (§8.2) and its response, notifications (§11).
Presentation: request links (§5.7), fetching and verifying the Request Object under the
``decentralized_identifier`` Client Identifier Prefix (§5.9.3), the consent screen, and the
Authorization Response (§8.2, §8.5). The holder's state machines that string these together are in
:mod:`vcsdk.oid4vc._holder`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vcsdk._b64 import b64url_encode
from vcsdk.credentials import IssuerKeyResolver
from vcsdk.errors import (
    InvalidInputError,
    KeyNotFoundError,
    ProtocolError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenNotYetValidError,
    VcsdkError,
)
from vcsdk.keys import DEFAULT_POLICY, AlgorithmPolicy, Key, Signer, decode_jws, jws_signing_input, verify_jws
from vcsdk.oid4vc._common import URL_SAFE, HttpRequest, HttpResponse, is_https_url, raise_for_error
from vcsdk.oid4vc._dcql import ClaimPath, ConcretePath, CredentialMatch, DcqlMatch, parse_dcql_query
from vcsdk.oid4vc._vci_messages import (
    NOTIFICATION_EVENTS,
    PRE_AUTHORIZED_GRANT,
    PROOF_ALGORITHMS,
    PROOF_TYP,
    CredentialOffer,
    TokenResponse,
)
from vcsdk.oid4vc._vp_messages import (
    MAX_PURPOSE_CHARS,
    MAX_REQUEST_OBJECT_BYTES,
    PURPOSE_FORMAT,
    REGISTRATION_FORMAT,
    REQUEST_OBJECT_TYP,
    SELF_ISSUED_AUDIENCE,
    AuthorizationRequest,
    AuthorizationRequestReference,
    did_of_client_id,
)
from vcsdk.registration import MAX_REGISTRATION_BYTES

__all__ = [
    "ConsentCredential",
    "ConsentScreen",
    "UnverifiedRequestObject",
    "attach_signature",
    "build_authorization_response",
    "build_consent",
    "build_credential_request",
    "build_error_response",
    "build_token_request",
    "check_proof_signature",
    "create_key_proof",
    "key_proof_signing_input",
    "load_request_object",
    "nonce_request",
    "notification_request",
    "parse_authorization_request_uri",
    "parse_credential_response",
    "parse_nonce_response",
    "parse_response_uri_answer",
    "parse_token_response",
    "peek_request_object",
    "request_object_request",
    "verify_request_object",
]

#: Public members of a P-256 JWK: the only ones a key proof's ``jwk`` header carries.
_PUBLIC_EC_MEMBERS = ("kty", "crv", "x", "y")


# -- issuance --------------------------------------------------------------------------------------


def build_token_request(offer: CredentialOffer, *, tx_code: str | None) -> dict[str, str]:
    """The Token Request form (§6.1) for the Pre-Authorized Code grant.

    :raises InvalidInputError: if the offer has no pre-authorized code, needs a Transaction Code and
        none is given, or the reverse, or it does not fit the announced shape.
    """
    if offer.pre_authorized_code is None:
        raise InvalidInputError("this offer has no pre-authorized code; use the authorization code flow")
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.pre_authorized_code}
    if offer.tx_code is not None:
        if tx_code is None:
            raise InvalidInputError("this offer needs the transaction code sent to the resident")
        if offer.tx_code.input_mode == "numeric" and not tx_code.isdigit():
            raise InvalidInputError("the transaction code is numeric")
        form["tx_code"] = tx_code
    elif tx_code is not None:
        raise InvalidInputError("this offer does not use a transaction code")
    return form


def key_proof_signing_input(
    jwk: Mapping[str, str], *, audience: str, nonce: str, now: datetime, alg: str = "ES256"
) -> bytes:
    """What the device signs for a ``jwt`` key proof (Appendix F.1): the JWS signing input with
    ``typ`` ``openid4vci-proof+jwt``, the device public key in the ``jwk`` header, ``aud`` the
    Credential Issuer, ``nonce`` the ``c_nonce`` and ``iat`` now.

    ``iss`` is omitted, as required for anonymous Pre-Authorized Code access. Sign the returned
    bytes with the device key and pass both to :func:`attach_signature`.

    :param jwk: the device's public JWK (private members are dropped).
    :raises UnsupportedAlgorithmError: for an ``alg`` outside the proof allow-list (``ES256``).
    :return: the ASCII signing input.
    """
    PROOF_ALGORITHMS.check(alg)
    public = {k: v for k, v in jwk.items() if k in _PUBLIC_EC_MEMBERS}
    claims = {"aud": audience, "iat": int(now.timestamp()), "nonce": nonce}
    return jws_signing_input(claims, alg=alg, typ=PROOF_TYP, header={"jwk": public})


def attach_signature(signing_input: bytes, signature: bytes) -> str:
    """The compact JWS made of a signing input and the raw signature over it (``R || S`` for ES256)."""
    return f"{signing_input.decode('ascii')}.{b64url_encode(bytes(signature))}"


def check_proof_signature(signing_input: bytes, signature: bytes, jwk: Mapping[str, str]) -> str:
    """Check the device's signature over a key proof before it goes to the issuer, and return the proof.

    A wrong key or a damaged signature is caught here rather than as the issuer's ``invalid_proof``.

    :raises SignatureInvalidError: if the signature does not verify with ``jwk``.
    :return: the key proof JWT.
    """
    proof = attach_signature(signing_input, signature)
    try:
        verify_jws(proof, Key.from_jwk(dict(jwk)), policy=PROOF_ALGORITHMS, typ=PROOF_TYP, header_keys="ignore")
    except VcsdkError:
        raise SignatureInvalidError(
            "the key proof signature does not verify with the device key; sign the signing input with ES256"
        ) from None
    return proof


def create_key_proof(
    signer: Signer,
    *,
    audience: str,
    nonce: str,
    now: datetime,
    jwk: Mapping[str, str] | None = None,
) -> str:
    """A ``jwt`` key proof (Appendix F.1) signed at once; see :func:`key_proof_signing_input`.

    :param signer: the device key or anything signing for it (secure enclave).
    :param jwk: the public JWK; defaults to ``signer.public_jwk()`` when the signer is a :class:`Key`.
    :raises InvalidInputError: if no public JWK is available.
    """
    if jwk is None:
        if not isinstance(signer, Key):
            raise InvalidInputError("pass the device's public JWK for a signer that is not a Key")
        jwk = signer.public_jwk()
    signing_input = key_proof_signing_input(jwk, audience=audience, nonce=nonce, now=now, alg=signer.alg)
    return attach_signature(signing_input, signer.sign(signing_input))


def build_credential_request(configuration_id: str, proofs: Sequence[str]) -> dict[str, Any]:
    """A Credential Request body (§8.2) with one ``jwt`` proof per key (several = batch issuance)."""
    if not proofs:
        raise InvalidInputError("a credential request needs at least one key proof")
    return {"credential_configuration_id": configuration_id, "proofs": {"jwt": list(proofs)}}


def notification_request(
    endpoint: str, access_token: str, notification_id: str, *, event: str = "credential_accepted"
) -> HttpRequest:
    """The Notification Request (§11.1) telling the issuer the credentials were stored (or not)."""
    if event not in NOTIFICATION_EVENTS:
        raise InvalidInputError(f"event is one of {', '.join(NOTIFICATION_EVENTS)}")
    return HttpRequest.json(
        endpoint,
        {"notification_id": notification_id, "event": event},
        headers={"Authorization": f"Bearer {access_token}"},
    )


def parse_token_response(response: HttpResponse) -> TokenResponse:
    """The Token Response (§6.2) the issuer's authorization server answered: a ``Bearer`` or a
    DPoP-bound (``DPoP``, RFC 9449 §5) access token, a refresh token, ``authorization_details``.

    :raises ProtocolError: the issuer's error code, or ``invalid_response`` without an access token.
    """
    raise_for_error(response, what="token request")
    token = response.json_object(what="token response")
    access_token, token_type = token.get("access_token"), token.get("token_type")
    if not isinstance(access_token, str) or not access_token or not isinstance(token_type, str):
        raise ProtocolError("the token response has no access token", code="invalid_response")
    if token_type.lower() not in ("bearer", "dpop"):
        raise ProtocolError("the token response has an unsupported token_type", code="invalid_response")
    expires_in = token.get("expires_in")
    refresh = token.get("refresh_token")
    details = token.get("authorization_details")
    return TokenResponse(
        access_token,
        "DPoP" if token_type.lower() == "dpop" else "Bearer",
        expires_in if isinstance(expires_in, int) else 0,
        refresh if isinstance(refresh, str) and refresh else None,
        tuple(d for d in details if isinstance(d, Mapping)) if isinstance(details, list) else (),
    )


def nonce_request(endpoint: str) -> HttpRequest:
    """The Nonce Request (§7.1): an empty POST."""
    return HttpRequest("POST", endpoint, {"Content-Length": "0"}, b"")


def parse_nonce_response(response: HttpResponse) -> str:
    """The ``c_nonce`` of a Nonce Response (§7.2).

    :raises ProtocolError: the issuer's error code, or ``invalid_response`` without a ``c_nonce``.
    """
    raise_for_error(response, what="nonce request")
    c_nonce = response.json_object(what="nonce response").get("c_nonce")
    if not isinstance(c_nonce, str) or not c_nonce:
        raise ProtocolError("the nonce response has no c_nonce", code="invalid_response")
    return c_nonce


def parse_credential_response(response: HttpResponse, *, max_credentials: int) -> tuple[tuple[str, ...], str | None]:
    """The credentials and ``notification_id`` of a Credential Response (§8.3).

    :param max_credentials: how many keys were proven (the issuer must not return more).
    :raises ProtocolError: the issuer's error code, or ``invalid_response`` for a malformed answer.
    :return: the credentials, and the notification id if any.
    """
    raise_for_error(response, what="credential request")
    answer = response.json_object(what="credential response")
    creds = answer.get("credentials")
    if not isinstance(creds, list) or not creds:
        raise ProtocolError(
            "the credential response has no credentials (deferred issuance is not supported)", code="invalid_response"
        )
    out: list[str] = []
    for c in creds:
        if not isinstance(c, Mapping) or not isinstance(c.get("credential"), str):
            raise ProtocolError("each credentials entry needs a credential string", code="invalid_response")
        out.append(c["credential"])
    if len(out) > max_credentials:
        raise ProtocolError("the issuer returned more credentials than keys were proven", code="invalid_response")
    nid = answer.get("notification_id")
    return tuple(out), nid if isinstance(nid, str) and nid else None


# -- presentation ----------------------------------------------------------------------------------


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
    did_of_client_id(client_id)
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
    did = did_of_client_id(client_id)
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
    """One credential the wallet proposes to present, and exactly which claims it would disclose.

    :ivar claims: the requested claims path pointers the credential satisfies (what the resident sees).
    :ivar concrete_claims: the same with array wildcards expanded: what is actually disclosed.
    """

    query_id: str
    ref: str
    claims: tuple[ClaimPath, ...]
    concrete_claims: tuple[ConcretePath, ...] = ()

    @classmethod
    def of(cls, match: CredentialMatch) -> ConsentCredential:
        return cls(query_id=match.query_id, ref=match.ref, claims=match.paths, concrete_claims=match.concrete_paths)


@dataclass(frozen=True, slots=True)
class ConsentScreen:
    """What the resident must see before consenting: who asks, why, and exactly what is shared.

    :ivar credentials: the default answer: for each credential query to answer, its first option.
    :ivar options: for each credential query to answer, every credential that can answer it (the
        default first), so the resident may pick another.
    """

    service_did: str
    service_name: str | None
    purpose: str | None
    response_uri: str
    credentials: tuple[ConsentCredential, ...]
    options: Mapping[str, tuple[ConsentCredential, ...]] = field(default_factory=dict)

    def choose(self, selections: Mapping[str, str] | None = None) -> tuple[ConsentCredential, ...]:
        """The credentials to present: the default, or for a query in ``selections`` (query id →
        credential ref) the option the resident picked.

        :raises InvalidInputError: if a selection names a query not asked or a credential not offered for it.
        """
        chosen = {c.query_id: c for c in self.credentials}
        for qid, ref in (selections or {}).items():
            picked = [o for o in self.options.get(qid, ()) if o.ref == ref]
            if qid not in chosen or not picked:
                raise InvalidInputError("each selection must name a requested query and one of its offered credentials")
            chosen[qid] = picked[0]
        return tuple(chosen.values())


def build_consent(request: AuthorizationRequest, match: DcqlMatch) -> ConsentScreen:
    """Build the consent screen model from a verified request and the wallet's DCQL match.

    :raises ProtocolError: (``access_denied``) if the wallet cannot satisfy the request.
    """
    selection = match.selection()
    return ConsentScreen(
        service_did=request.verifier_did,
        service_name=request.client_name,
        purpose=request.purpose,
        response_uri=request.response_uri,
        credentials=tuple(ConsentCredential.of(m) for ms in selection.values() for m in ms),
        options={qid: tuple(ConsentCredential.of(m) for m in match.matches[qid]) for qid in selection},
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

