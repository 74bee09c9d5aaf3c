"""OpenID for Verifiable Presentations 1.0: the Verifier (a third-party service).

:class:`Verifier` builds a signed Request Object (JAR, §5) with a DCQL query (§6), passes it by
reference (``request_uri``) behind an ``openid4vp://`` deep link or QR code, and processes the
``direct_post`` Authorization Response (§8.2) once: state binding, nonce and audience binding
(§14.1), the injected credential verification, DCQL satisfaction (§8.6) and refusal of disclosures
that were not requested (§6.4).
"""

from __future__ import annotations

import base64
import hmac
import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from vcsdk._json import parse_json
from vcsdk.credentials.sd_jwt import SdJwtText
from vcsdk.errors import (
    AudienceMismatchError,
    ClaimsError,
    DisclosureError,
    InvalidInputError,
    InvalidTokenError,
    IssuerNotAccreditedError,
    KeyBindingMissingError,
    NonceMismatchError,
    ProtocolError,
    VcsdkError,
)
from vcsdk.keys import Key, Signer, sign_jws
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
    trusted_by,
)
from vcsdk.oid4vc._jwe import ENCRYPTION_METHODS, decrypt_response, encryption_key, peek_jwe_header
from vcsdk.oid4vc._sd_jwt_view import view_sd_jwt
from vcsdk.oid4vc._vp_messages import (
    CLIENT_ID_PREFIX,
    CLIENT_ID_PREFIXES,
    MAX_PURPOSE_CHARS,
    REQUEST_OBJECT_TYP,
    RESPONSE_MODES,
    SELF_ISSUED_AUDIENCE,
    AuthorizationRequest,
    PresentationRequest,
)
from vcsdk.oid4vc._x509 import authority_key_ids, certificate_hash, dns_names, leaf_key, parse_x5c
from vcsdk.registration import RelyingPartyRegistration, check_request, peek_registration

__all__ = ["PresentationResult", "PresentationVerifyFn", "PresentedCredential", "Verifier"]



