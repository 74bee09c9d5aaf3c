"""What a credential verifier accepts: algorithms, clock leeway, key-binding age, input limits."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import timedelta

from vcsdk.errors import InvalidInputError, UnsupportedAlgorithmError
from vcsdk.keys import AlgorithmPolicy

__all__ = ["DEFAULT_VERIFICATION_POLICY", "SD_ALGORITHMS", "VerificationPolicy", "verification_policy"]

#: Digest algorithms an SD-JWT ``_sd_alg`` may name (IANA "Named Information Hash Algorithm"
#: registry names). A policy allows a subset of these; ``sha-256`` is the default and the only
#: one every implementation must support (RFC 9901 §4.1.1).
SD_ALGORITHMS: tuple[str, ...] = ("sha-256", "sha-384", "sha-512", "sha3-256", "sha3-384", "sha3-512")


@dataclass(frozen=True, slots=True)
class VerificationPolicy:
    """The verifier's explicit choices. Defaults are the safe ones; print the object to see them.

    The one policy every ``verify_*`` function of vcsdk takes (SD-JWT VC, W3C VC, status lists,
    receipts, registrations, request objects): each reads the fields that apply to what it checks
    (the algorithms and the leeway everywhere; key binding, ``_sd_alg`` and the input limits where
    a token has them; ``check_status`` where a credential carries a status).

    :param algorithms: JWS algorithms accepted for the issuer signature and the KB-JWT.
    :param leeway: clock skew tolerated on ``iat``, ``nbf``, ``exp`` and the KB-JWT ``iat``.
    :param key_binding_max_age: how old a KB-JWT (by its ``iat``) may be.
    :param sd_algorithms: digest algorithms accepted as ``_sd_alg``.
    :param require_key_binding: refuse presentations without a KB-JWT.
    :param accept_legacy_typ: also accept the pre-2025 ``vc+sd-jwt`` media type.
    :param check_status: when the credential has a ``status`` claim, insist on a status checker.
    :param resolve_key_at_issuance: ask the key resolver for the issuer key as it was at ``iat``
        (lets credentials signed before a key rotation verify); otherwise the current key.
    :param max_token_bytes: largest token accepted, in characters.
    :param max_disclosures: most Disclosures accepted in one token.
    :param max_depth: deepest JSON nesting accepted in the processed claims (at most 100).
    :raises UnsupportedAlgorithmError: if an algorithm or digest is not one vcsdk supports.
    :raises InvalidInputError: if a duration or limit is negative or zero where it must be positive.
    """

    algorithms: tuple[str, ...] = ("ES256", "ES256K", "EdDSA")
    leeway: timedelta = timedelta(seconds=60)
    key_binding_max_age: timedelta = timedelta(minutes=5)
    sd_algorithms: tuple[str, ...] = ("sha-256",)
    require_key_binding: bool = True
    accept_legacy_typ: bool = False
    check_status: bool = True
    resolve_key_at_issuance: bool = False
    max_token_bytes: int = 512 * 1024
    max_disclosures: int = 1000
    max_depth: int = 32
    algorithm_policy: AlgorithmPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithms", tuple(self.algorithms))
        object.__setattr__(self, "sd_algorithms", tuple(self.sd_algorithms))
        object.__setattr__(self, "algorithm_policy", AlgorithmPolicy(self.algorithms))
        for name in self.sd_algorithms:
            if name not in SD_ALGORITHMS:
                raise UnsupportedAlgorithmError(
                    f"digest algorithm {name!r} cannot be allowed; vcsdk supports {list(SD_ALGORITHMS)}"
                )
        if self.leeway < timedelta(0) or self.key_binding_max_age <= timedelta(0):
            raise InvalidInputError("leeway must be >= 0 and key_binding_max_age > 0")
        if min(self.max_token_bytes, self.max_disclosures, self.max_depth) <= 0 or self.max_depth > 100:
            raise InvalidInputError(
                "max_token_bytes, max_disclosures and max_depth must be positive; max_depth at most 100"
            )

    def __repr__(self) -> str:
        return (
            "VerificationPolicy("
            f"algorithms={list(self.algorithms)}, "
            f"leeway={self.leeway.total_seconds():g}s, "
            f"key_binding_max_age={self.key_binding_max_age.total_seconds():g}s, "
            f"sd_algorithms={list(self.sd_algorithms)}, "
            f"require_key_binding={self.require_key_binding}, "
            f"accept_legacy_typ={self.accept_legacy_typ}, "
            f"check_status={self.check_status}, "
            f"resolve_key_at_issuance={self.resolve_key_at_issuance}, "
            f"max_token_bytes={self.max_token_bytes}, "
            f"max_disclosures={self.max_disclosures}, "
            f"max_depth={self.max_depth})"
        )


DEFAULT_VERIFICATION_POLICY = VerificationPolicy()


def verification_policy(policy: object) -> VerificationPolicy:
    """The :class:`VerificationPolicy` a ``verify_*`` function was given.

    An :class:`~vcsdk.keys.AlgorithmPolicy` (what the W3C, status-list, receipt and registration
    verifiers took before) still works for now: it becomes ``VerificationPolicy(algorithms=…)`` with
    a ``DeprecationWarning``, and will be refused in a later release.

    :raises InvalidInputError: for anything else.
    """
    if isinstance(policy, VerificationPolicy):
        return policy
    if isinstance(policy, AlgorithmPolicy):
        warnings.warn(
            "passing an AlgorithmPolicy as policy is deprecated; pass "
            f"VerificationPolicy(algorithms={policy.names!r}) (it also holds the leeway)",
            DeprecationWarning,
            stacklevel=3,
        )
        return VerificationPolicy(algorithms=policy.names)
    raise InvalidInputError(f"policy must be a VerificationPolicy, not {type(policy).__name__}")
