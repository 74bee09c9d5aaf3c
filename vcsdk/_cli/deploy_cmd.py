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
of the AccessReceiptRegistry; the DID registry has no owner.
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
