"""Every ```python block in docs/*.md runs.

How: the blocks of one page run in order, in one namespace, as one asyncio program (top-level
``await`` allowed), in a fresh Python process whose working directory is a temporary folder. A
page therefore reads like a session: later blocks use what earlier blocks made. A block marked
``<!-- not-run: reason -->`` is skipped (keep these rare and say why); one marked
``<!-- excerpt: examples/name.py -->`` (a fragment) must be a literal excerpt of that example, which
``tests/examples`` runs; the blocks marked ``<!-- file: examples/name.py -->`` together must be that
whole file, which a test runs unchanged (the quick starts); one marked
``<!-- run-by: tests/….py -->`` is run by that test.

What a page assumes the reader already has (their keys, their DID, a chain) comes from
``tests/docs/pages/<page>.py`` (see ``_run_page.py``). Pages whose blocks or fixtures start a local
anvil node are marked ``integration``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs._blocks import Block, blocks_of

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUNNER = Path(__file__).with_name("_run_page.py")
TIMEOUT_S = 180
PAGES = sorted(DOCS.glob("*.md"))


def _python_blocks(page: Path) -> list[Block]:
    return [b for b in blocks_of(page) if b.language in ("python", "py")]


def _runnable(page: Path) -> list[Block]:
    return [b for b in _python_blocks(page) if b.marker is None]


def _fixtures(page: Path) -> Path:
    return Path(__file__).with_name("pages") / (page.stem.replace("-", "_") + ".py")


def _needs_anvil(page: Path) -> bool:
    fixtures = _fixtures(page)
    return "DevNode" in page.read_text(encoding="utf-8") or (fixtures.is_file() and "DevNode" in fixtures.read_text())


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, marks=[pytest.mark.integration] if _needs_anvil(p) else []) for p in PAGES if _runnable(p)],
    ids=lambda p: p.name,
)
def test_python_blocks_run(page: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if _needs_anvil(page):
        request.getfixturevalue("node_tools")  # installs anvil once if it is missing
    blocks = _runnable(page)
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps([{"page": f"docs/{page.name}", "line": b.line, "source": b.source} for b in blocks]))
    work = tmp_path / "work"
    work.mkdir()
    fixtures = _fixtures(page)
    proc = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(RUNNER), str(spec),
         *([str(fixtures)] if fixtures.is_file() else [])],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, f"a block of {page.name} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-4000:]}"
    assert proc.stdout.count("ok ") == len(blocks)


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.marker for b in _python_blocks(p))], ids=lambda p: p.name)
def test_markers_are_valid(page: Path) -> None:
    for block in _python_blocks(page):
        if block.marker == "not-run":
            assert len(block.marker_value) >= 10, f"{block.where}: say why the block cannot run"
        elif block.marker == "excerpt":
            example = ROOT / block.marker_value
            assert example.is_file() and example.parent.name == "examples", f"{block.where}: no such example"
            _assert_excerpt(block, example.read_text(encoding="utf-8"))
        elif block.marker == "file":
            example = ROOT / block.marker_value
            assert example.is_file() and example.parent.name == "examples", f"{block.where}: no such example"
            runners = [t for t in (ROOT / "tests").rglob("test_*.py") if example.name in t.read_text(encoding="utf-8")]
            assert runners, f"{block.where}: no test runs {block.marker_value}"
        elif block.marker == "run-by":
            test = ROOT / block.marker_value.split(" ", 1)[0]
            assert test.is_file() and test.name.startswith("test_"), f"{block.where}: no such test file"
            assert f"docs/{page.name}" in test.read_text(encoding="utf-8"), f"{block.where}: {test} does not run it"


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.marker == "file" for b in _python_blocks(p))],
                         ids=lambda p: p.name)
def test_whole_file_pages_show_the_whole_file(page: Path) -> None:
    """A quick start shows a file the reader can copy: its parts, joined, are the file that runs."""
    files: dict[str, list[Block]] = {}
    for block in _python_blocks(page):
        if block.marker == "file":
            files.setdefault(block.marker_value, []).append(block)
    for name, parts in files.items():
        shown = [line for part in parts for line in part.source.splitlines() if line.strip()]
        actual = [line for line in (ROOT / name).read_text(encoding="utf-8").splitlines() if line.strip()]
        for i, (want, got) in enumerate(zip(actual, shown, strict=False)):
            assert want == got, f"{page.name} differs from {name} at its {i + 1}th non-blank line: {got!r}"
        assert len(shown) == len(actual), f"{page.name} shows {len(shown)} of the {len(actual)} lines of {name}"


def _assert_excerpt(block: Block, text: str) -> None:
    """Every non-blank line of the block appears in the example, in order (indentation aside)."""
    lines = [line.strip() for line in text.splitlines()]
    position = 0
    for wanted in (line.strip() for line in block.source.splitlines()):
        if not wanted or wanted in ("...", "…"):
            continue
        try:
            position = lines.index(wanted, position) + 1
        except ValueError:
            pytest.fail(f"{block.where}: {wanted!r} is not in {block.marker_value} (in this order)")


def test_not_run_blocks_are_rare() -> None:
    blocks = [b for p in PAGES for b in _python_blocks(p)]
    skipped = [b.where for b in blocks if b.marker == "not-run"]
    assert len(skipped) * 10 <= len(blocks), f"too many not-run blocks: {skipped}"


def test_tests_named_in_the_security_model_exist() -> None:
    """docs/security.md points at the tests that prove each defence; each must exist."""
    text = (DOCS / "security.md").read_text(encoding="utf-8")
    for row in text.splitlines():
        for match in re.finditer(r"`(tests/[\w/]+\.py)(?:::(\w+))?`((?::\s*(?:`\w+`,?\s*)+))?", row):
            path = ROOT / match[1]
            assert path.exists(), f"security.md names {match[1]}, which does not exist"
            source = path.read_text(encoding="utf-8")
            names = [match[2]] if match[2] else re.findall(r"`(\w+)`", match[3] or "")
            for name in names:
                assert re.search(rf"def {name}\b", source), f"security.md names {match[1]}::{name}: not found"
