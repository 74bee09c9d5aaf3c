"""Base64url, strict JSON and JWT NumericDates, as every vcsdk token is read and written; public for
applications.

:func:`parse_json` refuses duplicate names, NaN and Infinity, and documents nested deeper than
:data:`MAX_JSON_DEPTH` or larger than its byte limit, with :class:`~vcsdk.errors.InvalidInputError`.
:func:`json_bytes` writes compact JSON fast (orjson, the standard library for what orjson refuses).
"""

from __future__ import annotations

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._json import MAX_JSON_DEPTH, canonical_json, json_bytes, parse_json, parse_json_object
from vcsdk._time import MAX_NUMERIC_DATE, from_numeric_date, numeric_date

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_NUMERIC_DATE",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "from_numeric_date",
    "json_bytes",
    "numeric_date",
    "parse_json",
    "parse_json_object",
]
