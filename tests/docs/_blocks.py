"""Find the fenced code blocks of a Markdown page, with the markers that say how to treat them.

A ```` ```python ```` block is run unless the HTML comment just before it (blank lines allowed in
between) says otherwise:

- ``<!-- not-run: reason -->``: deliberately not runnable (e.g. needs a city's real node); the
  reason is required;
- ``<!-- excerpt: examples/name.py -->``: a fragment of an example that the tests run; its lines
  must appear in that file, in order;
- ``<!-- file: examples/name.py -->``: one part of a whole file shown on the page: the page's parts
  with that marker, in order, are exactly the file (blank lines at the cuts aside), which a test
  runs unchanged (quick starts: a file the reader copies whole);
- ``<!-- run-by: tests/path.py (why) -->``: run by that test instead (e.g. against a real server),
  which must name the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`\n]*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|excerpt|file|run-by)\s*:\s*(?P<value>.*?)\s*-->\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block: ``line`` is the 1-based line of its first code line in the page."""

    page: Path
    language: str
    source: str
    line: int
    marker: str | None = None  # "not-run", "excerpt", "file" or "run-by"
    marker_value: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = opening["info"].strip().split(" ")[0].lower()
        start = i + 1
        j = start
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[start:j]]
        marker, value = _marker_before(lines, i)
        found.append(Block(page, language, "\n".join(body) + "\n", start + 1, marker, value))
        i = j + 1
    return found


def _closes(line: str, fence: str) -> bool:
    # CommonMark: a closing fence is at least as long as the opening one, with nothing after it.
    text = line.strip()
    return text.startswith(fence) and set(text) == {fence[0]}


def _marker_before(lines: list[str], fence_index: int) -> tuple[str | None, str]:
    k = fence_index - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    if k >= 0 and (m := _MARKER.match(lines[k])) is not None:
        return m["kind"], m["value"]
    return None, ""
