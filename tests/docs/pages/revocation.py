"""docs/revocation.md: the city (DID and key on an embedded chain, which is also governance and
status publisher of a deployed trusted-issuer registry), a credential's claims and type."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from vcsdk.trust import TrustRegistry

sys.path.insert(0, str(Path(__file__).parent))
from _city import city_names, now, resident_claims, start_city


async def setup(ns: dict[str, Any]) -> None:
    city = await start_city()
    trust = await TrustRegistry.deploy(city.chain, sender=city.governance)
    moment = now()
    ns.update(city_names(city), chain=city.chain, registry_address=trust.address, publisher_key=city.governance,
              governance_key=city.governance, now=moment, start=moment - timedelta(days=1),
              claims=resident_claims(moment), vct="https://credentials.kaga.example/ResidentIdentityCredential")


async def teardown(ns: dict[str, Any]) -> None:
    if "_city" in ns:
        await ns["_city"].chain.close()
