"""docs/registration.md: the city's and the shop's DIDs and keys, a credential type, a resolver and a
verify function for the shop's Verifier."""

from __future__ import annotations

from typing import Any

from vcsdk.credentials import StaticKeyResolver
from vcsdk.keys import Key

CITY_DID = "did:ethr:0x1:0x00000000000000000000000000000000000000c1"
SHOP_DID = "did:ethr:0x1:0x5b3b0e1d3c2f9a3e4c5d6e7f8091a2b3c4d5e6f7"


async def setup(ns: dict[str, Any]) -> None:
    city_key = Key.generate("secp256k1").with_kid(CITY_DID + "#controller")
    shop_key = Key.generate("P-256").with_kid(SHOP_DID + "#key-1")
    ns.update(
        city_did=CITY_DID, city_key=city_key, shop_did=SHOP_DID, shop_key=shop_key,
        vct="https://credentials.kaga.example/ResidentIdentityCredential",
        resolver=StaticKeyResolver({CITY_DID: city_key, SHOP_DID: shop_key}),
        verify=lambda presentation, *, audience, nonce: {},
    )
