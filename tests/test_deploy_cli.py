"""``vcsdk deploy``: the three contracts on a real anvil node, and the errors a caller can hit."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests._net import free_port
from vcsdk._cli import main
from vcsdk.did import EthrNetwork
from vcsdk.errors import InvalidInputError
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.registry import CONTRACTS, Chain, DevNode, key_address, load_network_config
from vcsdk.trust import TrustRegistry


def _key_file(tmp_path: Path, key: Key) -> Path:
    path = tmp_path / "deployer.jwk"
    path.write_text(json.dumps(key.private_jwk()))
    return path


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    error = json.loads(captured.err)["error"]
    assert isinstance(error, dict)
    return error


@pytest.mark.integration
async def test_deploy_writes_a_usable_network_config(
    anvil_node: DevNode, anvil_chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Key.generate("secp256k1")  # a fresh deployer, funded from the node's dev account
    await anvil_chain.fund(key_address(key), 10**18)
    out = tmp_path / "network.json"
    argv = ["deploy", "--rpc-url", anvil_node.url, "--key", str(_key_file(tmp_path, key)),
            "--chain-id", str(anvil_node.chain_id), "--out", str(out)]
    # main() runs its own event loop; run it in a worker thread so this test's loop stays free.
    assert await asyncio.to_thread(main, argv) == 0
    printed = json.loads(capsys.readouterr().out)
    config = json.loads(out.read_text())
    assert printed["out"] == str(out) and {k: v for k, v in printed.items() if k != "out"} == config
    assert config["chain_id"] == anvil_node.chain_id and config["rpc_url"] == anvil_node.url
    assert config["deployer"] == key_address(key)
    assert list(config["contracts"]) == ["EthereumDIDRegistry", "TrustedIssuerRegistry", "AccessReceiptRegistry"]
    blocks = [c["block"] for c in config["contracts"].values()]
    assert blocks == sorted(blocks) and len({c["address"] for c in config["contracts"].values()}) == 3

    chain = anvil_chain
    # Other commands read the file back.
    assert load_network_config(out) == config
    assert EthrNetwork.from_network_config(config).registry == config["contracts"]["EthereumDIDRegistry"]["address"]
    for entry in config["contracts"].values():
        assert await chain.w3.eth.get_code(entry["address"]) != b""
    # The DID registry from the config resolves a did:ethr on that chain.
    network = EthrNetwork(chain_id=config["chain_id"], registry=config["contracts"]["EthereumDIDRegistry"]["address"],
                          rpc_urls=(config["rpc_url"],))
    async with Resolver([network]) as resolver:
        did = f"did:ethr:{hex(config['chain_id'])}:{key_address(key)}"
        assert (await resolver.resolve(did)).to_json()["didDocument"]["id"] == did
    # The deployer is governance of the trusted-issuer registry.
    trust = TrustRegistry(chain, config["contracts"]["TrustedIssuerRegistry"]["address"])
    now = datetime.now(UTC)
    await trust.accredit("did:ethr:0x1:0x1111111111111111111111111111111111111111", "urn:type",
                         valid_from=now - timedelta(days=1), sender=key)
    assert await trust.is_accredited("did:ethr:0x1:0x1111111111111111111111111111111111111111", "urn:type",
                                     at=now)


@pytest.mark.integration
def test_deploy_refuses_the_wrong_chain_id(anvil_node: DevNode, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "network.json"
    error = _error(capsys, ["deploy", "--rpc-url", anvil_node.url, "--key",
                            str(_key_file(tmp_path, Key.generate("secp256k1"))),
                            "--chain-id", str(anvil_node.chain_id + 1), "--out", str(out)])
    assert error["code"] == "wrong_chain_id"
    assert not out.exists()


def test_deploy_to_an_unreachable_node_is_a_json_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # a loopback port nobody listens on
    out = tmp_path / "network.json"
    error = _error(capsys, ["deploy", "--rpc-url", f"http://127.0.0.1:{port}", "--key",
                            str(_key_file(tmp_path, Key.generate("secp256k1"))), "--timeout", "2", "--out", str(out)])
    assert error["code"] == "chain_unavailable"
    assert not out.exists()


def test_deploy_refuses_a_non_ethereum_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = _error(capsys, ["deploy", "--rpc-url", "http://127.0.0.1:9", "--key",
                            str(_key_file(tmp_path, Key.generate("P-256"))), "--out", str(tmp_path / "n.json")])
    assert error["code"] == "invalid_input"


def test_deploy_refuses_a_non_http_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = _error(capsys, ["deploy", "--rpc-url", "ws://127.0.0.1:9", "--key",
                            str(_key_file(tmp_path, Key.generate("secp256k1"))), "--out", str(tmp_path / "n.json")])
    assert error["code"] == "invalid_input"


def test_deploy_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--rpc-url", "--key", "--chain-id", "--confirmations", "--out"):
        assert option in help_text


def _config() -> dict[str, object]:
    return {"chain_id": 1337, "rpc_url": "http://127.0.0.1:8545", "confirmations": 1, "deployer": "0x" + "1" * 40,
            "contracts": {name: {"address": "0x" + str(i + 2) * 40, "block": i + 1, "tx": "0x" + "ab" * 32}
                          for i, name in enumerate(CONTRACTS)}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("chain_id"), "chain_id"),
        (lambda c: c.update(chain_id=True), "chain_id"),
        (lambda c: c.update(rpc_url="ws://127.0.0.1"), "rpc_url"),
        (lambda c: c.update(contracts=[]), "contracts"),
        (lambda c: c["contracts"].pop("AccessReceiptRegistry"), "AccessReceiptRegistry"),
        (lambda c: c["contracts"]["TrustedIssuerRegistry"].update(block="1"), "block"),
    ],
)
def test_network_config_is_checked(tmp_path: Path, change: Any, message: str) -> None:
    config = _config()
    change(config)
    path = tmp_path / "network.json"
    path.write_text(json.dumps(config))
    with pytest.raises(InvalidInputError, match=message):
        load_network_config(path)


def test_ethr_network_from_a_network_config() -> None:
    config = _config()
    network = EthrNetwork.from_network_config(config, finality_depth=2)
    assert (network.chain_id, network.rpc_urls, network.finality_depth) == (1337, ("http://127.0.0.1:8545",), 2)
    assert network.registry.lower() == "0x" + "2" * 40
    del config["contracts"]["EthereumDIDRegistry"]  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="not a network config"):
        EthrNetwork.from_network_config(config)
    with pytest.raises(InvalidInputError, match="not a network config"):
        EthrNetwork.from_network_config({"chain_id": 1337, "rpc_url": "http://127.0.0.1:8545", "contracts": []})


def test_network_config_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "network.json"
    path.write_text("chain_id = 1337")
    with pytest.raises(InvalidInputError):
        load_network_config(path)
    path.write_text("[]")
    with pytest.raises(InvalidInputError):
        load_network_config(path)


def test_the_documented_config_has_the_written_shape() -> None:
    """docs/configuration.md shows the file `vcsdk deploy` writes: same members, same contracts."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)```", doc, re.S)[1].replace('"0x…"', '"0x"'))  # type: ignore[index]
    assert set(example) == set(_config())
    assert list(example["contracts"]) == list(CONTRACTS)
    assert all(set(entry) == {"address", "block", "tx"} for entry in example["contracts"].values())


def test_did_create_takes_a_hex_chain_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["did", "create", "--chain-id", "0x7a69"]) == 0
    assert json.loads(capsys.readouterr().out)["did"].startswith("did:ethr:0x7a69:0x")
    assert main(["did", "create", "--chain-id", "31337"]) == 0
    assert json.loads(capsys.readouterr().out)["did"].startswith("did:ethr:0x7a69:0x")
