"""OpenID4VP at the high-assurance profile over real HTTP on 127.0.0.1: ``x509_hash`` and
``x509_san_dns`` verifiers (certificate chains checked against the wallet's anchors), the unsigned
``redirect_uri`` prefix, ``direct_post.jwt`` (ECDH-ES with A128GCM/A256GCM), ``request_uri_method=post``
with wallet metadata and ``wallet_nonce``, the same-device ``response_code``, DCQL ``claim_sets`` and
``trusted_authorities`` — and a refusal with the error the specification names for each HAIP MUST."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from tests._net import free_port
from vcsdk.credentials import StaticKeyResolver, peek, present, verify_presentation
from vcsdk.credentials.sd_jwt import issue as issue_sd_jwt
from vcsdk.errors import InvalidInputError, IssuerNotAccreditedError, ProtocolError
from vcsdk.keys import Key, decode_jws, sign_jws, verify_jws
from vcsdk.oid4vc import (
    CandidateCredential,
    HolderPresentation,
    HttpRequest,
    InMemoryStateStore,
    Verifier,
    build_authorization_response,
    fetch_request_object,
    load_request_object,
    match_dcql,
    parse_authorization_request_uri,
    parse_response_uri_answer,
    run_flow,
    send,
    verifier_routes,
)
from vcsdk.oid4vc._wallet import request_from_parameters, wallet_metadata
from vcsdk.oid4vc._x509 import authority_key_ids, certificate_hash

from ._pki import make_hierarchy, self_signed, x5c_of
from .conftest import CITY_DID, DISCLOSABLE, NOW, RESIDENT_CLAIMS, VCT, CountingRandomness, resident_credential

PURPOSE = "Renting a bicycle requires age 18+"
#: DCQL with claim sets: the birthdate, or else the age-over-18 statement.
CLAIM_SETS_QUERY: dict[str, Any] = {
    "credentials": [
        {
            "id": "resident",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCT]},
            "claims": [
                {"id": "age", "path": ["age_equal_or_over", "18"]},
                {"id": "birth", "path": ["birthdate"]},
            ],
            "claim_sets": [["age"], ["birth"]],
        }
    ]
}


def clock():
    return NOW


class Service:
    def __init__(self, verifier: Verifier, base: str) -> None:
        self.verifier = verifier
        self.base = base
        self.results: list[Any] = []


@pytest.fixture
def pki():
    return make_hierarchy(dns=("localhost",), now=NOW, name="verifier ca")


@pytest.fixture
async def serve(aiohttp_server, city_key):
    """Serves a verifier with the given identity on loopback and returns it."""
    resolver = StaticKeyResolver({CITY_DID: city_key})

    async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
        return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver, now=NOW)

    async def make(*, host: str = "127.0.0.1", verify_fn=verify, **identity: Any) -> Service:
        port = free_port()
        base = f"http://{host}:{port}"
        verifier = Verifier(
            response_uri=f"{base}/oid4vp/response",
            request_uri_base=f"{base}/oid4vp/request",
            store=InMemoryStateStore(),
            verify=verify_fn,
            name="Tsukuba Bike Share",
            randomness=CountingRandomness(f"haip-{port}"),
            **identity,
        )
        service = Service(verifier, base)

        async def on_result(result):
            service.results.append(result)
            return None

        app = web.Application()
        app.add_routes(verifier_routes(verifier, clock=clock, on_result=on_result))
        await aiohttp_server(app, host="127.0.0.1", port=port)
        return service

    return make


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def _wallet_answer(session, link: str, wallet: dict[str, str], keys: dict[str, Key], *, anchors=(),
                         resolver=None, select: dict[str, str] | None = None):
    """Our wallet: fetch (POST with wallet metadata when asked), verify, consent, sign, send."""
    ref = parse_authorization_request_uri(link)
    if ref.parameters is not None:
        request = request_from_parameters(ref, now=NOW)
    else:
        wallet_nonce = "wn-" + "a" * 20 if ref.request_uri_method == "post" else None
        jwt = await run_flow(fetch_request_object(ref, wallet_nonce=wallet_nonce), session)
        request = await load_request_object(jwt, resolver=resolver, expected_client_id=ref.client_id, now=NOW,
                                            wallet_nonce=wallet_nonce, trust_anchors=anchors)
    candidates = [CandidateCredential(r, "dc+sd-jwt", peek(vc).unverified_vct, peek(vc).unverified_claims)
                  for r, vc in wallet.items()]
    holder = HolderPresentation.start(request, candidates).consent(wallet, now=NOW, selections=select)
    _, answer = holder.finish({p.query_id: keys[p.ref].sign(p.signing_input) for p in holder.prepared})
    return request, answer, await send(session, answer)


@pytest.fixture
def wallet(city_key):
    keys = {"vc-1": Key.generate("P-256")}
    return {r: resident_credential(city_key, k) for r, k in keys.items()}, keys


# -- the flows ---------------------------------------------------------------------------------------


async def test_x509_hash_direct_post_jwt_post_method_and_response_code(serve, session, pki, wallet):
    service = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate), response_mode="direct_post.jwt",
                          request_uri_method="post", redirect_uri="https://bikes.example/done")
    verifier = service.verifier
    assert verifier.client_id == f"x509_hash:{certificate_hash(pki.leaf)}"
    created = await verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    assert "request_uri_method=post" in created.deep_link and created.transaction_id
    assert created.link("haip-vp://").startswith("haip-vp://?client_id=x509_hash%3A")
    creds, keys = wallet
    request, answer, reply = await _wallet_answer(session, created.deep_link, creds, keys, anchors=[pki.root])
    assert request.response_mode == "direct_post.jwt" and request.wallet_nonce == "wn-" + "a" * 20
    # The verifier lists both methods and one ephemeral P-256 key; the wallet picked A256GCM.
    assert set(request.encrypted_response_enc_values) == {"A128GCM", "A256GCM"}
    assert set(dict(parse_qsl(answer.body.decode()))) == {"response"}
    jwe = dict(parse_qsl(answer.body.decode()))["response"]
    header = json.loads(base64.urlsafe_b64decode(jwe.split(".")[0] + "=="))
    assert header["alg"] == "ECDH-ES" and header["enc"] == "A256GCM" and header["kid"] == request.jwks[0]["kid"]
    redirect = parse_response_uri_answer(reply)
    assert redirect is not None and redirect.startswith("https://bikes.example/done#response_code=")
    code = redirect.split("response_code=", 1)[1]
    # HAIP 1.0 §5.1: only the session that made the request, back with the code, gets the result.
    with pytest.raises(ProtocolError):
        await verifier.redeem("another-transaction", code, now=NOW)
    result = await verifier.redeem(created.transaction_id, code, now=NOW)
    assert result.claims() == {"age_equal_or_over": {"18": True}}
    with pytest.raises(ProtocolError):  # single use
        await verifier.redeem(created.transaction_id, code, now=NOW)


async def test_a_wrong_response_code_burns_the_result(serve, session, pki, wallet):
    service = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate), redirect_uri="https://b.example/d")
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    creds, keys = wallet
    _, _, reply = await _wallet_answer(session, created.deep_link, creds, keys, anchors=[pki.root])
    code = parse_response_uri_answer(reply).split("response_code=", 1)[1]
    with pytest.raises(ProtocolError):
        await service.verifier.redeem(created.transaction_id, "guess", now=NOW)
    with pytest.raises(ProtocolError):  # a guess burnt it: no second try, not even with the right code
        await service.verifier.redeem(created.transaction_id, code, now=NOW)


async def test_x509_san_dns_and_claim_sets(serve, session, pki, wallet):
    service = await serve(host="localhost", signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate),
                          client_id_prefix="x509_san_dns")
    assert service.verifier.client_id == "x509_san_dns:localhost"
    query = {**CLAIM_SETS_QUERY, "credentials": [{**CLAIM_SETS_QUERY["credentials"][0],
                                                  "claim_sets": [["birth"], ["age"]]}]}
    created = await service.verifier.create_request(query, purpose=PURPOSE, now=NOW)
    creds, keys = wallet
    _, _, reply = await _wallet_answer(session, created.deep_link, creds, keys, anchors=[pki.root])
    assert reply.status == 200
    (result,) = service.results
    assert result.claims() == {"birthdate": RESIDENT_CLAIMS["birthdate"]}  # the first satisfiable claim set


async def test_redirect_uri_prefix_unsigned_by_value(serve, session, wallet):
    service = await serve(client_id_prefix="redirect_uri")
    assert service.verifier.client_id == f"redirect_uri:{service.base}/oid4vp/response"
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    assert "request_uri" not in created.deep_link and "dcql_query" in created.deep_link
    creds, keys = wallet
    _, _, reply = await _wallet_answer(session, created.deep_link, creds, keys)
    assert reply.status == 200 and service.results[0].claims() == {"age_equal_or_over": {"18": True}}


async def test_trusted_authorities_are_evaluated(serve, session, city_key):
    issuer_ca = make_hierarchy(now=NOW, name="city issuer ca")
    phone = Key.generate("P-256")
    with_chain = issue_sd_jwt(
        {**RESIDENT_CLAIMS, "iss": "https://city.example", "vct": VCT, "iat": int(NOW.timestamp())},
        signer=issuer_ca.leaf_key, disclosable=DISCLOSABLE, holder_key=phone, typ="dc+sd-jwt",
        header={"x5c": issuer_ca.x5c}, kid=None,
    )
    without_chain = resident_credential(city_key, phone)
    aki = sorted(authority_key_ids([issuer_ca.leaf, issuer_ca.intermediate]))
    query = {"credentials": [{"id": "resident", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
                              "trusted_authorities": [{"type": "aki", "values": aki}],
                              "claims": [{"path": ["age_equal_or_over", "18"]}]}]}

    # The wallet: a credential whose chain has none of the AKIs does not match (treated as absent).
    def candidate(ref: str, vc: str) -> CandidateCredential:
        header = peek(vc).unverified_header
        akis = frozenset(authority_key_ids(_chain(header["x5c"]))) if "x5c" in header else frozenset()
        return CandidateCredential(ref, "dc+sd-jwt", VCT, peek(vc).unverified_claims, authority_key_ids=akis)

    from vcsdk.oid4vc import parse_dcql_query

    parsed = parse_dcql_query(query)
    found = match_dcql(parsed, [candidate("plain", without_chain), candidate("chained", with_chain)])
    assert [m.ref for m in found.matches["resident"]] == ["chained"]
    other = {**query["credentials"][0], "trusted_authorities": [{"type": "etsi_tl", "values": ["https://lotl"]}]}
    assert not match_dcql(parse_dcql_query({"credentials": [other]}), [candidate("chained", with_chain)]).satisfiable

    # The verifier: its verify function checks the issuer signature with the chain's leaf; before
    # that, the credential's issuer must be one the query trusts.
    async def verify_x5c(presentation: str, *, audience: str, nonce: str) -> Any:
        issuer_jwt = presentation.split("~", 1)[0]
        verify_jws(issuer_jwt, issuer_ca.leaf_key.public_key(), typ="dc+sd-jwt", header_keys="ignore")
        return peek(presentation).unverified_claims  # (the signature was checked just above)

    service = await serve(signer=issuer_ca.leaf_key, x5c=(issuer_ca.leaf, issuer_ca.intermediate),
                          verify_fn=verify_x5c)
    created = await service.verifier.create_request(query, purpose=PURPOSE, now=NOW)
    ref = parse_authorization_request_uri(created.deep_link)
    request = await load_request_object(await run_flow(fetch_request_object(ref), session), resolver=None,
                                        expected_client_id=ref.client_id, now=NOW, trust_anchors=[issuer_ca.root])
    for vc, expected in ((without_chain, IssuerNotAccreditedError), (with_chain, None)):
        # Made directly (a wallet that ignored trusted_authorities), so the verifier's own check shows.
        presentation = present(vc, disclose=[("age_equal_or_over", "18")], holder_signer=phone,
                               audience=request.client_id, nonce=request.nonce, now=NOW)
        form = dict(parse_qsl(build_authorization_response(request, {"resident": presentation}).body.decode()))
        if expected is None:
            result = await service.verifier.handle_response(form, now=NOW)
            assert result.claims() == {"age_equal_or_over": {"18": True}}
        else:
            with pytest.raises(expected):
                await service.verifier.handle_response(form, now=NOW)


def _chain(x5c):
    from vcsdk.oid4vc._x509 import parse_x5c

    return parse_x5c(x5c)


# -- refusals: one per HAIP MUST ----------------------------------------------------------------------


async def _fetch(session, created, *, anchors, resolver=None, wallet_nonce=None):
    ref = parse_authorization_request_uri(created.deep_link)
    jwt = await run_flow(fetch_request_object(ref, wallet_nonce=wallet_nonce), session)
    return await load_request_object(jwt, resolver=resolver, expected_client_id=ref.client_id, now=NOW,
                                     trust_anchors=anchors, wallet_nonce=wallet_nonce)


async def test_wallet_refuses_untrusted_or_mismatched_certificates(serve, session, pki):
    service = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate))
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    stranger = make_hierarchy(now=NOW, name="stranger")
    for anchors in ([], [stranger.root]):
        with pytest.raises(ProtocolError) as info:
            await _fetch(session, created, anchors=anchors)
        assert info.value.code == "invalid_client"
    # A request signed under x509_hash but naming another certificate's hash.
    claims = decode_jws(created.request_object).unverified_claims()
    other_leaf, other_key = pki.other_leaf()
    forged = sign_jws(claims, other_key, typ="oauth-authz-req+jwt",
                      header={"x5c": x5c_of(other_leaf, pki.intermediate)}, include_kid=False)
    with pytest.raises(ProtocolError) as info:
        await load_request_object(forged, resolver=None, expected_client_id=None, now=NOW, trust_anchors=[pki.root])
    assert info.value.code == "invalid_client"
    # The trust anchor inside x5c, and a self-signed signer, are refused (HAIP 1.0 §5).
    with_root = sign_jws(claims, pki.leaf_key, typ="oauth-authz-req+jwt",
                         header={"x5c": x5c_of(pki.leaf, pki.intermediate, pki.root)}, include_kid=False)
    with pytest.raises(ProtocolError) as info:
        await load_request_object(with_root, resolver=None, expected_client_id=None, now=NOW, trust_anchors=[pki.root])
    assert info.value.code == "invalid_client"
    leaf, key = self_signed(now=NOW)
    own = sign_jws({**claims, "client_id": f"x509_hash:{certificate_hash(leaf)}"}, key, typ="oauth-authz-req+jwt",
                   header={"x5c": x5c_of(leaf)}, include_kid=False)
    with pytest.raises(ProtocolError) as info:
        await load_request_object(own, resolver=None, expected_client_id=None, now=NOW, trust_anchors=[leaf])
    assert info.value.code == "invalid_client"
    # Signed by another key than the certificate's.
    bad_sig = sign_jws(claims, Key.generate("P-256"), typ="oauth-authz-req+jwt", header={"x5c": pki.x5c},
                       include_kid=False)
    from vcsdk.errors import SignatureInvalidError

    with pytest.raises(SignatureInvalidError):
        await load_request_object(bad_sig, resolver=None, expected_client_id=None, now=NOW, trust_anchors=[pki.root])


async def test_x509_san_dns_response_uri_must_be_on_the_named_host(serve, session, pki):
    service = await serve(host="localhost", signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate),
                          client_id_prefix="x509_san_dns")
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    claims = decode_jws(created.request_object).unverified_claims()
    moved = sign_jws({**claims, "response_uri": "https://evil.example/collect"}, pki.leaf_key,
                     typ="oauth-authz-req+jwt", header={"x5c": pki.x5c}, include_kid=False)
    with pytest.raises(ProtocolError) as info:
        await load_request_object(moved, resolver=None, expected_client_id=None, now=NOW, trust_anchors=[pki.root])
    assert info.value.code == "invalid_request"
    with pytest.raises(InvalidInputError):  # the verifier itself refuses a host its certificate does not name
        Verifier(response_uri="https://elsewhere.example/r", request_uri_base="https://elsewhere.example/q",
                 store=InMemoryStateStore(), verify=lambda *a, **k: {}, signer=pki.leaf_key,
                 x5c=(pki.leaf, pki.intermediate), client_id_prefix="x509_san_dns")


async def test_wallet_nonce_must_be_echoed(serve, session, pki):
    service = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate), request_uri_method="post")
    created = await service.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    ref = parse_authorization_request_uri(created.deep_link)
    # A request object fetched for another wallet_nonce (a replay) is refused.
    jwt = await run_flow(fetch_request_object(ref, wallet_nonce="first-nonce-0001"), session)
    with pytest.raises(ProtocolError):
        await load_request_object(jwt, resolver=None, expected_client_id=ref.client_id, now=NOW,
                                  trust_anchors=[pki.root], wallet_nonce="second-nonce-0002")
    # POST carries the wallet metadata; a GET-only verifier refuses POST.
    posted = await send(session, HttpRequest.form(ref.request_uri, {"wallet_metadata": json.dumps(wallet_metadata())},
                                                  headers={"Accept": "application/oauth-authz-req+jwt"}))
    assert posted.status == 200 and posted.header("Content-Type").startswith("application/oauth-authz-req+jwt")
    plain = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate))
    made = await plain.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    refused = await send(session, HttpRequest.form(made.request_uri, {"wallet_nonce": "x" * 16}))
    assert refused.status == 400 and refused.error_code == "invalid_request_uri_method"


async def _encrypted_form(request, payload: dict[str, Any], *, alg="ECDH-ES", enc="A128GCM", extra=None) -> dict:
    key = dict(request.jwks[0])
    header = {"alg": alg, "enc": enc, "kid": key["kid"], **(extra or {})}
    token = jwcrypto_jwe.JWE(json.dumps(payload).encode(), protected=header)
    public = {k: v for k, v in key.items() if k in ("kty", "crv", "x", "y")}
    token.add_recipient(jwcrypto_jwk.JWK(**public))
    return {"response": token.serialize(compact=True)}


async def test_encrypted_response_refusals(serve, session, pki, wallet):
    service = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate), response_mode="direct_post.jwt")
    verifier = service.verifier
    created = await verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    request = await _fetch(session, created, anchors=[pki.root])
    creds, keys = wallet
    holder = HolderPresentation.start(request, [CandidateCredential("vc-1", "dc+sd-jwt", VCT,
                                                                    peek(creds["vc-1"]).unverified_claims)])
    holder = holder.consent(creds, now=NOW)
    presentations, good = holder.finish({"resident": keys["vc-1"].sign(holder.prepared[0].signing_input)})
    payload = {"vp_token": {"resident": [presentations["resident"]]}, "state": request.state}
    # An algorithm not on the allow-list: key wrapping, or a CBC content encryption.
    for alg, enc in (("ECDH-ES+A128KW", "A128GCM"), ("ECDH-ES", "A128CBC-HS256"), ("ECDH-ES", "A192GCM")):
        bad = await _encrypted_form(request, payload, alg=alg, enc=enc)
        with pytest.raises(ProtocolError) as info:
            await verifier.handle_response(bad, now=NOW)
        assert info.value.code == "invalid_request", (alg, enc)
    # A compressed (zip) response is refused before anything is inflated.
    zipped = await _encrypted_form(request, payload, extra={"zip": "DEF"})
    with pytest.raises(ProtocolError) as info:
        await verifier.handle_response(zipped, now=NOW)
    assert "zip" in info.value.message
    # The plain form where an encrypted response was asked for.
    plain = {"vp_token": json.dumps(payload["vp_token"]), "state": request.state}
    with pytest.raises(ProtocolError):
        await verifier.handle_response(plain, now=NOW)
    # None of these burnt the request: the wallet's real answer is still accepted, once.
    reply = await send(session, good)
    assert reply.status == 200, reply.body
    again = await send(session, good)
    assert again.status == 400 and again.error_code == "invalid_request"


async def test_response_to_the_wrong_response_uri_and_burnt_state(serve, session, pki, wallet):
    store = InMemoryStateStore()
    first = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate))
    first.verifier._store = store  # two services sharing one store, as instances of one deployment might
    second = await serve(signer=pki.leaf_key, x5c=(pki.leaf, pki.intermediate))
    second.verifier._store = store
    created = await first.verifier.create_request(CLAIM_SETS_QUERY, purpose=PURPOSE, now=NOW)
    request = await _fetch(session, created, anchors=[pki.root])
    creds, keys = wallet
    holder = HolderPresentation.start(request, [CandidateCredential("vc-1", "dc+sd-jwt", VCT,
                                                                    peek(creds["vc-1"]).unverified_claims)])
    holder = holder.consent(creds, now=NOW)
    _, answer = holder.finish({"resident": keys["vc-1"].sign(holder.prepared[0].signing_input)})
    form = dict(parse_qsl(answer.body.decode()))
    with pytest.raises(ProtocolError) as info:  # posted to the other service's response_uri
        await second.verifier.handle_response(form, now=NOW)
    assert info.value.code == "invalid_request"
    assert (await first.verifier.handle_response(form, now=NOW)).ok
    with pytest.raises(ProtocolError) as info:  # the state is spent once answered
        await first.verifier.handle_response(form, now=NOW)
    assert info.value.code == "invalid_request"


async def test_unsigned_requests_only_for_redirect_uri(session):
    link = ("openid4vp://?client_id=redirect_uri%3Ahttps%3A%2F%2Fs.example%2Fcb&response_type=vp_token"
            "&response_mode=direct_post&nonce=n1&response_uri=https%3A%2F%2Fevil.example%2Fcb"
            f"&dcql_query={json.dumps(CLAIM_SETS_QUERY)}")
    with pytest.raises(ProtocolError) as info:  # the response would go elsewhere than the client id says
        request_from_parameters(parse_authorization_request_uri(link), now=NOW)
    assert info.value.code == "invalid_request"
    signed = sign_jws({"client_id": "redirect_uri:https://s.example/cb"}, Key.generate("P-256"),
                      typ="oauth-authz-req+jwt")
    with pytest.raises(ProtocolError):
        await load_request_object(signed, resolver=None, expected_client_id=None, now=NOW)
