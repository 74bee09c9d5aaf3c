"""The city's OpenID Provider, where logging in is presenting the resident credential.

The OAuth 2.0 / OpenID Connect plumbing (request validation, client authentication with
``client_secret_basic`` and ``private_key_jwt``, the authorization code grant with PKCE, refresh
tokens, error responses, RP-initiated logout's checks) is authlib's: this module gives authlib its
storage and its users. authlib's hooks are synchronous and the provider's state is not, so each call
first loads what authlib will ask for (the client, the code, the refresh token), lets authlib decide,
then stores what it produced. Only then is the answer sent.

The login itself is an OpenID4VP request from the provider, as a verifier, to the resident's wallet,
under a registration the city signed for this relying party (:func:`~vcsdk.sso.login_registration`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.grants.util import create_half_hash
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from vcsdk._b64 import b64url_decode
from vcsdk.credentials import IssuerKeyResolver
from vcsdk.errors import ConflictError, InvalidInputError, ProtocolError, VcsdkError
from vcsdk.keys import Key, decode_jws, sign_jws, verify_jws
from vcsdk.oid4vc import PresentationRequest, PresentationResult, PresentedCredential, Randomness, StateStore, Verifier
from vcsdk.oid4vc._common import SYSTEM_RANDOMNESS, random_token
from vcsdk.oid4vc._verifier import PresentationVerifyFn
from vcsdk.receipts import issue_access_receipt, presentation_hash, verify_consent_record_resolved
from vcsdk.sso._claims import LOGIN_CLAIM, ClaimPath, allowed_scopes, claim_paths, pairwise_subject, project_claims
from vcsdk.sso._client import LOGIN_PURPOSE, ClientStore, IdTokenAlg, SsoClient

__all__ = ["LoginStarted", "LoginSubject", "OAuthResponse", "OpenIDProvider", "SubjectSource"]

QUERY_ID = "resident"
#: The algorithms the provider signs ID tokens with: ES256 with the city's P-256 key (the default),
#: RS256 with the provider's own RSA key (OpenID Connect Discovery 1.0 §3 requires it be offered).
SIGNING_ALGS = ("ES256", "RS256")
#: The smallest RSA modulus the provider signs with (bits).
RSA_MIN_BITS = 2048
#: The size of the RSA key the provider makes when it is given none (bits).
RSA_BITS = 3072
_ASSERTION_ALGS = ["ES256", "ES384", "EdDSA", "RS256", "PS256"]
_BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def _digest(value: str) -> str:
    """Codes and tokens are kept by their SHA-256 only."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _rand(randomness: Randomness, nbytes: int = 32) -> str:
    return random_token(randomness, nbytes)


@dataclass(frozen=True, slots=True)
class LoginSubject:
    """Who presented: the resident's stable identifier at the city (never shown to a service) and a
    reference to the credential presented (to check it again on refresh)."""

    local_id: str
    credential: str


class SubjectSource(Protocol):
    """The city's side of a login: who a verified credential belongs to, and whether it is still valid.

    The provider is run by the city that issued the credential, so it can look the credential up
    (the wallet server finds it by its status list entry) and refuse it the moment it is revoked,
    without waiting for a status list cache to expire.
    """

    async def subject(self, credential: PresentedCredential) -> LoginSubject:
        """:raises CredentialRevokedError: (or another ``VerificationError``) if it may not log in."""
        ...

    async def check(self, credential: str) -> None:
        """:raises CredentialRevokedError: if the credential was revoked (or suspended) since."""
        ...


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    """An HTTP answer of an OAuth endpoint: a JSON body, or a redirect (``location``)."""

    status: int
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


@dataclass(frozen=True, slots=True)
class LoginStarted:
    """A login waiting for the resident's wallet: show :attr:`request`'s QR code and deep link.

    :ivar login_id: names the login in the page's URLs.
    :ivar browser_secret: the browser's proof that it started this login (a cookie): only it can
        finish the login, so a login started by someone else cannot be finished in a victim's browser.
    """

    login_id: str
    browser_secret: str = field(repr=False)
    request: PresentationRequest
    client_name: str
    claims: tuple[str, ...]
    expires_at: datetime


# -- what authlib sees ---------------------------------------------------------------------------


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: Mapping[str, str], data: Mapping[str, str]) -> None:
        super().__init__(method, uri, headers=dict(headers))
        self._values = dict(data)
        self.payload = BasicOAuth2Payload(self._values)

    @property
    def args(self) -> dict[str, str]:
        return self._values

    @property
    def form(self) -> dict[str, str]:
        return self._values


