"""SD-JWT building blocks (RFC 9901): constants, Disclosures, digests, strict JSON, claim paths."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._json import parse_json
from vcsdk.credentials._policy import SD_ALGORITHMS
from vcsdk.errors import DisallowedAlgorithmError, InvalidInputError, MalformedTokenError

__all__ = [
    "ARRAY_DIGEST_KEY",
    "KB_JWT_TYP",
    "LEGACY_SD_JWT_VC_TYP",
    "NON_DISCLOSABLE_VC_CLAIMS",
    "SD_ALG_KEY",
    "SD_DIGESTS_KEY",
    "SD_HASH_KEY",
    "SD_JWT_VC_TYP",
    "SEPARATOR",
    "ClaimPath",
    "Disclosure",
    "b64_decode",
    "check_claim_path",
    "digest",
    "dumps",
    "hash_function",
    "loads",
]

SD_DIGESTS_KEY = "_sd"
ARRAY_DIGEST_KEY = "..."
SD_ALG_KEY = "_sd_alg"
SD_HASH_KEY = "sd_hash"
SEPARATOR = "~"
SD_JWT_VC_TYP = "dc+sd-jwt"
LEGACY_SD_JWT_VC_TYP = "vc+sd-jwt"
KB_JWT_TYP = "kb+jwt"

#: SD-JWT VC: these claims must be plain, never hidden behind a Disclosure.
NON_DISCLOSABLE_VC_CLAIMS = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})

#: A claim path as DCQL writes it: object keys (str), array indexes (int), ``None`` for every element.
ClaimPath = Sequence[str | int | None]

_HASHES: dict[str, Callable[..., Any]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
    "sha3-256": hashlib.sha3_256,
    "sha3-384": hashlib.sha3_384,
    "sha3-512": hashlib.sha3_512,
}
assert set(_HASHES) == set(SD_ALGORITHMS)


def hash_function(sd_alg: object, allowed: Sequence[str] = SD_ALGORITHMS) -> Callable[..., Any]:
    """The hashlib constructor for an ``_sd_alg`` name on the allow-list.

    :raises DisallowedAlgorithmError: for any other value.
    """
    if not isinstance(sd_alg, str) or sd_alg not in allowed:
        shown = sd_alg if isinstance(sd_alg, str) and len(sd_alg) <= 32 else type(sd_alg).__name__
        raise DisallowedAlgorithmError(
            f"digest algorithm {shown!r} is not allowed; this verifier accepts {list(allowed)}",
            code="sd_alg_not_allowed",
        )
    return _HASHES[sd_alg]


def b64_encode(data: bytes) -> str:
    """Unpadded base64url (:func:`vcsdk._b64.b64url_encode`)."""
    return b64url_encode(data)


def digest(data: str, hash_fn: Callable[..., Any]) -> str:
    """base64url(HASH(ASCII(data))): the digest of a Disclosure or of a presentation (``sd_hash``)."""
    return b64url_encode(hash_fn(data.encode("ascii")).digest())


def b64_decode(text: str, what: str) -> bytes:
    """Strict unpadded base64url, raising :class:`MalformedTokenError` (a presented token's damage)."""
    return b64url_decode(text, what=what, error=MalformedTokenError)


def loads(data: bytes, what: str) -> Any:
    """Strict JSON from a presented token's bytes, through the one parser (:func:`vcsdk._json.parse_json`).

    :raises MalformedTokenError: on anything that is not such JSON (codes ``token_too_deep``, …).
    """
    return parse_json(data, what=what, max_bytes=len(data), error=MalformedTokenError)


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as UTF-8 (what we sign and what Disclosures encode)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One SD-JWT Disclosure: ``[salt, name, value]`` for an object property, ``[salt, value]`` for
    an array element. ``encoded`` is the exact base64url text digests are computed over.
    """

    encoded: str
    salt: str
    name: str | None
    value: Any

    @classmethod
    def create(cls, salt: str, name: str | None, value: Any) -> Disclosure:
        """Make a Disclosure for a property (``name`` set) or an array element (``name`` None)."""
        array = [salt, value] if name is None else [salt, name, value]
        try:
            text = dumps(array)
        except ValueError as exc:
            raise InvalidInputError("claim values must be JSON (no NaN or Infinity)") from exc
        return cls(b64_encode(text.encode("utf-8")), salt, name, value)

    @classmethod
    def parse(cls, encoded: str) -> Disclosure:
        """Decode one Disclosure.

        :raises MalformedTokenError: if it is not base64url of a JSON array of two or three
            elements whose salt (and claim name) are strings.
        """
        value = loads(b64url_decode(encoded, what="a Disclosure", error=MalformedTokenError), "a Disclosure")
        if not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(value[0], str):
            raise MalformedTokenError("a Disclosure must be a JSON array [salt, value] or [salt, name, value]")
        if len(value) == 2:
            return cls(encoded, value[0], None, value[1])
        if not isinstance(value[1], str):
            raise MalformedTokenError("a Disclosure's claim name must be a string")
        return cls(encoded, value[0], value[1], value[2])

    def digest(self, hash_fn: Callable[..., Any]) -> str:
        """This Disclosure's digest with the given hash constructor."""
        return digest(self.encoded, hash_fn)

    def __repr__(self) -> str:
        # Claim values can be personal data: show the shape, never the content.
        kind = "array element" if self.name is None else "property"
        return f"Disclosure({kind}, {len(self.encoded)} chars)"


def check_claim_path(path: object) -> tuple[str | int | None, ...]:
    """Validate a claim path (non-empty list of str, non-negative int or None).

    :raises InvalidInputError: for anything else.
    """
    if isinstance(path, str | bytes) or not isinstance(path, Sequence) or len(path) == 0:
        raise InvalidInputError(
            "a claim path is a non-empty list of names, indexes or null, e.g. ['address', 'locality']"
        )
    out: list[str | int | None] = []
    for step in path:
        if step is None or isinstance(step, str):
            out.append(step)
        elif isinstance(step, int) and not isinstance(step, bool) and step >= 0:
            out.append(step)
        else:
            raise InvalidInputError("claim path steps are strings, non-negative integers or null")
    return tuple(out)
