"""VC-JOSE-COSE §3.2: a VC DM 2.0 credential secured as an SD-JWT with ``typ`` ``vc+sd-jwt``.

Issuance hides members of ``credentialSubject`` behind Disclosures (the SD-JWT engine of
:mod:`vcsdk.credentials.sd_jwt` does the work); the data-model members (``@context``, ``type``,
``issuer``, validity, ``credentialStatus``, ``cnf``) always stay visible. The holder presents with
:func:`vcsdk.credentials.present` (selected Disclosures and a KB-JWT); verification runs the
SD-JWT engine's Disclosure and KB-JWT checks (RFC 9901 §7.1, §7.3) and the VC data-model checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from vcsdk._time import aware
from vcsdk.credentials import _sd_jwt as sd_jwt
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.credentials._sd_jwt._common import hash_function

# The SD-JWT engine's own holder-key and KB-JWT checks (RFC 9901 §7.3), called rather than copied.
from vcsdk.credentials._sd_jwt._verify import _cnf_key, _verify_key_binding
from vcsdk.credentials._w3c._common import (
    VerifiedCredential,
    check_jwt_dates,
    check_validity_period,
    validity_period,
)
from vcsdk.credentials._w3c._model import (
    credential_issuer,
    credential_types,
    validate_credential,
)
from vcsdk.errors import (
    ClaimsError,
    InvalidInputError,
    KeyBindingError,
    KeyBindingMissingError,
)
from vcsdk.keys import Key, Signer, check_jose_header, verify_signature

__all__ = ["VC_SD_JWT_TYP", "issue_vc_sd_jwt", "peek_vc_sd_jwt", "verify_vc_sd_jwt"]

VC_SD_JWT_TYP: Final = "vc+sd-jwt"
_VISIBLE: Final = frozenset(
    {"@context", "type", "issuer", "id", "validFrom", "validUntil", "credentialStatus", "credentialSchema", "cnf",
     "iat", "nbf", "exp"}
)


def issue_vc_sd_jwt(
    credential: Mapping[str, Any],
    signer: Signer,
    *,
    disclosable: Sequence[str] = (),
    holder_key: Key | None = None,
    kid: str | None = None,
    decoys: int = 0,
) -> str:
    """Secure a credential as ``vc+sd-jwt`` with chosen ``credentialSubject`` members disclosable.

    :param disclosable: names (or dotted paths, ``address.locality``) inside ``credentialSubject``.
    :param holder_key: the holder's public key for ``cnf``.
    :raises ClaimsError: if the credential breaks the data model.
    :raises InvalidInputError: if a path names a missing member.
    :return: the SD-JWT (compact, ending with ``~``).
    """
    vc = validate_credential(credential)
    if not isinstance(vc.get("credentialSubject"), dict):
        raise InvalidInputError("vc+sd-jwt issuance needs a single credentialSubject object")
    paths: list[list[str | int | None]] = []
    for name in disclosable:
        parts = [p for p in name.split(".") if p]
        if not parts:
            raise InvalidInputError("empty disclosable path")
        # Each level is its own Disclosure, so a parent can be shown without its children.
        for depth in range(1, len(parts) + 1):
            path: list[str | int | None] = ["credentialSubject", *parts[:depth]]
            if path not in paths:
                paths.append(path)
    return sd_jwt.issue(vc, signer=signer, disclosable=paths, holder_key=holder_key, typ=VC_SD_JWT_TYP,
                        kid=kid, decoys=decoys)


def peek_vc_sd_jwt(token: str | bytes) -> tuple[str, str | None]:
    """Read the issuer and ``kid`` of a ``vc+sd-jwt`` without verifying anything (to find the key).

    :raises InvalidInputError: if the token cannot be parsed.
    :raises ClaimsError: if the visible ``issuer`` is not a URL or an object whose id is one.
    :return: ``(issuer, kid)``.
    """
    return issuer_and_kid(sd_jwt.parse(token))


def issuer_and_kid(parsed: sd_jwt.UnverifiedSdJwt) -> tuple[str, str | None]:
    """:func:`peek_vc_sd_jwt` on a token already parsed."""
    kid = parsed.header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidInputError("kid header must be a string")
    return credential_issuer(parsed.payload), kid


def verify_vc_sd_jwt(
    token: str | bytes | sd_jwt.UnverifiedSdJwt,
    key: Key,
    *,
    now: datetime,
    audience: str | None = None,
    nonce: str | None = None,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    expected_issuer: str | None = None,
) -> VerifiedCredential:
    """Verify a ``vc+sd-jwt`` credential or key-bound presentation with a key the caller found.

    Skips status and accreditation (see :func:`~vcsdk.credentials.verify_vc`, which runs them).
    With ``audience`` and ``nonce`` the token must carry a KB-JWT, checked by the SD-JWT engine:
    ``typ`` ``kb+jwt``, signature with the credential's ``cnf`` key, ``nonce``, ``aud``, ``iat``
    freshness, ``sd_hash``. Without them, a token that carries a KB-JWT is refused (it cannot be
    checked without the verifier's nonce and audience).

    :param key: the issuer's verification key (resolved from ``issuer`` and ``kid``).
    :param now: the verification time; no clock is read.
    :param audience: this verifier's identifier; the KB-JWT ``aud`` must equal it.
    :param nonce: the nonce this verifier sent; the KB-JWT ``nonce`` must equal it.
    :param policy: ``algorithms`` for the issuer signature and the KB-JWT, ``leeway`` on
        ``validFrom``/``validUntil``, the JWT dates and the KB-JWT ``iat``, ``key_binding_max_age``,
        ``sd_algorithms`` (accepted as ``_sd_alg``), and the input limits ``max_token_bytes``,
        ``max_disclosures``, ``max_depth``. ``require_key_binding`` does not apply: passing
        ``audience`` and ``nonce`` is what requires a KB-JWT here.
    :param expected_issuer: the issuer ``key`` belongs to; a credential whose ``issuer`` differs is
        refused (``ClaimsError``, code ``issuer_mismatch``). The key proves who signed, not the
        ``issuer`` the signer wrote: leave it out only if the caller checks ``result.issuer`` itself.
    :raises InvalidInputError: if the token cannot be parsed, or only one of ``audience``/``nonce`` is given.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit ``key``.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises TokenTypeError: if ``typ`` is not ``vc+sd-jwt``, or the KB-JWT ``typ`` is not ``kb+jwt``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises DisclosureError: the RFC 9901 Disclosure checks.
    :raises ClaimsError: data model broken, a data-model member hidden behind a Disclosure, bad ``cnf``,
        an issuer other than ``expected_issuer`` (``issuer_mismatch``).
    :raises TokenNotYetValidError: / :raises TokenExpiredError: ``validFrom`` / ``validUntil``.
    :raises KeyBindingMissingError: ``audience``/``nonce`` given but no KB-JWT.
    :raises KeyBindingError: a KB-JWT without ``audience``/``nonce``, no ``cnf`` key, or a KB-JWT
        signature that does not verify with it.
    :raises NonceMismatchError: / :raises AudienceMismatchError: wrong KB-JWT ``nonce`` / ``aud``.
    :raises KeyBindingStaleError: KB-JWT ``iat`` in the future or older than ``policy.key_binding_max_age``.
    :raises SdHashMismatchError: ``sd_hash`` does not cover the presented SD-JWT and Disclosures.
    :return: the credential with the presented Disclosures applied.
    """
    if (audience is None) != (nonce is None):
        raise InvalidInputError("audience and nonce go together: pass both to verify key binding, or neither")
    if audience is not None and (not isinstance(audience, str) or not isinstance(nonce, str)):
        raise InvalidInputError("audience and nonce must be strings")
    now = aware(now, what="now")
    policy = verification_policy(policy)
    leeway = policy.leeway
    # verify_vc hands over the token it already parsed to find the issuer key: parsed once.
    parsed = token if isinstance(token, sd_jwt.UnverifiedSdJwt) else sd_jwt.parse(token, limits=policy)
    header = parsed.header
    # The one JOSE header check: alg allowed and the key's, crit refused, no key in the header, typ.
    alg = check_jose_header(header, key, policy=policy.algorithm_policy, typ=VC_SD_JWT_TYP, what="vc+sd-jwt")
    verify_signature(key, parsed.signing_input, parsed.signature, alg, policy.algorithm_policy)
    if parsed.kb_jwt is not None and audience is None:
        raise KeyBindingError(
            "the presentation carries a KB-JWT; pass the audience and nonce of the request to verify it",
            code="key_binding_unchecked",
        )
    hash_fn = hash_function(parsed.payload.get("_sd_alg", "sha-256"), policy.sd_algorithms)
    processed = sd_jwt.process_disclosures(
        parsed.payload, list(parsed.disclosures), hash_fn, max_depth=policy.max_depth
    )
    hidden = processed.disclosed_top_level & _VISIBLE
    if hidden:
        raise ClaimsError(
            f"data-model members {sorted(hidden)} must not be selectively disclosable", code="claim_not_disclosable"
        )
    vc = processed.claims
    subject = vc.get("credentialSubject")
    # Every subject member may be undisclosed: validate the shape with a placeholder subject.
    validate_credential({**vc, "credentialSubject": {"_": True}} if subject == {} else vc)
    issuer = credential_issuer(vc)
    if expected_issuer is not None and issuer != expected_issuer:
        raise ClaimsError("credential issuer is not the expected issuer", code="issuer_mismatch")
    valid_from, valid_until = validity_period(vc)
    check_validity_period(valid_from, valid_until, now=now, leeway=leeway)
    check_jwt_dates(vc, now=now, leeway=leeway)
    holder_key = _cnf_key(vc["cnf"]) if "cnf" in vc else None
    key_bound = False
    if audience is not None and nonce is not None:
        if parsed.kb_jwt is None:
            raise KeyBindingMissingError("presentation has no KB-JWT; ask the wallet for a key-bound presentation")
        _verify_key_binding(parsed, holder_key, hash_fn, policy, now.timestamp(), audience, nonce)
        key_bound = True
    kid = header.get("kid")
    return VerifiedCredential(
        credential=vc, issuer=issuer, types=credential_types(vc), valid_from=valid_from, valid_until=valid_until,
        alg=alg, kid=kid if isinstance(kid, str) else None, holder_key=holder_key, key_bound=key_bound,
    )
