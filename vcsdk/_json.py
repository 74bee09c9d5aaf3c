"""Strict JSON parsing with limits: duplicate names refused, depth and size bounded."""

from __future__ import annotations

import json
from typing import Any

from vcsdk.errors import InvalidInputError

__all__ = ["MAX_JSON_DEPTH", "canonical_json", "parse_json", "parse_json_object"]

MAX_JSON_DEPTH = 64
MAX_JSON_BYTES = 1_000_000


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise InvalidInputError(f"JSON object repeats the member name {name!r}")
        out[name] = value
    return out


def _depth_ok(text: str, limit: int) -> bool:
    # Counting brackets outside strings bounds nesting before the recursive parser sees it,
    # so a 100k-deep document is refused in linear time instead of hitting the recursion limit.
    depth = 0
    in_str = False
    escape = False
    for ch in text:
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json(
    data: str | bytes, *, what: str = "JSON", max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse JSON text strictly.

    :param data: UTF-8 bytes or text.
    :param what: names the input in error messages.
    :raises InvalidInputError: on invalid UTF-8 or JSON, duplicate member names, NaN/Infinity,
        more than ``max_bytes`` or nesting deeper than ``max_depth``.
    :return: the parsed value.
    """
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise InvalidInputError(f"{what} is larger than {max_bytes} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{what} is not valid UTF-8") from None
    else:
        text = data
        if len(text) > max_bytes:
            raise InvalidInputError(f"{what} is larger than {max_bytes} bytes")
    if not _depth_ok(text, max_depth):
        raise InvalidInputError(f"{what} nests deeper than {max_depth} levels")

    def _bad_constant(name: str) -> Any:
        raise InvalidInputError(f"{what} contains {name}, which JSON does not allow")

    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_bad_constant)
    except InvalidInputError:
        raise
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(f"{what} is not valid JSON") from exc


def parse_json_object(data: str | bytes, *, what: str = "JSON", max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """Parse JSON that must be an object.

    :raises InvalidInputError: as :func:`parse_json`, or when the value is not an object.
    """
    value = parse_json(data, what=what, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} is not a JSON object")
    return value


def canonical_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON (used for thumbprints and digests of our own values)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
