"""What the W3C verifiers share: their defaults, their result type, the validity-period checks, and
the steps of every JWT-secured credential (``vc+jwt``, ``jwt_vc_json``): parse once, verify the JWS
through the one JOSE path, read the format's credential, check the issuer and the validity period."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from vcsdk._time import aware, numeric_date
from vcsdk.credentials._policy import VerificationPolicy
from vcsdk.credentials._w3c._model import parse_datetime, status_entries
from vcsdk.errors import ClaimsError, TokenExpiredError, TokenNotYetValidError
from vcsdk.keys import Key, UnverifiedJws, VerifiedJws, decode_jws, verify_jws

__all__ = [
    "DEFAULT_KEY_BINDING_MAX_AGE",
    "DEFAULT_LEEWAY",
    "MAX_JWT_CREDENTIAL_BYTES",
    "JwtCredentialContent",
    "UnverifiedJwtCredential",
    "VerifiedCredential",
    "check_jwt_dates",
    "check_validity_period",
    "peek_jwt_credential",
    "validity_period",
    "verify_jwt_credential",
]

DEFAULT_LEEWAY: Final = timedelta(seconds=60)
DEFAULT_KEY_BINDING_MAX_AGE: Final = timedelta(minutes=5)
#: The largest JWT-secured credential (``vc+jwt``, ``jwt_vc_json``) read.
MAX_JWT_CREDENTIAL_BYTES: Final = 1_000_000


def validity_period(vc: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """A VC DM 2.0 credential's ``validFrom`` and ``validUntil``, each ``None`` when absent.

    :raises ClaimsError: if one is present and not an XML Schema dateTime with a time zone.
    """
    valid_from = parse_datetime(vc["validFrom"], what="validFrom") if "validFrom" in vc else None
    valid_until = parse_datetime(vc["validUntil"], what="validUntil") if "validUntil" in vc else None
    return valid_from, valid_until


def check_validity_period(
    valid_from: datetime | None,
    valid_until: datetime | None,
    *,
    now: datetime,
    leeway: timedelta,
    names: tuple[str, str] = ("validFrom", "validUntil"),
) -> None:
    """Refuse a credential outside its validity period (beyond ``leeway`` either side).

    :param names: what the format calls the two dates, for the messages.
    :raises TokenNotYetValidError: ``valid_from`` is after ``now`` + ``leeway``.
    :raises TokenExpiredError: ``valid_until`` is before ``now`` - ``leeway``.
    """
    if valid_from is not None and now + leeway < valid_from:
        raise TokenNotYetValidError(f"credential is not valid yet ({names[0]} is in the future)")
    if valid_until is not None and now - leeway > valid_until:
        raise TokenExpiredError(f"credential has expired ({names[1]} has passed)")


def check_jwt_dates(claims: Mapping[str, Any], *, now: datetime, leeway: timedelta) -> None:
    """The JWT validity claims of a VC secured as a JWT (RFC 7519 §4.1.4-6), beside its
    ``validFrom``/``validUntil``: ``exp`` passed, ``nbf`` or ``iat`` in the future (beyond
    ``leeway``) are refused. Each is read through the one NumericDate gate.

    :raises ClaimsError: (code ``invalid_numeric_date``) a date claim that is not a NumericDate.
    :raises TokenExpiredError: ``exp`` is before ``now`` - ``leeway``.
    :raises TokenNotYetValidError: ``nbf`` or ``iat`` after ``now`` + ``leeway``.
    """
    ts, slack = now.timestamp(), leeway.total_seconds()
    dates = {
        name: numeric_date(claims[name], what=f"credential {name}", error=ClaimsError)
        for name in ("iat", "nbf", "exp")
        if claims.get(name) is not None
    }
    if "iat" in dates and dates["iat"] > ts + slack:
        raise TokenNotYetValidError(
            "credential iat is in the future; check the issuer's clock", code="issued_in_future"
        )
    if "nbf" in dates and dates["nbf"] > ts + slack:
        raise TokenNotYetValidError("credential is not valid yet (nbf)")
    if "exp" in dates and ts >= dates["exp"] + slack:
        raise TokenExpiredError("credential has expired (exp); ask the issuer for a new one")


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """A W3C VC whose signature, type, validity period and data model checked out.

    :ivar credential: the credential (the JWT payload).
    :ivar issuer: the issuer's URL (DID).
    :ivar types: the ``type`` values.
    :ivar valid_from: ``validFrom`` if present.
    :ivar valid_until: ``validUntil`` if present.
    :ivar alg: the JWS algorithm used.
    :ivar kid: the ``kid`` header.
    :ivar holder_key: the ``cnf.jwk`` key of a holder-bound ``vc+sd-jwt``, else ``None``.
    :ivar key_bound: whether a KB-JWT was verified (``nonce``, ``aud``, ``iat``, ``sd_hash``).
    """

    credential: dict[str, Any]
    issuer: str
    types: tuple[str, ...]
    valid_from: datetime | None
    valid_until: datetime | None
    alg: str
    kid: str | None
    holder_key: Key | None = None
    key_bound: bool = False

    def __repr__(self) -> str:
        # The credential holds personal data: show the issuer and types only.
        return (
            f"VerifiedCredential(issuer={self.issuer!r}, types={list(self.types)}, alg={self.alg!r}, "
            f"key_bound={self.key_bound})"
        )

    @property
    def credential_type(self) -> str:
        """The most specific type (the last one that is not ``VerifiableCredential``)."""
        specific = [t for t in self.types if t != "VerifiableCredential"]
        return specific[-1] if specific else "VerifiableCredential"

    @property
    def status(self) -> list[dict[str, Any]]:
        """The ``credentialStatus`` entries."""
        return status_entries(self.credential)


@dataclass(frozen=True, slots=True)
class UnverifiedJwtCredential:
    """A JWT-secured credential parsed but not verified: only for finding the issuer key.

    :ivar header: the JOSE header. :ivar unverified_issuer: the issuer the payload names, if it
        names one a key can be looked up for. :ivar kid: the ``kid`` header, if a string.
    :ivar jws: the parsed token, handed to the verifier so the token is parsed once.
    """

    header: dict[str, Any]
    unverified_issuer: str | None
    kid: str | None
    jws: UnverifiedJws


U = TypeVar("U", bound=UnverifiedJwtCredential)


def peek_jwt_credential(
    token: str | bytes | UnverifiedJws, kind: type[U], issuer_of: Callable[[dict[str, Any]], str | None]
) -> U:
    """Parse a JWT-secured credential without verifying it (or wrap one parsed already).

    :param kind: the format's unverified type. :param issuer_of: reads the issuer from the payload.
    :raises MalformedTokenError: if it is not a compact JWS with a JSON-object payload.
    """
    jws = token if isinstance(token, UnverifiedJws) else decode_jws(token, max_bytes=MAX_JWT_CREDENTIAL_BYTES)
    issuer = issuer_of(jws.unverified_claims())
    kid = jws.header.get("kid")
    return kind(jws.header, issuer, kid if isinstance(kid, str) else None, jws)


@dataclass(frozen=True, slots=True)
class JwtCredentialContent:
    """What a format reads from its verified JWT: the credential, its issuer, types and validity
    period, and what the format calls the two dates (for messages)."""

    credential: dict[str, Any]
    issuer: str
    types: tuple[str, ...]
    valid_from: datetime | None
    valid_until: datetime | None
    period_names: tuple[str, str] = ("validFrom", "validUntil")


def verify_jwt_credential(
    unverified: UnverifiedJwtCredential,
    key: Key,
    *,
    typ: str,
    read: Callable[[VerifiedJws], JwtCredentialContent],
    now: datetime,
    policy: VerificationPolicy,
    expected_issuer: str | None,
) -> VerifiedCredential:
    """The steps every JWT-secured credential format shares, around the format's own ``read``.

    The signature is checked through the one JOSE path (:func:`vcsdk.keys.verify_jws`: ``alg`` from
    the allow-list and the key, ``typ``, ``crit`` refused, no key in the header); then ``read`` turns
    the verified payload into the credential (the format's data-model checks); then the issuer must
    be ``expected_issuer`` when given, and ``now`` within the validity period (``policy.leeway``).

    :raises ClaimsError: ``issuer_mismatch`` for another issuer than ``expected_issuer``, and
        whatever ``read`` refuses.
    :raises TokenNotYetValidError: / :raises TokenExpiredError: outside the validity period.
    """
    verified = verify_jws(unverified.jws, key, policy=policy.algorithm_policy, typ=typ)
    content = read(verified)
    if expected_issuer is not None and content.issuer != expected_issuer:
        raise ClaimsError("credential issuer is not the expected issuer", code="issuer_mismatch")
    now = aware(now, what="now")
    check_validity_period(
        content.valid_from, content.valid_until, now=now, leeway=policy.leeway, names=content.period_names
    )
    return VerifiedCredential(
        credential=content.credential,
        issuer=content.issuer,
        types=content.types,
        valid_from=content.valid_from,
        valid_until=content.valid_until,
        alg=verified.alg,
        kid=verified.kid,
    )
