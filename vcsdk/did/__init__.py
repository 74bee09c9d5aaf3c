"""DIDs: did:ethr on an ERC-1056 registry (resolve, update, deactivate, history), did:key, did:jwk.

Resolve any supported DID and find an issuer's key::

    resolver = Resolver([EthrNetwork(chain_id=1337, registry="0x…", rpc_urls=("http://127.0.0.1:8545",))])
    result = await resolver.resolve("did:ethr:0x539:0x…")
    key = await resolver.resolve_key(issuer_did, kid)           # vcsdk.credentials.IssuerKeyResolver

Update a did:ethr through its registry (``EthrRegistry``, imported on first use so that the pure parts
of this package never import web3)::

    registry = await EthrRegistry.bind(chain, networks)
    await registry.set_attribute(identity, *key_attribute(city_p256_key), sender=owner_key)

The pure functions (:func:`build_ethr_document`, :func:`key_from_document`, the parsers) do no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vcsdk.did._document import (
    DidDocument,
    DidDocumentMetadata,
    DidResolutionMetadata,
    DidResolutionResult,
    document_from_json,
)
from vcsdk.did._erc1056 import decode_erc1056_log
from vcsdk.did._ethr_document import EthrDocument, build_ethr_document
from vcsdk.did._events import DidAttributeChanged, DidDelegateChanged, DidOwnerChanged, Erc1056Event
from vcsdk.did._key_lookup import key_from_document, key_from_verification_method
from vcsdk.did._key_methods import did_jwk_for, did_key_for
from vcsdk.did._network import EthrNetwork
from vcsdk.did._resolver import Resolver
from vcsdk.did._syntax import Did, DidUrl, EthrDid, parse_did_url, parse_ethr_did

if TYPE_CHECKING:  # pragma: no cover
    from vcsdk.did._ethr_registry import EthrRegistry, key_attribute

__all__ = [
    "Did",
    "DidAttributeChanged",
    "DidDelegateChanged",
    "DidDocument",
    "DidDocumentMetadata",
    "DidOwnerChanged",
    "DidResolutionMetadata",
    "DidResolutionResult",
    "DidUrl",
    "Erc1056Event",
    "EthrDid",
    "EthrDocument",
    "EthrNetwork",
    "EthrRegistry",
    "Resolver",
    "build_ethr_document",
    "decode_erc1056_log",
    "did_jwk_for",
    "did_key_for",
    "document_from_json",
    "key_attribute",
    "key_from_document",
    "key_from_verification_method",
    "parse_did_url",
    "parse_ethr_did",
]

_LAZY = {"EthrRegistry", "key_attribute"}


def __getattr__(name: str) -> Any:
    # The registry binding imports web3; load it only when asked for.
    if name in _LAZY:
        from vcsdk.did import _ethr_registry

        return getattr(_ethr_registry, name)
    raise AttributeError(f"module 'vcsdk.did' has no attribute {name!r}")
