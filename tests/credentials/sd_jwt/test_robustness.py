"""Hostile input: oversized tokens, deep JSON, bad base64, non-UTF-8 give typed errors, fast."""

from __future__ import annotations

import json

import pytest

from tests.credentials.sd_jwt.conftest import AUD, ISSUER, NONCE, NOW, VCT, sign_compact
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import VerificationPolicy, peek, verify_presentation_with_key
from vcsdk.credentials.sd_jwt import parse
from vcsdk.errors import InvalidInputError, MalformedTokenError, VerificationError
from vcsdk.keys import Key


def b64(data: bytes | str) -> str:
    return b64url_encode(data.encode() if isinstance(data, str) else data)


HEADER = b64(json.dumps({"alg": "ES256", "typ": "dc+sd-jwt"}))
PAYLOAD = b64(json.dumps({"iss": ISSUER, "vct": VCT}))
EMPTY_ARRAY = b64("[]")
ONE_ARRAY = b64("[1]")
DUPLICATE = b64('{"a":1,"a":2}')
NAN = b64('{"a":NaN}')
SALT_ONLY = b64('["salt"]')
NUMERIC_SALT = b64('[1, "a", 2]')
NUMERIC_NAME = b64('["s", 1, 2]')
BAD_UTF8 = b64(b"\xff\xfe{}")
BAD_UTF8_HEADER = b64(b"\xc3\x28")
BAD_UTF8_DISCLOSURE = b64(b"\x80")


def verify(token: str | bytes, issuer_key: Key, policy: VerificationPolicy | None = None) -> None:
    verify_presentation_with_key(
        token, issuer_key=issuer_key, audience=AUD, nonce=NONCE, now=NOW, **({"policy": policy} if policy else {})
    )


def malformed(token: str | bytes, issuer_key: Key, code: str | None = None) -> None:
    with pytest.raises(MalformedTokenError) as info:
        verify(token, issuer_key)
    assert isinstance(info.value, VerificationError) and isinstance(info.value, InvalidInputError)
    if code:
        assert info.value.code == code
    with pytest.raises(InvalidInputError):
        parse(token)
    with pytest.raises(InvalidInputError):
        peek(token)


def test_ten_megabyte_token(issuer_key: Key) -> None:
    big = f"{HEADER}.{PAYLOAD}.AAAA~" + "A" * 10_000_000 + "~"
    malformed(big, issuer_key, "token_too_large")
    malformed(big.encode(), issuer_key, "token_too_large")


def test_hundred_thousand_deep_json(issuer_key: Key) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    malformed(f"{HEADER}.{b64(deep)}.AAAA~", issuer_key, "token_too_deep")
    # A header is bounded to 16 KiB before it is parsed; a deep one within that bound hits the depth limit.
    malformed(f"{b64(deep)}.{PAYLOAD}.AAAA~", issuer_key, "token_too_large")
    shallow_but_deep = "[" * 1000 + "]" * 1000
    malformed(f"{b64(shallow_but_deep)}.{PAYLOAD}.AAAA~", issuer_key, "token_too_deep")
    malformed(f"{HEADER}.{PAYLOAD}.AAAA~{b64(deep)}~", issuer_key, "token_too_deep")
    objects = '{"a":' * 100_000 + "1" + "}" * 100_000
    malformed(f"{HEADER}.{b64(objects)}.AAAA~", issuer_key)


def test_deep_claims_inside_a_signed_token_hit_the_depth_limit(issuer_key: Key) -> None:
    nested: object = 1
    for _ in range(40):
        nested = {"a": nested}
    token = sign_compact({"alg": "ES256", "typ": "dc+sd-jwt"}, {"iss": ISSUER, "vct": VCT, "x": nested}, issuer_key)
    with pytest.raises(MalformedTokenError) as info:
        verify(token + "~", issuer_key, VerificationPolicy(require_key_binding=False))
    assert info.value.code == "token_too_deep"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "~",
        "a.b~",
        "a.b.c.d~",
        f"{HEADER}.{PAYLOAD}.AAA=~",
        f"{HEADER}.{PAYLOAD}.AA+/~",
        f"{HEADER}.{PAYLOAD}.A~",
        f"{HEADER}.{PAYLOAD}.AB~",  # non-canonical trailing bits
        f"{HEADER}.{PAYLOAD}.AAAA~~~",
        f"{HEADER}.{PAYLOAD}.AAAA~@@@~",
        f"{HEADER}.{PAYLOAD}.AAAA",
        f"{HEADER} .{PAYLOAD}.AAAA~",
        f"{EMPTY_ARRAY}.{PAYLOAD}.AAAA~",
        f"{HEADER}.{ONE_ARRAY}.AAAA~",
        f"{HEADER}.{DUPLICATE}.AAAA~",
        f"{HEADER}.{NAN}.AAAA~",
        f"{HEADER}.{PAYLOAD}.AAAA~{SALT_ONLY}~",
        f"{HEADER}.{PAYLOAD}.AAAA~{NUMERIC_SALT}~",
        f"{HEADER}.{PAYLOAD}.AAAA~{NUMERIC_NAME}~",
        "{}",
        '{"payload": 1}',
        '{"signatures": []}',
        "{not json",
    ],
)
def test_malformed_tokens(issuer_key: Key, token: str) -> None:
    malformed(token, issuer_key)


def test_non_utf8_and_non_ascii(issuer_key: Key) -> None:
    malformed(f"{HEADER}.{BAD_UTF8}.AAAA~", issuer_key)
    malformed(f"{BAD_UTF8_HEADER}.{PAYLOAD}.AAAA~", issuer_key)
    malformed(f"{HEADER}.{PAYLOAD}.AAAA~{BAD_UTF8_DISCLOSURE}~", issuer_key)
    malformed(f"{HEADER}.{PAYLOAD}.AAAA~é~", issuer_key)
    malformed(f"{HEADER}.{PAYLOAD}.AAAA~".encode() + b"\xff", issuer_key)


def test_too_many_disclosures(issuer_key: Key) -> None:
    disclosure = b64('["c2FsdHNhbHRzYWx0c2FsdA","a",1]')
    malformed(f"{HEADER}.{PAYLOAD}.AAAA~" + f"{disclosure}~" * 1001, issuer_key, "too_many_disclosures")


def test_wrong_input_types(issuer_key: Key) -> None:
    for token in (None, 42, ["a"]):
        with pytest.raises(MalformedTokenError):
            verify(token, issuer_key)  # type: ignore[arg-type]


def test_a_huge_sd_array_is_processed_in_linear_time(issuer_key: Key) -> None:
    digests = [b64url_encode(i.to_bytes(32, "big")) for i in range(20_000)]
    token = sign_compact({"alg": "ES256", "typ": "dc+sd-jwt"}, {"iss": ISSUER, "vct": VCT, "_sd": digests}, issuer_key)
    verify(token + "~", issuer_key, VerificationPolicy(require_key_binding=False, max_token_bytes=2_000_000))
