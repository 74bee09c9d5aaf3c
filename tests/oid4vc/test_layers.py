"""The protocol modules import no I/O library; the aiohttp glue loads only when asked for."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("web3", "aiohttp", "sqlite3", "aiosqlite", "asyncpg", "zeep", "httpx", "eth_tester")


def _imported_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_protocol_modules_import_no_io_library():
    assert _imported_after("import vcsdk.oid4vc") == []


def test_http_glue_is_lazy():
    assert _imported_after("from vcsdk.oid4vc import verifier_routes") == ["aiohttp"]


def test_public_api():
    import vcsdk.oid4vc as oid4vc

    assert oid4vc.__all__ == sorted(oid4vc.__all__)
    for name in oid4vc.__all__:
        assert getattr(oid4vc, name) is not None
