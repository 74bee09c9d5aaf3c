"""Run the Python blocks of one docs page in order, in one namespace, as one asyncio program.

Usage: ``python tests/docs/_run_page.py blocks.json [fixtures.py]``. ``blocks.json`` lists
``{"page", "line", "source"}`` objects. Top-level ``await`` / ``async with`` work, as in an asyncio
REPL. Each block is compiled with the page as its file name and its real line numbers, so a
traceback points at the Markdown line. A block written as a ``>>>`` session runs as a doctest: its
printed output must match. Prints ``ok page:line`` per block; exit 0 when every block ran.

``fixtures.py`` (optional, ``tests/docs/pages/<page>.py``) stands in for what a page assumes the
reader already has (their keys, their DIDs, a chain): its ``async def setup(ns)`` fills the
namespace first, ``async def before(source, ns)`` runs before each block, and
``async def teardown(ns)`` at the end.
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import importlib.util
import inspect
import json
import sys
from types import ModuleType
from typing import Any


def _load(path: str | None) -> ModuleType | None:
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location("docs_page_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _hook(module: ModuleType | None, name: str, *args: Any) -> None:
    fn = getattr(module, name, None)
    if fn is not None:
        await fn(*args)


def _doctest(block: dict[str, Any], namespace: dict[str, Any]) -> None:
    test = doctest.DocTestParser().get_doctest(block["source"], namespace, block["page"], block["page"],
                                               int(block["line"]) - 1)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    runner.run(test, clear_globs=False)
    if runner.failures:
        raise AssertionError(f"{block['page']}:{block['line']}: the >>> session printed something else")


async def run(blocks: list[dict[str, Any]], fixtures: ModuleType | None) -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    await _hook(fixtures, "setup", namespace)
    try:
        for block in blocks:
            await _hook(fixtures, "before", block["source"], namespace)
            if block["source"].lstrip().startswith(">>>"):
                _doctest(block, namespace)
            else:
                padded = "\n" * (int(block["line"]) - 1) + block["source"]
                code = compile(padded, block["page"], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
                result = eval(code, namespace)
                if inspect.iscoroutine(result):
                    await result
            print(f"ok {block['page']}:{block['line']}", flush=True)
    finally:
        await _hook(fixtures, "teardown", namespace)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        specs = json.load(handle)
    asyncio.run(run(specs, _load(sys.argv[2] if len(sys.argv) > 2 else None)))
