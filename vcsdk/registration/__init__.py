"""Relying-party registration: the city's signed statement of what one service may ask.

A registration names the service (DID and display name), the purposes and the claims (per
credential type) it may request, how long it keeps data, its receipt endpoint, privacy notice and
jurisdiction. The city signs it (:func:`issue_registration`); the service attaches it to its
OpenID4VP requests; the wallet verifies it (:func:`verify_registration_resolved`) and checks each
request against it (:func:`check_request`; :func:`check_registered_request` does both) before asking
the resident for consent.
"""

from __future__ import annotations

from vcsdk.registration._registration import (
    MAX_REGISTRATION_BYTES,
    REGISTRATION_TYP,
    ClaimSet,
    Purpose,
    RegistrationClaims,
    RelyingPartyRegistration,
    check_registered_request,
    check_request,
    claim_path_name,
    issue_registration,
    peek_registration,
    verify_registration,
    verify_registration_resolved,
)

__all__ = [
    "MAX_REGISTRATION_BYTES",
    "REGISTRATION_TYP",
    "ClaimSet",
    "Purpose",
    "RegistrationClaims",
    "RelyingPartyRegistration",
    "check_registered_request",
    "check_request",
    "claim_path_name",
    "issue_registration",
    "peek_registration",
    "verify_registration",
    "verify_registration_resolved",
]
