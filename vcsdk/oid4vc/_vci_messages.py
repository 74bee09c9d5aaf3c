"""OpenID for Verifiable Credential Issuance 1.0: the messages both sides exchange.

Constants of the protocol, the Credential Offer (§4.1) and its parsing, the Transaction Code shape,
credential configurations (§12.2.4), Token and Credential Responses (§6.2, §8.3) and notification
events (§11). The issuer's state machine is in :mod:`vcsdk.oid4vc._issuer`, the holder's in
:mod:`vcsdk.oid4vc._holder`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from vcsdk._json import parse_json
from vcsdk.errors import InvalidInputError, ProtocolError
from vcsdk.keys import AlgorithmPolicy
from vcsdk.oid4vc._common import is_https_url, render_qr

__all__ = [
    "AUTHORIZATION_CODE_GRANT",
    "NOTIFICATION_EVENTS",
    "OFFER_SCHEME",
    "OPENID_CREDENTIAL",
    "PRE_AUTHORIZED_GRANT",
    "PROOF_ALGORITHMS",
    "PROOF_TYP",
    "REFRESH_TOKEN_GRANT",
    "CredentialConfiguration",
    "CredentialOffer",
    "Deferred",
    "IssuedCredentials",
    "NotificationEvent",
    "TokenResponse",
    "TxCode",
    "offer_qr",
    "offer_reference_uri",
    "parse_credential_offer",
    "parse_credential_offer_uri",
    "well_known_url",
]

#: OpenID4VCI §4.1.1: the Pre-Authorized Code grant type.
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: RFC 6749 §4.1: the Authorization Code grant type (and its refresh, §6).
AUTHORIZATION_CODE_GRANT = "authorization_code"
REFRESH_TOKEN_GRANT = "refresh_token"  # noqa: S105 - a grant type name, not a secret
#: RFC 9396 / OpenID4VCI §5.1.1: the authorization details type for credentials.
OPENID_CREDENTIAL = "openid_credential"
#: OpenID4VCI Appendix F.1: the ``typ`` of a JWT key proof.
PROOF_TYP = "openid4vci-proof+jwt"
OFFER_SCHEME = "openid-credential-offer://"
NOTIFICATION_EVENTS = ("credential_accepted", "credential_failure", "credential_deleted")
#: HAIP: device keys are P-256; proofs are ES256.
PROOF_ALGORITHMS = AlgorithmPolicy(("ES256",))


# -- wire shapes ----------------------------------------------------------------------------------


class TokenResponseBody(TypedDict, total=False):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    authorization_details: list[dict[str, Any]]


class NonceResponseBody(TypedDict):
    c_nonce: str


class CredentialObject(TypedDict):
    credential: str


class CredentialResponseBody(TypedDict, total=False):
    credentials: list[CredentialObject]
    notification_id: str
    transaction_id: str
    interval: int


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
    """A Credential Offer (§4.1.1): the Pre-Authorized Code grant, the Authorization Code grant
    (with an ``issuer_state`` to pass back in the Authorization Request), or both."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    pre_authorized_code: str | None = None
    tx_code: TxCode | None = None
    issuer_state: str | None = None
    authorization_code: bool = False

    def __post_init__(self) -> None:
        if self.pre_authorized_code is None and not self.authorization_code:
            raise InvalidInputError("an offer needs the pre-authorized code or the authorization code grant")

    def to_dict(self) -> dict[str, Any]:
        grants: dict[str, Any] = {}
        if self.pre_authorized_code is not None:
            grant: dict[str, Any] = {"pre-authorized_code": self.pre_authorized_code}
            if self.tx_code is not None:
                grant["tx_code"] = self.tx_code.to_dict()
            grants[PRE_AUTHORIZED_GRANT] = grant
        if self.authorization_code:
            grants[AUTHORIZATION_CODE_GRANT] = {"issuer_state": self.issuer_state} if self.issuer_state else {}
        return {
            "credential_issuer": self.credential_issuer,
            "credential_configuration_ids": list(self.credential_configuration_ids),
            "grants": grants,
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
    """A successful Token Response (§6.2): a ``Bearer`` or a DPoP-bound (``DPoP``) access token, a
    refresh token, and the credential identifiers per configuration when ``authorization_details``
    was used."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    refresh_token: str | None = field(default=None, repr=False)
    authorization_details: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> TokenResponseBody:
        out: TokenResponseBody = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
        if self.authorization_details:
            out["authorization_details"] = [dict(d) for d in self.authorization_details]
        return out


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """A Credential Response (§8.3): one credential per proven key and the notification id — or,
    for deferred issuance (§9), no credentials yet and the ``transaction_id`` to ask again with."""

    credentials: tuple[str, ...]
    notification_id: str | None = None
    configuration_id: str | None = None
    access_token: str | None = field(default=None, repr=False)
    notification_endpoint: str | None = None
    transaction_id: str | None = None
    interval: int | None = None
    #: the wallet's session with the issuer (tokens, DPoP key) for the notification and refresh.
    session: Any = field(default=None, repr=False, compare=False)

    @property
    def deferred(self) -> bool:
        return self.transaction_id is not None

    def to_dict(self) -> CredentialResponseBody:
        if self.transaction_id is not None:
            return {"transaction_id": self.transaction_id, "interval": self.interval or 60}
        out: CredentialResponseBody = {"credentials": [{"credential": c} for c in self.credentials]}
        if self.notification_id is not None:
            out["notification_id"] = self.notification_id
        return out


@dataclass(frozen=True, slots=True)
class Deferred:
    """What an issue function returns when it cannot issue yet (a manual review, data not ready):
    the wallet gets a ``transaction_id`` and asks the Deferred Credential Endpoint after ``interval``
    seconds (§9); the issue function is called again then."""

    interval: int = 60

    def __post_init__(self) -> None:
        if not 1 <= self.interval <= 30 * 86400:
            raise InvalidInputError("interval is between one second and thirty days")


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """What a Notification Request (§11.1) told the issuer."""

    notification_id: str
    event: str
    event_description: str | None
    configuration_id: str



def _err(code: str, message: str) -> ProtocolError:
    return ProtocolError(message, code=code)


def parse_credential_offer(value: Mapping[str, Any] | str | bytes) -> CredentialOffer:
    """Parse a Credential Offer object (§4.1.1) with the Pre-Authorized Code or the Authorization
    Code grant.

    The offer is not trusted (§13.3): the wallet still checks the issuer's metadata.

    :raises ProtocolError: (``invalid_request``) if it is malformed or has neither grant.
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
    if not isinstance(grants, Mapping):
        raise _err("invalid_request", "the offer has no grants (pre-authorized code or authorization code)")
    grant = grants.get(PRE_AUTHORIZED_GRANT)
    code: str | None = None
    tx: TxCode | None = None
    if grant is not None:
        if not isinstance(grant, Mapping) or not isinstance(grant.get("pre-authorized_code"), str):
            raise _err("invalid_request", "the pre-authorized code grant has no pre-authorized_code")
        code = grant["pre-authorized_code"]
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
    auth = grants.get(AUTHORIZATION_CODE_GRANT)
    issuer_state: str | None = None
    if auth is not None:
        if not isinstance(auth, Mapping):
            raise _err("invalid_request", "the authorization_code grant must be an object")
        state = auth.get("issuer_state")
        if state is not None and (not isinstance(state, str) or not state or len(state) > 512):
            raise _err("invalid_request", "issuer_state must be a string")
        issuer_state = state
    if code is None and auth is None:
        raise _err("invalid_request", "the offer has neither a pre-authorized code nor an authorization code grant")
    return CredentialOffer(
        issuer.rstrip("/"), tuple(ids), code, tx, issuer_state=issuer_state, authorization_code=auth is not None
    )


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



def well_known_url(identifier: str, name: str) -> str:
    """The metadata URL of an issuer or authorization server identifier: the well-known segment
    goes between host and path (OpenID4VCI §12.2.2, RFC 8414 §3)."""
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{name}{path}"
