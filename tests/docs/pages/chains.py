"""docs/chains.md: the reader's open chain, a deployed DID registry and an identity's owner key."""

from __future__ import annotations

from typing import Any

from vcsdk.registry import Chain, key_address


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
    if chain is not None:
        await chain.close()
