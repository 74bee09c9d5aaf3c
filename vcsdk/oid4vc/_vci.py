"""OpenID for Verifiable Credential Issuance 1.0: the issuer's and the wallet's side.

Issuer (the city): metadata (§12.2, §12.3), Credential Offers by value and by reference (§4.1),
the Pre-Authorized Code grant with a Transaction Code (§6), the Nonce Endpoint (§7), the Credential
Endpoint with ``jwt`` key proofs (§8, Appendix F.1) and batch issuance, and the Notification Endpoint
(§11). :class:`CredentialIssuer` takes an ``issue(claims, holder_key)`` callable and a
:class:`~vcsdk.oid4vc.StateStore`; each endpoint is one method: message in, message out. Errors are
:class:`~vcsdk.errors.ProtocolError` carrying the spec's error code.

Wallet: :func:`parse_credential_offer_uri`, :func:`create_key_proof` (signed through any
:class:`~vcsdk.keys.Signer`, e.g. a phone's secure enclave) and :func:`receive_credential`, an
I/O-free flow that yields the HTTP requests it needs.
"""

from __future__ import annotations

import hmac
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypedDict
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from vcsdk._json import parse_json
from vcsdk.errors import InvalidInputError, ProtocolError, VcsdkError
from vcsdk.keys import AlgorithmPolicy, Key, Signer, decode_jws, sign_jws, verify_jws
from vcsdk.oid4vc._common import (
    SYSTEM_RANDOMNESS,
    Flow,
    HttpRequest,
    Randomness,
    StateStore,
    is_https_url,
    raise_for_error,
    random_code,
    random_token,
    render_qr,
)

__all__ = [
    "PRE_AUTHORIZED_GRANT",
    "PROOF_TYP",
    "CredentialConfiguration",
    "CredentialIssuer",
    "CredentialOffer",
    "IssueFn",
    "IssuedCredentials",
    "NotificationEvent",
    "TokenResponse",
    "TxCode",
    "build_credential_request",
    "build_token_request",
    "create_key_proof",
    "notification_request",
    "offer_qr",
    "offer_reference_uri",
    "parse_credential_offer",
    "parse_credential_offer_uri",
    "receive_credential",
]

#: OpenID4VCI §4.1.1: the Pre-Authorized Code grant type.
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: OpenID4VCI Appendix F.1: the ``typ`` of a JWT key proof.
PROOF_TYP = "openid4vci-proof+jwt"
OFFER_SCHEME = "openid-credential-offer://"
NOTIFICATION_EVENTS = ("credential_accepted", "credential_failure", "credential_deleted")
#: HAIP: device keys are P-256; proofs are ES256.
PROOF_ALGORITHMS = AlgorithmPolicy(("ES256",))


# -- wire shapes ----------------------------------------------------------------------------------


class TokenResponseBody(TypedDict):
    access_token: str
    token_type: str
    expires_in: int


class NonceResponseBody(TypedDict):
    c_nonce: str


class CredentialObject(TypedDict):
    credential: str


class CredentialResponseBody(TypedDict, total=False):
    credentials: list[CredentialObject]
    notification_id: str


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TxCode:
    """How the Transaction Code (PIN sent out of band) looks (§4.1.1): mode, length, description."""

    input_mode: Literal["numeric", "text"] = "numeric"
    length: int = 6
    description: str | None = None

    def __post_init__(self) -> None:
        if self.input_mode not in ("numeric", "text"):
            raise InvalidInputError("tx_code input_mode is numeric or text")
        if not 4 <= self.length <= 32:
            raise InvalidInputError("tx_code length must be between 4 and 32")
        if self.description is not None and len(self.description) > 300:
            raise InvalidInputError("tx_code description must not exceed 300 characters (§4.1.1)")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"input_mode": self.input_mode, "length": self.length}
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class CredentialOffer:
    """A Credential Offer (§4.1.1) with the Pre-Authorized Code grant."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    pre_authorized_code: str
    tx_code: TxCode | None = None

    def to_dict(self) -> dict[str, Any]:
        grant: dict[str, Any] = {"pre-authorized_code": self.pre_authorized_code}
        if self.tx_code is not None:
            grant["tx_code"] = self.tx_code.to_dict()
        return {
            "credential_issuer": self.credential_issuer,
            "credential_configuration_ids": list(self.credential_configuration_ids),
            "grants": {PRE_AUTHORIZED_GRANT: grant},
        }

    def uri(self) -> str:
        """``openid-credential-offer://?credential_offer=…`` (the offer by value)."""
        text = json.dumps(self.to_dict(), separators=(",", ":"))
        return f"{OFFER_SCHEME}?credential_offer={quote(text, safe='')}"


