"""URL rules shared by the protocol and registration code (one rule in one place)."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["is_https_url"]


def is_https_url(value: object) -> bool:
    """Whether ``value`` is an ``https`` URL, or ``http`` to the loopback interface (development and
    tests on 127.0.0.1); the specs require TLS for every endpoint."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.netloc or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
