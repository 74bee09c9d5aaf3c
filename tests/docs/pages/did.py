"""docs/did.md: the city's network (chain id 1337) as a local anvil node with a deployed registry.

The page's network config names the city's nodes; before the blocks that talk to the chain, the
same config (chain id, registry, name, finality depth) is pointed at the local node instead.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.ethr import EthrRegistry
from vcsdk.keys import Key
from vcsdk.registry import DevChain, DevNode, key_address

CHAIN_ID = 1337


async def setup(ns: dict[str, Any]) -> None:
    node = DevNode.start(chain_id=CHAIN_ID)
    chain = await DevChain.connect(node.url, chain_id=CHAIN_ID, mine_to_confirm=True, confirmations=3,
                                poll_interval=0.05)
    owner = (await chain.dev_accounts())[0]
    registry_address = await chain.deploy("EthereumDIDRegistry", sender=owner)
    # An issuer DID with a published P-256 key, deep enough for finality_depth=2.
    network = EthrNetwork(chain_id=CHAIN_ID, registry=registry_address, chain=chain)
    issuer = (await chain.dev_accounts())[1]
    await (await EthrRegistry.bind(chain, network)).set_attribute(
        issuer, *key_attribute(Key.generate("P-256")), sender=issuer)
    block = await chain.get_block("latest")
    ns.update(
        _node=node, _chain=chain, registry_address=registry_address, rpc_url=node.url,
        issuer_did=f"did:ethr:{hex(CHAIN_ID)}:{issuer}", kid=f"did:ethr:{hex(CHAIN_ID)}:{issuer}#delegate-1",
        issued_at=datetime.fromtimestamp(block.timestamp, UTC),
        identity=owner, owner_key=owner, city_p256_key=Key.generate("P-256"),
        delegate_address=key_address(Key.generate("secp256k1")),
    )


async def before(source: str, ns: dict[str, Any]) -> None:
    if "async with Resolver(networks)" in source or "EthrRegistry.bind(chain, networks)" in source:
        ns["networks"] = [dataclasses.replace(n, rpc_urls=(ns["rpc_url"],)) for n in ns["networks"]]


async def teardown(ns: dict[str, Any]) -> None:
    if "_chain" in ns:
        await ns["_chain"].close()
    if "_node" in ns:
        ns["_node"].stop()
