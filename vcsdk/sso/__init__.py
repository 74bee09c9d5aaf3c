"""Single sign-on with the city wallet: the city's OpenID Provider, where logging in is presenting the
resident credential.

A service logs residents in with any OpenID Connect client (authorization code flow with PKCE,
``client_secret_basic`` or ``private_key_jwt``). The provider (:class:`OpenIDProvider`) answers the
authentication request with an OpenID4VP request to the resident's wallet, for exactly the claims the
service's registration and requested scopes allow (:func:`claim_paths`), verifies the presentation
(signature, accreditation, status, key binding), and issues an ID token signed by the city with a
pairwise ``sub`` (:func:`pairwise_subject`). Every login is an access: the wallet's consent record
gets an access receipt the provider signs (:meth:`OpenIDProvider.access_receipt`).

The OAuth plumbing is authlib's; this package gives it its storage and its users.
"""

from __future__ import annotations

from vcsdk.sso._claims import LOGIN_CLAIM, SCOPE_CLAIMS, allowed_scopes, claim_paths, pairwise_subject, project_claims
from vcsdk.sso._client import AuthMethod, ClientStore, SsoClient, login_registration, secret_hash
from vcsdk.sso._provider import LoginStarted, LoginSubject, OAuthResponse, OpenIDProvider, SubjectSource

__all__ = [
    "LOGIN_CLAIM",
    "SCOPE_CLAIMS",
    "AuthMethod",
    "ClientStore",
    "LoginStarted",
    "LoginSubject",
    "OAuthResponse",
    "OpenIDProvider",
    "SsoClient",
    "SubjectSource",
    "allowed_scopes",
    "claim_paths",
    "login_registration",
    "pairwise_subject",
    "project_claims",
    "secret_hash",
]
