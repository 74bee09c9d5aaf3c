"""Can this chain run the city's contracts? EVM features, chain id and code at each address.

The contracts are compiled for one EVM version (``COMPILER_SETTINGS["evmVersion"]``); a node on an
older hardfork accepts their deployment and then fails every call with an opcode it does not know
(``EVM error NotActivated`` on anvil). :func:`check_chain` finds the fork-gated opcodes the shipped
bytecode really uses and runs each one on the node in an ``eth_call`` (creation code, no state),
so the failure shows at deploy and at start, with the fix, instead of on the first resident's
request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from vcsdk.errors import (
    ChainIdMismatchError,
    ChainUnavailableError,
    RegistryError,
    RegistryNotConfiguredError,
    UnsupportedChainError,
)
from vcsdk.registry._artifacts import Artifact, load_artifact
from vcsdk.registry._chain import Chain
from vcsdk.registry._solc import COMPILER_SETTINGS

__all__ = ["EvmFeature", "check_chain", "check_contracts", "check_evm_features", "contracts_hardfork",
           "required_features"]

#: The city's contracts (the same tuple as ``CONTRACTS``; repeated here to keep imports one-way).
_CITY_CONTRACTS: Final = ("EthereumDIDRegistry", "TrustedIssuerRegistry", "AccessReceiptRegistry")


@dataclass(frozen=True, slots=True)
class EvmFeature:
    """One opcode that only exists from some hardfork on.

    :ivar opcode: its byte; :ivar name: its mnemonic; :ivar hardfork: the fork that added it;
    :ivar inputs: how many stack items it pops (the probe pushes that many zeros).
    """

    opcode: int
    name: str
    hardfork: str
    inputs: int

    def probe(self) -> bytes:
        """Creation code that runs the opcode once on zeros and stops (PUSH1 0 never needs a fork)."""
        return b"\x60\x00" * self.inputs + bytes([self.opcode, 0x00])


# Opcodes added after Byzantium, by fork (EIP-145, 1014, 1052, 1344, 1884, 3198, 3855, 1153, 5656,
# 4844, 7516, 7939). Older opcodes run on every chain in use.
_GATED: Final = {
    f.opcode: f
    for f in (
        EvmFeature(0x1B, "SHL", "constantinople", 2),
        EvmFeature(0x1C, "SHR", "constantinople", 2),
        EvmFeature(0x1D, "SAR", "constantinople", 2),
        EvmFeature(0x3F, "EXTCODEHASH", "constantinople", 1),
        EvmFeature(0xF5, "CREATE2", "constantinople", 4),
        EvmFeature(0x46, "CHAINID", "istanbul", 0),
        EvmFeature(0x47, "SELFBALANCE", "istanbul", 0),
        EvmFeature(0x48, "BASEFEE", "london", 0),
        EvmFeature(0x5F, "PUSH0", "shanghai", 0),
        EvmFeature(0x5C, "TLOAD", "cancun", 1),
        EvmFeature(0x5D, "TSTORE", "cancun", 2),
        EvmFeature(0x5E, "MCOPY", "cancun", 3),
        EvmFeature(0x49, "BLOBHASH", "cancun", 1),
        EvmFeature(0x4A, "BLOBBASEFEE", "cancun", 0),
        EvmFeature(0x1E, "CLZ", "osaka", 1),
    )
}
_PUSH1, _PUSH32 = 0x60, 0x7F


def _strip_metadata(code: bytes) -> bytes:
    """Runtime code without solc's CBOR metadata trailer (its last two bytes are its length)."""
    if len(code) < 2:
        return code
    length = int.from_bytes(code[-2:], "big")
    return code[: -length - 2] if 0 < length + 2 <= len(code) else code


def _opcodes(code: bytes) -> set[int]:
    seen: set[int] = set()
    i = 0
    while i < len(code):
        op = code[i]
        seen.add(op)
        i += 1 + (op - _PUSH1 + 1 if _PUSH1 <= op <= _PUSH32 else 0)  # skip PUSHn data
    return seen


def _code_of(artifact: Artifact) -> bytes:
    """Init code and runtime code, each without data the EVM never runs as instructions."""
    runtime = artifact.deployed_bytecode
    creation = artifact.bytecode
    init = creation[: -len(runtime)] if runtime and creation.endswith(runtime) else creation
    return init + _strip_metadata(runtime)


def required_features(names: Iterable[str] = _CITY_CONTRACTS) -> tuple[EvmFeature, ...]:
    """The fork-gated opcodes the shipped contracts ``names`` use, newest fork last.

    :raises RegistryError: ``code="artifact_missing"`` for an unknown contract.
    """
    used: set[int] = set()
    for name in names:
        used |= _opcodes(_code_of(load_artifact(name)))
    order = list(dict.fromkeys(f.hardfork for f in _GATED.values()))
    return tuple(sorted((_GATED[op] for op in used if op in _GATED), key=lambda f: (order.index(f.hardfork), f.name)))


