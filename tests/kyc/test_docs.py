"""The quick-start snippet in docs/kyc.md runs as written and issues a verifiable credential."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

from vcsdk.credentials import verify_sd_jwt

DOC = Path(__file__).resolve().parents[2] / "docs" / "kyc.md"


def _quick_start() -> str:
    section = DOC.read_text(encoding="utf-8").split("## Quick start", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


async def test_quick_start_runs():
    """As written: no name the block uses comes from anywhere but the block itself."""
    namespace: dict[str, object] = {}
    code = compile(_quick_start(), str(DOC), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    await eval(code, namespace)
    verified = verify_sd_jwt(namespace["credential"], issuer_key=namespace["city_key"].public_key(),
                             now=datetime.now(UTC))
    assert verified.holder_key == namespace["device_public_key"]
    assert verified.claims["family_name"] == "髙橋"
    assert verified.claims["address"]["street_address"] == "松が丘二丁目15番地"


async def test_the_wallet_api_example_identity_is_a_seed_resident():
    """docs/wallet-api.md's issuance example verifies on a local city (it was no one, and said no_match)."""
    import json

    from vcsdk.kyc import LocalResidentRegistry, ResidentRegistryClient

    page = (DOC.parent / "wallet-api.md").read_text(encoding="utf-8")
    block = re.search(r"POST /admin/v1/issuances\n.*?\n\n(\{.*?\})\n```", page, re.S).group(1)
    identity = json.loads(block)
    async with LocalResidentRegistry(port=0) as registry, ResidentRegistryClient(registry.url) as client:
        result = await client.check_resident(
            family_name=identity["family_name"], given_name=identity["given_name"],
            birthdate=datetime.strptime(identity["birthdate"], "%Y-%m-%d").date(), address=identity["address"],
        )
    assert result.outcome == "full", result
