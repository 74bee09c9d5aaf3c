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

import json
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from vcsdk.credentials import PendingPresentation, finish_presentation, prepare_presentation
from vcsdk.errors import InvalidInputError, KeyBindingError, ProtocolError, VcsdkError
from vcsdk.keys import Key, Signer
from vcsdk.oid4vc._authorization import pkce_challenge
from vcsdk.oid4vc._client_attestation import ClientAttestation
from vcsdk.oid4vc._common import (
    SYSTEM_RANDOMNESS,
    URL_SAFE,
    Flow,
    HttpRequest,
    HttpResponse,
    Randomness,
    is_https_url,
    raise_for_error,
    random_token,
)
from vcsdk.oid4vc._dcql import CandidateCredential, ClaimPath, ConcretePath, match_dcql
from vcsdk.oid4vc._dpop import create_dpop_proof
from vcsdk.oid4vc._vci_messages import (
    AUTHORIZATION_CODE_GRANT,
    NOTIFICATION_EVENTS,
    OPENID_CREDENTIAL,
    REFRESH_TOKEN_GRANT,
    CredentialOffer,
    IssuedCredentials,
    TokenResponse,
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
    "IssuerSession",
    "PendingAuthorization",
    "PendingIssuance",
    "PreparedPresentation",
    "fetch_credential_offer",
    "fetch_deferred_credentials",
    "fetch_request_object",
    "finish_authorization",
    "finish_issuance",
    "notify_issuer",
    "prepare_issuance",
    "receive_credential",
    "refresh_issuance",
    "renew_issuance",
    "start_authorization",
]

MAX_OFFER_BYTES = 64 * 1024


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _err(message: str) -> ProtocolError:
    return ProtocolError(message, code="invalid_response")


# -- issuance -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuerSession:
    """What the wallet knows about one issuer and its grant: endpoints, tokens, the DPoP key.

    Shared by every step after the Token Response (credential, deferred, notification, refresh);
    it holds the access and refresh tokens and the DPoP private key, so store it as a secret.
    """

    credential_issuer: str
    token_endpoint: str
    credential_endpoint: str
    nonce_endpoint: str
    notification_endpoint: str | None = None
    deferred_endpoint: str | None = None
    as_issuer: str | None = None
    access_token: str = field(default="", repr=False)
    token_type: str = "Bearer"  # noqa: S105 - a token type name, not a secret
    refresh_token: str | None = field(default=None, repr=False)
    dpop_key: Mapping[str, str] | None = field(default=None, repr=False)
    dpop_nonce: str | None = None
    client_id: str | None = None
    credential_identifiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: configuration id -> the ``vct`` the issuer's metadata announces for it (checked on receipt)
    vcts: Mapping[str, str] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        return {
            "vcts": dict(self.vcts),
            "credential_issuer": self.credential_issuer,
            "token_endpoint": self.token_endpoint,
            "credential_endpoint": self.credential_endpoint,
            "nonce_endpoint": self.nonce_endpoint,
            "notification_endpoint": self.notification_endpoint,
            "deferred_endpoint": self.deferred_endpoint,
            "as_issuer": self.as_issuer,
            "access_token": self.access_token,
            "token_type": self.token_type,
            "refresh_token": self.refresh_token,
            "dpop_key": dict(self.dpop_key) if self.dpop_key is not None else None,
            "dpop_nonce": self.dpop_nonce,
            "client_id": self.client_id,
            "credential_identifiers": {k: list(v) for k, v in self.credential_identifiers.items()},
        }

    @classmethod
    def from_state(cls, value: Mapping[str, Any]) -> IssuerSession:
        ids = value.get("credential_identifiers") or {}
        return cls(
            credential_issuer=str(value["credential_issuer"]),
            token_endpoint=str(value.get("token_endpoint") or ""),
            credential_endpoint=str(value["credential_endpoint"]),
            nonce_endpoint=str(value["nonce_endpoint"]),
            notification_endpoint=value.get("notification_endpoint"),
            deferred_endpoint=value.get("deferred_endpoint"),
            as_issuer=value.get("as_issuer"),
            access_token=str(value.get("access_token") or ""),
            token_type=str(value.get("token_type") or "Bearer"),
            refresh_token=value.get("refresh_token"),
            dpop_key=dict(value["dpop_key"]) if value.get("dpop_key") else None,
            dpop_nonce=value.get("dpop_nonce"),
            client_id=value.get("client_id"),
            credential_identifiers={str(k): tuple(str(i) for i in v) for k, v in ids.items()},
            vcts={str(k): str(v) for k, v in (value.get("vcts") or {}).items()},
        )

    def _key(self) -> Key | None:
        return Key.from_jwk(dict(self.dpop_key)) if self.dpop_key is not None else None