def contracts_hardfork() -> str:
    """The EVM version the contracts are compiled for (``"cancun"``): the hardfork a node needs.

    Every artifact is built with the pinned ``COMPILER_SETTINGS`` (a test proves they match).
    """
    return str(COMPILER_SETTINGS["evmVersion"])


async def check_evm_features(chain: Chain, *, names: Iterable[str] = _CITY_CONTRACTS) -> None:
    """Run each fork-gated opcode the contracts use on the node; refuse a node that lacks one.

    :raises UnsupportedChainError: naming the opcode, the hardfork it needs and how to get it.
    :raises ChainUnavailableError: if the node does not answer.
    """
    names = tuple(names)
    missing: list[EvmFeature] = []
    for feature in required_features(names):
        try:
            await chain.probe_code(feature.probe())
        except ChainUnavailableError:
            raise
        except RegistryError:
            missing.append(feature)
    if missing:
        fork = contracts_hardfork()
        opcodes = ", ".join(f"{f.name} ({f.hardfork})" for f in missing)
        raise UnsupportedChainError(
            f"the node at {chain.endpoint} cannot run the contracts: they are compiled for the {fork} "
            f"hardfork and use {opcodes}, which the node does not support. Run the node with the {fork} "
            f"hardfork or later (`anvil --hardfork {fork}`; `vcsdk dev up` starts one), or give --rpc-url of a "
            "node that has it",
            details={"hardfork": fork, "missing": [f.name for f in missing], "endpoint": chain.endpoint},
        )


def _a(name: str) -> str:
    return ("an " if name[0] in "AEIOU" else "a ") + name


async def check_contracts(chain: Chain, addresses: Mapping[str, str], *, where: str = "the network config") -> None:
    """Each address holds code, and code that answers the contract's functions.

    A function's 4-byte selector appears in the dispatcher of any contract that implements it, so
    an address holding another contract (the trust registry's address given as the DID registry's)
    is caught as well as an empty one.

    :param addresses: contract name → address, e.g. from :func:`load_network_config`.
    :param where: where the addresses came from, for the message.
    :raises RegistryNotConfiguredError: ``code="contract_missing"`` (no code at the address) or
        ``code="contract_mismatch"`` (another contract is there).
    :raises ChainUnavailableError: if the node does not answer.
    """
    for name, address in addresses.items():
        code = await chain.get_code(address)
        if not code:
            raise RegistryNotConfiguredError(
                f"no {name} contract at {address} on the node at {chain.endpoint} (chain id {int(chain.chain_id)}); "
                f"{where} names another chain or a deployment that is gone (a restarted dev node forgets its "
                "contracts): deploy again with `vcsdk deploy --rpc-url URL --key KEY --out network.json` "
                "and point --network-config at the new file",
                code="contract_missing",
                details={"contract": name, "address": address},
            )
        lacking = [sig for sig, push in load_artifact(name).dispatch_codes().items() if push not in code]
        if lacking:
            raise RegistryNotConfiguredError(
                f"the contract at {address} is not {_a(name)}: it has no {', '.join(lacking[:3])}"
                f"{' …' if len(lacking) > 3 else ''}; check the {name} address in {where}",
                code="contract_mismatch",
                details={"contract": name, "address": address},
            )


async def check_chain(
    chain: Chain,
    *,
    chain_id: int | None = None,
    addresses: Mapping[str, str] | None = None,
    where: str = "the network config",
) -> None:
    """Everything :func:`check_evm_features` and :func:`check_contracts` check, and the chain id.

    :param chain_id: the chain id the caller was configured for (``None``: not checked).
    :param addresses: contract name → address to check; ``None`` checks only the node.
    :raises ChainIdMismatchError: the node serves another chain.
    :raises UnsupportedChainError: the node lacks an EVM feature the contracts use.
    :raises RegistryNotConfiguredError: an address holds no code or another contract.
    :raises ChainUnavailableError: if the node does not answer.
    """
    if chain_id is not None and int(chain_id) != int(chain.chain_id):
        raise ChainIdMismatchError(
            f"the node at {chain.endpoint} serves chain id {int(chain.chain_id)}, but {where} is for chain id "
            f"{int(chain_id)}: point --rpc-url at the node of chain {int(chain_id)}, or use the network config "
            "written for this node",
            details={"expected": int(chain_id), "actual": int(chain.chain_id)},
        )
    await check_evm_features(chain, names=tuple(addresses) if addresses else _CITY_CONTRACTS)
    if addresses:
        await check_contracts(chain, addresses, where=where)
