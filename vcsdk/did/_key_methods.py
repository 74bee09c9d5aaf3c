"""did:key and did:jwk: DIDs that are their own key; resolution needs no chain and no network.

Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._json import parse_json_object
from vcsdk.did._document import DidDocumentMetadata, DidResolutionMetadata, DidResolutionResult, document_from_json
from vcsdk.did._key_lookup import public_key_from_bytes
from vcsdk.did._multiformats import decode_multibase, decode_multikey, encode_multikey
from vcsdk.did._syntax import DidUrl, parse_did_url
from vcsdk.errors import InvalidDidError, InvalidInputError, UnsupportedAlgorithmError
from vcsdk.keys import Key

__all__ = ["did_jwk_for", "did_key_for", "resolve_did_jwk", "resolve_did_key"]

_DID_V1 = "https://www.w3.org/ns/did/v1"
_MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
_JWS_2020_V1 = "https://w3id.org/security/suites/jws-2020/v1"
_SIGNING_RELATIONSHIPS = ("authentication", "assertionMethod", "capabilityInvocation", "capabilityDelegation")
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def did_key_for(key: Key) -> str:
    """The did:key of a public key (multicodec + base58btc multibase of the compressed point or raw key).

    :param key: a P-256, secp256k1 or Ed25519 key (only its public half is used).
    :return: ``did:key:z…``.
    """
    return "did:key:" + encode_multikey(key.curve, key.compressed_public_bytes())


def did_jwk_for(key: Key) -> str:
    """The did:jwk of a public key: ``did:jwk:`` + base64url of the public JWK's JSON.

    :param key: any supported key (only its public members are encoded).
    :return: ``did:jwk:ey…``.
    """
    jwk = key.public_jwk()
    return "did:jwk:" + b64url_encode(json.dumps(jwk, separators=(",", ":")).encode("utf-8"))


def _url(did: str | DidUrl, method: str) -> DidUrl:
    url = did if isinstance(did, DidUrl) else parse_did_url(did)
    if url.method != method:
        raise InvalidDidError(f"not a did:{method} DID")
    return url


def resolve_did_key(did: str | DidUrl) -> DidResolutionResult:
    """Expand a did:key into its DID document (one ``Multikey`` in every signing relationship).

    :raises InvalidDidError: if the identifier is not base58btc multibase of a supported public key
        (Ed25519, secp256k1 or P-256).
    :return: the resolution result.
    """
    url = _url(did, "key")
    msid = url.method_specific_id
    try:
        curve, public = decode_multikey(decode_multibase(msid, what="did:key identifier"))
        Key(public_key_from_bytes(curve, public))
    except (InvalidInputError, UnsupportedAlgorithmError) as exc:
        raise InvalidDidError(f"did:key identifier is not a supported public key: {exc.message}") from None
    vm_id = f"{url.did}#{msid}"
    document: dict[str, Any] = {
        "@context": [_DID_V1, _MULTIKEY_V1],
        "id": url.did,
        "verificationMethod": [{"id": vm_id, "type": "Multikey", "controller": url.did, "publicKeyMultibase": msid}],
    }
    for relationship in _SIGNING_RELATIONSHIPS:
        document[relationship] = [vm_id]
    return DidResolutionResult(
        did_document=document_from_json(document),
        did_document_metadata=DidDocumentMetadata(),
        did_resolution_metadata=DidResolutionMetadata(contentType="application/did+ld+json"),
    )


def resolve_did_jwk(did: str | DidUrl) -> DidResolutionResult:
    """Expand a did:jwk into its DID document (``#0``, ``JsonWebKey2020``; relationships by ``use``).

    :raises InvalidDidError: if the identifier is not base64url of a public JWK JSON object.
    :return: the resolution result.
    """
    url = _url(did, "jwk")
    try:
        jwk = parse_json_object(b64url_decode(url.method_specific_id, what="did:jwk identifier"), what="did:jwk JWK")
    except InvalidInputError as exc:
        raise InvalidDidError(f"did:jwk identifier is not a base64url JWK: {exc.message}") from None
    if not isinstance(jwk.get("kty"), str):
        raise InvalidDidError("did:jwk JWK has no kty")
    if _PRIVATE_JWK_MEMBERS & jwk.keys():
        raise InvalidDidError("did:jwk must hold a public key; it contains private key members")
    vm_id = f"{url.did}#0"
    document: dict[str, Any] = {
        "@context": [_DID_V1, _JWS_2020_V1],
        "id": url.did,
        "verificationMethod": [{"id": vm_id, "type": "JsonWebKey2020", "controller": url.did, "publicKeyJwk": jwk}],
    }
    use = jwk.get("use")
    if use != "enc":
        for relationship in _SIGNING_RELATIONSHIPS:
            document[relationship] = [vm_id]
    if use != "sig":
        document["keyAgreement"] = [vm_id]
    return DidResolutionResult(
        did_document=document_from_json(document),
        did_document_metadata=DidDocumentMetadata(),
        did_resolution_metadata=DidResolutionMetadata(contentType="application/did+ld+json"),
    )
