"""``vcsdk issuer …`` against a real anvil node (integration)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from vcsdk._cli import main
from vcsdk.keys import Key
from vcsdk.registry import DevNode

# anvil's first default dev account (public test mnemonic; never holds real funds).
ANVIL_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
DID = "did:ethr:0x7a69:0x1111111111111111111111111111111111111111"
VCT = "https://credentials.kaga.example/ResidentIdentityCredential"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.integration
def test_issuer_cli_round_trip(anvil_node: DevNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "gov.jwk"
    key.write_text(json.dumps(Key.from_secp256k1_bytes(ANVIL_KEY).private_jwk()))
    chain = ["--rpc-url", anvil_node.url]
    deployed = _run(capsys, "issuer", "deploy", *chain, "--key", str(key))
    assert isinstance(deployed, dict)
    reg = ["--registry", deployed["registry"]]
    _run(capsys, "issuer", "accredit", DID, VCT, *chain, *reg, "--key", str(key))
    assert _run(capsys, "issuer", "check", DID, VCT, *chain, *reg)["accredited"] is True  # type: ignore[index]
    listed = _run(capsys, "issuer", "list", *chain, *reg)
    assert listed[0]["issuer"] == DID and listed[0]["state"] == "accredited"  # type: ignore[index]
    assert _run(capsys, "issuer", "suspend", DID, VCT, *chain, *reg, "--key", str(key))["state"] == "suspended"  # type: ignore[index]
    # Other tests move the shared node's clock ahead of the wall clock: check well after the suspension.
    later = str(int(time.time()) + 10 * 365 * 86400)
    assert main(["issuer", "check", DID, VCT, *chain, *reg, "--at", later]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "issuer_not_accredited"
    _run(capsys, "issuer", "unsuspend", DID, VCT, *chain, *reg, "--key", str(key))
    assert _run(capsys, "issuer", "revoke", DID, VCT, *chain, *reg, "--key", str(key))["state"] == "revoked"  # type: ignore[index]

    lst = tmp_path / "list.json"
    _run(capsys, "status", "create", str(lst), "--uri", "https://city.example/status/1", "--size", "1024")
    idx = _run(capsys, "status", "allocate", str(lst))["status_list"]["idx"]  # type: ignore[index]
    _run(capsys, "status", "revoke", str(lst), str(idx))
    anchored = _run(capsys, "issuer", "anchor", str(lst), *chain, *reg, "--key", str(key))
    assert anchored["anchored"][0]["version"] == 1  # type: ignore[index]
    # Anchoring the same version again is a rollback and is refused.
    assert main(["issuer", "anchor", str(lst), *chain, *reg, "--key", str(key)]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "tx_reverted"
