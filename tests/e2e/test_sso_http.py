"""Single sign-on with the city wallet, end to end over real HTTP on 127.0.0.1 (see ``_parties.py``).

Two relying parties built with authlib's OAuth 2.0 client only (one authenticating with
``client_secret_basic``, one with ``private_key_jwt``) log the same resident in through the city's
OpenID Provider; the resident's phone answers the provider's OpenID4VP request through the wallet
server. Each relying party validates its ID token itself and sees exactly the claims its
registration and scopes allow, under its own ``sub``; every login leaves a consent record and an
access receipt in the resident's history, anchored like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from aiohttp import web
from authlib.integrations.base_client.errors import OAuthError
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from tests._net import free_port, serve
from tests.chain_fixtures import mine
from tests.e2e._parties import ACTIVE, world
from tests.e2e._sso import RelyingParty, browser, log_in, register_service, relying_party
from tests.e2e.test_oid4vc_http import accept_offer
from tests.wallet_server._helpers import ISSUER_TOKEN
from vcsdk._b64 import b64url_decode
from wallet_server.appkeys import RECEIPTS

# OpenID Connect Discovery 1.0 §3: REQUIRED provider metadata.
DISCOVERY_REQUIRED = (
    "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
    "subject_types_supported", "id_token_signing_alg_values_supported",
)


def backchannel_receiver() -> tuple[list[str], list[web.RouteDef]]:
    """A service's back-channel logout endpoint (``POST /backchannel``) and the logout tokens it received."""
    received: list[str] = []

    async def backchannel(request: web.Request) -> web.Response:
        received.append(str((await request.post())["logout_token"]))
        return web.Response(status=200)

    return received, [web.post("/backchannel", backchannel)]


