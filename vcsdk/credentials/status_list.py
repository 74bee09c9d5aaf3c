"""The status-list lower level: IETF Token Status List and W3C Bitstring Status List, piece by piece.

.. warning::
   These are the parts a status service, a CLI or a status checker is built from: parse a
   credential's status reference, read a list's payload before it is verified, turn a status value
   into its error. They decide nothing alone. Verifiers pass a status checker to
   :func:`vcsdk.credentials.verify_presentation` (``vcsdk.status.StatusListChecker``) instead;
   issuers use :class:`vcsdk.credentials.StatusListIssuer` and friends, exported one level up.
"""

from __future__ import annotations

from vcsdk.credentials._status_list import (
    BITSTRING_STATUS_LIST,
    BITSTRING_STATUS_LIST_CREDENTIAL,
    DEFAULT_MAX_INFLATED_BYTES,
    STATUS_INVALID,
    STATUS_LIST_TOKEN_TYP,
    STATUS_SUSPENDED,
    STATUS_VALID,
    Bitstring,
    BitstringEntryRef,
    BitstringStatusListIssuer,
    StatusListClaim,
    StatusListIssuer,
    StatusListReference,
    TokenStatusList,
    VerifiedStatusList,
    parse_bitstring_entry,
    parse_status_claim,
    peek_status_list_token,
    raise_for_status,
    status_list_digest,
    verify_status_list_credential,
    verify_status_list_token,
)
from vcsdk.credentials._w3c import BITSTRING_STATUS_LIST_ENTRY, status_entries

__all__ = [
    "BITSTRING_STATUS_LIST",
    "BITSTRING_STATUS_LIST_CREDENTIAL",
    "BITSTRING_STATUS_LIST_ENTRY",
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
    "parse_bitstring_entry",
    "parse_status_claim",
    "peek_status_list_token",
    "raise_for_status",
    "status_entries",
    "status_list_digest",
    "verify_status_list_credential",
    "verify_status_list_token",
]
