"""VC-JOSE-COSE: a VC DM 2.0 credential secured as a compact JWS with ``typ`` ``vc+jwt``.

The JWT payload *is* the credential (VC-JOSE-COSE §3.1.1); ``cty`` is optional and, when present,
must be ``vc``. The issuer key is found by ``kid`` through the caller's resolver, never taken from the
token's own header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.credentials._w3c._common import (
    JwtCredentialContent,
    UnverifiedJwtCredential,
    VerifiedCredential,
    check_jwt_dates,
    peek_jwt_credential,
    validity_period,
    verify_jwt_credential,
)
from vcsdk.credentials._w3c._model import credential_issuer, credential_types, validate_credential
from vcsdk.errors import ClaimsError, TokenTypeError
from vcsdk.keys import Key, Signer, UnverifiedJws, VerifiedJws, sign_jws

__all__ = [
    "VC_JWT_CTY",
    "VC_JWT_TYP",
    "UnverifiedVcJwt",
    "issue_vc_jwt",
    "peek_vc_jwt",
    "verify_vc_jwt",
]

VC_JWT_TYP: Final = "vc+jwt"
VC_JWT_CTY: Final = "vc"


@dataclass(frozen=True, slots=True)
class UnverifiedVcJwt(UnverifiedJwtCredential):
    """A parsed ``vc+jwt`` whose signature has not been checked: only for finding the issuer key."""

    @property
    def unverified_credential(self) -> dict[str, Any]:
        """The payload (the credential), not verified yet."""
        return self.jws.unverified_claims()


def issue_vc_jwt(
    credential: Mapping[str, Any],
    signer: Signer,
    *,
    kid: str | None = None,
    cty: bool = False,
) -> str:
    """Secure a VC DM 2.0 credential as ``vc+jwt``.

    :param credential: the credential; validated first (see :func:`validate_credential`).
    :param signer: the issuer's key or remote signer; ``alg`` comes from it.
    :param kid: the ``kid`` header (a DID URL of a key in the issuer's ``assertionMethod``);
        defaults to the signer's ``kid``.
    :param cty: also set ``cty`` to ``vc``.
    :raises ClaimsError: if the credential breaks the data model.
    :return: the compact JWS.
    """
    vc = validate_credential(credential)
    header: dict[str, Any] = {}
    if kid is not None:
        header["kid"] = kid
    if cty:
        header["cty"] = VC_JWT_CTY
    return sign_jws(vc, signer, typ=VC_JWT_TYP, header=header)


def _issuer_or_none(payload: dict[str, Any]) -> str | None:
    try:
        return credential_issuer(payload)
    except ClaimsError:
        return None


def peek_vc_jwt(token: str | bytes | UnverifiedJws) -> UnverifiedVcJwt:
    """Parse a ``vc+jwt`` without verifying it, to learn which issuer and key to look up.

    :param token: the compact JWS, or one already decoded (not decoded again).
    :raises InvalidTokenError: if it is not a compact JWS with a JSON-object payload.
    """
    return peek_jwt_credential(token, UnverifiedVcJwt, _issuer_or_none)


def _read_vc_jwt(verified: VerifiedJws) -> JwtCredentialContent:
    """The credential of a verified ``vc+jwt``: its payload, checked against the data model."""
    cty = verified.header.get("cty")
    if cty is not None and (not isinstance(cty, str) or cty.lower() != VC_JWT_CTY):
        raise TokenTypeError(f"vc+jwt cty must be {VC_JWT_CTY!r} when present", code="invalid_cty")
    vc = validate_credential(verified.claims())
    issuer = credential_issuer(vc)
    # VC-JOSE-COSE §3.1.1: a JWT iss, when present, must agree with the credential's issuer.
    if "iss" in vc and vc["iss"] != issuer:
        raise ClaimsError("JWT iss does not match the credential's issuer", code="issuer_mismatch")
    valid_from, valid_until = validity_period(vc)
    return JwtCredentialContent(vc, issuer, credential_types(vc), valid_from, valid_until)


def verify_vc_jwt(
    token: str | bytes | UnverifiedVcJwt,
    key: Key,
    *,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    expected_issuer: str | None = None,
) -> VerifiedCredential:
    """Verify a ``vc+jwt`` with a key the caller found. Skips status and accreditation (see :func:`verify_vc`).

    :param key: the issuer's verification key.
    :param now: the verification time; no clock is read.
    :param policy: the algorithm allow-list (``algorithms``) and the clock skew tolerated on
        ``validFrom``/``validUntil`` and the JWT dates (``leeway``).
    :param expected_issuer: if given, the credential's issuer must equal it (code
        ``issuer_mismatch``). The key proves who signed, not the issuer the signer wrote: pass the
        issuer ``key`` belongs to.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit ``key``.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises TokenTypeError: if ``typ`` is not ``vc+jwt`` or ``cty`` is present and not ``vc``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises ClaimsError: if the credential breaks the data model or the issuer differs.
    :raises TokenNotYetValidError: if ``validFrom``, ``nbf`` or ``iat`` is after ``now`` + leeway.
    :raises TokenExpiredError: if ``validUntil`` or ``exp`` is before ``now`` - leeway.
    :return: the verified credential.
    """
    policy = verification_policy(policy)
    # verify_vc hands over the token it already parsed to find the issuer key: parsed once.
    unverified = token if isinstance(token, UnverifiedVcJwt) else peek_vc_jwt(token)
    verified = verify_jwt_credential(
        unverified, key, typ=VC_JWT_TYP, read=_read_vc_jwt, now=now, policy=policy, expected_issuer=expected_issuer
    )
    check_jwt_dates(verified.credential, now=now, leeway=policy.leeway)
    return verified
