"""What the ``vc+jwt`` and ``vc+sd-jwt`` verifiers share: their defaults and their result type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from vcsdk._time import numeric_date
from vcsdk.credentials._w3c._model import status_entries
from vcsdk.errors import ClaimsError, TokenExpiredError, TokenNotYetValidError
from vcsdk.keys import Key

__all__ = ["DEFAULT_KEY_BINDING_MAX_AGE", "DEFAULT_LEEWAY", "VerifiedCredential", "check_jwt_dates"]

DEFAULT_LEEWAY: Final = timedelta(seconds=60)
DEFAULT_KEY_BINDING_MAX_AGE: Final = timedelta(minutes=5)


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