@dataclass(frozen=True, slots=True)
class PresentedCredential:
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

    ``error`` is set (and ``credentials`` empty) when there are no claims: the wallet answered with
    an error response (e.g. ``access_denied``: the resident declined), or, from
    :meth:`Verifier.process_response`, the presentation failed a check (``failure`` is then the
    error, e.g. :class:`~vcsdk.errors.CredentialRevokedError`, and ``error`` its code).
    """

    request_id: str
    state: str
    client_id: str
    nonce: str
    purpose: str | None
    query: DcqlQuery
    credentials: Mapping[str, tuple[PresentedCredential, ...]] = field(default_factory=dict)
    error: str | None = None
    error_description: str | None = None
    #: for a verifier with a ``redirect_uri``: the code the wallet's redirect brings to the session.
    response_code: str | None = field(default=None, repr=False)
    #: the failed check, from :meth:`Verifier.process_response` (not kept by :meth:`to_state`).
    failure: VcsdkError | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the presentation was verified (``credentials`` holds the claims)."""
        return self.error is None

    @property
    def declined(self) -> bool:
        """True when the wallet answered ``access_denied``: the resident said no."""
        return self.error == "access_denied" and self.failure is None

    def claims(self, query_id: str | None = None) -> Mapping[str, Any]:
        """The requested claims of the first presentation for ``query_id`` (default: the only query).

        :raises VerificationError: the failed check itself (its own class, e.g.
            :class:`~vcsdk.errors.CredentialRevokedError`) when the presentation failed verification.
        :raises ProtocolError: (``code`` = the wallet's error, e.g. ``access_denied``) when the wallet
            sent no presentation: the resident declined or the wallet could not answer.
        :raises InvalidInputError: if ``query_id`` is missing while the request had several credential
            queries, or names none of them.
        """
        if self.failure is not None:
            raise self.failure
        if self.error is not None:
            declined = self.error == "access_denied"
            why = "the resident declined to share" if declined else "the wallet sent no presentation"
            raise ProtocolError(
                f"no claims for request {self.request_id}: {why} (the wallet answered {self.error}); "
                "check result.ok before reading claims",
                code=self.error,
            )
        ids = [cq.id for cq in self.query.credentials]
        if query_id is None:
            if len(ids) != 1:
                raise InvalidInputError(f"name the credential query id: the request had several ({', '.join(ids)})")
            query_id = ids[0]
        presented = self.credentials.get(query_id)
        if not presented:
            raise InvalidInputError(f"the request has no credential query {query_id[:40]!r}; its ids: {', '.join(ids)}")
        return presented[0].disclosed

    def to_state(self) -> dict[str, Any]:
        """JSON-compatible state (without the verify function's own values)."""
        return {
            "request_id": self.request_id,
            "state": self.state,
            "client_id": self.client_id,
            "nonce": self.nonce,
            "purpose": self.purpose,
            "query": self.query.to_dict(),
            "credentials": {
                qid: [
                    {
                        "presentation": v.presentation,
                        "claims": dict(v.claims),
                        "disclosed": dict(v.disclosed),
                        "paths": [list(p) for p in v.paths],
                    }
                    for v in found
                ]
                for qid, found in self.credentials.items()
            },
            "error": self.error,
            "error_description": self.error_description,
        }

    @classmethod
    def from_state(cls, value: Mapping[str, Any]) -> PresentationResult:
        """The result :meth:`to_state` saved; each credential's ``verified`` is ``None``."""
        credentials = {
            str(qid): tuple(
                PresentedCredential(
                    query_id=str(qid),
                    presentation=str(v["presentation"]),
                    claims=v["claims"],
                    disclosed=v["disclosed"],
                    paths=tuple(tuple(p) for p in v["paths"]),
                    verified=None,
                )
                for v in found
            )
            for qid, found in (value.get("credentials") or {}).items()
        }
        return cls(
            request_id=str(value["request_id"]),
            state=str(value["state"]),
            client_id=str(value["client_id"]),
            nonce=str(value["nonce"]),
            purpose=value.get("purpose"),
            query=parse_dcql_query(value["query"]),
            credentials=credentials,
            error=value.get("error"),
            error_description=value.get("error_description"),
        )


class PresentationVerifyFn(Protocol):
    """Verifies one presentation (signature, issuer, expiry, status, key binding) and returns the
    result: an object with a ``claims`` mapping of processed claims, or that mapping itself. It may
    be a coroutine function. Wrap the credentials recipe (``verify_presentation``) with it."""

    def __call__(self, presentation: str, *, audience: str, nonce: str) -> Any: ...


# -- verifier -------------------------------------------------------------------------------------


