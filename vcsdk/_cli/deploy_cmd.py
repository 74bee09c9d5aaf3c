"""``vcsdk deploy``: deploy the city's three contracts to a JSON-RPC chain and write a network config.

The config is one JSON object (see docs/configuration.md)::

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
of the AccessReceiptRegistry; the DID registry has no owner. Other commands read the file with
:func:`load_network_config` and build the did:ethr network with :func:`ethr_network`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key

#: The contracts ``vcsdk deploy`` puts on chain, in deployment order.
CONTRACTS = ("EthereumDIDRegistry", "TrustedIssuerRegistry", "AccessReceiptRegistry")


def register(sub: Any) -> None:
    deploy = sub.add_parser(
        "deploy",
        help="deploy the DID, trusted-issuer and access-receipt registries; write a network config",
        description="Deploy EthereumDIDRegistry, TrustedIssuerRegistry and AccessReceiptRegistry to a "
        "JSON-RPC chain and write the network config (chain id, RPC URL, addresses, deployment blocks).",
    )
    deploy.add_argument("--rpc-url", required=True, help="JSON-RPC URL of the node")
    deploy.add_argument("--key", type=Path, required=True, help="the deployer's private secp256k1 JWK (funded)")
    deploy.add_argument("--chain-id", type=int, help="refuse to deploy unless the node serves this chain id")
    deploy.add_argument("--confirmations", type=int, default=1, help="blocks each deployment needs (default 1)")
    deploy.add_argument("--timeout", type=float, default=10.0, help="seconds any single RPC request may take")
    deploy.add_argument("--out", type=Path, required=True, help="where to write the network config JSON")
    deploy.set_defaults(handler=_run)


def load_network_config(path: Path) -> dict[str, Any]:
    """Read and check a network config written by ``vcsdk deploy``.

    :param path: the JSON file.
    :raises InvalidInputError: if it is not a network config (a member missing or of the wrong type).
    :raises OSError: if the file cannot be read.
    :return: the config as a dict.
    """
    from vcsdk._json import parse_json

    config = parse_json(path.read_bytes(), what="network config")
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


def ethr_network(config: dict[str, Any], *, finality_depth: int = 0) -> Any:
    """The did:ethr network (a :class:`vcsdk.did.EthrNetwork`) of a network config.

    :param config: a config from :func:`load_network_config`.
    :param finality_depth: resolve this many blocks below the head.
    :raises InvalidInputError: if the registry address is malformed.
    """
    from vcsdk.did import EthrNetwork

    return EthrNetwork(
        chain_id=config["chain_id"],
        registry=config["contracts"]["EthereumDIDRegistry"]["address"],
        rpc_urls=(config["rpc_url"],),
        finality_depth=finality_depth,
    )


def _load_key(path: Path) -> Key:
    key = Key.from_jwk(path.read_bytes())
    if key.curve != "secp256k1" or not key.is_private:
        raise InvalidInputError("--key must be a private secp256k1 JWK (an Ethereum account)")
    return key


def _run(args: argparse.Namespace) -> int:
    if args.confirmations < 1:
        raise InvalidInputError("--confirmations must be 1 or more")
    key = _load_key(args.key)
    config = asyncio.run(deploy_contracts(args.rpc_url, key, chain_id=args.chain_id,
                                          confirmations=args.confirmations, timeout=args.timeout))
    # Write the whole file or nothing: a half-written config is worse than none.
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, args.out)
    print_json({**config, "out": str(args.out)})
    return 0


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
    :raises TransactionRevertedError: if a deployment reverts (e.g. the account has no funds).
    :return: the network config (a JSON-ready dict).
    """
    from vcsdk.registry import Chain, key_address, load_artifact

    async with await Chain.connect(
        rpc_url, chain_id=chain_id, confirmations=confirmations, timeout=timeout
    ) as chain:
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
