"""Can a node run the city's contracts? EVM features (by running the opcodes), chain id, code at each
address — at deploy, at the wallet server's start, and when a call fails without a reason. Each
refusal names its fix."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from vcsdk._cli import main
from vcsdk.errors import ChainIdMismatchError, RegistryNotConfiguredError, UnsupportedChainError
from vcsdk.keys import Key
from vcsdk.registry import (
    CONTRACTS,
    Chain,
    DevChain,
    DevNode,
    check_chain,
    contracts_hardfork,
    key_address,
    load_artifact,
)
from vcsdk.registry._checks import _opcodes, required_features
from vcsdk.trust import TrustRegistry


def test_required_features_are_the_fork_gated_opcodes_the_bytecode_runs() -> None:
    features = {f.name: f.hardfork for f in required_features()}
    # solc 0.8.25+ copies memory with MCOPY when compiling for Cancun; PUSH0 since Shanghai.
    assert features["MCOPY"] == "cancun" and features["PUSH0"] == "shanghai"
    assert contracts_hardfork() == "cancun"
    # The DID registry alone needs Cancun; the receipt registry only Shanghai.
    assert "MCOPY" in {f.name for f in required_features(["EthereumDIDRegistry"])}
    assert "MCOPY" not in {f.name for f in required_features(["AccessReceiptRegistry"])}


def test_push_data_is_not_read_as_opcodes() -> None:
    # PUSH2 0x5e5f, then STOP: the bytes 5e (MCOPY) and 5f (PUSH0) are data, not instructions.
    assert _opcodes(bytes.fromhex("615e5f00")) == {0x61, 0x00}
    assert _opcodes(bytes.fromhex("5f5e")) == {0x5F, 0x5E}


async def test_the_embedded_chain_runs_the_contracts() -> None:
    async with Chain.embedded() as chain:
        await check_chain(chain)
        owner = chain.dev_keys[0]
        addresses = {name: await chain.deploy(name, sender=owner) for name in CONTRACTS}
        await check_chain(chain, chain_id=int(chain.chain_id), addresses=addresses)


async def test_an_address_without_code_names_the_redeploy() -> None:
    async with Chain.embedded() as chain:
        with pytest.raises(RegistryNotConfiguredError) as info:
            await check_chain(chain, addresses={"EthereumDIDRegistry": "0x" + "11" * 20})
    assert info.value.code == "contract_missing"
    assert "vcsdk deploy --rpc-url" in info.value.message and "--network-config" in info.value.message


async def test_another_contract_at_the_address_is_named() -> None:
    async with Chain.embedded() as chain:
        trust = await chain.deploy("TrustedIssuerRegistry", sender=chain.dev_keys[0])
        with pytest.raises(RegistryNotConfiguredError) as info:
            await check_chain(chain, addresses={"EthereumDIDRegistry": trust}, where="network.json")
    assert info.value.code == "contract_mismatch"
    assert f"the contract at {trust} is not an EthereumDIDRegistry" in info.value.message
    assert "check the EthereumDIDRegistry address in network.json" in info.value.message


async def test_a_chain_id_mismatch_names_the_rpc_url_flag() -> None:
    async with Chain.embedded() as chain:
        with pytest.raises(ChainIdMismatchError) as info:
            await check_chain(chain, chain_id=1)
    assert "point --rpc-url at the node of chain 1" in info.value.message


async def test_a_call_to_a_wrong_registry_address_says_so_instead_of_reverted_without_a_reason() -> None:
    async with Chain.embedded() as chain:
        owner = chain.dev_keys[0]
        receipts = await chain.deploy("AccessReceiptRegistry", sender=owner)
        # The trusted-issuer registry's address given as another contract: the call reverts silently.
        wrong = TrustRegistry(chain, receipts)
        with pytest.raises(RegistryNotConfiguredError) as info:
            await wrong.accreditation("did:ethr:0x1:0x" + "22" * 20, "urn:t")
        assert info.value.code == "contract_mismatch"
        assert f"the contract at {receipts}" in info.value.message
        assert "TrustedIssuerRegistry address" in info.value.message
        assert "without a reason" not in info.value.message
        # No contract at all there.
        empty = TrustRegistry(chain, "0x" + "33" * 20)
        with pytest.raises(RegistryNotConfiguredError) as info:
            await empty.accreditation("did:ethr:0x1:0x" + "22" * 20, "urn:t")
        assert info.value.code == "contract_missing"
        assert "no contract at 0x" + "33" * 20 in info.value.message.lower()
        assert "check the address" in info.value.message


def test_dispatch_codes_are_found_in_the_deployed_code() -> None:
    for name in CONTRACTS:
        artifact = load_artifact(name)
        assert all(push in artifact.deployed_bytecode for push in artifact.dispatch_codes().values()), name


@pytest.fixture(scope="module")
def shanghai_node(node_tools: Path):  # type: ignore[no-untyped-def]
    """An anvil node on the hardfork before the contracts' (Cancun): no MCOPY."""
    node = DevNode.start(hardfork="shanghai", tools_dir=node_tools, startup_timeout=60.0)
    try:
        yield node
    finally:
        node.stop()


