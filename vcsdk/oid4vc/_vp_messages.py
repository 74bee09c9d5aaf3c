"""OpenID for Verifiable Presentations 1.0: the messages both sides exchange.

The Client Identifier Prefix, the Authorization Request as the Request Object carries it (§5), the
request reference a deep link or QR code carries, and the request a verifier created. The
verifier's state machine is in :mod:`vcsdk.oid4vc._verifier`, the wallet's in
:mod:`vcsdk.oid4vc._wallet` and :mod:`vcsdk.oid4vc._holder`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from vcsdk.errors import ProtocolError
from vcsdk.oid4vc._common import render_qr
from vcsdk.oid4vc._dcql import SD_JWT_VC_FORMAT, DcqlQuery, parse_dcql_query

__all__ = [
    "CLIENT_ID_PREFIX",
    "CLIENT_ID_PREFIXES",
    "DEEP_LINK_SCHEME",
    "MAX_PURPOSE_CHARS",
    "MAX_REQUEST_OBJECT_BYTES",
    "PURPOSE_FORMAT",
    "REGISTRATION_FORMAT",
    "REQUEST_OBJECT_TYP",
    "RESPONSE_MODES",
    "SELF_ISSUED_AUDIENCE",
    "AuthorizationRequest",
    "AuthorizationRequestReference",
    "PresentationRequest",
    "client_id_prefix",
    "did_of_client_id",
]

#: OpenID4VP 1.0 §5.9.3: the Client Identifier Prefix for a verifier identified by a DID.
CLIENT_ID_PREFIX = "decentralized_identifier:"
#: The Client Identifier Prefixes this SDK implements (§5.9.3): a DID, the SHA-256 of the request
#: signer's X.509 certificate (HAIP 1.0), a DNS name in that certificate, and the unsigned
#: ``redirect_uri`` prefix (the Response URI itself).
CLIENT_ID_PREFIXES = ("decentralized_identifier", "x509_hash", "x509_san_dns", "redirect_uri")
#: OpenID4VP §8.2 / §8.3.1: the response modes.
RESPONSE_MODES = ("direct_post", "direct_post.jwt")
#: RFC 9101 / OpenID4VP §5: the Request Object's ``typ``.
REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"
#: OpenID4VP §5.8: ``aud`` of a Request Object under static discovery (the ``openid4vp://`` scheme).
SELF_ISSUED_AUDIENCE = "https://self-issued.me/v2"
#: The ``verifier_info`` format (OpenID4VP §5.1, §5.11) carrying the purpose shown to the resident.
#: It is bound to the verifier by the Request Object's signature (a claim-bound attestation).
PURPOSE_FORMAT = "urn:vcsdk:verifier-info:purpose"
#: The ``verifier_info`` format carrying the service's registration with the city (a compact JWS the
#: city signed, :mod:`vcsdk.registration`); the wallet checks the request against it before consent.
REGISTRATION_FORMAT = "urn:vcsdk:verifier-info:registration"
DEEP_LINK_SCHEME = "openid4vp://"
MAX_PURPOSE_CHARS = 500
MAX_REQUEST_OBJECT_BYTES = 64 * 1024


def client_id_prefix(client_id: str) -> tuple[str, str]:
    """The Client Identifier Prefix and the identifier after it (§5.9.1: before the first ``:``).

    :raises ProtocolError: (``invalid_request``) for a prefix this SDK does not implement (a
        pre-registered client without prefix, ``openid_federation``, ``verifier_attestation``, ``origin``).
    """
    prefix, sep, rest = client_id.partition(":")
    if not sep or prefix not in CLIENT_ID_PREFIXES or not rest or len(client_id) > 1024:
        raise ProtocolError(
            f"client_id uses a Client Identifier Prefix this wallet does not support ({', '.join(CLIENT_ID_PREFIXES)})",
            code="invalid_request",
        )
    return prefix, rest


def did_of_client_id(client_id: str) -> str:
    """The DID of a ``decentralized_identifier:`` Client Identifier.

    :raises ProtocolError: (``invalid_request``) for another prefix or no DID after it.
    """
    if not client_id.startswith(CLIENT_ID_PREFIX):
        raise ProtocolError(
            "client_id does not use the decentralized_identifier prefix; this wallet supports only that one",
            code="invalid_request",
        )
    did = client_id[len(CLIENT_ID_PREFIX) :]
    if not did.startswith("did:") or "#" in did or len(did) > 512:
        raise ProtocolError("client_id does not carry a DID after its prefix", code="invalid_request")
    return did


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """The parameters of an OpenID4VP Authorization Request, as carried in the Request Object."""

    client_id: str
    response_uri: str
    nonce: str
    dcql_query: DcqlQuery
    state: str | None = None
    purpose: str | None = None
    client_name: str | None = None
    response_mode: str = "direct_post"
    response_type: str = "vp_token"
    issued_at: int | None = None
    expires_at: int | None = None
    wallet_nonce: str | None = None
    registration: str | None = None
    #: ``client_metadata.jwks``: the verifier's public keys for ``direct_post.jwt`` (§8.3).
    jwks: tuple[Mapping[str, Any], ...] = ()
    #: ``client_metadata.encrypted_response_enc_values_supported``.
    encrypted_response_enc_values: tuple[str, ...] = ()
    #: the ``aud`` of the Request Object: the wallet's issuer from its metadata, or static discovery.
    audience: str = SELF_ISSUED_AUDIENCE

    @property
    def verifier_did(self) -> str:
        """The verifier's DID (the Client Identifier without its prefix).

        :raises ProtocolError: (``invalid_request``) if the verifier is not identified by a DID.
        """
        return did_of_client_id(self.client_id)

    @property
    def client_id_prefix(self) -> str:
        """The Client Identifier Prefix (``decentralized_identifier``, ``x509_hash``, …)."""
        return self.client_id.partition(":")[0]

    def to_claims(self) -> dict[str, Any]:
        """The Request Object payload."""
        out: dict[str, Any] = {
            "iss": self.client_id,
            "aud": self.audience,
            "response_type": self.response_type,
            "response_mode": self.response_mode,
            "client_id": self.client_id,
            "response_uri": self.response_uri,
            "nonce": self.nonce,
            "dcql_query": self.dcql_query.to_dict(),
            "client_metadata": {
                "vp_formats_supported": {
                    SD_JWT_VC_FORMAT: {"sd-jwt_alg_values": ["ES256", "ES256K"], "kb-jwt_alg_values": ["ES256"]}
                },
            },
        }
        if self.client_name is not None:
            out["client_metadata"]["client_name"] = self.client_name
        if self.jwks:
            out["client_metadata"]["jwks"] = {"keys": [dict(k) for k in self.jwks]}
        if self.encrypted_response_enc_values:
            out["client_metadata"]["encrypted_response_enc_values_supported"] = list(self.encrypted_response_enc_values)
        if self.state is not None:
            out["state"] = self.state
        info: list[dict[str, Any]] = []
        if self.purpose is not None:
            info.append({"format": PURPOSE_FORMAT, "data": {"purpose": self.purpose}})
        if self.registration is not None:
            info.append({"format": REGISTRATION_FORMAT, "data": self.registration})
        if info:
            out["verifier_info"] = info
        if self.issued_at is not None:
            out["iat"] = self.issued_at
        if self.expires_at is not None:
            out["exp"] = self.expires_at
        if self.wallet_nonce is not None:
            out["wallet_nonce"] = self.wallet_nonce
        return out

    def to_state(self) -> dict[str, Any]:
        """The verified request as JSON-compatible state, for a holder that finishes it later."""
        return {
            "client_id": self.client_id,
            "response_uri": self.response_uri,
            "nonce": self.nonce,
            "dcql_query": self.dcql_query.to_dict(),
            "state": self.state,
            "purpose": self.purpose,
            "client_name": self.client_name,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "response_mode": self.response_mode,
            "wallet_nonce": self.wallet_nonce,
            "registration": self.registration,
            "jwks": [dict(k) for k in self.jwks],
            "encrypted_response_enc_values": list(self.encrypted_response_enc_values),
        }

    @classmethod
    def from_state(cls, value: Mapping[str, Any]) -> AuthorizationRequest:
        """The request :meth:`to_state` saved (it was verified before it was saved).

        :raises ProtocolError: (``invalid_request``) if the saved DCQL query no longer parses.
        """
        known = {k: v for k, v in value.items() if k in _STATE_FIELDS and k != "dcql_query"}
        known["jwks"] = tuple(dict(k) for k in known.get("jwks") or ())
        known["encrypted_response_enc_values"] = tuple(known.get("encrypted_response_enc_values") or ())
        return cls(dcql_query=parse_dcql_query(value["dcql_query"]), **known)


@dataclass(frozen=True, slots=True)
class PresentationRequest:
    """A request the verifier created: show :attr:`deep_link` (or :meth:`qr`) to the resident.

    :ivar transaction_id: the service's own handle for a same-device request (kept in the user's
        session, never sent to the wallet): with the ``response_code`` the redirect brings back it
        fetches the result (:meth:`~vcsdk.oid4vc.Verifier.redeem`).
    :ivar parameters: for an unsigned request (``redirect_uri:`` prefix) the request passed by value.
    """

    request_id: str
    state: str
    nonce: str
    client_id: str
    request_uri: str
    request_object: str
    expires_at: datetime
    request_uri_method: str = "get"
    transaction_id: str | None = field(default=None, repr=False)
    parameters: Mapping[str, str] | None = None

    def link(self, scheme: str = DEEP_LINK_SCHEME) -> str:
        """The request as a link for ``scheme`` (``openid4vp://``, ``haip-vp://``, or a wallet's https URL)."""
        if self.parameters is not None:
            return f"{scheme}?{urlencode(dict(self.parameters))}"
        params = {"client_id": self.client_id, "request_uri": self.request_uri}
        if self.request_uri_method == "post":
            params["request_uri_method"] = "post"
        return f"{scheme}?{urlencode(params)}"

    @property
    def deep_link(self) -> str:
        """``openid4vp://?client_id=…&request_uri=…`` (OpenID4VP §5.7, request by reference)."""
        return self.link()

    def qr(self, *, kind: Literal["svg", "png"] = "svg", scale: int = 4) -> bytes:
        """The deep link as a QR code image."""
        return render_qr(self.deep_link, kind=kind, scale=scale)


@dataclass(frozen=True, slots=True)
class AuthorizationRequestReference:
    """What a deep link or QR code carries: the Client Identifier and where to get the request."""

    client_id: str
    request_uri: str | None = None
    request: str | None = None
    request_uri_method: str = "get"
    #: an unsigned request passed by value (``redirect_uri:`` prefix): its parameters.
    parameters: Mapping[str, str] | None = None



_STATE_FIELDS = frozenset(AuthorizationRequest.__dataclass_fields__)
