"""Trust on chain: issuer accreditation by the city and anchored status-list digests.

A binding for the ``TrustedIssuerRegistry`` contract (:class:`TrustRegistry`), the verifier's
accreditation check (:class:`AccreditationPolicy`) and status digests for the status checker.
"""

from __future__ import annotations

from vcsdk.trust._registry import (
    Accreditation,
    AccreditationPolicy,
    AccreditationSource,
    StatusDigest,
    TrustRegistry,
    list_id,
    text_id,
)

__all__ = [
    "Accreditation",
    "AccreditationPolicy",
    "AccreditationSource",
    "StatusDigest",
    "TrustRegistry",
    "list_id",
    "text_id",
]
