"""``vcsdk sd-jwt``: issue, present, verify and decode SD-JWT VCs from the command line.

Claim paths on the command line are either JSON arrays (``'["address", "locality"]'``) or dotted
paths (``address.locality``; a number is an array index, ``*`` means every element).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._cli._common import (
    PinnedKeyResolver,
    chain_id_arg,
    ethr_chain_id_of,
    moment,
    read_token,
    status_in_flag_terms,
    status_list_tokens,
)
from vcsdk.errors import InvalidInputError, MalformedTokenError
from vcsdk.keys import Key


def register(sub: Any) -> None:
    group = sub.add_parser("sd-jwt", help="issue, present, verify and decode SD-JWT VCs (dc+sd-jwt)")
    actions = group.add_subparsers(dest="sd_jwt_command", metavar="ACTION", required=True)

    issue = actions.add_parser("issue", help="issue an SD-JWT VC and print it")
    issue.add_argument("--issuer-key", type=Path, required=True, help="the issuer's private JWK file")
    issue.add_argument("--claims", type=Path, required=True, help="a JSON object of claims")
    issue.add_argument("--holder-key", type=Path, help="the holder's public JWK file (cnf.jwk)")
    issue.add_argument("--iss", help="issuer identifier (default: the did:jwk of the issuer key)")
    issue.add_argument("--kid", help="kid header (default: <iss>#0 for the did:jwk, else the key's kid)")
    issue.add_argument("--vct", help="credential type (default: the claims file's vct member)")
    issue.add_argument(
        "--sd",
        nargs="+",
        action="extend",
        metavar="PATH",
        help="claim paths to make disclosable (default: every top-level claim)",
    )
    issue.add_argument("--expires-in", type=int, metavar="SECONDS", help="set exp this many seconds after iat")
    issue.add_argument("--status", type=Path, help="a JSON file with the status claim")
    issue.add_argument("--decoys", type=int, default=0, help="decoy digests per _sd array")
    issue.add_argument("--now", type=int, metavar="UNIX", help="issuance time (default: the system clock)")
    issue.set_defaults(handler=_issue)

    present = actions.add_parser("present", help="make a key-bound presentation and print it")
    present.add_argument("sd_jwt", type=Path, metavar="SD_JWT_FILE")
    present.add_argument("--holder-key", type=Path, required=True, help="the holder's private JWK file")
    present.add_argument("--disclose", nargs="+", action="extend", default=[], metavar="PATH")
    present.add_argument("--aud", required=True, help="the verifier (KB-JWT aud)")
    present.add_argument("--nonce", required=True, help="the verifier's nonce")
    present.add_argument("--now", type=int, metavar="UNIX", help="KB-JWT iat (default: the system clock)")
    present.set_defaults(handler=_present)

    verify = actions.add_parser("verify", help="verify an SD-JWT VC or presentation; print the verified claims")
    verify.add_argument("token", type=Path, metavar="FILE")
    source = verify.add_mutually_exclusive_group(required=True)
    source.add_argument("--issuer-key", type=Path, help="the issuer's public JWK file")
    source.add_argument("--resolve", action="store_true", help="resolve the issuer DID (did:jwk, did:key, did:ethr)")
    verify.add_argument("--chain-id", type=chain_id_arg,
                        help="with --resolve: the did:ethr chain id (default: the issuer DID's; decimal or 0x hex)")
    verify.add_argument("--registry", help="with --resolve: the ERC-1056 registry address")
    verify.add_argument("--rpc-url", action="append", default=[], help="with --resolve: a JSON-RPC URL")
    verify.add_argument("--aud", help="expected KB-JWT aud")
    verify.add_argument("--nonce", help="expected KB-JWT nonce")
    verify.add_argument("--no-kb", action="store_true", help="verify the issuer-signed credential alone")
    verify.add_argument("--now", type=int, metavar="UNIX", help="verification time (default: the system clock)")
    verify.add_argument(
        "--status-list", action="append", default=[], metavar="URI=FILE", help="a Status List Token for a list URI"
    )
    verify.add_argument("--skip-status", action="store_true", help="do not check the credential's status")
    verify.add_argument("--legacy-typ", action="store_true", help="also accept typ vc+sd-jwt")
    verify.set_defaults(handler=_verify)

    decode = actions.add_parser("decode", help="show header, payload and Disclosures, unverified")
    decode.add_argument("token", type=Path, metavar="FILE")
    decode.set_defaults(handler=_decode)


# -- helpers ---------------------------------------------------------------------------------------------


def parse_path(text: str) -> list[str | int | None]:
    """A claim path from the command line: a JSON array, or dotted with numbers and ``*``."""
    if text[:1] in ("[", "{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise InvalidInputError(f"claim path {text!r} is not a JSON array") from None
        if not isinstance(value, list):
            raise InvalidInputError(f"claim path {text!r} is not a JSON array")
        from vcsdk.credentials.sd_jwt import check_claim_path

        return list(check_claim_path(value))
    steps: list[str | int | None] = []
    for step in text.split("."):
        if step == "*":
            steps.append(None)
        elif step.isdigit():
            steps.append(int(step))
        elif step:
            steps.append(step)
        else:
            raise InvalidInputError(f"claim path {text!r} has an empty step")
    return steps


def _read_json_object(path: Path, what: str) -> dict[str, Any]:
    from vcsdk._json import parse_json_object

    return parse_json_object(path.read_bytes(), what=what)


# -- handlers ---------------------------------------------------------------------------------------------


def _issue(args: argparse.Namespace) -> int:
    from vcsdk.credentials import issue_sd_jwt_vc
    from vcsdk.did import did_jwk_for

    key = Key.from_jwk(args.issuer_key.read_bytes())
    if not key.is_private:
        raise InvalidInputError("--issuer-key must be a private JWK")
    claims = _read_json_object(args.claims, "claims file")
    vct = args.vct or claims.pop("vct", None)
    claims.pop("vct", None)
    if not isinstance(vct, str) or not vct:
        raise InvalidInputError("give --vct or a vct member in the claims file")
    iss = args.iss or did_jwk_for(key)
    kid = args.kid or (f"{iss}#0" if args.iss is None else key.kid)
    paths = [parse_path(p) for p in args.sd] if args.sd else [[name] for name in claims]
    holder = Key.from_jwk(args.holder_key.read_bytes()).public_key() if args.holder_key else None
    now = moment(args.now)
    token = issue_sd_jwt_vc(
        claims,
        issuer=iss,
        signer=key,
        vct=vct,
        disclosable=paths,
        holder_key=holder,
        status=_read_json_object(args.status, "status file") if args.status else None,
        now=now,
        expires_at=now + timedelta(seconds=args.expires_in) if args.expires_in else None,
        decoys=args.decoys,
        kid=kid,
    )
    sys.stdout.write(token + "\n")
    return 0


def _present(args: argparse.Namespace) -> int:
    from vcsdk.credentials import present

    holder = Key.from_jwk(args.holder_key.read_bytes())
    if not holder.is_private:
        raise InvalidInputError("--holder-key must be the holder's private JWK")
    token = present(
        read_token(args.sd_jwt),
        disclose=[parse_path(p) for p in args.disclose],
        holder_signer=holder,
        audience=args.aud,
        nonce=args.nonce,
        now=moment(args.now),
    )
    sys.stdout.write(token + "\n")
    return 0


def _resolver(args: argparse.Namespace, token: str) -> Any:
    if args.issuer_key is not None:
        return PinnedKeyResolver(Key.from_jwk(args.issuer_key.read_bytes()))
    from vcsdk.did import EthrNetwork
    from vcsdk.ethr import Resolver

    networks = []
    if args.chain_id is not None or args.registry is not None or args.rpc_url:
        if args.registry is None or not args.rpc_url:
            raise InvalidInputError("did:ethr resolution needs --registry and --rpc-url (--chain-id is optional)")
        chain_id = args.chain_id if args.chain_id is not None else ethr_chain_id_of(token)
        networks.append(EthrNetwork(chain_id=chain_id, registry=args.registry, rpc_urls=tuple(args.rpc_url)))
    return Resolver(networks)


def _status_checker(args: argparse.Namespace, resolver: Any) -> Any:
    if args.skip_status or not args.status_list:
        return None
    from vcsdk.status import StaticStatusListSource, StatusListChecker

    return StatusListChecker(resolver=resolver, source=StaticStatusListSource(status_list_tokens(args.status_list)))


async def _verify_async(args: argparse.Namespace) -> dict[str, Any]:
    from vcsdk.credentials import VerificationPolicy

    if args.no_kb and (args.aud or args.nonce):
        raise InvalidInputError("--no-kb verifies the credential alone; drop --aud and --nonce")
    if not args.no_kb and not (args.aud and args.nonce):
        raise InvalidInputError("give --aud and --nonce to verify a presentation, or --no-kb for a credential")
    token = read_token(args.token)
    resolver = _resolver(args, token)
    status = _status_checker(args, resolver)
    policy = VerificationPolicy(accept_legacy_typ=args.legacy_typ, check_status=not args.skip_status)
    now = moment(args.now)
    try:
        with status_in_flag_terms():
            result = await _verify_token(args, token, policy=policy, resolver=resolver, status=status, now=now)
    finally:
        close = getattr(resolver, "close", None)
        if close is not None:
            await close()  # a DID resolver's chain connections
    return {
        "verified": True,
        "issuer": result.issuer,
        "kid": result.kid,
        "vct": result.vct,
        "key_bound": result.key_bound,
        "holder_key": result.holder_key.public_jwk() if result.holder_key else None,
        "issued_at": result.issued_at.isoformat() if result.issued_at else None,
        "expires_at": result.expires_at.isoformat() if result.expires_at else None,
        "status": result.status,
        "claims": result.claims,
    }


async def _verify_token(args: argparse.Namespace, token: str, **checks: Any) -> Any:
    from vcsdk.credentials import verify_credential, verify_presentation

    if args.no_kb:
        return await verify_credential(token, **checks)
    return await verify_presentation(token, audience=args.aud, nonce=args.nonce, **checks)


def _verify(args: argparse.Namespace) -> int:
    print_json(asyncio.run(_verify_async(args)))
    return 0


def _decode(args: argparse.Namespace) -> int:
    from vcsdk.credentials.sd_jwt import parse

    parsed = parse(read_token(args.token))
    out: dict[str, Any] = {
        "verified": False,
        "warning": "decoded only: no signature, time, key binding or status was checked",
        "serialization": parsed.serialization,
        "header": parsed.header,
        "payload": parsed.payload,
        "disclosures": [
            {"name": d.name, "value": d.value, "salt": d.salt, "encoded": d.encoded}
            if d.name is not None
            else {"array_element": True, "value": d.value, "salt": d.salt, "encoded": d.encoded}
            for d in parsed.disclosures
        ],
        "key_binding_jwt": None,
    }
    if parsed.kb_jwt is not None:
        try:
            kb = parsed.unverified_kb_jwt()
            out["key_binding_jwt"] = {"header": kb[0], "payload": kb[1]} if kb else None
        except MalformedTokenError as exc:
            out["key_binding_jwt"] = {"error": exc.message}
    print_json(out)
    return 0
