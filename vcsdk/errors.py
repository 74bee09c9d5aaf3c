"""The vcsdk error tree.

Every error the SDK raises on purpose derives from :class:`VcsdkError` and carries a stable
machine-readable ``code`` next to its human message, plus the HTTP status a server should answer
with. Messages say what failed and what to do; they never contain key material or personal data.

::

    VcsdkError                                   vcsdk_error
    ├── InvalidInputError (also ValueError)      invalid_input
    │   ├── InvalidDidError                      invalid_did
    │   └── InvalidTokenError (also Verification…) invalid_token
    │       └── MalformedTokenError              malformed_token
    │           └── CriticalHeaderError          crit_not_understood
    ├── VerificationError                        verification_failed
    │   ├── UnsupportedAlgorithmError            unsupported_algorithm
    │   │   └── DisallowedAlgorithmError         algorithm_not_allowed
    │   ├── SignatureInvalidError                signature_invalid
    │   ├── UntrustedKeyError                    untrusted_key
    │   ├── KeyNotFoundError                     key_not_found
    │   ├── TokenTypeError                       invalid_typ
    │   ├── TokenExpiredError                    token_expired
    │   ├── TokenNotYetValidError                token_not_yet_valid
    │   ├── ClaimsError                          invalid_claims
    │   │   └── NotEligibleError                 not_eligible
    │   ├── DisclosureError                      invalid_disclosure
    │   ├── KeyBindingError                      key_binding_invalid
    │   │   ├── KeyBindingMissingError           key_binding_missing
    │   │   ├── NonceMismatchError               nonce_mismatch
    │   │   │   └── ReplayedNonceError           replayed_nonce
    │   │   ├── AudienceMismatchError            audience_mismatch
    │   │   ├── KeyBindingStaleError             key_binding_stale
    │   │   └── SdHashMismatchError              sd_hash_mismatch
    │   ├── CredentialStatusError                credential_status_invalid
    │   │   ├── CredentialRevokedError           credential_revoked
    │   │   ├── CredentialSuspendedError         credential_suspended
    │   │   ├── StatusListUnavailableError       status_list_unavailable
    │   │   ├── StatusListStaleError             status_list_stale
    │   │   └── StatusListDigestMismatchError    status_list_digest_mismatch
    │   ├── IssuerNotAccreditedError             issuer_not_accredited
    │   ├── CredentialTypeError                  wrong_credential_type
    │   ├── ProofInvalidError                    proof_invalid
    │   ├── TokenKeyError                        token_key_not_committed
    │   ├── BallotTokenError                     invalid_ballot_token
    │   ├── ConsentError                         consent_invalid
    │   │   ├── ConsentMismatchError             consent_mismatch
    │   │   ├── ClaimsNotConsentedError          claims_not_consented
    │   │   ├── PurposeNotConsentedError         purpose_not_consented
    │   │   ├── ConsentExpiredError              consent_expired
    │   │   └── ConsentWithdrawnError            consent_withdrawn
    │   └── RegistrationError                    registration_invalid
    │       ├── ServiceNotRegisteredError        service_not_registered
    │       └── RequestNotRegisteredError        request_not_registered
    ├── DidResolutionError                       did_resolution_failed
    │   ├── DidNotFoundError                     did_not_found
    │   ├── DidDeactivatedError                  did_deactivated
    │   └── UnsupportedDidMethodError            method_not_supported
    ├── RegistryError                            registry_error
    │   ├── ChainUnavailableError                chain_unavailable
    │   ├── ChainIdMismatchError                 wrong_chain_id
    │   ├── TransactionRevertedError             tx_reverted
    │   ├── RegistryNotConfiguredError           registry_not_configured
    │   └── UnsupportedChainError                unsupported_chain
    ├── ResidentRegistryError                    resident_registry_error
    │   ├── ResidentRegistryUnavailableError     resident_registry_unavailable
    │   └── ResidentRegistryFaultError           resident_registry_fault
    ├── ProtocolError                            protocol_error
    ├── SigningFailedError                       signing_failure
    ├── PrivacyBudgetExceededError               privacy_budget_exceeded
    └── StorageError                             storage_error
        ├── NotFoundError                        not_found
        └── ConflictError                        conflict
            ├── AlreadyVotedError                already_voted
            └── TokenAlreadyIssuedError          token_already_issued

Every way a token, credential or presentation can fail verification is a ``VerificationError``:
``InvalidTokenError`` (and so ``MalformedTokenError``) is one as well as an ``InvalidInputError``, and
``UnsupportedAlgorithmError`` is one, so a service that catches ``VerificationError`` misses none.
Each check has its own stable ``code`` (docs/security.md lists them): a caller tells a bad signature
(``signature_invalid``) from an expired credential (``token_expired``) without reading messages.

A caller may narrow a class's code for one instance (``RegistryError("…", code="timeout")``);
the class default is what a program can always rely on.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyVotedError",
    "AudienceMismatchError",
    "BallotTokenError",
    "ChainIdMismatchError",
    "ChainUnavailableError",
    "ClaimsError",
    "ClaimsNotConsentedError",
    "ConflictError",
    "ConsentError",
    "ConsentExpiredError",
    "ConsentMismatchError",
    "ConsentWithdrawnError",
    "CredentialRevokedError",
    "CredentialStatusError",
    "CredentialSuspendedError",
    "CredentialTypeError",
    "CriticalHeaderError",
    "DidDeactivatedError",
    "DidNotFoundError",
    "DidResolutionError",
    "DisallowedAlgorithmError",
    "DisclosureError",
    "InvalidDidError",
    "InvalidInputError",
    "InvalidTokenError",
    "IssuerNotAccreditedError",
    "KeyBindingError",
    "KeyBindingMissingError",
    "KeyBindingStaleError",
    "KeyNotFoundError",
    "MalformedTokenError",
    "NonceMismatchError",
    "NotEligibleError",
    "NotFoundError",
    "PrivacyBudgetExceededError",
    "ProofInvalidError",
    "ProtocolError",
    "PurposeNotConsentedError",
    "RegistrationError",
    "RegistryError",
    "RegistryNotConfiguredError",
    "ReplayedNonceError",
    "RequestNotRegisteredError",
    "ResidentRegistryError",
    "ResidentRegistryFaultError",
    "ResidentRegistryUnavailableError",
    "SdHashMismatchError",
    "ServiceNotRegisteredError",
    "SignatureInvalidError",
    "SigningFailedError",
    "StatusListDigestMismatchError",
    "StatusListStaleError",
    "StatusListUnavailableError",
    "StorageError",
    "TokenAlreadyIssuedError",
    "TokenExpiredError",
    "TokenKeyError",
    "TokenNotYetValidError",
    "TokenTypeError",
    "TransactionRevertedError",
    "UnsupportedAlgorithmError",
    "UnsupportedChainError",
    "UnsupportedDidMethodError",
    "UntrustedKeyError",
    "VcsdkError",
    "VerificationError",
]


class VcsdkError(Exception):
    """Root of every error vcsdk raises on purpose.

    :param message: what failed and what to do about it (no secrets, no personal data).
    :param code: overrides the class's stable ``code`` for this instance.
    :param details: extra machine-readable facts that are safe to show (never key material).
    """

    code: ClassVar[str] = "vcsdk_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            # An instance attribute shadows the ClassVar on purpose: a narrower code for one case.
            self.__dict__["code"] = code
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready problem body: ``{"code": …, "message": …}`` plus any safe details."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInputError(VcsdkError, ValueError):
    """Malformed token, DID, JSON or argument."""

    code = "invalid_input"
    http_status = 400


class InvalidDidError(InvalidInputError):
    """A string that is not a syntactically valid DID (W3C DID Resolution ``invalidDid``)."""

    code = "invalid_did"


class VerificationError(VcsdkError):
    """A check on a token, credential, presentation or proof failed: the one class a service catches."""

    code = "verification_failed"
    http_status = 401


class InvalidTokenError(InvalidInputError, VerificationError):
    """A token that cannot be parsed: bad base64url, bad JSON, wrong number of parts, too large.

    Both invalid input (HTTP 400) and a failed verification.
    """

    code = "invalid_token"


class UnsupportedAlgorithmError(VerificationError):
    """An algorithm, key type or digest that is not on the explicit allow-list."""

    code = "unsupported_algorithm"
    http_status = 400


class MalformedTokenError(InvalidTokenError):
    """A presented token that cannot be parsed (bad base64url, bad JSON, wrong layout, over a limit).

    Both invalid input and a failed verification: ``except VerificationError`` catches a damaged
    presentation as surely as a bad signature.
    """

    code = "malformed_token"


class CriticalHeaderError(MalformedTokenError):
    """A JWS header lists a critical extension (``crit``) this verifier does not understand (RFC 7515 §4.1.11)."""

    code = "crit_not_understood"


class DisallowedAlgorithmError(UnsupportedAlgorithmError):
    """A token names a JWS or digest (``_sd_alg``) algorithm the verifier's policy does not allow."""

    code = "algorithm_not_allowed"


