"""OpenID for Verifiable Credential Issuance 1.0: the Credential Issuer (and its Authorization Server).

Metadata (§12.2, §12.3), Credential Offers by value and by reference (§4.1), the Pre-Authorized Code
grant with a Transaction Code (§6), the Nonce Endpoint (§7), the Credential Endpoint with ``jwt`` key
proofs (§8, Appendix F.1) and batch issuance, and the Notification Endpoint (§11).
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
from vcsdk.errors import InvalidInputError, ProtocolError, VcsdkError
from vcsdk.keys import Key, decode_jws, verify_jws
from vcsdk.oid4vc._common import (
    SYSTEM_RANDOMNESS,
    Randomness,
    StateStore,
    is_https_url,
    random_code,
    random_token,
)
from vcsdk.oid4vc._vci_messages import (
    NOTIFICATION_EVENTS,
    PRE_AUTHORIZED_GRANT,
    PROOF_ALGORITHMS,
    PROOF_TYP,
    CredentialConfiguration,
    CredentialOffer,
    IssuedCredentials,
    NonceResponseBody,
    NotificationEvent,
    TokenResponse,
    TxCode,
    offer_reference_uri,
)

__all__ = ["CredentialIssuer", "IssueFn"]

#: A six-digit numeric Transaction Code, the default shape of an offer's PIN.
DEFAULT_TX_CODE = TxCode()



class IssueFn(Protocol):
    """Issues one credential with ``claims`` bound to ``holder_key`` (the proven device key) and
    returns it (an SD-JWT VC string). May be a coroutine function; wrap ``issue_sd_jwt_vc``."""

    def __call__(self, claims: Mapping[str, Any], holder_key: Key) -> Any: ...


# -- issuer ---------------------------------------------------------------------------------------


def _err(code: str, message: str) -> ProtocolError:
    return ProtocolError(message, code=code)


def _ts(value: datetime) -> int:
    return int(value.timestamp())


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

    def __repr__(self) -> str:
        return f"CredentialIssuer({self.credential_issuer!r}, configurations={list(self.configurations)})"

    # endpoints, relative to the issuer identifier; the HTTP layer mounts them there
    @property
    def token_endpoint(self) -> str:
        return f"{self.credential_issuer}/token"

    @property
    def nonce_endpoint(self) -> str:
        return f"{self.credential_issuer}/nonce"

    @property
    def credential_endpoint(self) -> str:
        return f"{self.credential_issuer}/credential"

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
        return {
            "issuer": self.credential_issuer,
            "token_endpoint": self.token_endpoint,
            "grant_types_supported": [PRE_AUTHORIZED_GRANT],
            "pre-authorized_grant_anonymous_access_supported": True,
            "token_endpoint_auth_methods_supported": ["none"],
        }

    # -- offers

    async def create_offer(
        self,
        configuration_id: str,
        claims: Mapping[str, Any],
        *,
        now: datetime,
        tx_code: TxCode | None = DEFAULT_TX_CODE,
    ) -> tuple[CredentialOffer, str | None]:
        """Prepare issuance of ``claims`` (already checked against the resident registry).

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

    # -- token endpoint (§6)

    async def token(self, form: Mapping[str, str], *, now: datetime) -> TokenResponse:
        """Handle a Token Request with the Pre-Authorized Code grant.

        :raises ProtocolError: ``unsupported_grant_type``; ``invalid_request`` (missing code, a
            Transaction Code missing or not expected); ``invalid_grant`` (unknown, expired or
            already used code, wrong Transaction Code — the code is burnt after
            ``max_tx_code_attempts`` wrong ones).
        :return: the access token.
        """
        if form.get("grant_type") != PRE_AUTHORIZED_GRANT:
            raise _err("unsupported_grant_type", "only the pre-authorized code grant is supported")
        code = form.get("pre-authorized_code")
        if not code:
            raise _err("invalid_request", "pre-authorized_code is missing")
        record = await self._store.get("vci_code", code, now=now)
        if record is None:
            raise _err("invalid_grant", "the pre-authorized code is unknown, expired or already used")
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
        # Single use (§4.1.1): the atomic take decides between two racing requests.
        record = await self._store.take("vci_code", code, now=now)
        if record is None:
            raise _err("invalid_grant", "the pre-authorized code is unknown, expired or already used")
        access_token = random_token(self._randomness)
        await self._store.put(
            "vci_access_token",
            access_token,
            {"configuration_id": record["configuration_id"], "claims": record["claims"]},
            expires_at=now + self.access_token_ttl,
        )
        return TokenResponse(access_token, "Bearer", int(self.access_token_ttl.total_seconds()))

    # -- nonce endpoint (§7)

    async def nonce(self, *, now: datetime) -> NonceResponseBody:
        """A fresh ``c_nonce`` (serve with ``Cache-Control: no-store``); each is accepted once."""
        c_nonce = random_token(self._randomness)
        await self._store.put("vci_c_nonce", c_nonce, {}, expires_at=now + self.nonce_ttl)
        return {"c_nonce": c_nonce}

    # -- credential endpoint (§8)

    async def _token_record(self, access_token: str | None, now: datetime) -> dict[str, Any]:
        if not access_token:
            raise _err("invalid_token", "an access token is required (Authorization: Bearer …)")
        record = await self._store.get("vci_access_token", access_token, now=now)
        if record is None:
            raise _err("invalid_token", "the access token is unknown or expired")
        return record

    async def credential(
        self, access_token: str | None, body: Mapping[str, Any] | bytes, *, now: datetime
    ) -> IssuedCredentials:
        """Handle a Credential Request: check every key proof, then issue one credential per key.

        :param access_token: the Bearer token from the ``Authorization`` header.
        :param body: the JSON request (object or bytes).
        :raises ProtocolError: ``invalid_token`` (RFC 6750); ``invalid_credential_request``
            (malformed, both or neither identifier, a batch over ``batch_size``);
            ``unknown_credential_configuration``; ``invalid_proof`` (missing proofs, wrong ``typ``,
            ``alg``, key, signature, ``aud`` or ``iat``, a repeated key, a missing nonce);
            ``invalid_nonce`` (an unknown, expired or already used ``c_nonce``).
        :return: the credentials and a notification id.
        """
        record = await self._token_record(access_token, now)
        if isinstance(body, bytes | bytearray):
            try:
                body = parse_json(bytes(body), what="credential request", max_bytes=512 * 1024)
            except InvalidInputError as exc:
                raise _err("invalid_credential_request", "the credential request is not valid JSON") from exc
        if not isinstance(body, Mapping):
            raise _err("invalid_credential_request", "the credential request must be a JSON object")
        if "credential_identifier" in body:
            raise _err(
                "invalid_credential_request", "credential_identifier is not used: no authorization_details were issued"
            )
        config_id = body.get("credential_configuration_id")
        if not isinstance(config_id, str):
            raise _err("invalid_credential_request", "credential_configuration_id is missing")
        if config_id not in self.configurations:
            raise _err("unknown_credential_configuration", "unknown credential configuration")
        if config_id != record["configuration_id"]:
            raise _err("invalid_credential_request", "the access token does not cover this credential configuration")
        if "credential_response_encryption" in body:
            raise _err("invalid_encryption_parameters", "response encryption is not supported by this issuer")
        proofs = body.get("proofs")
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
        issued: list[str] = []
        for key in keys:
            made = self._issue(record["claims"], key)
            if inspect.isawaitable(made):
                made = await made
            if not isinstance(made, str):
                raise _err("server_error", "the issue function did not return a credential string")
            issued.append(made)
        notification_id = random_token(self._randomness, 16)
        await self._store.put(
            "vci_notification",
            notification_id,
            {"access_token": access_token, "configuration_id": config_id},
            expires_at=now + timedelta(days=1),
        )
        return IssuedCredentials(tuple(issued), notification_id, config_id)

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
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise _err("invalid_proof", "the key proof has no iat")
        ts = now.timestamp()
        if iat > ts + self.leeway.total_seconds() or iat < ts - self.proof_max_age.total_seconds():
            raise _err("invalid_proof", "the key proof's iat is not fresh; make a new proof")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise _err("invalid_proof", "the key proof has no nonce; fetch a c_nonce from the nonce endpoint")
        return key, nonce

    # -- notification endpoint (§11)

    async def notification(
        self, access_token: str | None, body: Mapping[str, Any] | bytes, *, now: datetime
    ) -> NotificationEvent:
        """Handle a Notification Request (answer 204). Idempotent.

        :raises ProtocolError: ``invalid_token``; ``invalid_notification_request`` (malformed,
            unknown event); ``invalid_notification_id`` (not issued with this access token).
        """
        await self._token_record(access_token, now)
        if isinstance(body, bytes | bytearray):
            try:
                body = parse_json(bytes(body), what="notification request", max_bytes=16 * 1024)
            except InvalidInputError as exc:
                raise _err("invalid_notification_request", "the notification request is not valid JSON") from exc
        if not isinstance(body, Mapping):
            raise _err("invalid_notification_request", "the notification request must be a JSON object")
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
        if record is None or not hmac.compare_digest(str(record["access_token"]), access_token or ""):
            raise _err("invalid_notification_id", "unknown notification_id")
        return NotificationEvent(nid, str(event), desc, str(record["configuration_id"]))