class _Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, client: SsoClient, scopes: frozenset[str]) -> None:
        self.client = client
        self.client_id = client.client_id
        self.scopes = scopes

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # OpenID Connect: redirect_uri is required

    def get_allowed_scope(self, scope: str | None) -> str | None:
        requested = scope_to_list(scope) or []
        if "openid" not in requested or not set(requested) <= self.scopes:
            return None  # invalid_scope: beyond the registration, or not OpenID Connect
        return " ".join(dict.fromkeys(requested))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris  # exact match (OAuth 2.0 Security BCP §4.1)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.client.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class _User:
    """The resident as one relying party knows them after a login."""

    sub: str
    claims: dict[str, Any]
    acr: str | None
    auth_time: int
    credential: str
    sid: str

    def get_user_id(self) -> str:
        return self.sub

    def to_json(self) -> dict[str, Any]:
        return {"sub": self.sub, "claims": self.claims, "acr": self.acr, "auth_time": self.auth_time,
                "credential": self.credential, "sid": self.sid}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> _User:
        return cls(str(value["sub"]), dict(value["claims"]), value.get("acr"), int(value["auth_time"]),
                   str(value["credential"]), str(value["sid"]))


class _Code(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, value: Mapping[str, Any]) -> None:
        self.value = dict(value)
        self.code_challenge = value.get("code_challenge")
        self.code_challenge_method = value.get("code_challenge_method")

    def get_redirect_uri(self) -> str:
        return str(self.value["redirect_uri"])

    def get_scope(self) -> str:
        return str(self.value["scope"])

    def get_nonce(self) -> str | None:
        nonce = self.value.get("nonce")
        return str(nonce) if isinstance(nonce, str) else None

    def get_auth_time(self) -> int:
        return int(self.value["user"]["auth_time"])

    def get_acr(self) -> str | None:
        acr = self.value["user"].get("acr")
        return str(acr) if isinstance(acr, str) else None

    def get_amr(self) -> list[str]:
        return ["vc"]


class _RefreshToken:
    def __init__(self, value: Mapping[str, Any]) -> None:
        self.value = dict(value)

    def check_client(self, client: _Client) -> bool:
        return bool(self.value["client_id"] == client.client_id)

    def get_scope(self) -> str:
        return str(self.value["scope"])

    def is_expired(self) -> bool:
        return False  # the store drops it when it expires

    def is_revoked(self) -> bool:
        return False  # taken from the store: used once


class _S256(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only, required of every client (OAuth 2.0 Security BCP §2.1.1)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("code_challenge is required (PKCE with S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class _Session:
    """One request's view for authlib: what was loaded before, what it produced after."""

    def __init__(self, provider: OpenIDProvider, clients: Mapping[str, SsoClient], now: datetime) -> None:
        self.provider = provider
        self.clients = {cid: _Client(c, allowed_scopes(c.service, provider.vct)) for cid, c in clients.items()}
        self.now = now
        self.code: tuple[str, Mapping[str, Any]] | None = None
        self.refresh: tuple[str, Mapping[str, Any]] | None = None
        self.saved_codes: list[dict[str, Any]] = []
        self.saved_tokens: list[tuple[dict[str, Any], _User, str]] = []
        self.assertion_jti: str | None = None


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]

    @property
    def session(self) -> _Session:
        return self.server.session  # type: ignore[no-any-return]

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        user: _User = request.user
        self.session.saved_codes.append({
            "code": code, "client_id": request.client.client_id, "redirect_uri": data.get("redirect_uri"),
            "scope": request.scope, "nonce": data.get("nonce"), "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method"), "user": user.to_json(),
        })

    def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
        loaded = self.session.code
        if loaded is None or loaded[0] != _digest(code) or loaded[1]["client_id"] != client.client_id:
            return None
        return _Code(loaded[1])

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        pass  # taken from the store before authlib saw it: a code works once

    def authenticate_user(self, authorization_code: _Code) -> _User:
        return _User.from_json(authorization_code.value["user"])


class _RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _RefreshToken | None:
        loaded = self.server.session.refresh
        if loaded is None or loaded[0] != _digest(refresh_token):
            return None
        return _RefreshToken(loaded[1])

    def authenticate_user(self, refresh_token: _RefreshToken) -> _User:
        return _User.from_json(refresh_token.value["user"])

    def revoke_old_credential(self, refresh_token: _RefreshToken) -> None:
        pass  # taken from the store: rotated


