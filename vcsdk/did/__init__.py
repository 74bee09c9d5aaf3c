"""DIDs, pure: documents, DID URL syntax, did:key and did:jwk, did:ethr documents from ERC-1056 events.

Nothing here does I/O. Resolving a did:ethr needs a chain: that is :mod:`vcsdk.ethr`
(``Resolver``, ``EthrRegistry``), an adapter on top of this package and :mod:`vcsdk.registry`.

Expand a did:key or did:jwk and find a key in any resolved document::

    result = resolve_did_key("did:key:z6Mk…")
    key = key_from_document(result.did_document, kid, relationship="assertionMethod")

Build a did:ethr document from the registry's events (what :class:`vcsdk.ethr.Resolver` does)
with :func:`build_ethr_document`; publish a key on a did:ethr as the attribute :func:`key_attribute`
returns.
"""

from __future__ import annotations

from vcsdk.did._document import (
    DidDocument,
    DidDocumentMetadata,
    DidResolutionMetadata,
    DidResolutionResult,
    document_from_json,
)
from vcsdk.did._ethr_document import EthrDocument, build_ethr_document, key_attribute
from vcsdk.did._events import DidAttributeChanged, DidDelegateChanged, DidOwnerChanged, Erc1056Event
from vcsdk.did._key_lookup import key_from_document, key_from_verification_method
from vcsdk.did._key_methods import did_jwk_for, did_key_for, resolve_did_jwk, resolve_did_key
from vcsdk.did._network import EthrNetwork, NetworkTable
from vcsdk.did._syntax import (
    Did,
    DidUrl,
    EthrDid,
    parse_did_url,
    parse_ethr_did,
    parse_version_id,
    parse_version_time,
)
from vcsdk.did.erc1056 import decode_erc1056_log

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
    "NetworkTable",
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
    "parse_version_id",
    "parse_version_time",
    "resolve_did_jwk",
    "resolve_did_key",
]
