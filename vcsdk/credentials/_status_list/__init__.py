"""Status lists: IETF Token Status List and W3C Bitstring Status List (pure, no I/O)."""

from __future__ import annotations

from vcsdk.credentials._status_list._bitstring import (
    BITSTRING_STATUS_LIST,
    BITSTRING_STATUS_LIST_CREDENTIAL,
    BitstringEntryRef,
    bitstring_status_entry,
    build_status_list_credential,
    issue_status_list_credential,
    parse_bitstring_entry,
    verify_status_list_credential,
)
from vcsdk.credentials._status_list._issuer import BitstringStatusListIssuer, StatusListIssuer
from vcsdk.credentials._status_list._lists import (
    BITSTRING_MIN_ENTRIES,
    DEFAULT_MAX_INFLATED_BYTES,
    Bitstring,
    TokenStatusList,
    bounded_inflate,
)
from vcsdk.credentials._status_list._token import (
    STATUS_INVALID,
    STATUS_LIST_TOKEN_TYP,
    STATUS_SUSPENDED,
    STATUS_VALID,
    StatusListClaim,
    StatusListReference,
    VerifiedStatusList,
    issue_status_list_token,
    parse_status_claim,
    peek_status_list_token,
    raise_for_status,
    status_claim,
    status_list_digest,
    verify_status_list_token,
)

__all__ = [
    "BITSTRING_MIN_ENTRIES",
    "BITSTRING_STATUS_LIST",
    "BITSTRING_STATUS_LIST_CREDENTIAL",
    "DEFAULT_MAX_INFLATED_BYTES",
    "STATUS_INVALID",
    "STATUS_LIST_TOKEN_TYP",
    "STATUS_SUSPENDED",
    "STATUS_VALID",
    "Bitstring",
    "BitstringEntryRef",
    "BitstringStatusListIssuer",
    "StatusListClaim",
    "StatusListIssuer",
    "StatusListReference",
    "TokenStatusList",
    "VerifiedStatusList",
    "bitstring_status_entry",
    "bounded_inflate",
    "build_status_list_credential",
    "issue_status_list_credential",
    "issue_status_list_token",
    "parse_bitstring_entry",
    "parse_status_claim",
    "peek_status_list_token",
    "raise_for_status",
    "status_claim",
    "status_list_digest",
    "verify_status_list_credential",
    "verify_status_list_token",
]
