"""@openid4vc/openid4vp (npm, the library behind Credo; pinned in tools/package.json) as the wallet
against our Verifier served over HTTP on 127.0.0.1: signed request objects by reference with the
``x509_hash`` and ``x509_san_dns`` client identifier prefixes, the unsigned ``redirect_uri`` prefix,
``direct_post`` and ``direct_post.jwt`` (their JWE, ECDH-ES to our per-request key), DCQL with claim
sets, the same-device ``response_code``; and our refusals of their answers sent to the wrong
``response_uri`` or with the wrong nonce. @sd-jwt/sd-jwt-vc makes their presentations."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from tests._net import free_port
from tests.oid4vc._pki import make_hierarchy
from tests.oid4vc.conftest import CITY_DID, RESIDENT_CLAIMS, VCT, resident_credential
from vcsdk.credentials import StaticKeyResolver, verify_presentation
from vcsdk.keys import Key
from vcsdk.oid4vc import InMemoryStateStore, Verifier, verifier_routes
from vcsdk.oid4vc._x509 import certificate_hash

from ._node import ok, run_node
from .conftest import now

pytestmark = [pytest.mark.interop, pytest.mark.slow]  # a Node process per flow: ~20-40 s

PURPOSE = "Renting a bicycle requires age 18+"
#: DCQL with claim sets: the age-over-18 statement, or else the birthdate.
CLAIM_SETS_QUERY: dict[str, Any] = {
    "credentials": [{
        "id": "resident",
        "format": "dc+sd-jwt",
        "meta": {"vct_values": [VCT]},
        "claims": [{"id": "age", "path": ["age_equal_or_over", "18"]}, {"id": "birth", "path": ["birthdate"]}],
        "claim_sets": [["age"], ["birth"]],
    }]
}


class Service:
    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self.results: list[Any] = []
        self.failures: list[Any] = []
        self.fetches: list[tuple[str, dict[str, str]]] = []  # (method, form) at the request_uri


@pytest.fixture
def pki():
    return make_hierarchy(dns=("localhost",), now=now(), name="verifier ca")


@pytest.fixture
async def serve(aiohttp_server, city_key):
    resolver = StaticKeyResolver({CITY_DID: city_key})

    async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
        return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver, now=now())

    async def make(*, host: str = "127.0.0.1", **identity: Any) -> Service:
        port = free_port()
        base = f"http://{host}:{port}"
        verifier = Verifier(response_uri=f"{base}/oid4vp/response", request_uri_base=f"{base}/oid4vp/request",
                            store=InMemoryStateStore(), verify=verify, name="Tsukuba Bike Share", **identity)
        service = Service(verifier)

        async def on_result(result):
            service.results.append(result)

        async def on_failure(result):
            service.failures.append(result)

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.path.startswith("/oid4vp/request/"):
                form = dict(await request.post()) if request.method == "POST" else {}
                service.fetches.append((request.method, {k: str(v) for k, v in form.items()}))
            return await handler(request)

        app = web.Application(middlewares=[record])
        app.add_routes(verifier_routes(verifier, clock=now, on_result=on_result, on_failure=on_failure))
        await aiohttp_server(app, host="127.0.0.1", port=port)
        return service

    return make


@pytest.fixture
def wallet(city_key):
    phone = Key.generate("P-256")
    return {"vc-1": resident_credential(city_key, phone, now=now())}, {"vc-1": phone.private_jwk()}


async def _present(created, wallet, **extra: Any) -> dict[str, Any]:
    credentials, jwks = wallet
    return await run_node("vp_wallet.mjs", {"link": created.deep_link, "credentials": credentials,
                                            "holder_jwks": jwks, **extra})


@pytest.mark.parametrize("mode", ["direct_post", "direct_post.jwt"])
@pytest.mark.parametrize(("claim_set", "disclosed"), [
    (0, {"age_equal_or_over": {"18": True}}),
    (1, {"birthdate": RESIDENT_CLAIMS["birthdate"]}),
], ids=["claim-set-age", "claim-set-birthdate"])
async def test_x509_hash_request_object_and_claim_sets(serve, pki, wallet, mode, claim_set, disclosed):
    service = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate), response_mode=mode)
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=now())
    answer = ok(await _present(created, wallet, claim_set=claim_set))
    assert answer["status"] == 200, answer
    # Their client checked our request object's x5c leaf hash against the client_id.
    assert answer["client"] == {"prefix": "x509_hash", "identifier": certificate_hash(pki.leaf)}
    assert answer["response_mode"] == mode
    if mode == "direct_post.jwt":
        header = answer["jwe_header"]
        assert header["alg"] == "ECDH-ES" and header["enc"] in ("A128GCM", "A256GCM")
        assert header["kid"] == answer["request"]["client_metadata"]["jwks"]["keys"][0]["kid"]
    (result,) = service.results
    assert result.ok and result.claims() == disclosed


async def test_x509_san_dns(serve, pki, wallet):
    service = await serve(host="localhost", signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate),
                          client_id_prefix="x509_san_dns", response_mode="direct_post.jwt")
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=now())
    answer = ok(await _present(created, wallet))
    assert answer["status"] == 200 and answer["client"] == {"prefix": "x509_san_dns", "identifier": "localhost"}
    assert service.results[0].claims() == {"age_equal_or_over": {"18": True}}


async def test_redirect_uri_prefix_by_value(serve, wallet):
    service = await serve(client_id_prefix="redirect_uri")
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=now())
    answer = ok(await _present(created, wallet))
    assert answer["status"] == 200 and answer["client"]["prefix"] == "redirect_uri"
    assert service.results[0].claims() == {"age_equal_or_over": {"18": True}}


async def test_request_uri_method_post_and_response_code(serve, pki, wallet):
    service = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate), response_mode="direct_post.jwt",
                          request_uri_method="post", redirect_uri="https://bikes.example/done")
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=now())
    formats = {"dc+sd-jwt": {"sd-jwt_alg_values": ["ES256K", "ES256"], "kb-jwt_alg_values": ["ES256"]}}
    answer = ok(await _present(created, wallet, wallet_metadata={"vp_formats_supported": formats}))
    assert answer["status"] == 200
    # @openid4vc/openid4vp 0.4.6 POSTs to the request_uri, but sends the wallet metadata's members
    # as the form (not wallet_metadata=<JSON>, and no wallet_nonce): both are optional, so we
    # answer with a fresh request object; the wallet_nonce binding is not exercised by this version.
    ((method, form),) = service.fetches
    assert method == "POST" and "wallet_metadata" not in form and "wallet_nonce" not in form
    assert "vp_formats_supported" in form
    redirect = answer["body"]["redirect_uri"]
    assert redirect.startswith("https://bikes.example/done#response_code=")
    # Same-device: the result goes only to the session that made the request, with the code.
    result = await service.verifier.redeem(created.transaction_id, redirect.split("response_code=", 1)[1], now=now())
    assert result.claims() == {"age_equal_or_over": {"18": True}}


@pytest.mark.parametrize("mode", ["direct_post", "direct_post.jwt"])
async def test_answers_to_the_wrong_response_uri_or_with_the_wrong_nonce_are_refused(serve, pki, wallet, mode):
    first = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate), response_mode=mode)
    second = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate), response_mode=mode)
    await second.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=now())
    created = await first.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=now())
    misdirected = ok(await _present(created, wallet, tamper="response_uri",
                                    other_response_uri=second.verifier.response_uri))
    assert misdirected["status"] == 400 and misdirected["body"]["error"] == "invalid_request", misdirected
    assert second.results == []
    replayed = ok(await _present(created, wallet, tamper="nonce"))
    assert replayed["status"] == 401 and replayed["body"]["error"] == "nonce_mismatch", replayed
    assert first.results == [] and first.failures[-1].error == "nonce_mismatch"
    # The request survived both (a third party cannot burn it): the genuine answer still succeeds.
    genuine = ok(await _present(created, wallet))
    assert genuine["status"] == 200 and first.results[0].claims() == {"age_equal_or_over": {"18": True}}
