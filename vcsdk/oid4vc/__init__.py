"""OpenID4VCI 1.0 and OpenID4VP 1.0 (with DCQL) as I/O-free state machines, one module per role.

* Issuer (the city), ``_issuer``: :class:`CredentialIssuer`.
* Verifier (a service), ``_verifier``: :class:`Verifier`.
* Holder (a resident's wallet, keys on the phone), ``_holder``: two-phase issuance
  (:func:`prepare_issuance` → the phone signs → :func:`finish_issuance`; :func:`receive_credential`
  for a key that signs at once) and :class:`HolderPresentation` (consent screen → Key Binding JWT
  signing inputs → Authorization Response).
* Wallet messages, ``_wallet``: the pure functions the holder strings together
  (:func:`parse_credential_offer_uri`, :func:`load_request_object`, :func:`build_consent`,
  :func:`build_authorization_response`, …), for wallets that drive the protocol themselves.

Each server endpoint is one method taking the parsed message and ``now=``; each client flow yields
the :class:`HttpRequest` it needs and is sent the :class:`HttpResponse`. Errors a peer must see
carry the spec's error code in :class:`~vcsdk.errors.ProtocolError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vcsdk.oid4vc._authorization import AuthorizationServer, AuthorizationSession, RequestContext
from vcsdk.oid4vc._client_attestation import (
    ClientAttestation,
    WalletAttestationTrust,
    create_attestation_pop,
    issue_wallet_attestation,
    verify_client_attestation,
)
from vcsdk.oid4vc._common import (
    HttpRequest,
    HttpResponse,
    InMemoryStateStore,
    Randomness,
    StateStore,
    SystemRandomness,
    render_qr,
)
from vcsdk.oid4vc._dcql import (
    CandidateCredential,
    ClaimsQuery,
    CredentialMatch,
    CredentialQuery,
    CredentialSetQuery,
    DcqlClaimPath,
    DcqlMatch,
    DcqlQuery,
    match_credential_query,
    match_dcql,
    parse_dcql_query,
    select_claims,
)
from vcsdk.oid4vc._dpop import VerifiedDpopProof, access_token_hash, create_dpop_proof, verify_dpop_proof
from vcsdk.oid4vc._holder import (
    HolderPresentation,
    IssuerSession,
    PendingAuthorization,
    PendingIssuance,
    PreparedPresentation,
    fetch_credential_offer,
    fetch_deferred_credentials,
    fetch_request_object,
    finish_authorization,
    finish_issuance,
    notify_issuer,
    prepare_issuance,
    receive_credential,
    refresh_issuance,
    renew_issuance,
    start_authorization,
)
from vcsdk.oid4vc._issuer import CredentialIssuer
from vcsdk.oid4vc._received import verify_received_credential
from vcsdk.oid4vc._vci_messages import (
    CredentialConfiguration,
    CredentialOffer,
    Deferred,
    IssuedCredentials,
    NotificationEvent,
    TokenResponse,
    TxCode,
    parse_credential_offer,
    parse_credential_offer_uri,
)
from vcsdk.oid4vc._verifier import PresentationResult, PresentedCredential, Verifier
from vcsdk.oid4vc._vp_messages import AuthorizationRequest, AuthorizationRequestReference, PresentationRequest
from vcsdk.oid4vc._wallet import (
    ConsentCredential,
    ConsentScreen,
    build_authorization_response,
    build_consent,
    build_credential_request,
    build_error_response,
    build_token_request,
    create_key_proof,
    key_proof_signing_input,
    load_request_object,
    notification_request,
    parse_authorization_request_uri,
    parse_response_uri_answer,
    peek_request_object,
    request_object_request,
    verify_request_object,
)

if TYPE_CHECKING:  # the type checker sees the real signatures; at run time they load lazily
    from vcsdk.oid4vc._http import (
        NO_STORE,
        error_response,
        issuer_routes,
        read_form,
        run_flow,
        send,
        verifier_routes,
    )
    from vcsdk.oid4vc._redis import RedisStateStore

#: aiohttp glue and the Redis state store, imported on first use so the protocol modules stay free
#: of I/O libraries.
_HTTP_NAMES = frozenset(
    {"NO_STORE", "error_response", "issuer_routes", "read_form", "run_flow", "send", "verifier_routes"}
)


def __getattr__(name: str) -> object:
    if name in _HTTP_NAMES:
        from vcsdk.oid4vc import _http

        return getattr(_http, name)
    if name == "RedisStateStore":
        from vcsdk.oid4vc._redis import RedisStateStore

        return RedisStateStore
    raise AttributeError(f"module 'vcsdk.oid4vc' has no attribute {name!r}")


__all__ = [
    "NO_STORE",
    "AuthorizationRequest",
    "AuthorizationRequestReference",
    "AuthorizationServer",
    "AuthorizationSession",
    "CandidateCredential",
    "ClaimsQuery",
    "ClientAttestation",
    "ConsentCredential",
    "ConsentScreen",
    "CredentialConfiguration",
    "CredentialIssuer",
    "CredentialMatch",
    "CredentialOffer",
    "CredentialQuery",
    "CredentialSetQuery",
    "DcqlClaimPath",
    "DcqlMatch",
    "DcqlQuery",
    "Deferred",
    "HolderPresentation",
    "HttpRequest",
    "HttpResponse",
    "InMemoryStateStore",
    "IssuedCredentials",
    "IssuerSession",
    "NotificationEvent",
    "PendingAuthorization",
    "PendingIssuance",
    "PreparedPresentation",
    "PresentationRequest",
    "PresentationResult",
    "PresentedCredential",
    "Randomness",
    "RedisStateStore",
    "RequestContext",
    "StateStore",
    "SystemRandomness",
    "TokenResponse",
    "TxCode",
    "VerifiedDpopProof",
    "Verifier",
    "WalletAttestationTrust",
    "access_token_hash",
    "build_authorization_response",
    "build_consent",
    "build_credential_request",
    "build_error_response",
    "build_token_request",
    "create_attestation_pop",
    "create_dpop_proof",
    "create_key_proof",
    "error_response",
    "fetch_credential_offer",
    "fetch_deferred_credentials",
    "fetch_request_object",
    "finish_authorization",
    "finish_issuance",
    "issue_wallet_attestation",
    "issuer_routes",
    "key_proof_signing_input",
    "load_request_object",
    "match_credential_query",
    "match_dcql",
    "notification_request",
    "notify_issuer",
    "parse_authorization_request_uri",
    "parse_credential_offer",
    "parse_credential_offer_uri",
    "parse_dcql_query",
    "parse_response_uri_answer",
    "peek_request_object",
    "prepare_issuance",
    "read_form",
    "receive_credential",
    "refresh_issuance",
    "render_qr",
    "renew_issuance",
    "request_object_request",
    "run_flow",
    "select_claims",
    "send",
    "start_authorization",
    "verifier_routes",
    "verify_client_attestation",
    "verify_dpop_proof",
    "verify_received_credential",
    "verify_request_object",
]
