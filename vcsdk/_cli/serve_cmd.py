"""``vcsdk serve``: run the wallet server (same flags as ``python -m wallet_server``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from wallet_server.settings import add_arguments

    serve = sub.add_parser(
        "serve",
        help="run the wallet server (SQLite and the embedded chain unless told otherwise)",
        description="Run the wallet server. Settings come from --config, VCSDK_WALLET_* variables and flags.",
    )
    add_arguments(serve)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from wallet_server.__main__ import serve

    return serve(args)
