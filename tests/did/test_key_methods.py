"""did:key, did:jwk, and finding a verification key in a DID document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vcsdk._b64 import b64url_encode
from vcsdk.did import did_jwk_for, did_key_for, key_from_document, key_from_verification_method
from vcsdk.did._key_methods import resolve_did_jwk, resolve_did_key
from vcsdk.did._multiformats import encode_multikey
from vcsdk.errors import InvalidDidError, InvalidInputError, KeyNotFoundError, UnsupportedAlgorithmError
from vcsdk.keys import Key, sign_jws, verify_jws

# did:key spec (w3c-ccg did-method-key) test vectors, one per supported key type.
SPEC_DID_KEYS = {
    "Ed25519": "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
    "secp256k1": "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
    "P-256": "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",
}


@pytest.mark.parametrize("curve", sorted(SPEC_DID_KEYS))
def test_spec_did_keys_resolve_to_their_curve(curve: str) -> None:
    did = SPEC_DID_KEYS[curve]
    result = resolve_did_key(did)
    doc = result.document_json()
    msid = did.split(":")[2]
    assert doc["verificationMethod"] == [
        {"id": f"{did}#{msid}", "type": "Multikey", "controller": did, "publicKeyMultibase": msid}
    ]
    for relationship in ("authentication", "assertionMethod", "capabilityInvocation", "capabilityDelegation"):
        assert doc[relationship] == [f"{did}#{msid}"]
    key = key_from_document(result.did_document, f"#{msid}")
    assert key.curve == curve
    assert did_key_for(key) == did
    assert key.kid == f"{did}#{msid}"


@pytest.mark.parametrize("curve", ["P-256", "secp256k1", "Ed25519"])
def test_did_key_and_did_jwk_round_trip_and_verify(curve: str) -> None:
    private = Key.generate(curve)  # type: ignore[arg-type]
    for did, fragment in ((did_key_for(private), None), (did_jwk_for(private), "0")):
        result = resolve_did_key(did) if did.startswith("did:key") else resolve_did_jwk(did)
        kid = f"{did}#{fragment or did.split(':')[2]}"
        public = key_from_document(result.did_document, kid, relationship="authentication")
        token = sign_jws({"x": 1}, private.with_kid(kid))
        assert verify_jws(token, public).claims() == {"x": 1}


def test_did_jwk_relationships_follow_use() -> None:
    jwk = {**Key.generate("P-256").public_jwk(), "use": "enc"}
    did = "did:jwk:" + b64url_encode(json.dumps(jwk).encode())
    doc = resolve_did_jwk(did).document_json()
    assert doc["keyAgreement"] == [f"{did}#0"]
    assert "assertionMethod" not in doc
    with pytest.raises(KeyNotFoundError):
        key_from_document(doc, "#0", relationship="assertionMethod")


@pytest.mark.parametrize(
    "did",
    [
        "did:key:abc",  # not base58btc multibase
        "did:key:z0OIl",  # not base58
        "did:key:z6Mk",  # too short
        "did:key:" + encode_multikey("X25519", b"\x01" * 32),  # cannot sign
        "did:key:z" + "2" * 40,  # unknown codec
        "did:key:" + encode_multikey("P-256", b"\x02" + b"\xff" * 32),  # not on the curve
    ],
)
def test_bad_did_keys(did: str) -> None:
    with pytest.raises(InvalidDidError):
        resolve_did_key(did)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"crv":"P-256"}',
        json.dumps({**Key.generate("P-256").private_jwk()}).encode(),  # private key members
    ],
)
def test_bad_did_jwks(payload: bytes) -> None:
    with pytest.raises(InvalidDidError):
        resolve_did_jwk("did:jwk:" + b64url_encode(payload))
    with pytest.raises(InvalidDidError):
        resolve_did_jwk("did:jwk:eyJ%%")


def _doc(*methods: dict[str, Any], assertion: list[Any] | None = None) -> dict[str, Any]:
    did = "did:example:123"
    return {
        "id": did,
        "verificationMethod": list(methods),
        "assertionMethod": assertion if assertion is not None else [m["id"] for m in methods],
    }


def test_key_lookup_by_kind_of_method() -> None:
    p256 = Key.generate("P-256")
    k1 = Key.generate("secp256k1")
    ed = Key.generate("Ed25519")
    methods: list[dict[str, Any]] = [
        {
            "id": "did:example:123#jwk",
            "type": "JsonWebKey",
            "controller": "did:example:123",
            "publicKeyJwk": p256.public_jwk(),
        },
        {
            "id": "did:example:123#jwk2020",
            "type": "JsonWebKey2020",
            "controller": "did:example:123",
            "publicKeyJwk": k1.public_jwk(),
        },
        {
            "id": "did:example:123#mk",
            "type": "Multikey",
            "controller": "did:example:123",
            "publicKeyMultibase": encode_multikey("Ed25519", ed.compressed_public_bytes()),
        },
        {
            "id": "did:example:123#hex",
            "type": "EcdsaSecp256k1VerificationKey2019",
            "controller": "did:example:123",
            "publicKeyHex": k1.compressed_public_bytes().hex(),
        },
        {
            "id": "#relative",
            "type": "Multikey",
            "controller": "did:example:123",
            "publicKeyMultibase": encode_multikey("P-256", p256.compressed_public_bytes()),
        },
    ]
    doc = _doc(*methods)
    assert key_from_document(doc, "did:example:123#jwk") == p256.public_key().with_kid("did:example:123#jwk")
    assert key_from_document(doc, "#jwk2020").public_jwk() == k1.public_jwk()
    assert key_from_document(doc, "#mk").public_jwk() == ed.public_jwk()
    assert key_from_document(doc, "#hex").public_jwk() == k1.public_jwk()
    assert key_from_document(doc, "did:example:123#relative").public_jwk() == p256.public_jwk()


def test_key_lookup_failures_raise_key_not_found() -> None:
    p256 = Key.generate("P-256")
    vm = {
        "id": "did:example:123#a",
        "type": "JsonWebKey",
        "controller": "did:example:123",
        "publicKeyJwk": p256.public_jwk(),
    }
    account = {
        "id": "did:example:123#controller",
        "type": "EcdsaSecp256k1RecoveryMethod2020",
        "controller": "did:example:123",
        "blockchainAccountId": "eip155:1:0x" + "11" * 20,
    }
    # Not in the relationship.
    with pytest.raises(KeyNotFoundError, match="not authorized"):
        key_from_document(_doc(vm, assertion=[]), "#a")
    # Unknown kid.
    with pytest.raises(KeyNotFoundError, match="no key"):
        key_from_document(_doc(vm), "#b")
    # A kid naming another DID.
    with pytest.raises(KeyNotFoundError):
        key_from_document(_doc(vm), "did:example:other#a")
    # Only a blockchain account: ES256K-R recovery is not supported.
    with pytest.raises(KeyNotFoundError, match="ES256K-R"):
        key_from_document(_doc(account), "#controller")
    # No kid: unique usable key is chosen, ambiguity is refused.
    assert key_from_document(_doc(account, vm), None).kid == "did:example:123#a"
    vm2 = {**vm, "id": "did:example:123#c"}
    with pytest.raises(KeyNotFoundError, match="2 usable keys"):
        key_from_document(_doc(vm, vm2), None)
    # Malformed material.
    broken = {**vm, "publicKeyJwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}
    with pytest.raises(KeyNotFoundError, match="malformed"):
        key_from_document(_doc(broken), "#a")
    with pytest.raises(KeyNotFoundError):
        key_from_document({"verificationMethod": []}, "#a")


def test_verification_method_refusals() -> None:
    private = Key.generate("P-256")
    with pytest.raises(InvalidInputError, match="private"):
        key_from_verification_method({"id": "d#a", "type": "JsonWebKey", "publicKeyJwk": private.private_jwk()})
    with pytest.raises(UnsupportedAlgorithmError):
        key_from_verification_method(
            {"id": "d#a", "type": "JsonWebKey", "publicKeyJwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}
        )
    with pytest.raises(UnsupportedAlgorithmError):
        key_from_verification_method({"id": "d#a", "type": "RSAVerificationKey2018", "publicKeyHex": "00"})
    with pytest.raises(UnsupportedAlgorithmError):
        key_from_verification_method(
            {"id": "d#a", "type": "Multikey", "publicKeyMultibase": encode_multikey("X25519", b"\x01" * 32)}
        )
    with pytest.raises(InvalidInputError):
        key_from_verification_method({"id": "d#a", "type": "Multikey", "publicKeyMultibase": "mAAAA"})
    with pytest.raises(InvalidInputError):
        key_from_verification_method({"id": "d#a", "type": "EcdsaSecp256k1VerificationKey2019", "publicKeyHex": "zz"})
    with pytest.raises(KeyNotFoundError):
        key_from_verification_method({"id": "d#a", "type": "Whatever"})