class Verifier:
    """The verifier's OpenID4VP state machine (a third-party service).

    The service is identified by one Client Identifier Prefix (OpenID4VP §5.9.3):

    * ``decentralized_identifier`` (default with ``did``): its DID; ``signer``'s ``kid`` is a DID URL of it.
    * ``x509_hash`` (default with ``x5c``, HAIP 1.0): the SHA-256 of its certificate; requests carry
      the chain in ``x5c`` (leaf first, without the trust anchor) and are signed by the leaf's key.
    * ``x509_san_dns``: a DNS name of its certificate, the host of ``response_uri``.
    * ``redirect_uri``: the Response URI itself; requests are unsigned and passed by value (no
      wallet can authenticate such a verifier: use it only where that is acceptable).

    :param response_uri: where wallets POST the response (``direct_post`` or ``direct_post.jwt``).
    :param request_uri_base: request objects are served at ``<request_uri_base>/<request_id>``.
    :param store: short-lived state (requests, nonces, keys); see :class:`~vcsdk.oid4vc.StateStore`.
    :param verify: checks each presentation; see :class:`PresentationVerifyFn`.
    :param name: the service name shown to the resident (``client_metadata.client_name``).
    :param randomness: source of ``state``, ``nonce``, request ids, keys' ids and response codes.
    :param request_ttl: how long a request can be answered.
    :param registration: the service's registration the city signed (:mod:`vcsdk.registration`);
        attached to every request, and every request is checked against it before it is signed.
    :param response_mode: ``direct_post.jwt`` (HAIP 1.0) asks for responses encrypted to a fresh
        P-256 key of each request (ECDH-ES, ``A128GCM`` or ``A256GCM``).
    :param redirect_uri: for same-device flows: where the wallet sends the browser after the
        response, with a fresh ``response_code``; the result is then released only by
        :meth:`redeem` with that code and the request's ``transaction_id`` (OpenID4VP §13.3).
    :param request_uri_method: ``post`` lets the wallet POST its metadata and a ``wallet_nonce`` to
        the ``request_uri`` (§5.10); GET keeps working for wallets that do not.
    :raises InvalidInputError: for an inconsistent identity (kid, certificate, DNS name), URLs that
        are not https (plain http only for the loopback interface), or a malformed registration.
    """

    def __init__(
        self,
        *,
        response_uri: str,
        request_uri_base: str,
        store: StateStore,
        verify: PresentationVerifyFn,
        did: str | None = None,
        signer: Signer | None = None,
        x5c: Sequence[x509.Certificate] = (),
        client_id_prefix: str | None = None,
        name: str | None = None,
        randomness: Randomness = SYSTEM_RANDOMNESS,
        request_ttl: timedelta = timedelta(minutes=5),
        registration: str | None = None,
        response_mode: str = "direct_post",
        redirect_uri: str | None = None,
        request_uri_method: str = "get",
        result_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        if not is_https_url(response_uri) or not is_https_url(request_uri_base):
            raise InvalidInputError("response_uri and request_uri_base must be https URLs")
        if redirect_uri is not None and not is_https_url(redirect_uri):
            raise InvalidInputError("redirect_uri must be an https URL")
        if response_mode not in RESPONSE_MODES:
            raise InvalidInputError(f"response_mode is one of {', '.join(RESPONSE_MODES)}")
        if request_uri_method not in ("get", "post"):
            raise InvalidInputError("request_uri_method is get or post")
        prefix = client_id_prefix or ("decentralized_identifier" if did is not None else "x509_hash")
        if prefix not in CLIENT_ID_PREFIXES:
            raise InvalidInputError(f"client_id_prefix is one of {', '.join(CLIENT_ID_PREFIXES)}")
        self.did: str | None = None
        self._x5c: list[str] = []
        if prefix == "decentralized_identifier":
            kid = signer.kid if signer is not None else None
            if did is None or not isinstance(kid, str) or not kid.startswith(did + "#"):
                raise InvalidInputError("the signer's kid must be a DID URL of the verifier's DID (did#fragment)")
            self.did = did
            self.client_id = CLIENT_ID_PREFIX + did
        elif prefix in ("x509_hash", "x509_san_dns"):
            if not x5c or signer is None:
                raise InvalidInputError("an x509 client id needs the certificate chain (x5c) and its key's signer")
            leaf = x5c[0]
            if isinstance(signer, Key) and leaf_key(leaf).thumbprint() != signer.thumbprint():
                raise InvalidInputError("the signer's key is not the certificate's")
            self._x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in x5c]
            if prefix == "x509_hash":
                self.client_id = f"x509_hash:{certificate_hash(leaf)}"
            else:
                host = (urlsplit(response_uri).hostname or "").lower()
                if host not in dns_names(leaf):
                    raise InvalidInputError("the response_uri's host must be a DNS name of the certificate")
                self.client_id = f"x509_san_dns:{host}"
        else:
            self.client_id = f"redirect_uri:{response_uri}"
            signer = None
        self.client_id_prefix = prefix
        self._signer = signer
        self.response_uri = response_uri
        self.request_uri_base = request_uri_base.rstrip("/")
        self._store = store
        self._verify = verify
        self.name = name
        self._randomness = randomness
        self.request_ttl = request_ttl
        self.response_mode = response_mode
        self.redirect_uri = redirect_uri
        self.request_uri_method = request_uri_method
        self.result_ttl = result_ttl
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

    def _sign(self, request: AuthorizationRequest) -> str:
        assert self._signer is not None
        header = {"x5c": self._x5c} if self._x5c else None
        include_kid = self.client_id_prefix == "decentralized_identifier"
        claims = request.to_claims()
        return sign_jws(claims, self._signer, typ=REQUEST_OBJECT_TYP, header=header, include_kid=include_kid)

    async def create_request(
        self, dcql_query: DcqlQuery | Mapping[str, Any], *, purpose: str, now: datetime
    ) -> PresentationRequest:
        """Create (and sign) a request for the claims in ``dcql_query``, with a fresh nonce and state.

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
            check_request(self._registered, service_did=self.did or "", credentials=query.credentials, purpose=purpose)
        state = random_token(self._randomness)
        nonce = random_token(self._randomness)
        request_id = random_token(self._randomness)
        expires = now + self.request_ttl
        jwks: tuple[Mapping[str, Any], ...] = ()
        enc_key: dict[str, str] | None = None
        if self.response_mode == "direct_post.jwt":
            # HAIP 1.0 §5: an ephemeral key per request; its kid finds the request again.
            enc_key, public = encryption_key(random_token(self._randomness, 16))
            jwks = (public,)
        request = AuthorizationRequest(
            client_id=self.client_id,
            response_uri=self.response_uri,
            nonce=nonce,
            state=state,
            dcql_query=query,
            purpose=purpose,
            client_name=self.name,
            response_mode=self.response_mode,
            issued_at=int(now.timestamp()),
            expires_at=int(expires.timestamp()),
            registration=self.registration,
            jwks=jwks,
            encrypted_response_enc_values=ENCRYPTION_METHODS if jwks else (),
        )
        transaction_id = random_token(self._randomness) if self.redirect_uri is not None else None
        # A nonce is never handed out twice (OpenID4VP §5.2: fresh for every request).
        await self._store.put("vp_nonce", nonce, {"state": state}, expires_at=expires)
        await self._store.put(
            "vp_request",
            state,
            {
                "request_id": request_id,
                "nonce": nonce,
                "dcql_query": query.to_dict(),
                "purpose": purpose,
                "response_uri": self.response_uri,
                "transaction_id": transaction_id,
                "request": request.to_state(),
            },
            expires_at=expires,
        )
        if enc_key is not None:
            await self._store.put("vp_enc_key", enc_key["kid"], {"state": state, "jwk": enc_key}, expires_at=expires)
        if self._signer is None:  # redirect_uri: unsigned, passed by value in the link
            params = _by_value(request)
            return PresentationRequest(
                request_id=request_id, state=state, nonce=nonce, client_id=self.client_id, request_uri="",
                request_object="", expires_at=expires, transaction_id=transaction_id, parameters=params,
            )
        jwt = self._sign(request)
        await self._store.put("vp_request_object", request_id, {"jwt": jwt, "state": state}, expires_at=expires)
        return PresentationRequest(
            request_id=request_id,
            state=state,
            nonce=nonce,
            client_id=self.client_id,
            request_uri=f"{self.request_uri_base}/{request_id}",
            request_object=jwt,
            expires_at=expires,
            request_uri_method=self.request_uri_method,
            transaction_id=transaction_id,
        )

    async def request_object(
        self, request_id: str, *, now: datetime, form: Mapping[str, str] | None = None
    ) -> str:
        """The signed Request Object to serve at ``request_uri`` (``application/oauth-authz-req+jwt``).

        :param form: the body of a ``request_uri_method=post`` request (§5.10): its ``wallet_nonce``
            is signed into a fresh Request Object; ``wallet_metadata`` is read (an issuer in it
            becomes the ``aud``) and otherwise ignored.
        :raises ProtocolError: (``invalid_request``) if the request is unknown or expired, or the
            POST body is malformed; (``invalid_request_uri_method``) POST for a GET-only request.
        """
        entry = await self._store.get("vp_request_object", request_id, now=now)
        if entry is None:
            raise ProtocolError("unknown or expired request; ask the service for a new QR code", code="invalid_request")
        if form is None:
            return str(entry["jwt"])
        if self.request_uri_method != "post":
            raise ProtocolError("this request is fetched with GET", code="invalid_request_uri_method")
        wallet_nonce = form.get("wallet_nonce")
        if wallet_nonce is not None and (URL_SAFE.fullmatch(wallet_nonce) is None):
            raise ProtocolError("wallet_nonce must be URL-safe ASCII", code="invalid_request")
        audience = SELF_ISSUED_AUDIENCE
        raw_metadata = form.get("wallet_metadata")
        if raw_metadata is not None:
            try:
                metadata = parse_json(raw_metadata, what="wallet_metadata", max_bytes=32 * 1024)
            except InvalidInputError:
                raise ProtocolError("wallet_metadata is not valid JSON", code="invalid_request") from None
            if not isinstance(metadata, Mapping):
                raise ProtocolError("wallet_metadata must be a JSON object", code="invalid_request")
            issuer = metadata.get("issuer")
            if isinstance(issuer, str) and is_https_url(issuer):
                audience = issuer  # RFC 9101 §4 / OpenID4VP §5.8: the wallet's issuer is the audience
        record = await self._store.get("vp_request", str(entry["state"]), now=now)
        if record is None:
            raise ProtocolError("unknown or expired request; ask the service for a new QR code", code="invalid_request")
        saved = AuthorizationRequest.from_state(record["request"])
        request = replace(saved, wallet_nonce=wallet_nonce, audience=audience)
        return self._sign(request)

    async def handle_response(self, form: Mapping[str, str], *, now: datetime) -> PresentationResult:
        """Process an Authorization Response (the form the wallet POSTed): ``direct_post``, or
        ``direct_post.jwt`` (the form's ``response``, decrypted with the request's key).

        Nothing a third party can send consumes the request: it is consumed only once a response
        has passed every check, atomically, so a response is accepted at most once; a wallet's error
        answer is reported (``error``) but leaves the request answerable until it expires.
        :meth:`process_response` does the same but returns a failed check as a result (with its
        request id) instead of raising it.

        :raises ProtocolError: (``invalid_request``) for a missing, unknown or already answered
            ``state``, a response meant for another ``response_uri``, an encrypted response that is
            malformed, for another key, not decryptable, with an algorithm outside ``ECDH-ES`` /
            ``A128GCM`` / ``A256GCM`` or compressed (``zip``), a plain response where an encrypted
            one was asked for, a malformed ``vp_token``, or one that does not answer the DCQL query.
        :raises KeyBindingMissingError: a presentation lacks the Key Binding JWT.
        :raises NonceMismatchError: a presentation is bound to another request's nonce.
        :raises AudienceMismatchError: a presentation is bound to another verifier.
        :raises ClaimsError: a presentation lacks a requested claim or has the wrong type (``vct``).
        :raises DisclosureError: a presentation discloses claims that were not requested.
        :raises IssuerNotAccreditedError: the issuer is none of the query's ``trusted_authorities``.
        :raises VerificationError: whatever the injected verify function raises.
        :return: the verified claims per credential query (with a ``response_code`` when the
            verifier redirects), or the wallet's error.
        """
        result = await self.process_response(form, now=now)
        if result.failure is not None:
            raise result.failure
        return result

    async def process_response(self, form: Mapping[str, str], *, now: datetime) -> PresentationResult:
        """Like :meth:`handle_response`, but once the response is matched to a pending request, a
        failed check comes back as a result: ``failure`` is the error (``error`` its code), so the
        service can tell the person at the counter why (``credential_revoked``, ``token_expired``, …).
        The request stays answerable, as with :meth:`handle_response`.

        :raises ProtocolError: (``invalid_request``) for a response that names no pending request
            (missing, unknown or answered ``state``, an undecryptable response): nothing to report
            the failure for.
        :return: the verified claims, the wallet's error, or the failed check.
        """
        params, record = await self._open(form, now)
        state = str(params["state"])
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
        try:
            early = await self._check_response(params, query, nonce, base)
        except VcsdkError as exc:
            return PresentationResult(**base, error=exc.code, error_description=exc.message[:300], failure=exc)
        if isinstance(early, PresentationResult):
            return early  # the wallet's error answer
        verified = early
        # Every check passed: now the request is consumed, atomically (a racing copy finds it gone).
        if await self._store.take("vp_request", state, now=now) is None:
            raise ProtocolError("the response answers an already answered request", code="invalid_request")
        result = PresentationResult(**base, credentials=verified)
        transaction_id = record.get("transaction_id")
        if self.redirect_uri is not None and isinstance(transaction_id, str):
            code = random_token(self._randomness)
            await self._store.put(
                "vp_result",
                transaction_id,
                {"response_code": code, "result": result.to_state()},
                expires_at=now + self.result_ttl,
            )
            result = replace(result, response_code=code)
        return result

    async def _check_response(
        self, params: Mapping[str, Any], query: DcqlQuery, nonce: str, base: dict[str, Any]
    ) -> PresentationResult | dict[str, tuple[PresentedCredential, ...]]:
        """The wallet's error answer as a result, or every presentation checked (raises on a failure)."""
        if "error" in params:
            code = params["error"]
            if not isinstance(code, str) or URL_SAFE.fullmatch(code) is None:
                raise ProtocolError("the error response carries an invalid error code", code="invalid_request")
            desc = params.get("error_description")
            desc = desc[:300] if isinstance(desc, str) and desc else None
            return PresentationResult(**base, error=code, error_description=desc)
        token = _parse_vp_token(params.get("vp_token"), query)
        verified: dict[str, tuple[PresentedCredential, ...]] = {}
        for qid, presentations in token.items():
            cq = query.credential(qid)
            verified[qid] = tuple([await self._check_one(cq, p, nonce) for p in presentations])
        return verified

    async def _open(self, form: Mapping[str, str], now: datetime) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """The response parameters (decrypted for ``direct_post.jwt``) and the request they answer."""
        if "response" in form:
            header = peek_jwe_header(form["response"])
            kid = header.get("kid")
            entry = await self._store.get("vp_enc_key", kid, now=now) if isinstance(kid, str) else None
            if entry is None:
                raise ProtocolError("the encrypted response names no key of a pending request", code="invalid_request")
            params: Mapping[str, Any] = decrypt_response(form["response"], entry["jwk"])
            if params.get("state") != entry["state"]:
                raise ProtocolError("the encrypted response's state is not its request's", code="invalid_request")
        else:
            params = form
        state = params.get("state")
        if not isinstance(state, str) or URL_SAFE.fullmatch(state) is None:
            raise ProtocolError("the response has no valid state parameter", code="invalid_request")
        record = await self._store.get("vp_request", state, now=now)
        if record is None:
            raise ProtocolError(
                "the response answers an unknown, expired or already answered request", code="invalid_request"
            )
        if record.get("response_uri", self.response_uri) != self.response_uri:
            raise ProtocolError("the response was sent to another response_uri than its request's",
                                code="invalid_request")
        wanted = record["request"].get("response_mode", "direct_post") if "request" in record else "direct_post"
        if wanted == "direct_post.jwt" and "response" not in form and "error" not in params:
            # §8.3.1: a wallet that cannot encrypt may send an error unencrypted, never presentations.
            raise ProtocolError("this request asked for an encrypted response (direct_post.jwt)",
                                code="invalid_request")
        return params, record

    async def redeem(self, transaction_id: str, response_code: str, *, now: datetime) -> PresentationResult:
        """The result of a same-device request, for the session that started it (OpenID4VP §13.3):
        the ``transaction_id`` it kept and the ``response_code`` the wallet's redirect brought back.

        Single use, and a wrong code burns the result (so codes cannot be guessed). The result's
        ``verified`` values are not kept between the two calls; its claims are.

        :raises ProtocolError: (``invalid_request``) for an unknown transaction, a result not there
            yet or already redeemed, or another response code.
        """
        record = await self._store.take("vp_result", transaction_id, now=now) if transaction_id else None
        if record is None:
            raise ProtocolError("no result for this transaction (not answered yet, or already redeemed)",
                                code="invalid_request")
        if not isinstance(response_code, str) or not hmac.compare_digest(
            response_code.encode(), str(record["response_code"]).encode()
        ):
            raise ProtocolError("the response_code is not this transaction's; start again", code="invalid_request")
        return PresentationResult.from_state(record["result"])

    async def _check_one(self, cq: CredentialQuery, presentation: str, nonce: str) -> PresentedCredential:
        # Parsed once: the view, the issuer's x5c and the verify callback (whose verify_presentation
        # takes the parse from the text) all read this one parse.
        if not isinstance(presentation, str) or "~" not in presentation:
            raise InvalidTokenError("an SD-JWT presentation has the form <jwt>~<disclosures>~<kb-jwt>")
        text = SdJwtText.of(presentation)
        view = view_sd_jwt(text)
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
        if cq.trusted_authorities is not None:
            # §6.1.1: the issuer must be one the query trusts (the aki of its x5c chain).
            if not trusted_by(cq.trusted_authorities, _issuer_akis(text.parsed.header)):
                raise IssuerNotAccreditedError("the credential's issuer is none of the requested trusted authorities")
        result = self._verify(text, audience=self.client_id, nonce=nonce)
        if inspect.isawaitable(result):
            result = await result
        claims = _claims_of(result)
        candidate = CandidateCredential(
            ref=cq.id,
            format=cq.format,
            vct=_str_or_none(claims.get("vct")),
            claims=claims,
            holder_binding=kb is not None,
            authority_key_ids=_issuer_akis(text.parsed.header) if cq.trusted_authorities is not None else frozenset(),
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
        return PresentedCredential(
            query_id=cq.id,
            presentation=presentation,
            claims=claims,
            disclosed=_project(claims, match.concrete_paths),
            paths=match.paths,
            verified=result,
        )


def _by_value(request: AuthorizationRequest) -> dict[str, str]:
    """An unsigned request's parameters for the link (``redirect_uri:`` prefix, OpenID4VP §5.9.3)."""
    claims = request.to_claims()
    out: dict[str, str] = {}
    for name, value in claims.items():
        if name in ("iss", "aud", "iat", "exp"):
            continue
        out[name] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return out


def _issuer_akis(header: Mapping[str, Any]) -> frozenset[str]:
    """The Authority Key Identifiers of the issuer's ``x5c`` chain in an SD-JWT's header (none without)."""
    try:
        x5c = header.get("x5c")
        return frozenset(authority_key_ids(parse_x5c(x5c))) if x5c is not None else frozenset()
    except VcsdkError:
        return frozenset()


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
    if isinstance(raw, Mapping):  # inside an encrypted response the vp_token is a JSON object already
        value: Any = dict(raw)
    elif isinstance(raw, str):
        try:
            value = parse_json(raw, what="vp_token", max_bytes=2_000_000)
        except InvalidInputError as exc:
            raise ProtocolError("vp_token is not valid JSON", code="invalid_request") from exc
    else:
        raise ProtocolError("the response has no vp_token", code="invalid_request")
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

