"""The city's OpenID Provider (:mod:`vcsdk.sso`) in the wallet server: its clients are the city's
registered services, its logins are presentations of the resident credential the city issued.

A relying party is registered twice over: the city's registration of the service (what it may ask,
``/admin/v1/services``) and its OpenID Connect settings (``/admin/v1/sso/clients``: redirect URIs,
client authentication). Registering the client signs the login registration the provider attaches
to its OpenID4VP requests for that service (:func:`vcsdk.sso.login_registration`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vcsdk.credentials import verify_presentation
from vcsdk.errors import (
    ConflictError,
    CredentialRevokedError,
    CredentialStatusError,
    CredentialSuspendedError,
    InvalidInputError,
    NotFoundError,
)
from vcsdk.oid4vc import PresentedCredential, StateStore
from vcsdk.registration import peek_registration
from vcsdk.sso import LoginSubject, OpenIDProvider, SsoClient, login_registration, secret_hash
from vcsdk.status import StatusListChecker, StatusPolicy
from vcsdk.trust import AccreditationPolicy
from wallet_server.services._common import Clock
from wallet_server.services.admin import Administrator
from wallet_server.storage import CityDataStore, Store

if TYPE_CHECKING:
    from wallet_server.services.city import CitySetup
    from wallet_server.services.wallet import OutgoingHttp

__all__ = ["CitySubjects", "RegisteredClient", "SsoClients", "SsoService", "subject_secret"]

SSO_PATH = "/sso"
#: Where the provider's RSA key (RS256 ID tokens) is kept: the protocol state, sealed with the data keys.
_KEY_NAMESPACE = "sso_keys"
_RSA_KEY_NAME = "id_token_rs256"
_KEY_LIFETIME = timedelta(days=365 * 100)


def subject_secret(configured: bytes | None, data_keys: tuple[tuple[str, bytes], ...]) -> bytes:
    """The provider's pairwise ``sub`` secret: the configured one, else derived (HKDF-SHA-256) from
    the first data key, so that subjects stay the same across restarts."""
    if configured is not None:
        return configured
    if not data_keys:
        raise InvalidInputError("configure sso_subject_secret or data_keys")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"vcsdk-sso-pairwise-sub").derive(
        data_keys[0][1]
    )


class SsoClients:
    """The provider's :class:`~vcsdk.sso.ClientStore`: clients kept with the city's registrations."""

    def __init__(self, data: CityDataStore) -> None:
        self._data = data

    async def get_client(self, client_id: str) -> SsoClient | None:
        body = await self._data.get_sso_client(client_id)
        return SsoClient.from_json(json.loads(body)) if body is not None else None


class CitySubjects:
    """The provider's :class:`~vcsdk.sso.SubjectSource`: the city looks the presented credential up by
    its status list entry among the credentials it issued; the resident it was issued to is the
    login's subject, and its state in the city's records (not a cached status list) decides."""

    def __init__(self, data: CityDataStore, store: Store, *, city: CitySetup) -> None:
        self._data = data
        self._store = store
        self._city = city

    async def subject(self, credential: PresentedCredential) -> LoginSubject:
        verified = credential.verified
        issuer = getattr(verified, "issuer", None)
        entry = (getattr(verified, "status", None) or {}).get("status_list")
        if issuer != (await self._city.get()).did or not isinstance(entry, Mapping):
            raise CredentialStatusError("the credential was not issued by this city")
        uri, index = entry.get("uri"), entry.get("idx")
        tail = uri.rstrip("/").rsplit("/", 1)[-1] if isinstance(uri, str) else ""
        if not tail.isdigit() or isinstance(index, bool) or not isinstance(index, int):
            raise CredentialStatusError("the credential's status entry is not one of this city's lists")
        found = await self._data.issued_by_status(int(tail), index)
        if found is None:
            raise CredentialStatusError("the city has no record of this credential")
        credential_id, resident_id, state = found
        _check_state(state)
        return LoginSubject(local_id=resident_id, credential=credential_id)

    async def check(self, credential: str) -> None:
        try:
            issued = await self._store.get_issued_credential(credential)
        except NotFoundError:
            raise CredentialStatusError("the city has no record of this credential") from None
        _check_state(issued.state)


def _check_state(state: str) -> None:
    if state == "revoked":
        raise CredentialRevokedError("the resident credential was revoked; it can no longer log in")
    if state == "suspended":
        raise CredentialSuspendedError("the resident credential is suspended; it cannot log in now")


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    """A client as registered, with its secret (shown once) for ``client_secret_basic``."""

    client: SsoClient
    registration_id: str
    client_secret: str | None


class SsoService:
    """Builds the provider on first use (it needs the city's DID and key) and registers its clients.

    :param data: the city's records (registrations, clients, issued credentials).
    :param store: the server's store (issued credentials by id).
    :param state: short-lived protocol state (logins, codes, tokens).
    :param city: the city's DID and keys.
    :param http: outgoing HTTP (status lists).
    :param clock: returns the current UTC time.
    :param base_url: the server's public URL; the provider's issuer is ``<base_url>/sso``.
    :param vct: the resident credential's type.
    :param secret: the pairwise ``sub`` secret (:func:`subject_secret`).
    """

    def __init__(self, data: CityDataStore, store: Store, *, state: StateStore, city: CitySetup, http: OutgoingHttp,
                 clock: Clock, base_url: str | None, vct: str, secret: bytes,
                 login_ttl: timedelta = timedelta(minutes=5)) -> None:
        self._data = data
        self._store = store
        self._state = state
        self._city = city
        self._http = http
        self._clock = clock
        self._base_url = base_url.rstrip("/") if base_url else None
        self.vct = vct
        self._secret = secret
        self._login_ttl = login_ttl
        self._providers: dict[str, OpenIDProvider] = {}
        self._rsa_key: rsa.RSAPrivateKey | None = None
        self.clients = SsoClients(data)

    async def rsa_key(self) -> rsa.RSAPrivateKey:
        """The provider's RSA key for RS256 ID tokens: made once (3072 bits) and kept in the protocol
        state, sealed with the server's data keys like every other entry there, so that it (and its
        ``kid``) survives restarts and is the same on every instance (the first to store it wins)."""
        if self._rsa_key is not None:
            return self._rsa_key
        now = self._clock()
        found = await self._state.get(_KEY_NAMESPACE, _RSA_KEY_NAME, now=now)
        if found is None:
            fresh = rsa.generate_private_key(public_exponent=65537, key_size=3072)
            pem = fresh.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode("ascii")
            try:
                await self._state.put(_KEY_NAMESPACE, _RSA_KEY_NAME, {"pem": pem}, expires_at=now + _KEY_LIFETIME)
                found = {"pem": pem}
            except ConflictError:  # another instance stored its key first: use that one
                found = await self._state.get(_KEY_NAMESPACE, _RSA_KEY_NAME, now=now)
        key = serialization.load_pem_private_key(str((found or {}).get("pem", "")).encode("ascii"), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InvalidInputError("the stored SSO signing key is not an RSA key")
        self._rsa_key = key
        return key

    @property
    def http(self) -> OutgoingHttp:
        """Outgoing HTTP under the server's rules (back-channel logout tokens)."""
        return self._http

    def issuer(self, origin: str) -> str:
        """The provider's issuer URL (the public base URL's, else the request's origin)."""
        return f"{self._base_url or origin.rstrip('/')}{SSO_PATH}"

    async def provider(self, origin: str) -> OpenIDProvider:
        """The provider for this server's issuer URL."""
        issuer = self.issuer(origin)
        found = self._providers.get(issuer)
        if found is not None:
            return found
        city = await self._city.get()
        accreditation = AccreditationPolicy(city.trust)
        clock = self._clock

        async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
            # Signature (issuer key on chain), accreditation, status (fresh list, anchored digest),
            # key binding (nonce, audience, freshness).
            status = StatusListChecker(resolver=city.resolver, source=self._http.status_fetcher(),
                                       policy=StatusPolicy(), digests=city.trust)
            return await verify_presentation(
                presentation, audience=audience, nonce=nonce, resolver=city.resolver, status=status,
                accreditation=accreditation, now=clock(),
            )

        found = OpenIDProvider(
            issuer=issuer, signer=city.signing_key, did=city.did, wallet_did=city.did, vct=self.vct,
            clients=self.clients, subjects=CitySubjects(self._data, self._store, city=self._city),
            store=self._state, verify=verify, resolver=city.resolver, subject_secret=self._secret,
            login_ttl=self._login_ttl, rsa_key=await self.rsa_key(),
        )
        if len(self._providers) > 16:
            self._providers.clear()
        self._providers[issuer] = found
        return found

    async def register_client(self, admin: Administrator, body: Mapping[str, Any], *, origin: str) -> RegisteredClient:
        """Register the OpenID Connect settings of a registered service.

        :param body: ``registration_id`` (a service the city registered), ``redirect_uris``,
            ``token_endpoint_auth_method`` (``client_secret_basic``, the default, or
            ``private_key_jwt`` with ``jwks``), optionally ``post_logout_redirect_uris``,
            ``backchannel_logout_uri`` and ``id_token_signed_response_alg`` (``ES256``, the default,
            or ``RS256``).
        :raises NotFoundError: no such registration. :raises InvalidInputError: malformed settings.
        """
        row = await self._data.get_registration(str(body.get("registration_id")))
        service = peek_registration(row.token)
        now = self._clock()
        if service.expires_at <= now:
            raise InvalidInputError("the service's registration has expired; register the service again")
        city = await self._city.get()
        provider = await self.provider(origin)
        method = body.get("token_endpoint_auth_method", "client_secret_basic")
        secret = secrets.token_urlsafe(32) if method == "client_secret_basic" else None
        client = SsoClient(
            client_id=f"rp-{secrets.token_urlsafe(12)}",
            registration=row.token,
            login_registration=login_registration(
                city.signing_key, service, provider_did=city.did, vct=self.vct,
                receipt_endpoint=provider.endpoint("withdrawals"), now=now,
            ),
            redirect_uris=tuple(_strings(body.get("redirect_uris"), "redirect_uris")),
            token_endpoint_auth_method=method,
            client_secret_hash=secret_hash(secret) if secret else None,
            jwks=body.get("jwks") if isinstance(body.get("jwks"), Mapping) else None,
            post_logout_redirect_uris=tuple(_strings(body.get("post_logout_redirect_uris", []),
                                                     "post_logout_redirect_uris")),
            backchannel_logout_uri=body.get("backchannel_logout_uri"),
            id_token_signed_response_alg=body.get("id_token_signed_response_alg", "ES256"),
        )
        await self._data.add_sso_client(client.client_id, registration_id=row.id, body=json.dumps(client.to_json()),
                                        created_by=admin.name, created_at=now)
        return RegisteredClient(client, row.id, secret)


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{what} must be a list of URLs")
    return value
