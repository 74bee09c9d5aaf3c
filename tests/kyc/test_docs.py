"""The quick-start snippet in docs/kyc.md runs as written and issues a verifiable credential."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

from vcsdk.credentials import verify_sd_jwt
from vcsdk.keys import Key

DOC = Path(__file__).resolve().parents[2] / "docs" / "kyc.md"


def _quick_start() -> str:
    section = DOC.read_text(encoding="utf-8").split("## Quick start", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


async def test_quick_start_runs():
    device = Key.generate("P-256").public_key()
    wallet: list[str] = []
    namespace = {
        "CITY_DID": "did:ethr:0x7a69:0x00000000000000000000000000000000000c1770",
        "device_public_key": device,
        "send_to_wallet": wallet.append,
    }
    code = compile(_quick_start(), str(DOC), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    await eval(code, namespace)
    assert len(wallet) == 1
    verified = verify_sd_jwt(wallet[0], issuer_key=namespace["city_key"].public_key(), now=datetime.now(UTC))
    assert verified.holder_key == device
    assert verified.claims["family_name"] == "髙橋"
    assert verified.claims["address"]["street_address"] == "松が丘二丁目15番地"
