"""W3C Verifiable Credentials Data Model 2.0: shape checks run on issue and on verify."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from vcsdk._time import to_rfc3339
from vcsdk.errors import ClaimsError

__all__ = [
    "BITSTRING_STATUS_LIST_ENTRY",
    "VC_V2_CONTEXT",
    "VERIFIABLE_CREDENTIAL",
    "build_credential",
    "credential_issuer",
    "credential_types",
    "format_datetime",
    "parse_datetime",
    "status_entries",
    "validate_credential",
]

#: VC DM 2.0 §4.3: the first ``@context`` entry.
VC_V2_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"
VERIFIABLE_CREDENTIAL: Final = "VerifiableCredential"
BITSTRING_STATUS_LIST_ENTRY: Final = "BitstringStatusListEntry"

# XML Schema dateTimeStamp (VC DM 2.0 §4.9): a time zone is mandatory.
_DATETIME = re.compile(
    r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def _url(value: object) -> bool:
    return isinstance(value, str) and _URL.fullmatch(value) is not None


def parse_datetime(value: object, *, what: str) -> datetime:
    """Parse an XML Schema ``dateTimeStamp`` (``2026-04-01T00:00:00Z``) into an aware ``datetime``.

    :raises ClaimsError: if ``value`` is not such a string.
    """
    if not isinstance(value, str) or _DATETIME.fullmatch(value) is None:
        raise ClaimsError(f"{what} must be an XML Schema dateTimeStamp with a time zone")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ClaimsError(f"{what} is not a valid date and time") from None


def format_datetime(moment: datetime) -> str:
    """Format an aware ``datetime`` as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds).

    :raises InvalidInputError: for a naive ``datetime``.
    """
    return to_rfc3339(moment, what="times")


def credential_types(vc: Mapping[str, Any]) -> tuple[str, ...]:
    """The credential's ``type`` values as a tuple (a single string becomes one element)."""
    t = vc.get("type")
    if isinstance(t, str):
        return (t,)
    if isinstance(t, list) and all(isinstance(x, str) for x in t):
        return tuple(t)
    return ()


def credential_issuer(vc: Mapping[str, Any]) -> str:
    """The issuer URL: ``issuer`` itself or its ``id``.

    :raises ClaimsError: if there is none.
    """
    issuer = vc.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if not _url(issuer):
        raise ClaimsError("issuer must be a URL (a DID) or an object whose id is one")
    return issuer  # type: ignore[return-value]


def status_entries(vc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``credentialStatus`` entries as a list (empty when the credential has none)."""
    status = vc.get("credentialStatus")
    if status is None:
        return []
    if isinstance(status, Mapping):
        return [dict(status)]
    if isinstance(status, list):
        return [dict(s) for s in status if isinstance(s, Mapping)]
    return []


def _check_status_entry(entry: object) -> None:
    if not isinstance(entry, Mapping):
        raise ClaimsError("each credentialStatus entry must be an object")
    if "id" in entry and not _url(entry["id"]):
        raise ClaimsError("credentialStatus.id must be a URL")
    etype = entry.get("type")
    if not isinstance(etype, str) or not etype:
        raise ClaimsError("each credentialStatus entry needs a type")
    if etype != BITSTRING_STATUS_LIST_ENTRY:
        return
    # Bitstring Status List v1.0 §2.1
    if not isinstance(entry.get("statusPurpose"), str) or not entry["statusPurpose"]:
        raise ClaimsError("BitstringStatusListEntry needs a statusPurpose")
    index = entry.get("statusListIndex")
    if not isinstance(index, str) or not index.isascii() or not index.isdigit() or len(index) > 12:
        raise ClaimsError("BitstringStatusListEntry.statusListIndex must be a string of decimal digits")
    if not _url(entry.get("statusListCredential")):
        raise ClaimsError("BitstringStatusListEntry.statusListCredential must be a URL")
    size = entry.get("statusSize", 1)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 8:
        raise ClaimsError("BitstringStatusListEntry.statusSize must be an integer from 1 to 8")


def validate_credential(vc: object) -> dict[str, Any]:
    """Check a credential against VC Data Model 2.0's required shape.

    Checks ``@context`` (first entry the v2 context), ``type`` (includes ``VerifiableCredential``),
    ``issuer``, ``credentialSubject`` (object(s)), optional ``id``, ``validFrom``/``validUntil``
    (dateTimeStamp, in order) and each ``credentialStatus`` entry (``BitstringStatusListEntry``
    fields in full).

    :raises ClaimsError: naming the first rule the credential breaks.
    :return: the credential as a ``dict``.
    """
    if not isinstance(vc, Mapping):
        raise ClaimsError("a verifiable credential must be a JSON object")
    ctx = vc.get("@context")
    if not isinstance(ctx, list) or not ctx or ctx[0] != VC_V2_CONTEXT:
        raise ClaimsError(f"@context must be a list whose first entry is {VC_V2_CONTEXT}")
    if not all(isinstance(c, str | dict) for c in ctx):
        raise ClaimsError("@context entries must be URLs or objects")
    types = credential_types(vc)
    if VERIFIABLE_CREDENTIAL not in types:
        raise ClaimsError("type must include VerifiableCredential")
    if "id" in vc and not _url(vc["id"]):
        raise ClaimsError("id must be a URL")
    credential_issuer(vc)
    subject = vc.get("credentialSubject")
    subjects: Sequence[object] = subject if isinstance(subject, list) else [subject]
    if not subjects or not all(isinstance(s, Mapping) and s for s in subjects):
        raise ClaimsError("credentialSubject must be a non-empty object or a list of them")
    valid_from = parse_datetime(vc["validFrom"], what="validFrom") if "validFrom" in vc else None
    valid_until = parse_datetime(vc["validUntil"], what="validUntil") if "validUntil" in vc else None
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise ClaimsError("validUntil is before validFrom")
    status = vc.get("credentialStatus")
    if status is not None:
        entries: Sequence[object] = status if isinstance(status, list) else [status]
        if not entries:
            raise ClaimsError("credentialStatus must not be an empty list")
        for entry in entries:
            _check_status_entry(entry)
    return dict(vc)


def build_credential(
    *,
    issuer: str,
    types: Sequence[str],
    subject: Mapping[str, Any],
    valid_from: datetime,
    valid_until: datetime | None = None,
    credential_id: str | None = None,
    status: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    contexts: Sequence[str | Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a VC DM 2.0 credential and validate it.

    :param types: the specific types; ``VerifiableCredential`` is prepended.
    :param subject: ``credentialSubject`` (its ``id`` may be the holder's DID).
    :param status: one or more ``credentialStatus`` entries (e.g. ``BitstringStatusListEntry``).
    :param contexts: extra ``@context`` entries after the v2 context.
    :raises ClaimsError: if the result is not a valid credential.
    :return: the credential.
    """
    vc: dict[str, Any] = {"@context": [VC_V2_CONTEXT, *contexts]}
    if credential_id is not None:
        vc["id"] = credential_id
    vc["type"] = [VERIFIABLE_CREDENTIAL, *(t for t in types if t != VERIFIABLE_CREDENTIAL)]
    vc["issuer"] = issuer
    vc["validFrom"] = format_datetime(valid_from)
    if valid_until is not None:
        vc["validUntil"] = format_datetime(valid_until)
    vc["credentialSubject"] = dict(subject)
    if status is not None:
        vc["credentialStatus"] = dict(status) if isinstance(status, Mapping) else [dict(s) for s in status]
    if extra:
        for k, v in extra.items():
            vc.setdefault(k, v)
    return validate_credential(vc)
