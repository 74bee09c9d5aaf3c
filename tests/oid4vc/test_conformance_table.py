"""The conformance table in docs/oid4vc.md names, for each feature, a test proving it: every test it
names exists (a renamed or deleted test fails here), every row says supported or not supported, and
every supported feature names at least one test."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "oid4vc.md"
TEST_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def conformance_rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Conformance\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= {"|", "-", " "}:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("Feature", "Flow"):
            continue
        rows.append(cells)
    return rows


@functools.cache
def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
            names.add(node.name)
    return names


def test_the_table_is_there_and_covers_the_three_specifications():
    text = DOC.read_text(encoding="utf-8")
    for heading in ("### HAIP 1.0", "### OpenID4VCI 1.0", "### OpenID4VP 1.0", "### Interop with independent"):
        assert heading in text
    assert len(conformance_rows()) > 80


@pytest.mark.parametrize("row", conformance_rows(), ids=lambda row: row[0][:60])
def test_each_row_names_existing_tests(row):
    status, tests = row[-2], row[-1]
    assert status.startswith(("supported", "not supported")), row
    named = TEST_ID.findall(tests)
    if status.startswith("supported"):
        assert named, f"a supported feature names no test: {row[0]}"
    assert named or tests in ("", "—"), row
    for path, name in named:
        file = ROOT / path
        assert file.is_file(), f"{path} does not exist"
        assert name in defined_tests(file), f"{path} has no test {name}"


def test_the_checker_catches_a_missing_test(tmp_path):
    fake = tmp_path / "test_fake.py"
    fake.write_text("def test_present():\n    pass\n", encoding="utf-8")
    assert defined_tests(fake) == {"test_present"}
    assert "test_absent" not in defined_tests(fake)
