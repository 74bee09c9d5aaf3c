"""``vcsdk did``: resolve (JSON on stdout, exit 0; JSON error with code on stderr, exit 1), create, updates."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests._net import free_port
from vcsdk._cli import main
from vcsdk.did import did_key_for
from vcsdk.keys import Key
from vcsdk.registry import Chain, DevNode, key_address


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, Any]:
    code = main(["did", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, json.loads(err) if err.strip() else None


def test_resolve_did_key_offline(capsys: pytest.CaptureFixture[str]) -> None:
    did = did_key_for(Key.generate("P-256"))
    code, out, err = run(capsys, "resolve", did)
    assert code == 0 and err is None
    assert out["didDocument"]["id"] == did
    assert set(out) == {"didResolutionMetadata", "didDocument", "didDocumentMetadata"}


@pytest.mark.parametrize(
    ("argv", "error_code"),
    [
        (["resolve", "did:ethr:0x1234"], "invalid_did"),
        (["resolve", "did:web:example.org"], "method_not_supported"),
        (["resolve", "did:ethr:0x539:0x" + "12" * 20], "invalid_input"),  # no --rpc-url / --registry
        (
            [
                "resolve",
                "did:ethr:mainnet:0x" + "12" * 20,
                "--rpc-url",
                "http://127.0.0.1:1",
                "--registry",
                "0x" + "34" * 20,
            ],
            "invalid_input",
        ),  # a network name needs --chain-id
    ],
)
def test_resolve_errors_are_json_with_codes(
    capsys: pytest.CaptureFixture[str], argv: list[str], error_code: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1 and out is None
    assert err["error"]["code"] == error_code


def test_resolve_rpc_down(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(
        capsys, "resolve", "did:ethr:0x539:0x" + "12" * 20, "--rpc-url", url, "--registry", "0x" + "34" * 20
    )
    assert code == 1 and err["error"]["code"] == "chain_unavailable"


def test_create_writes_a_private_jwk(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "owner.jwk"
    code, out, _ = run(capsys, "create", "--chain-id", "1337", "--out", str(out_file))
    assert code == 0
    key = Key.from_jwk(out_file.read_bytes())
    assert out["did"] == f"did:ethr:0x539:{key_address(key)}"
    assert "private_jwk" not in out
    assert out_file.stat().st_mode & 0o077 == 0
    code, out, _ = run(capsys, "create", "--public-key-did")
    assert out["did"].startswith("did:ethr:0x0") and len(out["did"]) == len("did:ethr:0x") + 66


@pytest.mark.integration
async def test_updates_through_the_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, anvil_chain: Chain, anvil_node: DevNode
) -> None:
    accounts = await anvil_chain.dev_accounts()
    registry = await anvil_chain.deploy("EthereumDIDRegistry", sender=accounts[0])
    owner, relayer = Key.generate("secp256k1"), Key.generate("secp256k1")
    await anvil_chain.fund(key_address(owner), 10**18)
    await anvil_chain.fund(key_address(relayer), 10**18)
    (tmp_path / "owner.jwk").write_text(json.dumps(owner.private_jwk()))
    (tmp_path / "relayer.jwk").write_text(json.dumps(relayer.private_jwk()))
    city = Key.generate("P-256")
    (tmp_path / "city.jwk").write_text(json.dumps(city.public_jwk()))
    did = f"did:ethr:{hex(anvil_node.chain_id)}:{key_address(owner)}"
    chain_args = ["--rpc-url", anvil_node.url, "--registry", registry]
    owner_args = [*chain_args, "--key", str(tmp_path / "owner.jwk")]

    # The CLI handlers run their own event loop; run them off this test's loop.
    async def cli_async(*argv: str) -> Any:
        return await asyncio.to_thread(main, ["did", *argv])

    for argv in (
        ["set-attribute", did, "--publish-key", str(tmp_path / "city.jwk"), *owner_args],
        [
            "set-attribute",
            did,
            "did/svc/Hub",
            "https://hub.example.org",
            *owner_args,
            "--relayer-key",
            str(tmp_path / "relayer.jwk"),
        ],
        ["add-delegate", did, "veriKey", accounts[2], *owner_args, "--validity", "86400"],
    ):
        assert await cli_async(*argv) == 0
    capsys.readouterr()
    code = await cli_async("resolve", did, *chain_args)
    out, _ = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)["didDocument"]
    assert [vm["type"] for vm in doc["verificationMethod"]] == [
        "EcdsaSecp256k1RecoveryMethod2020",
        "Multikey",
        "EcdsaSecp256k1RecoveryMethod2020",
    ]
    assert doc["service"][0]["serviceEndpoint"] == "https://hub.example.org"
    new_owner = Key.generate("secp256k1")
    (tmp_path / "new.jwk").write_text(json.dumps(new_owner.private_jwk()))
    await anvil_chain.fund(key_address(new_owner), 10**18)
    assert await cli_async("change-owner", did, key_address(new_owner), *owner_args) == 0
    # The old owner can no longer act: the registry reverts, the CLI reports tx_reverted.
    capsys.readouterr()
    assert await cli_async("deactivate", did, *owner_args) == 1
    _, err = capsys.readouterr()
    assert json.loads(err)["error"]["code"] == "tx_reverted"
    assert await cli_async("deactivate", did, *chain_args, "--key", str(tmp_path / "new.jwk")) == 0
    capsys.readouterr()
    assert await cli_async("resolve", did, *chain_args) == 0
    out, _ = capsys.readouterr()
    assert json.loads(out)["didDocumentMetadata"]["deactivated"] is True
