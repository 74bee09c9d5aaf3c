"""KYC against the city's resident registry: a SOAP client (zeep), a local registry, the pipeline.

``resident_registry.wsdl`` (with ``resident_registry.xsd``) describes the service;
:class:`ResidentRegistryClient` calls it; :class:`LocalResidentRegistry` is a real SOAP server with
synthetic residents for development, tests and demos; :class:`KycPipeline` turns an application
into :class:`Verified` (with the issued credential), :class:`PartialMatch`, :class:`NoMatch` or
:class:`NotActive`. See ``docs/kyc.md``.
"""

from __future__ import annotations

from vcsdk.kyc._client import RegistryClientConfig, ResidentRegistryClient
from vcsdk.kyc._normalize import address_matches, match_fields, normalize_address, normalize_kana, normalize_name
from vcsdk.kyc._pipeline import (
    JST,
    CredentialIssuer,
    KycApplication,
    KycOutcome,
    KycPipeline,
    NoMatch,
    NotActive,
    PartialMatch,
    Verified,
    build_resident_identity_claims,
    resident_identity_issuer,
)
from vcsdk.kyc._seed import SEED_RESIDENTS, RegistryEntry
from vcsdk.kyc._server import LocalResidentRegistry, create_registry_app
from vcsdk.kyc._types import (
    WSDL_PATH,
    XSD_PATH,
    CheckResult,
    ResidentAddress,
    ResidentRecord,
    ResidentRegistry,
    ResidentStatus,
)

__all__ = [
    "JST",
    "SEED_RESIDENTS",
    "WSDL_PATH",
    "XSD_PATH",
    "CheckResult",
    "CredentialIssuer",
    "KycApplication",
    "KycOutcome",
    "KycPipeline",
    "LocalResidentRegistry",
    "NoMatch",
    "NotActive",
    "PartialMatch",
    "RegistryClientConfig",
    "RegistryEntry",
    "ResidentAddress",
    "ResidentRecord",
    "ResidentRegistry",
    "ResidentRegistryClient",
    "ResidentStatus",
    "Verified",
    "address_matches",
    "build_resident_identity_claims",
    "create_registry_app",
    "match_fields",
    "normalize_address",
    "normalize_kana",
    "normalize_name",
    "resident_identity_issuer",
]
