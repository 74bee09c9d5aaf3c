"""verify_received_credential: the holder's checks on a credential as received (RFC 9901 §7.2)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from vcsdk._b64 import b64url_encode
from vcsdk.credentials import StaticKeyResolver, issue_sd_jwt_vc
from vcsdk.errors import (
    ClaimsError,
    DisclosureError,
    KeyBindingError,
    MalformedTokenError,
    SignatureInvalidError,
    VerificationError,
)
from vcsdk.keys import Key, sign_jws
from vcsdk.oid4vc import verify_received_credential

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ISSUER = "did:example:issuer"
VCT = "https://credentials.example/Id"
ISSUER_KEY = Key.generate("P-256")
DEVICE = Key.generate("P-256")
RESOLVER = StaticKeyResolver({ISSUER: ISSUER_KEY})


def _issue(**over: object) -> str:
    args: dict[str, object] = {
        "issuer": ISSUER, "signer": ISSUER_KEY, "vct": VCT, "disclosable": [("name",)], "holder_key": DEVICE,
        "now": NOW, "expires_at": NOW + timedelta(days=1),
    }
    args.update(over)
    return issue_sd_jwt_vc({"name": "A"}, **args)  # type: ignore[arg-type]


async def _check(token: str, **over: object) -> object:
    kwargs: dict[str, object] = {"resolver": RESOLVER, "device_jwks": [DEVICE.public_jwk()], "now": NOW,
                                 "expected_vct": VCT}
    kwargs.update(over)
    return await verify_received_credential(token, **kwargs)  # type: ignore[arg-type]


async def test_a_good_credential_verifies() -> None:
    verified = await _check(_issue())
    assert verified.claims["name"] == "A"  # type: ignore[attr-defined]


async def test_refusals_each_with_its_code() -> None:
    token = _issue()
    head, payload, sig = token.split("~")[0].split(".")
    bad_sig = f"{head}.{payload}.{('B' if sig[0] == 'A' else 'A') + sig[1:]}~" + token.split("~", 1)[1]
    with pytest.raises(SignatureInvalidError):
        await _check(bad_sig)
    kb = sign_jws({"nonce": "n", "aud": "a", "iat": 1, "sd_hash": "x"}, DEVICE, typ="kb+jwt")
    with pytest.raises(MalformedTokenError) as refused:
        await _check(token + kb)
    assert refused.value.code == "unexpected_key_binding"
    with pytest.raises(KeyBindingError) as refused_cnf:
        await _check(_issue(holder_key=Key.generate("P-256")))
    assert refused_cnf.value.code == "cnf_mismatch"
    with pytest.raises(KeyBindingError):
        await _check(_issue(holder_key=None))
    with pytest.raises(ClaimsError) as refused_vct:
        await _check(_issue(vct=VCT + "/x"))
    assert refused_vct.value.code == "unexpected_vct"


@pytest.mark.parametrize("salt", ["a", "0123456789abcdefghij1"])  # 1 and 21 characters
async def test_short_salts_are_refused(salt: str) -> None:
    disclosure = b64url_encode(json.dumps([salt, "name", "A"]).encode())
    digest = b64url_encode(hashlib.sha256(disclosure.encode()).digest())
    payload = {"iss": ISSUER, "vct": VCT, "iat": int(NOW.timestamp()), "_sd_alg": "sha-256", "_sd": [digest],
               "cnf": {"jwk": DEVICE.public_jwk()}}
    token = sign_jws(payload, ISSUER_KEY, typ="dc+sd-jwt") + "~" + disclosure + "~"
    with pytest.raises(DisclosureError) as refused:
        await _check(token)
    assert refused.value.code == "weak_salt"
    assert isinstance(refused.value, VerificationError)
