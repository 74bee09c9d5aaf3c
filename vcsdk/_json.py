"""The one strict JSON parser every token, Disclosure and message goes through.

Duplicate member names, ``NaN``/``Infinity``, lone UTF-16 surrogates (``"\\ud800"``: not valid
UTF-8 JSON, RFC 8259 §8.2) and nesting deeper than :data:`MAX_JSON_DEPTH` are refused; the size is
bounded. The nesting bound is checked before the recursive parser runs: the parser's own recursion
guard follows ``sys.getrecursionlimit()``, which some libraries raise far beyond what the C stack holds.
"""

from __future__ import annotations

import json
import json.scanner
import re
from typing import Any

import orjson

from vcsdk.errors import InvalidInputError

__all__ = ["MAX_JSON_BYTES", "MAX_JSON_DEPTH", "canonical_json", "parse_json", "parse_json_object"]

#: The one nesting limit for parsed JSON (tokens, Disclosures, request bodies).
MAX_JSON_DEPTH = 64
MAX_JSON_BYTES = 1_000_000


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _Duplicate(name)
            seen.add(name)
    return out


class _Duplicate(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


class _BadConstant(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _bad_constant(name: str) -> Any:
    raise _BadConstant(name)


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_bad_constant)
#: The decoder's C scanner, called directly for JSON without surrounding whitespace (every JOSE part).
_SCAN = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]  # typeshed names the class, not the decoder
_WHITESPACE = frozenset(" \t\n\r")
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


def _decode(text: str) -> Any:
    """Parse ``text`` (already bounded in size and depth); the single call into the JSON library."""
    if text and text[0] not in _WHITESPACE and text[-1] not in _WHITESPACE:
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:
            raise ValueError("not JSON") from None
        if end == len(text):
            return value
    return _DECODER.decode(text)


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def parse_json(
    data: str | bytes,
    *,
    what: str = "JSON",
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[InvalidInputError] = InvalidInputError,
) -> Any:
    """Parse JSON text strictly.

    :param data: UTF-8 bytes or text.
    :param what: names the input in error messages.
    :param error: the class raised (``MalformedTokenError`` for a presented token); the depth and
        size refusals of a token carry the codes ``token_too_deep`` and ``token_too_large``.
    :raises InvalidInputError: (``error``) on invalid UTF-8 or JSON, duplicate member names,
        NaN/Infinity, a lone surrogate, more than ``max_bytes`` or nesting deeper than ``max_depth``.
    :return: the parsed value.
    """
    token = error is not InvalidInputError
    if isinstance(data, bytes | bytearray):
        if len(data) > max_bytes:
            raise error(f"{what} is larger than {max_bytes} bytes", code="token_too_large" if token else None)
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise error(f"{what} is not valid UTF-8") from None
    elif isinstance(data, str):
        text = data
        if len(text) > max_bytes:
            raise error(f"{what} is larger than {max_bytes} bytes", code="token_too_large" if token else None)
    else:
        raise error(f"{what} must be text")
    if text.count("[") + text.count("{") > max_depth and _too_deep(text, max_depth):
        raise error(f"{what} nests deeper than {max_depth} levels", code="token_too_deep" if token else None)
    try:
        value = _decode(text)
    except _Duplicate as dup:
        shown = dup.name if len(dup.name) <= 64 else dup.name[:64] + "…"
        raise error(f"{what} repeats the member name {shown!r}") from None
    except _BadConstant as bad:
        raise error(f"{what} contains {bad.name}, which JSON does not allow") from None
    except RecursionError:
        raise error(f"{what} nests too deeply", code="token_too_deep" if token else None) from None
    except ValueError:
        raise error(f"{what} is not valid JSON") from None
    # A lone surrogate can only come from a \\u escape: scan only JSON that has one.
    if "\\u" in text and _has_lone_surrogate(value):
        raise error(f"{what} contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid UTF-8 JSON")
    return value


def parse_json_object(
    data: str | bytes,
    *,
    what: str = "JSON",
    max_bytes: int = MAX_JSON_BYTES,
    error: type[InvalidInputError] = InvalidInputError,
) -> dict[str, Any]:
    """Parse JSON that must be an object.

    :raises InvalidInputError: (``error``) as :func:`parse_json`, or when the value is not an object.
    """
    value = parse_json(data, what=what, max_bytes=max_bytes, error=error)
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    return value


def canonical_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON (used for thumbprints and digests of our own values)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON of a value this code built (answers, sealed state), fast: orjson, or the
    standard library for what orjson does not take (integers beyond 64 bits, keys that are not
    strings, lone surrogates). NaN and the infinities, which JSON has no numbers for, are written
    as ``null`` (the standard library would write text no JSON parser reads). Not for digests:
    :func:`canonical_json` fixes the key order."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, separators=(",", ":")).encode()  # ASCII: lone surrogates escaped
