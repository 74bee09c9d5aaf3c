"""The holder's state machines: receiving a credential (OpenID4VCI) and presenting one (OpenID4VP).

Both are written for a holder key that signs *elsewhere and later* — a phone's secure enclave
behind a wallet backend — and both are plain values that serialise to JSON, so a server can store
them between the phone's calls:

* issuance in two phases: :func:`prepare_issuance` (metadata → token → nonce, then the key proofs'
  signing inputs) → the phone signs → :func:`finish_issuance` (the Credential Request);
  :func:`renew_issuance` fetches a fresh ``c_nonce`` when the issuer refused a stale one.
  :func:`receive_credential` strings the phases together for a key that signs at once.
* presentation: :meth:`HolderPresentation.start` (the verified request and the wallet's DCQL
  match: the consent screen) → :meth:`~HolderPresentation.consent` (the resident's choice: the
  presentations' Key Binding JWT signing inputs) → the phone signs →
  :meth:`~HolderPresentation.finish` (the Authorization Response to send), or
  :meth:`~HolderPresentation.decline`.

Nothing here performs I/O: the issuance flows yield the :class:`HttpRequest` they need, like httpx
auth flows; the presentation's steps are methods returning the next state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from vcsdk.credentials import PendingPresentation, finish_presentation, prepare_presentation
from vcsdk.errors import InvalidInputError, KeyBindingError, ProtocolError
from vcsdk.keys import Signer
from vcsdk.oid4vc._common import Flow, HttpRequest, is_https_url, raise_for_error
from vcsdk.oid4vc._dcql import CandidateCredential, ClaimPath, ConcretePath, match_dcql
from vcsdk.oid4vc._vci_messages import (
    CredentialOffer,
    IssuedCredentials,
    parse_credential_offer,
    parse_credential_offer_uri,
    well_known_url,
)
from vcsdk.oid4vc._vp_messages import AuthorizationRequest, AuthorizationRequestReference
from vcsdk.oid4vc._wallet import (
    ConsentCredential,
    ConsentScreen,
    build_authorization_response,
    build_credential_request,
    build_error_response,
    build_token_request,
    check_proof_signature,
    key_proof_signing_input,
    nonce_request,
    parse_credential_response,
    parse_nonce_response,
    parse_token_response,
    request_object_request,
)

__all__ = [
    "HolderPresentation",
    "PendingIssuance",
    "PreparedPresentation",
    "fetch_credential_offer",
    "fetch_request_object",
    "finish_issuance",
    "prepare_issuance",
    "receive_credential",
    "renew_issuance",
]

MAX_OFFER_BYTES = 64 * 1024


def _err(message: str) -> ProtocolError:
    return ProtocolError(message, code="invalid_response")


# -- issuance -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingIssuance:
    """An issuance waiting for the device's key-proof signatures (two-phase issuance).

    Send :attr:`signing_inputs` to the device; it signs each with the key whose public JWK is at the
    same position in :attr:`jwks` (ES256: raw ``R || S``), and the signatures go to
    :func:`finish_issuance`. :meth:`to_state` / :meth:`from_state` keep it between two requests; the
    state holds the issuer's access token, so store it as a secret.
    """

    credential_issuer: str
    configuration_id: str
    credential_endpoint: str
    nonce_endpoint: str
    notification_endpoint: str | None
    access_token: str = field(repr=False)
    jwks: tuple[Mapping[str, str], ...]
    signing_inputs: tuple[bytes, ...]
    alg: str = "ES256"

    def to_state(self) -> dict[str, Any]:
        """JSON-compatible state."""
        return {
            "credential_issuer": self.credential_issuer,
            "configuration_id": self.configuration_id,
            "credential_endpoint": self.credential_endpoint,
            "nonce_endpoint": self.nonce_endpoint,
            "notification_endpoint": self.notification_endpoint,
            "access_token": self.access_token,
            "jwks": [dict(j) for j in self.jwks],
            "signing_inputs": [s.decode("ascii") for s in self.signing_inputs],
            "alg": self.alg,
        }

    @classmethod
    def from_state(cls, value: Mapping[str, Any]) -> PendingIssuance:
        """The issuance :meth:`to_state` saved.

        :raises InvalidInputError: if the state is not one this class wrote.
        """
        try:
            return cls(
                credential_issuer=str(value["credential_issuer"]),
                configuration_id=str(value["configuration_id"]),
                credential_endpoint=str(value["credential_endpoint"]),
                nonce_endpoint=str(value["nonce_endpoint"]),
                notification_endpoint=value.get("notification_endpoint"),
                access_token=str(value["access_token"]),
                jwks=tuple(dict(j) for j in value["jwks"]),
                signing_inputs=tuple(str(s).encode("ascii") for s in value["signing_inputs"]),
                alg=str(value.get("alg", "ES256")),
            )
        except (KeyError, TypeError, ValueError, UnicodeEncodeError) as exc:
            raise InvalidInputError("the saved issuance state is not readable") from exc

    def __repr__(self) -> str:
        return (
            f"PendingIssuance({self.credential_issuer!r}, {self.configuration_id!r}, "
            f"keys={len(self.jwks)}, access_token=…)"
        )


def fetch_credential_offer(uri: str) -> Flow[CredentialOffer]:
    """Read an ``openid-credential-offer://`` link: the offer by value, or GET it by reference.

    :raises ProtocolError: (``invalid_request``) a malformed link or offer; the issuer's error when
        the fetch fails.
    :return: (as the generator's value) the offer.
    """
    parsed = parse_credential_offer_uri(uri)
    if isinstance(parsed, CredentialOffer):
        return parsed
    response = yield HttpRequest("GET", parsed, {"Accept": "application/json"})
    raise_for_error(response, what="credential offer")
    if len(response.body) > MAX_OFFER_BYTES:
        raise ProtocolError("the credential offer is too large", code="invalid_request")
    return parse_credential_offer(response.json_object(what="credential offer"))


@dataclass(frozen=True, slots=True)
class _IssuerEndpoints:
    credential_endpoint: str
    nonce_endpoint: str
    notification_endpoint: str | None
    token_endpoint: str


def _discover(offer: CredentialOffer, config_id: str, keys: int) -> Flow[_IssuerEndpoints]:
    response = yield HttpRequest("GET", well_known_url(offer.credential_issuer, "openid-credential-issuer"))
    raise_for_error(response, what="issuer metadata")
    meta = response.json_object(what="issuer metadata")
    if meta.get("credential_issuer") != offer.credential_issuer:
        raise _err("the metadata's credential_issuer differs from the offer's")
    configs = meta.get("credential_configurations_supported")
    if not isinstance(configs, Mapping) or config_id not in configs:
        raise _err("the issuer's metadata does not describe the offered credential")
    batch = meta.get("batch_credential_issuance")
    limit = batch.get("batch_size", 1) if isinstance(batch, Mapping) else 1
    if keys > max(1, limit if isinstance(limit, int) else 1):
        raise InvalidInputError("the issuer does not accept that many keys in one request")
    servers = meta.get("authorization_servers")
    as_id = (
        servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], str) else offer.credential_issuer
    )
    response = yield HttpRequest("GET", well_known_url(as_id, "oauth-authorization-server"))
    raise_for_error(response, what="authorization server metadata")
    as_meta = response.json_object(what="authorization server metadata")
    token_endpoint = as_meta.get("token_endpoint")
    credential_endpoint = meta.get("credential_endpoint")
    nonce_endpoint = meta.get("nonce_endpoint")
    if not (is_https_url(token_endpoint) and is_https_url(credential_endpoint) and is_https_url(nonce_endpoint)):
        raise _err("the metadata lacks an https token, credential or nonce endpoint")
    notification = meta.get("notification_endpoint")
    return _IssuerEndpoints(
        str(credential_endpoint),
        str(nonce_endpoint),
        str(notification) if is_https_url(notification) else None,
        str(token_endpoint),
    )


def _signing_inputs(
    jwks: Sequence[Mapping[str, str]], *, audience: str, nonce: str, now: datetime, alg: str
) -> tuple[bytes, ...]:
    return tuple(key_proof_signing_input(j, audience=audience, nonce=nonce, now=now, alg=alg) for j in jwks)


def prepare_issuance(
    offer: CredentialOffer,
    *,
    tx_code: str | None,
    jwks: Sequence[Mapping[str, str]],
    now: Callable[[], datetime],
    configuration_id: str | None = None,
    alg: str = "ES256",
) -> Flow[PendingIssuance]:
    """Phase one of issuance: issuer metadata → token (Pre-Authorized Code) → ``c_nonce``, then the
    key proofs' signing inputs for the device keys, I/O-free.

    Drive it like an httpx auth flow (``request = next(flow)``, then ``flow.send(response)``);
    :func:`vcsdk.oid4vc.run_flow` does that over aiohttp.

    :param jwks: the device keys' public JWKs; several make a batch request (one credential per key).
    :param now: the clock, read when the signing inputs are made.
    :raises InvalidInputError: no keys, a configuration the offer does not include, more keys than
        the issuer's batch size, a Transaction Code missing, unexpected or malformed.
    :raises ProtocolError: with the issuer's error code (``invalid_grant`` for a wrong Transaction
        Code or a used offer), or ``invalid_response`` for a bad answer.
    :return: (as the generator's value) the pending issuance.
    """
    if not jwks:
        raise InvalidInputError("at least one device key is needed")
    config_id = configuration_id or offer.credential_configuration_ids[0]
    if config_id not in offer.credential_configuration_ids:
        raise InvalidInputError("the offer does not include that credential configuration")
    form = build_token_request(offer, tx_code=tx_code)
    endpoints = yield from _discover(offer, config_id, len(jwks))
    token = parse_token_response((yield HttpRequest.form(endpoints.token_endpoint, form)))
    c_nonce = parse_nonce_response((yield nonce_request(endpoints.nonce_endpoint)))
    return PendingIssuance(
        credential_issuer=offer.credential_issuer,
        configuration_id=config_id,
        credential_endpoint=endpoints.credential_endpoint,
        nonce_endpoint=endpoints.nonce_endpoint,
        notification_endpoint=endpoints.notification_endpoint,
        access_token=token.access_token,
        jwks=tuple(dict(j) for j in jwks),
        signing_inputs=_signing_inputs(jwks, audience=offer.credential_issuer, nonce=c_nonce, now=now(), alg=alg),
        alg=alg,
    )


def renew_issuance(pending: PendingIssuance, *, now: Callable[[], datetime]) -> Flow[PendingIssuance]:
    """A fresh ``c_nonce`` and new signing inputs for a pending issuance (the device lost the input,
    or the issuer answered ``invalid_nonce``).

    :raises ProtocolError: the issuer's error code, or ``invalid_response``.
    :return: (as the generator's value) the pending issuance with new signing inputs.
    """
    c_nonce = parse_nonce_response((yield nonce_request(pending.nonce_endpoint)))
    inputs = _signing_inputs(
        pending.jwks, audience=pending.credential_issuer, nonce=c_nonce, now=now(), alg=pending.alg
    )
    return replace(pending, signing_inputs=inputs)


def finish_issuance(pending: PendingIssuance, signatures: Sequence[bytes]) -> Flow[IssuedCredentials]:
    """Phase two of issuance: attach the device's signatures to the key proofs and send the
    Credential Request.

    Each signature is checked against its device key first, so a wrong key or a damaged signature
    is caught here (nothing is sent) rather than as the issuer's ``invalid_proof``.

    :param signatures: one raw signature per signing input, in the same order.
    :raises SignatureInvalidError: a signature does not verify with its device key.
    :raises InvalidInputError: not one signature per signing input.
    :raises ProtocolError: the issuer's error code (``invalid_nonce``: :func:`renew_issuance` and
        sign again), or ``invalid_response`` for a bad answer.
    :return: (as the generator's value) the credentials, with what the notification needs.
    """
    if len(signatures) != len(pending.signing_inputs):
        raise InvalidInputError("one signature is needed per signing input")
    proofs = [
        check_proof_signature(signing_input, bytes(signature), jwk)
        for signing_input, signature, jwk in zip(pending.signing_inputs, signatures, pending.jwks, strict=True)
    ]
    body = build_credential_request(pending.configuration_id, proofs)
    headers = {"Authorization": f"Bearer {pending.access_token}"}
    response = yield HttpRequest.json(pending.credential_endpoint, body, headers=headers)
    credentials, notification_id = parse_credential_response(response, max_credentials=len(proofs))
    return IssuedCredentials(
        credentials,
        notification_id,
        pending.configuration_id,
        pending.access_token,
        pending.notification_endpoint,
    )


def receive_credential(
    offer: CredentialOffer,
    *,
    tx_code: str | None,
    signers: Sequence[Signer],
    now: Callable[[], datetime],
    jwks: Sequence[Mapping[str, str]] | None = None,
    configuration_id: str | None = None,
) -> Flow[IssuedCredentials]:
    """The whole issuance for keys that sign at once: :func:`prepare_issuance`, sign, :func:`finish_issuance`.

    :param signers: one per device key; several make a batch request (one credential per key).
    :param jwks: the public JWKs, needed when a signer is not a :class:`~vcsdk.keys.Key`.
    :param now: the clock, read when the proofs are made.
    :raises ProtocolError: with the issuer's error code, or ``invalid_response`` for a bad answer.
    :return: (as the generator's value) the issued credentials, with the access token for the
        notification.
    """
    if not signers:
        raise InvalidInputError("at least one device key is needed")
    if jwks is None:
        publics: list[Mapping[str, str]] = []
        for signer in signers:
            public_jwk = getattr(signer, "public_jwk", None)
            if not callable(public_jwk):
                raise InvalidInputError("pass the device's public JWK for a signer that is not a Key")
            publics.append(public_jwk())
        jwks = publics
    if len(jwks) != len(signers):
        raise InvalidInputError("pass one public JWK per signer")
    algs = {s.alg for s in signers}
    if len(algs) != 1:
        raise InvalidInputError("all device keys of one request must use the same algorithm")
    pending = yield from prepare_issuance(
        offer, tx_code=tx_code, jwks=jwks, now=now, configuration_id=configuration_id, alg=algs.pop()
    )
    signatures = [s.sign(i) for s, i in zip(signers, pending.signing_inputs, strict=True)]
    return (yield from finish_issuance(pending, signatures))


# -- presentation ---------------------------------------------------------------------------------


def fetch_request_object(reference: AuthorizationRequestReference) -> Flow[str]:
    """The Request Object behind a request link: passed by value, or fetched from ``request_uri``
    (RFC 9101 §5.2; a ``post``-method request falls back to GET, which OpenID4VP §5 allows).

    :raises ProtocolError: the verifier's error when the fetch fails.
    :return: (as the generator's value) the Request Object JWT, not yet verified.
    """
    if reference.request is not None:
        return reference.request
    response = yield request_object_request(reference)
    raise_for_error(response, what="request object")
    return response.body.decode("ascii", errors="replace").strip()


@dataclass(frozen=True, slots=True)
class PreparedPresentation:
    """One presentation of a consented credential, waiting for the Key Binding JWT signature.

    :ivar claims: the requested claims path pointers it discloses (what the resident consented to).
    """

    query_id: str
    ref: str
    claims: tuple[ClaimPath, ...]
    pending: PendingPresentation

    @property
    def signing_input(self) -> bytes:
        """What the device signs with the credential's holder key."""
        return self.pending.signing_input


HolderPresentationState = Literal["consent_required", "signature_required"]


def _path(value: Any) -> ClaimPath:
    if isinstance(value, str):  # a path saved as its consent-record name ("address.locality", "*")
        return tuple(None if p == "*" else p for p in value.split("."))
    return tuple(value)


def _option_state(option: ConsentCredential) -> dict[str, Any]:
    return {
        "credential_id": option.ref,
        "claims": [list(p) for p in option.claims],
        "concrete": [list(p) for p in option.concrete_claims],
    }


def _option_of(query_id: str, value: Mapping[str, Any]) -> ConsentCredential:
    concrete: tuple[ConcretePath, ...] = tuple(tuple(p) for p in value.get("concrete", ()))
    return ConsentCredential(
        query_id=query_id,
        ref=str(value["credential_id"]),
        claims=tuple(_path(p) for p in value.get("claims", ())),
        concrete_claims=concrete,
    )


@dataclass(frozen=True, slots=True)
class HolderPresentation:
    """The holder's side of one OpenID4VP request, from consent screen to Authorization Response.

    A value: each step returns the next state, and :meth:`to_state` / :meth:`from_state` keep it
    between the phone's calls. Make one with :meth:`start` from a request that
    :func:`~vcsdk.oid4vc.load_request_object` verified.

    :ivar options: for each credential query the wallet can answer, every credential that can (the
        default first), with exactly the claims each would disclose.
    :ivar selected: the credential queries to answer; ``None`` if the wallet cannot satisfy the request.
    :ivar prepared: after consent, the presentations waiting for their Key Binding JWT signatures.
    """

    request: AuthorizationRequest
    options: Mapping[str, tuple[ConsentCredential, ...]]
    selected: tuple[str, ...] | None
    prepared: tuple[PreparedPresentation, ...] = ()

    @classmethod
    def start(cls, request: AuthorizationRequest, candidates: Sequence[CandidateCredential]) -> HolderPresentation:
        """Match the request's DCQL query against the wallet's credentials (OpenID4VP §6.4).

        :param request: the verified request.
        :param candidates: the credentials the wallet holds, as matching sees them.
        :return: the presentation waiting for consent (:attr:`satisfiable` false if nothing the
            wallet holds answers it: :meth:`decline` it then).
        """
        match = match_dcql(request.dcql_query, candidates)
        options = {qid: tuple(ConsentCredential.of(m) for m in ms) for qid, ms in match.matches.items() if ms}
        return cls(request, options, match.selected_query_ids)

    @property
    def state(self) -> HolderPresentationState:
        return "signature_required" if self.prepared else "consent_required"

    @property
    def satisfiable(self) -> bool:
        return self.selected is not None

    @property
    def consent_screen(self) -> ConsentScreen:
        """Who asks, why, and exactly what would be shared (:func:`~vcsdk.oid4vc.build_consent`).

        :raises ProtocolError: (``access_denied``) if the wallet cannot satisfy the request.
        """
        if self.selected is None:
            raise ProtocolError("the wallet holds no credentials that satisfy the request", code="access_denied")
        default = tuple(self.options[qid][0] for qid in self.selected)
        return ConsentScreen(
            service_did=self.request.verifier_did,
            service_name=self.request.client_name,
            purpose=self.request.purpose,
            response_uri=self.request.response_uri,
            credentials=default,
            options={qid: self.options[qid] for qid in self.selected},
        )

    def consent(
        self,
        credentials: Mapping[str, str],
        *,
        now: datetime,
        selections: Mapping[str, str] | None = None,
        alg: str = "ES256",
    ) -> HolderPresentation:
        """The resident consents: prepare each presentation (only the consented Disclosures) and its
        Key Binding JWT, bound to the verifier's Client Identifier and nonce.

        :param credentials: the chosen credentials as issued, by wallet reference (the
            :attr:`~ConsentCredential.ref` of each chosen option).
        :param selections: query id → credential ref, to pick another offered credential for a
            query; the others take the default.
        :raises ProtocolError: (``access_denied``) the wallet cannot satisfy the request.
        :raises InvalidInputError: not waiting for consent, a selection that was not offered, a
            chosen credential missing from ``credentials``.
        :return: the presentation waiting for signatures (:attr:`prepared`).
        """
        if self.prepared:
            raise InvalidInputError("consent was already given; sign the prepared presentations")
        prepared = []
        for option in self.consent_screen.choose(selections):
            sd_jwt = credentials.get(option.ref)
            if sd_jwt is None:
                raise InvalidInputError("a chosen credential was not passed in")
            pending = prepare_presentation(
                sd_jwt,
                disclose=list(option.concrete_claims),
                audience=self.request.client_id,
                nonce=self.request.nonce,
                now=now,
                alg=alg,
            )
            prepared.append(PreparedPresentation(option.query_id, option.ref, option.claims, pending))
        return replace(self, prepared=tuple(prepared))

    def finish(self, signatures: Mapping[str, bytes]) -> tuple[dict[str, str], HttpRequest]:
        """Attach the Key Binding JWT signatures and build the Authorization Response.

        :param signatures: query id → raw signature over that presentation's signing input, made
            with the credential's holder key.
        :raises KeyBindingError: a signature is missing or does not verify with the credential's key.
        :raises InvalidInputError: not waiting for signatures.
        :return: the presentations by query id, and the POST to send to the ``response_uri``.
        """
        if not self.prepared:
            raise InvalidInputError("no presentation is waiting for a signature; consent first")
        presentations: dict[str, str] = {}
        for item in self.prepared:
            signature = signatures.get(item.query_id)
            if not isinstance(signature, bytes | bytearray):
                raise KeyBindingError("a signature is missing for a requested credential")
            presentations[item.query_id] = finish_presentation(item.pending, bytes(signature))
        return presentations, build_authorization_response(self.request, presentations)

    def decline(self, *, error: str = "access_denied") -> HttpRequest:
        """The resident says no: the error response to send to the ``response_uri`` (OpenID4VP §8.5)."""
        return build_error_response(self.request, error=error)

    # -- state

    def to_state(self) -> dict[str, Any]:
        """JSON-compatible state (it holds the prepared presentations: store it as the resident's data)."""
        return {
            "request": self.request.to_state(),
            "service_did": self.request.verifier_did,
            "options": {qid: [_option_state(o) for o in opts] for qid, opts in self.options.items()},
            "selected": list(self.selected) if self.selected is not None else None,
            "pending": [
                {
                    "query_id": p.query_id,
                    "credential_id": p.ref,
                    "claims": [list(c) for c in p.claims],
                    "presentation": p.pending.presentation,
                    "signing_input": p.pending.signing_input.decode("ascii"),
                }
                for p in self.prepared
            ],
        }

    @classmethod
    def from_state(cls, value: Mapping[str, Any]) -> HolderPresentation:
        """The presentation :meth:`to_state` saved.

        :raises InvalidInputError: if the state is not one this class wrote.
        """
        try:
            options = {
                str(qid): tuple(_option_of(str(qid), o) for o in opts) for qid, opts in value["options"].items()
            }
            selected = value.get("selected")
            prepared = tuple(
                PreparedPresentation(
                    query_id=str(p["query_id"]),
                    ref=str(p["credential_id"]),
                    claims=tuple(_path(c) for c in p.get("claims", ())),
                    pending=PendingPresentation(str(p["presentation"]), str(p["signing_input"]).encode("ascii")),
                )
                for p in value.get("pending") or ()
            )
            return cls(
                AuthorizationRequest.from_state(value["request"]),
                options,
                tuple(str(q) for q in selected) if selected is not None else None,
                prepared,
            )
        except (KeyError, TypeError, ValueError, AttributeError, UnicodeEncodeError) as exc:
            raise InvalidInputError("the saved presentation state is not readable") from exc
