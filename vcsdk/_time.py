"""Aware UTC datetimes, RFC 3339 and JWT NumericDate conversions: one helper module for the SDK.

Every time the SDK takes is a timezone-aware ``datetime`` (``now=`` parameters included); a naive one
is refused, since its zone would be a guess.
"""

from __future__ import annotations

from datetime import UTC, datetime

from vcsdk.errors import InvalidInputError

__all__ = ["aware", "from_numeric_date", "parse_rfc3339", "to_numeric_date", "to_rfc3339"]


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


def from_numeric_date(value: object, *, what: str) -> datetime:
    """Read a JWT NumericDate.

    :raises InvalidInputError: if ``value`` is not a non-negative integer in range.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 253402300800:
        raise InvalidInputError(f"{what} must be a NumericDate (integer seconds since the epoch)")
    return datetime.fromtimestamp(value, tz=UTC)
