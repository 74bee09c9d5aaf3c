"""vcsdk.encoding.json_bytes: compact JSON that reads back as the value, whatever the value holds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vcsdk.encoding import json_bytes

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(_VALUES)
def test_reads_back_as_the_standard_library_would(value: Any) -> None:
    assert json.loads(json_bytes(value)) == json.loads(json.dumps(value))


def test_what_orjson_refuses_is_written_by_the_standard_library() -> None:
    assert json.loads(json_bytes({"big": 2**70 + 1})) == {"big": 2**70 + 1}
    assert json.loads(json_bytes({1: "one"})) == {"1": "one"}
    assert json.loads(json_bytes({"s": "\ud800"})) == {"s": "\ud800"}  # a lone surrogate, escaped
    assert json_bytes({"名前": "花子", "n": [1, 2]}).decode("utf-8") == '{"名前":"花子","n":[1,2]}'
