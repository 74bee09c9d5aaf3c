"""@openid4vc/openid4vp (npm, pinned in tools/package.json) as the verifier against our wallet: their
signed request object (``x509_hash``, certificate chain in ``x5c``) fetched by reference from their
server on 127.0.0.1, our wallet's consent and key-bound presentation answered with ``direct_post``
or ``direct_post.jwt`` (our JWE decrypted by their callback with jose), DCQL with claim sets; they
parse the response with their own code and @sd-jwt/sd-jwt-vc verifies what we presented."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from tests.oid4vc._pki import make_hierarchy
from tests.oid4vc.conftest import RESIDENT_CLAIMS, VCT, resident_credential
from vcsdk.credentials import peek
from vcsdk.errors import ProtocolError
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CandidateCredential,
    HolderPresentation,
    fetch_request_object,
    load_request_object,
    parse_authorization_request_uri,
    run_flow,
    send,
)
from vcsdk.oid4vc._x509 import certificate_hash

from ._node import HERE, require_node
from .conftest import now

pytestmark = [pytest.mark.interop, pytest.mark.slow]  # a Node verifier per flow

QUERY: dict[str, Any] = {
    "credentials": [{
        "id": "resident",
        "format": "dc+sd-jwt",
        "meta": {"vct_values": [VCT]},
        "claims": [{"id": "age", "path": ["age_equal_or_over", "18"]},
                   {"id": "town", "path": ["address", "locality"]},
                   {"id": "birth", "path": ["birthdate"]}],
        "claim_sets": [["birth", "town"], ["age", "town"]],
    }]
}


class NodeVerifier:
    """Their verifier as a subprocess: the first line is the request link, the second the outcome."""

    def __init__(self, proc: asyncio.subprocess.Process, link: str) -> None:
        self.proc = proc
        self.link = link

    @classmethod
    async def start(cls, config: dict[str, Any]) -> NodeVerifier:
        require_node()
        proc = await asyncio.create_subprocess_exec(
            "node", str(HERE / "vp_verifier.mjs"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(config).encode())
        proc.stdin.close()
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            err = await proc.stderr.read() if proc.stderr else b""
            raise AssertionError(err.decode(errors="replace")[-3000:])
        return cls(proc, json.loads(line)["link"])

    async def outcome(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        await asyncio.wait_for(self.proc.wait(), 30)
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@pytest.fixture
def pki():
    return make_hierarchy(now=now(), name="oid4vc-ts verifier ca")


@pytest.mark.parametrize("mode", ["direct_post", "direct_post.jwt"])
async def test_our_wallet_answers_their_verifier(pki, city_key, mode):
    phone = Key.generate("P-256")
    credential = resident_credential(city_key, phone, now=now())
    x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (pki.leaf, pki.intermediate)]
    client_id = f"x509_hash:{certificate_hash(pki.leaf)}"
    verifier = await NodeVerifier.start({
        "client_id": client_id, "x5c": x5c, "leaf_jwk": pki.leaf_key.private_jwk(), "response_mode": mode,
        "dcql_query": QUERY, "issuer_jwk": city_key.public_jwk(),
    })
    try:
        async with aiohttp.ClientSession() as session:
            ref = parse_authorization_request_uri(verifier.link)
            jwt = await run_flow(fetch_request_object(ref), session)
            request = await load_request_object(jwt, resolver=None, expected_client_id=ref.client_id, now=now(),
                                                trust_anchors=[pki.root])
            assert request.client_id == client_id and request.response_mode == mode
            candidates = [CandidateCredential("vc-1", "dc+sd-jwt", VCT, peek(credential).unverified_claims)]
            holder = HolderPresentation.start(request, candidates).consent({"vc-1": credential}, now=now())
            _, answer = holder.finish({p.query_id: phone.sign(p.signing_input) for p in holder.prepared})
            reply = await send(session, answer)
        outcome = await verifier.outcome()
    finally:
        await verifier.stop()
    assert reply.status == 200, reply.body
    assert outcome.get("ok") is True, outcome
    assert outcome["state"] is True  # our answer carried their state back
    disclosed = outcome["claims"]["resident"]
    # The first satisfiable claim set: the birthdate and the town, nothing else of the resident.
    assert disclosed["birthdate"] == RESIDENT_CLAIMS["birthdate"]
    assert disclosed["address"] == {"locality": "Tsukuba"}
    assert "given_name" not in disclosed and "age_equal_or_over" not in disclosed
    assert outcome["vp_token_shape"] == {"resident": "array"}  # OpenID4VP 1.0 §8.1: an array per query
    if mode == "direct_post.jwt":
        assert outcome["jwe_header"]["alg"] == "ECDH-ES" and outcome["jwe_header"]["kid"] == "enc-1"
        assert outcome["jwe_header"]["enc"] in ("A128GCM", "A256GCM") and "zip" not in outcome["jwe_header"]


async def test_their_default_request_object_audience_is_refused(pki, city_key):
    """@openid4vc/openid4vp 0.4.6 addresses its Request Object to its own request_uri unless told
    otherwise; OpenID4VP 1.0 §5.8 asks for https://self-issued.me/v2 under static discovery (or the
    wallet's issuer), and our wallet refuses anything else."""
    x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (pki.leaf, pki.intermediate)]
    verifier = await NodeVerifier.start({
        "client_id": f"x509_hash:{certificate_hash(pki.leaf)}", "x5c": x5c, "leaf_jwk": pki.leaf_key.private_jwk(),
        "response_mode": "direct_post", "dcql_query": QUERY, "issuer_jwk": city_key.public_jwk(), "default_aud": True,
    })
    try:
        async with aiohttp.ClientSession() as session:
            ref = parse_authorization_request_uri(verifier.link)
            jwt = await run_flow(fetch_request_object(ref), session)
        with pytest.raises(ProtocolError) as info:
            await load_request_object(jwt, resolver=None, expected_client_id=ref.client_id, now=now(),
                                      trust_anchors=[pki.root])
        assert info.value.code == "invalid_request" and "aud" in info.value.message
    finally:
        await verifier.stop()
