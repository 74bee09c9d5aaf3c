"""@openid4vc/openid4vci and @openid4vc/oauth2 (npm, pinned in tools/package.json) as the credential
issuer and its authorization server, on their own HTTP server on 127.0.0.1, against our wallet:
the pre-authorized code flow and the authorization code flow with PAR, PKCE S256 and DPoP-bound
tokens; their SD-JWT VC (made by @sd-jwt/sd-jwt-vc) verified by us and bound to our device key."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.oid4vc._pki import make_hierarchy, x5c_of
from tests.oid4vc.conftest import RESIDENT_CLAIMS, VCT
from vcsdk.credentials import StaticKeyResolver, verify_credential
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    ClientAttestation,
    fetch_deferred_credentials,
    finish_authorization,
    finish_issuance,
    issue_wallet_attestation,
    parse_credential_offer_uri,
    prepare_issuance,
    receive_credential,
    run_flow,
    start_authorization,
)

from ._node import HERE, require_node
from .conftest import now

pytestmark = [pytest.mark.interop, pytest.mark.slow]  # a Node issuer per flow

CLIENT_ID = "https://wallet.example/vcsdk"
REDIRECT_URI = "https://wallet.example/callback"


class NodeIssuer:
    def __init__(self, proc: asyncio.subprocess.Process, first: dict[str, Any]) -> None:
        self.proc = proc
        self.offer: str = first["offer"]
        self.url: str = first["issuer"]
        self.key = Key.from_jwk(first["issuer_jwk"]).with_kid("credential-key")  # the kid their SD-JWT names

    @classmethod
    async def start(cls, grant: str, **extra: Any) -> NodeIssuer:
        require_node()
        proc = await asyncio.create_subprocess_exec(
            "node", str(HERE / "vci_issuer.mjs"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"grant": grant, "claims": RESIDENT_CLAIMS, "vct": VCT,
                                     "disclosable": ["given_name", "birthdate", "address"], **extra}).encode())
        proc.stdin.close()
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            err = await proc.stderr.read() if proc.stderr else b""
            raise AssertionError(err.decode(errors="replace")[-3000:])
        return cls(proc, json.loads(line))

    async def outcome(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def _check(issuer: NodeIssuer, credential: str, phone: Key) -> None:
    verified = await verify_credential(credential, resolver=StaticKeyResolver({issuer.url: issuer.key}), now=now())
    assert verified.claims["given_name"] == RESIDENT_CLAIMS["given_name"]
    assert verified.claims["address"] == RESIDENT_CLAIMS["address"]
    assert verified.holder_key is not None and verified.holder_key.thumbprint() == phone.thumbprint()


async def test_pre_authorized_code_from_their_issuer():
    issuer = await NodeIssuer.start("pre-authorized")
    try:
        offer = parse_credential_offer_uri(issuer.offer)
        phone = Key.generate("P-256")
        async with aiohttp.ClientSession() as session:
            issued = await run_flow(receive_credential(offer, tx_code=None, signers=[phone], now=now), session)
        outcome = await issuer.outcome()
    finally:
        await issuer.stop()
    assert outcome.get("ok") is True, outcome
    assert outcome["dpop_bound"] is True  # their AS saw our DPoP proof and bound the token to it
    assert outcome["proof_typ"] == "openid4vci-proof+jwt" and "proofs" in outcome["request_keys"]
    assert outcome["holder_jwk"] == phone.public_jwk()
    (credential,) = issued.credentials
    await _check(issuer, credential, phone)


async def test_authorization_code_with_par_pkce_and_dpop_from_their_issuer():
    issuer = await NodeIssuer.start("authorization_code")
    try:
        offer = parse_credential_offer_uri(issuer.offer)
        phone = Key.generate("P-256")
        async with aiohttp.ClientSession() as session:
            pending = await run_flow(start_authorization(offer, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI,
                                                         now=now), session)
            async with session.get(pending.authorization_url, allow_redirects=False) as resp:
                assert resp.status == 302, await resp.text()
                callback = resp.headers["Location"]
            issuance = await run_flow(finish_authorization(pending, callback, jwks=[phone.public_jwk()], now=now),
                                      session)
            signatures = [phone.sign(p) for p in issuance.signing_inputs]
            issued = await run_flow(finish_issuance(issuance, signatures, now=now), session)
        outcome = await issuer.outcome()
    finally:
        await issuer.stop()
    assert outcome.get("ok") is True, outcome
    assert outcome["par"] is True and outcome["pkce_method"] == "S256" and outcome["dpop_bound"] is True
    assert outcome["issuer_state"] == "their-state" and outcome["scope"] == "Resident"
    (credential,) = issued.credentials
    await _check(issuer, credential, phone)


async def test_our_wallet_attestation_at_their_authorization_server():
    """HAIP 1.0 §4.3.1 the other way: their authorization server requires client attestation; our
    wallet sends its Wallet Attestation (the provider's x5c chain) and a PoP at PAR and token, and
    their code verifies both (the chain against the provider's root, in the host callback)."""
    provider = make_hierarchy(now=now(), name="wallet provider")
    issuer = await NodeIssuer.start("authorization_code", attestation_root=x5c_of(provider.root)[0])
    try:
        offer = parse_credential_offer_uri(issuer.offer)
        instance = Key.generate("P-256")
        token = issue_wallet_attestation(provider.leaf_key, issuer="https://provider.example", client_id=CLIENT_ID,
                                         instance_jwk=instance.public_jwk(), now=now(),
                                         x5c=(provider.leaf, provider.intermediate))
        attestation = ClientAttestation(token, instance, CLIENT_ID)
        phone = Key.generate("P-256")
        async with aiohttp.ClientSession() as session:
            pending = await run_flow(start_authorization(offer, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI,
                                                         now=now, client_attestation=attestation), session)
            async with session.get(pending.authorization_url, allow_redirects=False) as resp:
                callback = resp.headers["Location"]
            issuance = await run_flow(finish_authorization(pending, callback, jwks=[phone.public_jwk()], now=now,
                                                           client_attestation=attestation), session)
            issued = await run_flow(finish_issuance(issuance, [phone.sign(p) for p in issuance.signing_inputs],
                                                    now=now), session)
        outcome = await issuer.outcome()
    finally:
        await issuer.stop()
    assert outcome.get("ok") is True, outcome
    assert outcome["attestation_sub"] == CLIENT_ID and outcome["attestation_chain"] == 2
    (credential,) = issued.credentials
    await _check(issuer, credential, phone)


async def test_deferred_issuance_from_their_issuer():
    """§9: their issuer answers 202 with a transaction_id; our wallet asks their Deferred Credential
    Endpoint with the DPoP-bound token and receives the credential for the key it proved."""
    issuer = await NodeIssuer.start("pre-authorized", deferred=True)
    try:
        offer = parse_credential_offer_uri(issuer.offer)
        phone = Key.generate("P-256")
        async with aiohttp.ClientSession() as session:
            pending = await run_flow(prepare_issuance(offer, tx_code=None, jwks=[phone.public_jwk()], now=now),
                                     session)
            first = await run_flow(finish_issuance(pending, [phone.sign(p) for p in pending.signing_inputs],
                                                   now=now), session)
            assert first.deferred and first.credentials == () and first.transaction_id
            await asyncio.sleep(first.interval or 1)
            done = await run_flow(fetch_deferred_credentials(pending, first.transaction_id, now=now), session)
        outcome = await issuer.outcome()
    finally:
        await issuer.stop()
    assert outcome.get("ok") is True and outcome["deferred"] is True, outcome
    (credential,) = done.credentials
    await _check(issuer, credential, phone)
