"""docs/chains.md: the city's node (chain id 1337) as a local anvil node, the reader's open chain,
a deployed DID registry and an identity's owner key."""

from __future__ import annotations

from typing import Any

from vcsdk.registry import Chain, DevNode, key_address

CITY_CHAIN_ID = 1337


async def setup(ns: dict[str, Any]) -> None:
    node = DevNode.start(chain_id=CITY_CHAIN_ID)
    ns.update(_node=node, node_url=node.url)


async def before(source: str, ns: dict[str, Any]) -> None:
    if 'chain.contract("EthereumDIDRegistry"' in source:
        chain = await Chain.embedded().__aenter__()
        owner_key = chain.dev_keys[0]
        ns.update(
            chain=chain,
            registry_address=await chain.deploy("EthereumDIDRegistry", sender=owner_key),
            identity=key_address(owner_key),
            owner_key=owner_key,
            new_owner=key_address(chain.dev_keys[1]),
        )


async def teardown(ns: dict[str, Any]) -> None:
    chain = ns.get("chain")
    try:
        if chain is not None:
            await chain.close()
    finally:
        if "_node" in ns:
            ns["_node"].stop()
