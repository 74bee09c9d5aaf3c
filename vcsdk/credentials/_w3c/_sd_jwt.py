"""VC-JOSE-COSE §3.2: a VC DM 2.0 credential secured as an SD-JWT with ``typ`` ``vc+sd-jwt``.

Issuance hides members of ``credentialSubject`` behind Disclosures (the SD-JWT engine of
:mod:`vcsdk.credentials.sd_jwt` does the work); the data-model members (``@context``, ``type``,
``issuer``, validity, ``credentialStatus``) always stay visible. Verification here covers the
issuer-signed part and its Disclosures; a presentation carrying a KB-JWT is refused, because key
binding for ``vc+sd-jwt`` is not verified yet (use SD-JWT VC, ``dc+sd-jwt``, for key-bound
presentations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from vcsdk.credentials import _sd_jwt as sd_jwt
from vcsdk.credentials._sd_jwt._common import hash_function
from vcsdk.credentials._w3c._jwt import DEFAULT_LEEWAY, VerifiedCredential
from vcsdk.credentials._w3c._model import (
    credential_issuer,
    credential_types,
    parse_datetime,
    validate_credential,
)
from vcsdk.errors import (
    ClaimsError,
    InvalidInputError,
    KeyBindingError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenTypeError,
    UntrustedKeyError,
)
from vcsdk.keys import DEFAULT_POLICY, HEADER_KEY_PARAMS, AlgorithmPolicy, Key, Signer

__all__ = ["VC_SD_JWT_TYP", "issue_vc_sd_jwt", "verify_vc_sd_jwt"]

VC_SD_JWT_TYP: Final = "vc+sd-jwt"
_VISIBLE: Final = frozenset(
    {"@context", "type", "issuer", "id", "validFrom", "validUntil", "credentialStatus", "credentialSchema", "cnf"}
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


def verify_vc_sd_jwt(
    token: str | bytes,
    key: Key,
    *,
    now: datetime,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    leeway: timedelta = DEFAULT_LEEWAY,
    sd_algorithms: Sequence[str] = ("sha-256",),
) -> VerifiedCredential:
    """Verify a ``vc+sd-jwt`` (issuer-signed part and Disclosures) with a key the caller found.

    :raises InvalidInputError: if the token cannot be parsed.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit ``key``.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises TokenTypeError: if ``typ`` is not ``vc+sd-jwt``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises DisclosureError: the RFC 9901 Disclosure checks.
    :raises ClaimsError: data model broken, or a data-model member hidden behind a Disclosure.
    :raises TokenNotYetValidError: / :raises TokenExpiredError: ``validFrom`` / ``validUntil``.
    :raises KeyBindingError: if a KB-JWT is attached (not verified for ``vc+sd-jwt`` yet).
    :return: the credential with the presented Disclosures applied.
    """
    parsed = sd_jwt.parse(token)
    header = parsed.header
    alg = policy.check(header.get("alg"))
    if HEADER_KEY_PARAMS.intersection(header):
        raise UntrustedKeyError("vc+sd-jwt header carries its own key material; refused")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() != VC_SD_JWT_TYP:
        raise TokenTypeError(f"token typ is {typ!r}; expected {VC_SD_JWT_TYP}")
    key.verify(parsed.signing_input, parsed.signature, alg=alg, policy=policy)
    if parsed.kb_jwt is not None:
        raise KeyBindingError("key binding of vc+sd-jwt presentations is not verified by vcsdk yet; refused")
    hash_fn = hash_function(parsed.payload.get("_sd_alg", "sha-256"), tuple(sd_algorithms))
    processed = sd_jwt.process_disclosures(parsed.payload, list(parsed.disclosures), hash_fn)
    hidden = processed.disclosed_top_level & _VISIBLE
    if hidden:
        raise ClaimsError(f"data-model members {sorted(hidden)} must not be selectively disclosable")
    vc = processed.claims
    subject = vc.get("credentialSubject")
    # Every subject member may be undisclosed: validate the shape with a placeholder subject.
    validate_credential({**vc, "credentialSubject": {"_": True}} if subject == {} else vc)
    issuer = credential_issuer(vc)
    valid_from = parse_datetime(vc["validFrom"], what="validFrom") if "validFrom" in vc else None
    valid_until = parse_datetime(vc["validUntil"], what="validUntil") if "validUntil" in vc else None
    if valid_from is not None and now + leeway < valid_from:
        raise TokenNotYetValidError("credential is not valid yet (validFrom is in the future)")
    if valid_until is not None and now - leeway > valid_until:
        raise TokenExpiredError("credential has expired (validUntil has passed)")
    kid = header.get("kid")
    return VerifiedCredential(
        credential=vc, issuer=issuer, types=credential_types(vc), valid_from=valid_from, valid_until=valid_until,
        alg=alg, kid=kid if isinstance(kid, str) else None,
    )
