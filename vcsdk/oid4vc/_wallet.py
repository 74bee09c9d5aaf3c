"""The wallet's messages for OpenID4VCI 1.0 and OpenID4VP 1.0, each a pure function.

Issuance: the Token Request (§6.1), ``jwt`` key proofs (Appendix F.1) made in one step or two (the
phone signs later), the Credential Request (§8.2) and its response, notifications (§11).
Presentation: request links (§5.7), fetching and verifying the Request Object under the
``decentralized_identifier`` Client Identifier Prefix (§5.9.3), the consent screen, and the
Authorization Response (§8.2, §8.5). The holder's state machines that string these together are in
:mod:`vcsdk.oid4vc._holder`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vcsdk._b64 import b64url_encode
from vcsdk._json import parse_json
from vcsdk._time import numeric_date
from vcsdk.credentials import IssuerKeyResolver
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.errors import (
    InvalidInputError,
    KeyNotFoundError,
    ProtocolError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenNotYetValidError,
    UntrustedKeyError,
    VcsdkError,
)
from vcsdk.keys import Key, Signer, decode_jws, jws_signing_input, verify_jws
from vcsdk.oid4vc._common import URL_SAFE, HttpRequest, HttpResponse, is_https_url, raise_for_error
from vcsdk.oid4vc._dcql import SD_JWT_VC_FORMAT, ClaimPath, ConcretePath, CredentialMatch, DcqlMatch, parse_dcql_query
from vcsdk.oid4vc._jwe import ENCRYPTION_ALGORITHMS, ENCRYPTION_METHODS, choose_encryption_key, encrypt_response
from vcsdk.oid4vc._vci_messages import (
    NOTIFICATION_EVENTS,
    PRE_AUTHORIZED_GRANT,
    PROOF_ALGORITHMS,
    PROOF_TYP,
    CredentialOffer,
    TokenResponse,
)
from vcsdk.oid4vc._vp_messages import (
    CLIENT_ID_PREFIXES,
    MAX_PURPOSE_CHARS,
    MAX_REQUEST_OBJECT_BYTES,
    PURPOSE_FORMAT,
    REGISTRATION_FORMAT,
    REQUEST_OBJECT_TYP,
    RESPONSE_MODES,
    SELF_ISSUED_AUDIENCE,
    AuthorizationRequest,
    AuthorizationRequestReference,
    client_id_prefix,
    did_of_client_id,
)
from vcsdk.oid4vc._x509 import certificate_hash, dns_names, leaf_key, verify_x5c
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
    "request_from_parameters",
    "request_object_request",
    "verify_request_object",
    "wallet_metadata",
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


#: What this wallet supports, for ``wallet_metadata`` (OpenID4VP §10) and for ``request_uri_method=post``.
WALLET_METADATA: dict[str, Any] = {
    "vp_formats_supported": {
        SD_JWT_VC_FORMAT: {"sd-jwt_alg_values": ["ES256", "ES256K", "EdDSA"], "kb-jwt_alg_values": ["ES256"]}
    },
    "client_id_prefixes_supported": list(CLIENT_ID_PREFIXES),
    "response_types_supported": ["vp_token"],
    "response_modes_supported": list(RESPONSE_MODES),
    "request_object_signing_alg_values_supported": ["ES256", "ES256K", "EdDSA"],
    "authorization_encryption_alg_values_supported": list(ENCRYPTION_ALGORITHMS),
    "authorization_encryption_enc_values_supported": list(ENCRYPTION_METHODS),
}

#: The request parameters an unsigned request may carry by value (``redirect_uri:`` prefix).
_BY_VALUE = frozenset(
    {"client_id", "response_type", "response_mode", "response_uri", "nonce", "state", "dcql_query",
     "client_metadata", "verifier_info", "redirect_uri", "transaction_data", "scope", "request_uri_method"}
)


def wallet_metadata(**extra: Any) -> dict[str, Any]:
    """The wallet's metadata (OpenID4VP §10, Authorization Server Metadata): formats, Client
    Identifier Prefixes, response modes, request signing and response encryption algorithms."""
    return {**WALLET_METADATA, **extra}


def parse_authorization_request_uri(uri: str) -> AuthorizationRequestReference:
    """Parse an ``openid4vp://`` (``haip-vp://``, or wallet https) link into a request reference.

    Signed requests come by value (``request``) or by reference (``request_uri``, fetched with GET
    or, with ``request_uri_method=post``, POST); an unsigned request (only with the
    ``redirect_uri:`` prefix, which cannot be signed) comes as plain parameters.

    :raises ProtocolError: (``invalid_request``) if ``client_id`` is missing or has a prefix this
        wallet does not support, a signed request is not in exactly one of ``request`` /
        ``request_uri``, or an unsigned one uses another prefix; (``invalid_request_uri_method``)
        for a method other than ``get`` and ``post``.
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
    prefix, _ = client_id_prefix(client_id)
    request_uri, request = single.get("request_uri"), single.get("request")
    if request_uri is None and request is None:
        if prefix != "redirect_uri":
            raise ProtocolError(
                "the request must be passed signed, in request or request_uri (only redirect_uri: is unsigned)",
                code="invalid_request",
            )
        return AuthorizationRequestReference(
            client_id=client_id, parameters={k: v for k, v in single.items() if k in _BY_VALUE}
        )
    if request_uri is not None and request is not None:
        raise ProtocolError("the request carries both request and request_uri", code="invalid_request")
    method = single.get("request_uri_method", "get")
    if method not in ("get", "post"):
        raise ProtocolError("request_uri_method must be get or post", code="invalid_request_uri_method")
    if request_uri is not None and not is_https_url(request_uri):
        raise ProtocolError("request_uri must be an https URL", code="invalid_request")
    return AuthorizationRequestReference(
        client_id=client_id, request_uri=request_uri, request=request, request_uri_method=method
    )


