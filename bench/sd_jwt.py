"""SD-JWT VC benchmark: vcsdk next to the reference ``sd-jwt`` library and raw ES256.

Measures operations per second, all in one run on the same keys and claims:

- issue: an SD-JWT VC with 10 selectively disclosable claims and ``cnf`` (one ES256 signature);
- present: 3 of the 10 claims with a KB-JWT (one ES256 signature);
- verify: the presentation, every check (issuer signature, Disclosures, KB-JWT; two verifications).

The floor is raw ES256 with ``cryptography`` on the same bytes: one signature for issue and
present, two verifications for verify. Ratios are vcsdk / reference and vcsdk / floor (1.0 = the
floor itself). The last line is ``verify_vs_reference=<ratio> verify_vs_floor=<ratio>``.

For verify, a second baseline shows how far any Python verifier can get: ``decode-only`` splits the
presentation, base64url-decodes and JSON-parses every part (standard library), hashes every
Disclosure and the ``sd_hash`` input, imports the ``cnf`` key and checks the two signatures, and
checks nothing else. Its ratio to the reference, and the floor's own, bound what a verifier that runs
every check can reach on this machine.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto.jwk import JWK

from vcsdk._b64 import b64url_decode
from vcsdk.credentials import issue_sd_jwt_vc, present, verify_presentation_with_key
from vcsdk.keys import Key

ISSUER = "did:example:kaga-city"
VCT = "https://credentials.example/ResidentIdentityCredential"
AUD, NONCE = "https://shop.example", "bench-nonce"
NOW = datetime.now(UTC)  # the reference holder stamps KB-JWTs with the real clock
CLAIMS: dict[str, Any] = {
    "given_name": "Hanako",
    "family_name": "Kaga",
    "birthdate": "1990-04-01",
    "email": "hanako@example.jp",
    "phone_number": "+81-761-00-0000",
    "locality": "Kaga",
    "region": "Ishikawa",
    "postal_code": "922-0000",
    "resident_since": "2015-04-01",
    "age_over_20": True,
}
CHOSEN = ["locality", "age_over_20", "resident_since"]
#: VCSDK_BENCH_QUICK=1: a few short rounds, for the test that keeps the benchmarks running.
QUICK = os.environ.get("VCSDK_BENCH_QUICK") == "1"


def _batch(fn: Callable[[], object], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            fn()
        count += 10
        now = time.perf_counter()
        if now - start >= seconds:
            return count / (now - start)


def rates(
    *fns: Callable[[], object], rounds: int = 2 if QUICK else 12, seconds: float = 0.005 if QUICK else 0.08
) -> list[float]:
    """Operations per second for each function: the best of ``rounds`` short batches, the functions
    interleaved so that they share the machine's conditions (other processes, frequency scaling)."""
    for fn in fns:
        fn()
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = max(best[i], _batch(fn, seconds))
    return best


