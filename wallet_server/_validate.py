"""Request bodies are checked against the same JSON Schemas the OpenAPI document publishes.

A small validator for the subset those schemas use (``type``, ``properties``, ``required``,
``enum``, ``minLength``/``maxLength``, ``minimum``/``maximum``, ``items``, ``$ref``), so the
document and the server cannot disagree about what a valid request is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from vcsdk.errors import InvalidInputError

__all__ = ["has_unstorable", "json_has_unstorable", "validate"]

# A lone surrogate cannot be encoded as UTF-8; U+0000 cannot be stored in PostgreSQL text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Where a JSON text without a raw NUL can still hold either: an escape of one.
_JSON_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def has_unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL character or a lone surrogate (neither database stores them)."""
    return _UNSTORABLE.search(text) is not None


def _walk(value: Any) -> bool:
    if isinstance(value, str):
        return has_unstorable(value)
    if isinstance(value, dict):
        return any(has_unstorable(k) or _walk(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_walk(v) for v in value)
    return False


def json_has_unstorable(raw: bytes) -> bool:
    """Whether a JSON body has a member name or string value with a NUL or a lone surrogate.

    Bodies without a NUL byte or a ``\\u0000``/surrogate escape are not parsed here (the common case);
    a body that is not JSON is left to the handler, which refuses it as such.
    """
    # Two single-byte scans first (memchr): most bodies hold neither a NUL nor a backslash, and
    # the escape search runs only on those with a backslash (a 1.7 KB body: 0.4 µs instead of 9).
    if b"\x00" not in raw and (b"\\" not in raw or _JSON_ESCAPE.search(raw) is None):
        return False
    try:
        return _walk(json.loads(raw))
    except (ValueError, RecursionError):
        return b"\x00" in raw


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _type_ok(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any], *, at: str = "body") -> None:
    """Check ``value`` against ``schema``.

    :param components: the ``#/components/schemas`` table ``$ref`` points into.
    :raises InvalidInputError: naming the first member that does not fit (never its value).
    """
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    wanted = schema.get("type")
    if wanted is not None:
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        if not any(_type_ok(value, n) for n in names):
            raise InvalidInputError(f"{at} must be {' or '.join(names)}")
    if "enum" in schema and value not in schema["enum"]:
        raise InvalidInputError(f"{at} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            raise InvalidInputError(
                f"{at} must be {schema.get('minLength', 0)} to {schema.get('maxLength', 'any')} characters long"
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            raise InvalidInputError(f"{at} is out of range")
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                raise InvalidInputError(f"{at}.{name} is required")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                validate(value[name], sub, components, at=f"{at}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], components, at=f"{at}[{i}]")