class SignatureInvalidError(VerificationError):
    code = "signature_invalid"


class UntrustedKeyError(VerificationError):
    """The token tried to choose its own verification key (``jwk``, ``jku``, ``x5u``, ``x5c``)."""

    code = "untrusted_key"


class KeyNotFoundError(VerificationError):
    """No key for the token's ``kid`` in the issuer's DID document (``assertionMethod``)."""

    code = "key_not_found"


class TokenTypeError(VerificationError):
    code = "invalid_typ"


class TokenExpiredError(VerificationError):
    code = "token_expired"


class TokenNotYetValidError(VerificationError):
    code = "token_not_yet_valid"


class ClaimsError(VerificationError):
    """A required claim is missing or has the wrong shape or value."""

    code = "invalid_claims"


class DisclosureError(VerificationError):
    """SD-JWT disclosures: digest seen twice, unreferenced, reserved name, bad shape."""

    code = "invalid_disclosure"


class KeyBindingError(VerificationError):
    code = "key_binding_invalid"


class KeyBindingMissingError(KeyBindingError):
    code = "key_binding_missing"


class NonceMismatchError(KeyBindingError):
    code = "nonce_mismatch"


class ReplayedNonceError(NonceMismatchError):
    """The presentation's nonce was used before, expired, or was never issued by this verifier."""

    code = "replayed_nonce"


