"""Verify a W3C VC end to end, whichever way it is secured (``vc+jwt`` or ``vc+sd-jwt``)."""

from __future__ import annotations

from datetime import datetime

from vcsdk.credentials import _sd_jwt as sd_jwt
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.credentials._ports import IssuerAccreditationChecker, IssuerKeyResolver, StatusChecker
from vcsdk.credentials._w3c._common import VerifiedCredential
from vcsdk.credentials._w3c._jwt import peek_vc_jwt, verify_vc_jwt
from vcsdk.credentials._w3c._jwt_vc_json import is_jwt_vc_json, peek_jwt_vc_json, verify_jwt_vc_json
from vcsdk.credentials._w3c._sd_jwt import issuer_and_kid, verify_vc_sd_jwt
from vcsdk.errors import (
    ClaimsError,
    CredentialStatusError,
    CredentialTypeError,
    InvalidInputError,
    KeyBindingMissingError,
)

__all__ = ["verify_vc"]


async def verify_vc(
    token: str | bytes,
    *,
    resolver: IssuerKeyResolver,
    now: datetime,
    status: StatusChecker | None = None,
    accreditation: IssuerAccreditationChecker | None = None,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    accreditation_type: str | None = None,
    audience: str | None = None,
    nonce: str | None = None,
    credential_type: str | None = None,
) -> VerifiedCredential:
    """Verify a W3C VC end to end: issuer key by ``kid``, every check of :func:`verify_vc_jwt` (for
    ``vc+jwt``) or of :func:`~vcsdk.credentials.verify_vc_sd_jwt` (for ``vc+sd-jwt``, with its KB-JWT
    when ``audience`` and ``nonce`` are given), then the issuer's accreditation and each
    ``credentialStatus`` entry.

    A token with a ``~`` is read as a ``vc+sd-jwt``; any other as a ``vc+jwt``.

    :param resolver: finds the issuer key (``assertionMethod``) for the token's ``kid``.
    :param status: checks each ``credentialStatus`` entry.
    :param policy: algorithms, leeway, key-binding age, ``_sd_alg`` and input limits (see
        :func:`~vcsdk.credentials.verify_vc_sd_jwt`); with ``status=None``, a credential that has
        ``credentialStatus`` is refused (``CredentialStatusError``, code ``status_not_checked``)
        unless ``policy.check_status`` is ``False``.
    :param accreditation: checks the issuer is accredited for the credential's most specific type
        at ``validFrom`` and at ``now``; ``None`` skips it.
    :param accreditation_type: the type id the accreditation is registered under, e.g. the ``vct``
        URL from :class:`~vcsdk.credentials.VctRegistry`; defaults to the most specific ``type``.
    :param audience: this verifier's identifier; with ``nonce``, a key-bound ``vc+sd-jwt``
        presentation is required and its KB-JWT ``aud`` must equal it.
    :param nonce: the nonce this verifier sent; the KB-JWT ``nonce`` must equal it.
    :param credential_type: the ``type`` this verifier accepts (e.g. ``ResidentIdentityCredential``);
        a credential whose ``type`` list lacks it is refused.
    :raises CredentialTypeError: ``credential_type`` is not among the credential's types
        (code ``wrong_credential_type``).
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
    policy = verification_policy(policy)
    text = token.decode("ascii", errors="replace") if isinstance(token, bytes) else token
    # Each token is parsed once: the parsed form finds the key and is then verified.
    if isinstance(text, str) and "~" in text:
        parsed = sd_jwt.parse(text, limits=policy)
        issuer, kid = issuer_and_kid(parsed)
        key = await resolver.resolve_key(issuer, kid, relationship="assertionMethod")
        verified = verify_vc_sd_jwt(
            parsed, key, now=now, policy=policy, audience=audience, nonce=nonce, expected_issuer=issuer
        )
    else:
        if audience is not None:
            raise KeyBindingMissingError("a vc+jwt carries no key binding; ask for a key-bound vc+sd-jwt presentation")
        unverified = peek_vc_jwt(token)
        if is_jwt_vc_json(unverified.header, unverified.unverified_credential):
            # VC DM 1.1 as a JWT (did-jwt-vc, EBSI): the issuer is iss, the key its DID names by kid.
            legacy = peek_jwt_vc_json(unverified.jws)
            if legacy.unverified_issuer is None:
                raise ClaimsError("a jwt_vc_json credential needs an iss claim (the issuer)", code="missing_claim")
            key = await resolver.resolve_key(legacy.unverified_issuer, legacy.kid, relationship="assertionMethod")
            verified = verify_jwt_vc_json(legacy, key, now=now, policy=policy, expected_issuer=legacy.unverified_issuer)
        else:
            if unverified.unverified_issuer is None:
                raise ClaimsError(
                    "issuer must be a URL (a DID) or an object whose id is one"
                )
            issuer = unverified.unverified_issuer
            key = await resolver.resolve_key(issuer, unverified.kid, relationship="assertionMethod")
            verified = verify_vc_jwt(unverified, key, now=now, policy=policy, expected_issuer=issuer)
    if credential_type is not None and credential_type not in verified.types:
        raise CredentialTypeError(f"the credential is not a {credential_type[:100]}")
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
    elif verified.status and policy.check_status:
        uri = next((e.get("statusListCredential") for e in verified.status if isinstance(e, dict)), None)
        raise CredentialStatusError(
            "the credential has a credentialStatus but no status checker was given; pass one or a "
            "policy with check_status=False",
            code="status_not_checked",
            details={"uri": uri[:300]} if isinstance(uri, str) else None,
        )
    return verified