async def test_two_services_log_the_same_resident_in_with_the_wallet(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        issued = await accept_offer(w, await w.issue_offer())
        vct = issued["credential"]["vct"]
        shop_reg = await register_service(w, w.service.did, "Kaga Onsen Shop",
                                          [["given_name"], ["age_equal_or_over", "20"], ["address", "locality"]], vct)
        other_did, _ = w.other_did_key
        library_reg = await register_service(w, other_did, "Kaga Library", [["age_equal_or_over", "20"]], vct)
        shop = await relying_party(w, registration_id=shop_reg, scope="openid profile age")
        library = await relying_party(w, registration_id=library_reg, scope="openid age", auth="private_key_jwt")

        # -- discovery: every required field, the issuer it is served under, the JWKS it names
        meta = shop.metadata
        assert all(meta.get(name) for name in DISCOVERY_REQUIRED)
        # authlib's own check of every Discovery 1.0 field (RS256 listed, as §3 requires)
        OpenIDProviderMetadata(meta).validate()
        assert meta["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
        assert meta["end_session_endpoint"] == f"{w.wallet_url}/sso/logout"
        assert meta["issuer"] == f"{w.wallet_url}/sso" and meta["subject_types_supported"] == ["pairwise"]
        assert meta["code_challenge_methods_supported"] == ["S256"] and "ES256" in meta[
            "id_token_signing_alg_values_supported"]
        async with httpx.AsyncClient() as http:
            jwks = (await http.get(meta["jwks_uri"])).json()
        key, rsa_key = jwks["keys"]
        assert key["kty"] == "EC" and key["crv"] == "P-256" and key["kid"].startswith(w.city.did + "#")
        assert (key["use"], key["alg"]) == ("sig", "ES256") and "d" not in key
        # the provider's RSA key: 3072 bits, named by its RFC 7638 thumbprint, public only
        assert (rsa_key["kty"], rsa_key["use"], rsa_key["alg"]) == ("RSA", "sig", "RS256")
        assert rsa_key["kid"] == RSAKey.import_key(rsa_key).thumbprint()
        assert len(b64url_decode(rsa_key["n"])) * 8 == 3072
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(rsa_key)

        # -- the shop: a login through the browser and the phone, the code with PKCE, client_secret_basic
        b = browser(w.wallet_url)
        async with b.session:
            callback = await log_in(w, shop, b)
            assert callback.startswith(shop.redirect_uri + "?")
            page = b.pages[-1]
            assert "<svg" in page and "Kaga Onsen Shop" in page  # the QR code (cross-device), the name
            token = await shop.fetch_token(callback)
            claims = await shop.id_claims(token["id_token"], now=int(w.clock().timestamp()))
            # exactly the registration ∩ the scopes: profile → given_name only, age → the 20+ flag
            personal = {k: v for k, v in claims.items() if k not in (
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid")}
            assert personal == {"given_name": ACTIVE.given_name, "age_equal_or_over": {"20": True}}
            assert claims["acr"] in ("low", "substantial", "high")
            info = await shop.userinfo()
            assert info == {"sub": claims["sub"], **personal}

            # -- the library: private_key_jwt, another sub for the same resident
            callback = await log_in(w, library, b)
            token_b = await library.fetch_token(callback)
            claims_b = await library.id_claims(token_b["id_token"], now=int(w.clock().timestamp()))
            assert claims_b["age_equal_or_over"] == {"20": True} and "given_name" not in claims_b
            assert claims_b["sub"] != claims["sub"] and claims_b["aud"] == library.client_id

            # -- RP-initiated logout: back to a registered URI with the state; the session's refresh ends
            logout = library.metadata["end_session_endpoint"] + "?" + urlencode({
                "id_token_hint": token_b["id_token"], "post_logout_redirect_uri": library.redirect_uri + "/bye",
                "state": "s1"})
            status, body, location = await b.get(logout)
            assert status == 302 and location == library.redirect_uri + "/bye?state=s1", (status, body)
            try:
                await library.refresh(token_b["refresh_token"])
                raise AssertionError("a refresh after logout was accepted")
            except OAuthError as exc:
                assert exc.error == "invalid_grant"
            status, body, location = await b.get(logout.replace("%2Fbye", "%2Fevil"))
            assert (status, location) == (400, None) and '"invalid_request"' in body

            # -- the same resident at the shop again: the same sub (pairwise, stable)
            again = await shop.fetch_token(await log_in(w, shop, b))
            assert (await shop.id_claims(again["id_token"], now=int(w.clock().timestamp())))["sub"] == claims["sub"]

        # -- every login is an access: consent records naming the service, receipts signed by the provider
        _, consents = await w.phone.call("GET", "/v1/consents")
        logins = [c for c in consents["items"] if c["service"]["did"] == w.city.did]
        assert len(logins) == 3
        _, receipts = await w.phone.call("GET", "/v1/receipts")
        login_receipts = [r for r in receipts["items"] if r["purpose"] == "login"]
        assert len(login_receipts) == 3
        assert sorted(login_receipts[0]["claims"]) in (
            sorted(["given_name", "age_equal_or_over.20", "verification.level"]),
            sorted(["age_equal_or_over.20", "verification.level"]),
        )
        report = await w.wallet[RECEIPTS].tick()
        assert report.batches_cut >= 1 and report.chain_error is None
        await mine(w.city.chain, 1)
        await w.wallet[RECEIPTS].tick()
        _status, one = await w.phone.call("GET", f"/v1/receipts/{login_receipts[0]['id']}")
        assert one["state"] == "final" and one["proof_verified"] is True


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_revoking_the_credential_ends_logins_and_refresh(tmp_path: Path, backend: str) -> None:
    async with world(tmp_path, backend) as w:
        issued = await accept_offer(w, await w.issue_offer())
        vct = issued["credential"]["vct"]
        reg = await register_service(w, w.service.did, "Kaga Onsen Shop", [["age_equal_or_over", "20"]], vct)
        shop = await relying_party(w, registration_id=reg, scope="openid age")
        b = browser(w.wallet_url)
        async with b.session:
            token = await shop.fetch_token(await log_in(w, shop, b))
            refreshed = await shop.refresh(token["refresh_token"])
            assert refreshed["access_token"] != token["access_token"]

            # the city revokes the resident's credential
            status, listing = await w.admin_get("/admin/v1/credentials", token=ISSUER_TOKEN)
            assert status == 200 and listing["items"], listing
            status, revoked = await w.admin(f"/admin/v1/credentials/{listing['items'][0]['id']}/revoke", {},
                                            token=ISSUER_TOKEN)
            assert status == 200, revoked

            # the refresh token stops working at once
            try:
                await shop.refresh(refreshed["refresh_token"])
                raise AssertionError("a refresh for a revoked credential was accepted")
            except OAuthError as exc:
                assert exc.error == "invalid_grant"

            # and a new login cannot be finished: the wallet no longer offers the credential
            _page, link = await b.start(shop.authorization_url())
            status, screen = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
            assert status == 201 and screen["satisfiable"] is False and screen["credentials"] == [], screen
            assert screen["purpose"] == "Log in to Kaga Onsen Shop"


def _error_of(location: str | None) -> tuple[str, str | None]:
    assert location is not None
    query = parse_qs(urlsplit(location).query)
    return query["error"][0], query.get("state", [None])[0]


async def _token(rp: RelyingParty, secret: str, **form: str) -> tuple[int, dict[str, Any]]:
    """A token request as any client sends it (client_secret_basic), to see the provider's errors."""
    async with httpx.AsyncClient() as http:
        response = await http.post(rp.metadata["token_endpoint"], data=form, auth=(rp.client_id, secret))
    return response.status_code, response.json()


def _code_of(callback: str) -> str:
    return parse_qs(urlsplit(callback).query)["code"][0]


async def test_bad_input_gets_oauth_errors(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        issued = await accept_offer(w, await w.issue_offer())
        vct = issued["credential"]["vct"]
        reg = await register_service(w, w.service.did, "Kaga Onsen Shop", [["age_equal_or_over", "20"]], vct)
        shop = await relying_party(w, registration_id=reg, scope="openid age")
        secret = shop.client.client_secret
        b = browser(w.wallet_url)
        async with b.session:
            # -- unknown client: an error page at the provider, never a redirect
            url = shop.authorization_url().replace(shop.client_id, "rp-no-such-client")
            status, body, location = await b.get(url)
            assert (status, location) == (400, None) and '"invalid_client"' in body

            # -- a redirect_uri the client did not register: never redirected to
            url = shop.authorization_url(redirect_uri="http://127.0.0.1:9/elsewhere")
            status, body, location = await b.get(url)
            assert (status, location) == (400, None) and '"invalid_request"' in body

            # -- a scope beyond the registration (profile: the shop may only learn the age flag)
            status, body, location = await b.get(shop.authorization_url(scope="openid age profile"))
            assert status == 302 and _error_of(location) == ("invalid_scope", shop.state)
            # ... and a request that is not OpenID Connect at all
            status, body, location = await b.get(shop.authorization_url(scope="age"))
            assert status == 302 and _error_of(location) == ("invalid_scope", shop.state)

            # -- PKCE is required, with S256
            url = shop.authorization_url()
            no_pkce = url.replace("code_challenge=", "code_chall=").replace("code_challenge_method=S256", "")
            status, body, location = await b.get(no_pkce)
            assert status == 302 and _error_of(location)[0] == "invalid_request"
            plain = url.replace("code_challenge_method=S256", "code_challenge_method=plain")
            status, body, location = await b.get(plain)
            assert status == 302 and _error_of(location)[0] == "invalid_request"

            # -- the token endpoint: a missing verifier, a wrong one, a code used twice, an unknown client
            callback = await log_in(w, shop, b)
            status, error = await _token(shop, secret, grant_type="authorization_code", code=_code_of(callback),
                                         redirect_uri=shop.redirect_uri)
            assert (status, error["error"]) == (400, "invalid_request")
            callback = await log_in(w, shop, b)
            status, error = await _token(shop, secret, grant_type="authorization_code", code=_code_of(callback),
                                         redirect_uri=shop.redirect_uri, code_verifier=shop.verifier[::-1])
            assert (status, error["error"]) == (400, "invalid_grant")
            callback = await log_in(w, shop, b)
            form = {"grant_type": "authorization_code", "code": _code_of(callback), "redirect_uri": shop.redirect_uri,
                    "code_verifier": shop.verifier}
            async with httpx.AsyncClient() as http:
                response = await http.post(shop.metadata["token_endpoint"], data=form, auth=("rp-no-such", "x" * 40))
            assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
            status, wrong_secret = await _token(shop, "y" * 43, **form)
            assert (status, wrong_secret["error"]) == (401, "invalid_client")
            status, tokens = await _token(shop, secret, **form)
            assert status == 200 and tokens["id_token"], tokens
            status, again = await _token(shop, secret, **form)
            assert (status, again["error"]) == (400, "invalid_grant")
            # RFC 6749 §4.1.2: the replay revokes what the code gave
            status, refreshed = await _token(shop, secret, grant_type="refresh_token",
                                             refresh_token=tokens["refresh_token"])
            assert (status, refreshed["error"]) == (400, "invalid_grant")
            async with httpx.AsyncClient() as http:
                response = await http.get(shop.metadata["userinfo_endpoint"],
                                          headers={"Authorization": f"Bearer {tokens['access_token']}"})
            assert response.status_code == 401
            # a redirect_uri at the token endpoint other than the one the code was issued for
            callback = await log_in(w, shop, b)
            status, error = await _token(shop, secret, grant_type="authorization_code", code=_code_of(callback),
                                         redirect_uri=shop.redirect_uri + "/other", code_verifier=shop.verifier)
            assert (status, error["error"]) == (400, "invalid_grant")
            # UserInfo without a valid access token
            async with httpx.AsyncClient() as http:
                response = await http.get(shop.metadata["userinfo_endpoint"], headers={"Authorization": "Bearer nope"})
            assert response.status_code == 401 and response.json()["error"] == "invalid_token"

            # -- a presentation of a credential revoked between the consent screen and the signature:
            # the provider refuses it (its own check of the city's records and the status list), the
            # login fails and the service is told so at its redirect_uri
            page, link = await b.start(shop.authorization_url())
            status, screen = await w.phone.call("POST", "/v1/presentations", {"request_uri": link})
            assert status == 201 and screen["satisfiable"] is True, screen
            status, consent = await w.phone.call("POST", f"/v1/presentations/{screen['id']}/consent", {})
            assert status == 200, consent
            status, listing = await w.admin_get("/admin/v1/credentials", token=ISSUER_TOKEN)
            for item in listing["items"]:
                status, revoked = await w.admin(f"/admin/v1/credentials/{item['id']}/revoke", {}, token=ISSUER_TOKEN)
                assert status == 200, revoked
            signatures = [{"query_id": s["query_id"], "signature": w.phone.signature(s["signing_input"])}
                          for s in consent["signing_inputs"]]
            status, done = await w.phone.call("POST", f"/v1/presentations/{screen['id']}/signature",
                                              {"signatures": signatures})
            assert done.get("state") != "shared", done
            status, body, location = await b.get(page)
            assert status == 302 and _error_of(location) == ("access_denied", shop.state)
            assert "credential_revoked" in parse_qs(urlsplit(location or "").query)["error_description"][0]

            # -- an expired login request: the page sends the browser back with an error
            page, link = await b.start(shop.authorization_url())
            w.clock.advance(minutes=6)
            status, body, location = await b.get(page)
            assert status == 302 and _error_of(location) == ("access_denied", shop.state)
            assert "expired" in parse_qs(urlsplit(location or "").query)["error_description"][0]
            # ... and the page is gone (the login was finished with that error)
            status, body, location = await b.get(page)
            assert status == 400 and '"invalid_request"' in body


async def test_back_channel_logout_tells_the_service(tmp_path: Path) -> None:
    """OpenID Connect Back-Channel Logout 1.0: after an RP-initiated logout the provider posts a Logout
    Token to the service's registered URI; the service verifies it as it verifies ID tokens."""
    received, routes = backchannel_receiver()
    async with world(tmp_path) as w, serve(routes, port=free_port()) as rp_url:
        issued = await accept_offer(w, await w.issue_offer())
        reg = await register_service(w, w.service.did, "Kaga Onsen Shop", [["age_equal_or_over", "20"]],
                                     issued["credential"]["vct"])
        shop = await relying_party(w, registration_id=reg, scope="openid age",
                                   backchannel_logout_uri=f"{rp_url}/backchannel")
        b = browser(w.wallet_url)
        async with b.session:
            token = await shop.fetch_token(await log_in(w, shop, b))
            id_claims = await shop.id_claims(token["id_token"], now=int(w.clock().timestamp()))
            status, body, _ = await b.get(
                shop.metadata["end_session_endpoint"] + "?" + urlencode({"id_token_hint": token["id_token"]}))
            assert status == 200, body
        (logout_token,) = received
        async with httpx.AsyncClient() as http:
            jwks = (await http.get(shop.metadata["jwks_uri"])).json()
        decoded = jwt.decode(logout_token, KeySet.import_key_set(jwks), algorithms=["ES256"])
        claims = decoded.claims
        assert decoded.header["typ"] == "logout+jwt" and "nonce" not in claims
        assert claims["iss"] == shop.metadata["issuer"] and claims["aud"] == shop.client_id
        assert claims["sub"] == id_claims["sub"] and claims["sid"] == id_claims["sid"]
        assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}


async def test_a_client_registered_for_rs256_gets_rs256_id_and_logout_tokens(tmp_path: Path) -> None:
    """A client registered with ``id_token_signed_response_alg: RS256`` validates its ID token (authlib's
    ``CodeIDToken``) with the provider's RSA key from the JWKS; the city's ES256 stays the default;
    RP-initiated logout takes the RS256 ID token as its hint and the logout token is RS256 too."""
    received, routes = backchannel_receiver()
    async with world(tmp_path) as w, serve(routes, port=free_port()) as rp_url:
        issued = await accept_offer(w, await w.issue_offer())
        reg = await register_service(w, w.service.did, "Kaga Onsen Shop", [["age_equal_or_over", "20"]],
                                     issued["credential"]["vct"])
        # only ES256 and RS256: anything else is refused, typed, and nothing is registered
        for alg in ("HS256", "none", "PS256", "RS384", "EdDSA", 256):
            status, refused = await w.admin("/admin/v1/sso/clients", {
                "registration_id": reg, "redirect_uris": ["http://127.0.0.1:9/cb"],
                "id_token_signed_response_alg": alg})
            assert status == 400 and refused["code"] in ("invalid_input", "unsupported_id_token_alg"), refused
        shop = await relying_party(w, registration_id=reg, scope="openid age", id_token_signed_response_alg="RS256",
                                   backchannel_logout_uri=f"{rp_url}/backchannel")
        library = await relying_party(w, registration_id=reg, scope="openid age", auth="private_key_jwt")
        assert (shop.alg, library.alg) == ("RS256", "ES256")  # ES256 is the default
        async with httpx.AsyncClient() as http:
            jwks = (await http.get(shop.metadata["jwks_uri"])).json()
        rsa_kid = next(k["kid"] for k in jwks["keys"] if k["kty"] == "RSA")
        b = browser(w.wallet_url)
        async with b.session:
            token = await shop.fetch_token(await log_in(w, shop, b))
            header = jwt.decode(token["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"]).header
            assert header == {"alg": "RS256", "typ": "JWT", "kid": rsa_kid}
            claims = await shop.id_claims(token["id_token"], now=int(w.clock().timestamp()))  # at_hash checked
            assert claims["aud"] == shop.client_id and claims["age_equal_or_over"] == {"20": True}
            # an RP that accepts only ES256 refuses it: it is not the city's ES256 signature
            with pytest.raises(JoseError):
                jwt.decode(token["id_token"], KeySet.import_key_set(jwks), algorithms=["ES256"])
            # the ES256 client of the same service still gets ES256 (the city's DID key)
            token_b = await library.fetch_token(await log_in(w, library, b))
            assert jwt.decode(token_b["id_token"], KeySet.import_key_set(jwks), algorithms=["ES256"]).header[
                "kid"].startswith(w.city.did + "#")
            await library.id_claims(token_b["id_token"], now=int(w.clock().timestamp()))
            # a tampered RS256 hint is not the provider's
            forged = token["id_token"][:-4] + ("AAAA" if not token["id_token"].endswith("AAAA") else "BBBB")
            status, body, _ = await b.get(
                shop.metadata["end_session_endpoint"] + "?" + urlencode({"id_token_hint": forged}))
            assert status == 400 and '"invalid_request"' in body and not received
            status, body, _ = await b.get(
                shop.metadata["end_session_endpoint"] + "?" + urlencode({"id_token_hint": token["id_token"]}))
            assert status == 200, body
            try:
                await shop.refresh(token["refresh_token"])
                raise AssertionError("a refresh after logout was accepted")
            except OAuthError as exc:
                assert exc.error == "invalid_grant"
        (logout_token,) = received
        decoded = jwt.decode(logout_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
        assert decoded.header == {"alg": "RS256", "typ": "logout+jwt", "kid": rsa_kid}
        assert decoded.claims["sid"] == claims["sid"] and decoded.claims["aud"] == shop.client_id

