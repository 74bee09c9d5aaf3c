"""Relying parties of the city's OpenID Provider for the end-to-end tests: each is authlib's OAuth 2.0
client (``requests``, run in a thread: the provider shares the test's event loop) and nothing of
vcsdk; it validates ID tokens itself with the provider's JWKS (joserfc, authlib's ``CodeIDToken``).

The browser is an aiohttp session that keeps the provider's cookie and stops at the relying party's
``redirect_uri`` (nothing needs to listen there: the test hands the URL to the client).
"""

from __future__ import annotations

import asyncio
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from tests.e2e._parties import World
from tests.e2e.test_oid4vc_http import answer


@dataclass
class RelyingParty:
    """One service's OpenID Connect client, with what it needs to check an ID token."""

    client: OAuth2Session
    client_id: str
    metadata: dict[str, Any]
    redirect_uri: str
    alg: str = "ES256"  # the client's id_token_signed_response_alg: the only one it accepts
    verifier: str = ""
    nonce: str = ""
    state: str = ""

    def authorization_url(self, *, scope: str | None = None, **extra: Any) -> str:
        self.verifier, self.nonce = generate_token(48), generate_token(20)
        url, self.state = self.client.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce,
            **({"scope": scope} if scope else {}), **extra,
        )
        return str(url)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A call of the (blocking) client, off the event loop the provider runs on."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def fetch_token(self, callback: str, **extra: Any) -> dict[str, Any]:
        extra.setdefault("code_verifier", self.verifier)
        token = await self.call(
            self.client.fetch_token, self.metadata["token_endpoint"], authorization_response=callback,
            state=self.state, **extra,
        )
        return dict(token)

    async def userinfo(self) -> Any:
        response = await self.call(self.client.get, self.metadata["userinfo_endpoint"])
        return response.json()

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        token = await self.call(self.client.refresh_token, self.metadata["token_endpoint"],
                                refresh_token=refresh_token)
        return dict(token)

    async def id_claims(self, id_token: str, *, now: int) -> dict[str, Any]:
        """The RP's own checks: signature with the provider's JWKS, iss, aud, nonce, exp, iat."""
        async with httpx.AsyncClient() as http:
            jwks = (await http.get(self.metadata["jwks_uri"])).json()
        decoded = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=[self.alg])
        assert decoded.header["alg"] == self.alg
        claims = CodeIDToken(
            decoded.claims, decoded.header,
            options={"iss": {"essential": True, "value": self.metadata["issuer"]}},
            params={"nonce": self.nonce, "client_id": self.client_id},
        )
        claims.validate(now=now)
        return dict(claims)


async def relying_party(
    w: World, *, registration_id: str, scope: str, auth: str = "client_secret_basic", redirect_uri: str | None = None,
    **settings: Any,
) -> RelyingParty:
    """Register the service as an OpenID Connect client with the city and build its authlib client."""
    redirect_uri = redirect_uri or f"http://127.0.0.1:9/cb/{secrets.token_hex(4)}"
    body: dict[str, Any] = {
        "registration_id": registration_id, "redirect_uris": [redirect_uri], "token_endpoint_auth_method": auth,
        "post_logout_redirect_uris": [redirect_uri + "/bye"], **settings,
    }
    key = ECKey.generate_key("P-256")
    if auth == "private_key_jwt":
        body["jwks"] = {"keys": [key.as_dict(private=False)]}
    status, registered = await w.admin("/admin/v1/sso/clients", body)
    assert status == 201, registered
    async with httpx.AsyncClient() as http:
        metadata = (await http.get(registered["issuer"] + "/.well-known/openid-configuration")).json()
    if auth == "private_key_jwt":
        client = OAuth2Session(
            registered["client_id"], key, scope=scope, redirect_uri=redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method="private_key_jwt",
        )
        client.register_client_auth_method(PrivateKeyJWT(metadata["token_endpoint"], alg="ES256"))
    else:
        client = OAuth2Session(
            registered["client_id"], registered["client_secret"], scope=scope, redirect_uri=redirect_uri,
            code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic",
        )
    alg = registered["id_token_signed_response_alg"]
    assert alg == settings.get("id_token_signed_response_alg", "ES256")
    return RelyingParty(client, registered["client_id"], metadata, redirect_uri, alg)


async def register_service(w: World, did: str, name: str, paths: list[list[str]], vct: str) -> str:
    """The city registers a service for these claims (``/admin/v1/services``); returns its id."""
    base = "https://rp.example/" + secrets.token_hex(3)
    status, registered = await w.admin("/admin/v1/services", {
        "service_did": did, "name": name, "purposes": [{"id": "account", "description": "Your account"}],
        "claim_sets": [{"id": f"c{i}", "vct": vct, "paths": [p]} for i, p in enumerate(paths)],
        "retention_days": 30, "receipt_endpoint": base + "/withdrawals", "privacy_policy": base + "/privacy",
    })
    assert status == 201, registered
    return str(registered["id"])


@dataclass
class Browser:
    """The resident's browser: keeps the provider's login cookie, stops at redirects."""

    session: aiohttp.ClientSession
    base: str
    pages: list[str] = field(default_factory=list)

    async def get(self, url: str) -> tuple[int, str, str | None]:
        url = url if url.startswith("http") else self.base + url
        async with self.session.get(url, allow_redirects=False) as resp:
            return resp.status, await resp.text(), resp.headers.get("Location")

    async def start(self, url: str) -> tuple[str, str]:
        """Follow the authentication request to the login page; returns its path and same-device link."""
        status, body, location = await self.get(url)
        assert status == 303 and location is not None, (status, body)
        status, page, _ = await self.get(location)
        assert status == 200, page
        self.pages.append(page)
        found = re.search(r"id='same-device' href='([^']+)'", page)
        assert found is not None, page
        return location, html.unescape(found.group(1))


def browser(base: str) -> Browser:
    # unsafe=True: keep cookies of an IP address host (127.0.0.1)
    return Browser(aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)), base)


async def log_in(w: World, rp: RelyingParty, b: Browser, **extra: Any) -> str:
    """A whole login up to the callback URL: the browser starts it, the phone answers through the wallet
    server, the browser comes back and is sent to the relying party."""
    page, link = await b.start(rp.authorization_url(**extra))
    done = await answer(w, link)
    assert done["done"]["state"] == "shared", done
    status, body, location = await b.get(page)
    assert status == 302 and location is not None, (status, body)
    return location
