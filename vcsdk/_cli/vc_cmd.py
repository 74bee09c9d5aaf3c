"""``vcsdk vc``: issue, present, verify and decode W3C VCs secured as ``vc+jwt`` or ``vc+sd-jwt``.

The options follow ``vcsdk sd-jwt``: ``verify`` prints the verified credential as JSON (exit 0) or a
JSON error with its ``code`` on stderr (exit 1); a usage error exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._cli._common import PinnedKeyResolver, moment, read_token, status_in_flag_terms, status_list_tokens
from vcsdk._json import parse_json, parse_json_object
from vcsdk.credentials import (
    IssuerKeyResolver,
    VerificationPolicy,
    build_credential,
    issue_vc_jwt,
    issue_vc_sd_jwt,
    peek_vc_jwt,
    present,
    validate_credential,
    verify_vc,
)
from vcsdk.credentials.status_list import status_entries
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key


def register(sub: Any) -> None:
    vc = sub.add_parser("vc", help="issue, present, verify and decode W3C VCs secured as vc+jwt or vc+sd-jwt")
    vc_sub = vc.add_subparsers(dest="vc_command", metavar="ACTION", required=True)

    issue = vc_sub.add_parser("issue", help="issue a VC DM 2.0 credential as vc+jwt (or vc+sd-jwt with --sd)")
    issue.add_argument("--issuer-key", type=Path, required=True, help="the issuer's private JWK")
    issue.add_argument("--claims", type=Path, required=True,
                       help="credentialSubject claims (JSON), or a whole credential if it has @context")
    issue.add_argument("--holder-key", type=Path,
                       help="holder's public JWK; its did:jwk becomes credentialSubject.id (and cnf with --sd)")
    issue.add_argument("--iss", help="issuer DID (default: the did:jwk of the issuer key)")
    issue.add_argument("--kid", help="kid header, a DID URL of the issuer's assertionMethod key")
    issue.add_argument("--vct", "--type", dest="vct", help="the credential type added after VerifiableCredential")
    issue.add_argument("--sd", action="append", default=[], metavar="PATH",
                       help="a credentialSubject member (dotted path) to make disclosable: issues vc+sd-jwt")
    issue.add_argument("--status", type=Path, help="credentialStatus entry or entries (JSON)")
    issue.add_argument("--valid-days", type=int, help="validUntil this many days after validFrom")
    issue.add_argument("--now", type=int, metavar="UNIX", help="validFrom (default: now)")
    issue.set_defaults(handler=_issue)

    present_cmd = vc_sub.add_parser("present", help="present a vc+sd-jwt with chosen members and a KB-JWT")
    present_cmd.add_argument("file", type=Path, help="file holding the vc+sd-jwt ('-' for stdin)")
    present_cmd.add_argument("--holder-key", type=Path, required=True, help="the holder's private JWK (cnf key)")
    present_cmd.add_argument("--disclose", nargs="+", action="extend", default=[], metavar="PATH",
                             help="credentialSubject members to disclose (dotted paths)")
    present_cmd.add_argument("--aud", required=True, help="the verifier the presentation is for")
    present_cmd.add_argument("--nonce", required=True, help="the verifier's nonce")
    present_cmd.add_argument("--now", type=int, metavar="UNIX", help="KB-JWT iat (default: now)")
    present_cmd.set_defaults(handler=_present)

    verify = vc_sub.add_parser("verify", help="verify a vc+jwt or vc+sd-jwt and print the credential as JSON")
    verify.add_argument("file", type=Path, help="file holding the vc+jwt or vc+sd-jwt ('-' for stdin)")
    who = verify.add_mutually_exclusive_group(required=True)
    who.add_argument("--issuer-key", type=Path, help="the issuer's public JWK")
    who.add_argument("--resolve", action="store_true", help="resolve the issuer DID (did:key, did:jwk, did:ethr)")
    verify.add_argument("--network", action="append", default=[], metavar="CHAIN_ID=RPC_URL@REGISTRY",
                        help="a did:ethr network for --resolve")
    verify.add_argument("--aud", help="this verifier: require a vc+sd-jwt KB-JWT for this audience (with --nonce)")
    verify.add_argument("--nonce", help="the nonce the KB-JWT must carry (with --aud)")
    verify.add_argument("--no-kb", action="store_true", help="no key binding expected (the default without --aud)")
    verify.add_argument("--now", type=int, metavar="UNIX", help="verification time (default: now)")
    verify.add_argument("--status-list", action="append", default=[], metavar="URI=FILE",
                        help="a status list credential/token for URI, read from FILE (repeatable)")
    verify.add_argument("--skip-status", action="store_true", help="do not check the credential's status")
    verify.set_defaults(handler=_verify)

    decode = vc_sub.add_parser("decode", help="show header and credential, UNVERIFIED")
    decode.add_argument("file", type=Path)
    decode.set_defaults(handler=_decode)


def _subject_path(text: str) -> tuple[str, ...]:
    parts = tuple(p for p in text.split(".") if p)
    if not parts:
        raise InvalidInputError("a disclosure path must name a credentialSubject member, e.g. address.locality")
    return parts


def _issue(args: argparse.Namespace) -> int:
    key = Key.from_jwk(Path(args.issuer_key).read_bytes())
    if not key.is_private:
        raise InvalidInputError("--issuer-key must be a private JWK")
    from vcsdk.did import did_jwk_for

    issuer = args.iss or did_jwk_for(key)
    claims = parse_json_object(Path(args.claims).read_bytes(), what="claims file")
    now = moment(args.now)
    if "@context" in claims:
        credential = validate_credential(claims)
    else:
        subject = dict(claims)
        if args.holder_key:
            subject.setdefault("id", did_jwk_for(Key.from_jwk(Path(args.holder_key).read_bytes())))
        status: Any = parse_json(Path(args.status).read_bytes(), what="status file") if args.status else None
        credential = build_credential(
            issuer=issuer,
            types=[args.vct] if args.vct else [],
            subject=subject,
            valid_from=now,
            valid_until=now + timedelta(days=args.valid_days) if args.valid_days else None,
            status=status,
        )
    kid = args.kid or (f"{issuer}#0" if issuer.startswith("did:jwk:") else None)
    if args.sd:
        holder = Key.from_jwk(Path(args.holder_key).read_bytes()).public_key() if args.holder_key else None
        paths = [".".join(_subject_path(p)) for p in args.sd]
        sys.stdout.write(issue_vc_sd_jwt(credential, key, disclosable=paths, holder_key=holder, kid=kid) + "\n")
    else:
        sys.stdout.write(issue_vc_jwt(credential, key, kid=kid) + "\n")
    return 0


def _present(args: argparse.Namespace) -> int:
    holder = Key.from_jwk(Path(args.holder_key).read_bytes())
    if not holder.is_private:
        raise InvalidInputError("--holder-key must be the holder's private JWK")
    token = present(
        read_token(args.file),
        disclose=[("credentialSubject", *_subject_path(p)) for p in args.disclose],
        holder_signer=holder,
        audience=args.aud,
        nonce=args.nonce,
        now=moment(args.now),
    )
    sys.stdout.write(token + "\n")
    return 0


def _networks(specs: list[str]) -> list[Any]:
    from vcsdk.did import EthrNetwork

    out = []
    for spec in specs:
        try:
            chain_id, rest = spec.split("=", 1)
            url, registry = rest.rsplit("@", 1)
            out.append(EthrNetwork(chain_id=int(chain_id, 0), registry=registry, rpc_urls=(url,)))
        except ValueError:
            raise InvalidInputError("--network must look like CHAIN_ID=RPC_URL@REGISTRY") from None
    return out


def _verify(args: argparse.Namespace) -> int:
    if args.no_kb and (args.aud is not None or args.nonce is not None):
        raise InvalidInputError("--no-kb and --aud/--nonce exclude each other")
    token = read_token(args.file)
    return asyncio.run(_verify_async(args, token))


async def _verify_async(args: argparse.Namespace, token: str) -> int:
    from vcsdk.status import StaticStatusListSource, StatusListChecker

    closer: Any = None
    resolver: IssuerKeyResolver
    if args.issuer_key:
        resolver = PinnedKeyResolver(Key.from_jwk(Path(args.issuer_key).read_bytes()))
    else:
        from vcsdk.ethr import Resolver

        closer = Resolver(_networks(args.network))
        resolver = closer
    try:
        lists = status_list_tokens(args.status_list)
        checker = StatusListChecker(resolver=resolver, source=StaticStatusListSource(lists)) if lists else None
        with status_in_flag_terms():
            verified = await verify_vc(
                token, resolver=resolver, status=None if args.skip_status else checker, now=moment(args.now),
                policy=VerificationPolicy(check_status=not args.skip_status), audience=args.aud, nonce=args.nonce,
            )
    finally:
        if closer is not None:
            await closer.close()
    has_status = bool(status_entries(verified.credential))
    print_json({
        "verified": True,
        "issuer": verified.issuer,
        "type": list(verified.types),
        "kid": verified.kid,
        "alg": verified.alg,
        "key_bound": verified.key_bound,
        "status": ("not_checked" if args.skip_status else "valid") if has_status else "none",
        "credential": verified.credential,
    })
    return 0


def _decode(args: argparse.Namespace) -> int:
    token = read_token(args.file)
    if "~" in token:
        # A vc+sd-jwt: header, payload (with _sd digests), every Disclosure, and whether a KB-JWT follows.
        from vcsdk.credentials.sd_jwt import parse

        parsed = parse(token)
        print_json({
            "verified": False,
            "warning": "UNVERIFIED: nothing here is trusted until `vcsdk vc verify` succeeds",
            "header": parsed.header,
            "payload": parsed.payload,
            "disclosures": [
                {"name": d.name, "value": d.value} if d.name is not None else {"array_element": True, "value": d.value}
                for d in parsed.disclosures
            ],
            "key_binding_jwt": parsed.kb_jwt is not None,
        })
        return 0
    unverified = peek_vc_jwt(token)
    print_json({
        "verified": False,
        "warning": "UNVERIFIED: nothing here is trusted until `vcsdk vc verify` succeeds",
        "header": unverified.header,
        "credential": unverified.unverified_credential,
    })
    return 0
