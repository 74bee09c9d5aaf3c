"""The committed artifacts are exactly what the pinned compiler makes from the committed sources."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from vcsdk.errors import InvalidInputError, RegistryError
from vcsdk.registry import artifact_names, load_artifact
from vcsdk.registry._solc import (
    ARTIFACTS_DIR,
    COMPILER_SETTINGS,
    CONTRACTS_DIR,
    build_artifacts,
    render_artifact,
    write_artifacts,
)
from vcsdk.registry.compile import main as compile_main

SIMPLE = """// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

contract Counter {
    uint256 public count;

    function bump() public {
        count += 1;
    }
}
"""

OTHER = """// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

interface IGreeter {
    function greet() external view returns (string memory);
}

contract Greeter is IGreeter {
    function greet() external pure returns (string memory) {
        return "hi";
    }
}
"""


@pytest.fixture(scope="module")
def fresh(node_tools: Path) -> dict[str, dict[str, object]]:
    """Every source in the package compiled now, once per module."""
    return build_artifacts(tools_dir=node_tools)


def test_every_committed_artifact_matches_a_fresh_compile(fresh: dict[str, dict[str, object]]) -> None:
    committed = sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json"))
    assert sorted(fresh) == committed, "artifacts and sources disagree; run python -m vcsdk.registry.compile"
    for name, artifact in fresh.items():
        on_disk = (ARTIFACTS_DIR / f"{name}.json").read_bytes()
        stored = json.loads(on_disk)
        assert stored["bytecode"] == artifact["bytecode"], f"{name}: bytecode differs from a fresh compile"
        assert stored["deployedBytecode"] == artifact["deployedBytecode"], f"{name}: runtime bytecode differs"
        assert stored["abi"] == artifact["abi"], f"{name}: ABI differs from a fresh compile"
        assert on_disk == render_artifact(artifact), f"{name}: artifact file is not byte-for-byte current"


def test_every_source_has_an_artifact_with_pinned_settings(fresh: dict[str, dict[str, object]]) -> None:
    sources = {p.name for p in CONTRACTS_DIR.glob("*.sol")}
    assert sources == {str(a["sourceName"]) for a in fresh.values()}
    for artifact in fresh.values():
        assert artifact["settings"] == dict(COMPILER_SETTINGS)
        assert artifact["settings"]["evmVersion"] == "cancun"  # type: ignore[index]
        assert str(artifact["compiler"]["version"]).startswith("0.8.")  # type: ignore[index]


def test_artifacts_load_from_package_data() -> None:
    assert "EthereumDIDRegistry" in artifact_names()
    artifact = load_artifact("EthereumDIDRegistry")
    assert artifact.name == "EthereumDIDRegistry"
    assert artifact.bytecode[:1] == b"\x60"  # PUSH1: creation code
    assert artifact.deployed_bytecode and artifact.deployed_bytecode in artifact.bytecode
    assert len(artifact.source_sha256) == 64


def test_unknown_artifact_is_a_registry_error() -> None:
    with pytest.raises(RegistryError) as info:
        load_artifact("NoSuchContract")
    assert info.value.code == "artifact_missing"


@pytest.mark.parametrize("name", ["../secrets", "", "a b", "x" * 200])
def test_artifact_name_must_be_an_identifier(name: str) -> None:
    with pytest.raises(InvalidInputError):
        load_artifact(name)


@pytest.mark.slow  # solc runs four times
def test_write_rewrites_only_what_changed(tmp_path: Path, node_tools: Path) -> None:
    src, out = tmp_path / "contracts", tmp_path / "artifacts"
    src.mkdir()
    (src / "Counter.sol").write_text(SIMPLE)
    (src / "Greeter.sol").write_text(OTHER)

    first = write_artifacts(contracts_dir=src, artifacts_dir=out, tools_dir=node_tools)
    assert sorted(p.name for p in first.written) == ["Counter.json", "Greeter.json"]  # no interface artifact
    assert first.unchanged == () and first.removed == ()

    second = write_artifacts(contracts_dir=src, artifacts_dir=out, tools_dir=node_tools)
    assert second.written == () and len(second.unchanged) == 2

    (src / "Counter.sol").write_text(SIMPLE.replace("count += 1", "count += 2"))
    third = write_artifacts(contracts_dir=src, artifacts_dir=out, tools_dir=node_tools)
    assert [p.name for p in third.written] == ["Counter.json"]
    assert [p.name for p in third.unchanged] == ["Greeter.json"]

    (src / "Greeter.sol").unlink()
    (out / "Foreign.json").write_text("{}")  # not made by the tool: left alone
    fourth = write_artifacts(contracts_dir=src, artifacts_dir=out, tools_dir=node_tools)
    assert [p.name for p in fourth.removed] == ["Greeter.json"]
    assert sorted(p.name for p in out.iterdir()) == ["Counter.json", "Foreign.json"]


@pytest.mark.slow  # solc runs several times
def test_check_mode_reports_stale_artifacts(
    tmp_path: Path, node_tools: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "contracts", tmp_path / "artifacts"
    src.mkdir()
    (src / "Counter.sol").write_text(SIMPLE)
    args = ["--contracts-dir", str(src), "--artifacts-dir", str(out), "--tools-dir", str(node_tools)]
    assert compile_main([*args, "--check"]) == 1
    assert compile_main(args) == 0
    assert compile_main([*args, "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_compile_errors_are_reported(tmp_path: Path, node_tools: Path) -> None:
    (tmp_path / "Broken.sol").write_text("pragma solidity ^0.8.20; contract Broken { function f( }")
    with pytest.raises(RegistryError) as info:
        build_artifacts(contracts_dir=tmp_path, tools_dir=node_tools)
    assert info.value.code == "compile_failed"
    assert "Broken.sol" in info.value.message


def test_duplicate_contract_names_are_refused(tmp_path: Path, node_tools: Path) -> None:
    (tmp_path / "A.sol").write_text(SIMPLE)
    (tmp_path / "B.sol").write_text(SIMPLE)
    with pytest.raises(InvalidInputError, match="Counter"):
        build_artifacts(contracts_dir=tmp_path, tools_dir=node_tools)


def test_imports_resolve_inside_the_contracts_folder_only(tmp_path: Path, node_tools: Path) -> None:
    (tmp_path / "IGreeter.sol").write_text(
        "// SPDX-License-Identifier: Apache-2.0\npragma solidity ^0.8.20;\n"
        "interface IGreeter { function greet() external view returns (string memory); }\n"
    )
    (tmp_path / "Greeter2.sol").write_text(
        '// SPDX-License-Identifier: Apache-2.0\npragma solidity ^0.8.20;\nimport "./IGreeter.sol";\n'
        'contract Greeter2 is IGreeter { function greet() external pure returns (string memory) { return "x"; } }\n'
    )
    assert list(build_artifacts(contracts_dir=tmp_path, tools_dir=node_tools)) == ["Greeter2"]
    outside = tmp_path.parent / "outside.sol"
    outside.write_text("pragma solidity ^0.8.20;\ncontract Outside {}\n")
    (tmp_path / "Escape.sol").write_text(f'pragma solidity ^0.8.20;\nimport "{outside}";\ncontract E {{}}\n')
    with pytest.raises(RegistryError) as info:
        build_artifacts(contracts_dir=tmp_path, tools_dir=node_tools)
    assert "outside the contracts folder" in info.value.message


@pytest.mark.interop
def test_registry_abi_is_the_one_ethr_did_resolver_ships(node_tools: Path) -> None:
    """ethr-did-resolver 11 carries the ERC-1056 registry ABI; ours must be the same set of entries."""
    node = shutil.which("node")
    assert node is not None
    script = (
        "const a = require('./node_modules/ethr-did-resolver/lib/config/EthereumDIDRegistry.js').EthereumDIDRegistry;"
        "process.stdout.write(JSON.stringify(a.abi));"
    )
    proc = subprocess.run([node, "-e", script], cwd=node_tools, capture_output=True, check=True, timeout=60)
    reference = json.loads(proc.stdout)

    def canonical(abi: list[dict[str, object]]) -> list[str]:
        return sorted(json.dumps(entry, sort_keys=True) for entry in abi)

    assert canonical(load_artifact("EthereumDIDRegistry").abi_list()) == canonical(reference)
