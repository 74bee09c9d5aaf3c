"""The wallet server verifies every credential it receives before storing it (RFC 9901 §7.2).

An issuer on 127.0.0.1 (vcsdk's ``CredentialIssuer`` with a did:jwk) is made to return a bad
credential; the resident accepts the offer over HTTP and signs the proof on the phone. The answer is
a 400 problem with the failed check's code, the offer stays open, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.wallet_server._helpers import Phone, new_resident
from tests.wallet_server._resident_parties import VCT, StaticChainPort, b64sig, parties
from tests.wallet_server.conftest import make_settings
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import issue_sd_jwt_vc
from vcsdk.keys import Key, sign_jws
from wallet_server import create_app
from wallet_server.appkeys import RESIDENT_CHAIN


@pytest.fixture
async def wallet(aiohttp_client, database, clock):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(database, allow_loopback_http=True), clock=clock)
    app[RESIDENT_CHAIN] = StaticChainPort()
    return await aiohttp_client(app)


async def _accept(phone: Phone, issuer: Any) -> tuple[Any, dict[str, Any], str]:
    uri, pin = await issuer.offer()
    offer = await (await phone.call("POST", "/v1/offers", json={"offer_uri": uri})).json()
    to_sign = await (await phone.call("POST", f"/v1/offers/{offer['id']}/accept", json={"tx_code": pin})).json()
    body = {"signature": b64sig(phone.key, to_sign["signing_input"])}
    resp = await phone.call("POST", f"/v1/offers/{offer['id']}/signature", json=body)
    return resp, await resp.json(), offer["id"]


def _garbage_signature(token: str, holder: Key) -> str:
    jws, _, rest = token.partition("~")
    head, payload, signature = jws.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    return f"{head}.{payload}.{flipped}~{rest}"


def _with_key_binding(token: str, holder: Key) -> str:
    sd_hash = b64url_encode(hashlib.sha256(token.encode()).digest())
    kb = sign_jws({"nonce": "n", "aud": "x", "iat": 1, "sd_hash": sd_hash}, Key.generate("P-256"), typ="kb+jwt")
    return token + kb


def _bound_to_another_key(issuer_key: Key, issuer_did: str, clock: Any) -> Callable[[str, Key], str]:
    def tamper(token: str, holder: Key) -> str:
        return issue_sd_jwt_vc(
            {"given_name": "Hanako"}, issuer=issuer_did, signer=issuer_key, vct=VCT, disclosable=[("given_name",)],
            holder_key=Key.generate("P-256"), now=clock(), expires_at=clock() + timedelta(days=30),
        )

    return tamper


def _another_type(issuer_key: Key, issuer_did: str, clock: Any) -> Callable[[str, Key], str]:
    def tamper(token: str, holder: Key) -> str:
        return issue_sd_jwt_vc(
            {"given_name": "Hanako"}, issuer=issuer_did, signer=issuer_key, vct=VCT + "/Other",
            holder_key=holder, now=clock(), expires_at=clock() + timedelta(days=30),
        )

    return tamper


def _one_char_salt(issuer_key: Key, issuer_did: str, clock: Any) -> Callable[[str, Key], str]:
    """A correctly signed SD-JWT VC whose only Disclosure has the salt "a" (built by hand: our issuer
    refuses short salts)."""

    def tamper(token: str, holder: Key) -> str:
        disclosure = b64url_encode(json.dumps(["a", "given_name", "Hanako"]).encode())
        digest = b64url_encode(hashlib.sha256(disclosure.encode()).digest())
        payload = {
            "iss": issuer_did, "vct": VCT, "iat": int(clock().timestamp()), "_sd_alg": "sha-256", "_sd": [digest],
            "cnf": {"jwk": holder.public_jwk()},
        }
        return sign_jws(payload, issuer_key, typ="dc+sd-jwt") + "~" + disclosure + "~"

    return tamper


CASES: dict[str, tuple[Any, str]] = {
    "garbage signature": (lambda key, did, clock: _garbage_signature, "signature_invalid"),
    "KB-JWT appended": (lambda key, did, clock: _with_key_binding, "unexpected_key_binding"),
    "one-character salt": (_one_char_salt, "weak_salt"),
    "bound to another key": (_bound_to_another_key, "cnf_mismatch"),
    "another vct": (_another_type, "unexpected_vct"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_credential_that_does_not_verify_is_not_stored(wallet, clock, case) -> None:  # type: ignore[no-untyped-def]
    make, code = CASES[case]
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, _service):
        issuer.tamper = make(issuer.key, issuer.did, clock)
        resp, body, offer_id = await _accept(phone, issuer)
    assert resp.status == 400 and body["code"] == code, body
    assert "does not verify" in body["detail"], body
    listed = await (await phone.call("GET", "/v1/credentials")).json()
    assert listed["items"] == [], listed
    offer = await (await phone.call("GET", f"/v1/offers/{offer_id}")).json()
    assert offer["state"] != "redeemed" and offer["credential_id"] is None, offer


async def test_a_good_credential_is_stored(wallet, clock) -> None:  # type: ignore[no-untyped-def]
    phone = await new_resident(wallet, clock)
    async with parties(clock) as (issuer, _service):
        resp, body, _ = await _accept(phone, issuer)
    assert resp.status == 201, body
    listed = await (await phone.call("GET", "/v1/credentials")).json()
    assert [c["vct"] for c in listed["items"]] == [VCT]
