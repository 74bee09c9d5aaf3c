"""The story's single sign-on: a library logs the resident in with the city's OpenID Provider, where the
login is the wallet presenting the resident credential (``vcsdk.sso``).

The provider's OpenID4VP endpoints are served over HTTP for the wallet; the OAuth steps (authorize,
the browser's return, the token request) are called directly, as the wallet server's routes do.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vcsdk.credentials import StatusListIssuer
from vcsdk.errors import CredentialRevokedError
from vcsdk.keys import Key, verify_jws
from vcsdk.oid4vc import InMemoryStateStore, PresentationResult, PresentedCredential, verifier_routes
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration, issue_registration
from vcsdk.sso import LoginSubject, OAuthResponse, OpenIDProvider, SsoClient, login_registration, secret_hash

__all__ = ["SsoContext", "run_sso_login"]

LIBRARY_NAME = "Kaga City Library"


@dataclass
class SsoContext:
    """What the story lends the login: the city, its resident's credential, the wallet, HTTP."""

    city_did: str
    city_key: Key
    library_did: str
    vct: str
    credential: str
    status_list: StatusListIssuer
    verify: Callable[..., Awaitable[Any]]
    resolver: Any
    serve: Callable[..., Any]
    free_port: Callable[[], int]
    wallet_answers: Callable[[str], Awaitable[tuple[Any, str, str | None]]]
    expected: dict[str, Any]


class _Clients:
    def __init__(self) -> None:
        self.clients: dict[str, SsoClient] = {}

    async def get_client(self, client_id: str) -> SsoClient | None:
        return self.clients.get(client_id)


class _Subjects:
    """The city's records in the story: its one resident, the credential's status list entry."""

    def __init__(self, status_list: StatusListIssuer) -> None:
        self.status_list = status_list

    async def subject(self, credential: PresentedCredential) -> LoginSubject:
        entry = credential.verified.status["status_list"]
        await self.check(str(entry["idx"]))
        return LoginSubject(local_id="resident-1", credential=str(entry["idx"]))

    async def check(self, credential: str) -> None:
        if self.status_list.status(int(credential)) != "valid":
            raise CredentialRevokedError("the resident credential was revoked")


async def run_sso_login(ctx: SsoContext, stack: Any, *, now: datetime, check: Callable[..., None],
                        say: Callable[[str], None]) -> dict[str, Any]:
    """One login at the library: the wallet presents, the library gets an ID token with a pairwise
    ``sub`` and exactly its registered claims. :return: what the library learned."""
    port = ctx.free_port()
    clients = _Clients()
    provider = OpenIDProvider(
        issuer=f"http://127.0.0.1:{port}/sso", signer=ctx.city_key, did=ctx.city_did, wallet_did=ctx.city_did,
        vct=ctx.vct, clients=clients, subjects=_Subjects(ctx.status_list), store=InMemoryStateStore(),
        verify=ctx.verify, resolver=ctx.resolver, subject_secret=secrets.token_bytes(32),
    )

    async def on_result(result: PresentationResult) -> dict[str, Any]:
        return await provider.presentation_verified(result, now=now)

    await stack.enter_async_context(ctx.serve(verifier_routes(provider.verifier, clock=lambda: now,
                                                              on_result=on_result), port))

    # The city registers the library (what it may learn) and its OpenID Connect client.
    library = RelyingPartyRegistration(
        issuer=ctx.city_did, service_did=ctx.library_did, registration_id=f"reg-{secrets.token_hex(4)}",
        name=LIBRARY_NAME, purposes=(Purpose("card", "Your library card"),),
        claim_sets=(ClaimSet("name", ctx.vct, (("given_name",),)),
                    ClaimSet("locality", ctx.vct, (("address", "locality"),))),
        retention_days=365, receipt_endpoint="https://library.example/withdrawals",
        privacy_policy="https://library.example/privacy", jurisdiction="JP-17",
        issued_at=now - timedelta(days=1), expires_at=now + timedelta(days=365),
    )
    secret = secrets.token_urlsafe(32)
    redirect_uri = "https://library.example/callback"
    client = SsoClient(
        client_id="library-portal", registration=issue_registration(ctx.city_key, library),
        login_registration=login_registration(ctx.city_key, library, provider_did=ctx.city_did, vct=ctx.vct,
                                              receipt_endpoint=provider.endpoint("withdrawals"), now=now),
        redirect_uris=(redirect_uri,), token_endpoint_auth_method="client_secret_basic",  # noqa: S106
        client_secret_hash=secret_hash(secret),
    )
    clients.clients[client.client_id] = client

    # The library's OpenID Connect client sends the browser to the provider (code flow, PKCE S256).
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    nonce = secrets.token_urlsafe(16)
    started = await provider.authorize({
        "response_type": "code", "client_id": client.client_id, "redirect_uri": redirect_uri,
        "scope": "openid profile address", "state": "st-1", "nonce": nonce,
        "code_challenge": challenge.decode(), "code_challenge_method": "S256",
    }, now=now)
    if isinstance(started, OAuthResponse):
        check("sso_login", False, f"the provider refused the login request: {started.body}")
        return {}
    say(f"the login page shows a QR code for the wallet: {started.request.deep_link[:60]}…")
    _, _, error = await ctx.wallet_answers(started.request.deep_link)
    back = await provider.finish(started.login_id, started.browser_secret, now=now)
    code = parse_qs(urlsplit(back.location or "").query).get("code", [""])[0]
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    token = await provider.token(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier},
        {"Authorization": f"Basic {basic}"}, now=now)
    id_token = str((token.body or {}).get("id_token", ""))
    # The library checks the ID token with the provider's JWKS key (the city's ES256 key, the default).
    jwk = next(k for k in provider.jwks()["keys"] if k["alg"] == "ES256")
    claims = verify_jws(id_token, Key.from_jwk({k: v for k, v in jwk.items() if k not in ("use", "alg")}),
                        typ="JWT").claims() if id_token else {}
    ok = (error is None and token.status == 200 and claims.get("aud") == client.client_id
          and claims.get("nonce") == nonce and claims.get("iss") == provider.issuer)
    learned = {k: v for k, v in claims.items() if k in ("given_name", "address", "family_name", "birthdate")}
    check("sso_login", ok and learned == ctx.expected,
          f"the library's OpenID Connect client logged the resident in: sub {str(claims.get('sub'))[:8]}… "
          f"(pairwise), and learned exactly {sorted(learned)}", claims=sorted(learned))
    return learned
