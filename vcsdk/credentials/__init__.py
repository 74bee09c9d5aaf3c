"""Verifiable credentials: SD-JWT VC (RFC 9901, ``dc+sd-jwt``), verification policy and ports.

Recipes here run every check (``issue_sd_jwt_vc``, ``present``, ``verify_presentation``);
:mod:`vcsdk.credentials.sd_jwt` is the lower level that skips policy.
"""

from __future__ import annotations

from vcsdk.credentials import sd_jwt
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy
from vcsdk.credentials._ports import IssuerKeyResolver, StatusChecker
from vcsdk.credentials._sd_jwt import (
    ClaimPath,
    PendingPresentation,
    StaticKeyResolver,
    UnverifiedSdJwtVc,
    VerifiedPresentation,
    finish_presentation,
    issue_sd_jwt_vc,
    peek,
    prepare_presentation,
    present,
    verify_credential,
    verify_presentation,
    verify_presentation_with_key,
    verify_sd_jwt,
)
from vcsdk.credentials._status_list import (
    Bitstring,
    BitstringStatusListIssuer,
    StatusListIssuer,
    TokenStatusList,
    VerifiedStatusList,
    bitstring_status_entry,
    issue_status_list_credential,
    issue_status_list_token,
    status_claim,
    status_list_digest,
    verify_status_list_credential,
    verify_status_list_token,
)
from vcsdk.credentials._types import (
    RESIDENT_IDENTITY_CREDENTIAL,
    VOTING_ELIGIBILITY_CREDENTIAL,
    VctRegistry,
    age_equal_or_over,
    credential_schema,
    disclosable_paths,
    resident_identity_claims,
    validate_claims,
    voting_eligibility_claims,
)
from vcsdk.credentials._w3c import (
    IssuerAccreditationChecker,
    VerifiedCredential,
    build_credential,
    issue_vc_jwt,
    peek_vc_jwt,
    validate_credential,
    verify_vc,
    verify_vc_jwt,
)

__all__ = [
    "DEFAULT_VERIFICATION_POLICY",
    "RESIDENT_IDENTITY_CREDENTIAL",
    "VOTING_ELIGIBILITY_CREDENTIAL",
    "Bitstring",
    "BitstringStatusListIssuer",
    "ClaimPath",
    "IssuerAccreditationChecker",
    "IssuerKeyResolver",
    "PendingPresentation",
    "StaticKeyResolver",
    "StatusChecker",
    "StatusListIssuer",
    "TokenStatusList",
    "UnverifiedSdJwtVc",
    "VctRegistry",
    "VerificationPolicy",
    "VerifiedCredential",
    "VerifiedPresentation",
    "VerifiedStatusList",
    "age_equal_or_over",
    "bitstring_status_entry",
    "build_credential",
    "credential_schema",
    "disclosable_paths",
    "finish_presentation",
    "issue_sd_jwt_vc",
    "issue_status_list_credential",
    "issue_status_list_token",
    "issue_vc_jwt",
    "peek",
    "peek_vc_jwt",
    "prepare_presentation",
    "present",
    "resident_identity_claims",
    "sd_jwt",
    "status_claim",
    "status_list_digest",
    "validate_claims",
    "validate_credential",
    "verify_credential",
    "verify_presentation",
    "verify_presentation_with_key",
    "verify_sd_jwt",
    "verify_status_list_credential",
    "verify_status_list_token",
    "verify_vc",
    "verify_vc_jwt",
    "voting_eligibility_claims",
]
