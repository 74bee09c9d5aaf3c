"""The error tree: stable codes, the documented hierarchy, and safe problem bodies."""

from __future__ import annotations

import re

import vcsdk.errors as errors
from vcsdk.errors import InvalidInputError, TransactionRevertedError, VcsdkError

CLASSES = [getattr(errors, n) for n in errors.__all__]


def _documented_tree() -> dict[str, tuple[str, str | None]]:
    """Parse the tree in the module docstring: name -> (code, parent name)."""
    doc = errors.__doc__ or ""
    out: dict[str, tuple[str, str | None]] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        m = re.match(r"^(\s*)(?:[│ ]*[├└]── )?(\w+Error)\b.*?\s(\w+)\s*$", line)
        if not m:
            continue
        prefix = line[: line.index(m.group(2))]
        depth = len(prefix)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        out[m.group(2)] = (m.group(3), stack[-1][1] if stack else None)
        stack.append((depth, m.group(2)))
    return out


def test_every_class_is_documented_with_its_code_and_parent() -> None:
    tree = _documented_tree()
    assert set(tree) == {c.__name__ for c in CLASSES}
    for cls in CLASSES:
        code, parent = tree[cls.__name__]
        assert cls.code == code, cls
        if parent is not None:
            assert cls.__mro__[1].__name__ == parent, cls


def test_codes_are_unique_and_snake_case() -> None:
    codes = [c.code for c in CLASSES]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in codes)


def test_all_derive_from_root_and_invalid_input_is_value_error() -> None:
    assert all(issubclass(c, VcsdkError) for c in CLASSES)
    assert issubclass(InvalidInputError, ValueError)
    try:
        raise errors.InvalidDidError("not a DID")
    except ValueError as exc:
        assert isinstance(exc, VcsdkError)


def test_instance_code_override_and_problem_body() -> None:
    err = errors.RegistryError("node did not answer in 5 s; check the RPC URL", code="timeout")
    assert err.code == "timeout" and errors.RegistryError.code == "registry_error"
    assert err.to_dict() == {"code": "timeout", "message": "node did not answer in 5 s; check the RPC URL"}
    reverted = TransactionRevertedError("transaction reverted", reason="bad_nonce", data="0x08c379a0")
    assert reverted.reason == "bad_nonce" and reverted.data == "0x08c379a0"
    assert reverted.to_dict()["details"] == {"reason": "bad_nonce"}


def test_http_statuses_are_client_or_server_errors() -> None:
    for cls in CLASSES:
        assert 400 <= cls.http_status <= 599
    assert InvalidInputError.http_status == 400
    assert errors.NotFoundError.http_status == 404
