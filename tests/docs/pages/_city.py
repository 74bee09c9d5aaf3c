"""A city on a fresh embedded chain, for pages whose snippets assume one: its DID with a published
P-256 key, the network config to resolve it, and status lists served from memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vcsdk.credentials import StatusListIssuer, resident_identity_claims
from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.ethr import EthrRegistry, Resolver
from vcsdk.keys import Key
from vcsdk.registry import Chain, EmbeddedChain, key_address
from vcsdk.status import StaticStatusListSource, StatusListChecker


@dataclass
class City:
    chain: EmbeddedChain
    networks: list[EthrNetwork]
    did: str
    key: Key  # P-256, kid = the DID URL of the published key
    governance: Key

    async def published_key(self, owner: Key) -> tuple[str, Key]:
        """Publish a fresh P-256 key on ``owner``'s did:ethr; return the DID and the key with its kid."""
        return await _publish(self.chain, self.networks[0], owner)

    def status_checker(self, lists: dict[str, StatusListIssuer], *, now: datetime,
                       tokens: dict[str, str] | None = None) -> StatusListChecker:
        """A checker whose lists (uri -> issuer state, or signed tokens) the city signed, held in memory."""
        tokens = {**{uri: lst.publish(self.key, now=now, iss=self.did) for uri, lst in lists.items()},
                  **(tokens or {})}
        return StatusListChecker(resolver=Resolver(self.networks, cache_ttl=timedelta(0)),
                                 source=StaticStatusListSource(tokens))


async def _publish(chain: EmbeddedChain, network: EthrNetwork, owner: Key) -> tuple[str, Key]:
    signing = Key.generate("P-256")
    await (await EthrRegistry.bind(chain, network)).set_attribute(
        key_address(owner), *key_attribute(signing), sender=owner)
    did = f"did:ethr:{hex(int(chain.chain_id))}:{key_address(owner)}"
    async with Resolver([network]) as resolver:
        published = await resolver.resolve_key(did, None)
    return did, signing.with_kid(published.kid or "")


async def start_city() -> City:
    chain = await Chain.embedded().__aenter__()
    governance = chain.dev_keys[0]
    registry = await chain.deploy("EthereumDIDRegistry", sender=governance)
    network = EthrNetwork(chain_id=int(chain.chain_id), registry=registry, chain=chain)
    did, key = await _publish(chain, network, governance)
    return City(chain, [network], did, key, governance)


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
