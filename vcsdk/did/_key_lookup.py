"""Find a verification key in a resolved DID document, for credential and presentation verifiers.

Pure: no I/O. Supported verification-method shapes:

* ``JsonWebKey`` / ``JsonWebKey2020`` (``publicKeyJwk``: EC P-256, EC secp256k1, OKP Ed25519);
* ``Multikey`` (``publicKeyMultibase``: P-256, secp256k1, Ed25519 multicodec keys);
* ``EcdsaSecp256k1VerificationKey2019`` (``publicKeyHex``, ``publicKeyJwk``, ``publicKeyBase64``,
  ``publicKeyBase58``), ``EcdsaSecp256k1RecoveryMethod2020`` when it carries a public key;
* ``Ed25519VerificationKey2018`` / ``Ed25519VerificationKey2020``.

An ``EcdsaSecp256k1RecoveryMethod2020`` with only a ``blockchainAccountId`` (a did:ethr
``#controller`` or delegate) has no public key: checking a signature against it needs public-key
recovery (``ES256K-R``), which is not a JWS algorithm vcsdk accepts. Issuers publish a key attribute
(``did/pub/Multikey/veriKey`` for P-256, ``did/pub/Secp256k1/veriKey/hex`` for secp256k1) or use a
public-key did:ethr (``#controllerKey``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from vcsdk.did._document import DidDocument
from vcsdk.did._multiformats import decode_multibase, decode_multikey
from vcsdk.errors import InvalidInputError, KeyNotFoundError, UnsupportedAlgorithmError
from vcsdk.keys import Key

__all__ = ["find_verification_method", "key_from_document", "key_from_verification_method", "public_key_from_bytes"]

_SECP256K1_TYPES = frozenset({"EcdsaSecp256k1VerificationKey2019", "EcdsaSecp256k1RecoveryMethod2020", "Secp256k1"})
_ED25519_TYPES = frozenset({"Ed25519VerificationKey2018", "Ed25519VerificationKey2020", "Ed25519"})
_JWK_TYPES = frozenset({"JsonWebKey", "JsonWebKey2020"})
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def public_key_from_bytes(curve: str, raw: bytes) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    """A public key from SEC1 bytes (compressed or uncompressed, EC) or 32 raw bytes (Ed25519).

    :raises InvalidInputError: if the bytes are not a point on the curve.
    :raises UnsupportedAlgorithmError: for curves vcsdk cannot verify with (X25519, …).
    """
    try:
        if curve == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if curve == "P-256":
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        if curve == "secp256k1":
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), raw)
    except ValueError:
        raise InvalidInputError(f"verification method does not hold a valid {curve} public key") from None
    raise UnsupportedAlgorithmError(f"{curve} keys cannot verify signatures; publish a signing key")


def _as_json(document: DidDocument | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(document, DidDocument):
        serialized: dict[str, Any] = document.serialize()
        return serialized
    return document


def _absolute(ref: str, did: str) -> str:
    return did + ref if ref.startswith("#") else ref


def find_verification_method(
    document: DidDocument | Mapping[str, Any], kid: str | None, *, relationship: str = "assertionMethod"
) -> dict[str, Any]:
    """The verification method ``kid`` names, if the document lists it under ``relationship``.

    :param document: a resolved DID document (pydid model or JSON object).
    :param kid: a DID URL (``did:…#key-1``), a relative one (``#key-1``), or ``None`` to take the
        only method of that relationship that holds a usable public key.
    :param relationship: ``assertionMethod`` (credential issuers), ``authentication``, …
    :raises KeyNotFoundError: if there is no such method, it is not in that relationship, or ``kid`` is
        ``None`` and the choice is not unique.
    :return: the verification method as a JSON object.
    """
    doc = _as_json(document)
    did = doc.get("id")
    if not isinstance(did, str):
        raise KeyNotFoundError("DID document has no id")
    methods: dict[str, dict[str, Any]] = {}
    for vm in doc.get("verificationMethod") or []:
        if isinstance(vm, Mapping) and isinstance(vm.get("id"), str):
            methods.setdefault(_absolute(vm["id"], did), dict(vm))
    allowed: dict[str, dict[str, Any]] = {}
    for entry in doc.get(relationship) or []:
        if isinstance(entry, str):
            ref = _absolute(entry, did)
            if ref in methods:
                allowed.setdefault(ref, methods[ref])
        elif isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            allowed.setdefault(_absolute(entry["id"], did), dict(entry))
    if kid is None:
        usable = [vm for vm in allowed.values() if _has_public_key(vm)]
        if len(usable) != 1:
            raise KeyNotFoundError(
                f"the token has no kid and the DID document lists {len(usable)} usable keys under "
                f"{relationship}; the issuer must name its key in the kid header"
            )
        return usable[0]
    wanted = _absolute(kid, did)
    if wanted in allowed:
        return allowed[wanted]
    if wanted in methods:
        raise KeyNotFoundError(f"key {kid!r} is in the DID document but not authorized for {relationship}")
    raise KeyNotFoundError(f"no key {kid!r} in the DID document of {did}")


def _has_public_key(vm: Mapping[str, Any]) -> bool:
    try:
        key_from_verification_method(vm)
    except (KeyNotFoundError, InvalidInputError, UnsupportedAlgorithmError):
        return False
    return True


def key_from_verification_method(vm: Mapping[str, Any]) -> Key:
    """Turn one verification method into a public :class:`~vcsdk.keys.Key` whose ``kid`` is the method id.

    :raises KeyNotFoundError: if the method holds no usable public key (e.g. only a
        ``blockchainAccountId``: ES256K-R recovery is not supported).
    :raises InvalidInputError: if its key material is malformed.
    :raises UnsupportedAlgorithmError: for key types outside the allow-list (RSA, X25519, …).
    :return: the key.
    """
    vm_type = vm.get("type")
    vm_id = vm.get("id")
    if not isinstance(vm_type, str) or not isinstance(vm_id, str):
        raise InvalidInputError("verification method needs string id and type")
    jwk = vm.get("publicKeyJwk")
    if jwk is not None:
        if not isinstance(jwk, Mapping):
            raise InvalidInputError("publicKeyJwk must be a JSON object")
        if _PRIVATE_JWK_MEMBERS & jwk.keys():
            raise InvalidInputError("publicKeyJwk contains private key members; refusing it")
        public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "alg")}
        return Key.from_jwk(public).with_kid(vm_id)
    multibase = vm.get("publicKeyMultibase")
    if multibase is not None:
        if not isinstance(multibase, str):
            raise InvalidInputError("publicKeyMultibase must be a string")
        raw = decode_multibase(multibase, what="publicKeyMultibase")
        if vm_type in _ED25519_TYPES and len(raw) == 32:
            curve, key_bytes = "Ed25519", raw
        else:
            curve, key_bytes = decode_multikey(raw)
        return Key(public_key_from_bytes(curve, key_bytes), kid=vm_id)
    raw_key = _raw_material(vm)
    if raw_key is not None:
        if vm_type in _SECP256K1_TYPES:
            return Key(public_key_from_bytes("secp256k1", raw_key), kid=vm_id)
        if vm_type in _ED25519_TYPES:
            return Key(public_key_from_bytes("Ed25519", raw_key), kid=vm_id)
        raise UnsupportedAlgorithmError(f"verification method type {vm_type} is not supported for signatures")
    if vm.get("blockchainAccountId") is not None or vm.get("ethereumAddress") is not None:
        raise KeyNotFoundError(
            f"{vm_id} is a blockchain account without a public key; ES256K-R recovery is not supported, "
            "so the issuer must publish a key (e.g. a did/pub/Multikey/veriKey attribute)"
        )
    raise KeyNotFoundError(f"{vm_id} holds no public key vcsdk can use")


def _raw_material(vm: Mapping[str, Any]) -> bytes | None:
    try:
        if isinstance(vm.get("publicKeyHex"), str):
            return bytes.fromhex(vm["publicKeyHex"].removeprefix("0x"))
        if isinstance(vm.get("publicKeyBase58"), str):
            return base58.b58decode(vm["publicKeyBase58"].encode("ascii"))
        if isinstance(vm.get("publicKeyBase64"), str):
            return base64.b64decode(vm["publicKeyBase64"], validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise InvalidInputError("verification method key material is malformed") from None
    return None


def key_from_document(
    document: DidDocument | Mapping[str, Any], kid: str | None, *, relationship: str = "assertionMethod"
) -> Key:
    """The public key ``kid`` names in a resolved DID document, checked against ``relationship``.

    :param document: the issuer's (or holder's) resolved DID document.
    :param kid: the token's ``kid`` (absolute or relative DID URL), or ``None`` (see
        :func:`find_verification_method`).
    :param relationship: ``assertionMethod`` for credential issuers, ``authentication`` for holders.
    :raises KeyNotFoundError: no such key for that relationship, or it holds no usable public key.
    :raises UnsupportedAlgorithmError: the key type is outside the allow-list.
    :return: the key, with ``kid`` set to the verification method's id.
    """
    vm = find_verification_method(document, kid, relationship=relationship)
    try:
        return key_from_verification_method(vm)
    except InvalidInputError as exc:
        raise KeyNotFoundError(f"key {vm.get('id')!r} has malformed key material: {exc.message}") from None
