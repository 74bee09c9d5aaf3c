"""base64url (RFC 7515 §2): unpadded, URL alphabet, canonical trailing bits, nothing else."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.errors import InvalidInputError, MalformedTokenError

_CANONICAL = re.compile(r"[A-Za-z0-9_-]*")


def _reference_decode(text: str) -> bytes | None:
    """What a strict decoder must return: the bytes, or None where it must refuse."""
    if len(text) % 4 == 1 or _CANONICAL.fullmatch(text) is None:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return data if b64url_encode(data) == text else None


@given(st.binary(max_size=300))
def test_round_trip(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data
    assert b64url_decode(b64url_encode(data).encode("ascii")) == data


@given(st.text(alphabet="AQgwEIMUYcko048z_-+/= \n\té.~\x00", max_size=12))
@example("QQ==")  # padded
@example("QR")  # non-canonical trailing bits
@example("A")  # no base64 text has length 1 mod 4
@example("ab+c")  # standard alphabet
@example("ab=c")  # padding inside
@example("abc\n")  # whitespace
@example("abé")  # non-ASCII
def test_accepts_exactly_canonical_unpadded_base64url(text: str) -> None:
    expected = _reference_decode(text)
    if expected is None:
        with pytest.raises(InvalidInputError):
            b64url_decode(text)
    else:
        assert b64url_decode(text) == expected


@pytest.mark.parametrize("bad", ["QQ==", "ab/c", "a b", b"\xff\xfe", 42])
def test_error_class_is_the_callers(bad: object) -> None:
    with pytest.raises(MalformedTokenError, match="the part"):
        b64url_decode(bad, what="the part", error=MalformedTokenError)  # type: ignore[arg-type]
