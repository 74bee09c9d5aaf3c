"""base64url without padding (RFC 7515 §2), the one place the SDK converts it."""

from __future__ import annotations

import binascii

from vcsdk.errors import InvalidInputError

__all__ = ["b64url_decode", "b64url_encode"]

_STD_TO_URL = bytes.maketrans(b"+/", b"-_")
#: Last characters whose unused low bits are zero, by ``len % 4`` (canonical encodings only).
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url text."""
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL).rstrip(b"=").decode("ascii")


def b64url_decode(
    text: str | bytes, *, what: str = "value", error: type[InvalidInputError] = InvalidInputError
) -> bytes:
    """Decode unpadded base64url strictly.

    Token verification decodes every part of every presentation through here, so canonical form
    is checked on the last character instead of by re-encoding.

    :param text: the encoded text; padding, whitespace and the standard alphabet are refused.
    :param what: names the field in the error message.
    :param error: the class raised, :class:`InvalidInputError` or a subclass of it (a token
        parser passes its own so that no second frame has to translate the error).
    :raises InvalidInputError: (``error``) if ``text`` is not canonical unpadded base64url.
    :return: the decoded bytes.
    """
    if type(text) is not str:
        if isinstance(text, bytes):
            try:
                text = text.decode("ascii")
            except UnicodeDecodeError:
                raise error(f"{what} is not base64url text") from None
        if not isinstance(text, str):
            raise error(f"{what} is not unpadded base64url")
    rest = len(text) % 4
    # The standard alphabet's '+' and '/' and any '=' are refused here; after mapping '-' and '_'
    # to them, strict decoding refuses every other character (whitespace, non-ASCII, ...).
    if rest == 1 or "+" in text or "/" in text or "=" in text:
        raise error(f"{what} is not unpadded base64url")
    data = text.replace("-", "+").replace("_", "/")
    if rest:
        # Canonical form only: trailing bits that the encoder would have set to zero must be zero.
        if text[-1] not in _CANONICAL_LAST[rest]:
            raise error(f"{what} is not canonical base64url")
        data += "=" if rest == 3 else "=="
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise error(f"{what} is not unpadded base64url") from None
