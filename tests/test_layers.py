"""Imports point down: every import of every module, against one declared table of layers.

The checker reads each module's syntax tree, so it sees what a run-time check cannot: imports inside
functions, in ``if TYPE_CHECKING:`` blocks and in a package's lazy ``__getattr__``. Importing
``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``, so those count as imported too.

The rules, for a module in unit U of layer L:

1. it imports its own unit, a unit of a lower layer, or a unit listed before U in L;
2. only a layer marked ``io`` may import an I/O library (network, database, chain, Redis);
3. only the modules named in ``CONFINED`` may import the libraries confined to them (py-evm);
4. across top-level packages (``wallet_server`` → ``vcsdk``) only public modules are imported;
5. an upward arrow is allowed in exactly one shape, a package's *facade*: its ``__init__`` re-exports
   names of its own adapter modules lazily, from inside ``def __getattr__`` (and names them for the
   type checker under ``if TYPE_CHECKING:``), as listed in ``FACADES``, so that importing the
   package does not load the adapter;
6. imports are static: ``importlib.import_module`` with a computed name cannot be checked.

``render_picture`` draws the table; README.md and docs/architecture.md show that drawing, and a test
keeps them equal. A second run-time test imports each core package in a fresh interpreter and
checks that no I/O library was loaded, the symptom this table exists to prevent.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vcsdk", "wallet_server")


@dataclass(frozen=True)
class Layer:
    name: str
    #: Module prefixes; a module belongs to the longest prefix it starts with. Order matters: a
    #: unit may import the units listed before it in its own layer, never those after it.
    units: tuple[str, ...]
    #: May import I/O libraries.
    io: bool
    what: str


#: Bottom to top. "=vcsdk" is the module ``vcsdk`` itself, not its subpackages.
LAYERS: tuple[Layer, ...] = (
    Layer("base", ("=vcsdk", "vcsdk.errors", "vcsdk._b64", "vcsdk._json", "vcsdk._time", "vcsdk._url", "vcsdk._random",
                   "vcsdk.encoding"), io=False,
          what="errors, encodings, strict JSON, time"),
    Layer("core", ("vcsdk.keys", "vcsdk.blindrsa", "vcsdk.did", "vcsdk.credentials", "vcsdk.kyc",
                   "vcsdk.registration", "vcsdk.oid4vc", "vcsdk.receipts", "vcsdk.voting", "vcsdk.sso"), io=False,
          what="bytes, keys and resolved documents in; values or typed errors out"),
    Layer("adapters", ("vcsdk._body", "vcsdk._sql", "vcsdk.sql", "vcsdk._egress", "vcsdk.egress", "vcsdk.registry",
                       "vcsdk.ethr", "vcsdk.status", "vcsdk.trust", "vcsdk.kyc._client", "vcsdk.kyc._server",
                       "vcsdk.oid4vc._http", "vcsdk.oid4vc._redis", "vcsdk.outbox", "vcsdk.voting._anchor",
                       "vcsdk.voting._ledger", "vcsdk.voting._store", "vcsdk.voting._service", "vcsdk.voting._http"),
          io=True,
          what="chain, SQL, HTTP, SOAP and Redis"),
    Layer("recipes", ("vcsdk.recipes",), io=True,
          what="vcsdk.City and vcsdk.Service: the adapters wired for one network"),
    Layer("apps", ("vcsdk._demo", "vcsdk._cli", "vcsdk.__main__", "wallet_server"), io=True,
          what="the command line, the demo, the wallet server"),
)

#: Libraries that do I/O (top-level names, or dotted for a stdlib submodule).
IO_LIBRARIES = frozenset({
    "aiohttp", "aiosqlite", "asyncpg", "eth_tester", "evm", "httpx", "redis", "requests", "socket",
    "sqlite3", "ssl", "urllib.request", "http.client", "web3", "zeep",
})

#: Library → the only modules that may import it.
CONFINED: Mapping[str, frozenset[str]] = {
    "eth_tester": frozenset({"vcsdk.registry._embedded"}),
    "evm": frozenset({"vcsdk.registry._embedded"}),
}

#: Package facades: (package, module it re-exports lazily from ``__getattr__``).
FACADES = frozenset({
    ("vcsdk", "vcsdk.keys"),
    ("vcsdk", "vcsdk.recipes"),
    ("vcsdk.kyc", "vcsdk.kyc._client"),
    ("vcsdk.kyc", "vcsdk.kyc._server"),
    ("vcsdk.oid4vc", "vcsdk.oid4vc._http"),
    ("vcsdk.oid4vc", "vcsdk.oid4vc._redis"),
    ("vcsdk.voting", "vcsdk.voting._anchor"),
    ("vcsdk.voting", "vcsdk.voting._http"),
    ("vcsdk.voting", "vcsdk.voting._ledger"),
    ("vcsdk.voting", "vcsdk.voting._service"),
    ("vcsdk.voting", "vcsdk.voting._store"),
})


# -- the checker ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (for ``from a import b``: ``a.b`` if that is a module, else ``a``)
    line: int
    context: str  # "module", "function", "getattr" (inside ``def __getattr__``) or "type" (TYPE_CHECKING)
    dynamic: bool = False


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(source: str, module: str, *, is_package: bool, known: frozenset[str]) -> Iterator[Import]:
    """Every import statement in ``source``, wherever it stands, with the module it names."""

    def resolve(node: ast.ImportFrom) -> list[str]:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            parent = ".".join([*base, *([node.module] if node.module else [])])
        else:
            parent = node.module or ""
        out = [parent]
        out += [f"{parent}.{a.name}" for a in node.names if f"{parent}.{a.name}" in known]
        return out

    def walk(node: ast.AST, context: str) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from one(stmt, "type")
                for stmt in child.orelse:
                    yield from one(stmt, context)
            else:
                yield from one(child, context)

    def one(node: ast.AST, context: str) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, context)
            return
        if isinstance(node, ast.ImportFrom):
            for target in resolve(node):
                yield Import(module, target, node.lineno, context)
            return
        if isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield Import(module, arg.value, node.lineno, context)
            else:
                yield Import(module, "?", node.lineno, context, dynamic=True)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            if context == "module" and getattr(node, "name", "") == "__getattr__":
                context = "getattr"
            elif context in ("module", "type"):
                context = "function"
        yield from walk(node, context)

    yield from walk(ast.parse(source), "module")


def _is_dynamic_import(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("import_module", "__import__"))


def read_tree(root: Path, packages: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """Module name → (source, is a package) for every ``.py`` file of ``packages`` under ``root``."""
    out: dict[str, tuple[str, bool]] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            out[module_name(path, root)] = (path.read_text(encoding="utf-8"), path.name == "__init__.py")
    return out


def unit_of(module: str, layers: Sequence[Layer]) -> tuple[int, int, str] | None:
    """(layer index, unit index, unit) of the longest unit prefix ``module`` starts with."""
    best: tuple[int, int, str] | None = None
    for li, layer in enumerate(layers):
        for ui, unit in enumerate(layer.units):
            exact = unit.startswith("=")
            name = unit.lstrip("=")
            hit = module == name or (not exact and module.startswith(name + "."))
            if hit and (best is None or len(name) > len(best[2].lstrip("="))):
                best = (li, ui, unit)
    return best


def _parents(target: str) -> list[str]:
    parts = target.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def check(
    tree: Mapping[str, tuple[str, bool]],
    layers: Sequence[Layer],
    *,
    io_libraries: frozenset[str] = IO_LIBRARIES,
    confined: Mapping[str, frozenset[str]] = CONFINED,
    facades: frozenset[tuple[str, str]] = FACADES,
) -> list[str]:
    """Every broken rule in ``tree``, one line each (empty: the arrows all point down)."""
    problems: list[str] = []
    known = frozenset(tree)
    for module, (source, is_package) in sorted(tree.items()):
        place = unit_of(module, layers)
        if place is None:
            problems.append(f"{module}: in no layer (add it to the table)")
            continue
        li, ui, unit = place
        layer = layers[li]
        for imp in imports_of(source, module, is_package=is_package, known=known):
            where = f"{module}:{imp.line}"
            if imp.dynamic:
                problems.append(f"{where}: import with a computed name (write the import out)")
                continue
            if imp.target.split(".")[0] in tree_tops(tree):
                crossing = imp.target.split(".")[0] != module.split(".")[0]
                if crossing and any(p.startswith("_") for p in imp.target.split(".")[1:]):
                    problems.append(f"{where}: imports the private module {imp.target} (use a public name)")
                for target in _parents(imp.target):
                    if target not in known:
                        continue
                    other = unit_of(target, layers)
                    if other is None:
                        continue
                    oli, oui, ounit = other
                    down = oli < li or (oli == li and oui <= ui)
                    if down:
                        continue
                    if imp.context in ("getattr", "type") and is_package and any(
                            m == module and (f == target or f.startswith(target + ".")) for m, f in facades):
                        continue  # a declared facade (the module it names, and the packages above it)
                    problems.append(
                        f"{where}: {unit} ({layer.name}) imports {target}, in {ounit} ({layers[oli].name}),"
                        f" which is above it ({imp.context} level)")
                continue
            library = imp.target
            top = library.split(".")[0]
            io_hit = next((name for name in io_libraries if library == name or library.startswith(name + ".")
                           or top == name), None)
            if io_hit is not None and not layer.io:
                problems.append(f"{where}: {unit} ({layer.name}) imports the I/O library {library}")
            allowed = confined.get(top)
            if allowed is not None and module not in allowed:
                problems.append(f"{where}: imports {top}, which only {sorted(allowed)} may import")
    return problems


def tree_tops(tree: Mapping[str, tuple[str, bool]]) -> frozenset[str]:
    return frozenset(name.split(".")[0] for name in tree)


def render_picture(layers: Sequence[Layer]) -> str:
    """The table as a drawing, top layer first (README.md and docs/architecture.md show it)."""
    lines = []
    for layer in reversed(layers):
        names = [u.lstrip("=") for u in layer.units]
        lines.append(f"{layer.name}{' (I/O)' if layer.io else ''}: {layer.what}")
        lines.extend(textwrap.wrap(", ".join(names), width=96, initial_indent="    ", subsequent_indent="    "))
        lines.append("        ↓ imports point down")
    lines.pop()
    return "\n".join(lines)


# -- the tests --------------------------------------------------------------------------------------


def test_every_import_points_down() -> None:
    tree = read_tree(ROOT, PACKAGES)
    assert len(tree) > 150
    assert check(tree, LAYERS) == []


def test_every_unit_names_a_module() -> None:
    tree = read_tree(ROOT, PACKAGES)
    for layer in LAYERS:
        for unit in layer.units:
            name = unit.lstrip("=")
            assert any(m == name or m.startswith(name + ".") for m in tree), f"{unit} matches no module"
    for package, target in FACADES:
        assert package in tree and target in tree, (package, target)


@pytest.mark.parametrize("document", ["README.md", "docs/architecture.md"])
def test_the_picture_shows_the_table(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    begin, end = "<!-- layers:begin -->", "<!-- layers:end -->"
    assert begin in text and end in text, f"{document} has no layer picture"
    shown = text.split(begin, 1)[1].split(end, 1)[0].strip().removeprefix("```").removesuffix("```").strip()
    assert shown == render_picture(LAYERS), f"redraw the picture in {document}:\n{render_picture(LAYERS)}"


# The checker itself: a reversed arrow, at each place one can hide, must be found.

_SMALL = (
    Layer("low", ("=pkg", "pkg.low"), io=False, what="low"),
    Layer("high", ("pkg.high", "pkg.higher"), io=True, what="high"),
)


def _small_tree(**sources: str) -> dict[str, tuple[str, bool]]:
    tree = {"pkg": ("", True), "pkg.low": ("", True), "pkg.high": ("", True), "pkg.higher": ("", False),
            "pkg.low._impl": ("", False), "pkg.high._impl": ("", False)}
    for name, source in sources.items():
        module = name.replace("__", ".")
        tree[module] = (textwrap.dedent(source), tree.get(module, ("", False))[1])
    return tree


def _small_check(tree: Mapping[str, tuple[str, bool]], facades: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    return check(tree, _SMALL, facades=facades)


def test_checker_accepts_arrows_that_point_down() -> None:
    tree = _small_tree(pkg__high="from pkg.low import _impl\nimport json\n", pkg__higher="import pkg.high\n")
    assert _small_check(tree) == []


@pytest.mark.parametrize(
    "source",
    [
        "from pkg.high import thing\n",  # module level
        "def f():\n    from pkg.high._impl import thing\n",  # deferred, inside a function
        "class C:\n    def m(self):\n        import pkg.high\n",  # inside a method
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.high import Thing\n",  # for the types only
        "def __getattr__(name):\n    from pkg.high import thing\n    return thing\n",  # lazy, not a declared facade
        "from . import _impl\nfrom .. import high\n",  # relative
        "import importlib\nimportlib.import_module('pkg.high')\n",  # importlib with a literal
    ],
)
def test_checker_finds_a_reversed_arrow(source: str) -> None:
    problems = _small_check(_small_tree(pkg__low=source))
    assert any("pkg.high" in p and "above it" in p for p in problems), problems


def test_checker_finds_an_arrow_reversed_within_a_layer() -> None:
    assert _small_check(_small_tree(pkg__higher="import pkg.high\n")) == []
    problems = _small_check(_small_tree(pkg__high="import pkg.higher\n"))
    assert any("pkg.higher" in p and "above it" in p for p in problems), problems


def test_checker_finds_io_computed_names_and_private_imports() -> None:
    assert any("I/O library aiohttp" in p for p in _small_check(_small_tree(pkg__low="def f():\n    import aiohttp\n")))
    computed = "import importlib\ndef f(n):\n    return importlib.import_module(f'pkg.{n}')\n"
    assert any("computed name" in p for p in _small_check(_small_tree(pkg__low=computed)))
    outside = {**_small_tree(), "app": ("from pkg.high._impl import x\n", False)}
    layers = (*_SMALL, Layer("apps", ("app",), io=True, what="apps"))
    assert any("private module pkg.high._impl" in p for p in check(outside, layers))
    assert any("in no layer" in p for p in _small_check({**_small_tree(), "pkg.stray": ("", False)}))


def test_checker_allows_a_declared_facade_only_from_getattr() -> None:
    lazy = "def __getattr__(name):\n    from pkg.high import _impl\n    return _impl\n"
    facade = frozenset({("pkg.low", "pkg.high._impl")})
    assert _small_check(_small_tree(pkg__low=lazy), facade) == []
    eager = "from pkg.high import _impl\n"
    assert _small_check(_small_tree(pkg__low=eager), facade) != []


def test_checker_on_a_package_on_disk(tmp_path: Path) -> None:
    # The same checker over files, as test_every_import_points_down reads the real tree.
    (tmp_path / "pkg" / "low").mkdir(parents=True)
    (tmp_path / "pkg" / "high").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "higher.py").write_text("")
    (tmp_path / "pkg" / "high" / "__init__.py").write_text("from pkg.low import helper\n")
    (tmp_path / "pkg" / "low" / "__init__.py").write_text("def helper():\n    from pkg.high import x\n")
    problems = check(read_tree(tmp_path, ["pkg"]), _SMALL)
    assert problems == ["pkg.low:2: pkg.low (low) imports pkg.high, in pkg.high (high), which is above it"
                        " (function level)"]


# The symptom, at run time: a core package imported alone loads no I/O library.

CORE_PACKAGES = ["vcsdk", "vcsdk.keys", "vcsdk.blindrsa", "vcsdk.did", "vcsdk.credentials", "vcsdk.kyc",
                 "vcsdk.registration", "vcsdk.oid4vc", "vcsdk.receipts", "vcsdk.voting"]
LOADED = ("web3", "aiohttp", "sqlite3", "aiosqlite", "asyncpg", "zeep", "httpx", "eth_tester", "evm", "redis")


def _loaded_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(m for m in {LOADED!r} if m in sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_packages_load_no_io_library() -> None:
    assert _loaded_after("; ".join(f"import {m}" for m in CORE_PACKAGES)) == []


def test_adapters_load_what_they_need_and_no_more() -> None:
    assert "evm" not in _loaded_after("import vcsdk.registry, vcsdk.ethr, vcsdk.trust")  # py-evm: embedded only
    assert "aiohttp" in _loaded_after("from vcsdk.oid4vc import verifier_routes")  # a facade loads on use
