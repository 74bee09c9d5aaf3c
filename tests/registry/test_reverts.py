"""Every kind of revert keeps the same reason and data on the embedded chain and on anvil."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_abi import abi as eth_abi
from eth_utils.crypto import keccak

from vcsdk.errors import TransactionRevertedError
from vcsdk.registry import Artifact, Chain, ContractHandle
from vcsdk.registry._solc import build_artifacts

SOURCE = """// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

contract Reverter {
    error NotAllowed(address who, uint256 code);

    uint256 public hits;

    function withReason() external pure { require(false, "no way"); }
    function withoutReason() external pure { require(false); }
    function custom() external view { revert NotAllowed(msg.sender, 7); }
    function overflow(uint256 x) external pure returns (uint256) { return x + 1; }
    function hit() external { hits += 1; }
}
"""


@pytest.fixture(scope="module")
def reverter_artifact(node_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    folder = tmp_path_factory.mktemp("reverter")
    (folder / "Reverter.sol").write_text(SOURCE)
    raw = build_artifacts(contracts_dir=folder, tools_dir=node_tools)["Reverter"]
    return Artifact(
        name="Reverter",
        abi=tuple(raw["abi"]),  # type: ignore[arg-type]
        bytecode=bytes.fromhex(str(raw["bytecode"])[2:]),
        deployed_bytecode=bytes.fromhex(str(raw["deployedBytecode"])[2:]),
        compiler_version=str(raw["compiler"]["version"]),  # type: ignore[index]
        source_sha256=str(raw["sourceSha256"]),
    )


@pytest.fixture
async def reverter(any_chain: Chain, reverter_artifact: Artifact) -> ContractHandle:
    accounts = await any_chain.dev_accounts()
    deployed = await any_chain.send(to=None, data=reverter_artifact.bytecode, sender=accounts[0])
    assert deployed.contract_address is not None
    return ContractHandle(any_chain, reverter_artifact, deployed.contract_address)


def _error_string(text: str) -> str:
    return "0x08c379a0" + eth_abi.encode(["string"], [text]).hex()


async def test_error_string(reverter: ContractHandle) -> None:
    with pytest.raises(TransactionRevertedError) as info:
        await reverter.call("withReason")
    assert (info.value.reason, info.value.data) == ("no way", _error_string("no way"))
    assert "no way" in info.value.message


async def test_custom_error_keeps_its_data(reverter: ContractHandle) -> None:
    sender = (await reverter.chain.dev_accounts())[2]
    with pytest.raises(TransactionRevertedError) as info:
        await reverter.call("custom", sender=sender)
    selector = keccak(text="NotAllowed(address,uint256)")[:4]
    assert info.value.data == "0x" + (selector + eth_abi.encode(["address", "uint256"], [sender, 7])).hex()
    assert info.value.reason is None


async def test_panic_is_named(reverter: ContractHandle) -> None:
    with pytest.raises(TransactionRevertedError) as info:
        await reverter.call("overflow", 2**256 - 1)
    assert info.value.reason == "panic 0x11"  # arithmetic overflow
    assert info.value.data is not None and info.value.data.startswith("0x4e487b71")


async def test_mined_revert_without_reason(reverter: ContractHandle) -> None:
    sender = (await reverter.chain.dev_accounts())[1]
    with pytest.raises(TransactionRevertedError) as info:
        await reverter.transact("withoutReason", sender=sender, gas=100_000)
    assert info.value.reason is None
    assert info.value.data in (None, "0x")
    assert info.value.code == "tx_reverted"
    result = await reverter.transact("hit", sender=sender)
    assert result.status == 1
    assert await reverter.call("hits") == 1
