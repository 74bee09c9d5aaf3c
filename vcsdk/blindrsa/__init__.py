"""RSA Blind Signatures (RFC 9474): a signer signs a message it never sees.

The client :func:`prepare`\\ s its message and :func:`blind`\\ s it with the signer's public key; the
signer runs :func:`blind_sign` on the blinded message; the client :func:`finalize`\\ s (unblinds and
checks) the result into an ordinary RSASSA-PSS signature that anyone can :func:`verify`. The
signer cannot link the signature it later sees to the signing it did.

All four named variants of RFC 9474 §5 are here; :data:`RSABSSA_SHA384_PSS_RANDOMIZED` is the one
the RFC recommends and the one vcsdk's ballot tokens use. Keys come from ``cryptography``
(2048, 3072 or 4096 bits, e = 65537); one key serves one variant (RFC 9474 §6.2).

This package is the low level: it signs and verifies bytes. A protocol built on it (which key, which
message format, one signature per what) decides the rest; see ``vcsdk.voting`` for ballot tokens.
"""

from __future__ import annotations

from vcsdk.blindrsa._rfc9474 import (
    ALLOWED_MODULUS_BITS,
    PUBLIC_EXPONENT,
    RSABSSA_SHA384_PSS_DETERMINISTIC,
    RSABSSA_SHA384_PSS_RANDOMIZED,
    RSABSSA_SHA384_PSSZERO_DETERMINISTIC,
    RSABSSA_SHA384_PSSZERO_RANDOMIZED,
    VARIANTS,
    Blinded,
    BlindRsaVariant,
    Randomness,
    blind,
    blind_sign,
    finalize,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    prepare,
    private_key_to_pem,
    public_key_to_der,
    verify,
)

__all__ = [
    "ALLOWED_MODULUS_BITS",
    "PUBLIC_EXPONENT",
    "RSABSSA_SHA384_PSSZERO_DETERMINISTIC",
    "RSABSSA_SHA384_PSSZERO_RANDOMIZED",
    "RSABSSA_SHA384_PSS_DETERMINISTIC",
    "RSABSSA_SHA384_PSS_RANDOMIZED",
    "VARIANTS",
    "BlindRsaVariant",
    "Blinded",
    "Randomness",
    "blind",
    "blind_sign",
    "finalize",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "prepare",
    "private_key_to_pem",
    "public_key_to_der",
    "verify",
]