def _reference() -> tuple[Any, Any, Any, Any]:
    """The reference library's classes. This file is itself named sd_jwt.py, so its folder must not
    shadow the ``sd_jwt`` package on the import path."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.modules.pop("sd_jwt", None)
    common = importlib.import_module("sd_jwt.common")
    return (
        common.SDObj,
        importlib.import_module("sd_jwt.issuer").SDJWTIssuer,
        importlib.import_module("sd_jwt.holder").SDJWTHolder,
        importlib.import_module("sd_jwt.verifier").SDJWTVerifier,
    )


def main() -> None:
    logging.getLogger("sd_jwt").setLevel(logging.ERROR)
    SDObj, SDJWTIssuer, SDJWTHolder, SDJWTVerifier = _reference()
    issuer, holder = Key.generate("P-256"), Key.generate("P-256")
    issuer_public = issuer.public_key()

    # -- vcsdk --------------------------------------------------------------------------------------
    def ours_issue() -> str:
        return issue_sd_jwt_vc(CLAIMS, issuer=ISSUER, signer=issuer, vct=VCT, disclosable=[[k] for k in CLAIMS],
                               holder_key=holder, now=NOW)  # fmt: skip

    credential = ours_issue()

    def ours_present() -> str:
        return present(credential, disclose=[[k] for k in CHOSEN], holder_signer=holder, audience=AUD, nonce=NONCE,
                       now=NOW)  # fmt: skip

    presentation = ours_present()

    def ours_verify() -> object:
        return verify_presentation_with_key(presentation, issuer_key=issuer_public, audience=AUD, nonce=NONCE, now=NOW)

    # -- reference library --------------------------------------------------------------------------
    issuer_jwk = JWK.from_json(json.dumps(issuer.private_jwk()))
    issuer_jwk_public = JWK.from_json(json.dumps(issuer.public_jwk()))
    holder_jwk = JWK.from_json(json.dumps(holder.private_jwk()))
    holder_jwk_public = JWK.from_json(json.dumps(holder.public_jwk()))
    ref_claims = {"iss": ISSUER, "vct": VCT, "iat": int(NOW.timestamp())}
    ref_claims.update({SDObj(k): v for k, v in CLAIMS.items()})

    def ref_issue() -> str:
        return str(
            SDJWTIssuer(
                ref_claims, issuer_jwk, holder_jwk_public, extra_header_parameters={"typ": "dc+sd-jwt"}
            ).sd_jwt_issuance
        )

    ref_credential = ref_issue()

    def ref_present() -> str:
        holder_side = SDJWTHolder(ref_credential)
        holder_side.create_presentation({k: True for k in CHOSEN}, NONCE, AUD, holder_jwk)
        return str(holder_side.sd_jwt_presentation)

    ref_presentation = ref_present()

    def ref_verify() -> object:
        verifier = SDJWTVerifier(ref_presentation, lambda iss, header: issuer_jwk_public, expected_aud=AUD,
                                 expected_nonce=NONCE)  # fmt: skip
        return verifier.get_verified_payload()

    # Same claims out of both verifiers, and each verifies the other's presentation.
    ours_claims = verify_presentation_with_key(
        presentation, issuer_key=issuer_public, audience=AUD, nonce=NONCE, now=NOW
    ).claims
    assert SDJWTVerifier(presentation, lambda iss, header: issuer_jwk_public, expected_aud=AUD,
                         expected_nonce=NONCE).get_verified_payload() == ours_claims  # fmt: skip
    verify_presentation_with_key(ref_presentation, issuer_key=issuer_public, audience=AUD, nonce=NONCE, now=NOW)

    # -- floor: raw ES256 with cryptography on the same bytes ------------------------------------------
    issuer_priv = ec.derive_private_key(int.from_bytes(b64url_decode(issuer.private_jwk()["d"]), "big"), ec.SECP256R1())
    jwt, kb_jwt = presentation.split("~")[0], presentation.split("~")[-1]
    pairs = []
    for compact, key in ((jwt, issuer_public), (kb_jwt, holder.public_key())):
        h, p, s = compact.split(".")
        pub = key.cryptography_key
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        pairs.append((pub, b64url_decode(s), f"{h}.{p}".encode()))
    signing_input = jwt.rsplit(".", 1)[0].encode()
    ecdsa = ec.ECDSA(hashes.SHA256())

    def floor_sign() -> object:
        return issuer_priv.sign(signing_input, ecdsa)

    def floor_verify_two() -> None:
        # An ES256 signature is R || S (RFC 7518 §3.4); cryptography verifies DER, so the
        # conversion is part of the floor.
        for pub, raw, data in pairs:
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            pub.verify(der, data, ecdsa)

    def decode_only() -> None:
        # Everything a verifier cannot skip, and none of the checks: no typ/alg/time/nonce/aud
        # comparison, no digest matching. Standard-library base64 and json, not vcsdk's.
        def b64(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        jwt_text, *disclosures, kb_text = presentation.split("~")
        h, p, s = jwt_text.split(".")
        json.loads(b64(h))
        payload = json.loads(b64(p))
        for item in disclosures:
            json.loads(b64(item))
            hashlib.sha256(item.encode("ascii")).digest()
        jwk = payload["cnf"]["jwk"]
        point = b"\x04" + b64(jwk["x"]) + b64(jwk["y"])
        holder_pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        kh, kp, ks = kb_text.split(".")
        json.loads(b64(kh))
        json.loads(b64(kp))
        hashlib.sha256(presentation[: len(presentation) - len(kb_text)].encode("ascii")).digest()
        issuer_pub = issuer_public.cryptography_key
        assert isinstance(issuer_pub, ec.EllipticCurvePublicKey)
        for pub, head, body, sig in ((issuer_pub, h, p, s), (holder_pub, kh, kp, ks)):
            raw = b64(sig)
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            pub.verify(der, f"{head}.{body}".encode("ascii"), ecdsa)

    results: dict[str, tuple[float, float, float]] = {}
    for name, ours, ref, floor in (
        ("issue", ours_issue, ref_issue, floor_sign),
        ("present", ours_present, ref_present, floor_sign),
        ("verify", ours_verify, ref_verify, floor_verify_two),
    ):
        if name == "verify":
            ours_rate, ref_rate, floor_rate, decode_rate = rates(ours, ref, floor, decode_only)
        else:
            ours_rate, ref_rate, floor_rate = rates(ours, ref, floor)
        results[name] = (ours_rate, ref_rate, floor_rate)

    print(
        f"{'operation':<10}{'vcsdk ops/s':>14}{'reference ops/s':>18}{'floor ops/s':>14}{'vs ref':>9}{'vs floor':>10}"
    )
    for name, (ours_rate, ref_rate, floor_rate) in results.items():
        print(
            f"{name:<10}{ours_rate:>14.0f}{ref_rate:>18.0f}{floor_rate:>14.0f}"
            f"{ours_rate / ref_rate:>9.2f}{ours_rate / floor_rate:>10.2f}"
        )
    ours_rate, ref_rate, floor_rate = results["verify"]
    print(
        f"{'decode-only':<12}{decode_rate:>12.0f}{'':>18}{'':>14}{decode_rate / ref_rate:>9.2f}"
        f"{decode_rate / floor_rate:>10.2f}   (decodes and signatures only, no checks)"
    )
    print(f"the two raw signature verifications alone run at {floor_rate / ref_rate:.2f}x the reference's verify")
    print(f"verify_vs_reference={ours_rate / ref_rate:.2f} verify_vs_floor={ours_rate / floor_rate:.2f}")


if __name__ == "__main__":
    main()
