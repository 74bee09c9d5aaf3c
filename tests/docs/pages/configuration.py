"""docs/configuration.md: the network.json `vcsdk deploy` would have written, in the working folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_ADDRESSES = {
    "EthereumDIDRegistry": "0x1111111111111111111111111111111111111111",
    "TrustedIssuerRegistry": "0x2222222222222222222222222222222222222222",
    "AccessReceiptRegistry": "0x3333333333333333333333333333333333333333",
}


async def setup(ns: dict[str, Any]) -> None:
    config = {
        "chain_id": 1337, "rpc_url": "https://node.city.example", "confirmations": 6,
        "deployer": "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
        "contracts": {name: {"address": address, "block": 1201 + i, "tx": "0x" + "ab" * 32}
                      for i, (name, address) in enumerate(_ADDRESSES.items())},
    }
    Path("network.json").write_text(json.dumps(config))


async def teardown(ns: dict[str, Any]) -> None:
    if "network" in ns:
        assert ns["network"].registry == _ADDRESSES["EthereumDIDRegistry"] and ns["network"].finality_depth == 5