def offer_reference_uri(credential_offer_uri: str) -> str:
    """``openid-credential-offer://?credential_offer_uri=…`` (the offer by reference)."""
    return f"{OFFER_SCHEME}?{urlencode({'credential_offer_uri': credential_offer_uri})}"


@dataclass(frozen=True, slots=True)
class CredentialConfiguration:
    """One entry of ``credential_configurations_supported`` (§12.2.4) for an SD-JWT VC (A.3)."""

    id: str
    vct: str
    display_name: str | None = None
    claims: tuple[tuple[str, ...], ...] = ()
    signing_algorithms: tuple[str, ...] = ("ES256K", "ES256")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": "dc+sd-jwt",
            "vct": self.vct,
            "scope": self.id,
            "credential_signing_alg_values_supported": list(self.signing_algorithms),
            "cryptographic_binding_methods_supported": ["jwk"],
            "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGORITHMS.names)}},
        }
        meta: dict[str, Any] = {}
        if self.display_name is not None:
            meta["display"] = [{"name": self.display_name}]
        if self.claims:
            meta["claims"] = [{"path": list(p)} for p in self.claims]
        if meta:
            out["credential_metadata"] = meta
        return out


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful Token Response (§6.2)."""

    access_token: str
    token_type: str
    expires_in: int

    def to_dict(self) -> TokenResponseBody:
        return {"access_token": self.access_token, "token_type": self.token_type, "expires_in": self.expires_in}


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """A Credential Response (§8.3): one credential per proven key, and the notification id."""

    credentials: tuple[str, ...]
    notification_id: str | None = None
    configuration_id: str | None = None
    access_token: str | None = field(default=None, repr=False)
    notification_endpoint: str | None = None

    def to_dict(self) -> CredentialResponseBody:
        out: CredentialResponseBody = {"credentials": [{"credential": c} for c in self.credentials]}
        if self.notification_id is not None:
            out["notification_id"] = self.notification_id
        return out


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """What a Notification Request (§11.1) told the issuer."""

    notification_id: str
    event: str
    event_description: str | None
    configuration_id: str


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
        tx_code: TxCode | None = TxCode(),
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


# -- wallet ---------------------------------------------------------------------------------------


def parse_credential_offer(value: Mapping[str, Any] | str | bytes) -> CredentialOffer:
    """Parse a Credential Offer object (§4.1.1) that carries the Pre-Authorized Code grant.

    The offer is not trusted (§13.3): the wallet still checks the issuer's metadata.

    :raises ProtocolError: (``invalid_request``) if it is malformed or has no pre-authorized grant.
    """
    if isinstance(value, str | bytes):
        try:
            value = parse_json(value, what="credential offer", max_bytes=64 * 1024)
        except InvalidInputError as exc:
            raise _err("invalid_request", "the credential offer is not valid JSON") from exc
    if not isinstance(value, Mapping):
        raise _err("invalid_request", "the credential offer must be a JSON object")
    issuer = value.get("credential_issuer")
    if not isinstance(issuer, str) or not is_https_url(issuer) or "?" in issuer:
        raise _err("invalid_request", "credential_issuer must be an https URL")
    ids = value.get("credential_configuration_ids")
    if (
        not isinstance(ids, list)
        or not ids
        or not all(isinstance(i, str) and i for i in ids)
        or len(set(ids)) != len(ids)
    ):
        raise _err("invalid_request", "credential_configuration_ids must be a non-empty array of unique strings")
    grants = value.get("grants")
    grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, Mapping) else None
    if not isinstance(grant, Mapping) or not isinstance(grant.get("pre-authorized_code"), str):
        raise _err("invalid_request", "the offer has no pre-authorized code grant")
    tx: TxCode | None = None
    if "tx_code" in grant:
        raw = grant["tx_code"]
        if not isinstance(raw, Mapping):
            raise _err("invalid_request", "tx_code must be an object")
        try:
            tx = TxCode(
                input_mode=raw.get("input_mode", "numeric"),
                length=raw.get("length", 6) if isinstance(raw.get("length", 6), int) else -1,
                description=raw.get("description") if isinstance(raw.get("description"), str) else None,
            )
        except InvalidInputError as exc:
            raise _err("invalid_request", f"tx_code: {exc.message}") from exc
    return CredentialOffer(issuer.rstrip("/"), tuple(ids), grant["pre-authorized_code"], tx)


def parse_credential_offer_uri(uri: str) -> CredentialOffer | str:
    """Parse an ``openid-credential-offer://`` URI (or a wallet link with the same query).

    :raises ProtocolError: (``invalid_request``) unless exactly one of ``credential_offer`` and
        ``credential_offer_uri`` is present and well formed.
    :return: the offer (by value), or the https URL to GET it from (by reference).
    """
    params = parse_qs(urlsplit(uri).query, keep_blank_values=True)
    by_value, by_ref = params.get("credential_offer"), params.get("credential_offer_uri")
    if (by_value is None) == (by_ref is None) or len(by_value or by_ref or []) != 1:
        raise _err("invalid_request", "exactly one of credential_offer and credential_offer_uri is required")
    if by_ref is not None:
        ref = by_ref[0]
        if not is_https_url(ref):
            raise _err("invalid_request", "credential_offer_uri must be an https URL")
        return ref
    assert by_value is not None
    return parse_credential_offer(by_value[0])


def offer_qr(uri: str, *, kind: Literal["svg", "png"] = "svg", scale: int = 4) -> bytes:
    """An offer URI as a QR code image."""
    return render_qr(uri, kind=kind, scale=scale)


def build_token_request(offer: CredentialOffer, *, tx_code: str | None) -> dict[str, str]:
    """The Token Request form (§6.1) for the Pre-Authorized Code grant.

    :raises InvalidInputError: if the offer needs a Transaction Code and none is given, or the
        reverse, or it does not fit the announced shape.
    """
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


def create_key_proof(
    signer: Signer,
    *,
    audience: str,
    nonce: str,
    now: datetime,
    jwk: Mapping[str, str] | None = None,
) -> str:
    """A ``jwt`` key proof (Appendix F.1): ``typ`` ``openid4vci-proof+jwt``, the device public key in
    the ``jwk`` header, ``aud`` the Credential Issuer, ``nonce`` the ``c_nonce``, ``iat`` now.

    ``iss`` is omitted, as required for anonymous Pre-Authorized Code access.

    :param signer: the device key or anything signing for it (secure enclave).
    :param jwk: the public JWK; defaults to ``signer.public_jwk()`` when the signer is a :class:`Key`.
    :raises InvalidInputError: if no public JWK is available.
    """
    if jwk is None:
        if not isinstance(signer, Key):
            raise InvalidInputError("pass the device's public JWK for a signer that is not a Key")
        jwk = signer.public_jwk()
    public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
    claims = {"aud": audience, "iat": _ts(now), "nonce": nonce}
    return sign_jws(claims, signer, typ=PROOF_TYP, header={"jwk": public}, include_kid=False)


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


def _well_known(identifier: str, name: str) -> str:
    # §12.2.2 / RFC 8414 §3: insert the well-known segment between host and path.
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{name}{path}"


def receive_credential(
    offer: CredentialOffer,
    *,
    tx_code: str | None,
    signers: Sequence[Signer],
    now: Callable[[], datetime],
    jwks: Sequence[Mapping[str, str]] | None = None,
    configuration_id: str | None = None,
) -> Flow[IssuedCredentials]:
    """The wallet's issuance flow: metadata → token → nonce → credential, I/O-free.

    Drive it like an httpx auth flow: ``request = next(flow)``, then ``flow.send(response)`` until it
    returns (``StopIteration.value``); :func:`vcsdk.oid4vc.run_flow` does that over aiohttp.

    :param signers: one per device key; several make a batch request (one credential per key).
    :param now: the clock, read when the proofs are signed.
    :raises ProtocolError: with the issuer's error code, or ``invalid_response`` for a bad answer.
    :return: (as the generator's value) the issued credentials, with the access token for the
        notification.
    """
    if not signers:
        raise InvalidInputError("at least one device key is needed")
    config_id = configuration_id or offer.credential_configuration_ids[0]
    if config_id not in offer.credential_configuration_ids:
        raise InvalidInputError("the offer does not include that credential configuration")
    form = build_token_request(offer, tx_code=tx_code)

    response = yield HttpRequest("GET", _well_known(offer.credential_issuer, "openid-credential-issuer"))
    raise_for_error(response, what="issuer metadata")
    meta = response.json_object(what="issuer metadata")
    if meta.get("credential_issuer") != offer.credential_issuer:
        raise _err("invalid_response", "the metadata's credential_issuer differs from the offer's")
    configs = meta.get("credential_configurations_supported")
    if not isinstance(configs, Mapping) or config_id not in configs:
        raise _err("invalid_response", "the issuer's metadata does not describe the offered credential")
    batch = meta.get("batch_credential_issuance")
    limit = batch.get("batch_size", 1) if isinstance(batch, Mapping) else 1
    if len(signers) > max(1, int(limit) if isinstance(limit, int) else 1):
        raise InvalidInputError("the issuer does not accept that many keys in one request")
    servers = meta.get("authorization_servers")
    as_id = (
        servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], str) else offer.credential_issuer
    )

    response = yield HttpRequest("GET", _well_known(as_id, "oauth-authorization-server"))
    raise_for_error(response, what="authorization server metadata")
    as_meta = response.json_object(what="authorization server metadata")
    token_endpoint = as_meta.get("token_endpoint")
    credential_endpoint = meta.get("credential_endpoint")
    nonce_endpoint = meta.get("nonce_endpoint")
    if not all(is_https_url(u) for u in (token_endpoint, credential_endpoint, nonce_endpoint)):
        raise _err("invalid_response", "the metadata lacks an https token, credential or nonce endpoint")
    assert isinstance(token_endpoint, str) and isinstance(credential_endpoint, str) and isinstance(nonce_endpoint, str)

    response = yield HttpRequest.form(token_endpoint, form)
    raise_for_error(response, what="token request")
    token = response.json_object(what="token response")
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or str(token.get("token_type", "")).lower() != "bearer":
        raise _err("invalid_response", "the token response has no bearer access token")

    response = yield HttpRequest("POST", nonce_endpoint, {"Content-Length": "0"}, b"")
    raise_for_error(response, what="nonce request")
    c_nonce = response.json_object(what="nonce response").get("c_nonce")
    if not isinstance(c_nonce, str):
        raise _err("invalid_response", "the nonce response has no c_nonce")

    at = now()
    proofs = [
        create_key_proof(s, audience=offer.credential_issuer, nonce=c_nonce, now=at, jwk=(jwks[i] if jwks else None))
        for i, s in enumerate(signers)
    ]
    body = build_credential_request(config_id, proofs)
    response = yield HttpRequest.json(credential_endpoint, body, headers={"Authorization": f"Bearer {access_token}"})
    raise_for_error(response, what="credential request")
    answer = response.json_object(what="credential response")
    creds = answer.get("credentials")
    if not isinstance(creds, list) or not creds:
        raise _err(
            "invalid_response", "the credential response has no credentials (deferred issuance is not supported)"
        )
    out: list[str] = []
    for c in creds:
        if not isinstance(c, Mapping) or not isinstance(c.get("credential"), str):
            raise _err("invalid_response", "each credentials entry needs a credential string")
        out.append(c["credential"])
    if len(out) > len(signers):
        raise _err("invalid_response", "the issuer returned more credentials than keys were proven")
    nid = answer.get("notification_id")
    endpoint = meta.get("notification_endpoint")
    return IssuedCredentials(
        tuple(out),
        nid if isinstance(nid, str) else None,
        config_id,
        access_token,
        endpoint if isinstance(endpoint, str) else None,
    )
