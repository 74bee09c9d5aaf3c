"""Load the SD-JWT test cases in tests/vectors/sd-jwt (reference-implementation YAML with ``!sd``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "sd-jwt"


class SD:
    """A ``!sd`` mark: the wrapped property name or array element is selectively disclosable."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        return hash(("!sd", self.value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SD) and other.value == self.value


class _Loader(yaml.SafeLoader):
    pass


def _construct_sd(loader: _Loader, node: yaml.Node) -> SD:
    if isinstance(node, yaml.ScalarNode):
        if node.style in ('"', "'"):
            return SD(loader.construct_scalar(node))
        tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        return SD(loader.construct_object(yaml.ScalarNode(tag, node.value, style=node.style)))
    if isinstance(node, yaml.MappingNode):
        return SD(loader.construct_mapping(node, deep=True))
    assert isinstance(node, yaml.SequenceNode)
    return SD(loader.construct_sequence(node, deep=True))


_Loader.add_constructor("!sd", _construct_sd)


def load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Loader)


@dataclass(frozen=True)
class Case:
    name: str
    marked_claims: dict[str, Any]  # with SD marks, for the reference issuer
    claims: dict[str, Any]  # plain
    disclosable: list[list[Any]]
    holder_choice: Any
    disclose: list[list[Any]]
    expected: dict[str, Any]
    key_binding: bool
    serialization: str
    extra_header: dict[str, Any]


def strip(value: Any, path: list[Any], out: list[list[Any]]) -> Any:
    """Remove SD marks, collecting the claim path of each one."""
    if isinstance(value, SD):
        out.append(path)
        return strip(value.value, path, out)
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            name = key.value if isinstance(key, SD) else key
            if isinstance(key, SD):
                out.append([*path, name])
            plain[name] = strip(item, [*path, name], out)
        return plain
    if isinstance(value, list):
        return [strip(item, [*path, index], out) for index, item in enumerate(value)]
    return value


def choices(value: Any, path: list[Any], out: list[list[Any]]) -> None:
    """The holder's choice (True/False trees) as claim paths."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for step, item in items:
        if item is True:
            out.append([*path, step])
        elif isinstance(item, dict | list):
            choices(item, [*path, step], out)


def cases() -> list[Case]:
    found = []
    for spec_file in sorted(VECTORS.glob("*/specification.yml")):
        spec = load(spec_file)
        disclosable: list[list[Any]] = []
        claims = strip(spec["user_claims"], [], disclosable)
        disclose: list[list[Any]] = []
        choices(spec["holder_disclosed_claims"], [], disclose)
        found.append(
            Case(
                spec_file.parent.name,
                spec["user_claims"],
                claims,
                disclosable,
                spec["holder_disclosed_claims"],
                disclose,
                spec["expect_verified_user_claims"],
                bool(spec.get("key_binding", False)),
                spec.get("serialization_format", "compact"),
                dict(spec.get("extra_header_parameters") or {}),
            )
        )
    return found


def settings() -> dict[str, Any]:
    return dict(load(VECTORS / "settings.yml"))
