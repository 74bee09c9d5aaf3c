"""Build a did:ethr DID document from the identity's ERC-1056 event history.

Pure: the caller passes the DID, the identity's events in chain order, the chain id, the time to
judge ``validTo`` against, and optionally the version to build. The rules follow the did:ethr method
and ``ethr-did-resolver`` 11.x (numbering of ``#delegate-N``/``#service-N``, revocation by
``validTo``, deactivation by an owner change to ``0x0``), with one deliberate difference:
``did/pub/Multikey/...`` attributes become ``Multikey`` verification methods with
``publicKeyMultibase`` (W3C Controlled Identifiers 1.0), where 11.x emits a non-standard ``value``
or ``publicKeyHex`` member.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import base58

from vcsdk.did._document import (
    DidDocumentMetadata,
    DidResolutionMetadata,
    DidResolutionResult,
    document_from_json,
)
from vcsdk.did._events import (
    NULL_ADDRESS,
    DidAttributeChanged,
    DidDelegateChanged,
    DidOwnerChanged,
    Erc1056Event,
)
from vcsdk.did._multiformats import CODEC_FOR_CURVE, encode_multibase
from vcsdk.did._syntax import EthrDid
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key

__all__ = [
    "ETHR_CONTEXT",
    "EthrDocument",
    "build_ethr_document",
    "iso_timestamp",
    "key_attribute",
]

#: JSON-LD contexts of a did:ethr document (as ethr-did-resolver emits for application/did+ld+json).
ETHR_CONTEXT = [
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/suites/secp256k1recovery-2020/v2",
    "https://w3id.org/security/v3-unstable",
]
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"

RECOVERY_2020 = "EcdsaSecp256k1RecoveryMethod2020"
SECP256K1_2019 = "EcdsaSecp256k1VerificationKey2019"

# did:ethr attribute names; JavaScript's \w is ASCII-only, so spell it out.
_ATTRIBUTE_RE = re.compile(r"did/(pub|svc)/([A-Za-z0-9_]+)(/([A-Za-z0-9_]+))?(/([A-Za-z0-9_]+))?")
_LEGACY_PURPOSE = {
    "sigAuth": "SignatureAuthentication2018",
    "veriKey": "VerificationKey2018",
    "enc": "KeyAgreementKey2019",
}
_LEGACY_TYPES = {
    "Secp256k1VerificationKey2018": SECP256K1_2019,
    "Ed25519SignatureAuthentication2018": "Ed25519VerificationKey2018",
    "Secp256k1SignatureAuthentication2018": SECP256K1_2019,
    "RSAVerificationKey2018": "RSAVerificationKey2018",
    "Ed25519VerificationKey2018": "Ed25519VerificationKey2018",
    "X25519KeyAgreementKey2019": "X25519KeyAgreementKey2019",
}


def iso_timestamp(seconds: int) -> str:
    """A block timestamp as an XML datetime in UTC without fractions (``2026-01-31T12:00:00Z``)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class EthrDocument:
    """The outcome of :func:`build_ethr_document`.

    :ivar document: the DID document as a JSON object.
    :ivar metadata: the DID document metadata.
    :ivar deactivated: whether an owner change to ``0x0`` was applied.
    :ivar next_expiry: the earliest ``validTo`` among the entries this document includes; after it the
        document changes without any new event (caches must not outlive it). ``None`` if nothing expires.
    """

    document: dict[str, Any]
    metadata: DidDocumentMetadata
    deactivated: bool
    next_expiry: int | None

    def to_result(self) -> DidResolutionResult:
        """Validate the document as a pydid model and wrap it in the W3C resolution result shape.

        :raises InvalidInputError: if the chain data produced a non-conformant document.
        """
        return DidResolutionResult(
            did_document=document_from_json(self.document),
            did_document_metadata=self.metadata,
            did_resolution_metadata=DidResolutionMetadata(contentType="application/did+ld+json"),
        )


def _strip0x_hex(value: bytes) -> str:
    return value.hex()


