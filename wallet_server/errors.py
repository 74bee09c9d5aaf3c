"""Errors only the wallet server raises; all derive from :class:`vcsdk.errors.VcsdkError`.

::

    VerificationError
    └── AuthenticationError                  authentication_failed   401
        ├── DpopProofError                   invalid_dpop_proof      401
        │   └── DpopReplayError              dpop_replay             401
        └── RefreshTokenReuseError           refresh_token_reused    401
    ForbiddenError                           forbidden               403
    RateLimitedError                         rate_limited            429
    IdempotencyKeyReusedError                idempotency_key_reused  422
    ConflictError
    └── IdempotencyKeyInUseError             idempotency_key_in_use  409
"""

from __future__ import annotations

from typing import Any

from vcsdk.errors import ConflictError, TokenExpiredError, VcsdkError, VerificationError

__all__ = [
    "AccessTokenExpiredError",
    "AuthenticationError",
    "DpopProofError",
    "DpopReplayError",
    "ForbiddenError",
    "IdempotencyKeyInUseError",
    "IdempotencyKeyReusedError",
    "RateLimitedError",
    "RefreshTokenReuseError",
]


class AuthenticationError(VerificationError):
    """No credentials, or credentials that do not authenticate anyone (the reason stays vague)."""

    code = "authentication_failed"
    http_status = 401


class AccessTokenExpiredError(AuthenticationError, TokenExpiredError):
    """The access token's time is up: refresh it (the one expiry that is the caller's own)."""

    code = "token_expired"


class DpopProofError(AuthenticationError):
    """The DPoP proof (RFC 9449) is missing, malformed, or does not match the request or token."""

    code = "invalid_dpop_proof"


class DpopReplayError(DpopProofError):
    """The DPoP proof's ``jti`` was seen before: each proof is good for one request."""

    code = "dpop_replay"


class RefreshTokenReuseError(AuthenticationError):
    """A refresh token was used twice; the whole token family is now revoked."""

    code = "refresh_token_reused"


class ForbiddenError(VcsdkError):
    """Authenticated, but this role may not do that."""

    code = "forbidden"
    http_status = 403


class RateLimitedError(VcsdkError):
    """Too many requests from one device or address; ``retry_after`` says when to try again."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class IdempotencyKeyReusedError(VcsdkError):
    """An ``Idempotency-Key`` sent again with another request than the first time it was used."""

    code = "idempotency_key_reused"
    http_status = 422


class IdempotencyKeyInUseError(ConflictError):
    """The first request with this ``Idempotency-Key`` is still being answered; try again shortly."""

    code = "idempotency_key_in_use"
