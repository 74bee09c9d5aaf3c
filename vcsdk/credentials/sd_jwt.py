"""The SD-JWT lower level (RFC 9901): issue, parse, present and apply Disclosures.

.. warning::
   These functions skip policy. :func:`issue` adds no SD-JWT VC claims and checks none;
   :func:`parse` and :func:`process_disclosures` verify no signature, time, key binding or status.
   Verifiers call :func:`vcsdk.credentials.verify_presentation` (or ``verify_presentation_with_key``)
   instead; issuers call :func:`vcsdk.credentials.issue_sd_jwt_vc`.
"""

from __future__ import annotations

from vcsdk.credentials._sd_jwt import (
    ClaimPath,
    Disclosure,
    Limits,
    PendingPresentation,
    Processed,
    SdJwtText,
    UnverifiedSdJwt,
    finish_presentation,
    issue,
    parse,
    prepare_presentation,
    present,
    process_disclosures,
)
from vcsdk.credentials._sd_jwt._common import (
    ARRAY_DIGEST_KEY,
    KB_JWT_TYP,
    LEGACY_SD_JWT_VC_TYP,
    SD_ALG_KEY,
    SD_DIGESTS_KEY,
    SD_HASH_KEY,
    SD_JWT_VC_TYP,
    check_claim_path,
    hash_function,
)

__all__ = [
    "ARRAY_DIGEST_KEY",
    "KB_JWT_TYP",
    "LEGACY_SD_JWT_VC_TYP",
    "SD_ALG_KEY",
    "SD_DIGESTS_KEY",
    "SD_HASH_KEY",
    "SD_JWT_VC_TYP",
    "ClaimPath",
    "Disclosure",
    "Limits",
    "PendingPresentation",
    "Processed",
    "SdJwtText",
    "UnverifiedSdJwt",
    "check_claim_path",
    "finish_presentation",
    "hash_function",
    "issue",
    "parse",
    "prepare_presentation",
    "present",
    "process_disclosures",
]
