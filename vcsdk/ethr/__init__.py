"""did:ethr on a chain: the DID resolver and the ERC-1056 registry binding (an adapter over
:mod:`vcsdk.did` and :mod:`vcsdk.registry`).

Resolve any supported DID and find an issuer's key::

    resolver = Resolver([EthrNetwork(chain_id=1337, registry="0x…", rpc_urls=("http://127.0.0.1:8545",))])
    result = await resolver.resolve("did:ethr:0x539:0x…")
    key = await resolver.resolve_key(issuer_did, kid)           # vcsdk.credentials.IssuerKeyResolver

Update a did:ethr through its registry::

    registry = await EthrRegistry.bind(chain, networks)
    await registry.set_attribute(identity, *key_attribute(city_p256_key), sender=owner_key)

did:key and did:jwk resolve without a chain; the pure parts (documents, syntax, ``key_attribute``)
are :mod:`vcsdk.did`.
"""

from __future__ import annotations

from vcsdk.ethr._registry import EthrRegistry
from vcsdk.ethr._resolver import Resolver

__all__ = ["EthrRegistry", "Resolver"]
