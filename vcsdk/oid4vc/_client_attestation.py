"""Wallet attestations: OAuth 2.0 Attestation-Based Client Authentication, as OpenID4VCI Appendix E
and HAIP 1.0 §4.4.1 use it.

A wallet provider attests a wallet instance's key (``OAuth-Client-Attestation``: a JWT with ``typ``
``oauth-client-attestation+jwt``, ``sub`` the client id shared by every instance of that wallet,
``cnf.jwk`` the instance key, signed by the provider with its certificate chain in ``x5c``); for each
request the instance proves possession of that key (``OAuth-Client-Attestation-PoP``: ``typ``
``oauth-client-attestation-pop+jwt``, ``aud`` the authorization server, a fresh ``jti`` and ``iat``).

Pure functions; remembering the PoP ``jti`` (replay) is the authorization server's, with its store.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from vcsdk._time import numeric_date
from vcsdk.errors import InvalidInputError, ProtocolError, VcsdkError
from vcsdk.keys import AlgorithmPolicy, Key, decode_jws, sign_jws, verify_jws
from vcsdk.oid4vc._common import SYSTEM_RANDOMNESS, Randomness, random_token
from vcsdk.oid4vc._x509 import leaf_key, verify_x5c

__all__ = [
    "ATTESTATION_HEADER",
    "ATTESTATION_POP_HEADER",
    "ATTESTATION_POP_TYP",
    "ATTESTATION_TYP",
    "ClientAttestation",
    "VerifiedClientAttestation",
    "WalletAttestationTrust",
    "create_attestation_pop",
    "issue_wallet_attestation",
    "verify_client_attestation",
]

ATTESTATION_HEADER = "OAuth-Client-Attestation"
ATTESTATION_POP_HEADER = "OAuth-Client-Attestation-PoP"
ATTESTATION_TYP = "oauth-client-attestation+jwt"
ATTESTATION_POP_TYP = "oauth-client-attestation-pop+jwt"
#: HAIP 1.0 §7: ES256 with P-256 keys.
ATTESTATION_ALGORITHMS = AlgorithmPolicy(("ES256",))
MAX_ATTESTATION_BYTES = 32 * 1024
#: How long a proof of possession says it is valid (``exp``); servers also bound it by its ``iat``.
POP_LIFETIME = timedelta(minutes=5)


def _err(message: str) -> ProtocolError:
    return ProtocolError(message, code="invalid_client")


def issue_wallet_attestation(
    provider_key: Key,
    *,
    issuer: str,
    client_id: str,
    instance_jwk: Mapping[str, str],
    now: datetime,
    lifetime: timedelta = timedelta(hours=24),
    x5c: Sequence[x509.Certificate] = (),
    wallet_name: str | None = None,
) -> str:
    """A Wallet Attestation (OpenID4VCI Appendix E), made by the wallet provider.

    :param provider_key: the provider's private signing key (its certificate is the first of ``x5c``).
    :param client_id: the ``sub``: one value for every instance of this wallet (HAIP: no instance id).
    :param instance_jwk: the public key of the wallet instance (``cnf.jwk``).
    :param x5c: the provider's certificate and chain, without the trust anchor (HAIP 1.0 §4.4.1).
    :raises InvalidInputError: if ``instance_jwk`` carries a private member.
    """
    if "d" in instance_jwk:
        raise InvalidInputError("the attested instance key must be public")
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "cnf": {"jwk": {k: v for k, v in instance_jwk.items() if k in ("kty", "crv", "x", "y")}},
    }
    if wallet_name is not None:
        claims["wallet_name"] = wallet_name
    header: dict[str, Any] = {}
    if x5c:
        header["x5c"] = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in x5c]
    return sign_jws(claims, provider_key, typ=ATTESTATION_TYP, header=header or None, include_kid=not x5c)


def create_attestation_pop(
    instance_key: Key,
    *,
    client_id: str,
    audience: str,
    now: datetime,
    challenge: str | None = None,
    randomness: Randomness = SYSTEM_RANDOMNESS,
) -> str:
    """The proof of possession of the attested instance key for one request to ``audience`` (the
    authorization server's issuer identifier). It carries ``exp`` (``iat`` plus five minutes) as
    well, which servers following earlier drafts of attestation-based client authentication require."""
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": audience,
        "jti": random_token(randomness, 16),
        "iat": int(now.timestamp()),
        "exp": int((now + POP_LIFETIME).timestamp()),
    }
    if challenge is not None:
        claims["challenge"] = challenge
    return sign_jws(claims, instance_key, typ=ATTESTATION_POP_TYP, include_kid=False)


@dataclass(frozen=True, slots=True)
class ClientAttestation:
    """What a wallet keeps to authenticate: the provider's attestation and the instance key."""

    attestation: str = field(repr=False)
    instance_key: Key = field(repr=False)
    client_id: str = ""

    def headers(self, *, audience: str, now: datetime, randomness: Randomness = SYSTEM_RANDOMNESS) -> dict[str, str]:
        """The two request headers for one request to the authorization server ``audience``."""
        pop = create_attestation_pop(
            self.instance_key, client_id=self.client_id, audience=audience, now=now, randomness=randomness
        )
        return {ATTESTATION_HEADER: self.attestation, ATTESTATION_POP_HEADER: pop}


@dataclass(frozen=True, slots=True)
class WalletAttestationTrust:
    """Which wallet providers an issuer trusts: certificate chains up to ``trust_anchors`` (HAIP), or
    provider keys named by ``iss`` (a provider without certificates, e.g. the city's own wallet)."""

    trust_anchors: Sequence[x509.Certificate] = ()
    provider_keys: Mapping[str, Sequence[Key]] = field(default_factory=dict)
    leeway: timedelta = timedelta(seconds=60)
    pop_max_age: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class VerifiedClientAttestation:
    """A client authenticated by attestation: its ``client_id`` and instance key thumbprint, the
    provider, and the PoP's ``jti`` (the caller refuses one it has seen)."""

    client_id: str
    provider: str
    instance_jkt: str
    pop_jti: str
    pop_iat: int


def _time_claim(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    try:
        return int(numeric_date(value, what=f"the wallet attestation's {name}"))
    except InvalidInputError:
        raise _err(f"the wallet attestation's {name} is not a date (seconds since the epoch)") from None


def verify_client_attestation(
    attestation: str | None,
    pop: str | None,
    *,
    trust: WalletAttestationTrust,
    audience: str,
    now: datetime,
    client_id: str | None = None,
) -> VerifiedClientAttestation:
    """Authenticate a client by its Wallet Attestation and the proof of possession for this request.

    :param audience: this authorization server's issuer identifier (the PoP's ``aud``).
    :param client_id: the ``client_id`` the request names, if any: it must be the attestation's ``sub``.
    :raises ProtocolError: (``invalid_client``) for a missing or malformed header, an untrusted
        provider or chain, a failed signature, an expired attestation, a PoP for another audience or
        not fresh, or another ``client_id``.
    :return: the authenticated client.
    """
    if not attestation or not pop:
        raise _err(f"client authentication with {ATTESTATION_HEADER} and {ATTESTATION_POP_HEADER} is required")
    try:
        unverified = decode_jws(attestation, max_bytes=MAX_ATTESTATION_BYTES)
        claims = unverified.unverified_claims()
    except VcsdkError:
        raise _err("the wallet attestation is not a compact JWS") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _err("the wallet attestation has no iss")
    try:
        if "x5c" in unverified.header:
            leaf, _ = verify_x5c(unverified.header["x5c"], trust_anchors=trust.trust_anchors, now=now)
            keys = [leaf_key(leaf)]
        else:
            keys = list(trust.provider_keys.get(issuer, ()))
        if not keys:
            raise _err("the wallet attestation's provider is not trusted")
        verified = None
        for key in keys:
            try:
                verified = verify_jws(
                    unverified, key, policy=ATTESTATION_ALGORITHMS, typ=ATTESTATION_TYP, header_keys="ignore"
                )
                break
            except VcsdkError:
                continue
        if verified is None:
            raise _err("the wallet attestation is not signed by a trusted wallet provider")
    except ProtocolError:
        raise
    except VcsdkError as exc:
        raise _err(f"the wallet attestation's certificate chain is not trusted ({exc.code})") from None
    ts = now.timestamp()
    slack = trust.leeway.total_seconds()
    exp, nbf = _time_claim(claims, "exp"), _time_claim(claims, "nbf")
    if exp is None or exp < ts - slack:
        raise _err("the wallet attestation has expired; get a new one from the wallet provider")
    if nbf is not None and nbf > ts + slack:
        raise _err("the wallet attestation is not valid yet")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _err("the wallet attestation has no sub (client id)")
    if client_id is not None and client_id != sub:
        raise _err("client_id differs from the wallet attestation's sub")
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, Mapping) else None
    if not isinstance(jwk, Mapping) or "d" in jwk:
        raise _err("the wallet attestation has no public cnf.jwk")
    try:
        instance = Key.from_jwk(dict(jwk))
        pop_claims = verify_jws(
            decode_jws(pop, max_bytes=MAX_ATTESTATION_BYTES),
            instance,
            policy=ATTESTATION_ALGORITHMS,
            typ=ATTESTATION_POP_TYP,
        ).claims()
    except VcsdkError as exc:
        raise _err(f"the attestation proof of possession does not verify ({exc.code})") from None
    aud = pop_claims.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise _err("the attestation proof of possession is for another authorization server (aud)")
    if "iss" in pop_claims and pop_claims["iss"] != sub:
        raise _err("the attestation proof of possession names another client (iss)")
    iat = _time_claim(pop_claims, "iat")
    if iat is None or iat > ts + slack or iat < ts - trust.pop_max_age.total_seconds():
        raise _err("the attestation proof of possession is not fresh; make a new one for every request")
    pop_exp = _time_claim(pop_claims, "exp")
    if pop_exp is not None and pop_exp < ts - slack:
        raise _err("the attestation proof of possession has expired; make a new one for every request")
    jti = pop_claims.get("jti")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise _err("the attestation proof of possession needs a unique jti")
    return VerifiedClientAttestation(sub, issuer, instance.thumbprint(), jti, iat)
