"""An OpenID Connect client of the city's provider: a registered service plus its OAuth settings."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from vcsdk._url import is_https_url
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Signer
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration, issue_registration, peek_registration
from vcsdk.sso._claims import LOGIN_CLAIM

__all__ = ["AuthMethod", "ClientStore", "SsoClient", "login_registration", "secret_hash"]

AuthMethod = Literal["client_secret_basic", "private_key_jwt"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("client_secret_basic", "private_key_jwt")
IdTokenAlg = Literal["ES256", "RS256"]
#: The algorithms a client may ask its ID tokens to be signed with (``id_token_signed_response_alg``).
ID_TOKEN_ALGS: tuple[IdTokenAlg, ...] = ("ES256", "RS256")
#: The purpose the provider's OpenID4VP requests name.
LOGIN_PURPOSE = "login"
_MAX_URIS = 10


def secret_hash(secret: str) -> str:
    """How a client secret is kept: its SHA-256 (a secret is random, 32 bytes or more)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SsoClient:
    """One relying party: the city's registration of the service, and how it speaks OAuth.

    :ivar client_id: the OAuth ``client_id``.
    :ivar registration: the city-signed registration of the service (its DID, name, claims).
    :ivar login_registration: the registration the provider attaches to its OpenID4VP requests for
        this client (see :func:`login_registration`).
    :ivar redirect_uris: exact redirect URIs (https, or http on the loopback interface).
    :ivar token_endpoint_auth_method: ``client_secret_basic`` or ``private_key_jwt``.
    :ivar client_secret_hash: SHA-256 (hex) of the client secret, for ``client_secret_basic``.
    :ivar jwks: the client's public keys, for ``private_key_jwt``.
    :ivar post_logout_redirect_uris: where RP-initiated logout may send the browser.
    :ivar backchannel_logout_uri: where the provider posts logout tokens (OIDC Back-Channel Logout).
    :ivar id_token_signed_response_alg: how the client's ID tokens (and logout tokens) are signed
        (OIDC Dynamic Client Registration §2): ``ES256`` (the city's P-256 key, the default) or
        ``RS256`` (the provider's RSA key).
    """

    client_id: str
    registration: str
    login_registration: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: AuthMethod
    client_secret_hash: str | None = field(default=None, repr=False)
    jwks: Mapping[str, Any] | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    id_token_signed_response_alg: IdTokenAlg = "ES256"  # noqa: S105 - an algorithm name

    def __post_init__(self) -> None:
        if self.id_token_signed_response_alg not in ID_TOKEN_ALGS:
            raise InvalidInputError(f"id_token_signed_response_alg is one of {', '.join(ID_TOKEN_ALGS)}",
                                    code="unsupported_id_token_alg")
        if not isinstance(self.client_id, str) or not 8 <= len(self.client_id) <= 128:
            raise InvalidInputError("client_id must be 8 to 128 characters")
        if self.token_endpoint_auth_method not in AUTH_METHODS:
            raise InvalidInputError(f"token_endpoint_auth_method is one of {', '.join(AUTH_METHODS)}")
        for name in ("redirect_uris", "post_logout_redirect_uris"):
            uris = tuple(getattr(self, name))
            object.__setattr__(self, name, uris)
            if len(uris) > _MAX_URIS or not all(isinstance(u, str) and is_https_url(u) and "#" not in u for u in uris):
                raise InvalidInputError(f"{name}: at most {_MAX_URIS} https URLs without a fragment")
        if not self.redirect_uris:
            raise InvalidInputError("a client needs at least one redirect_uri")
        if self.backchannel_logout_uri is not None and not is_https_url(self.backchannel_logout_uri):
            raise InvalidInputError("backchannel_logout_uri must be an https URL")
        if self.token_endpoint_auth_method == "client_secret_basic" and not self.client_secret_hash:  # noqa: S105
            raise InvalidInputError("client_secret_basic needs a client secret")
        if self.token_endpoint_auth_method == "private_key_jwt":  # noqa: S105
            keys = (self.jwks or {}).get("keys")
            if not isinstance(keys, list) or not keys or not all(isinstance(k, Mapping) for k in keys):
                raise InvalidInputError("private_key_jwt needs the client's public keys (jwks)")
            if any("d" in k for k in keys):
                raise InvalidInputError("jwks must hold public keys only")

    @property
    def service(self) -> RelyingPartyRegistration:
        """The service's own registration (parsed, not verified: the city keeps and signs it)."""
        return peek_registration(self.registration)

    def check_secret(self, secret: str) -> bool:
        """Whether ``secret`` is this client's secret (constant-time)."""
        if self.client_secret_hash is None:
            return False
        return hmac.compare_digest(secret_hash(secret), self.client_secret_hash)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "client_id": self.client_id,
            "registration": self.registration,
            "login_registration": self.login_registration,
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "client_secret_hash": self.client_secret_hash,
            "jwks": dict(self.jwks) if self.jwks is not None else None,
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SsoClient:
        """Read the stored form. :raises InvalidInputError: if it is malformed."""
        try:
            return cls(
                client_id=value["client_id"],
                registration=value["registration"],
                login_registration=value["login_registration"],
                redirect_uris=tuple(value["redirect_uris"]),
                token_endpoint_auth_method=value["token_endpoint_auth_method"],
                client_secret_hash=value.get("client_secret_hash"),
                jwks=value.get("jwks"),
                post_logout_redirect_uris=tuple(value.get("post_logout_redirect_uris") or ()),
                backchannel_logout_uri=value.get("backchannel_logout_uri"),
                id_token_signed_response_alg=value.get("id_token_signed_response_alg", "ES256"),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"a stored client is malformed: {exc}") from None


