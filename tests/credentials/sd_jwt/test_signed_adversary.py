"""Properties for inputs whose signatures verify: a malicious holder and a misbehaving issuer.

Flipped bytes and garbage stop at the signature or the parser. A holder, though, signs its own
KB-JWT and chooses which Disclosures to send (they are not signed by the issuer, only their
digests are), and an accredited issuer with a bug signs whatever its code produced. Whatever they
send, the verifier either returns a result or raises a ``VerificationError`` subclass — never
another exception — and the result never holds a claim whose Disclosure the issuer did not
reference.
"""

from __future__ import annotations

import hashlib
import json
import string
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tests.credentials.sd_jwt.conftest import AUD, ISSUER, NONCE, NOW, VCT
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import VerificationPolicy, issue_sd_jwt_vc, verify_presentation_with_key
from vcsdk.credentials.sd_jwt import Disclosure, parse
from vcsdk.errors import VerificationError
from vcsdk.keys import Key, sign_jws

ISSUER_KEY = Key.generate("P-256")
HOLDER_KEY = Key.generate("P-256")
IAT = int(NOW.timestamp())
LENIENT = VerificationPolicy(require_key_binding=False, check_status=False)

#: Names a verifier treats specially, mixed with ordinary ones.
SPECIAL = ["_sd", "...", "_sd_alg", "iss", "vct", "iat", "nbf", "exp", "cnf", "status", "sd_hash", "nonce", "aud"]
names = st.sampled_from(SPECIAL) | st.text(string.ascii_lowercase + "_.", min_size=1, max_size=6)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3), max_leaves=10
)
holder_jwk = (
    st.just(HOLDER_KEY.public_jwk())
    | st.just(HOLDER_KEY.public_jwk())
    | st.dictionaries(st.sampled_from(["kty", "crv", "x", "y", "d"]), values)
)


def _encode(value: Any) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode("utf-8"))


ordinary = st.text(string.ascii_lowercase, min_size=1, max_size=4)


@st.composite
def disclosures(draw: st.DrawFn) -> list[str]:
    """Disclosures a holder might send: mostly well-formed, sometimes odd-shaped or nonsense."""
    well_formed = st.one_of(
        st.builds(lambda s, n, v: [s, n, v], st.text(min_size=1, max_size=8), ordinary | names, values),
        st.builds(lambda s, v: [s, v], st.text(min_size=1, max_size=8), values),
    )
    out = draw(st.lists(well_formed, max_size=4))
    if draw(st.booleans()) and draw(st.booleans()):
        out.insert(draw(st.integers(0, len(out))), draw(st.lists(values, max_size=4) | values))
    return [_encode(d) for d in out]


@st.composite
def signed_payload(draw: st.DrawFn, encoded: list[str]) -> dict[str, Any]:
    """An issuer payload whose ``_sd`` arrays and ``...`` elements point at (some of) ``encoded``."""
    parsed = [Disclosure.parse(e) for e in encoded if _parses(e)]
    digests = [d.digest(_sha256) for d in parsed]
    digest = st.sampled_from(digests) if digests else st.text(max_size=4)
    payload: dict[str, Any] = {"iss": ISSUER, "vct": VCT, "iat": IAT, "cnf": {"jwk": draw(holder_jwk)}}
    # Most runs: each digest where its shape belongs (properties in the top-level _sd, array
    # elements in an array), in any order; sometimes swapped, dropped, or with decoys.
    properties = [d.digest(_sha256) for d in parsed if d.name is not None]
    elements = [{"...": d.digest(_sha256)} for d in parsed if d.name is None]
    if draw(st.booleans()) and draw(st.booleans()):
        properties, elements = [e["..."] for e in elements], [{"...": p} for p in properties]
    top = draw(st.permutations(properties)) + (
        draw(st.lists(digest | values, max_size=2)) if draw(st.booleans()) else []
    )
    if top:
        payload["_sd"] = top
    if elements:
        payload["list"] = draw(st.permutations(elements))
    if draw(st.booleans()):
        element = st.builds(lambda d: {"...": d}, digest) | values
        extra = draw(
            st.dictionaries(
                names,
                values | st.lists(digest, max_size=3).map(lambda a: {"_sd": a}) | st.lists(element, max_size=3),
                max_size=3,
            )
        )
        # The issuer's identity and type are what the pinned key vouches for, not what a bug rewrites.
        payload.update({k: v for k, v in extra.items() if k not in ("iss", "vct")})
    return payload


