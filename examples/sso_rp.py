"""Log in with the city wallet: a service's usual OpenID Connect client (authlib) and the city's
OpenID Provider, where logging in is presenting the resident credential from the wallet.

`ShopLogin` is all the service writes: discovery, the authorization code flow with PKCE, and its
own checks of the ID token (signature with the provider's JWKS, iss, aud, nonce, exp). The rest of
the file plays the other parties so that it runs alone: the city (the wallet server on an embedded
chain, with the local resident registry), the resident's phone, and the resident's browser.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import re
import socket
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
from aiohttp import web
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from vcsdk.credentials import VctRegistry
from vcsdk.kyc import SEED_RESIDENTS, LocalResidentRegistry
from wallet_server import create_app, load_settings
from wallet_server.client import AdminClient, WalletClient

# -- the service: log in with the city wallet, with authlib's OAuth 2.0 client ----------------------


class ShopLogin:
    def __init__(self, issuer: str, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        self.client = OAuth2Session(client_id, client_secret, scope="openid profile age", redirect_uri=redirect_uri,
                                    code_challenge_method="S256")

    def start(self) -> str:
        """Where to send the resident's browser."""
        self.verifier, self.nonce = generate_token(48), generate_token(20)
        url, self.state = self.client.create_authorization_url(
            self.meta["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce)
        return str(url)

    def finish(self, callback_url: str) -> dict[str, Any]:
        """The browser came back to the redirect_uri: the code for tokens, and the ID token checked."""
        token = self.client.fetch_token(self.meta["token_endpoint"], authorization_response=callback_url,
                                        code_verifier=self.verifier, state=self.state)
        keys = KeySet.import_key_set(requests.get(self.meta["jwks_uri"], timeout=10).json())
        decoded = jwt.decode(token["id_token"], keys, algorithms=["ES256"])
        claims = CodeIDToken(decoded.claims, decoded.header,
                             options={"iss": {"essential": True, "value": self.meta["issuer"]}},
                             params={"nonce": self.nonce, "client_id": self.client.client_id})
        claims.validate()  # iss, aud, exp, iat, nonce, at_hash
        return dict(claims)


# -- the other parties ---------------------------------------------------------------------------------


async def city(folder: Path) -> tuple[web.AppRunner, str, str, LocalResidentRegistry]:
    """The city's wallet server (issuer, wallet backend and OpenID Provider) on 127.0.0.1."""
    registry = LocalResidentRegistry()
    await registry.start()
    keys = folder / "keys.json"
    settings = load_settings(argparse.Namespace(database_url=f"sqlite:///{folder / 'wallet.db'}", keys_file=keys), {})
    runner = web.AppRunner(create_app(replace(settings, kyc_registry_url=registry.url, allow_loopback_http=True,
                                              status_list_size=1024, log_level="WARNING")), access_log=None)
    await runner.setup()
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}", json.loads(keys.read_text())["dev_admin_token"], registry


async def register_shop(admin: AdminClient, redirect_uri: str) -> dict[str, Any]:
    """The city registers the shop (what it may learn), then its OpenID Connect settings."""
    vct = VctRegistry().resident_identity  # the type of the city's resident credential
    service = await admin.call("POST", "/admin/v1/services", {
        "service_did": "did:web:shop.example", "name": "Kaga Onsen Shop",
        "purposes": [{"id": "account", "description": "Your customer account"}],
        "claim_sets": [{"id": "name", "vct": vct, "paths": [["given_name"]]},
                       {"id": "age", "vct": vct, "paths": [["age_equal_or_over", "20"]]}],
        "retention_days": 30, "receipt_endpoint": "https://shop.example/withdrawals",
        "privacy_policy": "https://shop.example/privacy",
    })
    return dict(await admin.call("POST", "/admin/v1/sso/clients", {
        "registration_id": service["id"], "redirect_uris": [redirect_uri],
    }))


async def resident_phone(admin: AdminClient, base: str) -> WalletClient:
    """A resident enrols a phone and receives the city's credential after KYC."""
    phone = WalletClient(base)
    await phone.enrol(await admin.enrolment_code())
    record = next(e.record for e in SEED_RESIDENTS if e.status == "active")
    a = record.address
    issued = await admin.issue(phone.resident_id, family_name=record.family_name, given_name=record.given_name,
                               birthdate=record.birthdate.isoformat(),
                               address=f"{a.postal_code} {a.prefecture}{a.city}{a.street}")
    await phone.receive_offer(issued["tx_code"])
    return phone


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        runner, base, admin_token, registry = await city(Path(folder))
        async with AdminClient(base, admin_token) as admin:
            redirect_uri = "http://127.0.0.1:9/callback"  # the shop's; the browser stops before it
            client = await register_shop(admin, redirect_uri)
            phone = await resident_phone(admin, base)
            shop = await asyncio.to_thread(ShopLogin, client["issuer"], client["client_id"], client["client_secret"],
                                           redirect_uri)
            pkce = shop.meta["code_challenge_methods_supported"]
            print(f"provider: {shop.meta['issuer']} (pairwise subjects, {pkce})")

            # The browser: the shop sends it to the provider's login page (QR code and a same-device link).
            browser = requests.Session()
            login = await asyncio.to_thread(browser.get, shop.start(), timeout=10)
            found = re.search(r"id='same-device' href='([^']+)'", login.text)
            assert found is not None, login.text
            link = html.unescape(found.group(1))
            print(f"login page shows a QR code: {'<svg' in login.text}")
            # The phone answers the provider's OpenID4VP request like any service's request.
            shared = await phone.present(link)
            print(f"the wallet shared {shared['outcome']['claims']} with {shared['service']['name']}")
            back = await asyncio.to_thread(browser.get, login.url, allow_redirects=False, timeout=10)
            claims = await asyncio.to_thread(shop.finish, back.headers["Location"])
            print(f"the shop logged in sub {claims['sub'][:8]}…: given_name={claims['given_name']}, "
                  f"age 20+={claims['age_equal_or_over']['20']}")
            await phone.close()
        await runner.cleanup()
        await registry.stop()


if __name__ == "__main__":
    asyncio.run(main())