@dataclass(frozen=True, slots=True)
class PendingIssuance:
    """An issuance waiting for the device's key-proof signatures (two-phase issuance).

    Send :attr:`signing_inputs` to the device; it signs each with the key whose public JWK is at the
    same position in :attr:`jwks` (ES256: raw ``R || S``), and the signatures go to
    :func:`finish_issuance`. :meth:`to_state` / :meth:`from_state` keep it between two requests; the
    state holds the issuer's tokens and the DPoP key, so store it as a secret.
    """

    session: IssuerSession
    configuration_id: str
    jwks: tuple[Mapping[str, str], ...]
    signing_inputs: tuple[bytes, ...]
    alg: str = "ES256"

    @property
    def credential_issuer(self) -> str:
        return self.session.credential_issuer

    @property
    def access_token(self) -> str:
        return self.session.access_token

    @property
    def notification_endpoint(self) -> str | None:
        return self.session.notification_endpoint

    @property
    def vct(self) -> str | None:
        """The ``vct`` the issuer's metadata announced for :attr:`configuration_id`, if it did."""
        return self.session.vcts.get(self.configuration_id)

    def to_state(self) -> dict[str, Any]:
        """JSON-compatible state."""
        return {
            **self.session.to_state(),
            "configuration_id": self.configuration_id,
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
                session=IssuerSession.from_state(value),
                configuration_id=str(value["configuration_id"]),
                jwks=tuple(dict(j) for j in value["jwks"]),
                signing_inputs=tuple(str(s).encode("ascii") for s in value["signing_inputs"]),
                alg=str(value.get("alg", "ES256")),
            )
        except (KeyError, TypeError, ValueError, UnicodeEncodeError, AttributeError, VcsdkError) as exc:
            raise InvalidInputError("the saved issuance state is not readable") from exc

    def __repr__(self) -> str:
        return (
            f"PendingIssuance({self.credential_issuer!r}, {self.configuration_id!r}, "
            f"keys={len(self.jwks)}, token_type={self.session.token_type!r})"
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
class _Discovered:
    session: IssuerSession
    scopes: Mapping[str, str]
    authorization_endpoint: str | None
    par_endpoint: str | None
    dpop_supported: bool
    iss_parameter: bool
    attestation_required: bool


def _discover(credential_issuer: str, config_ids: Sequence[str], keys: int) -> Flow[_Discovered]:
    response = yield HttpRequest("GET", well_known_url(credential_issuer, "openid-credential-issuer"))
    raise_for_error(response, what="issuer metadata")
    meta = response.json_object(what="issuer metadata")
    if meta.get("credential_issuer") != credential_issuer:
        raise _err("the metadata's credential_issuer differs from the offer's")
    configs = meta.get("credential_configurations_supported")
    if not isinstance(configs, Mapping) or not all(c in configs for c in config_ids):
        raise _err("the issuer's metadata does not describe the offered credential")
    batch = meta.get("batch_credential_issuance")
    limit = batch.get("batch_size", 1) if isinstance(batch, Mapping) else 1
    if keys > max(1, limit if isinstance(limit, int) else 1):
        raise InvalidInputError("the issuer does not accept that many keys in one request")
    servers = meta.get("authorization_servers")
    as_id = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], str) else credential_issuer
    response = yield HttpRequest("GET", well_known_url(as_id, "oauth-authorization-server"))
    raise_for_error(response, what="authorization server metadata")
    as_meta = response.json_object(what="authorization server metadata")
    if as_meta.get("issuer") not in (None, as_id):  # RFC 8414 §3.3: issuer must be the one asked for
        raise _err("the authorization server metadata names another issuer")
    token_endpoint = as_meta.get("token_endpoint")
    credential_endpoint = meta.get("credential_endpoint")
    nonce_endpoint = meta.get("nonce_endpoint")
    if not (is_https_url(token_endpoint) and is_https_url(credential_endpoint) and is_https_url(nonce_endpoint)):
        raise _err("the metadata lacks an https token, credential or nonce endpoint")

    def url(value: Any) -> str | None:
        return str(value) if is_https_url(value) else None

    algs = as_meta.get("dpop_signing_alg_values_supported")
    auth_methods = as_meta.get("token_endpoint_auth_methods_supported")
    session = IssuerSession(
        credential_issuer=credential_issuer,
        token_endpoint=str(token_endpoint),
        credential_endpoint=str(credential_endpoint),
        nonce_endpoint=str(nonce_endpoint),
        notification_endpoint=url(meta.get("notification_endpoint")),
        deferred_endpoint=url(meta.get("deferred_credential_endpoint")),
        as_issuer=as_id,
        vcts={
            c: str(configs[c]["vct"])
            for c in config_ids
            if isinstance(configs[c], Mapping) and isinstance(configs[c].get("vct"), str)
        },
    )
    scopes = {
        c: str(configs[c]["scope"])
        for c in config_ids
        if isinstance(configs[c], Mapping) and isinstance(configs[c].get("scope"), str)
    }
    return _Discovered(
        session=session,
        scopes=scopes,
        authorization_endpoint=url(as_meta.get("authorization_endpoint")),
        par_endpoint=url(as_meta.get("pushed_authorization_request_endpoint")),
        dpop_supported=isinstance(algs, list) and "ES256" in algs,
        iss_parameter=as_meta.get("authorization_response_iss_parameter_supported") is True,
        attestation_required=isinstance(auth_methods, list) and auth_methods == ["attest_jwt_client_auth"],
    )


