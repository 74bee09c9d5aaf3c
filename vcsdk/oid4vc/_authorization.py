"""The Credential Issuer's OAuth 2.0 Authorization Server, at the high-assurance profile (HAIP 1.0 §4).

* Grants: the Pre-Authorized Code (OpenID4VCI §6, with a Transaction Code), the Authorization Code
  (RFC 6749 §4.1) with PKCE ``S256`` only (RFC 7636) and Pushed Authorization Requests only
  (RFC 9126), and refresh tokens (§6) that rotate on every use.
* Sender-constrained tokens: DPoP (RFC 9449) with server nonces; a code is bound to the key of the
  PAR's proof, access and refresh tokens to the key of the Token Request's proof.
* Client authentication by Wallet Attestation (attestation-based client authentication, OpenID4VCI
  Appendix E) when the issuer requires it.
* ``authorization_details`` of type ``openid_credential`` (RFC 9396) and ``scope`` per credential
  configuration; the Token Response names ``credential_identifiers``.
* The authorization response carries ``iss`` (RFC 9207).

The resident is authenticated by the deployment between :meth:`AuthorizationServer.authorization_request`
(what the wallet asked for, an :class:`AuthorizationSession`) and :meth:`~AuthorizationServer.authorize`
(the claims the resident's KYC or login established) — the SDK does not draw login pages.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from vcsdk._b64 import b64url_encode
from vcsdk._json import parse_json
from vcsdk._time import from_numeric_date
from vcsdk.errors import ConflictError, InvalidInputError, ProtocolError
from vcsdk.oid4vc._client_attestation import (
    ATTESTATION_ALGORITHMS,
    VerifiedClientAttestation,
    WalletAttestationTrust,
    verify_client_attestation,
)
from vcsdk.oid4vc._common import URL_SAFE, Randomness, StateStore, random_token
from vcsdk.oid4vc._dpop import DPOP_ALGORITHMS, DpopGuard
from vcsdk.oid4vc._vci_messages import (
    AUTHORIZATION_CODE_GRANT,
    OPENID_CREDENTIAL,
    PRE_AUTHORIZED_GRANT,
    REFRESH_TOKEN_GRANT,
    CredentialConfiguration,
    TokenResponse,
)

__all__ = [
    "PAR_REQUEST_URI_PREFIX",
    "AccessGrant",
    "AuthorizationServer",
    "AuthorizationSession",
    "RequestContext",
]

#: RFC 9126 §2.2: the prefix of the ``request_uri`` a PAR endpoint returns.
PAR_REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
#: RFC 7636 §4.1: ``code_verifier`` is 43 to 128 unreserved characters.
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
MAX_AUTHORIZATION_DETAILS = 16


def _err(code: str, message: str) -> ProtocolError:
    return ProtocolError(message, code=code)


def _same_client(
    client: VerifiedClientAttestation | None, form: Mapping[str, str], granted_to: Any, what: str
) -> str | None:
    """The client of this token request (its attestation, else its ``client_id``), which must be
    the one the ``what`` was issued to.

    :raises ProtocolError: ``invalid_grant`` otherwise.
    """
    client_id = client.client_id if client is not None else form.get("client_id")
    if client_id != granted_to:
        raise _err("invalid_grant", f"the {what} was issued to another client")
    return client_id


def pkce_challenge(code_verifier: str) -> str:
    """The ``S256`` code challenge of a verifier (RFC 7636 §4.2)."""
    return b64url_encode(hashlib.sha256(code_verifier.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What an endpoint needs from the HTTP request besides its body: the ``Authorization``,
    ``DPoP`` and client attestation headers, and the method."""

    method: str = "POST"
    authorization: str | None = field(default=None, repr=False)
    dpop: str | None = field(default=None, repr=False)
    client_attestation: str | None = field(default=None, repr=False)
    client_attestation_pop: str | None = field(default=None, repr=False)


NO_CONTEXT = RequestContext()


