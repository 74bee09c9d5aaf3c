"""VC-JOSE-COSE: a VC DM 2.0 credential secured as a compact JWS with ``typ`` ``vc+jwt``.

The JWT payload *is* the credential (VC-JOSE-COSE §3.1.1); ``cty`` is optional and, when present,
must be ``vc``. The issuer key is found by ``kid`` through the caller's resolver, never taken from the
token's own header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from vcsdk._time import aware
from vcsdk.credentials._ports import IssuerAccreditationChecker, IssuerKeyResolver, StatusChecker
from vcsdk.credentials._w3c._model import (
    credential_issuer,
    credential_types,
    parse_datetime,
    status_entries,
    validate_credential,
)
from vcsdk.errors import (
    ClaimsError,
    CredentialStatusError,
    InvalidInputError,
    KeyBindingMissingError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenTypeError,
)
from vcsdk.keys import DEFAULT_POLICY, AlgorithmPolicy, Key, Signer, UnverifiedJws, decode_jws, sign_jws, verify_jws

__all__ = [
    "VC_JWT_CTY",
    "VC_JWT_TYP",
    "UnverifiedVcJwt",
    "VerifiedCredential",
    "issue_vc_jwt",
    "peek_vc_jwt",
    "verify_vc",
    "verify_vc_jwt",
]

VC_JWT_TYP: Final = "vc+jwt"
VC_JWT_CTY: Final = "vc"
MAX_VC_JWT_BYTES: Final = 1_000_000
DEFAULT_LEEWAY: Final = timedelta(seconds=60)
DEFAULT_KEY_BINDING_MAX_AGE: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class UnverifiedVcJwt:
    """A parsed ``vc+jwt`` whose signature has not been checked: only for finding the issuer key."""

    header: dict[str, Any]
    unverified_credential: dict[str, Any]
    unverified_issuer: str | None
    kid: str | None
    jws: UnverifiedJws


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """A W3C VC whose signature, type, validity period and data model checked out.

    :ivar credential: the credential (the JWT payload).
    :ivar issuer: the issuer's URL (DID).
    :ivar types: the ``type`` values.
    :ivar valid_from: ``validFrom`` if present.
    :ivar valid_until: ``validUntil`` if present.
    :ivar alg: the JWS algorithm used.
    :ivar kid: the ``kid`` header.
    :ivar holder_key: the ``cnf.jwk`` key of a holder-bound ``vc+sd-jwt``, else ``None``.
    :ivar key_bound: whether a KB-JWT was verified (``nonce``, ``aud``, ``iat``, ``sd_hash``).
    """

    credential: dict[str, Any]
    issuer: str
    types: tuple[str, ...]
    valid_from: datetime | None
    valid_until: datetime | None
    alg: str
    kid: str | None
    holder_key: Key | None = None
    key_bound: bool = False

    def __repr__(self) -> str:
        # The credential holds personal data: show the issuer and types only.
        return (
            f"VerifiedCredential(issuer={self.issuer!r}, types={list(self.types)}, alg={self.alg!r}, "
            f"key_bound={self.key_bound})"
        )

    @property
    def credential_type(self) -> str:
        """The most specific type (the last one that is not ``VerifiableCredential``)."""
        specific = [t for t in self.types if t != "VerifiableCredential"]
        return specific[-1] if specific else "VerifiableCredential"

    @property
    def status(self) -> list[dict[str, Any]]:
        """The ``credentialStatus`` entries."""
        return status_entries(self.credential)


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


def peek_vc_jwt(token: str | bytes) -> UnverifiedVcJwt:
    """Parse a ``vc+jwt`` without verifying it, to learn which issuer and key to look up.

    :raises InvalidTokenError: if it is not a compact JWS with a JSON-object payload.
    """
    jws = decode_jws(token, max_bytes=MAX_VC_JWT_BYTES)
    payload = jws.unverified_claims()
    try:
        issuer: str | None = credential_issuer(payload)
    except ClaimsError:
        issuer = None
    kid = jws.header.get("kid")
    return UnverifiedVcJwt(jws.header, payload, issuer, kid if isinstance(kid, str) else None, jws)


def verify_vc_jwt(
    token: str | bytes,
    key: Key,
    *,
    now: datetime,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    leeway: timedelta = DEFAULT_LEEWAY,
    expected_issuer: str | None = None,
) -> VerifiedCredential:
    """Verify a ``vc+jwt`` with a key the caller found. Skips status and accreditation (see :func:`verify_vc`).

    :param key: the issuer's verification key.
    :param now: the verification time; no clock is read.
    :param policy: the algorithm allow-list.
    :param leeway: clock skew tolerated on ``validFrom``/``validUntil``.
    :param expected_issuer: if given, the credential's issuer must equal it.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit ``key``.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises TokenTypeError: if ``typ`` is not ``vc+jwt`` or ``cty`` is present and not ``vc``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises ClaimsError: if the credential breaks the data model or the issuer differs.
    :raises TokenNotYetValidError: if ``validFrom`` is after ``now`` + leeway.
    :raises TokenExpiredError: if ``validUntil`` is before ``now`` - leeway.
    :return: the verified credential.
    """
    unverified = peek_vc_jwt(token)
    verified = verify_jws(unverified.jws, key, policy=policy, typ=VC_JWT_TYP)
    cty = verified.header.get("cty")
    if cty is not None and (not isinstance(cty, str) or cty.lower() != VC_JWT_CTY):
        raise TokenTypeError(f"vc+jwt cty must be {VC_JWT_CTY!r} when present")
    vc = validate_credential(verified.claims())
    issuer = credential_issuer(vc)
    # VC-JOSE-COSE §3.1.1: a JWT iss, when present, must agree with the credential's issuer.
    if "iss" in vc and vc["iss"] != issuer:
        raise ClaimsError("JWT iss does not match the credential's issuer")
    if expected_issuer is not None and issuer != expected_issuer:
        raise ClaimsError("credential issuer is not the expected issuer")
    now = aware(now, what="now")
    valid_from = parse_datetime(vc["validFrom"], what="validFrom") if "validFrom" in vc else None
    valid_until = parse_datetime(vc["validUntil"], what="validUntil") if "validUntil" in vc else None
    if valid_from is not None and now + leeway < valid_from:
        raise TokenNotYetValidError("credential is not valid yet (validFrom is in the future)")
    if valid_until is not None and now - leeway > valid_until:
        raise TokenExpiredError("credential has expired (validUntil has passed)")
    return VerifiedCredential(
        credential=vc,
        issuer=issuer,
        types=credential_types(vc),
        valid_from=valid_from,
        valid_until=valid_until,
        alg=verified.alg,
        kid=verified.kid,
    )


async def verify_vc(
    token: str | bytes,
    *,
    resolver: IssuerKeyResolver,
    now: datetime,
    status: StatusChecker | None = None,
    accreditation: IssuerAccreditationChecker | None = None,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    leeway: timedelta = DEFAULT_LEEWAY,
    accreditation_type: str | None = None,
    check_status: bool = True,
    audience: str | None = None,
    nonce: str | None = None,
    key_binding_max_age: timedelta = DEFAULT_KEY_BINDING_MAX_AGE,
) -> VerifiedCredential:
    """Verify a W3C VC end to end: issuer key by ``kid``, every check of :func:`verify_vc_jwt` (for
    ``vc+jwt``) or of :func:`~vcsdk.credentials.verify_vc_sd_jwt` (for ``vc+sd-jwt``, with its KB-JWT
    when ``audience`` and ``nonce`` are given), then the issuer's accreditation and each
    ``credentialStatus`` entry.

    A token with a ``~`` is read as a ``vc+sd-jwt``; any other as a ``vc+jwt``.

    :param resolver: finds the issuer key (``assertionMethod``) for the token's ``kid``.
    :param status: checks each ``credentialStatus`` entry.
    :param check_status: with ``status=None``, a credential that has ``credentialStatus`` is refused
        (``CredentialStatusError``, code ``status_not_checked``) unless this is ``False``.
    :param accreditation: checks the issuer is accredited for the credential's most specific type
        at ``validFrom`` and at ``now``; ``None`` skips it.
    :param accreditation_type: the type id the accreditation is registered under, e.g. the ``vct``
        URL from :class:`~vcsdk.credentials.VctRegistry`; defaults to the most specific ``type``.
    :param audience: this verifier's identifier; with ``nonce``, a key-bound ``vc+sd-jwt``
        presentation is required and its KB-JWT ``aud`` must equal it.
    :param nonce: the nonce this verifier sent; the KB-JWT ``nonce`` must equal it.
    :param key_binding_max_age: how old a KB-JWT (by its ``iat``) may be.
    :raises KeyBindingMissingError: ``audience``/``nonce`` given but the token carries no KB-JWT
        (a ``vc+jwt`` never does).
    :raises KeyBindingError: the KB-JWT checks (see :func:`~vcsdk.credentials.verify_vc_sd_jwt`).
    :raises VerificationError: the subclass for the first failed check (see :func:`verify_vc_jwt`),
        ``CredentialRevokedError``/``CredentialSuspendedError``/``StatusList*Error`` from the status
        checker, ``IssuerNotAccreditedError`` from the accreditation check.
    :raises DidResolutionError: if the issuer cannot be resolved.
    :return: the verified credential.
    """
    if (audience is None) != (nonce is None):
        raise InvalidInputError("audience and nonce go together: pass both to verify key binding, or neither")
    text = token.decode("ascii", errors="replace") if isinstance(token, bytes) else token
    if isinstance(text, str) and "~" in text:
        # Imported here: the vc+sd-jwt module builds on this one.
        from vcsdk.credentials._w3c._sd_jwt import peek_vc_sd_jwt, verify_vc_sd_jwt

        issuer, kid = peek_vc_sd_jwt(text)
        key = await resolver.resolve_key(issuer, kid, relationship="assertionMethod")
        verified = verify_vc_sd_jwt(
            text, key, now=now, policy=policy, leeway=leeway, audience=audience, nonce=nonce,
            key_binding_max_age=key_binding_max_age,
        )
    else:
        if audience is not None:
            raise KeyBindingMissingError("a vc+jwt carries no key binding; ask for a key-bound vc+sd-jwt presentation")
        unverified = peek_vc_jwt(token)
        if unverified.unverified_issuer is None:
            raise ClaimsError("issuer must be a URL (a DID) or an object whose id is one")
        key = await resolver.resolve_key(unverified.unverified_issuer, unverified.kid, relationship="assertionMethod")
        verified = verify_vc_jwt(token, key, now=now, policy=policy, leeway=leeway)
    # Accreditation first: an issuer the city does not accredit should not make the verifier fetch
    # the status URLs it chose.
    if accreditation is not None:
        await accreditation.check(
            verified.issuer,
            accreditation_type or verified.credential_type,
            issued_at=verified.valid_from or now,
            now=now,
        )
    if status is not None:
        for entry in verified.status:
            await status.check(entry, issuer=verified.issuer, now=now)
    elif verified.status and check_status:
        raise CredentialStatusError(
            "the credential has a credentialStatus but no status checker was given; pass one or "
            "check_status=False",
            code="status_not_checked",
        )
    return verified


