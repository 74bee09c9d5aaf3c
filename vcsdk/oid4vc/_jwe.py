"""Encrypted Authorization Responses (OpenID4VP 1.0 §8.3, ``direct_post.jwt``), on jwcrypto.

The verifier publishes a fresh P-256 key per request (HAIP 1.0 §5: ephemeral, in
``client_metadata.jwks``); the wallet encrypts the response parameters to it as a compact JWE with
``alg`` ``ECDH-ES`` and ``enc`` ``A128GCM`` or ``A256GCM``. Only those are accepted: the header is
read and checked against the allow-list *before* jwcrypto sees the token, a ``zip`` header
(compression) or any ``crit`` extension is refused, and the ``kid`` must name the request's key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from vcsdk._b64 import b64url_decode
from vcsdk._json import parse_json, parse_json_object
from vcsdk.errors import InvalidInputError, ProtocolError
from vcsdk.keys import Key

__all__ = [
    "ENCRYPTION_ALGORITHMS",
    "ENCRYPTION_METHODS",
    "choose_encryption_key",
    "decrypt_response",
    "encrypt_response",
    "encryption_key",
    "peek_jwe_header",
]

#: HAIP 1.0 §5: ECDH-ES with P-256 keys (direct key agreement, no key wrapping).
ENCRYPTION_ALGORITHMS = ("ECDH-ES",)
#: HAIP 1.0 §5: verifiers accept both; wallets prefer A256GCM when the verifier lists it.
ENCRYPTION_METHODS = ("A128GCM", "A256GCM")
MAX_JWE_BYTES = 2_500_000


def _err(message: str) -> ProtocolError:
    return ProtocolError(message, code="invalid_request")


def encryption_key(kid: str) -> tuple[dict[str, str], dict[str, str]]:
    """A fresh P-256 key for one request's response: the private JWK (kept by the verifier) and the
    public one for ``client_metadata.jwks`` (``use`` ``enc``, ``alg`` ``ECDH-ES``, ``kid``)."""
    key = Key.generate("P-256")
    meta = {"kid": kid, "use": "enc", "alg": "ECDH-ES"}
    return {**key.private_jwk(), **meta}, {**key.public_jwk(), **meta}


def choose_encryption_key(
    jwks: Sequence[Mapping[str, Any]], enc_values: Sequence[str] | None
) -> tuple[dict[str, Any], str]:
    """The verifier's key to encrypt to and the ``enc`` to use (OpenID4VP §8.3): a P-256 key whose
    ``use`` is ``enc`` or absent and whose ``alg`` is ``ECDH-ES``; ``A256GCM`` when listed, else
    ``A128GCM`` (the default when the verifier lists nothing).

    :raises ProtocolError: (``invalid_request``) if no key or method fits.
    """
    offered = list(enc_values) if enc_values else ["A128GCM"]
    enc = next((m for m in ("A256GCM", "A128GCM") if m in offered), None)
    if enc is None:
        raise _err("the verifier offers no response encryption method this wallet supports (A128GCM, A256GCM)")
    for jwk in jwks:
        if (
            jwk.get("kty") == "EC"
            and jwk.get("crv") == "P-256"
            and jwk.get("use", "enc") == "enc"
            and jwk.get("alg") in ENCRYPTION_ALGORITHMS
            and "d" not in jwk
        ):
            return dict(jwk), enc
    raise _err("the verifier's client_metadata has no P-256 ECDH-ES encryption key")


def encrypt_response(payload: Mapping[str, Any], jwk: Mapping[str, Any], *, enc: str) -> str:
    """The Authorization Response parameters as a compact JWE to the verifier's key (§8.3).

    :raises InvalidInputError: for an ``enc`` or key outside the allow-list.
    """
    if enc not in ENCRYPTION_METHODS or jwk.get("alg") not in ENCRYPTION_ALGORITHMS:
        raise InvalidInputError("response encryption is ECDH-ES with A128GCM or A256GCM")
    header: dict[str, Any] = {"alg": "ECDH-ES", "enc": enc}
    if isinstance(jwk.get("kid"), str):
        header["kid"] = jwk["kid"]  # §8.3: the JWE names the key it was encrypted to
    public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "kid")}
    token = jwcrypto_jwe.JWE(json.dumps(dict(payload), separators=(",", ":")).encode(), protected=header)
    token.add_recipient(jwcrypto_jwk.JWK(**public))
    return str(token.serialize(compact=True))


def peek_jwe_header(token: object) -> dict[str, Any]:
    """The protected header of a compact JWE, checked against the allow-list before anything else.

    :raises ProtocolError: (``invalid_request``) for a malformed token, an ``alg`` or ``enc`` not
        allowed, a ``zip`` (compression) or a ``crit`` header.
    """
    if not isinstance(token, str) or len(token) > MAX_JWE_BYTES:
        raise _err("the encrypted response is missing or too large")
    parts = token.split(".")
    if len(parts) != 5:
        raise _err("the encrypted response is not a compact JWE")
    try:
        header = parse_json_object(b64url_decode(parts[0], what="JWE header"), what="JWE header", max_bytes=8192)
    except (InvalidInputError, ValueError):
        raise _err("the encrypted response's header is not a JSON object") from None
    if header.get("alg") not in ENCRYPTION_ALGORITHMS:
        raise _err("the encrypted response uses a key management algorithm that is not allowed (ECDH-ES only)")
    if header.get("enc") not in ENCRYPTION_METHODS:
        raise _err("the encrypted response uses a content encryption that is not allowed (A128GCM, A256GCM)")
    if "zip" in header:
        raise _err("compressed encrypted responses are refused (zip)")
    if "crit" in header:
        raise _err("the encrypted response lists critical extensions this verifier does not understand")
    epk = header.get("epk")
    if not isinstance(epk, Mapping) or epk.get("kty") != "EC" or epk.get("crv") != "P-256" or "d" in epk:
        raise _err("the encrypted response's ephemeral key (epk) is not a public P-256 key")
    return header


def decrypt_response(token: str, private_jwk: Mapping[str, Any]) -> dict[str, Any]:
    """Decrypt an encrypted Authorization Response with the request's key.

    :raises ProtocolError: (``invalid_request``) for anything :func:`peek_jwe_header` refuses, a
        ``kid`` of another key, a token that does not decrypt, or a payload that is not a JSON object.
    :return: the response parameters.
    """
    header = peek_jwe_header(token)
    if "kid" in header and header["kid"] != private_jwk.get("kid"):
        raise _err("the encrypted response is for another key (kid)")
    try:
        obj = jwcrypto_jwe.JWE(algs=[*ENCRYPTION_ALGORITHMS, *ENCRYPTION_METHODS])
        obj.deserialize(token, key=jwcrypto_jwk.JWK(**dict(private_jwk)))
        plain = obj.payload
    except Exception:  # jwcrypto raises several types for a bad tag, key or token; all mean "refused"
        raise _err("the encrypted response does not decrypt with this request's key") from None
    try:
        value = parse_json(plain, what="encrypted response payload", max_bytes=MAX_JWE_BYTES)
    except InvalidInputError:
        raise _err("the encrypted response's payload is not JSON") from None
    if not isinstance(value, dict):
        raise _err("the encrypted response's payload is not a JSON object")
    return value
