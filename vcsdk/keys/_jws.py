"""Compact JWS (RFC 7515) sign, parse and verify behind the algorithm allow-list."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._json import parse_json, parse_json_object
from vcsdk.errors import (
    InvalidTokenError,
    TokenTypeError,
    UnsupportedAlgorithmError,
    UntrustedKeyError,
)
from vcsdk.keys._keys import DEFAULT_POLICY, AlgorithmPolicy, Key, Signer

__all__ = [
    "HEADER_KEY_PARAMS",
    "MAX_JWS_BYTES",
    "UnverifiedJws",
    "VerifiedJws",
    "decode_jws",
    "jws_signing_input",
    "sign_jws",
    "verify_jws",
]

#: Header parameters through which a token could try to choose its own verification key.
HEADER_KEY_PARAMS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})
MAX_JWS_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class UnverifiedJws:
    """A parsed compact JWS whose signature has not been checked. Trust nothing in it yet."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    def unverified_claims(self) -> dict[str, Any]:
        """The payload as a JSON object, still unverified.

        :raises InvalidTokenError: if the payload is not a JSON object.
        """
        return _payload_object(self.payload)


@dataclass(frozen=True, slots=True)
class VerifiedJws:
    """A compact JWS whose signature verified with a key the caller chose."""

    header: dict[str, Any]
    payload: bytes
    alg: str
    kid: str | None

    def claims(self) -> dict[str, Any]:
        """The payload as a JSON object.

        :raises InvalidTokenError: if the payload is not a JSON object.
        """
        return _payload_object(self.payload)


def _payload_object(payload: bytes) -> dict[str, Any]:
    try:
        value = parse_json(payload, what="JWS payload")
    except InvalidTokenError:
        raise
    except ValueError as exc:
        raise InvalidTokenError(str(exc)) from None
    if not isinstance(value, dict):
        raise InvalidTokenError("JWS payload is not a JSON object")
    return value


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


def decode_jws(token: str | bytes, *, max_bytes: int = MAX_JWS_BYTES) -> UnverifiedJws:
    """Parse a compact JWS without verifying it.

    :raises InvalidTokenError: on anything but three base64url parts with a JSON-object header,
        a token larger than ``max_bytes``, or non-ASCII text.
    :return: the parts, unverified.
    """
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidTokenError("token is not ASCII text") from None
    if not isinstance(token, str):
        raise InvalidTokenError("token must be a string")
    if len(token) > max_bytes:
        raise InvalidTokenError(f"token is larger than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidTokenError("a compact JWS has exactly three dot-separated parts")
    h, p, s = parts
    try:
        header = parse_json_object(b64url_decode(h, what="JWS header"), what="JWS header", max_bytes=16_384)
        payload = b64url_decode(p, what="JWS payload")
        signature = b64url_decode(s, what="JWS signature")
    except InvalidTokenError:
        raise
    except ValueError as exc:
        raise InvalidTokenError(str(exc)) from None
    return UnverifiedJws(header, payload, f"{h}.{p}".encode("ascii"), signature)


def verify_jws(
    token: str | bytes | UnverifiedJws,
    key: Key,
    *,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    typ: str | tuple[str, ...] | None = None,
    header_keys: Literal["reject", "ignore"] = "reject",
) -> VerifiedJws:
    """Verify a compact JWS with a key the caller found (DID document, ``cnf``), never the token.

    :param key: the verification key; the token's ``alg`` must be allowed and fit its curve.
    :param policy: the allow-list; passed explicitly by every verifier.
    :param typ: required ``typ`` header value(s), compared case-insensitively (RFC 7515 §4.1.9).
    :param header_keys: ``reject`` (default) refuses a token carrying ``jwk``/``jku``/``x5u``/``x5c``;
        ``ignore`` lets a protocol that already extracted and checked such a key (an OpenID4VCI proof)
        pass it in explicitly as ``key``.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises UnsupportedAlgorithmError: if ``alg`` is missing, not allowed, or does not fit ``key``.
    :raises UntrustedKeyError: if the header carries a key and ``header_keys`` is ``reject``.
    :raises TokenTypeError: if ``typ`` is required and differs.
    :raises SignatureInvalidError: if the signature does not verify.
    :return: the verified header and payload.
    """
    jws = token if isinstance(token, UnverifiedJws) else decode_jws(token)
    header = jws.header
    if "alg" not in header:
        raise UnsupportedAlgorithmError("JWS header has no alg")
    alg = policy.check(header["alg"])
    if "crit" in header:
        # RFC 7515 §4.1.11: we understand no extensions, so any critical one must be refused.
        raise InvalidTokenError("JWS header lists critical extensions this verifier does not understand")
    embedded = HEADER_KEY_PARAMS.intersection(header)
    if embedded and header_keys == "reject":
        raise UntrustedKeyError(
            f"token header carries its own key material ({', '.join(sorted(embedded))}); "
            "vcsdk verifies only with keys from the issuer's DID document or the credential's cnf"
        )
    if typ is not None:
        wanted = (typ,) if isinstance(typ, str) else typ
        got = header.get("typ")
        if not isinstance(got, str) or got.lower() not in {w.lower() for w in wanted}:
            raise TokenTypeError(f"token typ is {got!r}; expected {' or '.join(wanted)}")
    key.verify(jws.signing_input, jws.signature, alg=alg, policy=policy)
    kid = header.get("kid")
    return VerifiedJws(header, jws.payload, alg, kid if isinstance(kid, str) else None)
