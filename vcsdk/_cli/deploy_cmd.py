"""``vcsdk deploy``: deploy the city's three contracts to a JSON-RPC chain and write a network config.

The config format, its reader and the deployment itself are :mod:`vcsdk.registry`'s
(:func:`~vcsdk.registry.load_network_config`, :func:`~vcsdk.registry.deploy_contracts`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._cli._common import chain_id_arg
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key


def register(sub: Any) -> None:
    deploy = sub.add_parser(
        "deploy",
        help="deploy the DID, trusted-issuer and access-receipt registries; write a network config",
        description="Deploy EthereumDIDRegistry, TrustedIssuerRegistry and AccessReceiptRegistry to a "
        "JSON-RPC chain and write the network config (chain id, RPC URL, addresses, deployment blocks).",
    )
    deploy.add_argument("--rpc-url", required=True, help="JSON-RPC URL of the node")
    deploy.add_argument("--key", type=Path, required=True, help="the deployer's private secp256k1 JWK (funded)")
    deploy.add_argument("--chain-id", type=chain_id_arg,
                        help="refuse to deploy unless the node serves this chain id (decimal or 0x hex)")
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
    # Imported here for start-up cost: web3 loads only for the commands that use a chain.
    from vcsdk.registry import deploy_contracts

    key = _load_key(args.key)
    config = asyncio.run(deploy_contracts(args.rpc_url, key, chain_id=args.chain_id,
                                          confirmations=args.confirmations, timeout=args.timeout))
    # Write the whole file or nothing: a half-written config is worse than none.
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, args.out)
    print_json({**config, "out": str(args.out)})
    return 0
