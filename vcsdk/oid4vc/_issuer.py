"""OpenID for Verifiable Credential Issuance 1.0: the Credential Issuer (and its Authorization Server).

Metadata (§12.2, §12.3), Credential Offers by value and by reference (§4.1) for the Pre-Authorized
Code grant (with a Transaction Code) and the Authorization Code grant, the Nonce Endpoint (§7), the
Credential Endpoint with ``jwt`` key proofs (§8, Appendix F.1), batch issuance, ``credential_identifier``
from ``authorization_details``, deferred issuance (§9), and the Notification Endpoint (§11). The
Authorization Server (PAR, PKCE, DPoP, refresh, wallet attestation) is :mod:`vcsdk.oid4vc._authorization`.

:class:`CredentialIssuer` takes an ``issue(claims, holder_key)`` callable and a
:class:`~vcsdk.oid4vc.StateStore`; each endpoint is one method: message in, message out. Errors are
:class:`~vcsdk.errors.ProtocolError` carrying the spec's error code.
"""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from vcsdk._json import parse_json
from vcsdk._time import numeric_date
from vcsdk.errors import InvalidInputError, ProtocolError, VcsdkError
from vcsdk.keys import Key, decode_jws, verify_jws
from vcsdk.oid4vc._authorization import NO_CONTEXT, AccessGrant, AuthorizationServer, RequestContext
from vcsdk.oid4vc._client_attestation import WalletAttestationTrust
from vcsdk.oid4vc._common import (
    SYSTEM_RANDOMNESS,
    Randomness,
    StateStore,
    is_https_url,
    random_code,
    random_token,
)
from vcsdk.oid4vc._dpop import DpopGuard
from vcsdk.oid4vc._vci_messages import (
    NOTIFICATION_EVENTS,
    PROOF_ALGORITHMS,
    PROOF_TYP,
    CredentialConfiguration,
    CredentialOffer,
    Deferred,
    IssuedCredentials,
    NonceResponseBody,
    NotificationEvent,
    TokenResponse,
    TxCode,
    offer_reference_uri,
)

__all__ = ["CredentialIssuer", "IssueFn", "RequestContext"]

#: A six-digit numeric Transaction Code, the default shape of an offer's PIN.
DEFAULT_TX_CODE = TxCode()



class IssueFn(Protocol):
    """Issues one credential with ``claims`` bound to ``holder_key`` (the proven device key) and
    returns it (an SD-JWT VC string), or :class:`~vcsdk.oid4vc.Deferred` when it cannot issue yet.
    May be a coroutine function; wrap ``issue_sd_jwt_vc``."""

    def __call__(self, claims: Mapping[str, Any], holder_key: Key) -> Any: ...


def _err(code: str, message: str) -> ProtocolError:
    return ProtocolError(message, code=code)


def _json_body(body: Mapping[str, Any] | bytes, *, what: str, code: str) -> Mapping[str, Any]:
    if isinstance(body, bytes | bytearray):
        try:
            body = parse_json(bytes(body), what=what, max_bytes=512 * 1024)
        except InvalidInputError as exc:
            raise _err(code, f"the {what} is not valid JSON") from exc
    if not isinstance(body, Mapping):
        raise _err(code, f"the {what} must be a JSON object")
    return body


def _bearer_context(access_token: str | None, context: RequestContext | None) -> RequestContext:
    # Callers that pass only the token (as before DPoP) send it as a Bearer token.
    if context is not None:
        return context
    return RequestContext(authorization=f"Bearer {access_token}" if access_token else None)


