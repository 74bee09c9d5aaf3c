"""A city on a fresh embedded chain, for pages whose snippets assume one: the ``vcsdk.City`` recipe
deployed there, its DID with a published P-256 key, and status lists served from memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import vcsdk
from vcsdk.credentials import StatusListIssuer, resident_identity_claims
from vcsdk.did import EthrNetwork
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.registry import Chain, EmbeddedChain
from vcsdk.status import StaticStatusListSource, StatusListChecker
from vcsdk.trust import TrustRegistry


@dataclass
class City:
    city: vcsdk.City
    chain: EmbeddedChain
    did: str
    key: Key  # P-256, kid = the DID URL of the published key
    governance: Key

    @property
    def networks(self) -> list[EthrNetwork]:
        return [self.city.network]

    @property
    def resolver(self) -> Resolver:
        return self.city.resolver

    @property
    def trust(self) -> TrustRegistry:
        """The city's trusted-issuer registry (governance and status publisher: ``governance``)."""
        return self.city.trust

    async def published_key(self, owner: Key) -> tuple[str, Key]:
        """Publish a fresh P-256 key on ``owner``'s did:ethr; return the DID and the key with its kid."""
        return await self.city.publish_key(owner)

    def status_checker(self, lists: dict[str, StatusListIssuer], *, now: datetime,
                       tokens: dict[str, str] | None = None) -> StatusListChecker:
        """The city's checker, its lists (uri -> issuer state, or signed tokens) signed by the city, held in memory."""
        tokens = {**{uri: lst.publish(self.key, now=now, iss=self.did) for uri, lst in lists.items()},
                  **(tokens or {})}
        return self.city.status_checker(StaticStatusListSource(tokens))

    async def close(self) -> None:
        await self.city.close()
        await self.chain.close()


async def start_city() -> City:
    chain = await Chain.embedded().__aenter__()
    governance = chain.dev_keys[0]
    city = await vcsdk.City.deploy(chain, sender=governance)
    did, key = await city.publish_key(governance)
    return City(city, chain, did, key, governance)


def now() -> datetime:
    return datetime.now(UTC)


def city_names(city: City) -> dict[str, Any]:
    """The names pages use for the city."""
    return {"city_did": city.did, "city_key": city.key, "city_kid": city.key.kid, "networks": city.networks,
            "CITY_DID": city.did, "_city": city}


def resident_claims(at: datetime) -> dict[str, Any]:
    """The claims of a made-up resident of Kaga."""
    return resident_identity_claims(
        family_name="Kaga", given_name="Hanako", birthdate="1990-04-01", resident_since="2015-04-01",
        address={"postal_code": "922-8622", "region": "Ishikawa", "locality": "Kaga", "street_address": "1-1"},
        verification={"level": "substantial", "method": "resident_registry", "time": "2026-01-05T00:00:00Z"},
        as_of=at.date())
