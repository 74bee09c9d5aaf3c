"""@sd-jwt/sd-jwt-vc (npm, pinned in tools/package.json) verifying our SD-JWT VCs, as issued and as
presented with a Key Binding JWT, and presenting ours back: their KB-JWT verified by us."""

from __future__ import annotations

import pytest

from tests.oid4vc.conftest import CITY_DID, DISCLOSABLE, RESIDENT_CLAIMS, VCT
from vcsdk.credentials import issue_sd_jwt_vc, present, verify_presentation_with_key
from vcsdk.errors import VerificationError
from vcsdk.keys import Key

from ._node import ok, run_node
from .conftest import now

pytestmark = [pytest.mark.interop, pytest.mark.slow]  # a Node process per case


@pytest.fixture(params=["secp256k1", "P-256"], ids=["ES256K", "ES256"])
def issuer_key(request, city_key) -> Key:
    return city_key if request.param == "secp256k1" else Key.generate("P-256").with_kid(f"{CITY_DID}#p256")


def _credential(issuer_key: Key, holder: Key) -> str:
    return issue_sd_jwt_vc(RESIDENT_CLAIMS, issuer=CITY_DID, signer=issuer_key, vct=VCT, disclosable=DISCLOSABLE,
                           holder_key=holder, now=now())


async def test_they_verify_our_credential_as_issued(issuer_key, device_key):
    token = _credential(issuer_key, device_key)
    answer = ok(await run_node("sdjwt_vc.mjs", {"op": "verify", "token": token, "issuer_jwk": issuer_key.public_jwk(),
                                                 "required": ["given_name", "address"]}))
    payload = answer["payload"]
    # Every Disclosure resolved to the claims we issued, nested ones and array elements included.
    for name, value in RESIDENT_CLAIMS.items():
        assert payload[name] == value, name
    assert payload["vct"] == VCT and payload["iss"] == CITY_DID
    assert payload["cnf"]["jwk"] == device_key.public_jwk()
    assert answer["header"]["typ"] == "dc+sd-jwt"


async def test_they_verify_our_key_bound_presentation(issuer_key, device_key):
    token = _credential(issuer_key, device_key)
    shown = present(token, disclose=[("age_equal_or_over", "18"), ("address", "locality")], holder_signer=device_key,
                    audience="x509_hash:verifier", nonce="n-0S6_WzA2Mj", now=now())
    answer = ok(await run_node("sdjwt_vc.mjs", {"op": "verify", "token": shown, "issuer_jwk": issuer_key.public_jwk(),
                                                 "nonce": "n-0S6_WzA2Mj", "aud": "x509_hash:verifier"}))
    assert answer["kb"]["payload"]["nonce"] == "n-0S6_WzA2Mj"
    assert answer["payload"]["age_equal_or_over"] == {"18": True}
    assert answer["payload"]["address"] == {"locality": "Tsukuba"}
    assert "given_name" not in answer["payload"]  # undisclosed stays hidden


async def test_they_refuse_a_forged_or_replayed_presentation(issuer_key, device_key):
    token = _credential(issuer_key, device_key)
    shown = present(token, disclose=[("given_name",)], holder_signer=device_key, audience="aud", nonce="right",
                    now=now())
    replay = await run_node("sdjwt_vc.mjs", {"op": "verify", "token": shown, "issuer_jwk": issuer_key.public_jwk(),
                                              "nonce": "other"})
    assert "error" in replay, replay
    other = Key.generate("secp256k1" if issuer_key.alg == "ES256K" else "P-256")  # same curve, other key
    forged = await run_node("sdjwt_vc.mjs", {"op": "verify", "token": token, "issuer_jwk": other.public_jwk()})
    assert "error" in forged, forged


async def test_we_verify_their_key_bound_presentation(city_key, device_key):
    token = _credential(city_key, device_key)
    answer = ok(await run_node("sdjwt_vc.mjs", {
        "op": "present", "token": token, "holder_jwk": device_key.private_jwk(),
        "frame": {"given_name": True, "address": {"postal_code": True}}, "aud": "redirect_uri:https://rp.example",
        "nonce": "abc123",
    }))
    verified = verify_presentation_with_key(answer["presentation"], issuer_key=city_key,
                                            audience="redirect_uri:https://rp.example", nonce="abc123", now=now())
    assert verified.key_bound
    assert verified.claims["given_name"] == "Hanako"
    assert verified.claims["address"] == {"postal_code": "305-0005"}
    assert "family_name" not in verified.claims
    with pytest.raises(VerificationError):
        verify_presentation_with_key(answer["presentation"], issuer_key=city_key,
                                     audience="redirect_uri:https://rp.example", nonce="other", now=now())
