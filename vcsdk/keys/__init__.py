"""Keys and algorithms: JWK import/export, RFC 7638 thumbprints, compact JWS behind an allow-list.

Only ``ES256`` (P-256 device keys), ``ES256K`` (did:ethr) and ``EdDSA`` exist here; ``none``,
``HS*`` and keys carried in a token's own header can never be used to verify.
"""

from __future__ import annotations

from vcsdk.keys._jws import (
    HEADER_KEY_PARAMS,
    UnverifiedJws,
    VerifiedJws,
    check_jose_header,
    decode_jws,
    jws_signing_input,
    sign_jws,
    verify_jws,
    verify_signature,
)
from vcsdk.keys._keys import (
    ALGORITHM_FOR_CURVE,
    DEFAULT_POLICY,
    AlgorithmPolicy,
    AlgorithmPolicySource,
    Key,
    Kid,
    Signer,
)

__all__ = [
    "ALGORITHM_FOR_CURVE",
    "DEFAULT_POLICY",
    "HEADER_KEY_PARAMS",
    "AlgorithmPolicy",
    "AlgorithmPolicySource",
    "Key",
    "Kid",
    "Signer",
    "UnverifiedJws",
    "VerifiedJws",
    "check_jose_header",
    "decode_jws",
    "jws_signing_input",
    "sign_jws",
    "verify_jws",
    "verify_signature",
]
