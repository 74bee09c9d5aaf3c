"""Request bodies are checked against the same JSON Schemas the OpenAPI document publishes.

A small validator for the subset those schemas use (``type``, ``properties``, ``required``,
``enum``, ``minLength``/``maxLength``, ``minimum``/``maximum``, ``items``, ``$ref``), so the
document and the server cannot disagree about what a valid request is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from vcsdk.errors import InvalidInputError

__all__ = ["has_unstorable", "json_has_unstorable", "validate"]

# A lone surrogate cannot be encoded as UTF-8; U+0000 cannot be stored in PostgreSQL text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Where a JSON text without a raw NUL can still hold either: an escape of one.
_JSON_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def has_unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL character or a lone surrogate (neither database stores them)."""
    if text.isascii():
        # ASCII text (every request's headers: known in O(1)) holds no surrogate: one memchr for
        # NUL, where the regular expression tested its character class at each of ~1,200 characters.
        return "\x00" in text
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


#: A compiled schema: raises InvalidInputError naming ``at`` (or a member below it) if ``value`` does not fit.
Check = Callable[[Any, str], None]
#: Compiled schemas by identity (each kept with its schema and table, so an id is never reused while
#: cached); a bounded cache, for callers that pass schemas made on the fly.
_CHECKS: dict[tuple[int, int], tuple[Mapping[str, Any], Mapping[str, Any], Check]] = {}
_MAX_CHECKS = 4096


def validate(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any], *, at: str = "body") -> None:
    """Check ``value`` against ``schema``.

    The schema is compiled once into nested checks (the route schemas are constants; a schema
    changed after its first use is not read again).

    :param components: the ``#/components/schemas`` table ``$ref`` points into.
    :raises InvalidInputError: naming the first member that does not fit (never its value).
    """
    _checker(schema, components)(value, at)


def _checker(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Check:
    key = (id(schema), id(components))
    hit = _CHECKS.get(key)
    if hit is not None and hit[0] is schema and hit[1] is components:
        return hit[2]
    check = _compile(schema, components)
    if len(_CHECKS) >= _MAX_CHECKS:
        _CHECKS.clear()
    _CHECKS[key] = (schema, components, check)
    return check


def _compile(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Check:
    """The checks of ``schema`` in the order they run: type, enum, length, range, members, items."""
    if "$ref" in schema:
        target = components[schema["$ref"].rsplit("/", 1)[-1]]
        # Looked up when used: a schema may refer to itself.
        return lambda value, at: _checker(target, components)(value, at)
    steps: list[Check] = []
    wanted = schema.get("type")
    if wanted is not None:
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        types = tuple(t for name in names for t in _TYPES[name])
        # bool is an int to Python, never an integer or a number to JSON Schema.
        bool_ok = "boolean" in names
        not_type = " must be " + " or ".join(names)

        def check_type(value: Any, at: str) -> None:
            if not isinstance(value, types) or (not bool_ok and isinstance(value, bool)):
                raise InvalidInputError(at + not_type)

        steps.append(check_type)
    if "enum" in schema:
        enum = schema["enum"]
        not_member = " must be one of " + ", ".join(map(str, enum))

        def check_enum(value: Any, at: str) -> None:
            if value not in enum:
                raise InvalidInputError(at + not_member)

        steps.append(check_enum)
    min_len, max_len = schema.get("minLength", 0), schema.get("maxLength")
    if min_len or max_len is not None:
        bad_length = f" must be {min_len} to {'any' if max_len is None else max_len} characters long"

        def check_length(value: Any, at: str) -> None:
            if isinstance(value, str) and (len(value) < min_len or (max_len is not None and len(value) > max_len)):
                raise InvalidInputError(at + bad_length)

        steps.append(check_length)
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None or high is not None:

        def check_range(value: Any, at: str) -> None:
            if isinstance(value, int | float) and not isinstance(value, bool):
                if (low is not None and value < low) or (high is not None and value > high):
                    raise InvalidInputError(f"{at} is out of range")

        steps.append(check_range)
    required = tuple(schema.get("required", ()))
    members = tuple((name, _checker(sub, components)) for name, sub in schema.get("properties", {}).items())
    if required or members:

        def check_members(value: Any, at: str) -> None:
            if isinstance(value, dict):
                for name in required:
                    if name not in value:
                        raise InvalidInputError(f"{at}.{name} is required")
                for name, check in members:
                    if name in value:
                        check(value[name], f"{at}.{name}")

        steps.append(check_members)
    if "items" in schema:
        check_item = _checker(schema["items"], components)

        def check_items(value: Any, at: str) -> None:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    check_item(item, f"{at}[{i}]")

        steps.append(check_items)
    if len(steps) == 1:
        return steps[0]
    run = tuple(steps)

    def check_all(value: Any, at: str) -> None:
        for step in run:
            step(value, at)

    return check_all
