"""The holder checks what it receives before storing it (RFC 9901 §7.2, SD-JWT VC §3.5).

A wallet that stores whatever an issuer's credential endpoint returns keeps a credential no verifier
will accept (a bad signature, a token bound to another key) or one whose Disclosures can be guessed
(short salts). :func:`verify_received_credential` runs, on the credential as received:

* it is an SD-JWT, not an SD-JWT+KB (a presentation offered as a credential);
* every salt carries at least 128 bits (RFC 9901 §9.3): at least 22 characters;
* every check of :func:`vcsdk.credentials.verify_credential`: the issuer's signature with the key its
  DID names (resolved, never taken from the token), ``typ``, every Disclosure's digest referenced,
  reserved names, dates (not the status list: that is the verifiers' check when it is shown);
* ``cnf.jwk`` is a device key the holder proved possession of in the Credential Request;
* ``vct`` is the type the issuer's metadata announced for the configuration asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from vcsdk.credentials import (
    DEFAULT_VERIFICATION_POLICY,
    IssuerKeyResolver,
    VerificationPolicy,
    VerifiedPresentation,
    verify_credential,
)
from vcsdk.credentials.sd_jwt import SdJwtText
from vcsdk.errors import ClaimsError, DisclosureError, KeyBindingError, MalformedTokenError
from vcsdk.keys import Key

__all__ = ["MIN_RECEIVED_SALT_CHARS", "verify_received_credential"]

#: 128 bits in base64url (RFC 9901 §9.3 asks for at least 128 bits of entropy per salt).
MIN_RECEIVED_SALT_CHARS = 22


async def verify_received_credential(
    token: str,
    *,
    resolver: IssuerKeyResolver,
    device_jwks: Sequence[Mapping[str, str]],
    now: datetime,
    expected_vct: str | None = None,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
) -> VerifiedPresentation:
    """Verify an SD-JWT VC the holder just received, before storing it.

    :param token: the credential as the Credential Endpoint returned it.
    :param resolver: finds the issuer's key for the token's ``iss`` and ``kid``.
    :param device_jwks: the public JWKs of the keys whose proofs went with the request (one per
        credential of a batch); ``cnf.jwk`` must be one of them.
    :param now: the verification time.
    :param expected_vct: the ``vct`` the issuer's metadata announced for the configuration.
    :raises MalformedTokenError: (``unexpected_key_binding``) the token carries a KB-JWT, or it does
        not parse.
    :raises DisclosureError: (``weak_salt``) a Disclosure's salt is shorter than 128 bits.
    :raises KeyBindingError: (``cnf_mismatch``) the credential is bound to no key or another key.
    :raises ClaimsError: (``unexpected_vct``) another credential type than the one asked for.
    :raises VerificationError: any check of :func:`~vcsdk.credentials.verify_credential`.
    :raises DidResolutionError: the issuer's DID cannot be resolved.
    :return: the verified credential.
    """
    # Parsed once: these holder checks and verify_credential read the same parse.
    text = SdJwtText.of(token, limits=policy)
    parsed = text.parsed
    if parsed.kb_jwt is not None:
        raise MalformedTokenError(
            "the issuer returned an SD-JWT with a Key Binding JWT (a presentation), not a credential",
            code="unexpected_key_binding",
        )
    if any(len(d.salt) < MIN_RECEIVED_SALT_CHARS for d in parsed.disclosures):
        raise DisclosureError(
            f"a Disclosure's salt is shorter than 128 bits ({MIN_RECEIVED_SALT_CHARS} base64url characters); "
            "its value could be guessed from the digest",
            code="weak_salt",
        )
    # The status list is the verifiers' check at presentation time; a holder is not made to fetch it.
    verified = await verify_credential(text, resolver=resolver, policy=replace(policy, check_status=False), now=now)
    proved = {Key.from_jwk(dict(jwk)).thumbprint() for jwk in device_jwks}
    if verified.holder_key is None or verified.holder_key.thumbprint() not in proved:
        raise KeyBindingError(
            "the credential is not bound to the device key that asked for it (cnf.jwk differs)", code="cnf_mismatch"
        )
    if expected_vct is not None and verified.vct != expected_vct:
        raise ClaimsError("the credential is not of the type asked for (vct differs)", code="unexpected_vct")
    return verified
