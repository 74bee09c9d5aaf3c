"""The holder's state machines over real HTTP on 127.0.0.1: two-phase issuance (prepare → the
phone signs → finish, renew on a stale nonce) and the OpenID4VP holder presentation (consent screen →
Key Binding JWT signing inputs → Authorization Response, or a refusal), each kept as JSON state
between the steps the way a wallet backend keeps it between the phone's calls."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web

from tests._net import free_port
from vcsdk.credentials import StaticKeyResolver, peek, verify_presentation
from vcsdk.errors import InvalidInputError, KeyBindingError, ProtocolError, SignatureInvalidError
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CandidateCredential,
    HolderPresentation,
    HttpRequest,
    HttpResponse,
    InMemoryStateStore,
    PendingIssuance,
    Verifier,
    fetch_credential_offer,
    fetch_request_object,
    finish_issuance,
    load_request_object,
    notification_request,
    notify_issuer,
    parse_authorization_request_uri,
    prepare_issuance,
    renew_issuance,
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


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def test_two_phase_issuance_binds_the_phone_keys(city, session):
    offer, pin = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW)
    uri = await city.publish_offer(offer, now=NOW)
    phones = [Key.generate("P-256"), Key.generate("P-256")]
    fetched = await run_flow(fetch_credential_offer(uri), session)
    assert fetched == offer
    pending = await run_flow(
        prepare_issuance(fetched, tx_code=pin, jwks=[k.public_jwk() for k in phones], now=lambda: NOW), session
    )
    # The server keeps the pending issuance as JSON between the phone's calls; the token never prints.
    saved = json.loads(json.dumps(pending.to_state()))
    assert PendingIssuance.from_state(saved) == pending
    assert pending.access_token not in repr(pending)
    header = json.loads(peek_header(pending.signing_inputs[0]))
    assert header == {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": phones[0].public_jwk()}
    # The phone signs each input with its key; the wallet finishes.
    signatures = [k.sign(i) for k, i in zip(phones, pending.signing_inputs, strict=True)]
    issued = await run_flow(finish_issuance(PendingIssuance.from_state(saved), signatures, now=lambda: NOW), session)
    assert [peek(c).unverified_claims["cnf"]["jwk"] for c in issued.credentials] == [k.public_jwk() for k in phones]
    # The access token is DPoP-bound (the issuer supports DPoP): as a Bearer token it is refused...
    bearer = notification_request(issued.notification_endpoint, issued.access_token, issued.notification_id)
    refused = await send(session, bearer)
    assert refused.status == 401 and refused.error_code == "invalid_token"
    # ...and with a proof of the DPoP key the notification goes through.
    pending = PendingIssuance.from_state(saved)
    await run_flow(notify_issuer(pending, issued.notification_id, now=lambda: NOW), session)


def peek_header(signing_input: bytes) -> bytes:
    from vcsdk._b64 import b64url_decode

    return b64url_decode(signing_input.split(b".")[0].decode(), what="header")


async def test_a_wrong_signature_is_caught_before_anything_is_sent(city, session):
    offer, pin = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW)
    phone = Key.generate("P-256")
    pending = await run_flow(prepare_issuance(offer, tx_code=pin, jwks=[phone.public_jwk()], now=lambda: NOW), session)
    flow = finish_issuance(pending, [Key.generate("P-256").sign(pending.signing_inputs[0])])
    with pytest.raises(SignatureInvalidError):
        next(flow)  # refused before the Credential Request is even built
    with pytest.raises(InvalidInputError):
        next(finish_issuance(pending, []))
    # The pending issuance is untouched: the right signature still gets the credential.
    issued = await run_flow(finish_issuance(pending, [phone.sign(pending.signing_inputs[0])], now=lambda: NOW), session)
    assert len(issued.credentials) == 1


async def test_renew_after_the_issuer_refuses_a_used_nonce(city, session):
    offer, pin = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW)
    phone = Key.generate("P-256")
    pending = await run_flow(prepare_issuance(offer, tx_code=pin, jwks=[phone.public_jwk()], now=lambda: NOW), session)
    signature = phone.sign(pending.signing_inputs[0])
    await run_flow(finish_issuance(pending, [signature], now=lambda: NOW), session)
    with pytest.raises(ProtocolError) as info:  # the same c_nonce twice
        await run_flow(finish_issuance(pending, [signature], now=lambda: NOW), session)
    assert info.value.code == "invalid_nonce"
    renewed = await run_flow(renew_issuance(pending, now=lambda: NOW), session)
    assert renewed.signing_inputs != pending.signing_inputs and renewed.access_token == pending.access_token
    issued = await run_flow(finish_issuance(renewed, [phone.sign(renewed.signing_inputs[0])], now=lambda: NOW), session)
    assert len(issued.credentials) == 1


async def test_prepare_refusals_carry_the_issuer_codes(city, session):
    offer, pin = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW)
    jwk = Key.generate("P-256").public_jwk()
    wrong = "000000" if pin != "000000" else "111111"
    with pytest.raises(ProtocolError) as info:
        await run_flow(prepare_issuance(offer, tx_code=wrong, jwks=[jwk], now=lambda: NOW), session)
    assert info.value.code == "invalid_grant"
    with pytest.raises(InvalidInputError):  # more keys than the issuer's batch size
        await run_flow(prepare_issuance(offer, tx_code=pin, jwks=[jwk] * 3, now=lambda: NOW), session)
    with pytest.raises(InvalidInputError):
        next(prepare_issuance(offer, tx_code=pin, jwks=[], now=lambda: NOW))
    for broken in ({}, {"credential_issuer": "x"}, {**_pending_state(), "signing_inputs": ["é"]}):
        with pytest.raises(InvalidInputError):
            PendingIssuance.from_state(broken)


def _pending_state() -> dict:
    return {
        "credential_issuer": "https://city.example/issuer",
        "configuration_id": "x",
        "credential_endpoint": "https://city.example/issuer/credential",
        "nonce_endpoint": "https://city.example/issuer/nonce",
        "access_token": "t",
        "jwks": [],
        "signing_inputs": [],
    }


async def test_run_flow_over_a_transport_function(city):
    offer, _ = await city.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW, tx_code=None)
    seen: list[HttpRequest] = []

    async def transport(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(503, b'{"error": "temporarily_unavailable"}')

    # An offer by value needs no request at all.
    assert await run_flow(fetch_credential_offer(offer.uri()), transport) == offer and seen == []
    with pytest.raises(ProtocolError) as info:
        await run_flow(prepare_issuance(offer, tx_code=None, jwks=[Key.generate("P-256").public_jwk()],
                                        now=lambda: NOW), transport)
    assert info.value.code == "temporarily_unavailable" and len(seen) == 1


# -- presentation ------------------------------------------------------------------------------------


@pytest.fixture
async def service(aiohttp_server, city_key, service_key):
    port = free_port()
    resolver = StaticKeyResolver({CITY_DID: city_key})
    results = []

    async def verify(presentation: str, *, audience: str, nonce: str):
        return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver, now=NOW)

    async def on_result(result):
        results.append(result)
        return {"redirect_uri": "https://bikes.example/done"}

    verifier = Verifier(
        did=SERVICE_DID,
        signer=service_key,
        response_uri=f"http://127.0.0.1:{port}/oid4vp/response",
        request_uri_base=f"http://127.0.0.1:{port}/oid4vp/request",
        store=InMemoryStateStore(),
        verify=verify,
        name="Tsukuba Bike Share",
        randomness=CountingRandomness("service"),
    )
    app = web.Application()
    app.add_routes(verifier_routes(verifier, clock=lambda: NOW, on_result=on_result))
    await aiohttp_server(app, host="127.0.0.1", port=port)
    verifier.results = results  # type: ignore[attr-defined]
    return verifier


def _candidates(wallet: dict[str, str]) -> list[CandidateCredential]:
    return [
        CandidateCredential(ref, "dc+sd-jwt", peek(vc).unverified_vct, peek(vc).unverified_claims)
        for ref, vc in wallet.items()
    ]


async def _start(service, session, service_key, wallet: dict[str, str]) -> HolderPresentation:
    created = await service.create_request(AGE_QUERY, purpose="Renting a bicycle requires age 18+", now=NOW)
    ref = parse_authorization_request_uri(created.deep_link)
    jwt = await run_flow(fetch_request_object(ref), session)
    request = await load_request_object(
        jwt, resolver=StaticKeyResolver({SERVICE_DID: service_key}), expected_client_id=ref.client_id, now=NOW
    )
    return HolderPresentation.start(request, _candidates(wallet))


async def test_holder_presentation_from_consent_to_answer(service, session, city_key, service_key):
    phones = {"vc-a": Key.generate("P-256"), "vc-b": Key.generate("P-256")}
    wallet = {ref: resident_credential(city_key, key) for ref, key in phones.items()}
    holder = await _start(service, session, service_key, wallet)
    assert holder.state == "consent_required" and holder.satisfiable
    screen = holder.consent_screen
    assert (screen.service_did, screen.service_name) == (SERVICE_DID, "Tsukuba Bike Share")
    assert screen.purpose == "Renting a bicycle requires age 18+"
    assert [o.ref for o in screen.options["resident"]] == ["vc-a", "vc-b"]
    assert screen.credentials[0].claims == (("age_equal_or_over", "18"),)
    # State survives JSON between every step.
    holder = HolderPresentation.from_state(json.loads(json.dumps(holder.to_state())))
    holder = holder.consent(wallet, now=NOW, selections={"resident": "vc-b"})
    assert holder.state == "signature_required"
    (prepared,) = holder.prepared
    assert prepared.ref == "vc-b" and prepared.query_id == "resident"
    holder = HolderPresentation.from_state(json.loads(json.dumps(holder.to_state())))
    with pytest.raises(InvalidInputError):
        holder.consent(wallet, now=NOW)  # consent is given once
    with pytest.raises(KeyBindingError):
        holder.finish({"resident": phones["vc-a"].sign(prepared.signing_input)})  # not the chosen credential's key
    with pytest.raises(KeyBindingError):
        holder.finish({})
    presentations, answer = holder.finish({"resident": phones["vc-b"].sign(prepared.signing_input)})
    assert dict(parse_qsl(answer.body.decode()))["vp_token"] == json.dumps({"resident": [presentations["resident"]]},
                                                                           separators=(",", ":"))
    reply = await send(session, answer)
    assert reply.status == 200 and json.loads(reply.body) == {"redirect_uri": "https://bikes.example/done"}
    (result,) = service.results
    assert result.claims() == {"age_equal_or_over": {"18": True}}


async def test_holder_declines_and_cannot_satisfy(service, session, city_key, service_key):
    holder = await _start(service, session, service_key, {})
    assert not holder.satisfiable and holder.selected is None
    with pytest.raises(ProtocolError) as info:
        holder.consent({}, now=NOW)
    assert info.value.code == "access_denied"
    with pytest.raises(InvalidInputError):
        holder.finish({})
    reply = await send(session, holder.decline())
    assert reply.status == 200
    assert service.results[-1].error == "access_denied"
    # A selection that was not offered, and a chosen credential that was not passed in.
    wallet = {"vc-a": resident_credential(city_key, Key.generate("P-256"))}
    holder = await _start(service, session, service_key, wallet)
    with pytest.raises(InvalidInputError):
        holder.consent(wallet, now=NOW, selections={"resident": "vc-z"})
    with pytest.raises(InvalidInputError):
        holder.consent({}, now=NOW)
    with pytest.raises(InvalidInputError):
        HolderPresentation.from_state({"request": {}})
