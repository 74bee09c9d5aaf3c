"""Hypothesis properties: exact disclosure, tamper evidence, parsers raising only InvalidInputError."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.credentials.sd_jwt.conftest import AUD, CLAIMS, DISCLOSABLE, ISSUER, NONCE, NOW, VCT
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import (
    VerificationPolicy,
    issue_sd_jwt_vc,
    peek,
    present,
    verify_presentation_with_key,
)
from vcsdk.credentials.sd_jwt import parse
from vcsdk.errors import InvalidInputError, VerificationError
from vcsdk.keys import Key

ISSUER_KEY = Key.generate("P-256")
HOLDER_KEY = Key.generate("P-256")
RESERVED = {"_sd", "...", "iss", "iat", "nbf", "vct", "exp", "cnf", "status", "_sd_alg"}

names = st.text(string.ascii_letters + string.digits + "_-. é", min_size=1, max_size=12).filter(
    lambda n: n not in RESERVED
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)


def _verify(token: str | bytes) -> Any:
    return verify_presentation_with_key(token, issuer_key=ISSUER_KEY.public_key(), audience=AUD, nonce=NONCE, now=NOW)


@settings(max_examples=60)
@given(data=st.data(), claims=st.dictionaries(names, json_values, min_size=1, max_size=6))
@example(data=None, claims={"a": {"_x": [None, {"b": 1.5}]}, "c": []})
def test_verify_returns_exactly_the_disclosed_subset(data: Any, claims: dict[str, Any]) -> None:
    keys = sorted(claims)
    if data is None:
        disclosable, chosen = set(keys), set(keys[:1])
    else:
        disclosable = set(data.draw(st.sets(st.sampled_from(keys)), label="disclosable"))
        chosen = set(data.draw(st.sets(st.sampled_from(keys)), label="chosen"))
    issued = issue_sd_jwt_vc(
        claims,
        issuer=ISSUER,
        signer=ISSUER_KEY,
        vct=VCT,
        disclosable=[[k] for k in sorted(disclosable)],
        holder_key=HOLDER_KEY,
        now=NOW,
        decoys=1,
    )
    token = present(
        issued, disclose=[[k] for k in sorted(chosen)], holder_signer=HOLDER_KEY, audience=AUD, nonce=NONCE, now=NOW
    )
    result = _verify(token)
    user = {k: v for k, v in result.claims.items() if k not in {"iss", "iat", "vct", "cnf"}}
    assert user == {k: v for k, v in claims.items() if k not in disclosable or k in chosen}


_CREDENTIAL = issue_sd_jwt_vc(
    CLAIMS, issuer=ISSUER, signer=ISSUER_KEY, vct=VCT, disclosable=DISCLOSABLE, holder_key=HOLDER_KEY, now=NOW, decoys=2
)
PRESENTATION = present(
    _CREDENTIAL,
    disclose=[["address", "locality"], ["age_equal_or_over", "20"], ["nationalities", 1]],
    holder_signer=HOLDER_KEY,
    audience=AUD,
    nonce=NONCE,
    now=NOW,
).encode("ascii")
SEPARATORS = [i for i, b in enumerate(PRESENTATION) if b in b".~"]


@settings(max_examples=300)
@given(index=st.integers(0, len(PRESENTATION) - 1), flip=st.integers(1, 255))
@example(index=0, flip=1)  # header
@example(index=SEPARATORS[0], flip=ord(".") ^ ord("~"))  # a '.' becomes '~'
@example(index=SEPARATORS[2], flip=ord("~") ^ ord("."))  # the first '~' becomes '.'
@example(index=len(PRESENTATION) - 1, flip=1)  # last byte of the KB-JWT signature
@example(index=len(PRESENTATION) - 1, flip=0x80)  # non-ASCII
def test_flipping_any_byte_raises_a_verification_error(index: int, flip: int) -> None:
    assert _verify(PRESENTATION)  # the original verifies
    damaged = bytearray(PRESENTATION)
    damaged[index] ^= flip
    try:
        _verify(bytes(damaged))
    except VerificationError:
        return
    raise AssertionError("a damaged presentation verified")


@settings(max_examples=300)
@given(text=st.text() | st.binary().map(lambda b: b.decode("latin-1")))
@example(text="~")
@example(text="{}")
@example(text="e30.e30.~")
def test_parsers_raise_only_invalid_input_on_arbitrary_text(text: str) -> None:
    for parser in (parse, peek):
        try:
            parser(text)
        except InvalidInputError:
            pass


def _jws_like(parts: list[bytes]) -> str:
    return ".".join(b64url_encode(p) for p in parts)


json_text = json_values.map(lambda v: __import__("json").dumps(v).encode())
structured = st.builds(
    lambda h, p, s, ds, kb: f"{_jws_like([h, p, s])}~" + "".join(f"{b64url_encode(d)}~" for d in ds) + kb,
    json_text | st.just(b'{"alg":"ES256","typ":"dc+sd-jwt"}'),
    json_text | st.just(b'{"_sd":["x"],"a":[{"...":"y"}]}'),
    st.binary(max_size=64),
    st.lists(json_text | st.just(b'["salt","a",1]') | st.just(b'["salt",1]'), max_size=3),
    st.sampled_from(["", "a.b.c", "e30.e30.AAAA"]),
)


@settings(max_examples=300)
@given(token=structured)
def test_parsers_and_verifier_on_structured_garbage(token: str) -> None:
    for parser in (parse, peek):
        try:
            parser(token)
        except InvalidInputError:
            pass
    try:
        verify_presentation_with_key(
            token,
            issuer_key=ISSUER_KEY,
            audience=AUD,
            nonce=NONCE,
            now=NOW,
            policy=VerificationPolicy(require_key_binding=False),
        )
    except VerificationError:
        pass
