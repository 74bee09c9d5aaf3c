"""The aiohttp glue over real HTTP on 127.0.0.1: the issuer's endpoints with the wallet's issuance
flow, and a service's request_uri/response_uri routes with a wallet answering them."""

from __future__ import annotations

from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web

from tests._net import free_port
from vcsdk.credentials import StaticKeyResolver, peek, present, verify_presentation
from vcsdk.errors import ProtocolError
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CandidateCredential,
    HttpRequest,
    InMemoryStateStore,
    Verifier,
    build_authorization_response,
    build_consent,
    load_request_object,
    match_dcql,
    notify_issuer,
    parse_authorization_request_uri,
    parse_credential_offer,
    parse_credential_offer_uri,
    parse_response_uri_answer,
    receive_credential,
    request_object_request,
    run_flow,
    send,
    verifier_routes,
)

from .conftest import (
    AGE_QUERY,
    CITY_DID,
    NOW,
    RESIDENT_CLAIMS,
    SERVICE_DID,
    CountingRandomness,
    resident_credential,
)


async def test_issuance_over_http(city):
    offer, pin = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW)
    uri = await city.publish_offer(offer, now=NOW)
    device = Key.generate("P-256")
    async with aiohttp.ClientSession() as session:
        reference = parse_credential_offer_uri(uri)
        assert isinstance(reference, str)
        fetched = await send(session, HttpRequest("GET", reference))
        assert fetched.headers["Cache-Control"] == "no-store"
        assert parse_credential_offer(fetched.json_object(what="offer")) == offer
        issued = await run_flow(receive_credential(offer, tx_code=pin, signers=[device], now=lambda: NOW), session)
        assert issued.notification_id and issued.notification_endpoint and issued.access_token
        # The token is DPoP-bound (the issuer supports DPoP): the notification carries a proof.
        assert await run_flow(notify_issuer(issued, now=lambda: NOW), session) is None
    assert peek(issued.credentials[0]).unverified_claims["cnf"]["jwk"] == device.public_jwk()


async def test_wrong_tx_code_over_http_is_invalid_grant(city):
    offer, pin = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW)
    wrong = "000000" if pin != "000000" else "111111"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProtocolError) as info:
            await run_flow(
                receive_credential(offer, tx_code=wrong, signers=[Key.generate("P-256")], now=lambda: NOW), session
            )
    assert info.value.code == "invalid_grant"


async def test_credential_endpoint_without_token_is_401(city):
    async with aiohttp.ClientSession() as session:
        answer = await send(session, HttpRequest.json(city.credential_endpoint, {}))
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert answer.json_object(what="error")["error"] == "invalid_token"


async def test_service_routes_with_a_wallet(aiohttp_server, city_key, service_key, device_key):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    resolver = StaticKeyResolver({CITY_DID: city_key})
    results = []

    async def verify(presentation, *, audience, nonce):
        return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver, now=NOW)

    async def on_result(result):
        results.append(result)
        return {"redirect_uri": f"{base}/done#{result.request_id}"}

    verifier = Verifier(
        did=SERVICE_DID,
        signer=service_key,
        response_uri=f"{base}/oid4vp/response",
        request_uri_base=f"{base}/oid4vp/request",
        store=InMemoryStateStore(),
        verify=verify,
        randomness=CountingRandomness("svc"),
    )
    app = web.Application()
    app.add_routes(verifier_routes(verifier, clock=lambda: NOW, on_result=on_result))
    await aiohttp_server(app, host="127.0.0.1", port=port)

    credential = resident_credential(city_key, device_key)
    created = await verifier.create_request(AGE_QUERY, purpose="Age check", now=NOW)

    async with aiohttp.ClientSession() as session:
        ref = parse_authorization_request_uri(created.deep_link)
        fetched = await send(session, request_object_request(ref))
        assert fetched.status == 200
        assert fetched.headers["Content-Type"].startswith("application/oauth-authz-req+jwt")
        request = await load_request_object(
            fetched.body,
            resolver=StaticKeyResolver({SERVICE_DID: service_key}),
            expected_client_id=ref.client_id,
            now=NOW,
        )
        unverified = peek(credential)
        candidate = CandidateCredential("vc-1", "dc+sd-jwt", unverified.unverified_vct, unverified.unverified_claims)
        (chosen,) = build_consent(request, match_dcql(request.dcql_query, [candidate])).credentials
        presentation = present(
            credential,
            disclose=chosen.claims,
            holder_signer=device_key,
            audience=request.client_id,
            nonce=request.nonce,
            now=NOW,
        )
        post = build_authorization_response(request, {chosen.query_id: presentation})
        answer = await send(session, post)
        assert parse_response_uri_answer(answer) == f"{base}/done#{created.request_id}"
        replay = await send(session, post)
        assert replay.status == 400 and replay.json_object(what="error")["error"] == "invalid_request"
        missing = await send(session, HttpRequest("GET", f"{base}/oid4vp/request/unknown"))
        assert missing.status == 400
        repeated = await send(session, HttpRequest("POST", post.url, post.headers, post.body + b"&state=x"))
        assert repeated.status == 400
    assert results[0].claims() == {"age_equal_or_over": {"18": True}}
    assert dict(parse_qsl(post.body.decode()))["state"] == created.state


async def test_state_store_outage_is_a_503_not_a_500(aiohttp_server, service_key):
    """Redis down behind a service's OpenID4VP routes: the wallet gets a typed, retryable answer."""
    from vcsdk.oid4vc import RedisStateStore

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = RedisStateStore.from_url("redis://127.0.0.1:1/0", timeout=1.0)

    async def verify(presentation, *, audience, nonce):  # never reached
        raise AssertionError("no presentation should be verified")

    verifier = Verifier(
        did=SERVICE_DID,
        signer=service_key,
        response_uri=f"{base}/oid4vp/response",
        request_uri_base=f"{base}/oid4vp/request",
        store=store,
        verify=verify,
        randomness=CountingRandomness("svc"),
    )
    app = web.Application()
    app.add_routes(verifier_routes(verifier, clock=lambda: NOW))
    await aiohttp_server(app, host="127.0.0.1", port=port)
    try:
        async with aiohttp.ClientSession() as session:
            calls = (("GET", "/oid4vp/request/abc", None), ("POST", "/oid4vp/response", {"state": "s"}))
            for method, path, data in calls:
                async with session.request(method, base + path, data=data) as resp:
                    assert resp.status == 503, await resp.text()
                    assert (await resp.json())["error"] == "storage_error"
    finally:
        await store.close()
