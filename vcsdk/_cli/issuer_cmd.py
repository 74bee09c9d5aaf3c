"""``vcsdk issuer``: the city's trusted-issuer registry — deploy, accredit, suspend, unsuspend,
revoke, list and check accreditations, and anchor status-list digests, over a JSON-RPC node."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._cli._common import chain_id_arg
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key


def _chain_args(p: argparse.ArgumentParser, *, registry: bool = True, key: bool = True) -> None:
    p.add_argument("--rpc-url", required=True, help="JSON-RPC URL of the node")
    p.add_argument("--chain-id", type=chain_id_arg, help="expected chain id (decimal or 0x hex)")
    p.add_argument("--confirmations", type=int, default=1, help="blocks a transaction needs")
    if registry:
        p.add_argument("--registry", required=True, help="TrustedIssuerRegistry contract address")
    if key:
        p.add_argument("--key", type=Path, required=True, help="governance or publisher private secp256k1 JWK")


def register(sub: Any) -> None:
    issuer = sub.add_parser("issuer", help="accredit issuers and anchor status digests on chain")
    s = issuer.add_subparsers(dest="issuer_command", metavar="ACTION", required=True)

    deploy = s.add_parser("deploy", help="deploy a TrustedIssuerRegistry; --key becomes governance")
    _chain_args(deploy, registry=False)
    deploy.set_defaults(handler=_run, action="deploy")

    accredit = s.add_parser("accredit", help="accredit an issuer DID for a credential type (vct)")
    _chain_args(accredit)
    accredit.add_argument("did")
    accredit.add_argument("credential_type", help="the vct, or the W3C credential type")
    accredit.add_argument("--valid-from", type=int, metavar="UNIX", help="default: now")
    accredit.add_argument("--valid-until", type=int, metavar="UNIX", help="default: open-ended")
    accredit.set_defaults(handler=_run, action="accredit")

    for name in ("suspend", "unsuspend", "revoke"):
        cmd = s.add_parser(name, help=f"{name} an accreditation")
        _chain_args(cmd)
        cmd.add_argument("did")
        cmd.add_argument("credential_type")
        cmd.set_defaults(handler=_run, action=name)

    listing = s.add_parser("list", help="every accredited issuer/type pair with its state")
    _chain_args(listing, key=False)
    listing.set_defaults(handler=_run, action="list")

    check = s.add_parser("check", help="exit 0 if the issuer is accredited for the type (at --at)")
    _chain_args(check, key=False)
    check.add_argument("did")
    check.add_argument("credential_type")
    check.add_argument("--at", type=int, metavar="UNIX", help="default: now")
    check.set_defaults(handler=_run, action="check")

    anchor = s.add_parser("anchor", help="anchor the digests of status list files (one transaction)")
    _chain_args(anchor)
    anchor.add_argument("files", type=Path, nargs="+", help="status list files (vcsdk status create)")
    anchor.set_defaults(handler=_run, action="anchor")


def _time(unix: int | None) -> datetime:
    return datetime.fromtimestamp(unix, UTC) if unix is not None else datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_dispatch(args))


async def _dispatch(args: argparse.Namespace) -> int:
    from vcsdk.registry import Chain
    from vcsdk.trust import TrustRegistry

    key: Key | None = None
    if getattr(args, "key", None) is not None:
        key = Key.from_jwk(args.key.read_bytes())
        if key.curve != "secp256k1" or not key.is_private:
            raise InvalidInputError("--key must be a private secp256k1 JWK (an Ethereum account)")
    async with await Chain.connect(args.rpc_url, chain_id=args.chain_id, confirmations=args.confirmations) as chain:
        if args.action == "deploy":
            assert key is not None
            registry = await TrustRegistry.deploy(chain, sender=key)
            print_json({"registry": registry.address, "chain_id": int(chain.chain_id)})
            return 0
        trust = TrustRegistry(chain, args.registry)
        actions: dict[str, Callable[[], Awaitable[int]]] = {
            "accredit": lambda: _accredit(trust, args, key),
            "suspend": lambda: _change(trust, args, key),
            "unsuspend": lambda: _change(trust, args, key),
            "revoke": lambda: _change(trust, args, key),
            "list": lambda: _list(trust),
            "check": lambda: _check(trust, args),
            "anchor": lambda: _anchor(trust, args, key),
        }
        return await actions[args.action]()


async def _accredit(trust: Any, args: argparse.Namespace, key: Key | None) -> int:
    tx = await trust.accredit(
        args.did, args.credential_type, valid_from=_time(args.valid_from),
        valid_until=_time(args.valid_until) if args.valid_until is not None else None, sender=key,
    )
    print_json({"accredited": True, "tx": "0x" + tx.tx_hash.hex(), "block": tx.block_number})
    return 0


async def _change(trust: Any, args: argparse.Namespace, key: Key | None) -> int:
    tx = await getattr(trust, args.action)(args.did, args.credential_type, sender=key)
    acc = await trust.accreditation(args.did, args.credential_type)
    print_json({"state": acc.state if acc else None, "tx": "0x" + tx.tx_hash.hex(), "block": tx.block_number})
    return 0


async def _list(trust: Any) -> int:
    print_json([
        {"issuer": a.issuer, "credential_type": a.credential_type, "state": a.state,
         "valid_from": _iso(a.valid_from), "valid_until": _iso(a.valid_until)}
        for a in await trust.list_accreditations()
    ])
    return 0


async def _check(trust: Any, args: argparse.Namespace) -> int:
    from vcsdk.errors import IssuerNotAccreditedError

    at = _time(args.at)
    if not await trust.is_accredited(args.did, args.credential_type, at=at):
        raise IssuerNotAccreditedError("issuer is not accredited for this credential type at that time")
    print_json({"accredited": True, "at": _iso(at)})
    return 0


async def _anchor(trust: Any, args: argparse.Namespace, key: Key | None) -> int:
    from vcsdk._cli.status_cmd import load_issuer
    from vcsdk.credentials import StatusListIssuer
    from vcsdk.trust import StatusDigest

    digests = []
    for path in args.files:
        issuer = load_issuer(path)
        if isinstance(issuer, StatusListIssuer):
            digests.append(StatusDigest(issuer.uri, issuer.digest, issuer.version))
        else:
            digests += [StatusDigest(issuer.urls[p], issuer.digest(p), issuer.version) for p in issuer.lists]
    tx = await trust.anchor_status_digests(digests, sender=key)
    print_json({"anchored": [{"uri": d.uri, "digest": d.digest.hex(), "version": d.version} for d in digests],
                "tx": "0x" + tx.tx_hash.hex(), "block": tx.block_number})
    return 0