def _dpop_request(
    session: IssuerSession,
    build: Callable[[Mapping[str, str]], HttpRequest],
    *,
    now: Callable[[], datetime],
    randomness: Randomness,
    access_token: str | None = None,
) -> Generator[HttpRequest, HttpResponse, tuple[HttpResponse, IssuerSession]]:
    """Send a request with a fresh DPoP proof (when the session has a DPoP key); when the server
    answers ``use_dpop_nonce`` (400 from the authorization server, 401 from a resource, RFC 9449 §8,
    §9), retry once with the nonce it gave. Every answer's ``DPoP-Nonce`` is kept for the next request."""
    key = session._key()
    for attempt in range(2):
        headers: dict[str, str] = {}
        probe = build({})
        if key is not None:
            headers["DPoP"] = create_dpop_proof(
                key, method=probe.method, url=probe.url, now=now(), nonce=session.dpop_nonce,
                access_token=access_token, randomness=randomness,
            )
        response = yield build(headers)
        fresh = response.header("DPoP-Nonce")
        if fresh is not None and URL_SAFE.fullmatch(fresh):
            session = replace(session, dpop_nonce=fresh)
        if attempt == 0 and key is not None and fresh is not None and response.error_code == "use_dpop_nonce":
            continue
        return response, session
    raise AssertionError("unreachable")


def _signing_inputs(
    jwks: Sequence[Mapping[str, str]], *, audience: str, nonce: str, now: datetime, alg: str
) -> tuple[bytes, ...]:
    return tuple(key_proof_signing_input(j, audience=audience, nonce=nonce, now=now, alg=alg) for j in jwks)


def _client_headers(
    attestation: ClientAttestation | None, audience: str | None, now: Callable[[], datetime], randomness: Randomness
) -> dict[str, str]:
    if attestation is None:
        return {}
    return attestation.headers(audience=audience or "", now=now(), randomness=randomness)


def _after_token(
    session: IssuerSession, token: TokenResponse, *, refresh_token_kept: str | None = None
) -> IssuerSession:
    identifiers: dict[str, tuple[str, ...]] = {}
    for detail in token.authorization_details:
        config, ids = detail.get("credential_configuration_id"), detail.get("credential_identifiers")
        if isinstance(config, str) and isinstance(ids, list) and all(isinstance(i, str) for i in ids):
            identifiers[config] = tuple(ids)
    return replace(
        session,
        access_token=token.access_token,
        token_type=token.token_type,
        refresh_token=token.refresh_token or refresh_token_kept,
        credential_identifiers=identifiers or session.credential_identifiers,
    )