class AudienceMismatchError(KeyBindingError):
    code = "audience_mismatch"


class KeyBindingStaleError(KeyBindingError):
    code = "key_binding_stale"


class SdHashMismatchError(KeyBindingError):
    code = "sd_hash_mismatch"


class CredentialStatusError(VerificationError):
    code = "credential_status_invalid"


class CredentialRevokedError(CredentialStatusError):
    code = "credential_revoked"


class CredentialSuspendedError(CredentialStatusError):
    code = "credential_suspended"


class StatusListUnavailableError(CredentialStatusError):
    code = "status_list_unavailable"
    http_status = 503


class StatusListStaleError(CredentialStatusError):
    code = "status_list_stale"


class StatusListDigestMismatchError(CredentialStatusError):
    code = "status_list_digest_mismatch"


class NotEligibleError(ClaimsError):
    """The resident may not vote in this election (registry status, district or age)."""

    code = "not_eligible"
    http_status = 403


class IssuerNotAccreditedError(VerificationError):
    code = "issuer_not_accredited"


class CredentialTypeError(VerificationError):
    """The credential is not of the type the verifier asked for (``vct`` or W3C ``type``)."""

    code = "wrong_credential_type"


class ProofInvalidError(VerificationError):
    """A Merkle inclusion proof or similar structural proof does not check out."""

    code = "proof_invalid"


class TokenKeyError(VerificationError):
    """A blind-signature token key differs from the one committed on chain (or none is committed)."""

    code = "token_key_not_committed"


class BallotTokenError(VerificationError):
    """A ballot token is malformed, for another election or district, or its signature is forged."""

    code = "invalid_ballot_token"


class ConsentError(VerificationError):
    """An access receipt does not fit the consent it names (ISO/IEC 27560-style consent record)."""

    code = "consent_invalid"
    http_status = 403


