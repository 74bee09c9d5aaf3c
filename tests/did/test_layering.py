"""vcsdk.did is pure: importing it loads no I/O library (the chain side is vcsdk.ethr)."""

from __future__ import annotations

import json
import subprocess
import sys

import vcsdk.did

FORBIDDEN = ("web3", "aiohttp", "eth_tester", "httpx")


def _imported_after(code: str) -> list[str]:
    program = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    result: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_package_and_pure_modules_import_no_io_library() -> None:
    assert _imported_after("import vcsdk.did, vcsdk.did.erc1056") == []


def test_public_api_is_small_and_sorted() -> None:
    assert vcsdk.did.__all__ == sorted(vcsdk.did.__all__)
    for name in vcsdk.did.__all__:
        assert getattr(vcsdk.did, name) is not None


def test_resolver_is_an_issuer_key_resolver() -> None:
    from vcsdk.credentials import IssuerKeyResolver
    from vcsdk.ethr import Resolver

    resolver: IssuerKeyResolver = Resolver([])
    assert callable(resolver.resolve_key)
