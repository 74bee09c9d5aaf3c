"""``jwt_vc_json``: a VC Data Model 1.1 credential as a JWT (VC DM 1.1 §6.3.1), verified only.

Deployed issuers (``did-jwt-vc``/Veramo, EBSI) still sign credentials this way: a JWS with ``typ``
``JWT`` whose payload carries the registered claims ``iss`` (the issuer), ``nbf`` (issuanceDate),
``exp`` (expirationDate), ``sub`` (credentialSubject.id), ``jti`` (the credential id) and the
credential itself under ``vc``. The signature goes through the one JOSE path (:func:`vcsdk.keys.verify_jws`:
algorithm allow-list, ``crit`` refused, header-embedded keys refused); the key comes from the
issuer's DID document by ``kid``, never from the token. Dates go through the one NumericDate gate.

This SDK issues VC DM 2.0 (``vc+jwt``, ``vc+sd-jwt``); :func:`issue_jwt_vc_json` exists for tests
and interop checks only and is not exported.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from vcsdk._time import from_numeric_date, to_numeric_date
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.credentials._w3c._common import (
    JwtCredentialContent,
    UnverifiedJwtCredential,
    VerifiedCredential,
    peek_jwt_credential,
    verify_jwt_credential,
)
from vcsdk.errors import ClaimsError
from vcsdk.keys import Key, Signer, UnverifiedJws, VerifiedJws, sign_jws

__all__ = [
    "JWT_VC_JSON_TYP",
    "VC_V1_CONTEXT",
    "UnverifiedJwtVcJson",
    "issue_jwt_vc_json",
    "peek_jwt_vc_json",
    "verify_jwt_vc_json",
]

JWT_VC_JSON_TYP: Final = "JWT"
VC_V1_CONTEXT: Final = "https://www.w3.org/2018/credentials/v1"


@dataclass(frozen=True, slots=True)
class UnverifiedJwtVcJson(UnverifiedJwtCredential):
    """A parsed ``jwt_vc_json`` whose signature has not been checked: only for finding the issuer key."""

    @property
    def unverified_claims(self) -> dict[str, Any]:
        """The JWT claims (the credential under ``vc``), not verified yet."""
        return self.jws.unverified_claims()


def is_jwt_vc_json(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bool:
    """Whether a parsed compact JWS is meant as a VC DM 1.1 JWT: no VC DM 2.0 ``@context`` in the
    payload, and ``typ`` ``JWT`` or a ``vc`` claim (so a wrong ``typ`` or a missing ``vc`` is refused
    by the ``jwt_vc_json`` checks, and a VC DM 2.0 payload by the ``vc+jwt`` ones)."""
    if "@context" in claims:
        return False
    typ = header.get("typ")
    return (isinstance(typ, str) and typ.lower() == JWT_VC_JSON_TYP.lower()) or "vc" in claims


def _iss(claims: dict[str, Any]) -> str | None:
    iss = claims.get("iss")
    return iss if isinstance(iss, str) else None


def peek_jwt_vc_json(token: str | bytes | UnverifiedJws) -> UnverifiedJwtVcJson:
    """Parse a ``jwt_vc_json`` without verifying it, to learn which issuer and key to look up.

    :param token: the compact JWS, or one already decoded (not decoded again).
    :raises MalformedTokenError: if it is not a compact JWS with a JSON-object payload.
    """
    return peek_jwt_credential(token, UnverifiedJwtVcJson, _iss)


def _date(claims: Mapping[str, Any], name: str) -> datetime | None:
    if name not in claims:
        return None
    return from_numeric_date(claims[name], what=f"JWT {name}", error=ClaimsError)


def _issuer_id(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _credential(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The VC DM 1.1 credential the JWT encodes (§6.3.1 "JWT decoding"), every mapping checked."""
    vc = claims.get("vc")
    if vc is None:
        raise ClaimsError("a jwt_vc_json credential needs a vc claim", code="missing_claim")
    if not isinstance(vc, dict):
        raise ClaimsError("the vc claim must be a JSON object", code="invalid_claims")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise ClaimsError("a jwt_vc_json credential needs an iss claim (the issuer)", code="missing_claim")
    context = vc.get("@context")
    first = context[0] if isinstance(context, list) and context else context
    if first != VC_V1_CONTEXT:
        raise ClaimsError(f"vc.@context must begin with {VC_V1_CONTEXT}", code="invalid_claims")
    types = vc.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types or not all(isinstance(t, str) for t in types):
        raise ClaimsError("vc.type must be a list of strings naming VerifiableCredential", code="invalid_claims")
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict):
        raise ClaimsError("vc.credentialSubject must be a JSON object", code="invalid_claims")
    credential = dict(vc)
    # §6.3.1: iss is the issuer; a vc.issuer, when present, must say the same.
    if "issuer" in vc and _issuer_id(vc["issuer"]) != iss:
        raise ClaimsError("JWT iss does not match vc.issuer", code="issuer_mismatch")
    credential.setdefault("issuer", iss)
    sub = claims.get("sub")
    if sub is not None:
        if not isinstance(sub, str) or ("id" in subject and subject["id"] != sub):
            raise ClaimsError("JWT sub does not match vc.credentialSubject.id", code="subject_mismatch")
        credential["credentialSubject"] = {**subject, "id": sub}
    jti = claims.get("jti")
    if jti is not None:
        if not isinstance(jti, str) or ("id" in vc and vc["id"] != jti):
            raise ClaimsError("JWT jti does not match vc.id", code="id_mismatch")
        credential["id"] = jti
    return credential