class ClientStore(Protocol):
    """Where the provider finds its clients (the server keeps them with the city's registrations)."""

    async def get_client(self, client_id: str) -> SsoClient | None: ...


def login_registration(
    signer: Signer,
    service: RelyingPartyRegistration,
    *,
    provider_did: str,
    vct: str,
    receipt_endpoint: str,
    now: datetime,
) -> str:
    """The registration the provider attaches to its OpenID4VP requests for one service, signed by the
    city: the provider (``provider_did``) asks, under the service's name, for at most the service's
    registered claims plus how the resident was verified (:data:`~vcsdk.sso.LOGIN_CLAIM`), for the
    purpose of logging in; the service is named as the recipient, so the resident's consent record
    and access receipt say who gets the claims.

    :param signer: the city's key (its ``kid`` a DID URL of the city's DID).
    :param service: the service's own registration.
    :param provider_did: the provider's DID (the city's): the OpenID4VP client.
    :param vct: the resident credential's type.
    :param receipt_endpoint: where wallets deliver a withdrawal of a login consent.
    :raises InvalidInputError: if the service's registration cannot be narrowed this way.
    :return: the compact JWS (``rp-registration+jwt``).
    """
    claim_sets = tuple(c for c in service.claim_sets if c.vct == vct)
    login_set = ClaimSet("login", vct, (LOGIN_CLAIM,))
    if any(c.id == login_set.id for c in claim_sets):
        claim_sets = tuple(replace(c, id=f"svc-{c.id}") for c in claim_sets)
    registration = RelyingPartyRegistration(
        issuer=service.issuer,
        service_did=provider_did,
        registration_id=f"{service.registration_id[:58]}-login",
        name=service.name,
        purposes=(Purpose(LOGIN_PURPOSE, f"Log in to {service.name}"[:200]),),
        claim_sets=(*claim_sets, login_set),
        retention_days=service.retention_days,
        receipt_endpoint=receipt_endpoint,
        privacy_policy=service.privacy_policy,
        jurisdiction=service.jurisdiction,
        recipients=(service.service_did,),
        issued_at=now,
        expires_at=service.expires_at,
    )
    return issue_registration(signer, registration)
