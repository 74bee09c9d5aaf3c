"""OpenID4VP 1.0: the verifier's request and response handling and the wallet's side, with real
SD-JWT VCs from the credentials recipes. Every check has a negative test expecting its own error."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp import web

from vcsdk.credentials import StaticKeyResolver, peek, present, verify_presentation
from vcsdk.errors import (
    AudienceMismatchError,
    ClaimsError,
    ConflictError,
    DisclosureError,
    InvalidInputError,
    KeyBindingMissingError,
    NonceMismatchError,
    ProtocolError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenTypeError,
)
from vcsdk.keys import sign_jws
from vcsdk.oid4vc import (
    AuthorizationRequest,
    CandidateCredential,
    HttpRequest,
    HttpResponse,
    InMemoryStateStore,
    Verifier,
    build_authorization_response,
    build_consent,
    build_error_response,
    load_request_object,
    match_dcql,
    parse_authorization_request_uri,
    parse_dcql_query,
    parse_response_uri_answer,
    peek_request_object,
    request_object_request,
    send,
    verifier_routes,
    verify_request_object,
)

from .conftest import (
    AGE_QUERY,
    CITY_DID,
    NOW,
    OTHER_DID,
    SERVICE_DID,
    VCT,
    CountingRandomness,
    RepeatingRandomness,
    resident_credential,
)

PURPOSE = "Check that you are 18 or older before you rent a bicycle."


@pytest.fixture
def credential(city_key, device_key) -> str:
    return resident_credential(city_key, device_key)


@pytest.fixture
def issuer_resolver(city_key):
    return StaticKeyResolver({CITY_DID: city_key})


@pytest.fixture
def verifier_resolver(service_key, other_key):
    return StaticKeyResolver({SERVICE_DID: service_key, OTHER_DID: other_key})


@pytest.fixture
def make_verifier(service_key, issuer_resolver):
    def make(*, store=None, randomness=None, key=None) -> Verifier:
        async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
            return await verify_presentation(
                presentation, audience=audience, nonce=nonce, resolver=issuer_resolver, now=NOW
            )

        return Verifier(
            did=SERVICE_DID,
            signer=key or service_key,
            response_uri="https://bikes.example/oid4vp/response",
            request_uri_base="https://bikes.example/oid4vp/request",
            store=store or InMemoryStateStore(),
            verify=verify,
            name="Tsukuba Bike Share",
            randomness=randomness or CountingRandomness(),
        )

    return make


@pytest.fixture
def verifier(make_verifier) -> Verifier:
    return make_verifier()


def _request_id(request_uri: str) -> str:
    return urlsplit(request_uri).path.rsplit("/", 1)[1]


async def _wallet_fetch(verifier: Verifier, deep_link: str, resolver) -> AuthorizationRequest:
    ref = parse_authorization_request_uri(deep_link)
    http = request_object_request(ref)
    assert http.method == "GET" and http.headers["Accept"] == "application/oauth-authz-req+jwt"
    jwt = await verifier.request_object(_request_id(http.url), now=NOW)
    return await load_request_object(jwt, resolver=resolver, expected_client_id=ref.client_id, now=NOW)


async def _fresh(verifier: Verifier, resolver, query=None) -> AuthorizationRequest:
    created = await verifier.create_request(query or AGE_QUERY, purpose=PURPOSE, now=NOW)
    return await _wallet_fetch(verifier, created.deep_link, resolver)


def _candidate(vc: str) -> CandidateCredential:
    unverified = peek(vc)
    return CandidateCredential(
        ref="vc-1", format="dc+sd-jwt", vct=unverified.unverified_vct, claims=unverified.unverified_claims
    )


def _form(post) -> dict[str, str]:
    assert post.method == "POST" and post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(post.body.decode("utf-8")))


async def _answer(request: AuthorizationRequest, vc: str, device_key, *, disclose=None, audience=None, nonce=None):
    match = match_dcql(request.dcql_query, [_candidate(vc)])
    consent = build_consent(request, match)
    chosen = consent.credentials[0]
    presentation = present(
        vc,
        disclose=chosen.claims if disclose is None else disclose,
        holder_signer=device_key,
        audience=audience or request.client_id,
        nonce=nonce or request.nonce,
        now=NOW,
    )
    return _form(build_authorization_response(request, {chosen.query_id: presentation}))


# -- happy path ---------------------------------------------------------------------------------------


async def test_request_consent_present_verify(verifier, verifier_resolver, credential, device_key):
    created = await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
    assert created.client_id == f"decentralized_identifier:{SERVICE_DID}"
    assert created.deep_link.startswith("openid4vp://?client_id=decentralized_identifier%3Adid%3Aethr")
    params = parse_qs(urlsplit(created.deep_link).query)
    assert params["request_uri"] == [created.request_uri]

    request = await _wallet_fetch(verifier, created.deep_link, verifier_resolver)
    assert request.nonce == created.nonce and request.state == created.state
    assert request.response_uri == "https://bikes.example/oid4vp/response"

    consent = build_consent(request, match_dcql(request.dcql_query, [_candidate(credential)]))
    assert consent.service_did == SERVICE_DID
    assert consent.service_name == "Tsukuba Bike Share"
    assert consent.purpose == PURPOSE
    assert [(c.query_id, c.ref, c.claims) for c in consent.credentials] == [
        ("resident", "vc-1", (("age_equal_or_over", "18"),))
    ]

    result = await verifier.handle_response(await _answer(request, credential, device_key), now=NOW)
    assert result.ok and result.state == created.state and result.purpose == PURPOSE
    assert result.claims() == {"age_equal_or_over": {"18": True}}  # exactly the requested claims
    assert result.credentials["resident"][0].paths == (("age_equal_or_over", "18"),)
    assert "given_name" not in result.credentials["resident"][0].claims


def test_request_object_header_and_claims(service_key):
    async def run():
        v = Verifier(
            did=SERVICE_DID,
            signer=service_key,
            response_uri="https://s.example/r",
            request_uri_base="https://s.example/q/",
            store=InMemoryStateStore(),
            verify=lambda p, *, audience, nonce: {},
            randomness=CountingRandomness(),
        )
        return await v.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)

    import asyncio

    created = asyncio.run(run())
    from vcsdk.keys import decode_jws

    jws = decode_jws(created.request_object)
    assert jws.header["typ"] == "oauth-authz-req+jwt"
    assert jws.header["kid"] == f"{SERVICE_DID}#controller"
    claims = jws.unverified_claims()
    assert claims["response_type"] == "vp_token" and claims["response_mode"] == "direct_post"
    assert claims["aud"] == "https://self-issued.me/v2"
    assert claims["client_id"] == created.client_id
    assert claims["verifier_info"] == [{"format": "urn:vcsdk:verifier-info:purpose", "data": {"purpose": PURPOSE}}]
    assert "redirect_uri" not in claims
    assert claims["exp"] - claims["iat"] == 300
    assert created.request_uri.startswith("https://s.example/q/")


def test_qr_codes_render(verifier):
    import asyncio

    created = asyncio.run(verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW))
    assert created.qr().startswith(b"<?xml")
    assert created.qr(kind="png").startswith(b"\x89PNG")


async def test_multiple_presentations_when_allowed(make_verifier, verifier_resolver, city_key, device_key):
    query = {"credentials": [{**AGE_QUERY["credentials"][0], "multiple": True}]}
    verifier = make_verifier()
    request = await _fresh(verifier, verifier_resolver, query)
    copies = [
        resident_credential(city_key, device_key)
        for _ in range(2)
    ]
    presentations = [
        present(
            c,
            disclose=[("age_equal_or_over", "18")],
            holder_signer=device_key,
            audience=request.client_id,
            nonce=request.nonce,
            now=NOW,
        )
        for c in copies
    ]
    form = _form(build_authorization_response(request, {"resident": presentations}))
    result = await verifier.handle_response(form, now=NOW)
    assert len(result.credentials["resident"]) == 2


async def test_error_response_is_reported_but_cannot_burn_the_request(
    verifier, verifier_resolver, credential, device_key
):
    created = await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
    request = await _wallet_fetch(verifier, created.deep_link, verifier_resolver)
    # Anyone who read the public request object knows its state and can post an error for it.
    form = _form(build_error_response(request, error="access_denied", description="resident declined"))
    result = await verifier.handle_response(form, now=NOW)
    assert not result.ok and result.error == "access_denied" and result.credentials == {}
    assert (await verifier.handle_response(form, now=NOW)).error == "access_denied"
    # So do garbage and presentations that fail a check: none of them consumes the request.
    with pytest.raises(ProtocolError):
        await verifier.handle_response({"state": request.state, "vp_token": "{broken"}, now=NOW)
    other = await _answer(request, credential, device_key, audience=f"decentralized_identifier:{OTHER_DID}")
    with pytest.raises(AudienceMismatchError):
        await verifier.handle_response(other, now=NOW)
    # The resident's real answer still goes through, once; after it, the state is spent for all.
    good = await _answer(request, credential, device_key)
    assert (await verifier.handle_response(good, now=NOW)).claims() == {"age_equal_or_over": {"18": True}}
    for again in (good, form):
        with pytest.raises(ProtocolError) as info:
            await verifier.handle_response(again, now=NOW)
        assert info.value.code == "invalid_request"


def test_response_uri_answer():
    assert parse_response_uri_answer(HttpResponse(200, b'{"redirect_uri": "https://s.example/done#c=1"}')) == (
        "https://s.example/done#c=1"
    )
    assert parse_response_uri_answer(HttpResponse(200, b"")) is None
    with pytest.raises(ProtocolError) as info:
        parse_response_uri_answer(HttpResponse(400, b'{"error": "invalid_request"}'))
    assert info.value.code == "invalid_request"


# -- verifier negative cases --------------------------------------------------------------------------


async def test_response_replayed_is_refused(verifier, verifier_resolver, credential, device_key):
    created = await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
    request = await _wallet_fetch(verifier, created.deep_link, verifier_resolver)
    form = await _answer(request, credential, device_key)
    await verifier.handle_response(form, now=NOW)
    with pytest.raises(ProtocolError) as info:
        await verifier.handle_response(form, now=NOW)
    assert info.value.code == "invalid_request"


async def test_response_replayed_to_a_second_request_is_refused(verifier, verifier_resolver, credential, device_key):
    first = await _fresh(verifier, verifier_resolver)
    second = await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
    stolen = await _answer(first, credential, device_key)
    with pytest.raises(NonceMismatchError):
        await verifier.handle_response({**stolen, "state": second.state}, now=NOW)


async def test_presentation_for_another_verifier_is_refused(verifier, verifier_resolver, credential, device_key):
    request = await _fresh(verifier, verifier_resolver)
    form = await _answer(request, credential, device_key, audience=f"decentralized_identifier:{OTHER_DID}")
    with pytest.raises(AudienceMismatchError):
        await verifier.handle_response(form, now=NOW)


async def test_nonce_reuse_is_refused(make_verifier):
    verifier = make_verifier(randomness=RepeatingRandomness())
    await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
    with pytest.raises(ConflictError):
        await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)


async def test_over_broad_response_is_refused(verifier, verifier_resolver, credential, device_key):
    request = await _fresh(verifier, verifier_resolver)
    form = await _answer(request, credential, device_key, disclose=[("age_equal_or_over", "18"), ("given_name",)])
    with pytest.raises(DisclosureError):
        await verifier.handle_response(form, now=NOW)


async def test_over_broad_sibling_inside_requested_container_is_refused(
    verifier, verifier_resolver, credential, device_key
):
    request = await _fresh(verifier, verifier_resolver)
    form = await _answer(
        request, credential, device_key, disclose=[("age_equal_or_over", "18"), ("age_equal_or_over", "65")]
    )
    with pytest.raises(DisclosureError):
        await verifier.handle_response(form, now=NOW)


async def test_missing_requested_claim_is_refused(verifier, verifier_resolver, credential, device_key):
    request = await _fresh(verifier, verifier_resolver)
    form = await _answer(request, credential, device_key, disclose=[])
    with pytest.raises(ClaimsError):
        await verifier.handle_response(form, now=NOW)


async def test_wrong_credential_type_is_refused(verifier, verifier_resolver, city_key, device_key):
    other = resident_credential(city_key, device_key, vct="https://city.example/Library")
    request = await _fresh(verifier, verifier_resolver)
    presentation = present(
        other,
        disclose=[("age_equal_or_over", "18")],
        holder_signer=device_key,
        audience=request.client_id,
        nonce=request.nonce,
        now=NOW,
    )
    form = _form(build_authorization_response(request, {"resident": presentation}))
    with pytest.raises(ClaimsError):
        await verifier.handle_response(form, now=NOW)


async def test_presentation_without_key_binding_is_refused(verifier, verifier_resolver, credential):
    request = await _fresh(verifier, verifier_resolver)
    presentation = present(credential, disclose=[("age_equal_or_over", "18")])
    form = _form(build_authorization_response(request, {"resident": presentation}))
    with pytest.raises(KeyBindingMissingError):
        await verifier.handle_response(form, now=NOW)


async def test_tampered_presentation_fails_in_the_verify_function(verifier, verifier_resolver, credential, device_key):
    request = await _fresh(verifier, verifier_resolver)
    form = await _answer(request, credential, device_key)
    token = form["vp_token"]
    issuer_jwt_sig_start = token.index(".", token.index(".") + 1) + 1
    flipped = (
        token[:issuer_jwt_sig_start]
        + ("A" if token[issuer_jwt_sig_start] != "A" else "B")
        + token[issuer_jwt_sig_start + 1 :]
    )
    with pytest.raises(SignatureInvalidError):
        await verifier.handle_response({**form, "vp_token": flipped}, now=NOW)


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda f: {k: v for k, v in f.items() if k != "state"}, "no state"),
        (lambda f: {**f, "state": "unknown-state"}, "unknown state"),
        (lambda f: {**f, "state": "bad state!"}, "state not URL-safe"),
        (lambda f: {k: v for k, v in f.items() if k != "vp_token"}, "no vp_token"),
        (lambda f: {**f, "vp_token": "not json"}, "vp_token not JSON"),
        (lambda f: {**f, "vp_token": "[]"}, "vp_token not an object"),
        (lambda f: {**f, "vp_token": "{}"}, "vp_token empty"),
        (lambda f: {**f, "vp_token": '{"other": ["x~"]}'}, "unasked query id"),
        (lambda f: {**f, "vp_token": '{"resident": "x~"}'}, "value not an array"),
        (lambda f: {**f, "vp_token": '{"resident": []}'}, "empty array"),
        (lambda f: {**f, "vp_token": '{"resident": [{"a": 1}]}'}, "presentation not a string"),
        (lambda f: {**f, "vp_token": '{"resident": ["a~", "b~"]}'}, "several without multiple"),
        (lambda f: {**f, "error": "bad code!"}, "bad error code"),
    ],
)
async def test_malformed_responses_are_invalid_request(
    verifier, verifier_resolver, credential, device_key, mutate, why
):
    request = await _fresh(verifier, verifier_resolver)
    form = mutate(await _answer(request, credential, device_key))
    with pytest.raises(ProtocolError) as info:
        await verifier.handle_response(form, now=NOW)
    assert info.value.code == "invalid_request", why


async def test_credential_sets_must_be_satisfied(make_verifier, verifier_resolver, credential, device_key):
    query = {
        "credentials": [
            AGE_QUERY["credentials"][0],
            {"id": "library", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://city.example/Library"]}},
        ],
        "credential_sets": [{"options": [["library"]]}, {"options": [["resident"]], "required": False}],
    }
    verifier = make_verifier()
    request = await _fresh(verifier, verifier_resolver, query)
    presentation = present(
        credential,
        disclose=[("age_equal_or_over", "18")],
        holder_signer=device_key,
        audience=request.client_id,
        nonce=request.nonce,
        now=NOW,
    )
    form = _form(build_authorization_response(request, {"resident": presentation}))
    with pytest.raises(ProtocolError) as info:
        await verifier.handle_response(form, now=NOW)
    assert info.value.code == "invalid_request"


async def test_expired_request_cannot_be_answered(verifier, verifier_resolver, credential, device_key):
    created = await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
    request = await _wallet_fetch(verifier, created.deep_link, verifier_resolver)
    form = await _answer(request, credential, device_key)
    with pytest.raises(ProtocolError):
        await verifier.handle_response(form, now=NOW + timedelta(minutes=6))
    with pytest.raises(ProtocolError):
        await verifier.request_object(created.request_id, now=NOW + timedelta(minutes=6))


async def test_create_request_checks_its_inputs(verifier):
    with pytest.raises(InvalidInputError):
        await verifier.create_request(AGE_QUERY, purpose="  ", now=NOW)
    with pytest.raises(ProtocolError):
        await verifier.create_request({"credentials": []}, purpose=PURPOSE, now=NOW)


def test_verifier_key_must_belong_to_its_did(other_key):
    with pytest.raises(InvalidInputError):
        Verifier(
            did=SERVICE_DID,
            signer=other_key,
            response_uri="https://s.example/r",
            request_uri_base="https://s.example/q",
            store=InMemoryStateStore(),
            verify=lambda p, *, audience, nonce: {},
        )


# -- wallet negative cases ------------------------------------------------------------------------


def _signed_request(key, *, client_did=SERVICE_DID, typ="oauth-authz-req+jwt", kid=None, **overrides) -> str:
    client_id = f"decentralized_identifier:{client_did}"
    claims = AuthorizationRequest(
        client_id=client_id,
        response_uri="https://s.example/r",
        nonce="n-123",
        state="s-123",
        dcql_query=parse_dcql_query(AGE_QUERY),
        purpose=PURPOSE,
        issued_at=int(NOW.timestamp()),
        expires_at=int(NOW.timestamp()) + 300,
    ).to_claims()
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"kid": kid} if kid else None
    return sign_jws(claims, key, typ=typ, header=header)


SERVICE_CLIENT_ID = f"decentralized_identifier:{SERVICE_DID}"


async def test_request_object_signed_by_another_did_is_refused(other_key, verifier_resolver):
    # The other DID signs with its own key but claims to be the service.
    token = _signed_request(other_key)
    with pytest.raises(ProtocolError) as info:
        await load_request_object(token, resolver=verifier_resolver, expected_client_id=SERVICE_CLIENT_ID, now=NOW)
    assert info.value.code == "invalid_request"


async def test_request_object_with_service_kid_but_other_key_is_refused(other_key, verifier_resolver):
    token = _signed_request(other_key, kid=f"{SERVICE_DID}#controller")
    with pytest.raises(SignatureInvalidError):
        await load_request_object(token, resolver=verifier_resolver, expected_client_id=SERVICE_CLIENT_ID, now=NOW)


async def test_request_object_client_id_must_match_the_link(service_key, verifier_resolver):
    token = _signed_request(service_key)
    with pytest.raises(ProtocolError):
        await load_request_object(
            token, resolver=verifier_resolver, expected_client_id=f"decentralized_identifier:{OTHER_DID}", now=NOW
        )


def test_request_object_typ_is_required(service_key):
    with pytest.raises(TokenTypeError):
        verify_request_object(
            _signed_request(service_key, typ="JWT"),
            service_key.public_key(),
            expected_client_id=SERVICE_CLIENT_ID,
            now=NOW,
        )


def test_expired_request_object_is_refused(service_key):
    with pytest.raises(TokenExpiredError):
        verify_request_object(
            _signed_request(service_key),
            service_key.public_key(),
            expected_client_id=SERVICE_CLIENT_ID,
            now=NOW + timedelta(minutes=10),
        )


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"response_type": "code"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"redirect_uri": "https://s.example/cb"}, "invalid_request"),
        ({"response_uri": None}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"nonce": "has space"}, "invalid_request"),
        ({"dcql_query": None}, "invalid_request"),
        ({"dcql_query": {"credentials": []}}, "invalid_request"),
        ({"scope": "x"}, "invalid_request"),
        ({"aud": "https://another-wallet.example"}, "invalid_request"),
        ({"transaction_data": ["eyJ0eXBlIjoieCJ9"]}, "invalid_transaction_data"),
        ({"client_id": "x509_san_dns:s.example"}, "invalid_request"),
    ],
)
def test_request_object_parameters_are_validated(service_key, overrides, code):
    token = _signed_request(service_key, **overrides)
    with pytest.raises(ProtocolError) as info:
        verify_request_object(token, service_key.public_key(), expected_client_id=None, now=NOW)
    assert info.value.code == code


def test_wallet_nonce_must_be_echoed(service_key):
    token = _signed_request(service_key, wallet_nonce="w-1")
    assert (
        verify_request_object(
            token, service_key.public_key(), expected_client_id=None, now=NOW, wallet_nonce="w-1"
        ).wallet_nonce
        == "w-1"
    )
    with pytest.raises(ProtocolError):
        verify_request_object(token, service_key.public_key(), expected_client_id=None, now=NOW, wallet_nonce="w-2")


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("openid4vp://?request_uri=https%3A%2F%2Fs.example%2Fq%2F1", "invalid_request"),
        # Client Identifier Prefixes this wallet does not implement (and pre-registered clients).
        ("openid4vp://?client_id=verifier_attestation%3As.example&request_uri=https%3A%2F%2Fs.example%2Fq",
         "invalid_request"),
        ("openid4vp://?client_id=openid_federation%3Ahttps%3A%2F%2Fs.example&request_uri=https%3A%2F%2Fs.example%2Fq",
         "invalid_request"),
        ("openid4vp://?client_id=origin%3Ahttps%3A%2F%2Fs.example&request_uri=https%3A%2F%2Fs.example%2Fq",
         "invalid_request"),
        ("openid4vp://?client_id=s6BhdRkqt3&request_uri=https%3A%2F%2Fs.example%2Fq", "invalid_request"),
        # An unsigned request for a prefix that requires signing.
        ("openid4vp://?client_id=x509_san_dns%3As.example&response_type=vp_token&nonce=n", "invalid_request"),
        (f"openid4vp://?client_id={SERVICE_CLIENT_ID}", "invalid_request"),
        (
            f"openid4vp://?client_id={SERVICE_CLIENT_ID}&request_uri=https%3A%2F%2Fs.example&request=eyJ",
            "invalid_request",
        ),
        (f"openid4vp://?client_id={SERVICE_CLIENT_ID}&request_uri=ftp%3A%2F%2Fs.example", "invalid_request"),
        (
            f"openid4vp://?client_id={SERVICE_CLIENT_ID}&request_uri=https%3A%2F%2Fs.example&request_uri_method=PUT",
            "invalid_request_uri_method",
        ),
        (
            f"openid4vp://?client_id={SERVICE_CLIENT_ID}&client_id=x&request_uri=https%3A%2F%2Fs.example",
            "invalid_request",
        ),
    ],
)
def test_bad_request_links_are_refused(uri, code):
    with pytest.raises(ProtocolError) as info:
        parse_authorization_request_uri(uri)
    assert info.value.code == code


def test_request_by_value_is_accepted(service_key):
    token = _signed_request(service_key)
    ref = parse_authorization_request_uri(f"openid4vp://?client_id={SERVICE_CLIENT_ID}&request={token}")
    assert ref.request == token and ref.request_uri is None
    assert peek_request_object(ref.request).kid == f"{SERVICE_DID}#controller"
    with pytest.raises(InvalidInputError):
        request_object_request(ref)


def test_build_authorization_response_checks_query_ids(service_key):
    request = verify_request_object(
        _signed_request(service_key), service_key.public_key(), expected_client_id=SERVICE_CLIENT_ID, now=NOW
    )
    with pytest.raises(InvalidInputError):
        build_authorization_response(request, {"unknown": "x~"})
    with pytest.raises(InvalidInputError):
        build_authorization_response(request, {"resident": ["a~", "b~"]})
    with pytest.raises(InvalidInputError):
        build_authorization_response(request, {})


def test_consent_refused_when_wallet_cannot_satisfy(service_key):
    request = verify_request_object(
        _signed_request(service_key), service_key.public_key(), expected_client_id=SERVICE_CLIENT_ID, now=NOW
    )
    match = match_dcql(request.dcql_query, [CandidateCredential("x", "dc+sd-jwt", VCT, {"given_name": "A"})])
    with pytest.raises(ProtocolError) as info:
        build_consent(request, match)
    assert info.value.code == "access_denied"


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        ([("a", "b")], {"a": {"b": 1}}),
        ([("a",), ("a", "b")], {"a": {"b": 1, "c": 2}}),
        ([("a", "b"), ("a",)], {"a": {"b": 1, "c": 2}}),
        ([("n", 1)], {"n": ["FR"]}),
        ([("d", 0, "t"), ("d", 0, "u"), ("d", 1, "t")], {"d": [{"t": "B", "u": "x"}, {"t": "M"}]}),
        ([], {}),
    ],
)
def test_disclosed_claims_projection(paths, expected):
    from vcsdk.oid4vc._verifier import _project

    claims = {"a": {"b": 1, "c": 2}, "n": ["JP", "FR"], "d": [{"t": "B", "u": "x"}, {"t": "M", "u": "y"}], "z": 0}
    assert _project(claims, paths) == expected


class RelationshipResolver:
    """Answers only for keys listed under one verification relationship, as a DID document would."""

    def __init__(self, key, relationship):
        self.key, self.relationship, self.asked = key, relationship, []

    async def resolve_key(self, issuer, kid, *, relationship="assertionMethod", at=None):
        from vcsdk.errors import KeyNotFoundError

        self.asked.append(relationship)
        if relationship != self.relationship or kid != self.key.kid:
            raise KeyNotFoundError("no such key for that relationship")
        return self.key.public_key()


@pytest.mark.parametrize(
    ("relationship", "asked"),
    [("authentication", ["authentication"]), ("assertionMethod", ["authentication", "assertionMethod"])],
)
async def test_request_key_from_authentication_then_assertion_method(service_key, relationship, asked):
    resolver = RelationshipResolver(service_key, relationship)
    request = await load_request_object(
        _signed_request(service_key), resolver=resolver, expected_client_id=SERVICE_CLIENT_ID, now=NOW
    )
    assert request.verifier_did == SERVICE_DID and resolver.asked == asked


async def test_request_key_missing_from_the_did_document(service_key, other_key):
    from vcsdk.errors import KeyNotFoundError

    with pytest.raises(KeyNotFoundError):
        await load_request_object(
            _signed_request(service_key),
            resolver=RelationshipResolver(other_key, "authentication"),
            expected_client_id=SERVICE_CLIENT_ID,
            now=NOW,
        )


def test_plain_http_only_on_loopback(service_key):
    from vcsdk.oid4vc._common import is_https_url

    assert is_https_url("https://s.example/r") and is_https_url("http://127.0.0.1:8080/r")
    assert not is_https_url("http://s.example/r") and not is_https_url("https://s.example/r#f")
    assert not is_https_url("file:///etc/passwd") and not is_https_url(None)
    with pytest.raises(InvalidInputError):
        Verifier(
            did=SERVICE_DID,
            signer=service_key,
            response_uri="http://s.example/r",
            request_uri_base="https://s.example/q",
            store=InMemoryStateStore(),
            verify=lambda p, *, audience, nonce: {},
        )
    with pytest.raises(ProtocolError):
        parse_authorization_request_uri(
            f"openid4vp://?client_id={SERVICE_CLIENT_ID}&request_uri=http%3A%2F%2Fs.example%2Fq"
        )
    token = _signed_request(service_key, response_uri="http://s.example/r")
    with pytest.raises(ProtocolError):
        verify_request_object(token, service_key.public_key(), expected_client_id=None, now=NOW)


# -- why a presentation brought no claims: declines and failed checks -----------------------------------


async def test_a_failed_check_comes_back_with_its_request(verifier, verifier_resolver, credential, device_key):
    created = await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
    request = await _wallet_fetch(verifier, created.deep_link, verifier_resolver)
    form = await _answer(request, credential, device_key, audience=f"decentralized_identifier:{OTHER_DID}")
    result = await verifier.process_response(form, now=NOW)
    assert result.request_id == created.request_id and not result.ok and not result.declined
    assert isinstance(result.failure, AudienceMismatchError) and result.error == "audience_mismatch"
    with pytest.raises(AudienceMismatchError):
        result.claims()
    # A failed answer does not consume the request (a third party cannot spend it); the wallet's
    # real answer still goes through.
    good = await verifier.process_response(await _answer(request, credential, device_key), now=NOW)
    assert good.ok and good.request_id == created.request_id


async def test_claims_of_a_declined_result_say_the_resident_declined(verifier, verifier_resolver):
    request = await _fresh(verifier, verifier_resolver)
    form = _form(build_error_response(request, error="access_denied", description="resident declined"))
    result = await verifier.process_response(form, now=NOW)
    assert result.declined and result.failure is None
    with pytest.raises(ProtocolError) as info:
        result.claims()
    assert info.value.code == "access_denied"
    assert "declined" in info.value.message and "result.ok" in info.value.message


async def test_claims_with_an_unknown_query_id_is_invalid_input(verifier, verifier_resolver, credential, device_key):
    request = await _fresh(verifier, verifier_resolver)
    result = await verifier.process_response(await _answer(request, credential, device_key), now=NOW)
    assert result.claims() == {"age_equal_or_over": {"18": True}}
    with pytest.raises(InvalidInputError) as info:
        result.claims("nope")
    assert "resident" in info.value.message


async def _serve(verifier, **hooks) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.add_routes(verifier_routes(verifier, clock=lambda: NOW, **hooks))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_routes_call_on_failure_and_answer_the_wallet_with_the_error(
    make_verifier, verifier_resolver, credential, device_key
):
    verifier = make_verifier()
    failures, results = [], []

    async def on_result(result):
        results.append(result)
        return None

    async def on_failure(result):
        failures.append(result)

    runner, base = await _serve(verifier, on_result=on_result, on_failure=on_failure)
    try:
        created = await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
        request = await _wallet_fetch(verifier, created.deep_link, verifier_resolver)
        form = await _answer(request, credential, device_key, nonce="another-requests-nonce")
        async with aiohttp.ClientSession() as session:
            answer = await send(session, HttpRequest.form(f"{base}/oid4vp/response", form))
        assert answer.status == 401 and answer.json_object(what="error")["error"] == "nonce_mismatch"
    finally:
        await runner.cleanup()
    assert results == [] and [f.request_id for f in failures] == [created.request_id]
    assert isinstance(failures[0].failure, NonceMismatchError)


async def test_a_typed_error_from_on_result_reaches_the_wallet_not_a_500(make_verifier, verifier_resolver):
    verifier = make_verifier()

    async def on_result(result):
        return {"shown": dict(result.claims())}  # a decline: claims() raises a typed error

    runner, base = await _serve(verifier, on_result=on_result)
    try:
        created = await verifier.create_request(AGE_QUERY, purpose=PURPOSE, now=NOW)
        request = await _wallet_fetch(verifier, created.deep_link, verifier_resolver)
        post = build_error_response(request, error="access_denied", description="resident declined")
        async with aiohttp.ClientSession() as session:
            answer = await send(session, HttpRequest.form(f"{base}/oid4vp/response", _form(post)))
        assert answer.status == 400 and answer.json_object(what="error")["error"] == "access_denied"
    finally:
        await runner.cleanup()

