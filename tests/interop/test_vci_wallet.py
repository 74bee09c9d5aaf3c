"""@openid4vc/openid4vci (npm, the library behind Credo; pinned in tools/package.json) as the
wallet against our CredentialIssuer served over HTTP on 127.0.0.1: the pre-authorized code flow
with a Transaction Code, and the authorization code flow with PAR, PKCE S256 and DPoP-bound tokens
with server nonces (HAIP 1.0 §4). Their client reads our metadata, offers, token, nonce and
credential answers with its own parsers; we check the credential it received is bound to its key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from tests._net import free_port
from tests.oid4vc._pki import make_hierarchy, x5c_of
from tests.oid4vc.conftest import CITY_DID, DISCLOSABLE, RESIDENT_CLAIMS, VCT
from vcsdk.credentials import StaticKeyResolver, issue_sd_jwt_vc, verify_credential
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CredentialConfiguration,
    CredentialIssuer,
    Deferred,
    InMemoryStateStore,
    TxCode,
    WalletAttestationTrust,
    issuer_routes,
)

from ._node import NODE_MODULES, PACKAGES, ROOT, ok, run_node
from .conftest import now

pytestmark = [pytest.mark.interop, pytest.mark.slow]  # a Node process per flow: ~20-40 s

CONFIG_ID = "ResidentIdentityCredential"
CLIENT_ID = "https://wallet.example/oid4vc-ts"
REDIRECT_URI = "https://wallet.example/callback"


class City:
    def __init__(self, issuer: CredentialIssuer, key: Key) -> None:
        self.issuer = issuer
        self.key = key
        self.sessions: list[Any] = []
        self.defer_first = False  # the first issue call answers Deferred (§9), later ones issue


@pytest.fixture
async def city(aiohttp_server, city_key) -> City:
    return await _serve_city(aiohttp_server, city_key, None)


@pytest.fixture
async def attested_city(aiohttp_server, city_key) -> tuple[City, Any]:
    provider = make_hierarchy(now=now(), name="wallet provider")
    trust = WalletAttestationTrust(trust_anchors=[provider.root])
    return await _serve_city(aiohttp_server, city_key, trust), provider


async def _serve_city(aiohttp_server, city_key, attestation: WalletAttestationTrust | None) -> City:
    port = free_port()
    holder: list[City] = []

    def issue(claims, holder_key):
        if holder[0].defer_first:
            holder[0].defer_first = False
            return Deferred(interval=1)
        return issue_sd_jwt_vc(claims, issuer=CITY_DID, signer=city_key, vct=VCT, disclosable=DISCLOSABLE,
                               holder_key=holder_key, now=now())

    issuer = CredentialIssuer(
        credential_issuer=f"http://127.0.0.1:{port}/issuer",
        configurations=[CredentialConfiguration(id=CONFIG_ID, vct=VCT, display_name="Resident")],
        issue=issue,
        store=InMemoryStateStore(),
        require_dpop=True,  # HAIP 1.0 §4.3: sender-constrained tokens
        dpop_nonces=True,
        wallet_attestation=attestation,  # HAIP 1.0 §4.3.1: client authentication by Wallet Attestation
    )
    found = City(issuer, city_key)
    holder.append(found)

    async def on_authorization(request: web.Request, session) -> web.StreamResponse:
        found.sessions.append(session)  # the resident signs in here (KYC, a login); always found
        raise web.HTTPFound(await issuer.authorization_server.authorize(session.id, RESIDENT_CLAIMS, now=now()))

    app = web.Application()
    app.add_routes(issuer_routes(issuer, clock=now, on_authorization=on_authorization))
    await aiohttp_server(app, host="127.0.0.1", port=port)
    return found


async def _check_credential(city: City, answer: dict[str, Any]) -> None:
    assert len(answer["credentials"]) == 1
    token = answer["credentials"][0]
    verified = await verify_credential(token, resolver=StaticKeyResolver({CITY_DID: [city.key]}), now=now())
    assert verified.claims["given_name"] == RESIDENT_CLAIMS["given_name"]
    # Bound to the key their wallet proved in the jwt key proof.
    assert verified.claims["cnf"]["jwk"] == answer["holder_jwk"]
    # HAIP: their access token was DPoP-bound (token_type DPoP) with the key they generated.
    assert answer["token_type"] == "DPoP"


def test_pinned_versions_are_installed() -> None:
    pinned = json.loads((ROOT / "tools" / "package.json").read_text())["dependencies"]
    for package in PACKAGES:
        if not (NODE_MODULES / package).is_dir():
            pytest.skip("run `make setup`")
        installed = json.loads((NODE_MODULES / package / "package.json").read_text())["version"]
        assert installed == pinned[package], package


@pytest.mark.parametrize("by_reference", [False, True], ids=["offer-by-value", "offer-by-reference"])
async def test_pre_authorized_code_with_tx_code_and_dpop(city, by_reference):
    offer, pin = await city.issuer.create_offer(CONFIG_ID, RESIDENT_CLAIMS, now=now(), tx_code=TxCode(length=6))
    uri = await city.issuer.publish_offer(offer, now=now()) if by_reference else offer.uri()
    answer = ok(await run_node("vci_wallet.mjs", {
        "offer": uri, "flow": "pre-authorized", "tx_code": pin, "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
    }))
    await _check_credential(city, answer)
    assert answer["authorization_server"] == city.issuer.credential_issuer


async def test_pre_authorized_code_with_a_wrong_tx_code_is_refused(city):
    offer, pin = await city.issuer.create_offer(CONFIG_ID, RESIDENT_CLAIMS, now=now(), tx_code=TxCode(length=6))
    wrong = "0" * 6 if pin != "0" * 6 else "1" * 6
    answer = await run_node("vci_wallet.mjs", {
        "offer": offer.uri(), "flow": "pre-authorized", "tx_code": wrong, "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
    })
    assert "error" in answer and "invalid_grant" in json.dumps(answer), answer


async def test_authorization_code_with_par_pkce_and_dpop(city):
    offer = city.issuer.authorization_offer([CONFIG_ID], issuer_state="kyc-case-7")
    uri = await city.issuer.publish_offer(offer, now=now())
    answer = ok(await run_node("vci_wallet.mjs", {
        "offer": uri, "flow": "authorization_code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
    }))
    await _check_credential(city, answer)
    # Their client used our PAR endpoint (the authorization URL carries only client_id and the
    # request_uri it returned) and PKCE S256; the session saw the offer's issuer_state.
    assert answer["pkce_method"] == "S256"
    assert "request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A" in answer["authorization_url"]
    assert [s.issuer_state for s in city.sessions] == ["kyc-case-7"]
    assert answer["refresh_token"]


async def test_authorization_code_with_their_wallet_attestation(attested_city):
    """HAIP 1.0 §4.3.1: the issuer requires client authentication by Wallet Attestation; their client
    sends an attestation signed with the provider's x5c chain and a PoP of the instance key at the
    PAR and token endpoints, and our issuer checks both against the provider's trust anchor."""
    city, provider = attested_city
    offer = city.issuer.authorization_offer([CONFIG_ID])
    uri = await city.issuer.publish_offer(offer, now=now())
    attestation = {"issuer": "https://provider.example", "x5c": x5c_of(provider.leaf, provider.intermediate),
                   "provider_jwk": provider.leaf_key.private_jwk()}
    answer = ok(await run_node("vci_wallet.mjs", {
        "offer": uri, "flow": "authorization_code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
        "attestation": attestation,
    }))
    await _check_credential(city, answer)
    # Without it, the same client is refused at PAR (invalid_client).
    refused = await run_node("vci_wallet.mjs", {
        "offer": await city.issuer.publish_offer(offer, now=now()), "flow": "authorization_code",
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
    })
    assert "invalid_client" in json.dumps(refused), refused
    # An attestation from a provider the issuer does not trust is refused the same way.
    stranger = make_hierarchy(now=now(), name="unknown provider")
    untrusted = await run_node("vci_wallet.mjs", {
        "offer": await city.issuer.publish_offer(offer, now=now()), "flow": "authorization_code",
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
        "attestation": {**attestation, "x5c": x5c_of(stranger.leaf, stranger.intermediate),
                        "provider_jwk": stranger.leaf_key.private_jwk()},
    })
    assert "invalid_client" in json.dumps(untrusted), untrusted


