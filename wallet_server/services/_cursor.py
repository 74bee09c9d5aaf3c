"""Opaque pagination cursors: the client hands back what it got, it never builds one."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from vcsdk.encoding import b64url_decode, b64url_encode, canonical_json, parse_json
from vcsdk.errors import InvalidInputError

__all__ = ["decode_cursor", "encode_cursor"]

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def encode_cursor(after: tuple[datetime, str]) -> str:
    return b64url_encode(canonical_json([int(after[0].timestamp()), after[1]]))


def decode_cursor(cursor: str | None, *, ids: re.Pattern[str] = _ID) -> tuple[datetime, str] | None:
    """:param ids: what the id part may look like (default: the server's own ids).
    :raises InvalidInputError: if the cursor is not one this server made."""
    if cursor is None:
        return None
    bad = InvalidInputError("cursor is not one this server issued; start again without it")
    if len(cursor) > 200:
        raise bad
    try:
        value = parse_json(b64url_decode(cursor, what="cursor"), what="cursor")
    except InvalidInputError:
        raise bad from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or isinstance(value[0], bool)
        or not isinstance(value[1], str)
        or ids.fullmatch(value[1]) is None
        or not 0 <= value[0] < 2**40
    ):
        raise bad
    return datetime.fromtimestamp(value[0], UTC), value[1]
