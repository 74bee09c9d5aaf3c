"""docs/privacy.md states guarantees, and each one names the test that checks it.

Every table row, list item and paragraph of the page — outside the section "What is not
guaranteed", which states limits — must name at least one test as ``tests/<file>.py::test_<name>``,
and every test named must exist. The voting section must cite the collusion test docs/voting.md's
trust model names.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "privacy.md"
LIMITS = "What is not guaranteed"
REF = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def units(text: str) -> list[tuple[str, str]]:
    """(section, text) of each table body row, list item and paragraph, outside code blocks."""
    out: list[tuple[str, str]] = []
    section, block, in_code, table_rows = "", "", False, 0
    for line in [*text.splitlines(), ""]:
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        starts_unit = not line.strip() or line.startswith(("#", "|", "- "))
        if starts_unit and block:
            out.append((section, block))
            block = ""
        if line.startswith("|"):
            table_rows += 1
            if table_rows > 2:  # the header and its separator are not statements
                out.append((section, line))
            continue
        table_rows = 0
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        elif line.strip():
            block = f"{block} {line.strip()}".strip()
    return out


def problems(text: str, root: Path = ROOT) -> list[str]:
    """What is wrong with a privacy page: statements without a test, tests that do not exist."""
    found: list[str] = []
    for section, unit in units(text):
        refs = REF.findall(unit)
        if section != LIMITS and not refs:
            found.append(f"no test named in {section!r}: {unit[:80]}")
        for path, name in refs:
            file = root / path
            if not file.is_file() or re.search(rf"^(async )?def {name}\(", file.read_text(), re.M) is None:
                found.append(f"{path}::{name} does not exist")
    return found


def test_every_guarantee_names_a_test_that_exists() -> None:
    assert problems(PAGE.read_text(encoding="utf-8")) == []


def test_the_voting_section_cites_the_test_voting_md_names() -> None:
    voting = (ROOT / "docs" / "voting.md").read_text(encoding="utf-8")
    trust_model = voting.split("## Trust model", 1)[1]
    named = set(re.findall(r"tests/voting/\w+\.py", trust_model))
    assert named, "voting.md's trust model names its collusion test"
    cited = {path for section, unit in units(PAGE.read_text(encoding="utf-8")) if section == "Voting"
             for path, _ in REF.findall(unit)}
    assert named <= cited


def test_the_check_catches_an_untested_sentence_and_a_missing_test() -> None:
    page = (
        "# Privacy\n\nServices learn nothing.\n\n## A\n\n| guarantee | test |\n| --- | --- |\n"
        "| it holds | `tests/docs/test_privacy_page.py::test_no_such_test` |\n"
        "| it holds too | none |\n\n- a bullet without a test\n\n## What is not guaranteed\n\n- a limit\n"
    )
    found = problems(page)
    assert any("Services learn nothing" in p for p in found)
    assert any("test_no_such_test does not exist" in p for p in found)
    assert any("it holds too" in p for p in found)
    assert any("a bullet without a test" in p for p in found)
    assert not any("a limit" in p for p in found)
