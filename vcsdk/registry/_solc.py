"""The contract pipeline: Solidity sources -> solc-js (standard JSON) -> one JSON artifact per contract.

Each ``.sol`` file in the contracts folder is compiled on its own (plus whatever it imports from
that folder), with the pinned settings below, so adding or editing one file never changes the
artifacts of another. Artifacts are rewritten only when their bytes would change.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from vcsdk.errors import InvalidInputError, RegistryError

__all__ = [
    "ARTIFACTS_DIR",
    "COMPILER_SETTINGS",
    "CONTRACTS_DIR",
    "CompileResult",
    "build_artifacts",
    "find_tools_dir",
    "render_artifact",
    "write_artifacts",
]

PACKAGE_DIR: Final = Path(__file__).resolve().parent
CONTRACTS_DIR: Final = PACKAGE_DIR / "contracts"
ARTIFACTS_DIR: Final = PACKAGE_DIR / "artifacts"

#: Pinned compiler settings (everything but ``outputSelection``). ``evmVersion`` is explicit so the
#: bytecode runs on both the embedded py-evm chain and anvil whatever the compiler's default is.
COMPILER_SETTINGS: Final[Mapping[str, Any]] = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": False,
    "metadata": {"bytecodeHash": "ipfs"},
}

_OUTPUTS: Final = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]
_SCRIPT: Final = "solc-compile.js"
_COMPILE_TIMEOUT_S: Final = 300.0


@dataclass(frozen=True, slots=True)
class CompileResult:
    """What :func:`write_artifacts` did.

    :ivar written: artifact files created or rewritten because their content changed.
    :ivar unchanged: artifact files whose content was already up to date.
    :ivar removed: artifact files deleted because their contract or source no longer exists.
    """

    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]
    removed: tuple[Path, ...]


def find_tools_dir(start: Path | None = None) -> Path:
    """Find the ``tools/`` folder whose ``node_modules`` holds solc-js and anvil.

    Looks in ``start`` (default: the current directory) and its parents, then beside the
    source checkout this package was loaded from.

    :raises RegistryError: if no ``tools/package.json`` is found.
    """
    candidates: list[Path] = []
    for base in (start or Path.cwd(), PACKAGE_DIR):
        base = base.resolve()
        candidates.extend(p / "tools" for p in (base, *base.parents))
    for candidate in candidates:
        if (candidate / "package.json").is_file():
            return candidate
    raise RegistryError(
        "cannot find the tools/ folder with package.json; run from a vcsdk source checkout or pass tools_dir=",
        code="tools_missing",
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _standard_input(source_name: str, content: str) -> dict[str, Any]:
    settings = dict(COMPILER_SETTINGS)
    settings["outputSelection"] = {source_name: {"*": list(_OUTPUTS)}}
    return {"language": "Solidity", "sources": {source_name: {"content": content}}, "settings": settings}


def _run_solc(tools_dir: Path, base_dir: Path, inputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise RegistryError("node is not installed; install Node.js 20 or newer", code="tools_missing")
    if not (tools_dir / "node_modules" / "solc").is_dir():
        raise RegistryError(
            f"solc-js is not installed in {tools_dir.name}/node_modules; run `npm ci` in the tools folder",
            code="tools_missing",
        )
    request = json.dumps({"baseDir": str(base_dir), "inputs": list(inputs)})
    try:
        proc = subprocess.run(
            [node, str(tools_dir / _SCRIPT)],
            input=request.encode(),
            capture_output=True,
            cwd=tools_dir,
            timeout=_COMPILE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RegistryError("the Solidity compiler did not finish in time", code="compile_failed") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-2000:]
        raise RegistryError(f"the Solidity compiler failed: {tail}", code="compile_failed")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def render_artifact(artifact: Mapping[str, Any]) -> bytes:
    """The exact bytes an artifact is stored as (stable key order, two-space indent, final newline)."""
    return (json.dumps(artifact, indent=2, ensure_ascii=False) + "\n").encode()


def build_artifacts(*, contracts_dir: Path | None = None, tools_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Compile every ``.sol`` file in ``contracts_dir`` and return the artifacts by contract name.

    Contracts without bytecode (interfaces, abstract contracts) get no artifact.

    :param contracts_dir: the Solidity sources (default: the package's ``contracts/``).
    :param tools_dir: the npm tools folder (default: found by :func:`find_tools_dir`).
    :raises RegistryError: ``code="compile_failed"`` with the compiler's errors, or
        ``code="tools_missing"`` when node or solc-js is not installed.
    :raises InvalidInputError: if two source files define a contract with the same name.
    :return: ``{name: artifact}`` where each artifact is a JSON-ready dict.
    """
    src_dir = (contracts_dir or CONTRACTS_DIR).resolve()
    tools = (tools_dir or find_tools_dir()).resolve()
    sources = sorted(src_dir.glob("*.sol"))
    if not sources:
        return {}
    raw = {path.name: path.read_bytes() for path in sources}
    inputs = [_standard_input(name, data.decode()) for name, data in raw.items()]
    response = _run_solc(tools, src_dir, inputs)
    version = str(response["version"])
    artifacts: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for (source_name, data), output in zip(raw.items(), response["outputs"], strict=True):
        errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
        if errors:
            text = "\n".join(str(e.get("formattedMessage") or e.get("message")) for e in errors)
            raise RegistryError(f"{source_name} does not compile:\n{text}", code="compile_failed")
        settings = dict(COMPILER_SETTINGS)
        for contract_name, contract in output.get("contracts", {}).get(source_name, {}).items():
            bytecode = contract["evm"]["bytecode"]["object"]
            if not bytecode:
                continue
            if contract_name in origin:
                raise InvalidInputError(
                    f"contract {contract_name} is defined in both {origin[contract_name]} and "
                    f"{source_name}; contract names must be unique across the contracts folder"
                )
            origin[contract_name] = source_name
            artifacts[contract_name] = {
                "contractName": contract_name,
                "sourceName": source_name,
                "sourceSha256": _sha256(data),
                "compiler": {"name": "solc-js", "version": version},
                "settings": settings,
                "abi": contract["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
            }
    return artifacts


def write_artifacts(
    *,
    contracts_dir: Path | None = None,
    artifacts_dir: Path | None = None,
    tools_dir: Path | None = None,
) -> CompileResult:
    """Compile every source and write ``<artifacts_dir>/<Name>.json``, touching only changed files.

    Artifacts this tool wrote earlier for a contract or source that no longer exists are removed.

    :raises RegistryError: see :func:`build_artifacts`.
    :return: which files were written, left alone or removed.
    """
    src_dir = (contracts_dir or CONTRACTS_DIR).resolve()
    out_dir = (artifacts_dir or ARTIFACTS_DIR).resolve()
    artifacts = build_artifacts(contracts_dir=src_dir, tools_dir=tools_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    unchanged: list[Path] = []
    removed: list[Path] = []
    for name, artifact in sorted(artifacts.items()):
        target = out_dir / f"{name}.json"
        data = render_artifact(artifact)
        if target.is_file() and target.read_bytes() == data:
            unchanged.append(target)
            continue
        target.write_bytes(data)
        written.append(target)
    for existing in sorted(out_dir.glob("*.json")):
        if existing.stem in artifacts:
            continue
        try:
            source_name = json.loads(existing.read_bytes()).get("sourceName")
        except (ValueError, AttributeError):
            continue
        # Written by this tool (it names its source) but no longer produced: the source or the
        # contract is gone. Files without a sourceName were not made here and are left alone.
        if isinstance(source_name, str):
            existing.unlink()
            removed.append(existing)
    return CompileResult(written=tuple(written), unchanged=tuple(unchanged), removed=tuple(removed))