@dataclass(frozen=True, slots=True)
class AuthorizationSession:
    """A wallet's authorization request, waiting for the resident to be authenticated.

    Show who asks (``client_id``) and for which credentials; authenticate the resident (KYC against
    the resident registry, a login); then :meth:`AuthorizationServer.authorize` with the claims, or
    :meth:`AuthorizationServer.deny`. ``issuer_state`` is what an offer carried — it may have been
    injected by an attacker (OpenID4VCI §5.1.3), so it never replaces authenticating the resident.
    """

    id: str
    client_id: str
    configuration_ids: tuple[str, ...]
    issuer_state: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """A verified access token at a protected endpoint (Credential, Deferred, Notification)."""

    access_token: str = field(repr=False)
    grant_id: str
    configuration_ids: tuple[str, ...]
    claims: Mapping[str, Any] = field(repr=False)
    credential_identifiers: Mapping[str, str]
    dpop_jkt: str | None


def _string_field(form: Mapping[str, str], name: str, *, max_len: int = 2048) -> str | None:
    value = form.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > max_len):
        raise _err("invalid_request", f"{name} is too long")
    return value


def _check_redirect_uri(value: str | None) -> str:
    # RFC 9700 §2.1 / RFC 6749 §3.1.2: an absolute URI without fragment; plain http only to loopback
    # (native apps, RFC 8252 §7.3); wallets' claimed https links and private schemes are accepted.
    if not value:
        raise _err("invalid_request", "redirect_uri is required")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise _err("invalid_request", "redirect_uri is not a URI") from None
    if not parts.scheme or parts.fragment or parts.scheme.lower() in ("javascript", "data", "file", "vbscript"):
        raise _err("invalid_request", "redirect_uri must be an absolute URI without fragment")
    if parts.scheme.lower() == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise _err("invalid_request", "redirect_uri must not use plain http (except to the loopback interface)")
    if parts.scheme.lower() == "https" and not parts.hostname:
        raise _err("invalid_request", "redirect_uri has no host")
    return value


