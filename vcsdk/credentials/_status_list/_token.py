"""IETF Token Status List (draft-ietf-oauth-status-list-21): referenced-token claim and the
signed Status List Token (``statuslist+jwt``, §5.1), issued and verified without I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypedDict, TypeGuard

from vcsdk._time import NUMERIC_DATE_CODE, from_numeric_date, numeric_date, to_numeric_date
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.credentials._status_list._lists import DEFAULT_MAX_INFLATED_BYTES, Bitstring, TokenStatusList
from vcsdk.errors import (
    ClaimsError,
    CredentialRevokedError,
    CredentialStatusError,
    CredentialSuspendedError,
    InvalidInputError,
    InvalidTokenError,
    StatusListStaleError,
    TokenNotYetValidError,
)
from vcsdk.keys import Key, Signer, decode_jws, sign_jws, verify_jws

__all__ = [
    "STATUS_INVALID",
    "STATUS_LIST_TOKEN_TYP",
    "STATUS_SUSPENDED",
    "STATUS_VALID",
    "StatusListClaim",
    "StatusListReference",
    "VerifiedStatusList",
    "issue_status_list_token",
    "parse_status_claim",
    "peek_status_list_token",
    "raise_for_status",
    "status_claim",
    "status_list_digest",
    "to_unix",
    "verify_status_list_token",
]

#: ``typ`` of a Status List Token in JWT format (§5.1).
STATUS_LIST_TOKEN_TYP: Final = "statuslist+jwt"  # noqa: S105 (a media type, not a secret)
#: Status types (§7.1).
STATUS_VALID: Final = 0x00
STATUS_INVALID: Final = 0x01
STATUS_SUSPENDED: Final = 0x02

MAX_STATUS_LIST_TOKEN_BYTES: Final = 8 * 1024 * 1024


class StatusListRef(TypedDict):
    idx: int
    uri: str


class StatusListClaim(TypedDict):
    """The ``status`` claim of a referenced token: ``{"status_list": {"idx": …, "uri": …}}`` (§6.1)."""

    status_list: StatusListRef


@dataclass(frozen=True, slots=True)
class StatusListReference:
    """Where a credential's status lives: a list ``uri`` and an index in it."""

    uri: str
    idx: int


@dataclass(frozen=True, slots=True)
class VerifiedStatusList:
    """A status list whose signature, subject and times checked out.

    :ivar uri: the list's URL (``sub`` of a Status List Token, ``id`` of a W3C list credential).
    :ivar statuses: the decoded list.
    :ivar issued_at: ``iat`` (IETF) or ``validFrom``/``iat`` (W3C).
    :ivar expires_at: ``exp`` / ``validUntil`` if present.
    :ivar ttl: seconds a verifier may cache the list (``ttl``), if the issuer said.
    :ivar digest: :func:`status_list_digest` of the list, compared with the on-chain anchor.
    :ivar purpose: W3C ``statusPurpose`` (``revocation``/``suspension``); ``None`` for IETF lists.
    """

    uri: str
    statuses: TokenStatusList | Bitstring
    issued_at: datetime
    expires_at: datetime | None
    ttl: int | None
    digest: bytes
    issuer: str | None = None
    purpose: str | None = None


def to_unix(moment: datetime) -> int:
    """Whole seconds since the epoch for an aware ``datetime``.

    :raises InvalidInputError: for a naive ``datetime`` (its zone would be a guess).
    """
    return to_numeric_date(moment, what="times (e.g. datetime.now(timezone.utc))")


def _from_unix(value: int) -> datetime:
    return from_numeric_date(value, what="status list token date", error=ClaimsError, whole=True)


def status_list_digest(statuses: TokenStatusList | Bitstring) -> bytes:
    """SHA-256 over the entry width and the *uncompressed* list bytes.

    Hashing the inflated bytes makes the digest independent of the compressor, so the city and a
    verifier agree on it whatever zlib/gzip build either side has.

    :return: 32 bytes, the value anchored on chain for each published version.
    """
    width = statuses.bits if isinstance(statuses, TokenStatusList) else statuses.status_size
    return hashlib.sha256(bytes([width]) + statuses.to_bytes()).digest()


def status_claim(uri: str, idx: int) -> StatusListClaim:
    """Build the ``status`` claim for a referenced token (§6.1)."""
    return {"status_list": {"idx": idx, "uri": uri}}


def parse_status_claim(status: Mapping[str, Any]) -> StatusListReference:
    """Read the ``status_list`` member of a ``status`` claim.

    :raises ClaimsError: if ``status_list`` is missing, ``idx`` is not a non-negative integer or
        ``uri`` is not a string.
    :return: the reference.
    """
    ref = status.get("status_list") if isinstance(status, Mapping) else None
    if not isinstance(ref, Mapping):
        raise ClaimsError('credential status has no "status_list" object')
    idx, uri = ref.get("idx"), ref.get("uri")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
        raise ClaimsError("status_list.idx must be a non-negative integer")
    if not isinstance(uri, str) or not uri:
        raise ClaimsError("status_list.uri must be a non-empty string")
    return StatusListReference(uri=uri, idx=idx)


