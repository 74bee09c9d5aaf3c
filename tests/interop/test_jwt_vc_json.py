"""``jwt_vc_json`` both ways with did-jwt-vc (npm, the library Veramo uses; pinned in tools/package.json).

- did-jwt-vc signs a VC Data Model 1.1 JWT for a did:key issuer (ES256K, ES256, EdDSA); vcsdk's
  ``verify_vc`` accepts it, resolving the did:key itself and taking the key its ``kid`` names.
- vcsdk signs one (``issue_jwt_vc_json``, for interop only); did-jwt-vc's ``verifyCredential``
  accepts it with the issuer's DID document naming our public key, and refuses it with another key.
"""

from __future__ import annotations

import pytest

from tests.interop._node import ok, run_node
from tests.interop.conftest import now
from vcsdk._b64 import b64url_decode
from vcsdk.credentials import verify_vc
from vcsdk.credentials._w3c._jwt_vc_json import issue_jwt_vc_json
from vcsdk.did import did_key_for
from vcsdk.errors import SignatureInvalidError, TokenExpiredError
from vcsdk.ethr import Resolver
from vcsdk.keys import Key

pytestmark = [pytest.mark.interop, pytest.mark.slow]  # a Node process per case

ALGS = {"ES256K": "secp256k1", "ES256": "P-256", "EdDSA": "Ed25519"}
SUBJECT = "did:example:resident"


def _issuer(alg: str) -> tuple[Key, str, str]:
    key = Key.generate(ALGS[alg])
    did = did_key_for(key)
    return key, did, f"{did}#{did.removeprefix('did:key:')}"


async def _ours(token: str) -> object:
    resolver = Resolver(methods=("key",))
    try:
        return await verify_vc(token, resolver=resolver, now=now())
    finally:
        await resolver.close()


@pytest.mark.parametrize("alg", list(ALGS))
async def test_we_verify_their_credential(alg: str) -> None:
    key, did, kid = _issuer(alg)
    t = int(now().timestamp())
    private_hex = b64url_decode(key.private_jwk()["d"], what="d").hex()
    answer = ok(await run_node("jwt_vc.mjs", {
        "op": "issue", "did": did, "kid": kid, "alg": alg, "private_key_hex": private_hex,
        "sub": SUBJECT, "subject": {"locality": "Kaga"}, "nbf": t - 5, "exp": t + 3600,
    }))
    verified = await _ours(answer["jwt"])
    assert verified.issuer == did and verified.kid == kid  # type: ignore[attr-defined]
    assert verified.credential["credentialSubject"] == {"id": SUBJECT, "locality": "Kaga"}  # type: ignore[attr-defined]
    assert verified.credential_type == "ResidentCredential"  # type: ignore[attr-defined]


async def test_we_refuse_their_expired_credential() -> None:
    key, did, kid = _issuer("ES256K")
    t = int(now().timestamp())
    answer = ok(await run_node("jwt_vc.mjs", {
        "op": "issue", "did": did, "kid": kid, "alg": "ES256K",
        "private_key_hex": b64url_decode(key.private_jwk()["d"], what="d").hex(),
        "sub": SUBJECT, "subject": {"locality": "Kaga"}, "nbf": t - 7200, "exp": t - 3600,
    }))
    with pytest.raises(TokenExpiredError):
        await _ours(answer["jwt"])


@pytest.mark.parametrize("alg", list(ALGS))
async def test_they_verify_our_credential(alg: str) -> None:
    key, did, kid = _issuer(alg)
    vc = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential", "ResidentCredential"],
        "credentialSubject": {"id": SUBJECT, "locality": "Kaga"},
    }
    token = issue_jwt_vc_json(vc, key, issuer=did, now=now(), kid=kid)
    assert (await _ours(token)).issuer == did  # type: ignore[attr-defined]
    answer = ok(await run_node("jwt_vc.mjs", {
        "op": "verify", "jwt": token, "did": did, "kid": kid, "public_jwk": key.public_jwk(),
    }))
    assert answer["issuer"] == did and answer["kid"] == kid
    assert answer["payload"]["vc"]["credentialSubject"]["locality"] == "Kaga"
    assert answer["payload"]["sub"] == SUBJECT
    # With another key in the issuer's DID document, did-jwt-vc refuses it.
    refused = await run_node("jwt_vc.mjs", {
        "op": "verify", "jwt": token, "did": did, "kid": kid, "public_jwk": Key.generate(ALGS[alg]).public_jwk(),
    })
    assert "error" in refused, refused


async def test_a_tampered_credential_of_theirs_is_refused() -> None:
    key, did, kid = _issuer("ES256")
    t = int(now().timestamp())
    answer = ok(await run_node("jwt_vc.mjs", {
        "op": "issue", "did": did, "kid": kid, "alg": "ES256",
        "private_key_hex": b64url_decode(key.private_jwk()["d"], what="d").hex(),
        "sub": SUBJECT, "subject": {"locality": "Kaga"}, "nbf": t - 5,
    }))
    head, payload, sig = answer["jwt"].split(".")
    with pytest.raises(SignatureInvalidError):
        await _ours(f"{head}.{payload}.{('A' if sig[0] != 'A' else 'B') + sig[1:]}")
