"""Compact JWS (RFC 7515) sign, parse and verify behind the algorithm allow-list."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._json import parse_json_object
from vcsdk.errors import (
    CriticalHeaderError,
    DisallowedAlgorithmError,
    MalformedTokenError,
    SignatureInvalidError,
    TokenTypeError,
    UntrustedKeyError,
)
from vcsdk.keys._keys import ALGORITHM_FOR_CURVE, DEFAULT_POLICY, AlgorithmPolicySource, Key, Signer

__all__ = [
    "HEADER_KEY_PARAMS",
    "MAX_HEADER_BYTES",
    "MAX_JWS_BYTES",
    "UnverifiedJws",
    "VerifiedJws",
    "check_jose_header",
    "decode_jws",
    "jws_signing_input",
    "sign_jws",
    "verify_jws",
    "verify_signature",
]

#: Header parameters through which a token could try to choose its own verification key.
HEADER_KEY_PARAMS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})
MAX_JWS_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class UnverifiedJws:
    """A parsed compact JWS whose signature has not been checked. Trust nothing in it yet.

    The payload is parsed at most once (:meth:`unverified_claims` keeps the result), so a token is
    read once however many checks look at it.
    """

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes
    _claims: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)

    def unverified_claims(self) -> dict[str, Any]:
        """The payload as a JSON object, still unverified (parsed once, then kept).

        :raises MalformedTokenError: if the payload is not a JSON object.
        """
        if not self._claims:
            self._claims.append(_payload_object(self.payload))
        return self._claims[0]


@dataclass(frozen=True, slots=True)
class VerifiedJws:
    """A compact JWS whose signature verified with a key the caller chose."""

    header: dict[str, Any]
    payload: bytes
    alg: str
    kid: str | None
    _jws: UnverifiedJws | None = field(default=None, repr=False, compare=False)

    def claims(self) -> dict[str, Any]:
        """The payload as a JSON object.

        :raises MalformedTokenError: if the payload is not a JSON object.
        """
        return self._jws.unverified_claims() if self._jws is not None else _payload_object(self.payload)


def _payload_object(payload: bytes) -> dict[str, Any]:
    return parse_json_object(payload, what="JWS payload", max_bytes=len(payload), error=MalformedTokenError)


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_jws(
    payload: Mapping[str, Any] | bytes,
    signer: Signer,
    *,
    typ: str | None = None,
    header: Mapping[str, Any] | None = None,
    include_kid: bool = True,
) -> str:
    """Make a compact JWS.

    :param payload: a JSON object (serialised compactly) or raw bytes.
    :param signer: a :class:`~vcsdk.keys.Key` or any :class:`~vcsdk.keys.Signer` (secure enclave).
    :param typ: the ``typ`` header, e.g. ``dc+sd-jwt`` or ``kb+jwt``.
    :param header: extra protected header members; ``alg`` always comes from the signer.
    :raises UnsupportedAlgorithmError: if the signer's algorithm is not one vcsdk supports.
    :return: ``header.payload.signature``.
    """
    kid = signer.kid if include_kid else None
    signing_input = jws_signing_input(payload, alg=signer.alg, typ=typ, kid=kid, header=header)
    return f"{signing_input.decode('ascii')}.{b64url_encode(signer.sign(signing_input))}"


def jws_signing_input(
    payload: Mapping[str, Any] | bytes,
    *,
    alg: str,
    typ: str | None = None,
    kid: str | None = None,
    header: Mapping[str, Any] | None = None,
) -> bytes:
    """The bytes a JWS signature covers (``base64url(header).base64url(payload)``), for a key that
    signs elsewhere (a phone's secure enclave) and returns the signature later.

    :func:`sign_jws` builds its tokens with this function, so both give the same bytes.
    :raises UnsupportedAlgorithmError: if ``alg`` is not one vcsdk supports.
    :return: the ASCII signing input; append ``.`` and the base64url signature to make the token.
    """
    protected: dict[str, Any] = {"alg": DEFAULT_POLICY.check(alg)}
    if typ is not None:
        protected["typ"] = typ
    if kid is not None:
        protected["kid"] = kid
    if header:
        protected.update({k: v for k, v in header.items() if k != "alg"})
    body = payload if isinstance(payload, bytes) else _json_bytes(payload)
    return f"{b64url_encode(_json_bytes(protected))}.{b64url_encode(body)}".encode("ascii")


#: Largest protected header accepted, in bytes of JSON.
MAX_HEADER_BYTES = 16_384
#: Registered header parameters (RFC 7515 §4.1): never a critical extension's name.
_REGISTERED = frozenset({"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"})


def decode_jws(
    token: str | bytes,
    *,
    max_bytes: int = MAX_JWS_BYTES,
    what: str = "JWS",
    headers: dict[str, dict[str, Any]] | None = None,
) -> UnverifiedJws:
    """Parse a compact JWS without verifying it: the one compact-JWS decoder of the SDK.

    Every token vcsdk reads (SD-JWT issuer JWTs, KB-JWTs, ``vc+jwt``, status lists, receipts,
    proofs, attestations) is split here, its header parsed by the one strict JSON parser.

    :param what: names the token in error messages (``"KB-JWT"``).
    :param headers: for many tokens decoded together (a batch of receipts, whose signer writes the
        same header on each): the headers parsed so far, by their base64url text, filled as tokens
        are decoded. A text parsed before gives the same header without parsing it again; the header
        object is then shared by those tokens, so read it only.
    :raises MalformedTokenError: (an ``InvalidTokenError``) on anything but three base64url parts
        with a JSON-object header, a token larger than ``max_bytes`` (code ``token_too_large``),
        or non-ASCII text.
    :return: the parts, unverified.
    """
    if isinstance(token, bytes | bytearray):
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise MalformedTokenError(f"{what} is not ASCII text") from None
    if not isinstance(token, str):
        raise MalformedTokenError(f"{what} must be a string")
    if len(token) > max_bytes:
        raise MalformedTokenError(f"{what} is larger than {max_bytes} bytes", code="token_too_large")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedTokenError(f"{what} must have exactly three dot-separated parts (compact JWS)")
    h, p, sig = parts
    if not token.isascii():
        raise MalformedTokenError(f"{what} is not ASCII text")
    header = None if headers is None else headers.get(h)
    if header is None:
        header = parse_json_object(
            b64url_decode(h, what=f"{what} header", error=MalformedTokenError),
            what=f"{what} header",
            max_bytes=MAX_HEADER_BYTES,
            error=MalformedTokenError,
        )
        if headers is not None:
            headers[h] = header
    payload = b64url_decode(p, what=f"{what} payload", error=MalformedTokenError)
    signature = b64url_decode(sig, what=f"{what} signature", error=MalformedTokenError)
    # The signing input is the presented ASCII text before the second dot (RFC 7515 §5.2).
    return UnverifiedJws(header, payload, token[: len(h) + 1 + len(p)].encode("ascii"), signature)


def check_jose_header(
    header: Mapping[str, Any],
    key: Key,
    *,
    policy: AlgorithmPolicySource = DEFAULT_POLICY,
    typ: str | tuple[str, ...] | None = None,
    header_keys: Literal["reject", "ignore"] = "reject",
    understood: frozenset[str] = frozenset(),
    what: str = "JWS",
) -> str:
    """The one JOSE header check every verifier runs before a signature (RFC 7515 §4.1).

    In order: ``alg`` on the allow-list *and* the algorithm of ``key`` (the key decides, the header
    only has to agree); ``crit`` refused unless every name in it is in ``understood``; no key
    carried in the header (``jwk``, ``jku``, ``x5u``, ``x5c``, …) unless ``header_keys`` is
    ``ignore``; ``typ`` one of the expected values (case-insensitive, RFC 7515 §4.1.9).

    :raises DisallowedAlgorithmError: ``alg`` missing, not allowed, or not the key's (code
        ``alg_key_mismatch``).
    :raises CriticalHeaderError: a ``crit`` extension not understood (code ``crit_not_understood``).
    :raises UntrustedKeyError: the header carries its own key.
    :raises TokenTypeError: ``typ`` differs.
    :return: the algorithm.
    """
    names = policy.algorithm_policy.names
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in names:
        shown = alg if isinstance(alg, str) and len(alg) <= 32 else type(alg).__name__
        raise DisallowedAlgorithmError(
            f"{what} algorithm {shown!r} is not allowed; this verifier accepts {list(names)}"
        )
    if alg != ALGORITHM_FOR_CURVE[key.curve]:
        raise DisallowedAlgorithmError(
            f"{what} algorithm {alg} does not fit the {key.curve} key; the token cannot choose the key type",
            code="alg_key_mismatch",
        )
    if "crit" in header:
        crit = header["crit"]
        # RFC 7515 §4.1.11: a non-empty list of names of extensions present in the header, none
        # registered; one this verifier does not understand must be refused.
        if (
            not isinstance(crit, list)
            or not crit
            or not all(isinstance(c, str) and c in header and c not in _REGISTERED for c in crit)
            or not set(crit) <= understood
        ):
            raise CriticalHeaderError(f"{what} header lists critical extensions this verifier does not understand")
    if header_keys == "reject" and not HEADER_KEY_PARAMS.isdisjoint(header):
        embedded = sorted(HEADER_KEY_PARAMS.intersection(header))
        raise UntrustedKeyError(
            f"{what} header carries its own key material ({', '.join(embedded)}); vcsdk verifies only "
            "with keys from the issuer's DID document or the credential's cnf"
        )
    if typ is not None:
        wanted = (typ,) if isinstance(typ, str) else typ
        got = header.get("typ")
        if not isinstance(got, str) or got.lower() not in {w.lower() for w in wanted}:
            shown_typ = got if isinstance(got, str) and len(got) <= 64 else type(got).__name__
            raise TokenTypeError(f"{what} typ is {shown_typ!r}; expected {' or '.join(wanted)}")
    return alg


_P256 = ec.SECP256R1()
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def verify_signature(
    key: Key, signing_input: bytes, signature: bytes, alg: str, policy: AlgorithmPolicySource
) -> None:
    """Check a JWS signature with ``key`` (``alg`` already passed :func:`check_jose_header`).

    :param policy: an ``AlgorithmPolicy`` or a ``VerificationPolicy`` (its ``algorithm_policy``).

    :raises SignatureInvalidError: if it does not verify.
    """
    if alg == "ES256" and key.curve == "P-256":
        # The hot path of every presentation: ES256 straight through cryptography (what Key.verify
        # does via pyjwt, minus two layers of dispatch).
        public = cast(ec.EllipticCurvePublicKey, key.cryptography_key)
        if len(signature) != 64:
            raise SignatureInvalidError("signature does not verify with the expected key")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            public.verify(der, signing_input, _ECDSA_SHA256)
        except InvalidSignature:
            raise SignatureInvalidError("signature does not verify with the expected key") from None
        return
    key.verify(signing_input, signature, alg=alg, policy=policy.algorithm_policy)


def verify_jws(
    token: str | bytes | UnverifiedJws,
    key: Key,
    *,
    policy: AlgorithmPolicySource = DEFAULT_POLICY,
    typ: str | tuple[str, ...] | None = None,
    header_keys: Literal["reject", "ignore"] = "reject",
) -> VerifiedJws:
    """Verify a compact JWS with a key the caller found (DID document, ``cnf``), never the token.

    :param key: the verification key; the token's ``alg`` must be allowed and be the key's.
    :param policy: the allow-list (an ``AlgorithmPolicy``, or the ``VerificationPolicy`` a service
        passes to every ``verify_*``: its ``algorithms`` are used); passed explicitly by every verifier.
    :param typ: required ``typ`` header value(s), compared case-insensitively (RFC 7515 §4.1.9).
    :param header_keys: ``reject`` (default) refuses a token carrying ``jwk``/``jku``/``x5u``/``x5c``;
        ``ignore`` lets a protocol that already extracted and checked such a key (an OpenID4VCI proof)
        pass it in explicitly as ``key``.
    :raises MalformedTokenError: if the token cannot be parsed.
    :raises DisallowedAlgorithmError: (an ``UnsupportedAlgorithmError``) if ``alg`` is missing, not
        allowed, or does not fit ``key``.
    :raises CriticalHeaderError: if the header lists a ``crit`` extension.
    :raises UntrustedKeyError: if the header carries a key and ``header_keys`` is ``reject``.
    :raises TokenTypeError: if ``typ`` is required and differs.
    :raises SignatureInvalidError: if the signature does not verify.
    :return: the verified header and payload.
    """
    jws = token if isinstance(token, UnverifiedJws) else decode_jws(token)
    alg = check_jose_header(jws.header, key, policy=policy, typ=typ, header_keys=header_keys)
    verify_signature(key, jws.signing_input, jws.signature, alg, policy)
    kid = jws.header.get("kid")
    return VerifiedJws(jws.header, jws.payload, alg, kid if isinstance(kid, str) else None, jws)