def issue_status_list_token(
    statuses: TokenStatusList,
    signer: Signer,
    *,
    uri: str,
    now: datetime,
    ttl: int | None = None,
    exp: datetime | None = None,
    iss: str | None = None,
) -> str:
    """Sign a Status List Token (``typ`` ``statuslist+jwt``, §5.1).

    :param uri: the URL the token is served from; becomes ``sub``.
    :param now: issuance time (``iat``).
    :param ttl: seconds verifiers may cache it (§13.7), recommended.
    :param exp: expiry, recommended; verifiers refuse the list after it.
    :param iss: optional issuer identifier (a DID).
    :return: the compact JWT.
    """
    claims: dict[str, Any] = {"sub": uri, "iat": to_unix(now)}
    if exp is not None:
        claims["exp"] = to_unix(exp)
    if ttl is not None:
        if ttl <= 0:
            raise InvalidInputError("ttl must be a positive number of seconds")
        claims["ttl"] = int(ttl)
    if iss is not None:
        claims["iss"] = iss
    claims["status_list"] = statuses.to_json()
    return sign_jws(claims, signer, typ=STATUS_LIST_TOKEN_TYP)


def peek_status_list_token(token: str | bytes) -> dict[str, Any]:
    """The unverified header and claims of a Status List Token, for display and key lookup only."""
    jws = decode_jws(token, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES)
    return {"header": jws.header, "claims": jws.unverified_claims()}


def verify_status_list_token(
    token: str | bytes,
    key: Key,
    *,
    uri: str,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    max_age: timedelta | None = None,
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
    expected_issuer: str | None = None,
) -> VerifiedStatusList:
    """Verify a Status List Token against the list URL the credential named (§8.3).

    :param key: the list issuer's key (from its DID document), never one from the token.
    :param uri: ``status_list.uri`` of the referenced token; ``sub`` must equal it.
    :param policy: the algorithm allow-list and the clock skew (``leeway``) on ``iat``, ``exp`` and the age.
    :param max_age: refuse a list issued longer ago than this (a server replaying an old list).
    :param expected_issuer: the credential's issuer, whose key ``key`` is; a token whose ``iss``
        (optional in a Status List Token) names another is refused (code ``issuer_mismatch``).
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises TokenTypeError: if ``typ`` is not ``statuslist+jwt``.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed for ``key``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises ClaimsError: if ``sub`` differs from ``uri`` or a required claim is missing.
    :raises TokenNotYetValidError: if ``iat`` is in the future beyond ``policy.leeway``.
    :raises StatusListStaleError: if the token expired or is older than ``max_age``.
    :raises InvalidInputError: if the list cannot be decoded or inflates beyond the limit.
    :return: the verified list.
    """
    policy = verification_policy(policy)
    leeway = policy.leeway
    jws = decode_jws(token, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES)
    verified = verify_jws(jws, key, policy=policy.algorithm_policy, typ=STATUS_LIST_TOKEN_TYP)
    claims = verified.claims()
    sub = claims.get("sub")
    if sub != uri:
        raise ClaimsError("status list token sub does not match the status_list.uri of the credential")
    iat, exp, ttl = claims.get("iat"), claims.get("exp"), claims.get("ttl")
    if iat is None:
        raise ClaimsError("status list token has no iat", code=NUMERIC_DATE_CODE)
    iat = int(numeric_date(iat, what="status list token iat", error=ClaimsError, whole=True))
    if exp is not None:
        exp = int(numeric_date(exp, what="status list token exp", error=ClaimsError, whole=True))
    if ttl is not None and (not _is_int(ttl) or ttl <= 0):
        raise ClaimsError("status list token ttl must be a positive integer")
    now_s, slack = to_unix(now), int(leeway.total_seconds())
    if iat > now_s + slack:
        raise TokenNotYetValidError("status list token iat is in the future; check the server clock")
    if exp is not None and now_s > exp + slack:
        raise StatusListStaleError("status list token has expired; the status server must publish a fresh one")
    if max_age is not None and now_s - iat > int(max_age.total_seconds()) + slack:
        raise StatusListStaleError(
            "status list token is older than this verifier's maximum age; refusing a possibly replayed list",
            details={"age_seconds": now_s - iat},
        )
    try:
        statuses = TokenStatusList.from_json(claims.get("status_list"), max_bytes=max_inflated_bytes)
    except InvalidTokenError:
        raise
    except InvalidInputError as exc:
        raise InvalidTokenError(f"status list token: {exc.message}") from None
    iss = claims.get("iss")
    if expected_issuer is not None and iss is not None and iss != expected_issuer:
        raise ClaimsError("status list token iss is not the credential's issuer", code="issuer_mismatch")
    return VerifiedStatusList(
        uri=uri,
        statuses=statuses,
        issued_at=_from_unix(iat),
        expires_at=_from_unix(exp) if exp is not None else None,
        ttl=ttl,
        digest=status_list_digest(statuses),
        issuer=iss if isinstance(iss, str) else None,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def raise_for_status(value: int, *, purpose: Literal["token", "revocation", "suspension"] = "token") -> None:
    """Map a status value to the verifier's outcome.

    :param purpose: ``token`` for IETF status types (§7.1); ``revocation``/``suspension`` for a W3C
        Bitstring Status List entry of that ``statusPurpose``.
    :raises CredentialRevokedError: INVALID (IETF) or a set revocation bit (W3C).
    :raises CredentialSuspendedError: SUSPENDED (IETF) or a set suspension bit (W3C).
    :raises CredentialStatusError: an application-specific or unknown status value.
    """
    if value == STATUS_VALID:
        return
    if purpose == "revocation" or (purpose == "token" and value == STATUS_INVALID):
        raise CredentialRevokedError("the credential has been revoked by its issuer")
    if purpose == "suspension" or (purpose == "token" and value == STATUS_SUSPENDED):
        raise CredentialSuspendedError("the credential is suspended by its issuer; it may be reinstated later")
    raise CredentialStatusError(
        "the credential has a status this verifier does not understand", details={"status": value}
    )
