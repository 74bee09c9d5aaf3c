"""What a relying party may learn at login: scopes → credential claims, narrowed by its registration,
and the pairwise subject identifier (OpenID Connect Core 1.0 §8.1)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vcsdk._b64 import b64url_encode
from vcsdk.registration import ClaimSet, RelyingPartyRegistration

__all__ = [
    "LOGIN_CLAIM",
    "SCOPE_CLAIMS",
    "allowed_scopes",
    "claim_paths",
    "pairwise_subject",
    "project_claims",
]

ClaimPath = tuple[str | int | None, ...]

#: The claims of the city's resident credential each scope stands for. The OIDC standard scopes
#: ``profile`` and ``address`` keep their meaning (the credential's ``address`` has OIDC's members);
#: ``age`` and ``resident`` are the city's own.
SCOPE_CLAIMS: Mapping[str, tuple[ClaimPath, ...]] = {
    "profile": (("family_name",), ("given_name",), ("birthdate",)),
    "address": (("address",),),
    "age": (("age_equal_or_over",),),
    "resident": (("resident_since",),),
}

#: Asked at every login, whatever the scopes: how the city verified the resident. It becomes the ID
#: token's ``acr`` and is never passed on as a claim.
LOGIN_CLAIM: ClaimPath = ("verification", "level")


def _prefix(short: Sequence[str | int | None], long: Sequence[str | int | None]) -> bool:
    """``short`` is a prefix of ``long``; ``None`` (any array element) matches any segment."""
    return len(short) <= len(long) and all(a is None or b is None or a == b for a, b in zip(short, long, strict=False))


def _scope_paths(claim_sets: Iterable[ClaimSet], vct: str, scope: str) -> list[ClaimPath]:
    """The scope's claims, each narrowed to what a registered path allows (registration ∩ scope)."""
    out: list[ClaimPath] = []
    for wanted in SCOPE_CLAIMS.get(scope, ()):
        for claim_set in claim_sets:
            if claim_set.vct != vct:
                continue
            for allowed in claim_set.paths:
                if _prefix(allowed, wanted):
                    path = wanted  # the registration allows the whole scope claim
                elif _prefix(wanted, allowed):
                    path = tuple(allowed)  # the registration allows only part of it
                else:
                    continue
                if path not in out:
                    out.append(path)
    return out


def claim_paths(registration: RelyingPartyRegistration, vct: str, scopes: Iterable[str]) -> tuple[ClaimPath, ...]:
    """The credential claims a login with ``scopes`` asks for: each scope's claims narrowed to the
    service's registration, in scope order, without duplicates.

    :param registration: the relying party's registration (what the city allows it).
    :param vct: the resident credential's type.
    :param scopes: the granted scopes (``openid`` and unknown scopes add nothing).
    :return: DCQL claims path pointers.
    """
    out: list[ClaimPath] = []
    for scope in scopes:
        for path in _scope_paths(registration.claim_sets, vct, scope):
            if path not in out:
                out.append(path)
    return tuple(out)


def allowed_scopes(registration: RelyingPartyRegistration, vct: str) -> frozenset[str]:
    """The scopes a relying party may ask for: ``openid``, and each scope of which its registration
    allows at least one claim (asking for another is ``invalid_scope``)."""
    return frozenset({"openid"} | {s for s in SCOPE_CLAIMS if _scope_paths(registration.claim_sets, vct, s)})


def project_claims(disclosed: Mapping[str, Any], paths: Iterable[ClaimPath]) -> dict[str, Any]:
    """Only the claims at ``paths`` of the disclosed claims, nested as in the credential."""
    out: dict[str, Any] = {}
    for path in paths:
        value: Any = disclosed
        for segment in path:
            if not isinstance(value, Mapping) or not isinstance(segment, str) or segment not in value:
                value = None
                break
            value = value[segment]
        if value is None:
            continue
        target = out
        for segment in path[:-1]:
            target = target.setdefault(str(segment), {})
        target[str(path[-1])] = value
    return out


def pairwise_subject(secret: bytes, *, sector: str, local_id: str) -> str:
    """The ``sub`` one sector (one registered service) sees for one resident (OIDC Core §8.1: a
    pairwise identifier no two sectors share): HMAC-SHA-256 of the sector and the resident's stable
    identifier under the provider's secret, base64url.

    :param secret: the provider's secret (at least 32 bytes); changing it changes every ``sub``.
    :param sector: the sector identifier (the registered service's DID).
    :param local_id: the resident's stable identifier at the city (never shown to a service).
    """
    if len(secret) < 32:
        raise ValueError("the pairwise subject secret must be at least 32 bytes")
    message = b"vcsdk-sso-sub\x00" + sector.encode("utf-8") + b"\x00" + local_id.encode("utf-8")
    return b64url_encode(hmac.new(secret, message, hashlib.sha256).digest())