def _sha256(data: bytes) -> Any:
    return hashlib.sha256(data)


def _parses(encoded: str) -> bool:
    try:
        Disclosure.parse(encoded)
    except VerificationError:
        return False
    return True


GOOD_KB = {"nonce": NONCE, "aud": AUD, "iat": IAT, "sd_hash": "<sd_hash>"}


@st.composite
def kb_parts(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A KB-JWT header and payload the holder signs: valid, or with one or two members changed."""
    header: dict[str, Any] = {"typ": "kb+jwt"}
    payload: dict[str, Any] = dict(GOOD_KB)
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from(["header", "payload"]))
        where = header if target == "header" else payload
        name = draw(st.sampled_from(["typ", "crit", "kid", "jwk"] if target == "header" else [*GOOD_KB, "exp", "nbf"]))
        if draw(st.booleans()):
            where.pop(name, None)
        else:
            where[name] = draw(values)
    return header, payload


def _kb_jwt(header: dict[str, Any], payload: dict[str, Any], sd_jwt: str) -> str:
    if payload.get("sd_hash") == "<sd_hash>":
        payload = {**payload, "sd_hash": b64url_encode(hashlib.sha256(sd_jwt.encode("ascii")).digest())}
    return sign_jws(payload, HOLDER_KEY, header=header, include_kid=False)


def _no_digest_left(value: Any) -> bool:
    """No object keeps an ``_sd`` member (every object is processed, RFC 9901 §7.1 step 3).

    An array element ``{"...": x}`` can legitimately remain: when it is the disclosed value of
    another array element, it stands for itself (the RFC processes a disclosed value's own
    objects and arrays, not the value as an array element again) — the reference does the same.
    """
    if isinstance(value, dict):
        return "_sd" not in value and all(_no_digest_left(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_digest_left(v) for v in value)
    return True


def _check(token: str, policy: VerificationPolicy) -> str:
    try:
        result = verify_presentation_with_key(
            token, issuer_key=ISSUER_KEY.public_key(), audience=AUD, nonce=NONCE, now=NOW, policy=policy
        )
    except VerificationError as exc:
        return type(exc).__name__
    # A result: every top-level claim is either in the signed payload or comes from a Disclosure
    # whose digest the signed payload's own _sd array lists; no digest placeholder is left.
    parsed = parse(token)
    signed_sd = parsed.payload.get("_sd", [])
    referenced = {d.name for d in parsed.disclosures if d.name is not None and d.digest(_sha256) in signed_sd}
    assert set(result.claims) <= (set(parsed.payload) - {"_sd", "_sd_alg"}) | referenced
    assert _no_digest_left(result.claims)
    assert result.issuer == ISSUER and result.vct == VCT
    return "verified"


def _kb_is_sound(kb: tuple[dict[str, Any], dict[str, Any]]) -> bool:
    header, payload = kb
    typ = header.get("typ")
    return (
        isinstance(typ, str)
        and typ.lower() == "kb+jwt"
        and not {"crit", "jwk"} & set(header)
        and payload.get("nonce") == NONCE
        and payload.get("aud") == AUD
        and payload.get("sd_hash") == "<sd_hash>"
    )


def _any_signed_token(data: Any, encoded: list[str], kb: tuple[dict[str, Any], dict[str, Any]], with_kb: bool) -> None:
    payload = (
        {"iss": ISSUER, "vct": VCT, "iat": IAT, "cnf": {"jwk": HOLDER_KEY.public_jwk()}}
        if data is None
        else data.draw(signed_payload(encoded), label="payload")
    )
    jwt = sign_jws(payload, ISSUER_KEY, typ="dc+sd-jwt", include_kid=False)
    sd_jwt = "~".join([jwt, *encoded]) + "~"
    token = sd_jwt + (_kb_jwt(*kb, sd_jwt) if with_kb else "")
    lenient = _check(token, LENIENT)
    strict = _check(token, VerificationPolicy(check_status=False))
    event(f"without KB requirement: {lenient}")
    event(f"with KB requirement: {strict}")
    if strict == "verified":
        # Key binding was required: the holder's KB-JWT must have been a sound one.
        assert with_kb and _kb_is_sound(kb)


def _holder_rearranges(chosen: list[int], forged: list[str], kb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    claims = {"a": 1, "b": {"c": 2, "d": [3, 4]}, "e": "f"}
    issued = issue_sd_jwt_vc(
        claims,
        issuer=ISSUER,
        signer=ISSUER_KEY,
        vct=VCT,
        disclosable=[["a"], ["b"], ["b", "c"], ["b", "d", None], ["e"]],
        holder_key=HOLDER_KEY,
        now=NOW,
        decoys=1,
    )
    jwt, *genuine, _ = issued.split("~")
    picked = [genuine[i % len(genuine)] for i in chosen]
    sd_jwt = "~".join([jwt, *picked, *forged]) + "~"
    token = sd_jwt + _kb_jwt(*kb, sd_jwt)
    try:
        result = verify_presentation_with_key(
            token, issuer_key=ISSUER_KEY.public_key(), audience=AUD, nonce=NONCE, now=NOW
        )
    except VerificationError as exc:
        event(type(exc).__name__)
        return
    event("verified")
    # Verified: no invented Disclosure and no repeat got through, the KB-JWT was sound, and what
    # shows is the issuer's.
    assert not forged
    assert len(set(picked)) == len(picked)
    assert _kb_is_sound(kb)
    shown = {k: v for k, v in result.claims.items() if k in claims}
    for name, value in shown.items():
        if name == "b":
            assert set(value) <= {"c", "d"}
            assert value.get("c", 2) == 2 and set(value.get("d", [])) <= {3, 4}
        else:
            assert value == claims[name]


signed_token_cases = given(data=st.data(), encoded=disclosures(), kb=kb_parts(), with_kb=st.booleans())
holder_cases = given(
    chosen=st.lists(st.integers(0, 20), max_size=6),
    forged=st.booleans().flatmap(lambda gate: disclosures() if gate else st.just([])),
    kb=kb_parts(),
)


@pytest.mark.slow  # a fuzz run: 400 signed tokens
@settings(max_examples=400)
@signed_token_cases
@example(data=None, encoded=[], kb=({"typ": "kb+jwt"}, GOOD_KB), with_kb=True)
def test_any_signed_token_gives_a_result_or_a_verification_error(
    data: Any, encoded: list[str], kb: tuple[dict[str, Any], dict[str, Any]], with_kb: bool
) -> None:
    """An issuer signed whatever its code produced; a holder added Disclosures and a KB-JWT."""
    _any_signed_token(data, encoded, kb, with_kb)


@settings(max_examples=200)
@holder_cases
def test_a_holder_cannot_add_or_repeat_disclosures(
    chosen: list[int], forged: list[str], kb: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The holder resends, reorders or invents Disclosures and signs a KB-JWT over them."""
    _holder_rearranges(chosen, forged, kb)


@pytest.mark.slow
@settings(max_examples=4000)
@signed_token_cases
def test_any_signed_token_fuzz(
    data: Any, encoded: list[str], kb: tuple[dict[str, Any], dict[str, Any]], with_kb: bool
) -> None:
    """The same property, ten times the examples (a fuzz run: ``make test``, not ``make test-fast``)."""
    _any_signed_token(data, encoded, kb, with_kb)


@pytest.mark.slow
@settings(max_examples=2000)
@holder_cases
def test_holder_rearranging_fuzz(
    chosen: list[int], forged: list[str], kb: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """The same property, ten times the examples."""
    _holder_rearranges(chosen, forged, kb)