class ConsentMismatchError(ConsentError):
    """The receipt names another consent, service, resident pseudonym or presentation."""

    code = "consent_mismatch"


class ClaimsNotConsentedError(ConsentError):
    """The receipt accessed claims the resident did not disclose under the consent."""

    code = "claims_not_consented"


class PurposeNotConsentedError(ConsentError):
    """The receipt's purpose is not one of the consent's purposes."""

    code = "purpose_not_consented"


class ConsentExpiredError(ConsentError):
    """The access happened after the consent expired."""

    code = "consent_expired"


class ConsentWithdrawnError(ConsentError):
    """The access happened after the resident withdrew the consent."""

    code = "consent_withdrawn"


class RegistrationError(VerificationError):
    """A service's registration with the city does not cover its request (relying-party registration).

    The message is written for the resident: it says who asked for what, never a claim's value.
    """

    code = "registration_invalid"
    http_status = 403


class ServiceNotRegisteredError(RegistrationError):
    """The service has no valid registration from the city (none, another service's, expired, revoked)."""

    code = "service_not_registered"


class RequestNotRegisteredError(RegistrationError):
    """The service asks for a claim, credential type or purpose its registration does not allow."""

    code = "request_not_registered"


class DidResolutionError(VcsdkError):
    code = "did_resolution_failed"
    http_status = 502


class DidNotFoundError(DidResolutionError):
    code = "did_not_found"
    http_status = 404


class DidDeactivatedError(DidResolutionError):
    code = "did_deactivated"
    http_status = 410


class UnsupportedDidMethodError(DidResolutionError):
    code = "method_not_supported"
    http_status = 400


class RegistryError(VcsdkError):
    """A chain adapter failed: node unreachable, transaction reverted, wrong chain."""

    code = "registry_error"
    http_status = 502


class ChainUnavailableError(RegistryError):
    code = "chain_unavailable"
    http_status = 503


class ChainIdMismatchError(RegistryError):
    code = "wrong_chain_id"


class TransactionRevertedError(RegistryError):
    """A transaction or call reverted; ``reason`` and ``data`` keep what the chain said."""

    code = "tx_reverted"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        data: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged = dict(details or {})
        if reason is not None:
            merged.setdefault("reason", reason)
        super().__init__(message, code=code, details=merged)
        self.reason = reason
        self.data = data


class RegistryNotConfiguredError(RegistryError):
    """The SDK was asked to act on a registry (address, chain id) it was not configured with."""

    code = "registry_not_configured"
    http_status = 400


class UnsupportedChainError(RegistryError):
    """The node cannot run the contracts: its EVM lacks an opcode their hardfork added."""

    code = "unsupported_chain"


class ResidentRegistryError(VcsdkError):
    """The city's resident registry (SOAP) answered with an error or not at all."""

    code = "resident_registry_error"
    http_status = 502


class ResidentRegistryUnavailableError(ResidentRegistryError):
    code = "resident_registry_unavailable"
    http_status = 503


class ResidentRegistryFaultError(ResidentRegistryError):
    code = "resident_registry_fault"


class ProtocolError(VcsdkError):
    """An OpenID4VCI / OpenID4VP message broke the protocol; ``code`` is the spec's error code."""

    code = "protocol_error"
    http_status = 400


class SigningFailedError(VcsdkError):
    """A private-key operation failed its own check (a fault) and returned nothing; try again."""

    code = "signing_failure"
    http_status = 503


class PrivacyBudgetExceededError(VcsdkError):
    """An open-data release would spend more privacy-loss budget (epsilon) than its period has left."""

    code = "privacy_budget_exceeded"
    http_status = 409


class StorageError(VcsdkError):
    code = "storage_error"
    http_status = 503  # the database or state store is unavailable: retry later


class NotFoundError(StorageError):
    code = "not_found"
    http_status = 404


class ConflictError(StorageError):
    code = "conflict"
    http_status = 409


class AlreadyVotedError(ConflictError):
    """A ballot was already cast with this token (its serial is spent)."""

    code = "already_voted"


class TokenAlreadyIssuedError(ConflictError):
    """The resident already received this election's ballot token (one blind signature each)."""

    code = "token_already_issued"
