"""Small helpers the services share: clock type, ids, hashing, input checks."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from vcsdk.errors import InvalidInputError, NotFoundError

__all__ = ["Clock", "new_id", "require_id", "require_str", "require_text", "sha256_hex"]

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Returns the current time, timezone-aware UTC. Production passes the system clock; tests a fixed one.
Clock = Callable[[], datetime]


def new_id(prefix: str) -> str:
    """A random identifier such as ``cred_3q2…`` (128 bits, URL-safe)."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def require_str(value: Any, what: str, *, max_len: int, min_len: int = 1) -> str:
    """``value`` if it is a string of a sensible length.

    :raises InvalidInputError: otherwise.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string")
    if not min_len <= len(value) <= max_len:
        raise InvalidInputError(f"{what} must be {min_len} to {max_len} characters long")
    return value


def require_id(value: Any, what: str) -> str:
    """An identifier of the shape this server makes (``dev_…``, ``cred_…``, ``res_…``).

    :raises NotFoundError: for anything else: no such object can exist.
    """
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise NotFoundError(f"no such {what}")
    return value


def require_text(value: Any, what: str, *, max_len: int) -> str:
    """A short human label: a string without control characters.

    :raises InvalidInputError: otherwise.
    """
    text = require_str(value, what, max_len=max_len)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInputError(f"{what} must not contain control characters")
    return text
