"""Aware UTC datetimes, RFC 3339 and JWT NumericDate conversions: one helper module for the SDK.

Every time the SDK takes is a timezone-aware ``datetime`` (``now=`` parameters included); a naive one
is refused, since its zone would be a guess.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from vcsdk.errors import InvalidInputError, VcsdkError

__all__ = [
    "MAX_NUMERIC_DATE",
    "NUMERIC_DATE_CODE",
    "aware",
    "from_numeric_date",
    "numeric_date",
    "parse_rfc3339",
    "to_numeric_date",
    "to_rfc3339",
]

#: The last second a ``datetime`` can hold (9999-12-31T23:59:59Z) as a JWT NumericDate. A date
#: claim beyond it (or before the epoch) is refused rather than handed to ``datetime``, whose
#: ``OverflowError``/``OSError``/``ValueError`` would escape as untyped exceptions.
MAX_NUMERIC_DATE = 253402300799
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The code every malformed date claim carries (``exp``, ``iat``, ``nbf``, …), whatever the token.
NUMERIC_DATE_CODE = "invalid_numeric_date"


def aware(value: datetime, *, what: str = "time") -> datetime:
    """``value`` as an aware UTC instant.

    :raises InvalidInputError: for a naive ``datetime`` or anything that is not one.
    """
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{what} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def to_rfc3339(value: datetime, *, what: str = "time") -> str:
    """``2026-11-26T06:00:00Z`` (seconds precision, UTC).

    :raises InvalidInputError: for a naive ``datetime``.
    """
    return aware(value, what=what).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: object, *, what: str) -> datetime:
    """Parse an RFC 3339 UTC timestamp as written by :func:`to_rfc3339` (offsets are accepted too).

    :raises InvalidInputError: if ``text`` is not such a timestamp.
    """
    if not isinstance(text, str) or len(text) > 40:
        raise InvalidInputError(f"{what} must be an RFC 3339 timestamp string")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{what} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise InvalidInputError(f"{what} must carry a time zone (use Z for UTC)")
    return parsed.astimezone(UTC)


def to_numeric_date(value: datetime, *, what: str = "time") -> int:
    """JWT NumericDate (RFC 7519 §2): whole seconds since the epoch.

    :raises InvalidInputError: for a naive ``datetime``.
    """
    return int(aware(value, what=what).timestamp())


def numeric_date(
    value: object,
    *,
    what: str,
    error: type[VcsdkError] = InvalidInputError,
    code: str | None = NUMERIC_DATE_CODE,
    whole: bool = False,
) -> float:
    """Check a JWT NumericDate (RFC 7519 §2) read from JSON: the one gate for every date claim.

    Any JSON number goes in; what comes out is a finite number of seconds from the epoch to
    :data:`MAX_NUMERIC_DATE`, or the typed error. Booleans, strings, NaN, infinities, ``1e400``,
    negative and far-future values are refused.

    :param what: names the claim in the message (``"credential exp"``).
    :param error: the error class to raise (``ClaimsError`` for a credential, ``KeyBindingError``
        for a KB-JWT, …); its instance carries ``code``.
    :param whole: refuse fractional seconds too.
    :raises VcsdkError: ``error`` with ``code`` for anything else.
    :return: the seconds, as given.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        kind = "integer " if whole else ""
        raise error(f"{what} must be a NumericDate ({kind}seconds since the epoch)", code=code)
    if (isinstance(value, float) and not math.isfinite(value)) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise error(f"{what} is not a date between 1970 and 9999", code=code)
    return value


def from_numeric_date(
    value: object,
    *,
    what: str,
    error: type[VcsdkError] = InvalidInputError,
    code: str | None = NUMERIC_DATE_CODE,
    whole: bool = False,
) -> datetime:
    """Read a JWT NumericDate as an aware UTC ``datetime`` (checked by :func:`numeric_date`).

    :raises VcsdkError: ``error`` with ``code`` if ``value`` is not a NumericDate in range.
    """
    seconds = numeric_date(value, what=what, error=error, code=code, whole=whole)
    return _EPOCH + timedelta(0, seconds)  # (days, seconds): positional is the cheaper call
