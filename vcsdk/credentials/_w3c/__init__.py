"""W3C VC Data Model 2.0 secured as ``vc+jwt`` and ``vc+sd-jwt`` (VC-JOSE-COSE)."""

from __future__ import annotations

from vcsdk.credentials._w3c._common import VerifiedCredential
from vcsdk.credentials._w3c._jwt import (
    VC_JWT_TYP,
    UnverifiedVcJwt,
    issue_vc_jwt,
    peek_vc_jwt,
    verify_vc_jwt,
)
from vcsdk.credentials._w3c._jwt_vc_json import JWT_VC_JSON_TYP, VC_V1_CONTEXT, peek_jwt_vc_json, verify_jwt_vc_json
from vcsdk.credentials._w3c._model import (
    BITSTRING_STATUS_LIST_ENTRY,
    VC_V2_CONTEXT,
    build_credential,
    format_datetime,
    parse_datetime,
    status_entries,
    validate_credential,
)
from vcsdk.credentials._w3c._sd_jwt import VC_SD_JWT_TYP, issue_vc_sd_jwt, peek_vc_sd_jwt, verify_vc_sd_jwt
from vcsdk.credentials._w3c._verify import verify_vc

__all__ = [
    "BITSTRING_STATUS_LIST_ENTRY",
    "JWT_VC_JSON_TYP",
    "VC_JWT_TYP",
    "VC_SD_JWT_TYP",
    "VC_V1_CONTEXT",
    "VC_V2_CONTEXT",
    "UnverifiedVcJwt",
    "VerifiedCredential",
    "build_credential",
    "format_datetime",
    "issue_vc_jwt",
    "issue_vc_sd_jwt",
    "parse_datetime",
    "peek_jwt_vc_json",
    "peek_vc_jwt",
    "peek_vc_sd_jwt",
    "status_entries",
    "validate_credential",
    "verify_jwt_vc_json",
    "verify_vc",
    "verify_vc_jwt",
    "verify_vc_sd_jwt",
]
