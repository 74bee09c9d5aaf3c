"""Ports the credential verifiers call out through; implementations live in adapters.

Implementations do not inherit from these protocols (STYLE: ports are ``typing.Protocol``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, Protocol

from vcsdk.keys import Key

__all__ = ["IssuerAccreditationChecker", "IssuerKeyResolver", "StatusChecker", "VerificationRelationship"]

VerificationRelationship = Literal["assertionMethod", "authentication"]


class IssuerKeyResolver(Protocol):
    """Finds an issuer's public key, e.g. by resolving its DID (``vcsdk.ethr.Resolver`` implements it).

    ``kid`` is the token's ``kid`` header (often a DID URL); ``at`` asks for the key as it was at a
    past time (the credential's issuance) where the policy allows it.
    """

    async def resolve_key(
        self,
        issuer: str,
        kid: str | None,
        *,
        relationship: VerificationRelationship = "assertionMethod",
        at: datetime | None = None,
    ) -> Key:
        """:raises KeyNotFoundError: no such key for that relationship; :raises DidResolutionError:."""
        ...


class StatusChecker(Protocol):
    """Checks a credential's ``status`` claim (IETF Token Status List or W3C Bitstring Status List).

    Returns normally when the credential is valid; raises ``CredentialRevokedError``,
    ``CredentialSuspendedError``, ``StatusListStaleError``, ``StatusListUnavailableError`` or
    ``StatusListDigestMismatchError`` otherwise.
    """

    async def check(self, status: Mapping[str, Any], *, issuer: str, now: datetime) -> None: ...


class IssuerAccreditationChecker(Protocol):
    """Checks the issuer is accredited for a credential type (``vcsdk.trust.AccreditationPolicy``).

    ``credential_type`` is the SD-JWT VC ``vct`` or the W3C credential type; the check passes only
    when the issuer was accredited for it at ``issued_at`` and still is at ``now``.

    :raises IssuerNotAccreditedError: if it was not accredited at ``issued_at`` or is not at ``now``.
    """

    async def check(self, issuer: str, credential_type: str, *, issued_at: datetime, now: datetime) -> None: ...