def _read_jwt_vc_json(verified: VerifiedJws) -> JwtCredentialContent:
    """The VC DM 1.1 credential of a verified ``jwt_vc_json``; ``nbf`` and ``exp`` its validity period."""
    claims = verified.claims()
    credential = _credential(claims)
    valid_from = _date(claims, "nbf")
    if valid_from is None:
        raise ClaimsError("a jwt_vc_json credential needs an nbf claim (its issuanceDate)", code="missing_claim")
    valid_until = _date(claims, "exp")
    return JwtCredentialContent(
        credential, str(claims["iss"]), tuple(credential["type"]), valid_from, valid_until, ("nbf", "exp")
    )


def verify_jwt_vc_json(
    token: str | bytes | UnverifiedJwtVcJson,
    key: Key,
    *,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    expected_issuer: str | None = None,
) -> VerifiedCredential:
    """Verify a ``jwt_vc_json`` (VC DM 1.1 JWT) with a key the caller found (the issuer DID's
    verification method named by ``kid``). Skips status and accreditation (see :func:`verify_vc`).

    :param key: the issuer's verification key.
    :param now: the verification time; no clock is read.
    :param policy: the algorithm allow-list (``algorithms``: ES256, ES256K, EdDSA by default) and the
        clock skew tolerated on ``nbf`` and ``exp`` (``leeway``).
    :param expected_issuer: if given, ``iss`` must equal it (code
        ``issuer_mismatch``). The key proves who signed, not the issuer the signer wrote: pass the
        issuer ``key`` belongs to.
    :raises MalformedTokenError: the token cannot be parsed.
    :raises UnsupportedAlgorithmError: ``alg`` is not allowed or does not fit ``key``.
    :raises CriticalHeaderError: the header lists ``crit`` extensions.
    :raises UntrustedKeyError: the header carries its own key.
    :raises TokenTypeError: ``typ`` is not ``JWT``.
    :raises SignatureInvalidError: the signature does not verify.
    :raises ClaimsError: no ``vc`` or ``iss`` (``missing_claim``), ``iss`` differs from ``vc.issuer``
        (``issuer_mismatch``), ``sub``/``jti`` differ from the credential (``subject_mismatch``,
        ``id_mismatch``), a date claim that is not a NumericDate, a VC DM 1.1 shape error, or
        another issuer than ``expected_issuer``.
    :raises TokenNotYetValidError: ``nbf`` is after ``now`` + leeway.
    :raises TokenExpiredError: ``exp`` is before ``now`` - leeway.
    :return: the verified credential (the decoded VC DM 1.1 credential, ``valid_from`` from ``nbf``,
        ``valid_until`` from ``exp``).
    """
    policy = verification_policy(policy)
    # verify_vc hands over the token it already parsed to find the issuer key: parsed once.
    unverified = token if isinstance(token, UnverifiedJwtVcJson) else peek_jwt_vc_json(token)
    return verify_jwt_credential(
        unverified, key, typ=JWT_VC_JSON_TYP, read=_read_jwt_vc_json, now=now, policy=policy,
        expected_issuer=expected_issuer,
    )


def issue_jwt_vc_json(
    credential: Mapping[str, Any],
    signer: Signer,
    *,
    issuer: str,
    now: datetime,
    expires_at: datetime | None = None,
    kid: str | None = None,
    jti: str | None = None,
) -> str:
    """Sign a VC DM 1.1 credential as ``jwt_vc_json`` (tests and interop checks only: this SDK issues
    VC DM 2.0). ``credentialSubject.id`` becomes ``sub``; ``iss``, ``nbf`` and ``exp`` are set.

    :raises InvalidInputError: for a naive ``now`` or ``expires_at``.
    """
    vc = {k: v for k, v in credential.items() if k not in ("issuer", "issuanceDate", "expirationDate", "id")}
    claims: dict[str, Any] = {
        "iss": issuer,
        "nbf": to_numeric_date(now, what="now"),
        "jti": jti or f"urn:uuid:{secrets.token_hex(16)}",
        "vc": vc,
    }
    subject = credential.get("credentialSubject")
    if isinstance(subject, Mapping) and isinstance(subject.get("id"), str):
        claims["sub"] = subject["id"]
    if expires_at is not None:
        claims["exp"] = to_numeric_date(expires_at, what="expires_at")
    return sign_jws(claims, signer, typ=JWT_VC_JSON_TYP, header={"kid": kid} if kid else {})
