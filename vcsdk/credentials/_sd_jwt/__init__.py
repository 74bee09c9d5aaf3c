"""SD-JWT (RFC 9901) and SD-JWT VC (``dc+sd-jwt``): issue, present, verify.

The public names are re-exported from :mod:`vcsdk.credentials` (recipes) and
:mod:`vcsdk.credentials.sd_jwt` (the lower level).
"""

from __future__ import annotations

from vcsdk.credentials._sd_jwt._common import ClaimPath, Disclosure
from vcsdk.credentials._sd_jwt._issue import issue
from vcsdk.credentials._sd_jwt._parse import Limits, SdJwtText, UnverifiedSdJwt, parse
from vcsdk.credentials._sd_jwt._present import (
    PendingPresentation,
    finish_presentation,
    prepare_presentation,
    present,
)
from vcsdk.credentials._sd_jwt._process import Processed, process_disclosures
from vcsdk.credentials._sd_jwt._resolver import StaticKeyResolver
from vcsdk.credentials._sd_jwt._vc import issue_sd_jwt_vc
from vcsdk.credentials._sd_jwt._verify import (
    UnverifiedSdJwtVc,
    VerifiedPresentation,
    peek,
    verify_credential,
    verify_presentation,
    verify_presentation_with_key,
    verify_sd_jwt,
)

__all__ = [
    "ClaimPath",
    "Disclosure",
    "Limits",
    "PendingPresentation",
    "Processed",
    "SdJwtText",
    "StaticKeyResolver",
    "UnverifiedSdJwt",
    "UnverifiedSdJwtVc",
    "VerifiedPresentation",
    "finish_presentation",
    "issue",
    "issue_sd_jwt_vc",
    "parse",
    "peek",
    "prepare_presentation",
    "present",
    "process_disclosures",
    "verify_credential",
    "verify_presentation",
    "verify_presentation_with_key",
    "verify_sd_jwt",
]
