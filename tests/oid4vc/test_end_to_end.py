"""End to end: the city issues over OpenID4VCI (offer → tx_code → token → nonce → credential,
batch of two), the wallet stores the copies, a service asks over OpenID4VP for one claim, the wallet
shows consent and presents, and the service verifies exactly the requested claim. The service runs
as two instances sharing their protocol state (in memory, or in Redis as across machines).

HTTP is replaced by a router that hands each :class:`HttpRequest` the flows yield to the issuer's
endpoint methods: the same messages the aiohttp glue carries.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from vcsdk.credentials import StaticKeyResolver, issue_sd_jwt_vc, peek, present, verify_presentation
from vcsdk.errors import ProtocolError
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CandidateCredential,
    CredentialConfiguration,
    CredentialIssuer,
    HttpRequest,
    HttpResponse,
    InMemoryStateStore,
    Verifier,
    build_authorization_response,
    build_consent,
    load_request_object,
    match_dcql,
    notification_request,
    parse_authorization_request_uri,
    parse_credential_offer,
    parse_credential_offer_uri,
    receive_credential,
)

from .conftest import (
    AGE_QUERY,
    CITY_DID,
    DISCLOSABLE,
    ISSUER_URL,
    NOW,
    RESIDENT_CLAIMS,
    SERVICE_DID,
    VCT,
    CountingRandomness,
)


async def _route(issuer: CredentialIssuer, request: HttpRequest) -> HttpResponse:
    """Dispatch to the issuer's endpoint methods the way an HTTP server would."""
    path = request.url.removeprefix("https://city.example")
    auth = request.headers.get("Authorization", "")
    token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
    try:
        if request.method == "GET" and path == "/.well-known/openid-credential-issuer/issuer":
            body: Any = issuer.metadata()
        elif request.method == "GET" and path == "/.well-known/oauth-authorization-server/issuer":
            body = issuer.authorization_server_metadata()
        elif path == "/issuer/token":
            body = (await issuer.token(dict(parse_qsl((request.body or b"").decode())), now=NOW)).to_dict()
        elif path == "/issuer/nonce":
            body = await issuer.nonce(now=NOW)
        elif path == "/issuer/credential":
            body = (await issuer.credential(token, request.body or b"", now=NOW)).to_dict()
        elif path == "/issuer/notification":
            await issuer.notification(token, request.body or b"", now=NOW)
            return HttpResponse(204)
        else:
            return HttpResponse(404, b'{"error": "not_found"}')
    except ProtocolError as exc:
        return HttpResponse(exc.http_status, json.dumps({"error": exc.code}).encode())
    return HttpResponse(200, json.dumps(body).encode())


async def _drive(flow, issuer: CredentialIssuer):
    request = next(flow)
    while True:
        try:
            request = flow.send(await _route(issuer, request))
        except StopIteration as done:
            return done.value


@pytest.fixture(params=["memory", "redis"])
def verifier_state(request):
    """The service's protocol state: in memory (one process) or in Redis (shared by instances)."""
    return InMemoryStateStore() if request.param == "memory" else request.getfixturevalue("redis_store")


async def test_issue_then_present_then_verify(city_key, service_key, verifier_state):
    store = InMemoryStateStore()
    issuer = CredentialIssuer(
        credential_issuer=ISSUER_URL,
        configurations=[CredentialConfiguration(id="ResidentIdentityCredential", vct=VCT)],
        issue=lambda claims, holder_key: issue_sd_jwt_vc(
            claims, issuer=CITY_DID, signer=city_key, vct=VCT, disclosable=DISCLOSABLE, holder_key=holder_key, now=NOW
        ),
        store=store,
        randomness=CountingRandomness("issuer"),
    )

    # City: the resident's identity was checked; make an offer and send the PIN out of band.
    offer, pin = await issuer.create_offer("ResidentIdentityCredential", RESIDENT_CLAIMS, now=NOW)
    offer_uri = await issuer.publish_offer(offer, now=NOW)

    # Phone: scan the QR, fetch the offer, enter the PIN, prove two device keys (batch of two copies).
    reference = parse_credential_offer_uri(offer_uri)
    assert isinstance(reference, str)
    fetched = parse_credential_offer(await issuer.offer_by_reference(reference.rsplit("/", 1)[1], now=NOW))
    assert fetched == offer
    device_keys = [Key.generate("P-256"), Key.generate("P-256")]
    issued = await _drive(receive_credential(offer, tx_code=pin, signers=device_keys, now=lambda: NOW), issuer)
    assert len(issued.credentials) == 2
    assert await _route(
        issuer, notification_request(issued.notification_endpoint, issued.access_token, issued.notification_id)
    ) == HttpResponse(204)
    wallet = {f"vc-{i}": (vc, key) for i, (vc, key) in enumerate(zip(issued.credentials, device_keys, strict=True))}
    for vc, key in wallet.values():
        assert peek(vc).unverified_claims["cnf"]["jwk"] == key.public_jwk()

    # Service: ask for the age claim only.
    resolver = StaticKeyResolver({CITY_DID: city_key})

    async def verify(presentation: str, *, audience: str, nonce: str):
        return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver, now=NOW)

    def service_instance(name: str) -> Verifier:
        return Verifier(
            did=SERVICE_DID,
            signer=service_key,
            response_uri="https://bikes.example/oid4vp/response",
            request_uri_base="https://bikes.example/oid4vp/request",
            store=verifier_state,
            verify=verify,
            name="Tsukuba Bike Share",
            randomness=CountingRandomness(name),
        )

    # Two instances of the service behind a load balancer share the protocol state: the request
    # is made on one, fetched and answered on the other.
    verifier, other_instance = service_instance("verifier-a"), service_instance("verifier-b")
    created = await verifier.create_request(AGE_QUERY, purpose="Renting a bicycle requires age 18+", now=NOW)

    # Phone: scan, fetch and verify the signed request, match, show consent, present one fresh copy.
    ref = parse_authorization_request_uri(created.deep_link)
    jwt = await other_instance.request_object(urlsplit(ref.request_uri).path.rsplit("/", 1)[1], now=NOW)
    request = await load_request_object(
        jwt, resolver=StaticKeyResolver({SERVICE_DID: service_key}), expected_client_id=ref.client_id, now=NOW
    )
    candidates = [
        CandidateCredential(
            ref=ref_id, format="dc+sd-jwt", vct=peek(vc).unverified_vct, claims=peek(vc).unverified_claims
        )
        for ref_id, (vc, _key) in wallet.items()
    ]
    consent = build_consent(request, match_dcql(request.dcql_query, candidates))
    assert consent.purpose == "Renting a bicycle requires age 18+"
    (chosen,) = consent.credentials
    vc, key = wallet[chosen.ref]
    presentation = present(
        vc, disclose=chosen.claims, holder_signer=key, audience=request.client_id, nonce=request.nonce, now=NOW
    )
    post = build_authorization_response(request, {chosen.query_id: presentation})

    # Service: verify; the disclosed claims equal exactly the DCQL-requested ones.
    result = await other_instance.handle_response(dict(parse_qsl(post.body.decode())), now=NOW)
    assert result.claims() == {"age_equal_or_over": {"18": True}}
    assert result.credentials["resident"][0].verified.issuer == CITY_DID