async def test_deferred_issuance_is_refused_by_their_parser(city):
    """§9: their client accepts our 202 with ``transaction_id`` and ``interval`` and polls our Deferred
    Credential Endpoint with the DPoP-bound token, which answers the credential with a
    ``notification_id`` (§9.3, §8.3: allowed with ``credentials``). @openid4vc/openid4vci 0.4.6
    inverts that rule (zDeferredCredentialResponse refuses notification_id *with* credentials), so
    its client cannot finish a deferred issuance from any issuer that sends one; this test pins
    that, and fails (telling us to update the conformance table) once a version accepts it."""
    city.defer_first = True
    offer = city.issuer.authorization_offer([CONFIG_ID])
    answer = ok(await run_node("vci_wallet.mjs", {
        "offer": await city.issuer.publish_offer(offer, now=now()), "flow": "authorization_code",
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
    }))
    deferred = answer["deferred"]
    assert deferred["transaction_id"] and deferred["interval"] == 1
    assert deferred["refused"]["status"] == 200, deferred
    assert any("notification_id" in issue for issue in deferred["refused"]["issues"]), deferred
    # Our answer was the credential, bound to their key, with a notification id.
    assert set(deferred["answer"]) == {"credentials", "notification_id"}
    await _check_credential(city, {**answer, "credentials": [deferred["answer"]["credentials"][0]["credential"]]})


async def test_refresh_reissues_to_their_wallet(city):
    """§13.5 re-issuance: their client redeems our rotating, DPoP-bound refresh token and receives a
    credential for a fresh key."""
    offer = city.issuer.authorization_offer([CONFIG_ID])
    answer = ok(await run_node("vci_wallet.mjs", {
        "offer": await city.issuer.publish_offer(offer, now=now()), "flow": "authorization_code",
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "refresh": True,
    }))
    await _check_credential(city, answer)
    again = answer["refreshed"]
    assert again["rotated"] is True and len(again["credentials"]) == 1
    assert again["holder_jwk"] != answer["holder_jwk"]
    await _check_credential(city, {**answer, "credentials": again["credentials"], "holder_jwk": again["holder_jwk"]})
