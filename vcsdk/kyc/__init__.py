"""KYC against the city's resident registry: a SOAP client (zeep), a local registry, matching rules.

``resident_registry.wsdl`` (with ``resident_registry.xsd``) describes the service;
:class:`ResidentRegistryClient` calls it; :class:`LocalResidentRegistry` is a real SOAP server with
synthetic residents for development, tests and demos.
"""

from __future__ import annotations

from vcsdk.kyc._client import RegistryClientConfig, ResidentRegistryClient
from vcsdk.kyc._normalize import address_matches, match_fields, normalize_address, normalize_kana, normalize_name
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
    "SEED_RESIDENTS",
    "WSDL_PATH",
    "XSD_PATH",
    "CheckResult",
    "LocalResidentRegistry",
    "RegistryClientConfig",
    "RegistryEntry",
    "ResidentAddress",
    "ResidentRecord",
    "ResidentRegistry",
    "ResidentRegistryClient",
    "ResidentStatus",
    "address_matches",
    "create_registry_app",
    "match_fields",
    "normalize_address",
    "normalize_kana",
    "normalize_name",
]