def _service_endpoint(value: bytes) -> Any:
    text = value.decode("utf-8")  # UnicodeDecodeError handled by the caller
    try:
        parsed = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return text
    # A DID document's serviceEndpoint is a string, a map or a set of those; anything else stays text.
    return parsed if isinstance(parsed, str | dict | list) else text


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _public_key(
    did: str, vm_id: str, algorithm: str, purpose: str | None, encoding: str | None, value: bytes
) -> dict[str, Any] | None:
    legacy = f"{algorithm}{_LEGACY_PURPOSE.get(purpose, purpose) if purpose is not None else 'undefined'}"
    vm_type = _LEGACY_TYPES.get(legacy, algorithm)
    vm: dict[str, Any] = {"id": vm_id, "type": vm_type, "controller": did}
    if vm_type == "Multikey":
        # W3C Controlled Identifiers: a Multikey carries publicKeyMultibase (the value's bytes are the
        # multicodec-prefixed key); this is where we follow the spec instead of ethr-did-resolver 11.x.
        vm["publicKeyMultibase"] = encode_multibase(value)
    elif encoding in (None, "hex"):
        vm["publicKeyHex"] = _strip0x_hex(value)
    elif encoding == "base64":
        vm["publicKeyBase64"] = base64.b64encode(value).decode("ascii")
    elif encoding == "base58":
        vm["publicKeyBase58"] = base58.b58encode(value).decode("ascii")
    elif encoding == "pem":
        try:
            vm["publicKeyPem"] = value.decode("utf-8")
        except UnicodeDecodeError:
            return None  # not a DID key: skipped, as ethr-did-resolver does
    else:
        vm["value"] = _strip0x_hex(value)
    return vm


def _event_key(event: Erc1056Event) -> tuple[str, str | None, str]:
    if isinstance(event, DidDelegateChanged):
        return ("delegate", event.delegate_type_text, event.delegate)
    if isinstance(event, DidAttributeChanged):
        return ("attribute", event.name_text, event.value.hex())
    return ("owner", None, event.owner)