class CredentialIssuer:
    """The issuer's OpenID4VCI state machine (Credential Issuer and its Authorization Server).

    :param credential_issuer: the Credential Issuer Identifier (an https URL, §12.2.1).
    :param configurations: the credentials it issues.
    :param issue: makes one credential; see :class:`IssueFn`.
    :param store: offers, codes, tokens and nonces; see :class:`~vcsdk.oid4vc.StateStore`.
    :param randomness: source of codes, tokens and nonces.
    :param batch_size: most key proofs per Credential Request (batch issuance, §12.2.4); 1 disables.
    :param max_tx_code_attempts: wrong Transaction Codes before the Pre-Authorized Code is burnt.
    :param proof_max_age: oldest acceptable key proof ``iat``; ``leeway`` for clock skew.
    :param require_dpop: refuse tokens without DPoP (HAIP: sender-constrained access tokens).
    :param dpop_nonces: ask DPoP proofs for a server nonce (``DPoP-Nonce``, RFC 9449 §8).
    :param wallet_attestation: require client authentication by Wallet Attestation from these providers.
    :param refresh_token_ttl: how long a refresh token may renew access (re-issuance, §13.5).
    :param refresh_pre_authorized: give a refresh token for DPoP-bound Pre-Authorized Code grants
        too, so a wallet can refill its batch of copies for fresh device keys without a new offer.
    """

    def __init__(
        self,
        *,
        credential_issuer: str,
        configurations: Sequence[CredentialConfiguration],
        issue: IssueFn,
        store: StateStore,
        randomness: Randomness = SYSTEM_RANDOMNESS,
        display_name: str | None = None,
        batch_size: int = 10,
        offer_ttl: timedelta = timedelta(minutes=10),
        access_token_ttl: timedelta = timedelta(minutes=5),
        nonce_ttl: timedelta = timedelta(minutes=5),
        max_tx_code_attempts: int = 5,
        proof_max_age: timedelta = timedelta(minutes=5),
        leeway: timedelta = timedelta(seconds=60),
        require_dpop: bool = False,
        dpop_nonces: bool = True,
        wallet_attestation: WalletAttestationTrust | None = None,
        refresh_token_ttl: timedelta = timedelta(days=30),
        deferred_ttl: timedelta = timedelta(days=30),
        refresh_pre_authorized: bool = False,
    ) -> None:
        if not is_https_url(credential_issuer) or "?" in credential_issuer or "#" in credential_issuer:
            raise InvalidInputError("the Credential Issuer Identifier is an https URL without query or fragment")
        if not configurations:
            raise InvalidInputError("an issuer needs at least one credential configuration")
        if batch_size < 1 or max_tx_code_attempts < 1:
            raise InvalidInputError("batch_size and max_tx_code_attempts must be positive")
        self.credential_issuer = credential_issuer.rstrip("/")
        self.configurations = {c.id: c for c in configurations}
        self._issue = issue
        self._store = store
        self._randomness = randomness
        self.display_name = display_name
        self.batch_size = batch_size
        self.offer_ttl = offer_ttl
        self.access_token_ttl = access_token_ttl
        self.nonce_ttl = nonce_ttl
        self.max_tx_code_attempts = max_tx_code_attempts
        self.proof_max_age = proof_max_age
        self.leeway = leeway
        self.deferred_ttl = deferred_ttl
        self.dpop = DpopGuard(store, require_nonce=dpop_nonces, randomness=randomness, leeway=leeway)
        self.authorization_server = AuthorizationServer(
            issuer=self.credential_issuer,
            configurations=self.configurations,
            store=store,
            randomness=randomness,
            dpop=self.dpop,
            wallet_attestation=wallet_attestation,
            require_dpop=require_dpop,
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            offer_ttl=offer_ttl,
            max_tx_code_attempts=max_tx_code_attempts,
            refresh_pre_authorized=refresh_pre_authorized,
        )

    def __repr__(self) -> str:
        return f"CredentialIssuer({self.credential_issuer!r}, configurations={list(self.configurations)})"

    # endpoints, relative to the issuer identifier; the HTTP layer mounts them there
    @property
    def token_endpoint(self) -> str:
        return self.authorization_server.token_endpoint

    @property
    def nonce_endpoint(self) -> str:
        return f"{self.credential_issuer}/nonce"

    @property
    def credential_endpoint(self) -> str:
        return f"{self.credential_issuer}/credential"

    @property
    def deferred_credential_endpoint(self) -> str:
        return f"{self.credential_issuer}/deferred_credential"

    @property
    def notification_endpoint(self) -> str:
        return f"{self.credential_issuer}/notification"

    def credential_offer_uri(self, offer_id: str) -> str:
        return f"{self.credential_issuer}/credential-offer/{offer_id}"

    # -- metadata

    def metadata(self) -> dict[str, Any]:
        """Credential Issuer Metadata (§12.2.4), served at ``/.well-known/openid-credential-issuer``."""
        out: dict[str, Any] = {
            "credential_issuer": self.credential_issuer,
            "credential_endpoint": self.credential_endpoint,
            "nonce_endpoint": self.nonce_endpoint,
            "deferred_credential_endpoint": self.deferred_credential_endpoint,
            "notification_endpoint": self.notification_endpoint,
            "credential_configurations_supported": {k: c.to_dict() for k, c in self.configurations.items()},
        }
        if self.batch_size >= 2:
            out["batch_credential_issuance"] = {"batch_size": self.batch_size}
        if self.display_name is not None:
            out["display"] = [{"name": self.display_name}]
        return out

    def authorization_server_metadata(self) -> dict[str, Any]:
        """OAuth 2.0 Authorization Server Metadata (RFC 8414, OpenID4VCI §12.3), served at
        ``/.well-known/oauth-authorization-server``; this issuer is its own Authorization Server."""
        return self.authorization_server.metadata()

    # -- offers

    async def create_offer(
        self,
        configuration_id: str,
        claims: Mapping[str, Any],
        *,
        now: datetime,
        tx_code: TxCode | None = DEFAULT_TX_CODE,
    ) -> tuple[CredentialOffer, str | None]:
        """Prepare issuance of ``claims`` (already checked against the resident registry) with the
        Pre-Authorized Code grant.

        :param tx_code: the Transaction Code shape; ``None`` issues without one (not recommended).
        :raises InvalidInputError: for an unknown configuration.
        :return: the offer (show it as URI or QR) and the Transaction Code to send out of band.
        """
        if configuration_id not in self.configurations:
            raise InvalidInputError(f"unknown credential configuration {configuration_id!r}")
        code = random_token(self._randomness)
        pin: str | None = None
        if tx_code is not None:
            alphabet = "0123456789" if tx_code.input_mode == "numeric" else "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
            pin = random_code(self._randomness, tx_code.length, alphabet=alphabet)
        offer = CredentialOffer(self.credential_issuer, (configuration_id,), code, tx_code)
        record = {"configuration_id": configuration_id, "claims": dict(claims), "tx_code": pin}
        await self._store.put("vci_code", code, record, expires_at=now + self.offer_ttl)
        return offer, pin

    def authorization_offer(
        self, configuration_ids: Sequence[str], *, issuer_state: str | None = None
    ) -> CredentialOffer:
        """An offer with the Authorization Code grant (issuer-initiated, HAIP 1.0 §4.2): the wallet
        starts a pushed authorization request and the resident is authenticated at the
        authorization endpoint. ``issuer_state`` comes back in that request, untrusted.

        :raises InvalidInputError: for an unknown configuration.
        """
        unknown = [c for c in configuration_ids if c not in self.configurations]
        if unknown or not configuration_ids:
            raise InvalidInputError("an offer names credential configurations this issuer has")
        return CredentialOffer(
            self.credential_issuer, tuple(configuration_ids), issuer_state=issuer_state, authorization_code=True
        )

    async def publish_offer(self, offer: CredentialOffer, *, now: datetime) -> str:
        """Store ``offer`` for retrieval by reference; returns the ``openid-credential-offer://`` URI
        with a ``credential_offer_uri`` (fits a QR code better than the offer by value)."""
        offer_id = random_token(self._randomness, 16)
        await self._store.put("vci_offer", offer_id, offer.to_dict(), expires_at=now + self.offer_ttl)
        return offer_reference_uri(self.credential_offer_uri(offer_id))

    async def offer_by_reference(self, offer_id: str, *, now: datetime) -> dict[str, Any]:
        """The Credential Offer object served at ``credential_offer_uri`` (``application/json``).

        :raises ProtocolError: (``invalid_request``) if unknown or expired.
        """
        offer = await self._store.get("vci_offer", offer_id, now=now)
        if offer is None:
            raise _err("invalid_request", "unknown or expired credential offer")
        return offer

    # -- authorization server endpoints (delegated)

    async def token(
        self, form: Mapping[str, str], *, now: datetime, context: RequestContext = NO_CONTEXT
    ) -> TokenResponse:
        """The Token Endpoint: see :meth:`AuthorizationServer.token`."""
        return await self.authorization_server.token(form, now=now, context=context)

    async def dpop_nonce(self, *, now: datetime) -> str:
        """The current ``DPoP-Nonce`` (every endpoint's answer carries it)."""
        return await self.dpop.nonce(now=now)

    # -- nonce endpoint (§7)

    async def nonce(self, *, now: datetime) -> NonceResponseBody:
        """A fresh ``c_nonce`` (serve with ``Cache-Control: no-store``); each is accepted once."""
        c_nonce = random_token(self._randomness)
        await self._store.put("vci_c_nonce", c_nonce, {}, expires_at=now + self.nonce_ttl)
        return {"c_nonce": c_nonce}

    # -- credential endpoint (§8)

    async def credential(
        self,
        access_token: str | None,
        body: Mapping[str, Any] | bytes,
        *,
        now: datetime,
        context: RequestContext | None = None,
    ) -> IssuedCredentials:
        """Handle a Credential Request: check every key proof, then issue one credential per key.

        :param access_token: the Bearer token, for callers without a request context.
        :param context: the request's ``Authorization`` and ``DPoP`` headers (a DPoP-bound token
            needs its proof).
        :param body: the JSON request (object or bytes).
        :raises ProtocolError: ``invalid_token`` (RFC 6750); ``invalid_dpop_proof``/``use_dpop_nonce``;
            ``invalid_credential_request`` (malformed, both or neither identifier, a batch over
            ``batch_size``); ``unknown_credential_configuration``; ``unknown_credential_identifier``;
            ``invalid_proof`` (missing proofs, wrong ``typ``, ``alg``, key, signature, ``aud`` or
            ``iat``, a repeated key, a missing nonce); ``invalid_nonce`` (an unknown, expired or
            already used ``c_nonce``); ``invalid_encryption_parameters``.
        :return: the credentials and a notification id, or (deferred) the ``transaction_id``.
        """
        grant = await self.authorization_server.access(
            _bearer_context(access_token, context), url=self.credential_endpoint, now=now
        )
        body = _json_body(body, what="credential request", code="invalid_credential_request")
        config_id = self._configuration_of(grant, body)
        if "credential_response_encryption" in body:
            raise _err("invalid_encryption_parameters", "response encryption is not supported by this issuer")
        keys = await self._proven_keys(body.get("proofs"), now)
        made = await self._make(grant.claims, keys)
        if isinstance(made, Deferred):
            transaction_id = random_token(self._randomness)
            record = {
                "grant_id": grant.grant_id,
                "configuration_id": config_id,
                "claims": dict(grant.claims),
                "keys": [k.public_jwk() for k in keys],
            }
            await self._store.put("vci_deferred", transaction_id, record, expires_at=now + self.deferred_ttl)
            return IssuedCredentials(
                (), configuration_id=config_id, transaction_id=transaction_id, interval=made.interval
            )
        return IssuedCredentials(tuple(made), await self._notification_id(grant, config_id, now), config_id)

    def _configuration_of(self, grant: AccessGrant, body: Mapping[str, Any]) -> str:
        identifier, config_id = body.get("credential_identifier"), body.get("credential_configuration_id")
        if identifier is not None and config_id is not None:
            raise _err("invalid_credential_request", "send credential_identifier or credential_configuration_id")
        if grant.credential_identifiers:
            # §8.2: with authorization_details in the Token Response, the identifier is required.
            if not isinstance(identifier, str):
                raise _err("invalid_credential_request", "credential_identifier is required with this access token")
            found = grant.credential_identifiers.get(identifier)
            if found is None:
                raise _err("unknown_credential_identifier", "unknown credential_identifier")
            return found
        if identifier is not None:
            raise _err(
                "invalid_credential_request", "credential_identifier is not used: no authorization_details were issued"
            )
        if not isinstance(config_id, str):
            raise _err("invalid_credential_request", "credential_configuration_id is missing")
        if config_id not in self.configurations:
            raise _err("unknown_credential_configuration", "unknown credential configuration")
        if config_id not in grant.configuration_ids:
            raise _err("invalid_credential_request", "the access token does not cover this credential configuration")
        return config_id

    async def _proven_keys(self, proofs: Any, now: datetime) -> list[Key]:
        if not isinstance(proofs, Mapping) or not proofs:
            raise _err("invalid_proof", "proofs is missing")
        if set(proofs) != {"jwt"}:
            raise _err("invalid_proof", "proofs must contain exactly the jwt proof type")
        jwts = proofs["jwt"]
        if not isinstance(jwts, list) or not jwts or not all(isinstance(p, str) for p in jwts):
            raise _err("invalid_proof", "proofs.jwt must be a non-empty array of JWTs")
        if len(jwts) > self.batch_size:
            raise _err("invalid_credential_request", f"at most {self.batch_size} proofs per request (batch_size)")
        keys: list[Key] = []
        nonces: set[str] = set()
        for jwt in jwts:
            key, nonce = self._check_proof(jwt, now)
            if any(k == key for k in keys):
                raise _err("invalid_proof", "each proof in a batch must prove a different key")
            keys.append(key)
            nonces.add(nonce)
        if len(nonces) != 1:
            raise _err("invalid_nonce", "all proofs of one request must use the same c_nonce")
        # §8.3.1.2 / F.1: the nonce must be one we issued; taking it makes it single use.
        if await self._store.take("vci_c_nonce", nonces.pop(), now=now) is None:
            raise _err("invalid_nonce", "the c_nonce is unknown, expired or already used; fetch a new one")
        return keys

    async def _make(self, claims: Mapping[str, Any], keys: Sequence[Key]) -> list[str] | Deferred:
        """One credential per key, or the issue function's :class:`Deferred` (§9)."""
        issued: list[str] = []
        for key in keys:
            made = self._issue(claims, key)
            if inspect.isawaitable(made):
                made = await made
            if isinstance(made, Deferred):
                if issued:
                    raise _err("server_error", "the issue function deferred part of a batch")
                return made
            if not isinstance(made, str):
                raise _err("server_error", "the issue function did not return a credential string")
            issued.append(made)
        return issued

    async def _notification_id(self, grant: AccessGrant, config_id: str, now: datetime) -> str:
        notification_id = random_token(self._randomness, 16)
        await self._store.put(
            "vci_notification",
            notification_id,
            {"grant_id": grant.grant_id, "configuration_id": config_id},
            expires_at=now + timedelta(days=1),
        )
        return notification_id

    # -- deferred credential endpoint (§9)

    async def deferred_credential(
        self, body: Mapping[str, Any] | bytes, *, now: datetime, context: RequestContext
    ) -> IssuedCredentials:
        """Handle a Deferred Credential Request: the credentials once the issue function can make
        them (answer 200), or the same ``transaction_id`` again (answer 202).

        The access token may be a newer one of the same grant (refreshed while waiting).

        :raises ProtocolError: ``invalid_token``; ``invalid_dpop_proof``/``use_dpop_nonce``;
            ``invalid_credential_request``; ``invalid_transaction_id`` (unknown, of another grant,
            or already collected).
        """
        grant = await self.authorization_server.access(context, url=self.deferred_credential_endpoint, now=now)
        body = _json_body(body, what="deferred credential request", code="invalid_credential_request")
        transaction_id = body.get("transaction_id")
        if not isinstance(transaction_id, str) or not transaction_id:
            raise _err("invalid_credential_request", "transaction_id is required")
        if "credential_response_encryption" in body:
            raise _err("invalid_encryption_parameters", "response encryption is not supported by this issuer")
        record = await self._store.get("vci_deferred", transaction_id, now=now)
        if record is None or not hmac.compare_digest(str(record["grant_id"]), grant.grant_id):
            raise _err("invalid_transaction_id", "the transaction_id is unknown, of another grant, or was collected")
        keys = [Key.from_jwk(j) for j in record["keys"]]
        made = await self._make(record["claims"], keys)
        if isinstance(made, Deferred):
            return IssuedCredentials(
                (), configuration_id=record["configuration_id"], transaction_id=transaction_id, interval=made.interval
            )
        # Collected once: the transaction id is invalidated with the answer (§9.2).
        if await self._store.take("vci_deferred", transaction_id, now=now) is None:
            raise _err("invalid_transaction_id", "the credentials of this transaction_id were already collected")
        config_id = str(record["configuration_id"])
        return IssuedCredentials(tuple(made), await self._notification_id(grant, config_id, now), config_id)

    # -- key proofs (Appendix F.1)

    def _check_proof(self, jwt: str, now: datetime) -> tuple[Key, str]:
        try:
            unverified = decode_jws(jwt, max_bytes=16 * 1024)
        except VcsdkError as exc:
            raise _err("invalid_proof", "a key proof is not a compact JWS") from exc
        header = unverified.header
        if str(header.get("typ", "")).lower() != PROOF_TYP:
            raise _err("invalid_proof", f"a key proof must have typ {PROOF_TYP}")
        if "kid" in header or "x5c" in header:
            raise _err("invalid_proof", "key proofs must carry the device key in the jwk header (not kid or x5c)")
        # F.1: the jwk header *is* what the proof proves possession of. Extract it, check it is an
        # allowed public key, and only then verify the signature with exactly that key.
        jwk = header.get("jwk")
        if not isinstance(jwk, Mapping):
            raise _err("invalid_proof", "a key proof needs the device public key in its jwk header")
        if "d" in jwk:
            raise _err("invalid_proof", "the jwk header must be a public key")
        try:
            key = Key.from_jwk(jwk)
        except VcsdkError as exc:
            raise _err("invalid_proof", "the jwk header is not a supported public key") from exc
        if key.curve != "P-256":
            raise _err("invalid_proof", "device keys must be P-256")
        try:
            verified = verify_jws(unverified, key, policy=PROOF_ALGORITHMS, typ=PROOF_TYP, header_keys="ignore")
            claims = verified.claims()
        except VcsdkError as exc:
            raise _err("invalid_proof", f"the key proof does not verify ({exc.code})") from exc
        if claims.get("aud") != self.credential_issuer:
            raise _err("invalid_proof", "the key proof's aud is not this Credential Issuer")
        try:
            iat = numeric_date(claims.get("iat"), what="the key proof's iat")
        except InvalidInputError:
            raise _err("invalid_proof", "the key proof has no iat (seconds since the epoch)") from None
        ts = now.timestamp()
        if iat > ts + self.leeway.total_seconds() or iat < ts - self.proof_max_age.total_seconds():
            raise _err("invalid_proof", "the key proof's iat is not fresh; make a new proof")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise _err("invalid_proof", "the key proof has no nonce; fetch a c_nonce from the nonce endpoint")
        return key, nonce

    # -- notification endpoint (§11)

    async def notification(
        self,
        access_token: str | None,
        body: Mapping[str, Any] | bytes,
        *,
        now: datetime,
        context: RequestContext | None = None,
    ) -> NotificationEvent:
        """Handle a Notification Request (answer 204). Idempotent.

        :raises ProtocolError: ``invalid_token``; ``invalid_dpop_proof``/``use_dpop_nonce``;
            ``invalid_notification_request`` (malformed, unknown event); ``invalid_notification_id``
            (not issued under this grant).
        """
        grant = await self.authorization_server.access(
            _bearer_context(access_token, context), url=self.notification_endpoint, now=now
        )
        body = _json_body(body, what="notification request", code="invalid_notification_request")
        nid, event = body.get("notification_id"), body.get("event")
        if not isinstance(nid, str) or event not in NOTIFICATION_EVENTS:
            raise _err(
                "invalid_notification_request",
                f"notification_id and event ({', '.join(NOTIFICATION_EVENTS)}) are required",
            )
        desc = body.get("event_description")
        if desc is not None and (
            not isinstance(desc, str) or not all(0x20 <= ord(ch) <= 0x7E and ch not in '"\\' for ch in desc)
        ):
            raise _err("invalid_notification_request", "event_description must be printable ASCII")
        record = await self._store.get("vci_notification", nid, now=now)
        if record is None or not hmac.compare_digest(str(record.get("grant_id", "")), grant.grant_id):
            raise _err("invalid_notification_id", "unknown notification_id")
        return NotificationEvent(nid, str(event), desc, str(record["configuration_id"]))

