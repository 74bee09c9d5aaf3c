"""KYC against the city's resident registry: a SOAP client (zeep), a local registry, the pipeline.

``resident_registry.wsdl`` (with ``resident_registry.xsd``) describes the service;
:class:`ResidentRegistryClient` calls it; :class:`LocalResidentRegistry` is a real SOAP server with
synthetic residents for development, tests and demos; :class:`KycPipeline` turns an application
into :class:`Verified` (with the issued credential), :class:`PartialMatch`, :class:`NoMatch` or
:class:`NotActive`. See ``docs/kyc.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vcsdk.kyc._normalize import address_matches, match_fields, normalize_address, normalize_kana, normalize_name
from vcsdk.kyc._pipeline import (
    JST,
    KycApplication,
    KycCredentialIssuer,
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
from vcsdk.kyc._types import (
    WSDL_PATH,
    XSD_PATH,
    CheckResult,
    ResidentAddress,
    ResidentRecord,
    ResidentRegistry,
    ResidentStatus,
)

if TYPE_CHECKING:  # the type checker sees the real signatures; at run time they load lazily
    from vcsdk.kyc._client import RegistryClientConfig, ResidentRegistryClient
    from vcsdk.kyc._server import LocalResidentRegistry, create_registry_app

#: The SOAP client (zeep, httpx) and the local registry server (aiohttp), imported on first use so
#: that the pipeline and the types load no I/O library.
_CLIENT_NAMES = frozenset({"RegistryClientConfig", "ResidentRegistryClient"})
_SERVER_NAMES = frozenset({"LocalResidentRegistry", "create_registry_app"})


def __getattr__(name: str) -> object:
    if name in _CLIENT_NAMES:
        from vcsdk.kyc import _client

        return getattr(_client, name)
    if name in _SERVER_NAMES:
        from vcsdk.kyc import _server

        return getattr(_server, name)
    raise AttributeError(f"module 'vcsdk.kyc' has no attribute {name!r}")


__all__ = [
    "JST",
    "SEED_RESIDENTS",
    "WSDL_PATH",
    "XSD_PATH",
    "CheckResult",
    "KycApplication",
    "KycCredentialIssuer",
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