def _new_inputs(
    session: IssuerSession,
    configuration_id: str,
    jwks: Sequence[Mapping[str, str]],
    *,
    now: Callable[[], datetime],
    alg: str,
) -> Flow[PendingIssuance]:
    c_nonce = parse_nonce_response((yield nonce_request(session.nonce_endpoint)))
    return PendingIssuance(
        session=session,
        configuration_id=configuration_id,
        jwks=tuple(dict(j) for j in jwks),
        signing_inputs=_signing_inputs(jwks, audience=session.credential_issuer, nonce=c_nonce, now=now(), alg=alg),
        alg=alg,
    )


def _token_then_inputs(
    session: IssuerSession,
    form: Mapping[str, str],
    configuration_id: str,
    jwks: Sequence[Mapping[str, str]],
    *,
    client_attestation: ClientAttestation | None,
    now: Callable[[], datetime],
    alg: str,
    randomness: Randomness,
) -> Flow[PendingIssuance]:
    """The token request (``form``, with DPoP and client attestation as the session has them), then
    a ``c_nonce`` and the key proofs' signing inputs: how both grants end."""

    def build(headers: Mapping[str, str]) -> HttpRequest:
        extra = _client_headers(client_attestation, session.as_issuer, now, randomness)
        return HttpRequest.form(session.token_endpoint, form, headers={**headers, **extra})

    response, session = yield from _dpop_request(session, build, now=now, randomness=randomness)
    session = _after_token(session, parse_token_response(response))
    return (yield from _new_inputs(session, configuration_id, jwks, now=now, alg=alg))


