"""SD-JWT building blocks (RFC 9901): constants, Disclosures, digests, strict JSON, claim paths."""

from __future__ import annotations

import hashlib
import json
import json.scanner
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vcsdk._b64 import b64url_decode, b64url_encode
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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise MalformedTokenError("a JSON object in the token repeats a member name")
    return out


def _bad_constant(name: str) -> Any:
    raise MalformedTokenError(f"token JSON contains {name}, which JSON does not allow")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_bad_constant)
#: The decoder's C scanner, called directly for the common case of JSON without surrounding
#: whitespace (every JOSE part we see); anything else goes through the full ``decode``.
_SCAN = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]  # typeshed names the class, not the decoder
_WHITESPACE = frozenset(" \t\n\r")


#: Nesting bound checked before the recursive JSON parser runs. The parser's own recursion guard
#: follows ``sys.getrecursionlimit()``, which some libraries raise far beyond what the C stack holds.
MAX_PARSE_DEPTH = 100
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _too_deep(text: str, limit: int) -> bool:
    # Cheap bound first: fewer opening brackets than the limit cannot nest deeper than it.
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for ch in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        if ch in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def loads(data: bytes, what: str) -> Any:
    """Strict JSON from UTF-8 bytes: duplicate names and NaN refused; deep nesting fails fast.

    :raises MalformedTokenError: on anything that is not such JSON.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedTokenError(f"{what} is not valid UTF-8") from None
    # Cheap bound inline (every JOSE part goes through here): fewer opening brackets than the
    # limit cannot nest deeper than it.
    if text.count("[") + text.count("{") > MAX_PARSE_DEPTH and _too_deep(text, MAX_PARSE_DEPTH):
        raise MalformedTokenError(f"{what} nests deeper than {MAX_PARSE_DEPTH} levels", code="token_too_deep")
    try:
        if text and text[0] not in _WHITESPACE and text[-1] not in _WHITESPACE:
            try:
                value, end = _SCAN(text, 0)
            except StopIteration:
                raise MalformedTokenError(f"{what} is not valid JSON") from None
            if end == len(text):
                return value
        return _DECODER.decode(text)
    except MalformedTokenError:
        raise
    except RecursionError:
        raise MalformedTokenError(f"{what} nests too deeply", code="token_too_deep") from None
    except ValueError:
        raise MalformedTokenError(f"{what} is not valid JSON") from None


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