class AuthorizationServer:
    """The issuer's Authorization Server: PAR, authorization, token and refresh, DPoP and client
    attestation. A :class:`~vcsdk.oid4vc.CredentialIssuer` makes one (``issuer.authorization_server``).

    :param issuer: the Authorization Server's issuer identifier (the Credential Issuer Identifier).
    :param wallet_attestation: when set, every client authenticates with a Wallet Attestation at the
        PAR and Token Endpoints (HAIP 1.0 §4.4.1), for every grant.
    :param require_dpop: refuse Token Requests without a DPoP proof (every token is then DPoP-bound).
    :param refresh_pre_authorized: also give a refresh token for a DPoP-bound Pre-Authorized Code
        grant, so the wallet can get new credentials for fresh device keys (re-issuance, §13.5).
    """

    def __init__(
        self,
        *,
        issuer: str,
        configurations: Mapping[str, CredentialConfiguration],
        store: StateStore,
        randomness: Randomness,
        dpop: DpopGuard,
        wallet_attestation: WalletAttestationTrust | None = None,
        require_dpop: bool = False,
        access_token_ttl: timedelta = timedelta(minutes=5),
        refresh_token_ttl: timedelta = timedelta(days=30),
        code_ttl: timedelta = timedelta(minutes=1),
        par_ttl: timedelta = timedelta(seconds=90),
        session_ttl: timedelta = timedelta(minutes=10),
        offer_ttl: timedelta = timedelta(minutes=10),
        max_tx_code_attempts: int = 5,
        refresh_pre_authorized: bool = False,
    ) -> None:
        self.issuer = issuer
        self.configurations = configurations
        self._store = store
        self._randomness = randomness
        self.dpop = dpop
        self.wallet_attestation = wallet_attestation
        self.require_dpop = require_dpop
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.code_ttl = code_ttl
        self.par_ttl = par_ttl
        self.session_ttl = session_ttl
        self.offer_ttl = offer_ttl
        self.max_tx_code_attempts = max_tx_code_attempts
        self.refresh_pre_authorized = refresh_pre_authorized

    def __repr__(self) -> str:
        return f"AuthorizationServer({self.issuer!r})"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @property
    def par_endpoint(self) -> str:
        return f"{self.issuer}/par"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/authorize"

    def metadata(self) -> dict[str, Any]:
        """OAuth 2.0 Authorization Server Metadata (RFC 8414 §2, OpenID4VCI §12.3)."""
        auth_methods = ["attest_jwt_client_auth"] if self.wallet_attestation is not None else ["none"]
        out: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "pushed_authorization_request_endpoint": self.par_endpoint,
            "require_pushed_authorization_requests": True,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [AUTHORIZATION_CODE_GRANT, PRE_AUTHORIZED_GRANT, REFRESH_TOKEN_GRANT],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": auth_methods,
            "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS.names),
            "authorization_response_iss_parameter_supported": True,
            "authorization_details_types_supported": [OPENID_CREDENTIAL],
            "scopes_supported": sorted(self.configurations),
            "pre-authorized_grant_anonymous_access_supported": self.wallet_attestation is None,
        }
        if self.wallet_attestation is not None:
            out["client_attestation_signing_alg_values_supported"] = list(ATTESTATION_ALGORITHMS.names)
            out["client_attestation_pop_signing_alg_values_supported"] = list(ATTESTATION_ALGORITHMS.names)
        return out

    # -- client authentication and DPoP

    async def _client(
        self, client_id: str | None, context: RequestContext, now: datetime
    ) -> VerifiedClientAttestation | None:
        if self.wallet_attestation is None:
            return None
        verified = verify_client_attestation(
            context.client_attestation,
            context.client_attestation_pop,
            trust=self.wallet_attestation,
            audience=self.issuer,
            now=now,
            client_id=client_id,
        )
        # The PoP is single use: its jti is remembered as long as its iat is acceptable.
        pop_iat = from_numeric_date(verified.pop_iat, what="the attestation proof's iat")
        expires = pop_iat + self.wallet_attestation.pop_max_age * 2
        try:
            key = f"{verified.instance_jkt}:{verified.pop_jti}"
            await self._store.put("client_pop_jti", key, {}, expires_at=expires)
        except ConflictError:
            raise _err("invalid_client", "this attestation proof of possession was used before") from None
        return verified

    async def _dpop_jkt(
        self, context: RequestContext, url: str, now: datetime, *, bound: str | None, optional: bool = False
    ) -> str | None:
        if context.dpop is None:
            if bound is not None or (self.require_dpop and not optional):
                raise _err("invalid_dpop_proof", "a DPoP proof is required (DPoP header)")
            return None
        verified = await self.dpop.check(context.dpop, method="POST", url=url, now=now, bound_jkt=bound)
        return verified.jkt

    # -- pushed authorization requests (RFC 9126)

    def _requested(self, form: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The configurations asked for by ``scope`` and by ``authorization_details``."""
        scopes = tuple(
            s for s in (_string_field(form, "scope") or "").split() if s in self.configurations
        )  # OpenID4VCI §5.1.2: unknown scope values are ignored
        details: list[str] = []
        raw = form.get("authorization_details")
        if raw is not None:
            try:
                value = parse_json(raw, what="authorization_details", max_bytes=16 * 1024)
            except InvalidInputError:
                raise _err("invalid_authorization_details", "authorization_details is not valid JSON") from None
            if not isinstance(value, list) or not value or len(value) > MAX_AUTHORIZATION_DETAILS:
                raise _err("invalid_authorization_details", "authorization_details must be a non-empty array")
            for item in value:
                if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
                    raise _err("invalid_authorization_details", "each authorization detail needs a type")
                if item["type"] != OPENID_CREDENTIAL:
                    raise _err("invalid_authorization_details", "only the openid_credential type is supported")
                config = item.get("credential_configuration_id")
                if not isinstance(config, str) or config not in self.configurations:
                    raise _err("invalid_authorization_details", "unknown credential_configuration_id")
                locations = item.get("locations")
                if locations is not None and (not isinstance(locations, list) or self.issuer not in locations):
                    raise _err("invalid_authorization_details", "locations must name this Credential Issuer")
                details.append(config)
        return scopes, tuple(dict.fromkeys(details))

    async def pushed_authorization_request(
        self, form: Mapping[str, str], *, now: datetime, context: RequestContext = NO_CONTEXT
    ) -> dict[str, Any]:
        """Handle a Pushed Authorization Request (answer 201 with the returned JSON).

        :raises ProtocolError: ``invalid_client`` (client authentication); ``invalid_request``
            (no client_id, redirect_uri, PKCE ``S256`` challenge, a ``request_uri`` inside);
            ``unsupported_response_type``; ``invalid_scope`` (nothing known asked for);
            ``invalid_authorization_details``; ``invalid_dpop_proof`` / ``use_dpop_nonce``.
        :return: ``{"request_uri": …, "expires_in": …}``.
        """
        client_id = _string_field(form, "client_id", max_len=512)
        client = await self._client(client_id, context, now)
        if client is not None:
            client_id = client.client_id
        if not client_id:
            raise _err("invalid_request", "client_id is required")
        if "request_uri" in form:
            raise _err("invalid_request", "a pushed authorization request must not contain request_uri")
        if form.get("response_type") != "code":
            raise _err("unsupported_response_type", "response_type must be code")
        redirect_uri = _check_redirect_uri(_string_field(form, "redirect_uri"))
        # HAIP 1.0 §4 (FAPI 2.0): PKCE with S256; plain is never accepted.
        if form.get("code_challenge_method") != "S256":
            raise _err("invalid_request", "code_challenge_method must be S256")
        challenge = form.get("code_challenge")
        if not isinstance(challenge, str) or _CODE_CHALLENGE.fullmatch(challenge) is None:
            raise _err("invalid_request", "code_challenge must be a base64url SHA-256 value")
        state = _string_field(form, "state", max_len=512)
        if state is not None and URL_SAFE.fullmatch(state) is None:
            raise _err("invalid_request", "state must be URL-safe ASCII")
        scopes, details = self._requested(form)
        if not scopes and not details:
            raise _err("invalid_scope", "no credential this issuer offers is asked for (scope, authorization_details)")
        # RFC 9449 §10: a proof at the PAR endpoint binds the code to its key; it is optional there.
        dpop_jkt = await self._dpop_jkt(context, self.par_endpoint, now, bound=None, optional=True)
        given_jkt = form.get("dpop_jkt")
        if given_jkt is not None:
            if dpop_jkt is not None and given_jkt != dpop_jkt:
                raise _err("invalid_dpop_proof", "dpop_jkt differs from the key of the DPoP proof")
            dpop_jkt = given_jkt
        request_uri = PAR_REQUEST_URI_PREFIX + random_token(self._randomness)
        record = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "state": state,
            "issuer_state": _string_field(form, "issuer_state", max_len=512),
            "scopes": list(scopes),
            "details": list(details),
            "dpop_jkt": dpop_jkt,
        }
        await self._store.put("vci_par", request_uri, record, expires_at=now + self.par_ttl)
        return {"request_uri": request_uri, "expires_in": int(self.par_ttl.total_seconds())}

    # -- authorization endpoint

    async def authorization_request(self, query: Mapping[str, str], *, now: datetime) -> AuthorizationSession:
        """Start the authorization for a pushed request (``GET /authorize?client_id=…&request_uri=…``).

        The ``request_uri`` is single use; everything else comes from the pushed request (RFC 9126 §4).

        :raises ProtocolError: (``invalid_request``) without a pushed request, for an unknown,
            expired or used ``request_uri``, or another ``client_id``; ``invalid_request_uri``.
        :return: the session to authenticate the resident for.
        """
        client_id, request_uri = query.get("client_id"), query.get("request_uri")
        if not client_id or not request_uri:
            raise _err("invalid_request", "this server requires pushed authorization requests (client_id, request_uri)")
        if not request_uri.startswith(PAR_REQUEST_URI_PREFIX) or len(request_uri) > 256:
            raise _err("invalid_request_uri", "request_uri is not one this server issued")
        record = await self._store.take("vci_par", request_uri, now=now)
        if record is None:
            raise _err("invalid_request_uri", "the request_uri is unknown, expired or already used")
        if record["client_id"] != client_id:
            raise _err("invalid_request", "client_id differs from the pushed request's")
        session_id = random_token(self._randomness)
        expires = now + self.session_ttl
        await self._store.put("vci_session", session_id, record, expires_at=expires)
        configs = tuple(dict.fromkeys([*record["details"], *record["scopes"]]))
        return AuthorizationSession(session_id, client_id, configs, record.get("issuer_state"), expires)

    def _redirect(self, redirect_uri: str, params: Mapping[str, str | None]) -> str:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"

    async def authorize(self, session_id: str, claims: Mapping[str, Any], *, now: datetime) -> str:
        """The resident was authenticated: issue the code and return where to redirect the browser.

        :param claims: the claims to issue (from the resident registry, the login), JSON values.
        :raises ProtocolError: (``invalid_request``) for an unknown, expired or used session.
        :return: the redirect URI with ``code``, ``state`` and ``iss`` (RFC 9207).
        """
        record = await self._store.take("vci_session", session_id, now=now)
        if record is None:
            raise _err("invalid_request", "the authorization session is unknown, expired or finished")
        code = random_token(self._randomness)
        record = {**record, "claims": dict(claims)}
        await self._store.put("vci_authz_code", code, record, expires_at=now + self.code_ttl)
        params = {"code": code, "state": record.get("state"), "iss": self.issuer}
        return self._redirect(record["redirect_uri"], params)

    async def deny(self, session_id: str, *, now: datetime, error: str = "access_denied") -> str:
        """The resident could not be authenticated or declined: the error redirect (RFC 6749 §4.1.2.1).

        :raises ProtocolError: (``invalid_request``) for an unknown, expired or used session.
        """
        if URL_SAFE.fullmatch(error) is None:
            raise InvalidInputError("error must be an ASCII error code")
        record = await self._store.take("vci_session", session_id, now=now)
        if record is None:
            raise _err("invalid_request", "the authorization session is unknown, expired or finished")
        params = {"error": error, "state": record.get("state"), "iss": self.issuer}
        return self._redirect(record["redirect_uri"], params)

    # -- token endpoint

    async def token(
        self, form: Mapping[str, str], *, now: datetime, context: RequestContext = NO_CONTEXT
    ) -> TokenResponse:
        """Handle a Token Request: Pre-Authorized Code, Authorization Code or Refresh Token grant.

        :raises ProtocolError: ``unsupported_grant_type``; ``invalid_client``; ``invalid_request``;
            ``invalid_grant`` (unknown, expired or used code, wrong ``tx_code``, wrong PKCE verifier,
            another redirect_uri or client); ``invalid_dpop_proof`` / ``use_dpop_nonce``.
        :return: the tokens.
        """
        grant_type = form.get("grant_type")
        if grant_type == PRE_AUTHORIZED_GRANT:
            return await self._pre_authorized(form, now, context)
        if grant_type == AUTHORIZATION_CODE_GRANT:
            return await self._authorization_code(form, now, context)
        if grant_type == REFRESH_TOKEN_GRANT:
            return await self._refresh(form, now, context)
        raise _err("unsupported_grant_type", "the grant is authorization_code, pre-authorized_code or refresh_token")

    async def _pre_authorized(self, form: Mapping[str, str], now: datetime, context: RequestContext) -> TokenResponse:
        client = await self._client(form.get("client_id"), context, now)
        code = form.get("pre-authorized_code", "")
        record = await self._grant("vci_code", code, "pre-authorized code", now, field="pre-authorized_code")
        expected = record.get("tx_code")
        given = form.get("tx_code")
        if expected is None and given is not None:
            raise _err("invalid_request", "a tx_code was sent but this offer does not use one")
        if expected is not None:
            if given is None:
                raise _err("invalid_request", "this offer requires the tx_code sent to the resident")
            if not hmac.compare_digest(given.encode("utf-8"), str(expected).encode("utf-8")):
                attempts = await self._store.incr("vci_tx_attempts", code, expires_at=now + self.offer_ttl, now=now)
                if attempts >= self.max_tx_code_attempts:
                    await self._store.take("vci_code", code, now=now)
                    raise _err("invalid_grant", "wrong tx_code; too many attempts, the offer is no longer valid")
                raise _err("invalid_grant", "wrong tx_code")
        jkt = await self._dpop_jkt(context, self.token_endpoint, now, bound=None)
        # Single use (§4.1.1): the atomic take decides between two racing requests.
        record = await self._grant("vci_code", code, "pre-authorized code", now, field="pre-authorized_code", take=True)
        configs = [str(record["configuration_id"])]
        return await self._issue_tokens(
            configs=configs,
            claims=record["claims"],
            details=self._token_details(form, configs),
            dpop_jkt=jkt,
            client_id=client.client_id if client else None,
            grant_id=random_token(self._randomness, 16),
            now=now,
            # Re-issuance (new copies for fresh device keys) with a refresh token only when the
            # issuer allows it and the token is DPoP-bound: a bearer refresh token of a public client
            # would let whoever copies it mint credentials (RFC 9449 §5).
            refresh=self.refresh_pre_authorized and jkt is not None,
        )

    def _token_details(self, form: Mapping[str, str], allowed: Sequence[str]) -> list[str]:
        if "authorization_details" not in form:
            return []
        _, details = self._requested(form)
        if not set(details) <= set(allowed):
            raise _err("invalid_authorization_details", "authorization_details asks for more than was granted")
        return list(details)

    async def _authorization_code(
        self, form: Mapping[str, str], now: datetime, context: RequestContext
    ) -> TokenResponse:
        client = await self._client(form.get("client_id"), context, now)
        code, verifier = form.get("code"), form.get("code_verifier")
        if not code:
            raise _err("invalid_request", "code is missing")
        if not isinstance(verifier, str) or _CODE_VERIFIER.fullmatch(verifier) is None:
            raise _err("invalid_request", "code_verifier is missing or malformed (RFC 7636 §4.1)")
        # The DPoP proof first (a use_dpop_nonce retry must find the code still there); then the code
        # is taken, single use whatever happens next: a failed attempt burns it (RFC 6749 §4.1.2).
        found = await self._grant("vci_authz_code", code, "authorization code", now, field="code")
        jkt = await self._dpop_jkt(context, self.token_endpoint, now, bound=found.get("dpop_jkt"))
        record = await self._grant("vci_authz_code", code, "authorization code", now, field="code", take=True)
        client_id = _same_client(client, form, record["client_id"], "authorization code")
        if form.get("redirect_uri") != record["redirect_uri"]:
            raise _err("invalid_grant", "redirect_uri differs from the authorization request's")
        if not hmac.compare_digest(pkce_challenge(verifier), str(record["code_challenge"])):
            raise _err("invalid_grant", "the code_verifier does not match the code_challenge (PKCE)")
        configs = list(dict.fromkeys([*record["details"], *record["scopes"]]))
        details = list(record["details"])
        if "authorization_details" in form:
            details = self._token_details(form, configs)
        return await self._issue_tokens(
            configs=configs,
            claims=record["claims"],
            details=details,
            dpop_jkt=jkt,
            client_id=client_id,
            grant_id=random_token(self._randomness, 16),
            now=now,
            refresh=True,
        )

    async def _refresh(self, form: Mapping[str, str], now: datetime, context: RequestContext) -> TokenResponse:
        client = await self._client(form.get("client_id"), context, now)
        token = form.get("refresh_token", "")
        found = await self._grant("vci_refresh", token, "refresh token", now, field="refresh_token")
        if found.get("client_id") is not None:
            _same_client(client, form, found["client_id"], "refresh token")
        # RFC 9449 §5: a refresh token issued to a public client is bound to the same DPoP key.
        jkt = await self._dpop_jkt(context, self.token_endpoint, now, bound=found.get("dpop_jkt"))
        # Rotation (RFC 9700 §4.14.2): a refresh token is used once; the answer carries the next one.
        record = await self._grant("vci_refresh", token, "refresh token", now, field="refresh_token", take=True)
        return await self._issue_tokens(
            configs=list(record["configs"]),
            claims=record["claims"],
            details=list(record["details"]),
            dpop_jkt=jkt,
            client_id=record.get("client_id"),
            grant_id=str(record["grant_id"]),
            now=now,
            refresh=True,
        )

    async def _grant(
        self, namespace: str, value: str, what: str, now: datetime, *, field: str, take: bool = False
    ) -> dict[str, Any]:
        """The stored grant ``value`` (a code or refresh token, the form's ``field``): read, or with
        ``take`` removed atomically, so that only one of two racing requests gets it.

        :raises ProtocolError: ``invalid_request`` if the form has no ``field``; ``invalid_grant``
            if it is unknown, expired or already used.
        """
        if not value:
            raise _err("invalid_request", f"{field} is missing")
        record = await (self._store.take if take else self._store.get)(namespace, value, now=now)
        if record is None:
            raise _err("invalid_grant", f"the {what} is unknown, expired or already used")
        return record

    async def _issue_tokens(
        self,
        *,
        configs: Sequence[str],
        claims: Mapping[str, Any],
        details: Sequence[str],
        dpop_jkt: str | None,
        client_id: str | None,
        grant_id: str,
        now: datetime,
        refresh: bool,
    ) -> TokenResponse:
        identifiers = {f"{config}:{random_token(self._randomness, 12)}": config for config in details}
        access_token = random_token(self._randomness)
        record = {
            "configuration_ids": list(configs),
            "claims": dict(claims),
            "credential_identifiers": identifiers,
            "dpop_jkt": dpop_jkt,
            "client_id": client_id,
            "grant_id": grant_id,
        }
        await self._store.put("vci_access_token", access_token, record, expires_at=now + self.access_token_ttl)
        refresh_token = None
        if refresh:
            refresh_token = random_token(self._randomness)
            await self._store.put(
                "vci_refresh",
                refresh_token,
                {
                    "configs": list(configs),
                    "claims": dict(claims),
                    "details": list(details),
                    "dpop_jkt": dpop_jkt,
                    "client_id": client_id,
                    "grant_id": grant_id,
                },
                expires_at=now + self.refresh_token_ttl,
            )
        authorization_details = tuple(
            {
                "type": OPENID_CREDENTIAL,
                "credential_configuration_id": config,
                "credential_identifiers": [i for i, c in identifiers.items() if c == config],
            }
            for config in details
        )
        return TokenResponse(
            access_token,
            "DPoP" if dpop_jkt is not None else "Bearer",
            int(self.access_token_ttl.total_seconds()),
            refresh_token,
            authorization_details,
        )

    # -- protected endpoints

    async def access(self, context: RequestContext, *, url: str, now: datetime) -> AccessGrant:
        """Check the access token of a request to a protected endpoint (RFC 6750, RFC 9449 §7).

        A DPoP-bound token must come as ``Authorization: DPoP <token>`` with a proof of its key for
        this method and URL carrying the token's hash; a Bearer token must not be sent as DPoP.

        :raises ProtocolError: ``invalid_token`` (missing, unknown, expired, wrong scheme);
            ``invalid_dpop_proof`` / ``use_dpop_nonce``.
        """
        scheme, _, token = (context.authorization or "").partition(" ")
        token = token.strip()
        if not token or len(token) > 1024 or scheme.lower() not in ("bearer", "dpop"):
            raise _err("invalid_token", "an access token is required (Authorization: DPoP … or Bearer …)")
        record = await self._store.get("vci_access_token", token, now=now)
        if record is None:
            raise _err("invalid_token", "the access token is unknown or expired")
        jkt = record.get("dpop_jkt")
        if jkt is not None:
            if scheme.lower() != "dpop":
                # RFC 9449 §7.2: a DPoP-bound token sent as a Bearer token is refused; the challenge
                # names the DPoP scheme the token needs.
                raise ProtocolError(
                    "this access token is DPoP-bound; send it as Authorization: DPoP with a DPoP proof",
                    code="invalid_token",
                    details={"auth_scheme": "DPoP"},
                )
            await self.dpop.check(
                context.dpop, method=context.method, url=url, now=now, access_token=token, bound_jkt=jkt
            )
        elif scheme.lower() != "bearer":
            raise _err("invalid_token", "this access token is not DPoP-bound; send it as Authorization: Bearer")
        configs = record.get("configuration_ids") or [record["configuration_id"]]  # older records: one config
        return AccessGrant(
            access_token=token,
            grant_id=str(record.get("grant_id") or token),
            configuration_ids=tuple(configs),
            claims=record["claims"],
            credential_identifiers=dict(record.get("credential_identifiers") or {}),
            dpop_jkt=jkt,
        )