class _OpenIDCode(OpenIDCode):  # type: ignore[misc]
    def __init__(self, provider: OpenIDProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False  # each login is a fresh presentation; the nonce goes back to the client unchanged

    def generate_user_info(self, user: _User, scope: str) -> dict[str, Any]:
        return {"sub": user.sub, **user.claims}

    def encode_id_token(self, token: Mapping[str, Any], request: Any) -> str:
        user: _User = request.user
        code: _Code = request.authorization_code
        return self.provider.id_token(
            user, client_id=request.client.client_id, nonce=code.get_nonce(), access_token=token.get("access_token"),
            now=self.provider_now(request), alg=request.client.client.id_token_signed_response_alg,
        )

    def provider_now(self, request: Any) -> datetime:
        return request.session_now  # type: ignore[no-any-return]


class _PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, session: _Session) -> None:
        super().__init__(validate_jti=True)
        self.session = session

    def get_audiences(self) -> list[str]:
        p = self.session.provider
        return [p.endpoint("token"), p.issuer]

    def validate_jti(self, claims: Mapping[str, Any], jti: str) -> bool:
        self.session.assertion_jti = f"{claims['sub']}:{jti}"  # checked for replay once authlib is done
        return True

    def resolve_client_public_key(self, client: _Client) -> Any:
        from joserfc.jwk import KeySet

        return KeySet.import_key_set(dict(client.client.jwks or {}))  # type: ignore[arg-type]

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        # The same checks as authlib's, with an explicit allow-list of algorithms (never none or HS*).
        try:
            token = jose_jwt.decode(assertion, resolve_key, algorithms=_ASSERTION_ALGS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="the client assertion does not verify") from exc
        self.verify_claims(token.claims)
        return token.claims


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, session: _Session) -> None:
        super().__init__(scopes_supported=None)
        self.session = session
        provider = session.provider
        self.register_token_generator("default", self._generate_token)
        self.register_client_auth_method("private_key_jwt", _PrivateKeyJwt(session))
        self.register_grant(_CodeGrant, [_S256(required=True), _OpenIDCode(provider)])
        self.register_grant(_RefreshGrant)

    def query_client(self, client_id: str) -> _Client | None:
        return self.session.clients.get(client_id) if isinstance(client_id, str) else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        self.session.saved_tokens.append((token, request.user, request.client.client_id))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Sequence[tuple[str, str]]) -> OAuthResponse:
        out = dict(headers)
        out.setdefault("Cache-Control", "no-store")
        return OAuthResponse(status, body if isinstance(body, Mapping) else None, out)

    def _generate_token(self, grant_type: str, client: _Client, user: Any = None, scope: str | None = None,
                        expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        p = self.session.provider
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": _rand(p.randomness),
            "expires_in": int(p.access_ttl.total_seconds()),
            "scope": scope,
        }
        if include_refresh_token:
            token["refresh_token"] = _rand(p.randomness)
        return token


# -- the provider ---------------------------------------------------------------------------------


