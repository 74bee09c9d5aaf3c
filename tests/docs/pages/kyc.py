"""docs/kyc.md: the city's DID, the resident's device key, a wallet to send to, the kyc types."""

from __future__ import annotations

from typing import Any

from vcsdk.keys import Key
from vcsdk.kyc import CheckResult, ResidentStatus


async def setup(ns: dict[str, Any]) -> None:
    wallet: list[str] = []
    ns.update(CITY_DID="did:ethr:0x7a69:0x00000000000000000000000000000000000c1770",
              device_public_key=Key.generate("P-256").public_key(), send_to_wallet=wallet.append,
              _wallet=wallet, CheckResult=CheckResult, ResidentStatus=ResidentStatus)


async def teardown(ns: dict[str, Any]) -> None:
    assert len(ns["_wallet"]) == 1, "the quick start issued no credential"
