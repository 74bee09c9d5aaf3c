"""``vcsdk status``: the city's status lists as files — create, allocate, revoke, suspend,
reinstate, publish a signed list, and show a list file, a token file or a published URL."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._json import parse_json_object
from vcsdk.credentials.status_list import (
    STATUS_INVALID,
    STATUS_SUSPENDED,
    BitstringStatusListIssuer,
    StatusListIssuer,
    TokenStatusList,
    peek_status_list_token,
    status_list_digest,
)
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key

Issuer = StatusListIssuer | BitstringStatusListIssuer


def register(sub: Any) -> None:
    status = sub.add_parser("status", help="manage status lists (revocation and suspension)")
    s = status.add_subparsers(dest="status_command", metavar="ACTION", required=True)

    create = s.add_parser("create", help="create a new status list file")
    create.add_argument("file", type=Path)
    create.add_argument("--uri", required=True, help="URL the list will be served at")
    create.add_argument("--format", choices=["token", "bitstring"], default="token",
                        help="IETF Token Status List (SD-JWT VC) or W3C Bitstring Status List (W3C VC)")
    create.add_argument("--bits", type=int, choices=[1, 2], default=2, help="token lists: 2 adds suspension")
    create.add_argument("--size", type=int, help="number of entries (default 1048576 / 131072)")
    create.add_argument("--suspension-uri", help="bitstring lists: URL of the suspension list")
    create.add_argument("--issuer", help="bitstring lists: the issuer DID")
    create.add_argument("--force", action="store_true", help="overwrite an existing file")
    create.set_defaults(handler=_create)

    alloc = s.add_parser("allocate", help="take a random unused index; prints the credential's status")
    alloc.add_argument("file", type=Path)
    alloc.set_defaults(handler=_allocate)

    for name, text in (("revoke", "revoke (final)"), ("suspend", "suspend"), ("reinstate", "lift a suspension")):
        cmd = s.add_parser(name, help=f"{text} the credential at INDEX")
        cmd.add_argument("file", type=Path)
        cmd.add_argument("index", type=int)
        cmd.set_defaults(handler=_change, action=name)

    publish = s.add_parser("publish", help="sign the list and print (or write) the token to serve")
    publish.add_argument("file", type=Path)
    publish.add_argument("--issuer-key", type=Path, required=True, help="the issuer's private JWK")
    publish.add_argument("--kid", help="kid header (a DID URL in the issuer's DID document)")
    publish.add_argument("--iss", help="token lists: optional iss claim (the issuer DID)")
    publish.add_argument("--ttl", type=int, default=300, help="seconds verifiers may cache it")
    publish.add_argument("--lifetime", type=int, default=86400, help="seconds until exp / validUntil")
    publish.add_argument("--purpose", choices=["revocation", "suspension"], default="revocation",
                         help="bitstring lists: which list to publish")
    publish.add_argument("--now", type=int, metavar="UNIX")
    publish.add_argument("--out", type=Path, help="write the token here instead of stdout")
    publish.set_defaults(handler=_publish)

    show = s.add_parser("show", help="summarise a list file, a token file or a published https URL (unverified)")
    show.add_argument("source", help="a list file, a token file, or an https:// URL")
    show.add_argument("--index", type=int, action="append", default=[], help="also show the status at INDEX")
    show.add_argument("--allow-loopback-http", action="store_true", help="development: allow http://127.0.0.1")
    show.set_defaults(handler=_show)


def load_issuer(path: Path) -> Issuer:
    state = parse_json_object(path.read_bytes(), what="status list file", max_bytes=64 * 1024 * 1024)
    if state.get("format") == BitstringStatusListIssuer.FORMAT:
        return BitstringStatusListIssuer.from_json(state)
    return StatusListIssuer.from_json(state)


def _save(path: Path, issuer: Issuer) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(issuer.to_json(), indent=1) + "\n")
    os.replace(tmp, path)


def _summary(issuer: Issuer) -> dict[str, Any]:
    if isinstance(issuer, StatusListIssuer):
        raw = issuer.statuses
        values = [raw.get(i) for i in range(raw.size)] if raw.size <= 1 << 22 else []
        return {
            "format": issuer.FORMAT, "uri": issuer.uri, "bits": raw.bits, "size": issuer.size,
            "allocated": issuer.allocated, "version": issuer.version,
            "revoked": values.count(STATUS_INVALID), "suspended": values.count(STATUS_SUSPENDED),
            "digest": issuer.digest.hex(),
        }
    return {
        "format": issuer.FORMAT, "urls": issuer.urls, "issuer": issuer.issuer, "size": issuer.size,
        "version": issuer.version,
        "revoked": sum(bin(b).count("1") for b in issuer.lists["revocation"].to_bytes()),
        "suspended": sum(bin(b).count("1") for b in issuer.lists["suspension"].to_bytes()),
        "digests": {p: issuer.digest(p).hex() for p in issuer.lists},
    }


def _create(args: argparse.Namespace) -> int:
    if args.file.exists() and not args.force:
        raise InvalidInputError("status list file exists; pass --force to overwrite it")
    issuer: Issuer
    if args.format == "token":
        issuer = StatusListIssuer(args.uri, bits=args.bits, **({"size": args.size} if args.size else {}))
    else:
        if not args.suspension_uri or not args.issuer:
            raise InvalidInputError("bitstring lists need --suspension-uri and --issuer")
        issuer = BitstringStatusListIssuer(
            args.uri, args.suspension_uri, issuer=args.issuer, **({"size": args.size} if args.size else {})
        )
    _save(args.file, issuer)
    print_json(_summary(issuer))
    return 0


def _allocate(args: argparse.Namespace) -> int:
    issuer = load_issuer(args.file)
    status = issuer.allocate()
    _save(args.file, issuer)
    print_json(status)
    return 0


def _change(args: argparse.Namespace) -> int:
    issuer = load_issuer(args.file)
    getattr(issuer, args.action)(args.index)
    _save(args.file, issuer)
    print_json({"index": args.index, "status": issuer.status(args.index), "version": issuer.version})
    return 0


def _publish(args: argparse.Namespace) -> int:
    issuer = load_issuer(args.file)
    key = Key.from_jwk(args.issuer_key.read_bytes())
    if not key.is_private:
        raise InvalidInputError("--issuer-key must be a private JWK")
    if args.kid:
        key = key.with_kid(args.kid)
    now = datetime.fromtimestamp(args.now, UTC) if args.now is not None else datetime.now(UTC)
    ttl, lifetime = timedelta(seconds=args.ttl), timedelta(seconds=args.lifetime)
    if isinstance(issuer, StatusListIssuer):
        token = issuer.publish(key, now=now, ttl=ttl, lifetime=lifetime, iss=args.iss)
    else:
        token = issuer.publish(key, args.purpose, now=now, ttl=ttl, lifetime=lifetime)
    if args.out:
        args.out.write_text(token + "\n")
        print_json({"written": str(args.out), "version": issuer.version})
    else:
        sys.stdout.write(token + "\n")
    return 0


def _token_summary(token: bytes, indices: list[int]) -> dict[str, Any]:
    from vcsdk.credentials.status_list import Bitstring

    peeked = peek_status_list_token(token)
    claims = peeked["claims"]
    statuses: TokenStatusList | Bitstring
    if "status_list" in claims:
        statuses = TokenStatusList.from_json(claims["status_list"])
        info = {k: claims.get(k) for k in ("sub", "iss", "iat", "exp", "ttl")}
    else:
        subject = claims.get("credentialSubject") or {}
        statuses = Bitstring.decode(subject.get("encodedList", ""))
        info = {"id": claims.get("id"), "issuer": claims.get("issuer"), "statusPurpose": subject.get("statusPurpose"),
                "validFrom": claims.get("validFrom"), "validUntil": claims.get("validUntil")}
    return {
        "verified": False,
        "warning": "UNVERIFIED: the signature was not checked",
        "header": peeked["header"],
        **info,
        "size": statuses.size,
        "digest": status_list_digest(statuses).hex(),
        "statuses": {str(i): statuses.get(i) for i in indices},
    }


def _show(args: argparse.Namespace) -> int:
    source: str = args.source
    if source.startswith(("https://", "http://")):
        token = asyncio.run(_fetch(source, args.allow_loopback_http))
        print_json(_token_summary(token, args.index))
        return 0
    data = Path(source).read_bytes().strip()
    if data.startswith(b"{"):
        issuer = load_issuer(Path(source))
        out = _summary(issuer)
        out["statuses"] = {str(i): issuer.status(i) for i in args.index}
        print_json(out)
    else:
        print_json(_token_summary(data, args.index))
    return 0


async def _fetch(url: str, allow_loopback_http: bool) -> bytes:
    from vcsdk.status import HttpStatusListFetcher

    async with HttpStatusListFetcher(allow_loopback_http=allow_loopback_http) as fetcher:
        got = await fetcher.fetch(url, accept="application/statuslist+jwt, application/vc+jwt")
    return got.body or b""
