"""The network config: the city's three contracts on one chain, as ``vcsdk deploy`` writes it.

One JSON object (see docs/configuration.md)::

    {
      "chain_id": 31337,
      "rpc_url": "http://127.0.0.1:8545",
      "confirmations": 1,
      "deployer": "0x…",
      "contracts": {
        "EthereumDIDRegistry":   {"address": "0x…", "block": 1, "tx": "0x…"},
        "TrustedIssuerRegistry": {"address": "0x…", "block": 2, "tx": "0x…"},
        "AccessReceiptRegistry": {"address": "0x…", "block": 3, "tx": "0x…"}
      }
    }

The deploying key becomes governance of the TrustedIssuerRegistry and owner (and first anchorer)
of the AccessReceiptRegistry; the DID registry has no owner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from vcsdk._json import parse_json
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key
from vcsdk.registry._artifacts import load_artifact
from vcsdk.registry._chain import Chain
from vcsdk.registry._checks import check_chain
from vcsdk.registry._signing import key_address

__all__ = ["CONTRACTS", "deploy_contracts", "load_network_config"]

#: The city's contracts, in deployment order.
CONTRACTS: Final = ("EthereumDIDRegistry", "TrustedIssuerRegistry", "AccessReceiptRegistry")


def load_network_config(path: str | Path) -> dict[str, Any]:
    """Read and check a network config written by ``vcsdk deploy``.

    :param path: the JSON file.
    :raises InvalidInputError: if it is not a network config (a member missing or of the wrong type).
    :raises OSError: if the file cannot be read.
    :return: the config as a dict.
    """
    config = parse_json(Path(path).read_bytes(), what="network config")
    if not isinstance(config, dict):
        raise InvalidInputError("the network config must be a JSON object")
    chain_id, rpc_url, contracts = config.get("chain_id"), config.get("rpc_url"), config.get("contracts")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise InvalidInputError("network config: chain_id must be a positive integer")
    if not isinstance(rpc_url, str) or not rpc_url.startswith(("http://", "https://")):
        raise InvalidInputError("network config: rpc_url must be an http:// or https:// URL")
    if not isinstance(contracts, dict):
        raise InvalidInputError("network config: contracts must be an object")
    for name in CONTRACTS:
        entry = contracts.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("address"), str):
            raise InvalidInputError(f"network config: contracts.{name}.address is missing")
        if isinstance(entry.get("block"), bool) or not isinstance(entry.get("block"), int):
            raise InvalidInputError(f"network config: contracts.{name}.block must be an integer")
    return config


async def deploy_contracts(
    rpc_url: str, key: Key, *, chain_id: int | None = None, confirmations: int = 1, timeout: float = 10.0
) -> dict[str, Any]:
    """Deploy the three registries with ``key`` and return the network config.

    :param rpc_url: ``http://`` or ``https://`` URL of the node.
    :param key: the funded deployer account (private secp256k1 key).
    :param chain_id: the chain id the node must serve; ``None`` accepts what it reports.
    :param confirmations: blocks each deployment needs before the next one is sent.
    :param timeout: seconds any single RPC request may take.
    :raises ChainUnavailableError: if the node does not answer.
    :raises ChainIdMismatchError: if the node serves another chain id.
    :raises UnsupportedChainError: if the node's EVM lacks an opcode the contracts use (an older
        hardfork): nothing is deployed.
    :raises TransactionRevertedError: if a deployment reverts (e.g. the account has no funds).
    :return: the network config (a JSON-ready dict).
    """
    async with await Chain.connect(
        rpc_url, chain_id=chain_id, confirmations=confirmations, timeout=timeout
    ) as chain:
        # Deployment would succeed on an older hardfork; every later call would fail. Refuse now.
        await check_chain(chain)
        contracts: dict[str, dict[str, Any]] = {}
        for name in CONTRACTS:
            artifact = load_artifact(name)
            tx = await chain.send(to=None, data=artifact.bytecode, sender=key, what=f"deploying {name}")
            contracts[name] = {"address": tx.contract_address, "block": tx.block_number, "tx": "0x" + tx.tx_hash.hex()}
        return {
            "chain_id": int(chain.chain_id),
            "rpc_url": rpc_url,
            "confirmations": confirmations,
            "deployer": key_address(key),
            "contracts": contracts,
        }