def build_ethr_document(
    did: EthrDid,
    events: Sequence[Erc1056Event],
    *,
    chain_id: int,
    now: int,
    until_block: int | None = None,
    until_time: int | None = None,
) -> EthrDocument:
    """Apply an identity's ERC-1056 events to build its DID document and metadata.

    :param did: the parsed DID (its text becomes the document ``id``).
    :param events: the identity's events in chain order (block, then log index).
    :param chain_id: the chain id, for CAIP-10 ``blockchainAccountId`` values (``eip155:<id>:<addr>``).
    :param now: seconds since the epoch that ``validTo`` is judged against: the current time for the
        latest version, the target block's timestamp for ``versionId``, the time for ``versionTime``.
    :param until_block: build the version as of this block (``versionId``); later events only set
        ``nextVersionId``/``nextUpdate``.
    :param until_time: build the version as of this time (``versionTime``), by block timestamp.
    :return: the :class:`EthrDocument`.
    """
    did_text = str(did.did)
    controller = did.address
    version_block = 0
    version_time = 0
    next_block: int | None = None
    next_time = 0
    deactivated = False
    delegate_count = 0
    service_count = 0
    next_expiry: int | None = None
    auth: dict[tuple[str, str | None, str], str] = {}
    agreement: dict[tuple[str, str | None, str], str] = {}
    signing: dict[tuple[str, str | None, str], str] = {}
    keys: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    services: dict[tuple[str, str | None, str], dict[str, Any]] = {}

    for event in events:
        # Events whose bytes32 field is not UTF-8 are not DID events; the reference resolver drops them.
        if isinstance(event, DidDelegateChanged) and event.delegate_type_text is None:
            continue
        if isinstance(event, DidAttributeChanged) and event.name_text is None:
            continue
        after_block = until_block is not None and event.block_number > until_block
        after_time = until_time is not None and event.block_timestamp > until_time
        if after_block or after_time:
            if next_block is None or event.block_number < next_block:
                next_block, next_time = event.block_number, event.block_timestamp
            continue
        if event.block_number > version_block:
            version_block, version_time = event.block_number, event.block_timestamp
        key = _event_key(event)
        if isinstance(event, DidOwnerChanged):
            controller = event.owner
            if event.owner == NULL_ADDRESS:
                deactivated = True
                break
            continue
        if event.valid_to and event.valid_to >= now:
            if isinstance(event, DidDelegateChanged):
                delegate_count += 1
                vm_id = f"{did_text}#delegate-{delegate_count}"
                delegate_type = event.delegate_type_text
                if delegate_type in ("sigAuth", "veriKey"):
                    if delegate_type == "sigAuth":
                        auth[key] = vm_id
                    keys[key] = {
                        "id": vm_id,
                        "type": RECOVERY_2020,
                        "controller": did_text,
                        "blockchainAccountId": f"eip155:{chain_id}:{event.delegate}",
                    }
                    signing[key] = vm_id
                    next_expiry = event.valid_to if next_expiry is None else min(next_expiry, event.valid_to)
                continue
            match = _ATTRIBUTE_RE.fullmatch(event.name_text or "")
            if match is None:
                continue
            section, algorithm, purpose, encoding = match.group(1), match.group(2), match.group(4), match.group(6)
            if section == "pub":
                delegate_count += 1
                vm = _public_key(
                    did_text, f"{did_text}#delegate-{delegate_count}", algorithm, purpose, encoding, event.value
                )
                if vm is None:
                    continue
                keys[key] = vm
                if purpose == "sigAuth":
                    auth[key] = vm["id"]
                    signing[key] = vm["id"]
                elif purpose == "enc":
                    agreement[key] = vm["id"]
                else:
                    signing[key] = vm["id"]
            else:
                service_count += 1
                try:
                    endpoint = _service_endpoint(event.value)
                except UnicodeDecodeError:
                    continue  # not a DID service: skipped, as ethr-did-resolver does
                services[key] = {
                    "id": f"{did_text}#service-{service_count}",
                    "type": algorithm,
                    "serviceEndpoint": endpoint,
                }
            next_expiry = event.valid_to if next_expiry is None else min(next_expiry, event.valid_to)
        else:
            # Expired or revoked: the entry disappears, but it still used up its number.
            name = event.name_text if isinstance(event, DidAttributeChanged) else None
            if isinstance(event, DidDelegateChanged) or (name is not None and name.startswith("did/pub/")):
                delegate_count += 1
            elif name is not None and name.startswith("did/svc/"):
                service_count += 1
            # ethr-did-resolver 11.x leaves a revoked "enc" key's reference in keyAgreement while the
            # key itself disappears; a reference to nothing is invalid DID Core, so we drop both.
            for refs in (auth, signing, agreement):
                refs.pop(key, None)
            keys.pop(key, None)
            services.pop(key, None)

    metadata = DidDocumentMetadata()
    if deactivated:
        metadata["deactivated"] = True
    if version_block:
        metadata["versionId"] = str(version_block)
        metadata["updated"] = iso_timestamp(version_time)
    if next_block is not None:
        metadata["nextVersionId"] = str(next_block)
        metadata["nextUpdate"] = iso_timestamp(next_time)

    context = list(ETHR_CONTEXT)
    if deactivated:
        document: dict[str, Any] = {
            "@context": context,
            "id": did_text,
            "verificationMethod": [],
            "authentication": [],
            "assertionMethod": [],
        }
        return EthrDocument(document=document, metadata=metadata, deactivated=True, next_expiry=None)

    methods: list[dict[str, Any]] = [
        {
            "id": f"{did_text}#controller",
            "type": RECOVERY_2020,
            "controller": did_text,
            "blockchainAccountId": f"eip155:{chain_id}:{controller}",
        }
    ]
    authentication = [f"{did_text}#controller"]
    assertion = [f"{did_text}#controller"]
    if did.public_key is not None and controller == did.address:
        methods.append(
            {
                "id": f"{did_text}#controllerKey",
                "type": SECP256K1_2019,
                "controller": did_text,
                "publicKeyHex": did.public_key.hex(),
            }
        )
        authentication.append(f"{did_text}#controllerKey")
        assertion.append(f"{did_text}#controllerKey")
    methods.extend(keys.values())
    if any(vm["type"] == "Multikey" for vm in methods):
        context.append(MULTIKEY_CONTEXT)
    document = {
        "@context": context,
        "id": did_text,
        "verificationMethod": methods,
        "authentication": authentication + list(auth.values()),
        "assertionMethod": assertion + list(signing.values()),
    }
    if services:
        document["service"] = list(services.values())
    if agreement:
        document["keyAgreement"] = list(agreement.values())
    return EthrDocument(document=document, metadata=metadata, deactivated=False, next_expiry=next_expiry)


def key_attribute(key: Key, *, purpose: str = "veriKey") -> tuple[str, bytes]:
    """The did:ethr attribute (name, value) that publishes ``key`` in the DID document.

    P-256 keys become ``did/pub/Multikey/<purpose>/hex`` with a multicodec-prefixed compressed point
    (resolved as a ``Multikey`` with ``publicKeyMultibase``, so a city can sign ES256);
    secp256k1 keys ``did/pub/Secp256k1/<purpose>/hex``; Ed25519 keys ``did/pub/Ed25519/<purpose>/base58``.

    :param purpose: ``veriKey`` (assertionMethod) or ``sigAuth`` (also authentication).
    :raises InvalidInputError: for another purpose.
    """
    if purpose not in ("veriKey", "sigAuth"):
        raise InvalidInputError("purpose must be veriKey or sigAuth")
    public = key.compressed_public_bytes()
    if key.curve == "P-256":
        return f"did/pub/Multikey/{purpose}/hex", CODEC_FOR_CURVE["P-256"] + public
    if key.curve == "secp256k1":
        return f"did/pub/Secp256k1/{purpose}/hex", public
    return f"did/pub/Ed25519/{purpose}/base58", public
