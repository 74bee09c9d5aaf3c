"""DID documents as pydid models, and the W3C DID Resolution result shape.

pydid 0.5.3 cannot deserialize ``EcdsaSecp256k1RecoveryMethod2020`` or
``EcdsaSecp256k1VerificationKey2019``: their "one of these members is required" validators return a
dict from an ``after`` model validator, which pydantic 2 rejects. :class:`DidDocument` is a pydid
document whose verification-method union uses corrected classes for those two types and pydid's own
classes for every other registered type (unknown types still become
``UnknownVerificationMethod``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Union

from pydantic import model_validator
from pydid import DIDUrl
from pydid.doc.doc import BasicDIDDocument
from pydid.service import DIDCommV1Service, DIDCommV2Service, Service
from pydid.verification_method import (
    Bls1238G1Key2020,
    Bls1238G2Key2020,
    Ed25519VerificationKey2018,
    Ed25519VerificationKey2020,
    GpgVerificationKey2020,
    JsonWebKey2020,
    Multikey,
    OpenPgpVerificationKey2019,
    RsaVerificationKey2018,
    SchnorrSecp256k1VerificationKey2019,
    UnknownVerificationMethod,
    VerificationMethod,
    X25519KeyAgreementKey2019,
    X25519KeyAgreementKey2020,
)

from vcsdk.errors import InvalidInputError

__all__ = [
    "DidDocument",
    "DidDocumentMetadata",
    "DidResolutionMetadata",
    "DidResolutionResult",
    "EcdsaSecp256k1RecoveryMethod2020",
    "EcdsaSecp256k1VerificationKey2019",
    "JsonWebKey",
    "document_from_json",
]

_MATERIAL = (
    "public_key_jwk",
    "public_key_hex",
    "public_key_base58",
    "public_key_multibase",
    "public_key_pem",
    "blockchain_account_id",
    "ethereum_address",
)


class EcdsaSecp256k1RecoveryMethod2020(VerificationMethod):  # type: ignore[misc]
    """``EcdsaSecp256k1RecoveryMethod2020``: an Ethereum account (``blockchainAccountId``, CAIP-10) or key.

    With only ``blockchainAccountId`` it holds no public key: signatures can be checked only by
    recovering the signer's address (``ES256K-R``), which vcsdk does not accept as a JWS algorithm.
    """

    type: Literal["EcdsaSecp256k1RecoveryMethod2020"]

    @model_validator(mode="after")
    def _require_material(self) -> EcdsaSecp256k1RecoveryMethod2020:
        if all(getattr(self, name) is None for name in _MATERIAL):
            raise ValueError("EcdsaSecp256k1RecoveryMethod2020 needs blockchainAccountId or a public key")
        return self


class EcdsaSecp256k1VerificationKey2019(VerificationMethod):  # type: ignore[misc]
    """``EcdsaSecp256k1VerificationKey2019``: a secp256k1 public key (``publicKeyHex`` or ``publicKeyJwk``)."""

    type: Literal["EcdsaSecp256k1VerificationKey2019"]

    @model_validator(mode="after")
    def _require_material(self) -> EcdsaSecp256k1VerificationKey2019:
        extra = self.model_extra or {}
        if all(getattr(self, name) is None for name in _MATERIAL) and not (
            "publicKeyBase64" in extra or "value" in extra
        ):
            raise ValueError("EcdsaSecp256k1VerificationKey2019 needs a public key")
        return self


class JsonWebKey(VerificationMethod):  # type: ignore[misc]
    """``JsonWebKey`` (W3C Controlled Identifiers 1.0): a key as ``publicKeyJwk``."""

    type: Literal["JsonWebKey"]
    public_key_jwk: dict[str, Any]


_Methods = Union[  # noqa: UP007 - pydantic needs a real Union of classes here
    EcdsaSecp256k1RecoveryMethod2020,
    EcdsaSecp256k1VerificationKey2019,
    JsonWebKey,
    JsonWebKey2020,
    Multikey,
    Ed25519VerificationKey2018,
    Ed25519VerificationKey2020,
    X25519KeyAgreementKey2019,
    X25519KeyAgreementKey2020,
    OpenPgpVerificationKey2019,
    Bls1238G1Key2020,
    Bls1238G2Key2020,
    GpgVerificationKey2020,
    RsaVerificationKey2018,
    SchnorrSecp256k1VerificationKey2019,
    UnknownVerificationMethod,
]
_Relationship = Union[DIDUrl, _Methods]  # noqa: UP007
_Services = Union[DIDCommV1Service, DIDCommV2Service, Service]  # noqa: UP007


class DidDocument(BasicDIDDocument):  # type: ignore[misc]
    """A W3C DID document (pydid model) that also accepts the did:ethr verification-method types."""

    verification_method: list[_Methods] | None = None
    authentication: list[_Relationship] | None = None
    assertion_method: list[_Relationship] | None = None
    key_agreement: list[_Relationship] | None = None
    capability_invocation: list[_Relationship] | None = None
    capability_delegation: list[_Relationship] | None = None
    service: list[_Services] | None = None


def document_from_json(value: Any) -> DidDocument:
    """Validate a DID document given as a JSON object and return it as a pydid model.

    :raises InvalidInputError: if it is not a conformant DID document.
    :return: the :class:`DidDocument`.
    """
    if not isinstance(value, dict):
        raise InvalidInputError("a DID document must be a JSON object")
    try:
        with warnings.catch_warnings():
            # pydid's base VerificationMethod validators warn under pydantic 2.12+; they are harmless.
            warnings.simplefilter("ignore", UserWarning)
            document: DidDocument = DidDocument.deserialize(value)
            return document
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("DID document is not conformant to DID Core") from exc


class DidResolutionMetadata(TypedDict, total=False):
    """W3C DID Resolution ``didResolutionMetadata``."""

    contentType: str
    error: str
    message: str


class DidDocumentMetadata(TypedDict, total=False):
    """W3C DID Resolution ``didDocumentMetadata`` (block numbers as decimal strings for did:ethr)."""

    created: str
    updated: str
    deactivated: bool
    versionId: str
    nextUpdate: str
    nextVersionId: str


@dataclass(frozen=True, slots=True)
class DidResolutionResult:
    """The result of resolving a DID (W3C DID Resolution §4).

    :ivar did_document: the document as a pydid model.
    :ivar did_document_metadata: ``versionId``, ``updated``, ``nextVersionId``, ``nextUpdate``,
        ``deactivated``.
    :ivar did_resolution_metadata: ``contentType``.
    """

    did_document: DidDocument
    did_document_metadata: DidDocumentMetadata = field(default_factory=lambda: DidDocumentMetadata())
    did_resolution_metadata: DidResolutionMetadata = field(
        default_factory=lambda: DidResolutionMetadata(contentType="application/did+ld+json")
    )

    @property
    def deactivated(self) -> bool:
        """Whether the DID is deactivated (its owner was set to the null address)."""
        return bool(self.did_document_metadata.get("deactivated", False))

    def document_json(self) -> dict[str, Any]:
        """The DID document as a JSON object."""
        out: dict[str, Any] = self.did_document.serialize()
        return out

    def to_json(self) -> dict[str, Any]:
        """The result in the W3C shape: ``didResolutionMetadata``, ``didDocument``, ``didDocumentMetadata``."""
        return {
            "didResolutionMetadata": dict(self.did_resolution_metadata),
            "didDocument": self.document_json(),
            "didDocumentMetadata": dict(self.did_document_metadata),
        }
