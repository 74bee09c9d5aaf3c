"""Verify SD-JWT VCs and presentations: every RFC 9901 §7 and SD-JWT VC check, in order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from vcsdk._b64 import b64url_decode
from vcsdk._time import from_numeric_date, numeric_date
from vcsdk.credentials._nonces import NonceStore
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy
from vcsdk.credentials._ports import IssuerAccreditationChecker, IssuerKeyResolver, StatusChecker
from vcsdk.credentials._sd_jwt._common import (
    KB_JWT_TYP,
    LEGACY_SD_JWT_VC_TYP,
    NON_DISCLOSABLE_VC_CLAIMS,
    SD_ALG_KEY,
    SD_HASH_KEY,
    SD_JWT_VC_TYP,
    digest,
    hash_function,
)
from vcsdk.credentials._sd_jwt._parse import UnverifiedSdJwt, parse
from vcsdk.credentials._sd_jwt._process import process_disclosures
from vcsdk.errors import (
    AudienceMismatchError,
    ClaimsError,
    CredentialStatusError,
    CredentialTypeError,
    InvalidInputError,
    IssuerNotAccreditedError,
    KeyBindingError,
    KeyBindingMissingError,
    KeyBindingStaleError,
    MalformedTokenError,
    NonceMismatchError,
    ReplayedNonceError,
    SdHashMismatchError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenNotYetValidError,
    VcsdkError,
    VerificationError,
)
from vcsdk.keys import HEADER_KEY_PARAMS, Key, check_jose_header, verify_signature

__all__ = [
    "UnverifiedSdJwtVc",
    "VerifiedPresentation",
    "peek",
    "verify_credential",
    "verify_presentation",
    "verify_presentation_with_key",
    "verify_sd_jwt",
]

@dataclass(frozen=True, slots=True)
class VerifiedPresentation:
    """What a verifier learns from a verified SD-JWT VC or presentation.

    :ivar issuer: the ``iss`` claim, whose key verified the signature.
    :ivar kid: the issuer signature's ``kid`` header.
    :ivar vct: the credential type.
    :ivar claims: the processed payload: the disclosed claims plus the always-visible ones
        (``iss``, ``vct``, ``iat``, ``cnf``, ``status``, …), without ``_sd``/``_sd_alg``.
    :ivar holder_key: the ``cnf.jwk`` key, if the credential is holder-bound.
    :ivar issued_at: ``iat``, if present.
    :ivar expires_at: ``exp``, if present.
    :ivar status: the ``status`` claim (for the status check), if present.
    :ivar key_bound: whether a KB-JWT was verified (``nonce``, ``aud``, ``iat``, ``sd_hash``).
    """

    issuer: str
    kid: str | None
    vct: str
    claims: dict[str, Any]
    holder_key: Key | None
    issued_at: datetime | None
    expires_at: datetime | None
    status: dict[str, Any] | None
    key_bound: bool

    def __repr__(self) -> str:
        # Claims are personal data: show names only.
        return (
            f"VerifiedPresentation(issuer={self.issuer!r}, vct={self.vct!r}, claims={sorted(self.claims)}, "
            f"key_bound={self.key_bound})"
        )


@dataclass(frozen=True, slots=True)
class UnverifiedSdJwtVc:
    """Routing facts read from a token before anything is verified. Trust none of them."""

    unverified_issuer: str | None
    unverified_kid: str | None
    unverified_vct: str | None
    unverified_header: dict[str, Any]
    unverified_claims: dict[str, Any]

    def __repr__(self) -> str:
        return (
            f"UnverifiedSdJwtVc(unverified_issuer={self.unverified_issuer!r}, unverified_kid={self.unverified_kid!r})"
        )


def _epoch(now: datetime) -> float:
    if not isinstance(now, datetime):
        raise InvalidInputError("now must be a datetime")
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()


def _check_header(
    header: Mapping[str, Any], key: Key, policy: VerificationPolicy, typs: tuple[str, ...], what: str
) -> str:
    # The one JOSE header check (vcsdk.keys.check_jose_header): alg allowed and the key's, crit, no
    # key in the header, typ.
    return check_jose_header(header, key, policy=policy.algorithm_policy, typ=typs, what=what)


def _verify_signature(key: Key, signing_input: bytes, signature: bytes, alg: str, policy: VerificationPolicy) -> None:
    verify_signature(key, signing_input, signature, alg, policy.algorithm_policy)


_P256 = ec.SECP256R1()
_P256_MEMBERS = frozenset({"kty", "crv", "x", "y", "kid", "alg", "use"})


def _cnf_key(cnf: object) -> Key:
    """The holder key from ``cnf.jwk``; P-256 (device keys) takes a fast path."""
    jwk = cnf.get("jwk") if type(cnf) is dict else None
    if type(jwk) is not dict:
        raise ClaimsError("cnf must be an object with a jwk member (SD-JWT VC holder binding)", code="invalid_cnf")
    if not HEADER_KEY_PARAMS.isdisjoint(jwk) or "d" in jwk:
        raise ClaimsError("cnf.jwk must be a bare public key", code="invalid_cnf")
    x, y = jwk.get("x"), jwk.get("y")
    if (
        jwk.get("crv") == "P-256"
        and jwk.get("kty") == "EC"
        and jwk.keys() <= _P256_MEMBERS
        and type(x) is str
        and type(y) is str
        and len(x) == len(y) == 43
        and jwk.get("alg", "ES256") == "ES256"
    ):
        try:
            point = (
                b"\x04"
                + b64url_decode(x, what="cnf.jwk x", error=MalformedTokenError)
                + b64url_decode(y, what="cnf.jwk y", error=MalformedTokenError)
            )
            return Key(ec.EllipticCurvePublicKey.from_encoded_point(_P256, point))
        except (MalformedTokenError, ValueError):
            raise ClaimsError("cnf.jwk is not a valid P-256 public key", code="invalid_cnf") from None
    try:
        return Key.from_jwk(jwk).public_key()
    except VcsdkError:
        raise ClaimsError(
            "cnf.jwk is not a supported public key (EC P-256, secp256k1 or Ed25519)", code="invalid_cnf"
        ) from None


def _timestamp(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    return None if value is None else numeric_date(value, what=f"credential {name}", error=ClaimsError)


def _as_datetime(value: float | None) -> datetime | None:
    return None if value is None else from_numeric_date(value, what="a credential date", error=ClaimsError)


def _verify_key_binding(
    parsed: UnverifiedSdJwt,
    holder_key: Key | None,
    hash_fn: Any,
    policy: VerificationPolicy,
    now: float,
    audience: str,
    nonce: str,
) -> None:
    assert parsed.kb_jwt is not None
    if holder_key is None:
        raise KeyBindingError(
            "the presentation has a KB-JWT but the credential has no cnf key to check it with",
            code="key_binding_no_cnf",
        )
    kb_parts = parsed.kb_jws()  # decoded once: a protocol view of the same parse may have read it
    assert kb_parts is not None
    header, _body, signing_input, signature = kb_parts
    # RFC 9901 §7.3 step 5: typ kb+jwt, an allowed alg, then the signature with the cnf key.
    alg = _check_header(header, holder_key, policy, (KB_JWT_TYP,), "KB-JWT")
    try:
        _verify_signature(holder_key, signing_input, signature, alg, policy)
    except SignatureInvalidError:
        raise KeyBindingError(
            "the KB-JWT signature does not verify with the credential's holder key (cnf)",
            code="key_binding_signature_invalid",
        ) from None
    payload = parsed.kb_payload()
    if payload.get("nonce") != nonce:
        raise NonceMismatchError("presentation nonce does not match the request; ask the wallet for a new presentation")
    if payload.get("aud") != audience:
        raise AudienceMismatchError("presentation audience is not this verifier; it was made for another party")
    if payload.get("iat") is None:
        raise KeyBindingError("KB-JWT has no iat", code="key_binding_iat_missing")
    iat = numeric_date(payload["iat"], what="KB-JWT iat", error=KeyBindingError)
    leeway = policy.leeway.total_seconds()
    if iat > now + leeway:
        raise KeyBindingStaleError(
            "KB-JWT iat is in the future; check the wallet's clock", code="key_binding_not_yet_valid"
        )
    if iat < now - policy.key_binding_max_age.total_seconds() - leeway:
        raise KeyBindingStaleError("KB-JWT is older than the policy allows; ask for a fresh presentation")
    # RFC 9901 §7.3 step 5: the KB-JWT is a valid JWT in all other respects (RFC 7519 exp/nbf).
    exp, nbf = payload.get("exp"), payload.get("nbf")
    if exp is not None:
        exp = numeric_date(exp, what="KB-JWT exp", error=KeyBindingError)
    if nbf is not None:
        nbf = numeric_date(nbf, what="KB-JWT nbf", error=KeyBindingError)
    if exp is not None and now >= exp + leeway:
        raise KeyBindingStaleError("KB-JWT has expired (exp)", code="key_binding_expired")
    if nbf is not None and nbf > now + leeway:
        raise KeyBindingStaleError("KB-JWT is not valid yet (nbf)", code="key_binding_not_yet_valid")
    if payload.get(SD_HASH_KEY) != digest(parsed.sd_hash_input, hash_fn):
        raise SdHashMismatchError(
            "KB-JWT sd_hash does not match the presented SD-JWT and Disclosures; they were changed after signing"
        )


def _verify_parsed(
    parsed: UnverifiedSdJwt,
    issuer_key: Key,
    policy: VerificationPolicy,
    now: datetime,
    *,
    key_binding: tuple[str, str] | None,
    expected_issuer: str | None = None,
) -> VerifiedPresentation:
    now_ts = _epoch(now)
    typs = (SD_JWT_VC_TYP, LEGACY_SD_JWT_VC_TYP) if policy.accept_legacy_typ else (SD_JWT_VC_TYP,)
    # RFC 9901 §7.1 step 2: the Issuer-signed JWT, with an allowed alg and the resolved key.
    alg = _check_header(parsed.header, issuer_key, policy, typs, "SD-JWT")
    _verify_signature(issuer_key, parsed.signing_input, parsed.signature, alg, policy)
    payload = parsed.payload
    hash_fn = hash_function(payload.get(SD_ALG_KEY, "sha-256"), policy.sd_algorithms)
    # RFC 9901 §7.1 steps 3-4: digests, Disclosures, reserved names, shapes, unreferenced ones.
    processed = process_disclosures(payload, parsed.disclosures, hash_fn, max_depth=policy.max_depth)
    claims = processed.claims
    hidden = processed.disclosed_top_level & NON_DISCLOSABLE_VC_CLAIMS
    if hidden:
        raise ClaimsError(
            f"SD-JWT VC claims {sorted(hidden)} must not be selectively disclosable", code="claim_not_disclosable"
        )
    # RFC 9901 §7.1 step 5 / RFC 7519 §4.1: validity window with leeway.
    leeway = policy.leeway.total_seconds()
    iat, nbf, exp = _timestamp(claims, "iat"), _timestamp(claims, "nbf"), _timestamp(claims, "exp")
    if iat is not None and iat > now_ts + leeway:
        raise TokenNotYetValidError(
            "credential iat is in the future; check the issuer's clock", code="issued_in_future"
        )
    if nbf is not None and nbf > now_ts + leeway:
        raise TokenNotYetValidError("credential is not valid yet (nbf)")
    if exp is not None and now_ts >= exp + leeway:
        raise TokenExpiredError("credential has expired (exp); ask the issuer for a new one")
    # SD-JWT VC §3.2.2: iss and vct are required strings; status and cnf are objects.
    issuer, vct = claims.get("iss"), claims.get("vct")
    if not isinstance(issuer, str) or not issuer:
        raise ClaimsError("SD-JWT VC has no iss claim", code="missing_claim")
    if not isinstance(vct, str) or not vct:
        raise ClaimsError("SD-JWT VC has no vct claim", code="missing_claim")
    if expected_issuer is not None and issuer != expected_issuer:
        # The caller's key vouches for the signature, not for the iss the signer wrote.
        raise ClaimsError(
            "the credential's iss is not the issuer whose key verified it", code="issuer_mismatch",
            details={"iss": issuer[:300]},
        )
    status = claims.get("status")
    if status is not None and not isinstance(status, dict):
        raise ClaimsError("status must be a JSON object", code="invalid_status_claim")
    holder_key = _cnf_key(claims["cnf"]) if "cnf" in claims else None
    key_bound = False
    if key_binding is not None:
        if parsed.kb_jwt is None:
            if policy.require_key_binding:
                raise KeyBindingMissingError(
                    "presentation has no KB-JWT (it ends with '~') and the policy requires key binding: the "
                    "holder must sign one for this verifier, or the token was cut short after a '~'"
                )
        else:
            _verify_key_binding(parsed, holder_key, hash_fn, policy, now_ts, *key_binding)
            key_bound = True
    kid = parsed.header.get("kid")
    return VerifiedPresentation(
        issuer,
        kid if isinstance(kid, str) else None,
        vct,
        claims,
        holder_key,
        _as_datetime(iat),
        _as_datetime(exp),
        status,
        key_bound,
    )


def verify_sd_jwt(
    token: str | bytes,
    *,
    issuer_key: Key,
    expected_issuer: str | None = None,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    now: datetime,
) -> VerifiedPresentation:
    """Verify the Issuer-signed part of an SD-JWT VC with a key the caller found (pure core).

    Runs every check except key binding (a KB-JWT, if present, is not examined) and status.

    The key proves who signed, not the ``iss`` the signer wrote: pass ``expected_issuer`` (the
    issuer ``issuer_key`` belongs to), or ``result.issuer`` is only the signer's word.

    :param issuer_key: the issuer's public key, found from ``iss``/``kid`` (never from the token).
    :param expected_issuer: the issuer ``issuer_key`` belongs to; a token whose ``iss`` differs is
        refused (``ClaimsError``, code ``issuer_mismatch``). Leave it out only if the caller checks
        ``result.issuer`` itself.
    :raises MalformedTokenError: the token cannot be parsed or is over a limit.
    :raises DisallowedAlgorithmError: ``alg`` or ``_sd_alg`` not allowed by ``policy``.
    :raises UntrustedKeyError: the header carries its own key (``jwk``, ``x5c``, …).
    :raises TokenTypeError: ``typ`` is not ``dc+sd-jwt`` (or legacy ``vc+sd-jwt`` when allowed).
    :raises SignatureInvalidError: the issuer signature does not verify.
    :raises DisclosureError: a digest or Disclosure check of RFC 9901 §7.1 fails.
    :raises TokenNotYetValidError: ``iat`` or ``nbf`` in the future beyond the leeway.
    :raises TokenExpiredError: ``exp`` passed beyond the leeway.
    :raises ClaimsError: missing ``iss``/``vct``, hidden ``cnf``/``status``/…, malformed ``cnf``,
        ``iss`` other than ``expected_issuer`` (``issuer_mismatch``).
    :return: the verified issuer, type, claims and holder key.
    """
    _check_expected_issuer(expected_issuer)
    return _verify_parsed(
        parse(token, limits=policy), issuer_key, policy, now, key_binding=None, expected_issuer=expected_issuer
    )


def _check_expected_issuer(expected_issuer: object) -> None:
    if expected_issuer is not None and (not isinstance(expected_issuer, str) or not expected_issuer):
        raise InvalidInputError("expected_issuer must be a non-empty string (the issuer the key belongs to)")


def verify_presentation_with_key(
    token: str | bytes,
    *,
    issuer_key: Key,
    expected_issuer: str | None = None,
    audience: str,
    nonce: str,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    now: datetime,
) -> VerifiedPresentation:
    """Verify an SD-JWT VC presentation (SD-JWT+KB) with a key the caller found (pure core).

    Everything :func:`verify_sd_jwt` checks, then the KB-JWT (RFC 9901 §7.3). As there, the key
    proves who signed, not the ``iss`` the signer wrote: pass ``expected_issuer``.

    :param expected_issuer: the issuer ``issuer_key`` belongs to; a token whose ``iss`` differs is
        refused (``ClaimsError``, code ``issuer_mismatch``).

    :param audience: this verifier's identifier; the KB-JWT ``aud`` must equal it.
    :param nonce: the nonce this verifier sent; the KB-JWT ``nonce`` must equal it.
    :raises KeyBindingMissingError: no KB-JWT while ``policy.require_key_binding``.
    :raises KeyBindingError: no ``cnf`` key, or the KB-JWT signature does not verify with it.
    :raises TokenTypeError: the KB-JWT ``typ`` is not ``kb+jwt``.
    :raises NonceMismatchError: wrong ``nonce``.
    :raises AudienceMismatchError: wrong ``aud``.
    :raises KeyBindingStaleError: KB-JWT ``iat`` in the future or older than the policy allows.
    :raises SdHashMismatchError: ``sd_hash`` does not cover the presented SD-JWT and Disclosures.
    :return: the verified presentation.
    """
    if not isinstance(audience, str) or not isinstance(nonce, str):
        raise InvalidInputError("audience and nonce must be strings")
    _check_expected_issuer(expected_issuer)
    parsed = parse(token, limits=policy)
    return _verify_parsed(
        parsed, issuer_key, policy, now, key_binding=(audience, nonce), expected_issuer=expected_issuer
    )


async def _resolve(
    parsed: UnverifiedSdJwt, resolver: IssuerKeyResolver, policy: VerificationPolicy
) -> tuple[str, Key]:
    issuer = parsed.payload.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise ClaimsError("SD-JWT VC has no iss claim, so its issuer key cannot be resolved", code="missing_claim")
    kid = parsed.header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise MalformedTokenError("kid header must be a string")
    at = None
    if policy.resolve_key_at_issuance:
        iat = _timestamp(parsed.payload, "iat")
        at = _as_datetime(iat)
    return issuer, await resolver.resolve_key(issuer, kid, relationship="assertionMethod", at=at)


async def _check_status(
    result: VerifiedPresentation, status: StatusChecker | None, policy: VerificationPolicy, now: datetime
) -> None:
    if result.status is None:
        return
    if status is None:
        if policy.check_status:
            listed = result.status.get("status_list") if isinstance(result.status, dict) else None
            uri = listed.get("uri") if isinstance(listed, dict) else None
            raise CredentialStatusError(
                "the credential has a status claim but no status checker was given; pass one or use "
                "a policy with check_status=False",
                code="status_not_checked",
                details={"uri": uri[:300]} if isinstance(uri, str) else None,
            )
        return
    await status.check(result.status, issuer=result.issuer, now=now)


async def _check_accreditation(
    result: VerifiedPresentation, accreditation: IssuerAccreditationChecker | None, now: datetime
) -> None:
    if accreditation is None:
        return
    if result.issued_at is None:
        # Accredited "when it issued it" needs the issuance time; without iat it cannot be shown.
        raise IssuerNotAccreditedError(
            "the credential has no iat, so the issuer's accreditation at issuance cannot be checked"
        )
    await accreditation.check(result.issuer, result.vct, issued_at=result.issued_at, now=now)


async def _verify_resolved(
    token: str | bytes,
    policy: VerificationPolicy,
    resolver: IssuerKeyResolver,
    status: StatusChecker | None,
    accreditation: IssuerAccreditationChecker | None,
    now: datetime,
    *,
    key_binding: tuple[str, str] | None,
    vct: str | Sequence[str] | None = None,
    nonces: NonceStore | None = None,
) -> VerifiedPresentation:
    """The recipe: resolve the issuer key, every SD-JWT (and KB-JWT) check, type, nonce, accreditation, status."""
    expected = _expected_types(vct)
    parsed = parse(token, limits=policy)
    issuer, key = await _resolve(parsed, resolver, policy)
    result = _verify_parsed(parsed, key, policy, now, key_binding=key_binding, expected_issuer=issuer)
    if expected is not None and result.vct not in expected:
        raise CredentialTypeError(
            f"the credential's vct is not one this verifier asked for ({len(expected)} accepted)",
            details={"vct": result.vct[:300]},
        )
    if nonces is not None and key_binding is not None:
        # Single use: the nonce must be one this verifier issued, unexpired and not seen before.
        if not result.key_bound:
            raise KeyBindingMissingError("a nonce store checks replay through the KB-JWT; this presentation has none")
        if not await nonces.consume(key_binding[1], now=now):
            raise ReplayedNonceError(
                "the presentation's nonce was used before, has expired, or was not issued by this verifier; "
                "send a new request with a fresh nonce"
            )
    # Accreditation first: an issuer the city does not accredit should not make the verifier fetch
    # the status list it chose.
    await _check_accreditation(result, accreditation, now)
    await _check_status(result, status, policy, now)
    return result


async def verify_presentation(
    token: str | bytes,
    *,
    audience: str,
    nonce: str,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    resolver: IssuerKeyResolver,
    status: StatusChecker | None = None,
    accreditation: IssuerAccreditationChecker | None = None,
    now: datetime,
    vct: str | Sequence[str] | None = None,
    nonces: NonceStore | None = None,
) -> VerifiedPresentation:
    """Verify an SD-JWT VC presentation end to end: the recipe a verifier calls.

    Resolves the issuer key by ``iss`` and ``kid`` (``assertionMethod``), runs every check of
    :func:`verify_presentation_with_key`, then the issuer's accreditation for the ``vct`` through
    ``accreditation``, then the credential status through ``status``.

    :param resolver: finds the issuer's key (``vcsdk.ethr.Resolver``, :class:`StaticKeyResolver`).
    :param status: checks the ``status`` claim; ``None`` only with ``policy.check_status=False``
        or for credentials without status.
    :param accreditation: checks the issuer was accredited for the credential's ``vct`` at its
        ``iat`` and still is at ``now`` (``vcsdk.trust.AccreditationPolicy``); ``None`` skips it.
    :param vct: the credential type(s) this verifier accepts; another ``vct`` is refused.
    :param nonces: the store that issued ``nonce``: it is consumed here, so a replayed
        presentation is refused (``InMemoryNonceStore``, or ``StateStoreNonces`` over a shared store).
    :raises CredentialTypeError: the ``vct`` is not one of ``vct`` (code ``wrong_credential_type``).
    :raises ReplayedNonceError: ``nonce`` unknown to ``nonces``, expired or used (code ``replayed_nonce``).
    :raises KeyNotFoundError: no key for ``kid`` (from the resolver).
    :raises DidResolutionError: the issuer DID cannot be resolved (from the resolver).
    :raises IssuerNotAccreditedError: the issuer was not accredited for the ``vct`` when it issued
        the credential, or is not now (revoked, suspended, window ended), or the credential has no ``iat``.
    :raises CredentialStatusError: revoked, suspended, list unavailable, or status not checked.
    :raises VerificationError: the subclass for the first failed check, as listed for
        :func:`verify_presentation_with_key`.
    :return: the verified presentation.
    """
    if not isinstance(audience, str) or not isinstance(nonce, str):
        raise InvalidInputError("audience and nonce must be strings")
    return await _verify_resolved(
        token, policy, resolver, status, accreditation, now, key_binding=(audience, nonce), vct=vct, nonces=nonces
    )


async def verify_credential(
    token: str | bytes,
    *,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
    resolver: IssuerKeyResolver,
    status: StatusChecker | None = None,
    accreditation: IssuerAccreditationChecker | None = None,
    now: datetime,
    vct: str | Sequence[str] | None = None,
) -> VerifiedPresentation:
    """Verify an SD-JWT VC as issued (no key binding): issuer key, every SD-JWT check, accreditation, status.

    :param accreditation: checks the issuer was accredited for the credential's ``vct`` at its
        ``iat`` and still is at ``now`` (``vcsdk.trust.AccreditationPolicy``); ``None`` skips it.
    :param vct: the credential type(s) this verifier accepts; another ``vct`` is refused.
    :raises CredentialTypeError: the ``vct`` is not one of ``vct`` (code ``wrong_credential_type``).
    :raises IssuerNotAccreditedError: from the accreditation check (see :func:`verify_presentation`).
    :raises VerificationError: the subclass for the first failed check (see :func:`verify_sd_jwt`).
    :return: the verified credential, with every Disclosure it carries applied.
    """
    return await _verify_resolved(token, policy, resolver, status, accreditation, now, key_binding=None, vct=vct)


def _expected_types(vct: str | Sequence[str] | None) -> frozenset[str] | None:
    if vct is None:
        return None
    wanted = (vct,) if isinstance(vct, str) else tuple(vct)
    if not wanted or not all(isinstance(v, str) and v for v in wanted):
        raise InvalidInputError("vct must be a non-empty string or a non-empty list of them")
    return frozenset(wanted)


def peek(token: str | bytes) -> UnverifiedSdJwtVc:
    """Read issuer, ``kid``, ``vct`` and claims from a token without verifying anything (routing).

    :raises InvalidInputError: (as :class:`MalformedTokenError`) if it cannot be parsed.
    :return: the unverified facts.
    """
    parsed = parse(token)
    try:
        hash_fn = hash_function(parsed.payload.get(SD_ALG_KEY, "sha-256"))
        claims = process_disclosures(parsed.payload, parsed.disclosures, hash_fn).claims
    except VerificationError as exc:
        if isinstance(exc, MalformedTokenError):
            raise
        raise MalformedTokenError(f"token Disclosures cannot be applied: {exc.message}") from None
    iss, kid, vct = claims.get("iss"), parsed.header.get("kid"), claims.get("vct")
    return UnverifiedSdJwtVc(
        iss if isinstance(iss, str) else None,
        kid if isinstance(kid, str) else None,
        vct if isinstance(vct, str) else None,
        parsed.header,
        claims,
    )
