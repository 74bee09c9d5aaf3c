"""W3C Bitstring Status List v1.0: ``BitstringStatusListEntry`` and the list credential (§2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.credentials._status_list._lists import DEFAULT_MAX_INFLATED_BYTES, Bitstring
from vcsdk.credentials._status_list._token import VerifiedStatusList, status_list_digest
from vcsdk.credentials._w3c._jwt import issue_vc_jwt, verify_vc_jwt
from vcsdk.credentials._w3c._model import BITSTRING_STATUS_LIST_ENTRY, build_credential
from vcsdk.errors import (
    ClaimsError,
    InvalidInputError,
    InvalidTokenError,
    StatusListStaleError,
    TokenExpiredError,
)
from vcsdk.keys import Key, Signer

__all__ = [
    "BITSTRING_STATUS_LIST",
    "BITSTRING_STATUS_LIST_CREDENTIAL",
    "BitstringEntryRef",
    "bitstring_status_entry",
    "build_status_list_credential",
    "issue_status_list_credential",
    "parse_bitstring_entry",
    "verify_status_list_credential",
]

BITSTRING_STATUS_LIST_CREDENTIAL: Final = "BitstringStatusListCredential"
BITSTRING_STATUS_LIST: Final = "BitstringStatusList"
PURPOSES: Final = ("revocation", "suspension")


@dataclass(frozen=True, slots=True)
class BitstringEntryRef:
    """A parsed ``BitstringStatusListEntry``."""

    url: str
    index: int
    purpose: str
    status_size: int = 1


def bitstring_status_entry(
    url: str, index: int, *, purpose: str = "revocation", entry_id: str | None = None
) -> dict[str, Any]:
    """A ``BitstringStatusListEntry`` for a credential's ``credentialStatus`` (§2.1).

    :param url: the list credential's URL (``statusListCredential``).
    :param index: the credential's position in the list.
    :param purpose: ``revocation`` or ``suspension``.
    :param entry_id: the entry's ``id``; defaults to ``<url>#<index>``.
    """
    if purpose not in PURPOSES:
        raise InvalidInputError(f"statusPurpose must be one of {list(PURPOSES)}")
    return {
        "id": entry_id or f"{url}#{index}",
        "type": BITSTRING_STATUS_LIST_ENTRY,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


def parse_bitstring_entry(entry: Mapping[str, Any]) -> BitstringEntryRef:
    """Read a ``BitstringStatusListEntry``.

    :raises ClaimsError: if it is not one or its fields are malformed.
    """
    if entry.get("type") != BITSTRING_STATUS_LIST_ENTRY:
        raise ClaimsError("credentialStatus entry is not a BitstringStatusListEntry")
    url, index, purpose = entry.get("statusListCredential"), entry.get("statusListIndex"), entry.get("statusPurpose")
    size = entry.get("statusSize", 1)
    if not isinstance(url, str) or not url:
        raise ClaimsError("statusListCredential must be a URL")
    if not isinstance(index, str) or not index.isascii() or not index.isdigit() or len(index) > 12:
        raise ClaimsError("statusListIndex must be a string of decimal digits")
    if not isinstance(purpose, str) or not purpose:
        raise ClaimsError("statusPurpose must be a string")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 8:
        raise ClaimsError("statusSize must be an integer from 1 to 8")
    return BitstringEntryRef(url=url, index=int(index), purpose=purpose, status_size=size)


def build_status_list_credential(
    bitstring: Bitstring,
    *,
    url: str,
    issuer: str,
    purpose: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    ttl: timedelta | None = None,
) -> dict[str, Any]:
    """A ``BitstringStatusListCredential`` (§2.2) carrying ``bitstring``.

    :param url: the credential's ``id`` (where it is served).
    :param ttl: how long verifiers may cache it (the spec's ``ttl`` is in milliseconds).
    """
    subject: dict[str, Any] = {
        "id": f"{url}#list",
        "type": BITSTRING_STATUS_LIST,
        "statusPurpose": purpose,
        "encodedList": bitstring.encode(),
    }
    if ttl is not None:
        subject["ttl"] = int(ttl.total_seconds() * 1000)
    return build_credential(
        issuer=issuer,
        types=[BITSTRING_STATUS_LIST_CREDENTIAL],
        subject=subject,
        valid_from=valid_from,
        valid_until=valid_until,
        credential_id=url,
    )


def issue_status_list_credential(
    bitstring: Bitstring,
    signer: Signer,
    *,
    url: str,
    issuer: str,
    purpose: str,
    now: datetime,
    valid_until: datetime | None = None,
    ttl: timedelta | None = None,
) -> str:
    """Build and sign a ``BitstringStatusListCredential`` as ``vc+jwt`` (``validFrom`` = ``now``)."""
    vc = build_status_list_credential(
        bitstring, url=url, issuer=issuer, purpose=purpose, valid_from=now, valid_until=valid_until, ttl=ttl
    )
    return issue_vc_jwt(vc, signer)


def verify_status_list_credential(
    token: str | bytes,
    key: Key,
    *,
    url: str,
    purpose: str,
    now: datetime,
    status_size: int = 1,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    max_age: timedelta | None = None,
    expected_issuer: str | None = None,
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
) -> VerifiedStatusList:
    """Verify a ``BitstringStatusListCredential`` secured as ``vc+jwt`` (§3.2 validation).

    :param url: the entry's ``statusListCredential``; the credential's ``id`` must equal it.
    :param purpose: the entry's ``statusPurpose``; the list must have it.
    :param policy: the algorithm allow-list and the clock skew (``leeway``) on its dates and age.
    :param max_age: refuse a list issued longer ago than this (a server replaying an old list).
    :raises SignatureInvalidError: and the other :func:`verify_vc_jwt` errors.
    :raises ClaimsError: wrong ``id``, type, ``statusPurpose`` or issuer.
    :raises StatusListStaleError: the list's ``validUntil`` passed or it is older than ``max_age``.
    :raises InvalidTokenError: if ``encodedList`` cannot be decoded (or inflates beyond the limit).
    :return: the verified list.
    """
    policy = verification_policy(policy)
    leeway = policy.leeway
    try:
        verified = verify_vc_jwt(token, key, now=now, policy=policy, expected_issuer=expected_issuer)
    except TokenExpiredError:
        raise StatusListStaleError("status list credential has expired (validUntil has passed)") from None
    vc = verified.credential
    if vc.get("id") != url:
        raise ClaimsError("status list credential id does not match the entry's statusListCredential")
    if BITSTRING_STATUS_LIST_CREDENTIAL not in verified.types:
        raise ClaimsError("status list credential is not a BitstringStatusListCredential")
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != BITSTRING_STATUS_LIST:
        raise ClaimsError("status list credential subject is not a BitstringStatusList")
    purposes = subject.get("statusPurpose")
    if purpose not in ([purposes] if isinstance(purposes, str) else purposes if isinstance(purposes, list) else []):
        raise ClaimsError("status list purpose does not match the credential's status entry")
    ttl_ms = subject.get("ttl")
    if ttl_ms is not None and (not isinstance(ttl_ms, int) or isinstance(ttl_ms, bool) or ttl_ms <= 0):
        raise ClaimsError("status list ttl must be a positive number of milliseconds")
    issued_at = verified.valid_from or now
    if max_age is not None and now - issued_at > max_age + leeway:
        raise StatusListStaleError(
            "status list credential is older than this verifier's maximum age; refusing a possibly replayed list"
        )
    try:
        bitstring = Bitstring.decode(
            subject.get("encodedList"),  # type: ignore[arg-type]
            status_size=status_size,
            max_bytes=max_inflated_bytes,
        )
    except InvalidInputError as exc:
        raise InvalidTokenError(f"status list credential: {exc.message}") from None
    return VerifiedStatusList(
        uri=url,
        statuses=bitstring,
        issued_at=issued_at,
        expires_at=verified.valid_until,
        ttl=max(1, ttl_ms // 1000) if isinstance(ttl_ms, int) else None,
        digest=status_list_digest(bitstring),
        issuer=verified.issuer,
        purpose=purpose,
    )
