"""base64url without padding (RFC 7515 §2), the one place the SDK converts it."""

from __future__ import annotations

import base64
import binascii
import re

from vcsdk.errors import InvalidInputError

__all__ = ["b64url_decode", "b64url_encode"]

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes, *, what: str = "value") -> bytes:
    """Decode unpadded base64url strictly.

    :param text: the encoded text; padding, whitespace and the standard alphabet are refused.
    :param what: names the field in the error message.
    :raises InvalidInputError: if ``text`` is not canonical unpadded base64url.
    :return: the decoded bytes.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{what} is not base64url text") from None
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise InvalidInputError(f"{what} is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what} is not unpadded base64url") from None
    # Canonical form only: trailing bits that the encoder would have set to zero must be zero.
    if b64url_encode(raw) != text:
        raise InvalidInputError(f"{what} is not canonical base64url")
    return raw
