"""OpenID4VCI at the high-assurance profile over real HTTP on 127.0.0.1: the authorization code
flow with PAR, PKCE S256, DPoP-bound tokens with server nonces and a Wallet Attestation; refresh;
authorization_details with credential identifiers; deferred issuance — and a refusal with the error
the specification names for every HAIP MUST the issuer implements."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web

from tests._net import free_port
from vcsdk.credentials import issue_sd_jwt_vc, peek
from vcsdk.errors import InvalidInputError, ProtocolError
from vcsdk.keys import Key, sign_jws
from vcsdk.oid4vc import (
    ClientAttestation,
    CredentialConfiguration,
    CredentialIssuer,
    Deferred,
    HttpRequest,
    InMemoryStateStore,
    PendingAuthorization,
    PendingIssuance,
    WalletAttestationTrust,
    create_attestation_pop,
    create_dpop_proof,
    fetch_deferred_credentials,
    finish_authorization,
    finish_issuance,
    issue_wallet_attestation,
    issuer_routes,
    notify_issuer,
    refresh_issuance,
    run_flow,
    send,
    start_authorization,
    verify_client_attestation,
)
from vcsdk.oid4vc._authorization import pkce_challenge

from ._pki import make_hierarchy, self_signed, x5c_of
from .conftest import CITY_DID, DISCLOSABLE, NOW, RESIDENT_CLAIMS, VCT, CountingRandomness

CONFIG_ID = "ResidentIdentityCredential"
CLIENT_ID = "https://wallet.example/haip-wallet"
REDIRECT_URI = "https://wallet.example/callback"


def clock():
    return NOW


class City:
    """The issuer and what the tests need to drive it."""

    def __init__(self, issuer: CredentialIssuer, provider, port: int) -> None:
        self.issuer = issuer
        self.provider = provider  # the wallet provider's certificate hierarchy
        self.url = issuer.credential_issuer
        self.port = port
        self.defer = False
        self.authorized: list[Any] = []

    def wallet_attestation(self, *, client_id: str = CLIENT_ID, lifetime: timedelta = timedelta(hours=1),
                           provider=None, x5c=None) -> ClientAttestation:
        instance = Key.generate("P-256")
        hierarchy = provider or self.provider
        token = issue_wallet_attestation(
            hierarchy.leaf_key, issuer="https://provider.example", client_id=client_id,
            instance_jwk=instance.public_jwk(), now=NOW, lifetime=lifetime,
            x5c=x5c if x5c is not None else (hierarchy.leaf, hierarchy.intermediate),
        )
        return ClientAttestation(token, instance, client_id)


@pytest.fixture
async def city(aiohttp_server, city_key):
    port = free_port()
    provider = make_hierarchy(now=NOW, name="wallet provider")
    holder: dict[str, City] = {}

    def issue(claims, holder_key):
        if holder["city"].defer:
            return Deferred(interval=5)
        return issue_sd_jwt_vc(
            claims, issuer=CITY_DID, signer=city_key, vct=VCT, disclosable=DISCLOSABLE, holder_key=holder_key, now=NOW
        )

    issuer = CredentialIssuer(
        credential_issuer=f"http://127.0.0.1:{port}/issuer",
        configurations=[CredentialConfiguration(id=CONFIG_ID, vct=VCT)],
        issue=issue,
        store=InMemoryStateStore(),
        randomness=CountingRandomness("haip-city"),
        require_dpop=True,
        wallet_attestation=WalletAttestationTrust(trust_anchors=[provider.root]),
    )

    async def on_authorization(request: web.Request, session) -> web.StreamResponse:
        # The resident signs in here (KYC, a login); the test resident is always found.
        holder["city"].authorized.append(session)
        raise web.HTTPFound(await issuer.authorization_server.authorize(session.id, RESIDENT_CLAIMS, now=NOW))

    app = web.Application()
    app.add_routes(issuer_routes(issuer, clock=clock, on_authorization=on_authorization))
    await aiohttp_server(app, host="127.0.0.1", port=port)
    holder["city"] = City(issuer, provider, port)
    return holder["city"]


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def _authorize(session, pending: PendingAuthorization) -> str:
    """The browser: open the authorization URL, come back with the redirect."""
    async with session.get(pending.authorization_url, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        return resp.headers["Location"]


async def _start(city: City, session, *, details: bool = False, attestation=None) -> PendingAuthorization:
    offer = city.issuer.authorization_offer([CONFIG_ID], issuer_state="kyc-case-1")
    attestation = attestation or city.wallet_attestation()
    return await run_flow(
        start_authorization(offer, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, now=clock,
                            authorization_details=details, client_attestation=attestation),
        session,
    )


async def _through_token(city: City, session, *, details: bool = False):
    attestation = city.wallet_attestation()
    pending = await _start(city, session, details=details, attestation=attestation)
    callback = await _authorize(session, pending)
    phone = Key.generate("P-256")
    issuance = await run_flow(
        finish_authorization(pending, callback, jwks=[phone.public_jwk()], now=clock, client_attestation=attestation),
        session,
    )
    return issuance, phone, attestation


# -- the flows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("details", [False, True], ids=["scope", "authorization_details"])
async def test_authorization_code_flow_with_par_pkce_dpop_and_attestation(city, session, details):
    attestation = city.wallet_attestation()
    pending = await _start(city, session, details=details, attestation=attestation)
    assert pending.authorization_url.startswith(f"{city.url}/authorize?")
    # Only client_id and request_uri travel through the browser (PAR).
    assert set(parse_qs(urlsplit(pending.authorization_url).query)) == {"client_id", "request_uri"}
    saved = json.loads(json.dumps(pending.to_state()))
    callback = await _authorize(session, PendingAuthorization.from_state(saved))
    query = parse_qs(urlsplit(callback).query)
    assert query["iss"] == [city.url] and query["state"] == [pending.state]  # RFC 9207
    (seen,) = city.authorized
    assert seen.configuration_ids == (CONFIG_ID,) and seen.issuer_state == "kyc-case-1"
    phone = Key.generate("P-256")
    issuance = await run_flow(
        finish_authorization(PendingAuthorization.from_state(saved), callback, jwks=[phone.public_jwk()],
                             now=clock, client_attestation=attestation),
        session,
    )
    assert issuance.session.token_type == "DPoP" and issuance.session.refresh_token
    if details:
        assert list(issuance.session.credential_identifiers) == [CONFIG_ID]
    issued = await run_flow(
        finish_issuance(issuance, [phone.sign(issuance.signing_inputs[0])], now=clock), session
    )
    (credential,) = issued.credentials
    assert peek(credential).unverified_claims["cnf"]["jwk"] == phone.public_jwk()
    await run_flow(notify_issuer(issued, now=clock), session)


async def test_refresh_reissues_with_fresh_keys_and_rotates(city, session):
    issuance, phone, attestation = await _through_token(city, session)
    await run_flow(finish_issuance(issuance, [phone.sign(issuance.signing_inputs[0])], now=clock), session)
    fresh = Key.generate("P-256")
    renewed = await run_flow(
        refresh_issuance(issuance, now=clock, jwks=[fresh.public_jwk()], client_attestation=attestation), session
    )
    assert renewed.session.refresh_token != issuance.session.refresh_token  # rotated
    again = await run_flow(finish_issuance(renewed, [fresh.sign(renewed.signing_inputs[0])], now=clock), session)
    assert peek(again.credentials[0]).unverified_claims["cnf"]["jwk"] == fresh.public_jwk()
    # The old refresh token was used once: using it again is refused (RFC 9700 §4.14.2).
    with pytest.raises(ProtocolError) as info:
        await run_flow(refresh_issuance(issuance, now=clock, client_attestation=attestation), session)
    assert info.value.code == "invalid_grant"


async def test_deferred_issuance(city, session):
    issuance, phone, _ = await _through_token(city, session)
    city.defer = True
    first = await run_flow(finish_issuance(issuance, [phone.sign(issuance.signing_inputs[0])], now=clock), session)
    assert first.deferred and first.credentials == () and first.interval == 5
    still = await run_flow(fetch_deferred_credentials(issuance, first.transaction_id, now=clock), session)
    assert still.deferred and still.transaction_id == first.transaction_id
    city.defer = False
    done = await run_flow(fetch_deferred_credentials(issuance, first.transaction_id, now=clock), session)
    assert peek(done.credentials[0]).unverified_claims["cnf"]["jwk"] == phone.public_jwk()
    # Collected once (§9): the transaction id is no longer valid.
    with pytest.raises(ProtocolError) as info:
        await run_flow(fetch_deferred_credentials(issuance, first.transaction_id, now=clock), session)
    assert info.value.code == "invalid_transaction_id"
    with pytest.raises(ProtocolError) as info:
        await run_flow(fetch_deferred_credentials(issuance, "no-such-transaction", now=clock), session)
    assert info.value.code == "invalid_transaction_id"


async def test_pre_authorized_flow_with_dpop_and_attestation(city, session):
    from vcsdk.oid4vc import prepare_issuance

    offer, pin = await city.issuer.create_offer(CONFIG_ID, RESIDENT_CLAIMS, now=NOW)
    phone = Key.generate("P-256")
    attestation = city.wallet_attestation()
    pending = await run_flow(
        prepare_issuance(offer, tx_code=pin, jwks=[phone.public_jwk()], now=clock, client_attestation=attestation),
        session,
    )
    assert pending.session.token_type == "DPoP"
    issued = await run_flow(finish_issuance(pending, [phone.sign(pending.signing_inputs[0])], now=clock), session)
    assert len(issued.credentials) == 1
    # Without the attestation the same issuer refuses the client.
    offer, pin = await city.issuer.create_offer(CONFIG_ID, RESIDENT_CLAIMS, now=NOW)
    with pytest.raises(ProtocolError) as info:
        await run_flow(prepare_issuance(offer, tx_code=pin, jwks=[phone.public_jwk()], now=clock), session)
    assert info.value.code == "invalid_client"


async def test_a_dpop_bound_pre_authorized_grant_gets_a_refresh_token_when_the_issuer_allows_it(city, session):
    from vcsdk.oid4vc import prepare_issuance

    phone = Key.generate("P-256")
    attestation = city.wallet_attestation()

    async def pending_issuance() -> Any:
        offer, pin = await city.issuer.create_offer(CONFIG_ID, RESIDENT_CLAIMS, now=NOW)
        return await run_flow(
            prepare_issuance(offer, tx_code=pin, jwks=[phone.public_jwk()], now=clock, client_attestation=attestation),
            session,
        )

    assert (await pending_issuance()).session.refresh_token is None  # the default: no refill
    city.issuer.authorization_server.refresh_pre_authorized = True
    pending = await pending_issuance()
    assert pending.session.token_type == "DPoP" and pending.session.refresh_token is not None
    await run_flow(finish_issuance(pending, [phone.sign(pending.signing_inputs[0])], now=clock), session)
    fresh = [Key.generate("P-256") for _ in range(2)]
    refill = await run_flow(
        refresh_issuance(pending, now=clock, jwks=[k.public_jwk() for k in fresh], client_attestation=attestation),
        session,
    )
    issued = await run_flow(
        finish_issuance(refill, [k.sign(s) for k, s in zip(fresh, refill.signing_inputs, strict=True)], now=clock),
        session,
    )
    assert [peek(c).unverified_claims["cnf"]["jwk"] for c in issued.credentials] == [k.public_jwk() for k in fresh]


# -- refusals: one per HAIP MUST ----------------------------------------------------------------------


async def _form(session, url: str, form: dict[str, str], headers: dict[str, str] | None = None):
    return await send(session, HttpRequest.form(url, form, headers=headers or {}))


async def _nonce(city: City, session) -> str:
    answer = await send(session, HttpRequest("POST", f"{city.url}/nonce", {"Content-Length": "0"}, b""))
    return answer.header("DPoP-Nonce")


def _par_form(**extra: str) -> dict[str, str]:
    verifier = "v" * 43
    form = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": CONFIG_ID,
        "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256", "state": "s1",
    }
    form.update(extra)
    return form


async def _par(city: City, session, form: dict[str, str], *, attestation=None, dpop_key: Key | None = None,
               nonce: str | None = None):
    attestation = attestation or city.wallet_attestation()
    headers = attestation.headers(audience=city.url, now=NOW)
    if dpop_key is not None:
        headers["DPoP"] = create_dpop_proof(dpop_key, method="POST", url=f"{city.url}/par", now=NOW, nonce=nonce)
    return await _form(session, f"{city.url}/par", form, headers)


async def test_par_refuses_plain_pkce_missing_challenge_and_direct_requests(city, session):
    plain = await _par(city, session, _par_form(code_challenge="x" * 43, code_challenge_method="plain"))
    assert plain.status == 400 and plain.error_code == "invalid_request"
    missing = _par_form()
    del missing["code_challenge"]
    assert (await _par(city, session, missing)).error_code == "invalid_request"
    assert (await _par(city, session, _par_form(response_type="token"))).error_code == "unsupported_response_type"
    assert (await _par(city, session, _par_form(scope="unknown"))).error_code == "invalid_scope"
    details = json.dumps([{"type": "openid_credential", "credential_configuration_id": "unknown"}])
    bad = await _par(city, session, _par_form(scope="", authorization_details=details))
    assert bad.error_code == "invalid_authorization_details"
    inside = await _par(city, session, _par_form(request_uri="urn:ietf:params:oauth:request_uri:x"))
    assert inside.error_code == "invalid_request"
    # The authorization endpoint takes only pushed requests (HAIP: PAR is required).
    query = urlencode({"client_id": CLIENT_ID, **_par_form()})
    async with session.get(f"{city.url}/authorize?{query}", allow_redirects=False) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_request_uri_is_single_use(city, session):
    answer = await _par(city, session, _par_form())
    assert answer.status == 201
    request_uri = answer.json_object(what="par")["request_uri"]
    url = f"{city.url}/authorize?{urlencode({'client_id': CLIENT_ID, 'request_uri': request_uri})}"
    async with session.get(url, allow_redirects=False) as resp:
        assert resp.status == 302
    async with session.get(url, allow_redirects=False) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_request_uri"


async def _code(city: City, session, *, dpop_key: Key | None = None, attestation=None, redirect=REDIRECT_URI):
    nonce = await _nonce(city, session)
    answer = await _par(city, session, _par_form(redirect_uri=redirect), dpop_key=dpop_key, nonce=nonce,
                        attestation=attestation)
    assert answer.status == 201, answer.body
    request_uri = answer.json_object(what="par")["request_uri"]
    url = f"{city.url}/authorize?{urlencode({'client_id': CLIENT_ID, 'request_uri': request_uri})}"
    async with session.get(url, allow_redirects=False) as resp:
        return parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]


async def _token(city: City, session, form: dict[str, str], *, dpop_key: Key | None, attestation=None,
                 nonce: str | None = "fetch", proof: str | None = None):
    attestation = attestation or city.wallet_attestation()
    headers = attestation.headers(audience=city.url, now=NOW)
    if proof is not None:
        headers["DPoP"] = proof
    elif dpop_key is not None:
        use = await _nonce(city, session) if nonce == "fetch" else nonce
        headers["DPoP"] = create_dpop_proof(dpop_key, method="POST", url=f"{city.url}/token", now=NOW, nonce=use)
    return await _form(session, f"{city.url}/token", form, headers)


def _code_form(code: str, **extra: str) -> dict[str, str]:
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": "v" * 43,
            "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID}
    form.update(extra)
    return form


async def test_wrong_pkce_verifier_is_invalid_grant_and_burns_the_code(city, session):
    key = Key.generate("P-256")
    code = await _code(city, session, dpop_key=key)
    wrong = await _token(city, session, _code_form(code, code_verifier="w" * 43), dpop_key=key)
    assert wrong.status == 400 and wrong.error_code == "invalid_grant"
    again = await _token(city, session, _code_form(code), dpop_key=key)
    assert again.error_code == "invalid_grant"  # single use: the failed attempt used it up


async def test_code_is_bound_to_redirect_uri_client_and_dpop_key(city, session):
    key = Key.generate("P-256")
    code = await _code(city, session, dpop_key=key)
    assert (await _token(city, session, _code_form(code, redirect_uri="https://evil.example/cb"),
                         dpop_key=key)).error_code == "invalid_grant"
    code = await _code(city, session, dpop_key=key)
    other_key = await _token(city, session, _code_form(code), dpop_key=Key.generate("P-256"))
    assert other_key.status == 400 and other_key.error_code == "invalid_dpop_proof"
    code = await _code(city, session, dpop_key=key)
    other = city.wallet_attestation(client_id="https://other.example/wallet")
    refused = await _token(city, session, _code_form(code, client_id="https://other.example/wallet"), dpop_key=key,
                           attestation=other)
    assert refused.error_code == "invalid_grant"


async def test_token_without_dpop_and_dpop_nonce_rules(city, session):
    key = Key.generate("P-256")
    code = await _code(city, session, dpop_key=key)
    without = await _token(city, session, _code_form(code), dpop_key=None)
    assert without.status == 400 and without.error_code == "invalid_dpop_proof"
    # A proof without the server's nonce: use_dpop_nonce and the nonce in DPoP-Nonce (RFC 9449 §8).
    code = await _code(city, session, dpop_key=key)
    no_nonce = await _token(city, session, _code_form(code), dpop_key=key, nonce=None)
    assert no_nonce.status == 400 and no_nonce.error_code == "use_dpop_nonce" and no_nonce.header("DPoP-Nonce")
    stale = await _token(city, session, _code_form(code), dpop_key=key, nonce="not-a-server-nonce")
    assert stale.error_code == "use_dpop_nonce"


async def test_dpop_replay_and_wrong_htu_and_wrong_method(city, session):
    key = Key.generate("P-256")
    code = await _code(city, session, dpop_key=key)
    nonce = await _nonce(city, session)
    wrong_htu = create_dpop_proof(key, method="POST", url=f"{city.url}/credential", now=NOW, nonce=nonce)
    refused = await _token(city, session, _code_form(code), dpop_key=key, proof=wrong_htu)
    assert refused.error_code == "invalid_dpop_proof"
    assert f"expects htu {city.url}/token" in json.loads(refused.body)["error_description"]
    code = await _code(city, session, dpop_key=key)
    wrong_method = create_dpop_proof(key, method="GET", url=f"{city.url}/token", now=NOW, nonce=nonce)
    assert (await _token(city, session, _code_form(code), dpop_key=key, proof=wrong_method)).error_code == (
        "invalid_dpop_proof"
    )
    old = create_dpop_proof(key, method="POST", url=f"{city.url}/token", now=NOW - timedelta(hours=1), nonce=nonce)
    assert (await _token(city, session, _code_form(code), dpop_key=key, proof=old)).error_code == "invalid_dpop_proof"
    proof = create_dpop_proof(key, method="POST", url=f"{city.url}/token", now=NOW, nonce=nonce)
    first = await _token(city, session, _code_form(code), dpop_key=key, proof=proof)
    assert first.status == 200, first.body
    code = await _code(city, session, dpop_key=key)
    replay = await _token(city, session, _code_form(code), dpop_key=key, proof=proof)
    assert replay.status == 400 and replay.error_code == "invalid_dpop_proof"


async def test_dpop_bound_token_at_the_credential_endpoint(city, session):
    issuance, _, _ = await _through_token(city, session)
    token = issuance.session.access_token
    proof = json.dumps({"credential_configuration_id": CONFIG_ID, "proofs": {"jwt": ["x"]}})
    as_bearer = await send(session, HttpRequest(
        "POST", f"{city.url}/credential", {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        proof.encode()))
    assert as_bearer.status == 401 and as_bearer.error_code == "invalid_token"
    # RFC 9449 §7.2: the challenge names the scheme the DPoP-bound token needs.
    assert as_bearer.header("WWW-Authenticate") == 'DPoP error="invalid_token", algs="ES256"'
    no_proof = await send(session, HttpRequest("POST", f"{city.url}/credential",
                                               {"Authorization": f"DPoP {token}", "Content-Type": "application/json"},
                                               proof.encode()))
    assert no_proof.status == 401 and no_proof.error_code == "invalid_dpop_proof"
    assert no_proof.header("WWW-Authenticate").startswith("DPoP ")
    key = Key.from_jwk(dict(issuance.session.dpop_key))
    nonce = await _nonce(city, session)
    for bad in (
        create_dpop_proof(key, method="POST", url=f"{city.url}/credential", now=NOW, nonce=nonce),  # no ath
        create_dpop_proof(key, method="POST", url=f"{city.url}/credential", now=NOW, nonce=nonce,
                          access_token="another-token"),  # ath of another token
        create_dpop_proof(Key.generate("P-256"), method="POST", url=f"{city.url}/credential", now=NOW,
                          nonce=nonce, access_token=token),  # another key
    ):
        refused = await send(session, HttpRequest(
            "POST", f"{city.url}/credential",
            {"Authorization": f"DPoP {token}", "DPoP": bad, "Content-Type": "application/json"}, proof.encode()))
        assert refused.status == 401 and refused.error_code == "invalid_dpop_proof", refused.body


async def test_credential_identifiers_rules(city, session):
    issuance, phone, _ = await _through_token(city, session, details=True)
    by_config = PendingIssuance.from_state({**issuance.to_state(), "credential_identifiers": {}})
    with pytest.raises(ProtocolError) as info:  # identifiers were issued: the configuration id is refused
        await run_flow(finish_issuance(by_config, [phone.sign(by_config.signing_inputs[0])], now=clock), session)
    assert info.value.code == "invalid_credential_request"
    unknown = PendingIssuance.from_state({**issuance.to_state(), "credential_identifiers": {CONFIG_ID: ["nope"]}})
    with pytest.raises(ProtocolError) as info:
        await run_flow(finish_issuance(unknown, [phone.sign(unknown.signing_inputs[0])], now=clock), session)
    assert info.value.code == "unknown_credential_identifier"


async def test_wallet_attestation_refusals(city, session):
    form = _par_form()
    missing = await _form(session, f"{city.url}/par", form)
    assert missing.status == 401 and missing.error_code == "invalid_client"
    stranger = make_hierarchy(now=NOW, name="stranger")
    for attestation in (
        city.wallet_attestation(provider=stranger),  # a provider the issuer does not trust
        city.wallet_attestation(lifetime=timedelta(minutes=-5)),  # expired
        city.wallet_attestation(x5c=(city.provider.leaf, city.provider.intermediate, city.provider.root)),  # anchor
        city.wallet_attestation(client_id="https://other.example/wallet"),  # sub is not the client_id
    ):
        refused = await _par(city, session, form, attestation=attestation)
        assert refused.status == 401 and refused.error_code == "invalid_client", refused.body
    leaf, leaf_key = self_signed(now=NOW)
    token = issue_wallet_attestation(leaf_key, issuer="https://provider.example", client_id=CLIENT_ID,
                                     instance_jwk=Key.generate("P-256").public_jwk(), now=NOW, x5c=(leaf,))
    instance = Key.generate("P-256")
    assert (await _par(city, session, form, attestation=ClientAttestation(token, instance, CLIENT_ID))).error_code == (
        "invalid_client"
    )
    # The proof of possession: for this issuer only, and used once.
    attestation = city.wallet_attestation()
    headers = {"OAuth-Client-Attestation": attestation.attestation,
               "OAuth-Client-Attestation-PoP": create_attestation_pop(
                   attestation.instance_key, client_id=CLIENT_ID, audience="https://other-issuer.example", now=NOW)}
    assert (await _form(session, f"{city.url}/par", form, headers)).error_code == "invalid_client"
    headers = attestation.headers(audience=city.url, now=NOW)
    assert (await _form(session, f"{city.url}/par", form, headers)).status == 201
    replay = await _form(session, f"{city.url}/par", form, headers)
    assert replay.status == 401 and replay.error_code == "invalid_client"
    # A PoP signed by another key than the attested one.
    other_pop = create_attestation_pop(Key.generate("P-256"), client_id=CLIENT_ID, audience=city.url, now=NOW)
    headers = {"OAuth-Client-Attestation": attestation.attestation, "OAuth-Client-Attestation-PoP": other_pop}
    assert (await _form(session, f"{city.url}/par", form, headers)).error_code == "invalid_client"
    assert x5c_of(city.provider.leaf)  # the helper the attestations above used


async def test_wallet_refuses_a_mixed_up_or_forged_authorization_response(city, session):
    attestation = city.wallet_attestation()
    pending = await _start(city, session, attestation=attestation)
    callback = await _authorize(session, pending)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    jwks = [Key.generate("P-256").public_jwk()]
    for forged in ({**query, "iss": "https://other-as.example"}, {**query, "state": "other"},
                   {k: v for k, v in query.items() if k != "iss"}):
        url = f"{REDIRECT_URI}?{urlencode(forged)}"
        with pytest.raises(ProtocolError) as info:
            next(finish_authorization(pending, url, jwks=jwks, now=clock, client_attestation=attestation))
        assert info.value.code == "invalid_response"
    denied = f"{REDIRECT_URI}?{urlencode({'error': 'access_denied', 'state': pending.state, 'iss': city.url})}"
    with pytest.raises(ProtocolError) as info:
        next(finish_authorization(pending, denied, jwks=jwks, now=clock))
    assert info.value.code == "access_denied"


async def test_refresh_token_is_bound_to_the_dpop_key(city, session):
    issuance, _, attestation = await _through_token(city, session)
    stolen = PendingIssuance.from_state(
        {**issuance.to_state(), "dpop_key": Key.generate("P-256").private_jwk()}
    )
    with pytest.raises(ProtocolError) as info:
        await run_flow(refresh_issuance(stolen, now=clock, client_attestation=attestation), session)
    assert info.value.code == "invalid_dpop_proof"
    with pytest.raises(InvalidInputError):
        next(refresh_issuance(PendingIssuance.from_state({**issuance.to_state(), "refresh_token": None}), now=clock))


def test_attestation_pop_carries_exp_and_an_expired_one_is_refused():
    provider = make_hierarchy(now=NOW, name="wallet provider")
    instance = Key.generate("P-256")
    attestation = issue_wallet_attestation(provider.leaf_key, issuer="https://provider.example", client_id=CLIENT_ID,
                                           instance_jwk=instance.public_jwk(), now=NOW,
                                           x5c=(provider.leaf, provider.intermediate))
    pop = create_attestation_pop(instance, client_id=CLIENT_ID, audience="https://as.example", now=NOW)
    claims = json.loads(base64.urlsafe_b64decode(pop.split(".")[1] + "=="))
    assert claims["exp"] == claims["iat"] + 300  # servers on earlier drafts require exp
    trust = WalletAttestationTrust(trust_anchors=[provider.root])
    assert verify_client_attestation(attestation, pop, trust=trust, audience="https://as.example", now=NOW,
                                     client_id=CLIENT_ID).client_id == CLIENT_ID
    expired = sign_jws({**claims, "iat": int(NOW.timestamp()) - 30, "exp": int(NOW.timestamp()) - 120}, instance,
                       typ="oauth-client-attestation-pop+jwt", include_kid=False)
    with pytest.raises(ProtocolError) as info:
        verify_client_attestation(attestation, expired, trust=trust, audience="https://as.example", now=NOW,
                                  client_id=CLIENT_ID)
    assert info.value.code == "invalid_client" and "expired" in info.value.message