def request_object_request(
    reference: AuthorizationRequestReference,
    *,
    wallet_nonce: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> HttpRequest:
    """The request fetching the Request Object (RFC 9101 §5.2): a GET, or for
    ``request_uri_method=post`` a POST with ``wallet_metadata`` and ``wallet_nonce`` (OpenID4VP §5.10).

    :param wallet_nonce: a fresh value the verifier must sign into the Request Object (check it with
        :func:`load_request_object`'s ``wallet_nonce``).
    :param metadata: the wallet metadata to send (default :func:`wallet_metadata`).
    :raises InvalidInputError: if the reference carries the request by value.
    """
    if reference.request_uri is None:
        raise InvalidInputError("this request was passed by value; there is nothing to fetch")
    headers = {"Accept": f"application/{REQUEST_OBJECT_TYP}"}
    if reference.request_uri_method != "post":
        return HttpRequest("GET", reference.request_uri, headers)
    form = {"wallet_metadata": json.dumps(dict(metadata or WALLET_METADATA), separators=(",", ":"))}
    if wallet_nonce is not None:
        form["wallet_nonce"] = wallet_nonce
    return HttpRequest.form(reference.request_uri, form, headers=headers)


@dataclass(frozen=True, slots=True)
class UnverifiedRequestObject:
    """A parsed Request Object whose signature has not been checked: use it only to find the key."""

    token: str
    client_id: str
    did: str | None
    kid: str | None
    prefix: str = "decentralized_identifier"
    x5c: Any = None


def peek_request_object(token: str | bytes) -> UnverifiedRequestObject:
    """Read the Client Identifier and where the key comes from (``kid`` or ``x5c``), to find the key.

    :raises InvalidTokenError: if it is not a compact JWS.
    :raises ProtocolError: (``invalid_request``) if ``client_id`` is missing or its prefix is not
        supported, a ``decentralized_identifier`` request's ``kid`` is not a DID URL of that DID
        (signed by another DID), an ``x509_*`` request has no ``x5c``, or a ``redirect_uri:``
        request is signed (that prefix cannot be).
    """
    text = token.decode("ascii", errors="replace") if isinstance(token, bytes) else token
    jws = decode_jws(text, max_bytes=MAX_REQUEST_OBJECT_BYTES)
    claims = jws.unverified_claims()
    client_id = claims.get("client_id")
    if not isinstance(client_id, str):
        raise ProtocolError("the request object has no client_id", code="invalid_request")
    prefix, _ = client_id_prefix(client_id)
    if prefix == "redirect_uri":
        raise ProtocolError("a redirect_uri: client id cannot sign its requests (§5.9.3)", code="invalid_request")
    kid = jws.header.get("kid")
    if prefix == "decentralized_identifier":
        did = did_of_client_id(client_id)
        if not isinstance(kid, str) or not kid.startswith(did + "#"):
            raise ProtocolError(
                "the request object is not signed by a key of the client_id's DID (kid must be a DID URL of it)",
                code="invalid_request",
            )
        return UnverifiedRequestObject(token=text, client_id=client_id, did=did, kid=kid)
    if "x5c" not in jws.header:
        raise ProtocolError("an x509 client id needs the certificate chain in the x5c header", code="invalid_request")
    return UnverifiedRequestObject(
        token=text, client_id=client_id, did=None, kid=kid if isinstance(kid, str) else None, prefix=prefix,
        x5c=jws.header["x5c"],
    )


def _x509_key(peeked: UnverifiedRequestObject, claims_response_uri: object, trust_anchors: Sequence[Any],
              now: datetime) -> Key:
    """The key of an ``x509_hash`` / ``x509_san_dns`` request: its leaf certificate, once the chain
    leads to one of the wallet's anchors and the leaf is the one the Client Identifier names."""
    try:
        leaf, _ = verify_x5c(peeked.x5c, trust_anchors=trust_anchors, now=now)
    except UntrustedKeyError as exc:
        message = f"the verifier's certificate is not trusted: {exc.message}"
        raise ProtocolError(message, code="invalid_client") from None
    _, name = client_id_prefix(peeked.client_id)
    if peeked.prefix == "x509_hash":
        if not hmac.compare_digest(certificate_hash(leaf), name):
            raise ProtocolError("the client_id is not the hash of the signing certificate", code="invalid_client")
    else:
        if name.lower() not in dns_names(leaf):
            raise ProtocolError("the client_id is not a DNS name of the signing certificate", code="invalid_client")
        # §5.9.3: without a list of trusted client ids, the response goes to that host only.
        host = urlsplit(claims_response_uri).hostname if isinstance(claims_response_uri, str) else None
        if host is None or host.lower() != name.lower():
            message = "the response_uri is not on the client_id's host (x509_san_dns)"
            raise ProtocolError(message, code="invalid_request")
    return leaf_key(leaf)


def verify_request_object(
    token: str | bytes,
    key: Key | None = None,
    *,
    expected_client_id: str | None,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    wallet_nonce: str | None = None,
    trust_anchors: Sequence[Any] = (),
) -> AuthorizationRequest:
    """Verify a Request Object and validate it.

    The key: for ``decentralized_identifier`` the one the ``kid`` names, resolved from the
    verifier's DID document (pass it as ``key``); for ``x509_hash`` and ``x509_san_dns`` the leaf
    certificate of the ``x5c`` chain, once the chain leads to one of ``trust_anchors`` (none in the
    chain itself, no self-signed leaf) and the leaf is the one the Client Identifier names.

    :param expected_client_id: the ``client_id`` of the deep link; it must equal the signed one
        (OpenID4VP §5.10.1), including the prefix. ``None`` only for requests without a link.
    :param policy: the algorithm allow-list and the clock skew (``leeway``) on ``iat``/``exp``.
    :param wallet_nonce: the ``wallet_nonce`` the wallet sent with ``request_uri_method=post``.
    :param trust_anchors: the wallet's anchors (``cryptography`` certificates) for ``x509_*`` verifiers.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises TokenTypeError: if ``typ`` is not ``oauth-authz-req+jwt``.
    :raises UnsupportedAlgorithmError: for an algorithm outside ``policy`` or not fitting the key.
    :raises UntrustedKeyError: if a DID-signed request's header carries its own key.
    :raises SignatureInvalidError: if the signature does not verify with the key.
    :raises TokenExpiredError: if ``exp`` has passed; :raises TokenNotYetValidError: for a future ``iat``.
    :raises ProtocolError: (``invalid_request``) for a client_id/kid/link mismatch or any parameter
        this profile requires (``vp_token``, ``direct_post`` or ``direct_post.jwt``, ``response_uri``,
        ``nonce``, DCQL, the ``wallet_nonce``); (``invalid_client``) an untrusted certificate chain
        or a Client Identifier that is not the certificate's; (``invalid_transaction_data``) if
        ``transaction_data`` is present (not supported).
    :return: the validated request.
    """
    policy = verification_policy(policy)
    algorithms = policy.algorithm_policy
    peeked = peek_request_object(token)
    if expected_client_id is not None and peeked.client_id != expected_client_id:
        raise ProtocolError("the signed client_id differs from the link's client_id", code="invalid_request")
    if peeked.prefix in ("x509_hash", "x509_san_dns"):
        unverified = decode_jws(peeked.token, max_bytes=MAX_REQUEST_OBJECT_BYTES).unverified_claims()
        key = _x509_key(peeked, unverified.get("response_uri"), trust_anchors, now)
        # The x5c header was validated against the wallet's own anchors above: it is not trusted
        # because the token brings it, but because the chain leads to an anchor the wallet chose.
        claims = verify_jws(peeked.token, key, policy=algorithms, typ=REQUEST_OBJECT_TYP, header_keys="ignore").claims()
    else:
        if key is None:
            raise InvalidInputError("pass the key the DID document has for the request's kid")
        claims = verify_jws(peeked.token, key, policy=algorithms, typ=REQUEST_OBJECT_TYP).claims()
    return _validated(claims, peeked.client_id, now=now, leeway=policy.leeway, wallet_nonce=wallet_nonce, signed=True)


def request_from_parameters(
    reference: AuthorizationRequestReference, *, now: datetime, leeway: timedelta = timedelta(seconds=60)
) -> AuthorizationRequest:
    """Validate an unsigned request passed by value (the ``redirect_uri:`` prefix, §5.9.3).

    Nothing authenticates such a verifier: its response goes to the Response URI its Client
    Identifier names, and nowhere else.

    :raises ProtocolError: (``invalid_request``) for another prefix, a ``response_uri`` that is not
        the Client Identifier's, or any parameter :func:`verify_request_object` requires.
    """
    params = dict(reference.parameters or {})
    prefix, name = client_id_prefix(reference.client_id)
    if prefix != "redirect_uri" or not params:
        raise ProtocolError("only a redirect_uri: client id sends an unsigned request", code="invalid_request")
    claims: dict[str, Any] = {}
    for key_name, value in params.items():
        if key_name in ("dcql_query", "client_metadata", "verifier_info") and isinstance(value, str):
            try:
                claims[key_name] = parse_json(value, what=key_name, max_bytes=64 * 1024)
            except InvalidInputError:
                raise ProtocolError(f"{key_name} is not valid JSON", code="invalid_request") from None
        else:
            claims[key_name] = value
    if claims.get("response_uri", name) != name:
        raise ProtocolError("the response_uri must be the redirect_uri: client id's", code="invalid_request")
    claims["response_uri"] = name
    return _validated(claims, reference.client_id, now=now, leeway=leeway, wallet_nonce=None, signed=False)


def _validated(
    claims: Mapping[str, Any],
    client_id: str,
    *,
    now: datetime,
    leeway: timedelta,
    wallet_nonce: str | None,
    signed: bool,
) -> AuthorizationRequest:
    """The request parameters this wallet accepts (OpenID4VP §5, §8), as an :class:`AuthorizationRequest`."""
    if claims.get("client_id") != client_id:
        raise ProtocolError("the request's client_id differs from the link's", code="invalid_request")
    ts = int(now.timestamp())
    slack = int(leeway.total_seconds())
    exp = claims.get("exp")
    if exp is not None:
        exp = numeric_date(exp, what="the request object's exp", error=ProtocolError, code="invalid_request")
        if ts > exp + slack:
            raise TokenExpiredError("the request has expired; ask the service for a new QR code")
    iat = claims.get("iat")
    if iat is not None:
        iat = numeric_date(iat, what="the request object's iat", error=ProtocolError, code="invalid_request")
        if iat > ts + slack:
            raise TokenNotYetValidError("the request object is issued in the future")
    aud = claims.get("aud")
    if signed and aud is not None and not _audience_ok(aud):
        raise ProtocolError("the request object is addressed to another wallet (aud)", code="invalid_request")
    if "transaction_data" in claims:
        raise ProtocolError("this wallet does not support transaction_data", code="invalid_transaction_data")
    if claims.get("response_type") != "vp_token":
        raise ProtocolError("response_type must be vp_token", code="invalid_request")
    mode = claims.get("response_mode")
    if mode not in RESPONSE_MODES:
        raise ProtocolError("response_mode must be direct_post or direct_post.jwt", code="invalid_request")
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
        # §5.10.1: the wallet must terminate when its nonce is not echoed (a replayed request object).
        raise ProtocolError("the request object does not echo the wallet_nonce", code="invalid_request")
    query = parse_dcql_query(claims["dcql_query"])
    metadata = claims.get("client_metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = metadata.get("client_name")
    jwks_value = metadata.get("jwks")
    keys = jwks_value.get("keys") if isinstance(jwks_value, Mapping) else None
    jwks = tuple(dict(k) for k in keys if isinstance(k, Mapping))[:8] if isinstance(keys, list) else ()
    enc_values = metadata.get("encrypted_response_enc_values_supported")
    enc = tuple(str(e) for e in enc_values if isinstance(e, str))[:8] if isinstance(enc_values, list) else ()
    if mode == "direct_post.jwt":
        choose_encryption_key(jwks, enc)  # §8.3: refuse now a request the wallet could not answer
    wn = claims.get("wallet_nonce")
    return AuthorizationRequest(
        client_id=client_id,
        response_uri=response_uri,
        nonce=nonce,
        dcql_query=query,
        state=state,
        purpose=_purpose_of(claims.get("verifier_info")),
        registration=_registration_of(claims.get("verifier_info")),
        client_name=name[:200] if isinstance(name, str) else None,
        response_mode=str(mode),
        issued_at=int(iat) if iat is not None else None,
        expires_at=int(exp) if exp is not None else None,
        wallet_nonce=wn if isinstance(wn, str) else None,
        jwks=jwks,
        encrypted_response_enc_values=enc,
    )


def _audience_ok(aud: Any) -> bool:
    # §5.8: static discovery (openid4vp://) addresses https://self-issued.me/v2; a wallet that sent
    # its metadata may also be addressed by its issuer, which this wallet does not publish.
    return bool(aud == SELF_ISSUED_AUDIENCE or (isinstance(aud, list) and SELF_ISSUED_AUDIENCE in aud))


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
    resolver: IssuerKeyResolver | None,
    expected_client_id: str | None,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    wallet_nonce: str | None = None,
    trust_anchors: Sequence[Any] = (),
) -> AuthorizationRequest:
    """Find the verifier's key and verify the Request Object with it.

    For ``decentralized_identifier`` (OpenID4VP §5.9.3) the key comes from the DID document's
    ``verificationMethod`` named by ``kid``: a key referenced from ``authentication`` is looked up
    first, then ``assertionMethod``. For ``x509_hash`` and ``x509_san_dns`` it comes from the
    ``x5c`` chain, validated against ``trust_anchors``.

    :raises KeyNotFoundError: if the DID document has no such key.
    :raises DidResolutionError: if the DID cannot be resolved.
    :raises: everything :func:`verify_request_object` raises.
    :return: the validated request.
    """
    peeked = peek_request_object(token)
    key = None
    if peeked.did is not None and peeked.kid is not None:
        if resolver is None:
            raise InvalidInputError("a DID resolver is needed for a decentralized_identifier verifier")
        try:
            key = await resolver.resolve_key(peeked.did, peeked.kid, relationship="authentication", at=None)
        except KeyNotFoundError:
            key = await resolver.resolve_key(peeked.did, peeked.kid, relationship="assertionMethod", at=None)
    return verify_request_object(
        peeked.token,
        key,
        expected_client_id=expected_client_id,
        now=now,
        policy=verification_policy(policy),
        wallet_nonce=wallet_nonce,
        trust_anchors=trust_anchors,
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

    :ivar service_did: the service's DID (``None`` for a verifier identified by a certificate or its
        Response URI: show :attr:`client_id` then).
    :ivar credentials: the default answer: for each credential query to answer, its first option.
    :ivar options: for each credential query to answer, every credential that can answer it (the
        default first), so the resident may pick another.
    """

    service_did: str | None
    service_name: str | None
    purpose: str | None
    response_uri: str
    credentials: tuple[ConsentCredential, ...]
    options: Mapping[str, tuple[ConsentCredential, ...]] = field(default_factory=dict)
    client_id: str = ""

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
        service_did=request.verifier_did if request.client_id_prefix == "decentralized_identifier" else None,
        client_id=request.client_id,
        service_name=request.client_name,
        purpose=request.purpose,
        response_uri=request.response_uri,
        credentials=tuple(ConsentCredential.of(m) for ms in selection.values() for m in ms),
        options={qid: tuple(ConsentCredential.of(m) for m in match.matches[qid]) for qid in selection},
    )


def _response_form(request: AuthorizationRequest, payload: dict[str, Any]) -> HttpRequest:
    """The POST to the Response URI: the parameters as a form, or for ``direct_post.jwt`` one
    ``response`` parameter, the parameters encrypted to the verifier's key (§8.3.1)."""
    if request.state is not None:
        payload["state"] = request.state
    if request.response_mode == "direct_post.jwt":
        jwk, enc = choose_encryption_key(request.jwks, request.encrypted_response_enc_values)
        return HttpRequest.form(request.response_uri, {"response": encrypt_response(payload, jwk, enc=enc)})
    fields = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in payload.items()}
    return HttpRequest.form(request.response_uri, fields)


def build_authorization_response(
    request: AuthorizationRequest, presentations: Mapping[str, str | Sequence[str]]
) -> HttpRequest:
    """The Authorization Response: ``vp_token`` keyed by credential query id and ``state``, posted as a
    form (``direct_post``) or encrypted to the verifier's key (``direct_post.jwt``: ``ECDH-ES`` with
    ``A256GCM`` when the verifier lists it, else ``A128GCM``).

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
    return _response_form(request, {"vp_token": token})


def build_error_response(
    request: AuthorizationRequest, *, error: str = "access_denied", description: str | None = None
) -> HttpRequest:
    """An Authorization Error Response (OpenID4VP §8.5), e.g. the resident declined; encrypted like
    the response would be for ``direct_post.jwt``.

    :raises InvalidInputError: if ``error`` is not an ASCII error code.
    """
    if URL_SAFE.fullmatch(error) is None:
        raise InvalidInputError("error must be an ASCII error code")
    payload: dict[str, Any] = {"error": error}
    if description:
        payload["error_description"] = description
    return _response_form(request, payload)


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