def prepare_issuance(
    offer: CredentialOffer,
    *,
    tx_code: str | None,
    jwks: Sequence[Mapping[str, str]],
    now: Callable[[], datetime],
    configuration_id: str | None = None,
    alg: str = "ES256",
    dpop: bool | None = None,
    client_attestation: ClientAttestation | None = None,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> Flow[PendingIssuance]:
    """Phase one of issuance with the Pre-Authorized Code: issuer metadata → token → ``c_nonce``,
    then the key proofs' signing inputs for the device keys, I/O-free.

    Drive it like an httpx auth flow (``request = next(flow)``, then ``flow.send(response)``);
    :func:`vcsdk.oid4vc.run_flow` does that over aiohttp.

    :param jwks: the device keys' public JWKs; several make a batch request (one credential per key).
    :param now: the clock, read when proofs and signing inputs are made.
    :param dpop: bind the access token to a fresh DPoP key (RFC 9449); by default whenever the
        authorization server supports DPoP with ES256.
    :param client_attestation: the wallet's attestation, for an issuer that requires client authentication.
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
    found = yield from _discover(offer.credential_issuer, [config_id], len(jwks))
    session = found.session
    if dpop if dpop is not None else found.dpop_supported:
        session = replace(session, dpop_key=Key.generate("P-256").private_jwk())
    if client_attestation is not None:
        form = {**form, "client_id": client_attestation.client_id}
        session = replace(session, client_id=client_attestation.client_id)
    return (
        yield from _token_then_inputs(
            session, form, config_id, jwks, client_attestation=client_attestation, now=now, alg=alg,
            randomness=randomness,
        )
    )


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """An authorization code flow waiting for the resident at the issuer (HAIP 1.0 §4).

    Open :attr:`authorization_url` in the browser; the issuer redirects to ``redirect_uri`` with the
    code, which :func:`finish_authorization` redeems. The state holds the PKCE verifier and the DPoP
    key: store it as a secret, and only on the wallet's side.
    """

    session: IssuerSession
    configuration_ids: tuple[str, ...]
    redirect_uri: str
    authorization_url: str
    state: str
    code_verifier: str = field(repr=False)
    iss_required: bool = True

    def to_state(self) -> dict[str, Any]:
        return {
            **self.session.to_state(),
            "configuration_ids": list(self.configuration_ids),
            "redirect_uri": self.redirect_uri,
            "authorization_url": self.authorization_url,
            "state": self.state,
            "code_verifier": self.code_verifier,
            "iss_required": self.iss_required,
        }

    @classmethod
    def from_state(cls, value: Mapping[str, Any]) -> PendingAuthorization:
        """:raises InvalidInputError: if the state is not one this class wrote."""
        try:
            return cls(
                session=IssuerSession.from_state(value),
                configuration_ids=tuple(str(c) for c in value["configuration_ids"]),
                redirect_uri=str(value["redirect_uri"]),
                authorization_url=str(value["authorization_url"]),
                state=str(value["state"]),
                code_verifier=str(value["code_verifier"]),
                iss_required=bool(value.get("iss_required", True)),
            )
        except (KeyError, TypeError, ValueError, AttributeError, VcsdkError) as exc:
            raise InvalidInputError("the saved authorization state is not readable") from exc


def start_authorization(
    offer: CredentialOffer,
    *,
    client_id: str,
    redirect_uri: str,
    now: Callable[[], datetime],
    configuration_ids: Sequence[str] | None = None,
    authorization_details: bool = False,
    client_attestation: ClientAttestation | None = None,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> Flow[PendingAuthorization]:
    """Start the Authorization Code flow (HAIP 1.0 §4): metadata, then a Pushed Authorization
    Request with PKCE (``S256``), ``scope`` (or ``authorization_details``), the offer's
    ``issuer_state``, a DPoP proof binding the code to a fresh DPoP key, and the wallet's attestation.

    :param offer: an offer with the Authorization Code grant (or a wallet-initiated one, made with
        :class:`~vcsdk.oid4vc.CredentialOffer` and ``authorization_code=True``).
    :param client_id: the wallet's client id (with an attestation: its ``sub``).
    :param redirect_uri: where the issuer sends the browser back with the code.
    :raises InvalidInputError: an offer without the authorization code grant, or configurations it
        does not include.
    :raises ProtocolError: the issuer's error, or ``invalid_response`` (no PAR or authorization endpoint).
    :return: (as the generator's value) the pending authorization with the URL to open.
    """
    if not offer.authorization_code:
        raise InvalidInputError("this offer has no authorization code grant")
    configs = tuple(configuration_ids or offer.credential_configuration_ids)
    if not set(configs) <= set(offer.credential_configuration_ids):
        raise InvalidInputError("the offer does not include those credential configurations")
    found = yield from _discover(offer.credential_issuer, configs, 1)
    if found.par_endpoint is None or found.authorization_endpoint is None:
        raise _err("the authorization server has no pushed authorization request or authorization endpoint")
    session = replace(found.session, client_id=client_id)
    if found.dpop_supported:
        session = replace(session, dpop_key=Key.generate("P-256").private_jwk())
    verifier = random_token(randomness, 32)
    state = random_token(randomness, 16)
    form: dict[str, str] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "state": state,
    }
    if authorization_details:
        form["authorization_details"] = json.dumps(
            [{"type": OPENID_CREDENTIAL, "credential_configuration_id": c} for c in configs], separators=(",", ":")
        )
    else:
        missing = [c for c in configs if c not in found.scopes]
        if missing:
            raise _err("the issuer's metadata has no scope for the requested credential")
        form["scope"] = " ".join(found.scopes[c] for c in configs)
    if offer.issuer_state is not None:
        form["issuer_state"] = offer.issuer_state
    par_endpoint = found.par_endpoint

    def build(headers: Mapping[str, str]) -> HttpRequest:
        extra = _client_headers(client_attestation, session.as_issuer, now, randomness)
        return HttpRequest.form(par_endpoint, form, headers={**headers, **extra})

    response, session = yield from _dpop_request(session, build, now=now, randomness=randomness)
    raise_for_error(response, what="pushed authorization request")
    answer = response.json_object(what="pushed authorization response")
    request_uri = answer.get("request_uri")
    if not isinstance(request_uri, str) or not request_uri:
        raise _err("the pushed authorization response has no request_uri")
    query = urlencode({"client_id": client_id, "request_uri": request_uri})
    return PendingAuthorization(
        session=session,
        configuration_ids=configs,
        redirect_uri=redirect_uri,
        authorization_url=f"{found.authorization_endpoint}?{query}",
        state=state,
        code_verifier=verifier,
        iss_required=found.iss_parameter,
    )


def finish_authorization(
    pending: PendingAuthorization,
    callback_url: str,
    *,
    jwks: Sequence[Mapping[str, str]],
    now: Callable[[], datetime],
    configuration_id: str | None = None,
    alg: str = "ES256",
    client_attestation: ClientAttestation | None = None,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> Flow[PendingIssuance]:
    """Redeem the code the issuer sent back (PKCE verifier, DPoP), then fetch a ``c_nonce``: the
    key proofs' signing inputs for the device keys, as :func:`prepare_issuance` gives them.

    :param callback_url: the URL the browser came back to (``redirect_uri?code=…&state=…&iss=…``).
    :raises ProtocolError: the issuer's error (``access_denied`` when the resident declined),
        ``invalid_response`` for another ``state`` or ``iss`` (RFC 9207: mix-up defence).
    :return: (as the generator's value) the pending issuance.
    """
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query, keep_blank_values=True).items()}
    if params.get("state") != pending.state:
        raise _err("the authorization response is for another request (state)")
    iss = params.get("iss")
    if (iss is not None or pending.iss_required) and iss != pending.session.as_issuer:
        raise _err("the authorization response comes from another authorization server (iss, RFC 9207)")
    if "error" in params:
        error = params["error"] if URL_SAFE.fullmatch(params["error"]) else "access_denied"
        raise ProtocolError("the issuer did not authorize the request", code=error)
    code = params.get("code")
    if not code:
        raise _err("the authorization response has no code")
    config_id = configuration_id or pending.configuration_ids[0]
    if config_id not in pending.configuration_ids:
        raise InvalidInputError("that credential configuration was not requested")
    session = pending.session
    form = {
        "grant_type": AUTHORIZATION_CODE_GRANT,
        "code": code,
        "code_verifier": pending.code_verifier,
        "redirect_uri": pending.redirect_uri,
        "client_id": session.client_id or "",
    }
    return (
        yield from _token_then_inputs(
            session, form, config_id, jwks, client_attestation=client_attestation, now=now, alg=alg,
            randomness=randomness,
        )
    )


def renew_issuance(pending: PendingIssuance, *, now: Callable[[], datetime]) -> Flow[PendingIssuance]:
    """A fresh ``c_nonce`` and new signing inputs for a pending issuance (the device lost the input,
    or the issuer answered ``invalid_nonce``).

    :raises ProtocolError: the issuer's error code, or ``invalid_response``.
    :return: (as the generator's value) the pending issuance with new signing inputs.
    """
    return (yield from _new_inputs(pending.session, pending.configuration_id, pending.jwks, now=now, alg=pending.alg))


def refresh_issuance(
    pending: PendingIssuance,
    *,
    now: Callable[[], datetime],
    jwks: Sequence[Mapping[str, str]] | None = None,
    client_attestation: ClientAttestation | None = None,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> Flow[PendingIssuance]:
    """Re-issuance with the refresh token (OpenID4VCI §13.5): a new access token (the refresh token
    rotates) bound to the same DPoP key, a fresh ``c_nonce`` and new signing inputs — for fresh
    device keys (``jwks``) if given.

    :raises InvalidInputError: the issuance has no refresh token.
    :raises ProtocolError: the issuer's error (``invalid_grant`` once the refresh token expired or was used).
    """
    session = pending.session
    if session.refresh_token is None:
        raise InvalidInputError("this issuance has no refresh token")
    form = {"grant_type": REFRESH_TOKEN_GRANT, "refresh_token": session.refresh_token}
    if session.client_id:
        form["client_id"] = session.client_id

    def build(headers: Mapping[str, str]) -> HttpRequest:
        extra = _client_headers(client_attestation, session.as_issuer, now, randomness)
        return HttpRequest.form(session.token_endpoint, form, headers={**headers, **extra})

    response, session = yield from _dpop_request(session, build, now=now, randomness=randomness)
    session = _after_token(session, parse_token_response(response))
    keys = jwks if jwks is not None else pending.jwks
    return (yield from _new_inputs(session, pending.configuration_id, keys, now=now, alg=pending.alg))


def _resource(
    session: IssuerSession,
    url: str,
    body: Mapping[str, Any],
    *,
    now: Callable[[], datetime],
    randomness: Randomness,
) -> Generator[HttpRequest, HttpResponse, tuple[HttpResponse, IssuerSession]]:
    scheme = "DPoP" if session.token_type.lower() == "dpop" else "Bearer"

    def build(headers: Mapping[str, str]) -> HttpRequest:
        return HttpRequest.json(url, body, headers={**headers, "Authorization": f"{scheme} {session.access_token}"})

    token = session.access_token if scheme == "DPoP" else None
    return (yield from _dpop_request(session, build, now=now, randomness=randomness, access_token=token))


def _issued(
    response: HttpResponse, session: IssuerSession, configuration_id: str, keys: int
) -> IssuedCredentials:
    if response.status == 202:
        answer = response.json_object(what="credential response")
        transaction_id, interval = answer.get("transaction_id"), answer.get("interval")
        if not isinstance(transaction_id, str) or not transaction_id:
            raise _err("a deferred credential response needs a transaction_id")
        return IssuedCredentials(
            (),
            configuration_id=configuration_id,
            access_token=session.access_token,
            notification_endpoint=session.notification_endpoint,
            transaction_id=transaction_id,
            interval=interval if isinstance(interval, int) and interval > 0 else 60,
            session=session,
        )
    credentials, notification_id = parse_credential_response(response, max_credentials=keys)
    return IssuedCredentials(
        credentials,
        notification_id,
        configuration_id,
        session.access_token,
        session.notification_endpoint,
        session=session,
    )


def finish_issuance(
    pending: PendingIssuance,
    signatures: Sequence[bytes],
    *,
    now: Callable[[], datetime] = _utcnow,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> Generator[HttpRequest, HttpResponse, IssuedCredentials]:
    """Phase two of issuance: attach the device's signatures to the key proofs and send the
    Credential Request (with a DPoP proof for a DPoP-bound token).

    Each signature is checked against its device key first, so a wrong key or a damaged signature
    is caught here (nothing is sent) rather than as the issuer's ``invalid_proof``.

    :param signatures: one raw signature per signing input, in the same order.
    :raises SignatureInvalidError: a signature does not verify with its device key.
    :raises InvalidInputError: not one signature per signing input.
    :raises ProtocolError: the issuer's error code (``invalid_nonce``: :func:`renew_issuance` and
        sign again), or ``invalid_response`` for a bad answer.
    :return: (as the generator's value) the credentials — or, deferred, the ``transaction_id`` for
        :func:`fetch_deferred_credentials`.
    """
    issued, _ = yield from _finish(pending, signatures, now=now, randomness=randomness)
    return issued


def _finish(
    pending: PendingIssuance,
    signatures: Sequence[bytes],
    *,
    now: Callable[[], datetime],
    randomness: Randomness,
) -> Generator[HttpRequest, HttpResponse, tuple[IssuedCredentials, IssuerSession]]:
    if len(signatures) != len(pending.signing_inputs):
        raise InvalidInputError("one signature is needed per signing input")
    proofs = [
        check_proof_signature(signing_input, bytes(signature), jwk)
        for signing_input, signature, jwk in zip(pending.signing_inputs, signatures, pending.jwks, strict=True)
    ]
    session = pending.session
    identifiers = session.credential_identifiers.get(pending.configuration_id)
    body = build_credential_request(pending.configuration_id, proofs)
    if identifiers:
        # §8.2: with credential identifiers from the Token Response, name the dataset, not the configuration.
        body = {"credential_identifier": identifiers[0], "proofs": body["proofs"]}
    response, session = yield from _resource(session, session.credential_endpoint, body, now=now, randomness=randomness)
    return _issued(response, session, pending.configuration_id, len(proofs)), session


def fetch_deferred_credentials(
    pending: PendingIssuance,
    transaction_id: str,
    *,
    now: Callable[[], datetime] = _utcnow,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> Flow[IssuedCredentials]:
    """Ask the Deferred Credential Endpoint (§9) for credentials that were not ready.

    :raises ProtocolError: ``invalid_transaction_id``, ``invalid_token`` (refresh first with
        :func:`refresh_issuance`), or ``invalid_response`` when the issuer has no deferred endpoint.
    :return: (as the generator's value) the credentials, or again the ``transaction_id``.
    """
    session = pending.session
    if session.deferred_endpoint is None:
        raise _err("the issuer has no deferred credential endpoint")
    response, session = yield from _resource(
        session, session.deferred_endpoint, {"transaction_id": transaction_id}, now=now, randomness=randomness
    )
    return _issued(response, session, pending.configuration_id, len(pending.jwks))


def notify_issuer(
    issuance: PendingIssuance | IssuedCredentials,
    notification_id: str | None = None,
    *,
    event: str = "credential_accepted",
    now: Callable[[], datetime] = _utcnow,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> Flow[None]:
    """Tell the issuer the credentials were stored (or not) (§11), with a DPoP proof when needed.

    :param issuance: the issued credentials (their ``notification_id`` is used), or the pending
        issuance they came from with the ``notification_id``.
    :raises InvalidInputError: for an unknown event, no notification id, or an issuer without a
        notification endpoint.
    :raises ProtocolError: the issuer's error.
    """
    if event not in NOTIFICATION_EVENTS:
        raise InvalidInputError(f"event is one of {', '.join(NOTIFICATION_EVENTS)}")
    if isinstance(issuance, IssuedCredentials):
        notification_id = notification_id or issuance.notification_id
        if not isinstance(issuance.session, IssuerSession):
            raise InvalidInputError("these credentials were not received by a holder flow; use notification_request")
        session = issuance.session
    else:
        session = issuance.session
    if notification_id is None:
        raise InvalidInputError("the issuer gave no notification_id")
    if session.notification_endpoint is None:
        raise InvalidInputError("the issuer has no notification endpoint")
    body = {"notification_id": notification_id, "event": event}
    response, _ = yield from _resource(session, session.notification_endpoint, body, now=now, randomness=randomness)
    raise_for_error(response, what="notification")


def receive_credential(
    offer: CredentialOffer,
    *,
    tx_code: str | None,
    signers: Sequence[Signer],
    now: Callable[[], datetime],
    jwks: Sequence[Mapping[str, str]] | None = None,
    configuration_id: str | None = None,
    dpop: bool | None = None,
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
        offer, tx_code=tx_code, jwks=jwks, now=now, configuration_id=configuration_id, alg=algs.pop(), dpop=dpop
    )
    signatures = [s.sign(i) for s, i in zip(signers, pending.signing_inputs, strict=True)]
    return (yield from finish_issuance(pending, signatures, now=now))


# -- presentation ---------------------------------------------------------------------------------


def fetch_request_object(
    reference: AuthorizationRequestReference,
    *,
    wallet_nonce: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Flow[str]:
    """The Request Object behind a request link: passed by value, or fetched from ``request_uri`` —
    with GET, or with ``request_uri_method=post`` by POST with the wallet's metadata and
    ``wallet_nonce`` (§5.10; pass the same nonce to :func:`~vcsdk.oid4vc.load_request_object`).

    :raises ProtocolError: the verifier's error when the fetch fails (§5.10.2: the wallet stops).
    :return: (as the generator's value) the Request Object JWT, not yet verified.
    """
    if reference.request is not None:
        return reference.request
    response = yield request_object_request(reference, wallet_nonce=wallet_nonce, metadata=metadata)
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
        return tuple([None if p == "*" else p for p in value.split(".")])
    return tuple(value)


def _option_state(option: ConsentCredential) -> dict[str, Any]:
    return {
        "credential_id": option.ref,
        "claims": [list(p) for p in option.claims],
        "concrete": [list(p) for p in option.concrete_claims],
    }


def _option_of(query_id: str, value: Mapping[str, Any]) -> ConsentCredential:
    # List comprehensions, not generators: a consent screen's state holds an option per credential.
    concrete: tuple[ConcretePath, ...] = tuple([tuple(p) for p in value.get("concrete", ())])
    return ConsentCredential(
        query_id, str(value["credential_id"]), tuple([_path(p) for p in value.get("claims", ())]), concrete
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
        did = self.request.verifier_did if self.request.client_id_prefix == "decentralized_identifier" else None
        return ConsentScreen(
            service_did=did,
            client_id=self.request.client_id,
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
            "service_did": self.request.verifier_did
            if self.request.client_id_prefix == "decentralized_identifier"
            else None,
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
                str(qid): tuple([_option_of(str(qid), o) for o in opts]) for qid, opts in value["options"].items()
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