@pytest.mark.integration
async def test_a_shanghai_node_is_refused_with_the_hardfork_to_use(shanghai_node: DevNode) -> None:
    async with await DevChain.connect(shanghai_node.url) as chain:
        with pytest.raises(UnsupportedChainError) as info:
            await check_chain(chain)
    message = info.value.message
    assert info.value.code == "unsupported_chain" and info.value.details["missing"] == ["MCOPY"]
    assert "compiled for the cancun hardfork" in message and "MCOPY" in message
    assert "anvil --hardfork cancun" in message and "vcsdk dev up" in message and "--rpc-url" in message


@pytest.mark.integration
def test_deploy_to_a_shanghai_node_deploys_nothing(
    shanghai_node: DevNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "deployer.jwk"
    key.write_text(json.dumps(Key.generate("secp256k1").private_jwk()))
    out = tmp_path / "network.json"
    assert main(["deploy", "--rpc-url", shanghai_node.url, "--key", str(key), "--out", str(out)]) == 1
    error = json.loads(capsys.readouterr().err)["error"]
    assert error["code"] == "unsupported_chain" and "anvil --hardfork cancun" in error["message"]
    assert not out.exists()


@pytest.mark.integration
async def test_the_dev_node_runs_the_contracts_hardfork(anvil_node: DevNode, anvil_chain: Chain) -> None:
    info = await anvil_chain.w3.provider.make_request("anvil_nodeInfo", [])  # type: ignore[arg-type]
    assert info["result"]["hardFork"].lower() == contracts_hardfork()
    await check_chain(anvil_chain, chain_id=anvil_node.chain_id)


@pytest.mark.integration
async def test_deploy_accepts_a_hex_chain_id(
    anvil_node: DevNode, anvil_chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployer = Key.generate("secp256k1")
    await anvil_chain.fund(key_address(deployer), 10**18)
    key = tmp_path / "deployer.jwk"
    key.write_text(json.dumps(deployer.private_jwk()))
    out = tmp_path / "network.json"
    argv = ["deploy", "--rpc-url", anvil_node.url, "--key", str(key), "--chain-id", hex(anvil_node.chain_id),
            "--out", str(out)]
    assert await asyncio.to_thread(main, argv) == 0  # main() runs its own event loop
    assert json.loads(out.read_text())["chain_id"] == anvil_node.chain_id == 0x7A69
    capsys.readouterr()


def test_a_chain_id_that_is_not_a_number_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", "--rpc-url", "http://127.0.0.1:9", "--key", "k", "--chain-id", "kaga", "--out", "n"])
    assert exit_info.value.code == 2
    assert "e.g. 31337 or 0x7a69" in capsys.readouterr().err
