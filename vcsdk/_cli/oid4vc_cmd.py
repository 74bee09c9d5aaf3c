"""``vcsdk oid4vc``: check DCQL queries, read offer and request links, render QR codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json


def register(sub: Any) -> None:
    cmd = sub.add_parser("oid4vc", help="OpenID4VCI / OpenID4VP helpers: DCQL, offers, request links, QR codes")
    actions = cmd.add_subparsers(dest="oid4vc_command", metavar="ACTION", required=True)
    dcql = actions.add_parser("dcql", help="validate a DCQL query (JSON file, '-' for stdin) and print it normalized")
    dcql.add_argument("file")
    dcql.set_defaults(handler=_dcql)
    offer = actions.add_parser("offer", help="read an openid-credential-offer:// URI (by value or by reference)")
    offer.add_argument("uri")
    offer.set_defaults(handler=_offer)
    link = actions.add_parser("request-link", help="read an openid4vp:// link (client_id, request_uri)")
    link.add_argument("uri")
    link.set_defaults(handler=_request_link)
    qr = actions.add_parser("qr", help="render a URI as a QR code (SVG, or PNG with --png)")
    qr.add_argument("uri")
    qr.add_argument("--png", action="store_true", help="write PNG instead of SVG")
    qr.add_argument("--out", type=Path, help="write the image here instead of stdout")
    qr.set_defaults(handler=_qr)


def _dcql(args: argparse.Namespace) -> int:
    from vcsdk.oid4vc import parse_dcql_query

    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    print_json(parse_dcql_query(data).to_dict())
    return 0


def _offer(args: argparse.Namespace) -> int:
    from vcsdk.oid4vc import parse_credential_offer_uri

    offer = parse_credential_offer_uri(args.uri)
    print_json({"credential_offer_uri": offer} if isinstance(offer, str) else offer.to_dict())
    return 0


def _request_link(args: argparse.Namespace) -> int:
    from vcsdk.oid4vc import parse_authorization_request_uri

    ref = parse_authorization_request_uri(args.uri)
    out = {"client_id": ref.client_id, "request_uri": ref.request_uri, "request_uri_method": ref.request_uri_method}
    if ref.request is not None:
        out["request"] = ref.request
    print_json(out)
    return 0


def _qr(args: argparse.Namespace) -> int:
    from vcsdk.oid4vc import render_qr

    image = render_qr(args.uri, kind="png" if args.png else "svg")
    if args.out:
        args.out.write_bytes(image)
    else:
        sys.stdout.buffer.write(image)
        sys.stdout.flush()
    return 0
