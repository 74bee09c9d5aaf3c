"""``vcsdk serve``: the wallet server's command in the ``vcsdk`` CLI (same flags as ``python -m wallet_server``).

The SDK does not import the server: this module is registered under the ``vcsdk.commands`` entry
point group (pyproject.toml), which the CLI reads at start.
"""

from __future__ import annotations

import argparse
from typing import Any

from wallet_server.__main__ import serve
from wallet_server.settings import add_arguments

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``serve`` command to the ``vcsdk`` CLI's sub-parsers."""
    parser = sub.add_parser(
        "serve",
        help="run the wallet server (SQLite and the embedded chain unless told otherwise)",
        description="Run the wallet server. Settings come from --config, VCSDK_WALLET_* variables and flags.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    return serve(args)
