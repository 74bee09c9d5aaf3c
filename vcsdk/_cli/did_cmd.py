"""``vcsdk did``: resolve DIDs; create and update did:ethr identities on an ERC-1056 registry."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._cli._common import chain_id_arg
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key


def _chain_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--rpc-url", action="append", required=required, help="JSON-RPC URL (repeat for failover)")
    parser.add_argument("--registry", required=required, help="ERC-1056 registry contract address")
    parser.add_argument("--chain-id", type=chain_id_arg,
                        help="chain id, decimal or 0x hex (default: the DID's hex network segment)")
    parser.add_argument("--network-name", help="network name DIDs may use instead of the hex chain id")


def _update_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("did", help="the did:ethr to update")
    _chain_options(parser, required=True)
    parser.add_argument("--key", type=Path, required=True, help="the owner's private secp256k1 JWK file")
    parser.add_argument(
        "--relayer-key",
        type=Path,
        help="submit as a signed meta-transaction paid by this funded secp256k1 JWK (the owner only signs)",
    )


def register(sub: Any) -> None:
    did = sub.add_parser("did", help="resolve DIDs; create and update did:ethr identities")
    did_sub = did.add_subparsers(dest="did_command", metavar="ACTION", required=True)

    resolve = did_sub.add_parser("resolve", help="print the DID resolution result as JSON")
    resolve.add_argument("did", help="a did:ethr, did:key or did:jwk (with ?versionId= / ?versionTime=)")
    _chain_options(resolve, required=False)
    resolve.add_argument("--finality-depth", type=int, default=0, help="resolve this many blocks below the head")
    resolve.set_defaults(handler=_resolve)

    create = did_sub.add_parser("create", help="make a new secp256k1 key and its did:ethr")
    create.add_argument("--chain-id", type=chain_id_arg,
                        help="put this chain id in the DID (given decimal or 0x hex); default: no network segment")
    create.add_argument("--network-name", help="put this network name in the DID instead")
    create.add_argument("--public-key-did", action="store_true", help="use the compressed public key, not the address")
    create.add_argument("--out", type=Path, help="write the private JWK here (mode 0600); default: print it")
    create.set_defaults(handler=_create)

    attr = did_sub.add_parser("set-attribute", help="publish a key or service attribute")
    _update_options(attr)
    attr.add_argument("name", nargs="?", help="attribute name, e.g. did/svc/CredentialIssuer")
    attr.add_argument("value", nargs="?", help="attribute value (text; with --hex, hex bytes)")
    attr.add_argument("--hex", action="store_true", help="the value is hex-encoded bytes")
    attr.add_argument(
        "--publish-key", type=Path, help="publish this public JWK as a did/pub attribute instead of NAME VALUE"
    )
    attr.add_argument("--purpose", choices=["veriKey", "sigAuth"], default="veriKey")
    attr.add_argument("--validity", type=int, default=None, help="seconds the attribute stays valid")
    attr.set_defaults(handler=_set_attribute)

    delegate = did_sub.add_parser("add-delegate", help="add a delegate address (veriKey or sigAuth)")
    _update_options(delegate)
    delegate.add_argument("delegate_type", choices=["veriKey", "sigAuth"])
    delegate.add_argument("delegate", help="the delegate's Ethereum address")
    delegate.add_argument("--validity", type=int, default=None, help="seconds the delegate stays valid")
    delegate.set_defaults(handler=_add_delegate)

    owner = did_sub.add_parser("change-owner", help="hand control of the identity to another address")
    _update_options(owner)
    owner.add_argument("new_owner", help="the new owner's Ethereum address")
    owner.set_defaults(handler=_change_owner)

    deactivate = did_sub.add_parser("deactivate", help="deactivate the DID for good (owner set to 0x0)")
    _update_options(deactivate)
    deactivate.set_defaults(handler=_deactivate)


def _network(args: argparse.Namespace, did: str) -> Any:
    from vcsdk.did import EthrNetwork, parse_ethr_did

    parsed = parse_ethr_did(did)
    chain_id = args.chain_id if args.chain_id is not None else parsed.chain_id
    if chain_id is None:
        raise InvalidInputError(f"the DID names its network by name ({parsed.network[:40]}); pass --chain-id")
    if not args.rpc_url or not args.registry:
        raise InvalidInputError("resolving or updating a did:ethr needs --rpc-url and --registry")
    name = args.network_name
    if name is None and parsed.chain_id is None:
        name = parsed.network
    return EthrNetwork(chain_id=chain_id, registry=args.registry, rpc_urls=tuple(args.rpc_url), name=name)


def _run(coro: Callable[[], Awaitable[int]]) -> int:
    return asyncio.run(coro())  # type: ignore[arg-type]


def _resolve(args: argparse.Namespace) -> int:
    from vcsdk.did import parse_did_url
    from vcsdk.ethr import Resolver

    url = parse_did_url(args.did)
    networks = []
    if url.method == "ethr":
        from dataclasses import replace

        networks.append(replace(_network(args, args.did), finality_depth=args.finality_depth))

    async def run() -> int:
        async with Resolver(networks) as resolver:
            result = await resolver.resolve(args.did)
        print_json(result.to_json())
        return 0

    return _run(run)


def _create(args: argparse.Namespace) -> int:
    from vcsdk.registry import key_address

    key = Key.generate("secp256k1")
    identifier = "0x" + key.compressed_public_bytes().hex() if args.public_key_did else key_address(key)
    if args.network_name:
        network = args.network_name + ":"
    elif args.chain_id is not None:
        network = hex(args.chain_id) + ":"
    else:
        network = ""
    did = f"did:ethr:{network}{identifier}"
    out: dict[str, Any] = {"did": did, "address": key_address(key), "public_jwk": key.public_jwk()}
    if args.out:
        args.out.touch(mode=0o600)
        args.out.write_text(json.dumps(key.private_jwk(), indent=2) + "\n")
    else:
        out["private_jwk"] = key.private_jwk()
    print_json(out)
    return 0


def _load_key(path: Path) -> Key:
    key = Key.from_jwk(path.read_bytes())
    if key.curve != "secp256k1" or not key.is_private:
        raise InvalidInputError(f"{path.name} must hold a private secp256k1 JWK")
    return key


async def _update(args: argparse.Namespace, action: Callable[[Any, str, Key, Key | None], Awaitable[Any]]) -> int:
    from vcsdk.did import parse_ethr_did
    from vcsdk.ethr import EthrRegistry
    from vcsdk.registry import Chain

    network = _network(args, args.did)
    owner = _load_key(args.key)
    relayer = _load_key(args.relayer_key) if args.relayer_key else None
    identity = parse_ethr_did(args.did).address
    async with await Chain.connect(network.rpc_urls[0], chain_id=network.chain_id) as chain:
        registry = await EthrRegistry.bind(chain, [network], registry=network.registry)
        tx = await action(registry, identity, owner, relayer)
    print_json(
        {
            "did": args.did,
            "tx_hash": "0x" + tx.tx_hash.hex(),
            "block_number": tx.block_number,
            "relayed": relayer is not None,
        }
    )
    return 0


def _validity(args: argparse.Namespace) -> dict[str, int]:
    return {} if args.validity is None else {"validity": args.validity}


def _set_attribute(args: argparse.Namespace) -> int:
    from vcsdk.did import key_attribute

    if args.publish_key is not None:
        if args.name is not None:
            raise InvalidInputError("give either NAME VALUE or --publish-key, not both")
        name, value = key_attribute(Key.from_jwk(args.publish_key.read_bytes()), purpose=args.purpose)
    else:
        if args.name is None or args.value is None:
            raise InvalidInputError("set-attribute needs NAME and VALUE (or --publish-key)")
        name = args.name
        try:
            value = bytes.fromhex(args.value.removeprefix("0x")) if args.hex else args.value.encode("utf-8")
        except ValueError:
            raise InvalidInputError("--hex value is not hex") from None

    async def action(registry: Any, identity: str, owner: Key, relayer: Key | None) -> Any:
        if relayer is None:
            return await registry.set_attribute(identity, name, value, sender=owner, **_validity(args))
        return await registry.set_attribute_signed(
            identity, name, value, owner_key=owner, relayer=relayer, **_validity(args)
        )

    return _run(lambda: _update(args, action))


def _add_delegate(args: argparse.Namespace) -> int:
    async def action(registry: Any, identity: str, owner: Key, relayer: Key | None) -> Any:
        if relayer is None:
            return await registry.add_delegate(
                identity, args.delegate_type, args.delegate, sender=owner, **_validity(args)
            )
        return await registry.add_delegate_signed(
            identity, args.delegate_type, args.delegate, owner_key=owner, relayer=relayer, **_validity(args)
        )

    return _run(lambda: _update(args, action))


def _change_owner(args: argparse.Namespace) -> int:
    async def action(registry: Any, identity: str, owner: Key, relayer: Key | None) -> Any:
        if relayer is None:
            return await registry.change_owner(identity, args.new_owner, sender=owner)
        return await registry.change_owner_signed(identity, args.new_owner, owner_key=owner, relayer=relayer)

    return _run(lambda: _update(args, action))


def _deactivate(args: argparse.Namespace) -> int:
    async def action(registry: Any, identity: str, owner: Key, relayer: Key | None) -> Any:
        if relayer is None:
            return await registry.deactivate(identity, sender=owner)
        return await registry.deactivate_signed(identity, owner_key=owner, relayer=relayer)

    return _run(lambda: _update(args, action))