class OpenIDProvider:
    """The city's OpenID Provider (OpenID Connect Core 1.0 with Discovery 1.0, RP-initiated logout
    and back-channel logout tokens), whose login is an OpenID4VP presentation of the resident
    credential. I/O-free apart from its ports: the state store, the client store, the subject source
    and the DID resolver; the server mounts its endpoints (``wallet_server`` does, under ``/sso``).

    :param issuer: the provider's issuer URL (https; http only on the loopback interface); every
        endpoint lives under it.
    :param signer: the city's P-256 key: it signs ID tokens (ES256), OpenID4VP requests and access
        receipts; its ``kid`` is a DID URL of ``did``.
    :param did: the city's DID: the OpenID4VP client and the controller in consent records.
    :param wallet_did: the DID that signs the residents' consent records (the wallet server's).
    :param vct: the resident credential's type.
    :param clients: where the relying parties are found.
    :param subjects: who a credential belongs to, and whether it is still valid.
    :param store: short-lived state (logins, codes, tokens); one namespace per kind.
    :param verify: checks each presentation (signature, accreditation, status, key binding).
    :param resolver: resolves the wallet's DID to check consent records.
    :param subject_secret: the provider's secret for pairwise ``sub`` values (32 bytes or more).
    :param rsa_key: the provider's RSA private key (2048 bits or more) for the clients that ask for
        RS256 ID tokens; published in the JWKS under its RFC 7638 thumbprint. ``None``: a fresh
        3072-bit key, which lasts as long as this object (a server keeps one and passes it in).
    """

    def __init__(
        self,
        *,
        issuer: str,
        signer: Key,
        did: str,
        wallet_did: str,
        vct: str,
        clients: ClientStore,
        subjects: SubjectSource,
        store: StateStore,
        verify: PresentationVerifyFn,
        resolver: IssuerKeyResolver,
        subject_secret: bytes,
        rsa_key: rsa.RSAPrivateKey | None = None,
        randomness: Randomness = SYSTEM_RANDOMNESS,
        login_ttl: timedelta = timedelta(minutes=5),
        code_ttl: timedelta = timedelta(minutes=1),
        access_ttl: timedelta = timedelta(minutes=10),
        refresh_ttl: timedelta = timedelta(days=30),
        id_token_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        if len(subject_secret) < 32:
            raise InvalidInputError("subject_secret must be at least 32 bytes")
        if signer.alg != "ES256":
            raise InvalidInputError("the provider signs with the city's P-256 key (ES256)")
        if rsa_key is None:
            rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        if not isinstance(rsa_key, rsa.RSAPrivateKey) or rsa_key.key_size < RSA_MIN_BITS:
            raise InvalidInputError(f"rsa_key must be an RSA private key of {RSA_MIN_BITS} bits or more")
        self._rsa = RSAKey.import_key(rsa_key)
        #: The ``kid`` of the RSA key: its JWK thumbprint (RFC 7638).
        self.rsa_kid = self._rsa.thumbprint()
        self.issuer = issuer.rstrip("/")
        self.signer = signer
        self.did = did
        self.wallet_did = wallet_did
        self.vct = vct
        self.clients = clients
        self.subjects = subjects
        self.store = store
        self.resolver = resolver
        self.randomness = randomness
        self._secret = subject_secret
        self.login_ttl, self.code_ttl, self.access_ttl, self.refresh_ttl, self.id_token_ttl = (
            login_ttl, code_ttl, access_ttl, refresh_ttl, id_token_ttl
        )
        self._verify = verify
        # Serves request objects and takes responses for every client's requests (they share the store).
        self.verifier = self._verifier(None, None)
        self._verifiers: dict[str, Verifier] = {}

    def __repr__(self) -> str:
        return f"OpenIDProvider(issuer={self.issuer!r})"

    def endpoint(self, name: str) -> str:
        """The URL of an endpoint under the issuer (``authorize``, ``token``, ``userinfo``, …)."""
        return f"{self.issuer}/{name}"

    def _verifier(self, registration: str | None, name: str | None) -> Verifier:
        return Verifier(
            did=self.did, signer=self.signer, response_uri=self.endpoint("oid4vp/response"),
            request_uri_base=self.endpoint("oid4vp/request"), store=self.store, verify=self._verify,
            name=name, registration=registration, request_ttl=self.login_ttl, randomness=self.randomness,
        )

    def _client_verifier(self, client: SsoClient) -> Verifier:
        key = _digest(client.login_registration)
        found = self._verifiers.get(key)
        if found is None:
            found = self._verifier(client.login_registration, client.service.name)
            if len(self._verifiers) > 1000:
                self._verifiers.clear()
            self._verifiers[key] = found
        return found

    # -- metadata -------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3), served at
        ``<issuer>/.well-known/openid-configuration``."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"),
            "userinfo_endpoint": self.endpoint("userinfo"),
            "jwks_uri": self.endpoint("jwks"),
            "end_session_endpoint": self.endpoint("logout"),
            "scopes_supported": ["openid", "profile", "address", "age", "resident"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": list(SIGNING_ALGS),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": _ASSERTION_ALGS,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                "family_name", "given_name", "birthdate", "address", "age_equal_or_over", "resident_since",
            ],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }

    def jwks(self) -> dict[str, Any]:
        """The provider's public keys (``jwks_uri``): the city's P-256 key, by its DID URL (ES256), and
        the provider's RSA key, by its RFC 7638 thumbprint (RS256)."""
        rsa_jwk = {k: v for k, v in self._rsa.as_dict(private=False).items() if k in ("kty", "n", "e")}
        return {"keys": [
            {**self.signer.public_jwk(include_kid=True), "use": "sig", "alg": self.signer.alg},
            {**rsa_jwk, "kid": self.rsa_kid, "use": "sig", "alg": "RS256"},
        ]}

    def _sign(self, claims: Mapping[str, Any], *, alg: IdTokenAlg, typ: str) -> str:
        """A JWT the provider signs: ES256 with the city's key, or RS256 with the provider's RSA key."""
        if alg == "RS256":
            header = {"alg": "RS256", "typ": typ, "kid": self.rsa_kid}
            return jose_jwt.encode(header, dict(claims), self._rsa, algorithms=["RS256"])
        return sign_jws(dict(claims), self.signer, typ=typ)

    def id_token(self, user: _User, *, client_id: str, nonce: str | None, access_token: str | None,
                 now: datetime, alg: IdTokenAlg = "ES256") -> str:
        """Sign an ID token for one client: ES256 with the city's key (the default), or RS256 with the
        provider's RSA key (the client's ``id_token_signed_response_alg``)."""
        iat = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": user.sub, "aud": client_id, "iat": iat,
            "exp": iat + int(self.id_token_ttl.total_seconds()), "auth_time": user.auth_time, "amr": ["vc"],
            "sid": user.sid,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if user.acr is not None:
            claims["acr"] = user.acr
        if access_token is not None:
            claims["at_hash"] = create_half_hash(access_token, alg).decode("ascii")
        claims.update(user.claims)
        return self._sign(claims, alg=alg, typ="JWT")

    # -- loading what authlib will ask for --------------------------------------------------------

    async def _load_clients(self, *candidates: Any) -> dict[str, SsoClient]:
        out: dict[str, SsoClient] = {}
        for client_id in candidates:
            if isinstance(client_id, str) and 0 < len(client_id) <= 128 and client_id not in out:
                found = await self.clients.get_client(client_id)
                if found is not None:
                    out[client_id] = found
        return out

    def _session(self, clients: Mapping[str, SsoClient], now: datetime) -> tuple[_Session, _Server]:
        session = _Session(self, clients, now)
        return session, _Server(session)

    # -- authorization endpoint ---------------------------------------------------------------------

    async def authorize(self, params: Mapping[str, str], *, now: datetime) -> LoginStarted | OAuthResponse:
        """Validate an authentication request (OIDC Core §3.1.2.1) and start the login.

        :param params: the request's query (or form) parameters.
        :return: the login to show (a QR code and a same-device link), or an OAuth error: a
            redirect to the client's ``redirect_uri`` when it is registered (``invalid_scope``,
            ``invalid_request``, …), a 400 answer when it is not or the client is unknown.
        """
        _check_params(params)
        clients = await self._load_clients(params.get("client_id"))
        _, server = self._session(clients, now)
        request = _Request("GET", self.endpoint("authorize"), {}, params)
        try:
            grant = server.get_consent_grant(request)
        except OAuth2Error as error:
            return server.handle_error_response(request, error)  # type: ignore[no-any-return]
        client: SsoClient = clients[params["client_id"]]
        scopes = scope_to_list(request.scope) or []
        paths = (*claim_paths(client.service, self.vct, scopes), LOGIN_CLAIM)
        query = {
            "credentials": [{
                "id": QUERY_ID, "format": "dc+sd-jwt", "meta": {"vct_values": [self.vct]},
                "claims": [{"path": list(p)} for p in paths],
            }]
        }
        try:
            created = await self._client_verifier(client).create_request(query, purpose=LOGIN_PURPOSE, now=now)
        except VcsdkError as exc:
            # The city's login registration for this client does not cover the scopes (it changed):
            # the client's redirect_uri was checked above, so the error goes back there.
            refused = InvalidRequestError(f"the login cannot be asked for: {exc.message}")
            refused.redirect_uri, refused.state = grant.redirect_uri, params.get("state")
            return server.handle_error_response(request, refused)  # type: ignore[no-any-return]
        login_id = _rand(self.randomness, 16)
        browser = _rand(self.randomness)
        deadline = now + self.login_ttl
        login = {
            "client_id": client.client_id, "params": dict(params), "paths": [list(p) for p in paths],
            "browser": _digest(browser), "vp_state": created.state, "state": "pending",
            "deadline": int(deadline.timestamp()), "link": created.deep_link, "client_name": client.service.name,
        }
        # Kept past its deadline, so that a late browser is told the login expired (and the client gets
        # an error at its redirect_uri) rather than an unknown id.
        await self.store.put("sso_login", login_id, login, expires_at=deadline + timedelta(minutes=10))
        await self.store.put("sso_vp", created.state, {"login_id": login_id}, expires_at=deadline)
        names = _claim_names(paths)
        return LoginStarted(login_id, browser, created, client.service.name, names, deadline)

    # -- the wallet's answer -----------------------------------------------------------------------

    async def _login_of(self, vp_state: str, now: datetime) -> tuple[str, dict[str, Any]]:
        link = await self.store.get("sso_vp", vp_state, now=now)
        login = None if link is None else await self.store.get("sso_login", str(link["login_id"]), now=now)
        if link is None or login is None or int(login["deadline"]) < int(now.timestamp()):
            raise ProtocolError("the login request expired; start the login again", code="invalid_request")
        return str(link["login_id"]), login

    async def _replace(self, login_id: str, login: Mapping[str, Any], now: datetime) -> None:
        await self.store.take("sso_login", login_id, now=now)
        deadline = datetime.fromtimestamp(int(login["deadline"]), now.tzinfo)
        await self.store.put("sso_login", login_id, login, expires_at=deadline + timedelta(minutes=10))

    async def presentation_verified(self, result: PresentationResult, *, now: datetime) -> dict[str, Any]:
        """The ``on_result`` hook of the verifier routes: the wallet's presentation passed every check
        (signature, accreditation, status, key binding); the city checks the credential itself and
        ends the login.

        :raises CredentialRevokedError: the credential was revoked (the login fails).
        :raises ProtocolError: the login expired or was already answered.
        :return: what the wallet gets back: where to fetch the access receipt.
        """
        login_id, login = await self._login_of(result.state, now)
        if login["state"] != "pending":
            raise ProtocolError("this login was already answered", code="invalid_request")
        if not result.ok:
            await self._replace(login_id, {**login, "state": "failed", "error": result.error or "access_denied"}, now)
            return {}
        (credential,) = result.credentials[QUERY_ID]
        try:
            who = await self.subjects.subject(credential)
        except VcsdkError as exc:
            await self._replace(login_id, {**login, "state": "failed", "error": exc.code}, now)
            raise
        client = await self.clients.get_client(str(login["client_id"]))
        if client is None:
            raise ProtocolError("the service is no longer registered", code="invalid_request")
        paths: list[ClaimPath] = [tuple(p) for p in login["paths"] if tuple(p) != LOGIN_CLAIM]
        claims = project_claims(credential.disclosed, paths)
        level = project_claims(credential.disclosed, [LOGIN_CLAIM]).get("verification", {}).get("level")
        user = _User(
            sub=pairwise_subject(self._secret, sector=client.service.service_did, local_id=who.local_id),
            claims=claims, acr=level if isinstance(level, str) else None, auth_time=int(now.timestamp()),
            credential=who.credential, sid=login_id,
        )
        done = {**login, "state": "done", "user": user.to_json(),
                "presentation_hash": presentation_hash(credential.presentation)}
        await self._replace(login_id, done, now)
        return {"receipt_uri": self.endpoint(f"receipts/{login_id}")}

    async def presentation_failed(self, result: PresentationResult, *, now: datetime) -> None:
        """The ``on_failure`` hook: a presentation failed a check; the login fails with its code."""
        try:
            login_id, login = await self._login_of(result.state, now)
        except VcsdkError:
            return
        if login["state"] == "pending":
            await self._replace(login_id, {**login, "state": "failed", "error": result.error or "access_denied"}, now)

    async def access_receipt(self, login_id: str, consent_record: str, *, now: datetime) -> str:
        """Every login is an access: check the consent record the wallet signed for this login and
        answer with an access receipt the provider signs (the consent names the relying party as
        the recipient of the claims).

        :raises ProtocolError: (``invalid_request``) for an unknown login or a record of another.
        :raises VerificationError: the record does not verify with the wallet's key.
        """
        login = await self.store.get("sso_login", login_id, now=now)
        if login is None or login.get("state") != "done":
            raise ProtocolError("no finished login with this id", code="invalid_request")
        consent = await verify_consent_record_resolved(consent_record, wallet_did=self.wallet_did,
                                                       resolver=self.resolver)
        if consent.controller.did != self.did or consent.presentation_hash != login["presentation_hash"]:
            raise ProtocolError("the consent record is not the one of this login", code="invalid_request")
        return issue_access_receipt(
            self.signer, consent=consent, receipt_id=f"sso-{_rand(self.randomness, 12)}",
            claims=consent.claims_disclosed, purpose=LOGIN_PURPOSE, now=now,
        )

    # -- the browser --------------------------------------------------------------------------------

    async def _browser_login(self, login_id: str, browser_secret: str | None, now: datetime) -> dict[str, Any]:
        login = await self.store.get("sso_login", login_id, now=now)
        if login is None or not isinstance(browser_secret, str) or _digest(browser_secret) != login["browser"]:
            raise ProtocolError("no such login in this browser; start the login again from the service",
                                code="invalid_request")
        return login

    async def login_state(self, login_id: str, browser_secret: str | None, *, now: datetime) -> dict[str, Any]:
        """What the login page polls: ``pending`` (with the request's ``link``, ``client_name`` and
        ``claims``), ``done``, ``failed`` (with ``error``) or ``expired``.

        :raises ProtocolError: an unknown login, or another browser's.
        """
        login = await self._browser_login(login_id, browser_secret, now)
        state = login["state"]
        if state == "pending" and int(login["deadline"]) < int(now.timestamp()):
            state = "expired"
        out: dict[str, Any] = {"state": state}
        if state == "failed":
            out["error"] = str(login.get("error"))
        if state == "pending":  # what the login page shows: who asks, for what, and the request
            out.update(link=login["link"], client_name=login["client_name"],
                       claims=list(_claim_names(tuple(p) for p in login["paths"])))
        return out

    async def finish(self, login_id: str, browser_secret: str | None, *, now: datetime) -> OAuthResponse:
        """The browser comes back once the wallet answered: send it to the client's ``redirect_uri``
        with an authorization code, or with the error that ended the login (``access_denied``).

        :raises ProtocolError: an unknown login or another browser's; (``authorization_pending``) the
            wallet has not answered yet.
        """
        login = await self._browser_login(login_id, browser_secret, now)
        expired = login["state"] == "pending" and int(login["deadline"]) < int(now.timestamp())
        if login["state"] == "pending" and not expired:
            raise ProtocolError("the wallet has not answered yet", code="authorization_pending")
        if await self.store.take("sso_login", login_id, now=now) is None:
            raise ProtocolError("this login was already finished", code="invalid_request")
        params: dict[str, str] = dict(login["params"])
        clients = await self._load_clients(params.get("client_id"))
        session, server = self._session(clients, now)
        request = _Request("GET", self.endpoint("authorize"), {}, params)
        try:
            grant = server.get_consent_grant(request)
        except OAuth2Error as error:
            return server.handle_error_response(request, error)  # type: ignore[no-any-return]
        if login["state"] != "done":
            reason = "the login request expired" if expired else f"the login failed: {login.get('error')}"
            return OAuthResponse(302, None, {"Location": _with_query(grant.redirect_uri, {
                "error": "access_denied", "error_description": reason, "state": params.get("state")})})
        user = _User.from_json(login["user"])
        response: OAuthResponse = server.create_authorization_response(request, grant_user=user, grant=grant)
        for saved in session.saved_codes:
            code = saved.pop("code")
            await self.store.put("sso_code", _digest(code), saved, expires_at=now + self.code_ttl)
        return response

    # -- token endpoint -----------------------------------------------------------------------------

    async def token(self, form: Mapping[str, str], headers: Mapping[str, str], *, now: datetime) -> OAuthResponse:
        """The token endpoint: the authorization code (with the PKCE verifier) or a refresh token for
        tokens; the client authenticates with ``client_secret_basic`` or ``private_key_jwt``.

        A code works once (a second use is ``invalid_grant``); a refresh token works once and is
        replaced; a refresh for a credential revoked since the login is ``invalid_grant``.
        """
        _check_params(form)
        try:
            basic_id, _ = extract_basic_authorization(headers)
        except (ValueError, UnicodeError):
            return _error(401, "invalid_client", "the Authorization header is not valid Basic authentication")
        assertion_sub = _peek_sub(form.get("client_assertion"))
        clients = await self._load_clients(form.get("client_id"), basic_id, assertion_sub)
        session, server = self._session(clients, now)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code" and isinstance(form.get("code"), str):
            key = _digest(form["code"])
            code = await self.store.get("sso_code", key, now=now)
            if code is not None:
                session.code = (key, code)
            else:
                await self._code_replayed(key, now)
        elif grant_type == "refresh_token" and isinstance(form.get("refresh_token"), str):
            key = _digest(form["refresh_token"])
            refresh = await self.store.get("sso_refresh", key, now=now)
            if refresh is not None and await self._still_valid(refresh, now):
                session.refresh = (key, refresh)  # else invalid_grant: revoked credential or ended session
        request = _Request("POST", self.endpoint("token"), headers, form)
        request.session_now = now
        response: OAuthResponse = server.create_token_response(request)
        if response.status != 200:
            return response  # nothing is spent by a request that failed (client authentication, PKCE)
        if session.assertion_jti is not None:
            try:  # RFC 7523 §3: a client assertion is used once
                await self.store.put("sso_jti", _digest(session.assertion_jti), {}, expires_at=now + timedelta(hours=1))
            except ConflictError:
                return _error(401, "invalid_client", "this client assertion was used before")
        # A code or refresh token is spent atomically, and only by a request that passed every check:
        # of two racing requests one gets the tokens, the other invalid_grant.
        if session.code is not None:
            key, spent = session.code
            if await self.store.take("sso_code", key, now=now) is None:
                return _error(400, "invalid_grant", "the authorization code was already used")
            await self.store.put("sso_code_spent", key, {"sid": spent["user"]["sid"]},
                                 expires_at=now + self.refresh_ttl)
        if session.refresh is not None and await self.store.take("sso_refresh", session.refresh[0], now=now) is None:
            return _error(400, "invalid_grant", "the refresh token was already used")
        for token, user, client_id in session.saved_tokens:
            value = {"client_id": client_id, "scope": token.get("scope"), "user": user.to_json()}
            await self.store.put("sso_access", _digest(token["access_token"]), value,
                                 expires_at=now + self.access_ttl)
            if "refresh_token" in token:
                await self.store.put("sso_refresh", _digest(token["refresh_token"]), value,
                                     expires_at=now + self.refresh_ttl)
        return response

    async def _code_replayed(self, key: str, now: datetime) -> None:
        """RFC 6749 §4.1.2: a code used twice revokes what it gave: its login session ends (its refresh
        tokens and access tokens stop working)."""
        spent = await self.store.get("sso_code_spent", key, now=now)
        if spent is not None:
            await self._end(str(spent["sid"]), now)

    async def _end(self, sid: str, now: datetime) -> None:
        try:
            await self.store.put("sso_ended", sid, {}, expires_at=now + self.refresh_ttl)
        except ConflictError:
            pass  # ended already

    async def _still_valid(self, refresh: Mapping[str, Any], now: datetime) -> bool:
        user = refresh.get("user") or {}
        if await self.store.get("sso_ended", str(user.get("sid")), now=now) is not None:
            return False
        try:
            await self.subjects.check(str(user.get("credential")))
        except VcsdkError:
            return False
        return True

    # -- UserInfo ------------------------------------------------------------------------------------

    async def userinfo(self, authorization: str | None, *, now: datetime) -> OAuthResponse:
        """The UserInfo endpoint (OIDC Core §5.3): ``sub`` and the claims of the login, for a Bearer
        access token (RFC 6750); anything else is ``invalid_token`` (401)."""
        bearer = isinstance(authorization, str) and authorization[:7].lower() == "bearer "
        token = authorization[7:].strip() if bearer and authorization is not None else ""
        found = await self.store.get("sso_access", _digest(token), now=now) if token else None
        if found is not None and await self.store.get("sso_ended", str(found["user"]["sid"]), now=now) is not None:
            found = None  # the session was logged out, or its code replayed
        if found is None:
            return _error(401, "invalid_token", "unknown or expired access token",
                          {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        user = _User.from_json(found["user"])
        return OAuthResponse(200, {"sub": user.sub, **user.claims}, {"Cache-Control": "no-store"})

    # -- RP-initiated logout ---------------------------------------------------------------------------

    async def end_session(
        self, params: Mapping[str, str], *, now: datetime
    ) -> tuple[OAuthResponse, list[tuple[str, str]]]:
        """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the login session named by
        ``id_token_hint`` (its refresh tokens stop working) and send the browser to a registered
        ``post_logout_redirect_uri``.

        :return: the answer for the browser, and the back-channel logout tokens to post, as
            ``(backchannel_logout_uri, logout_token)`` pairs.
        """
        _check_params(params)
        hint = params.get("id_token_hint")
        if not hint:
            # The provider keeps no browser session: the ID token names the login session to end.
            return _error(400, "invalid_request", "send id_token_hint: the ID token of the session to end"), []
        claims = self._check_hint(hint)
        if claims is None:
            return _error(400, "invalid_request", "id_token_hint is not an ID token of this provider"), []
        client_id = params.get("client_id") or claims.get("aud")
        client = await self.clients.get_client(client_id) if isinstance(client_id, str) else None
        if client is None or claims.get("aud") != client.client_id:
            return _error(400, "invalid_request", "id_token_hint is for another client"), []
        target = params.get("post_logout_redirect_uri")
        if target is not None and target not in client.post_logout_redirect_uris:
            return _error(400, "invalid_request", "post_logout_redirect_uri is not registered for the client"), []
        tokens: list[tuple[str, str]] = []
        if isinstance(claims.get("sid"), str):
            await self._end(claims["sid"], now)
            if client.backchannel_logout_uri:
                tokens.append((client.backchannel_logout_uri, self.logout_token(
                    client.client_id, claims, now=now, alg=client.id_token_signed_response_alg)))
        if target is None:
            return OAuthResponse(200, {"logged_out": True}), tokens
        state = params.get("state")
        return OAuthResponse(302, None, {"Location": _with_query(target, {"state": state})}), tokens

    def logout_token(self, client_id: str, id_claims: Mapping[str, Any], *, now: datetime,
                     alg: IdTokenAlg = "ES256") -> str:
        """A Logout Token (OpenID Connect Back-Channel Logout 1.0 §2.4) for one client's session, signed
        like its ID tokens (``alg``)."""
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": client_id, "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + 120, "jti": _rand(self.randomness, 16), "sub": id_claims.get("sub"),
            "sid": id_claims.get("sid"), "events": {_BACKCHANNEL_EVENT: {}},
        }
        return self._sign(claims, alg=alg, typ="logout+jwt")

    def _check_hint(self, hint: str) -> dict[str, Any] | None:
        """An ID token this provider signed (expired ones too: RP-Initiated Logout §2), with either key."""
        if len(hint) > 16 * 1024:
            return None
        if _peek_header(hint).get("kid") == self.rsa_kid:
            try:
                token = jose_jwt.decode(hint, self._rsa, algorithms=["RS256"])
            except (JoseError, ValueError):
                return None
            found: dict[str, Any] = dict(token.claims)
            if token.header.get("typ") != "JWT":
                return None
            return found if found.get("iss") == self.issuer else None
        try:
            decoded = decode_jws(hint, max_bytes=16 * 1024)
            if decoded.header.get("kid") != self.signer.kid:
                return None
            claims = verify_jws(decoded, self.signer, typ="JWT").claims()
        except VcsdkError:
            return None
        return claims if claims.get("iss") == self.issuer else None


def _check_params(params: Mapping[str, str]) -> None:
    """RFC 6749 Appendix A: OAuth parameters are printable ASCII (authlib echoes some in its errors)."""
    for name, value in params.items():
        if not all(0x20 <= ord(ch) <= 0x7E for ch in f"{name}{value}") or len(value) > 8192:
            raise ProtocolError(f"the parameter {name!r} is not printable ASCII text"[:200].encode(
                "ascii", "replace").decode("ascii"), code="invalid_request")


def _claim_names(paths: Iterable[Sequence[Any]]) -> tuple[str, ...]:
    return tuple(".".join("*" if s is None else str(s) for s in p) for p in paths)


def _error(status: int, code: str, description: str, headers: Mapping[str, str] | None = None) -> OAuthResponse:
    return OAuthResponse(status, {"error": code, "error_description": description},
                         {"Cache-Control": "no-store", **(headers or {})})


def _peek_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS before anything is verified (to pick the key)."""
    if token.count(".") != 2:
        return {}
    try:
        header: object = json.loads(b64url_decode(token.split(".")[0]))
    except (ValueError, VcsdkError):
        return {}
    return header if isinstance(header, dict) else {}


def _peek_sub(assertion: str | None) -> str | None:
    """The ``sub`` of a client assertion before anything is verified: which client to load."""
    if not isinstance(assertion, str) or assertion.count(".") != 2 or len(assertion) > 8192:
        return None
    try:
        claims: object = json.loads(b64url_decode(assertion.split(".")[1]))  # checked below
    except (ValueError, VcsdkError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) else None


def _with_query(uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"
