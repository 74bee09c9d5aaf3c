"""Compiled contract artifacts, loaded from package data (``vcsdk/registry/artifacts/<Name>.json``)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from vcsdk.errors import InvalidInputError, RegistryError

__all__ = ["Artifact", "artifact_names", "load_artifact"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass(frozen=True, slots=True)
class Artifact:
    """One compiled contract.

    :ivar name: the Solidity contract name.
    :ivar abi: the JSON ABI.
    :ivar bytecode: creation bytecode (deploy this).
    :ivar deployed_bytecode: runtime bytecode (what ``eth_getCode`` returns after deployment).
    :ivar compiler_version: the exact solc version that produced it.
    :ivar source_sha256: hex SHA-256 of the Solidity source file.
    """

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes
    compiler_version: str
    source_sha256: str

    def abi_list(self) -> list[dict[str, Any]]:
        """The ABI as a fresh list (what web3 and JSON encoders expect)."""
        return [dict(entry) for entry in self.abi]

    def dispatch_codes(self) -> dict[str, bytes]:
        """Each function's signature → the ``PUSHn <selector>`` instruction solc's dispatcher compares
        the call's selector with: found in the runtime code of any contract implementing it."""
        from eth_utils.crypto import keccak  # start-up cost: only the chain checks need it

        out: dict[str, bytes] = {}
        for entry in self.abi:
            if entry.get("type") == "function":
                signature = f"{entry['name']}({','.join(str(i['type']) for i in entry.get('inputs', []))})"
                value = keccak(text=signature)[:4].lstrip(b"\0")
                out[signature] = bytes([0x5F + len(value)]) + value  # PUSH1..PUSH4 (0x5F is PUSH0)
        return out


def artifact_names() -> list[str]:
    """Names of every contract shipped as an artifact, sorted."""
    folder = resources.files("vcsdk.registry").joinpath("artifacts")
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


@functools.lru_cache(maxsize=64)
def load_artifact(name: str) -> Artifact:
    """Load the artifact of contract ``name`` from package data.

    :param name: the Solidity contract name, e.g. ``"EthereumDIDRegistry"``.
    :raises InvalidInputError: if ``name`` is not a valid contract name.
    :raises RegistryError: ``code="artifact_missing"`` if no such artifact ships with vcsdk.
    :return: the parsed artifact.
    """
    if not _NAME.match(name):
        raise InvalidInputError("contract name must be a Solidity identifier")
    resource = resources.files("vcsdk.registry").joinpath("artifacts", f"{name}.json")
    if not resource.is_file():
        raise RegistryError(
            f"no compiled artifact for contract {name}; add its .sol file to vcsdk/registry/contracts "
            "and run python -m vcsdk.registry.compile",
            code="artifact_missing",
        )
    raw = json.loads(resource.read_bytes())
    return Artifact(
        name=raw["contractName"],
        abi=tuple(raw["abi"]),
        bytecode=bytes.fromhex(raw["bytecode"].removeprefix("0x")),
        deployed_bytecode=bytes.fromhex(raw["deployedBytecode"].removeprefix("0x")),
        compiler_version=raw["compiler"]["version"],
        source_sha256=raw["sourceSha256"],
    )
