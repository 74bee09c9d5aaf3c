"""vcsdk.voting loads lazily: unknown names fail cleanly, and its pure part imports no I/O library.

Its public names are pinned with every other package's in tests/test_public_api.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import vcsdk.voting

FORBIDDEN = ("web3", "aiohttp", "sqlite3", "aiosqlite", "asyncpg", "zeep", "httpx", "eth_tester")


def test_unknown_names_raise_attribute_error() -> None:
    try:
        vcsdk.voting.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("expected AttributeError")


def test_devices_and_auditors_use_no_io_library() -> None:
    code = (
        "import json, sys\n"
        "from vcsdk.voting import verify_published_election, verify_ballot_receipt, Election, begin_token, "
        "finish_token, token_request, parse_token_answer, cast_request, parse_cast_answer, BallotTokenIssuer\n"
        f"print(json.dumps(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
