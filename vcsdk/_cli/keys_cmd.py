"""``vcsdk key``: generate keys and show their public JWK and thumbprint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk.keys import Key


def register(sub: Any) -> None:
    key = sub.add_parser("key", help="generate and inspect JWK keys")
    key_sub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    gen = key_sub.add_parser("generate", help="make a new private key and print it as a JWK")
    gen.add_argument("--curve", choices=["P-256", "secp256k1", "Ed25519"], default="P-256")
    gen.add_argument("--out", type=Path, help="write the private JWK here (mode 0600) instead of stdout")
    gen.add_argument("--public-out", type=Path, help="also write the public JWK here")
    gen.set_defaults(handler=_generate)
    show = key_sub.add_parser("public", help="print the public JWK and RFC 7638 thumbprint of a JWK file")
    show.add_argument("jwk", type=Path)
    show.set_defaults(handler=_public)


def _generate(args: argparse.Namespace) -> int:
    key = Key.generate(args.curve)
    private = key.private_jwk(include_kid=True)
    if args.out:
        args.out.touch(mode=0o600)
        args.out.write_text(json.dumps(private, indent=2) + "\n")
    if args.public_out:
        args.public_out.write_text(json.dumps(key.public_jwk(include_kid=True), indent=2) + "\n")
    print_json({"kid": key.kid, "alg": key.alg, "public_jwk": key.public_jwk()} if args.out else private)
    return 0


def _public(args: argparse.Namespace) -> int:
    key = Key.from_jwk(args.jwk.read_bytes())
    print_json({"kid": key.kid, "alg": key.alg, "thumbprint": key.thumbprint(), "public_jwk": key.public_jwk()})
    return 0
