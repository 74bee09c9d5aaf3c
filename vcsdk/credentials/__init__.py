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

__all__ = [
    "DEFAULT_VERIFICATION_POLICY",
    "ClaimPath",
    "IssuerKeyResolver",
    "PendingPresentation",
    "StaticKeyResolver",
    "StatusChecker",
    "UnverifiedSdJwtVc",
    "VerificationPolicy",
    "VerifiedPresentation",
    "finish_presentation",
    "issue_sd_jwt_vc",
    "peek",
    "prepare_presentation",
    "present",
    "sd_jwt",
    "verify_credential",
    "verify_presentation",
    "verify_presentation_with_key",
    "verify_sd_jwt",
]
