"""The request-body schema checks (``wallet_server._validate.validate``): each keyword, its message."""

from __future__ import annotations

from typing import Any

import pytest

from vcsdk.errors import InvalidInputError
from wallet_server._validate import validate
from wallet_server.schemas import SCHEMAS

COMPONENTS: dict[str, Any] = {
    "Node": {  # refers to itself
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        },
    },
    "Item": {
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {"type": "string", "enum": ["a", "b"]},
            "count": {"type": "integer", "minimum": 1, "maximum": 3},
            "ratio": {"type": "number", "maximum": 1},
            "note": {"type": ["string", "null"], "maxLength": 4},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    },
}
ITEM = {"$ref": "#/components/schemas/Item"}
NODE = {"$ref": "#/components/schemas/Node"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"kind": "a", "count": 2, "ratio": 0.5, "note": None, "flag": False, "tags": ["x"]}, None),
        ({"kind": "a", "note": "four"}, None),
        ([], "body must be object"),
        ({}, "body.kind is required"),
        ({"kind": "c"}, "body.kind must be one of a, b"),
        ({"kind": 1}, "body.kind must be string"),
        ({"kind": "a", "count": 0}, "body.count is out of range"),
        ({"kind": "a", "count": 4}, "body.count is out of range"),
        ({"kind": "a", "count": 2.0}, "body.count must be integer"),
        ({"kind": "a", "count": True}, "body.count must be integer"),  # a bool is no integer in JSON
        ({"kind": "a", "ratio": False}, "body.ratio must be number"),
        ({"kind": "a", "ratio": 1.5}, "body.ratio is out of range"),
        ({"kind": "a", "note": "fives"}, "body.note must be 0 to 4 characters long"),
        ({"kind": "a", "note": 5}, "body.note must be string or null"),
        ({"kind": "a", "flag": 1}, "body.flag must be boolean"),
        ({"kind": "a", "tags": ["x", 2]}, "body.tags[1] must be string"),
        ({"kind": "a", "unknown": object()}, None),  # members the schema does not name are not read
    ],
)
def test_each_keyword(value: Any, message: str | None) -> None:
    for _ in range(2):  # compiled on first use, the same answer after
        if message is None:
            validate(value, ITEM, COMPONENTS)
        else:
            with pytest.raises(InvalidInputError) as caught:
                validate(value, ITEM, COMPONENTS)
            assert str(caught.value) == message


def test_a_schema_that_refers_to_itself() -> None:
    validate({"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}, NODE, COMPONENTS)
    with pytest.raises(InvalidInputError, match=r"^body\.children\[0\]\.children\[1\]\.name must be 1 to any"):
        validate(
            {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}, {"name": ""}]}]}, NODE, COMPONENTS
        )


def test_the_credential_upload_schema() -> None:
    schema = SCHEMAS["CredentialCreate"]
    validate({"credential": "a.b.c", "format": "vc+jwt", "metadata": {"x": 1}}, schema, SCHEMAS)
    with pytest.raises(InvalidInputError, match=r"^body\.credential must be 1 to 100000 characters long$"):
        validate({"credential": "", "format": "vc+jwt"}, schema, SCHEMAS)
    with pytest.raises(InvalidInputError, match=r"^body\.format is required$"):
        validate({"credential": "a.b.c"}, schema, SCHEMAS)
    with pytest.raises(InvalidInputError, match=r"^body\.metadata must be object$"):
        validate({"credential": "a.b.c", "format": "vc+jwt", "metadata": []}, schema, SCHEMAS)
