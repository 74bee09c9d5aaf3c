"""Shared scaffolding for the examples: a loopback web server, a small city, a resident's wallet.

Not part of the SDK. ``third_party_service.py`` imports it so that the service stays the readable
centre of that file; ``city_issuer.py`` shows the city's side in full.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from vcsdk import City
from vcsdk.credentials import (
    RESIDENT_IDENTITY_CREDENTIAL,
    StatusListIssuer,
    VctRegistry,
    disclosable_paths,
    issue_sd_jwt_vc,
    peek,
    present,
    resident_identity_claims,
)
from vcsdk.errors import VcsdkError
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CandidateCredential,
    ConsentScreen,
    build_authorization_response,
    build_consent,
    load_request_object,
    match_dcql,
    parse_authorization_request_uri,
    request_object_request,
    send,
)
from vcsdk.receipts import (
    AccessReceipt,
    ConsentRecord,
    Controller,
    presentation_hash,
    resident_pseudonym,
    sign_consent_record,
    verify_access_receipt_resolved,
)
from vcsdk.registry import Chain, EmbeddedChain
from vcsdk.status import StatusListStore, status_list_routes
from vcsdk.trust import StatusDigest, TrustRegistry

VCTS = VctRegistry("https://credentials.kaga.example")
STATUS_TTL = timedelta(minutes=5)


def free_port() -> int:
    """A free port on 127.0.0.1 (for servers whose handlers must know their own URL up front)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve(routes: list[web.RouteDef], port: int = 0) -> AsyncIterator[str]:
    """Serve ``routes`` on 127.0.0.1 (a free port unless given); yield the base URL."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def sample_resident(now: datetime) -> dict[str, Any]:
    """The claims of a made-up resident of Kaga (what the city's KYC would confirm)."""
    return resident_identity_claims(
        family_name="Kaga", given_name="Hanako", birthdate="1990-04-01", resident_since="2015-04-01",
        address={"postal_code": "922-8622", "region": "Ishikawa", "locality": "Kaga",
                 "street_address": "Daishojimachi 1-1"},
        verification={"level": "substantial", "method": "resident_registry",
                      "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
        as_of=now.date(),
    )


@dataclass
class CityIssuer:
    """A compact city: its network (a :class:`vcsdk.City`), its signing key, a status list over HTTP."""

    city: City
    chain: EmbeddedChain
    governance: Key
    did: str
    key: Key
    status_list: StatusListIssuer
    status_store: StatusListStore
    now: datetime

    @property
    def resolver(self) -> Resolver:
        return self.city.resolver

    @property
    def trust(self) -> TrustRegistry:
        return self.city.trust

    @property
    def network_config(self) -> dict[str, Any]:
        """What ``vcsdk deploy`` would write, for services to open the city with ``City.open``."""
        return self.city.config

    async def issue(self, claims: dict[str, Any], *, holder_key: Key) -> str:
        """Issue a ResidentIdentityCredential bound to ``holder_key`` (as OpenID4VCI would deliver it)."""
        return issue_sd_jwt_vc(
            claims, issuer=self.did, signer=self.key, vct=VCTS.resident_identity,
            disclosable=disclosable_paths(RESIDENT_IDENTITY_CREDENTIAL), holder_key=holder_key,
            status=self.status_list.allocate(), now=self.now, expires_at=self.now + timedelta(days=365),
        )

    async def publish_status(self) -> None:
        """Sign and serve the status list; anchor its digest on chain."""
        token = self.status_list.publish(self.key, now=self.now, ttl=STATUS_TTL, iss=self.did)
        self.status_store.publish("/status/1", token, max_age=int(STATUS_TTL.total_seconds()))
        digest = StatusDigest(self.status_list.uri, self.status_list.digest, self.status_list.version + 1)
        await self.trust.anchor_status_digests([digest], sender=self.governance)

    async def revoke(self, credential: str) -> None:
        self.status_list.revoke(peek(credential).unverified_claims["status"]["status_list"]["idx"])
        await self.publish_status()


async def start_city(stack: AsyncExitStack) -> CityIssuer:
    """Start a city on a fresh embedded chain, accredited for ResidentIdentityCredential."""
    chain = await stack.enter_async_context(Chain.embedded())
    governance = chain.dev_keys[0]
    city = await stack.enter_async_context(await City.deploy(chain, sender=governance))
    did, key = await city.publish_key(governance)
    now = await city.now()
    await city.trust.accredit(did, VCTS.resident_identity, valid_from=now - timedelta(days=1), sender=governance)
    store = StatusListStore()
    base = await stack.enter_async_context(serve(status_list_routes(store)))
    status_list = StatusListIssuer(f"{base}/status/1", size=1 << 16)
    return CityIssuer(city, chain, governance, did, key, status_list, store, now)


async def start_wallet(stack: AsyncExitStack, issuer: CityIssuer, claims: dict[str, Any]) -> Wallet:
    """A resident's phone holding a credential the city just issued (status list published)."""
    session = await stack.enter_async_context(aiohttp.ClientSession())
    # The city's wallet server signs the residents' consent records with the city's key.
    wallet = Wallet(session, issuer.resolver, Key.generate("P-256"), now=issuer.now, consent_signer=issuer.key)
    wallet.credential = await issuer.issue(claims, holder_key=wallet.device)
    await issuer.publish_status()
    return wallet


@dataclass
class Wallet:
    """The resident's phone: a device key, one credential, and a secret for per-service pseudonyms."""

    session: aiohttp.ClientSession
    resolver: Resolver
    device: Key
    now: datetime
    consent_signer: Key
    credential: str = ""
    secret: bytes = b""
    shown: list[tuple[ConsentScreen, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.secret = self.secret or secrets.token_bytes(32)

    async def answer(self, deep_link: str) -> tuple[ConsentScreen, dict[str, Any]]:
        """Fetch and verify the request, show the consent screen, present, and post the answer.

        :return: what the resident saw, and the service's JSON answer (``{"error": code}`` if it
            refused the presentation).
        """
        now = self.now
        ref = parse_authorization_request_uri(deep_link)
        jwt = (await send(self.session, request_object_request(ref))).body.decode()
        request = await load_request_object(jwt, resolver=self.resolver, expected_client_id=ref.client_id, now=now)
        unverified = peek(self.credential)
        candidate = CandidateCredential(ref="kyc", format="dc+sd-jwt", vct=unverified.unverified_vct,
                                        claims=unverified.unverified_claims)
        screen = build_consent(request, match_dcql(request.dcql_query, [candidate]))
        (chosen,) = screen.credentials  # the resident taps "share"
        vp = present(self.credential, disclose=chosen.claims, holder_signer=self.device,
                     audience=request.client_id, nonce=request.nonce, now=now)
        self.shown.append((screen, vp))
        try:
            response = await send(self.session, build_authorization_response(request, {chosen.query_id: vp}))
        except VcsdkError as exc:
            return screen, {"error": exc.code}
        return screen, response.json_object(what="response_uri answer")

    async def receipt(self, receipt_uri: str) -> AccessReceipt:
        """Send the signed consent record of the last presentation to ``receipt_uri``; verify the receipt."""
        consent = self.consent_for(*self.shown[-1], now=self.now)
        signed = sign_consent_record(consent, self.consent_signer)
        async with self.session.post(receipt_uri, json={"consent_record": signed}) as response:
            token = (await response.json())["access_receipt"]
        return await verify_access_receipt_resolved(token, consent=consent, resolver=self.resolver, now=self.now)

    def consent_for(self, screen: ConsentScreen, vp: str, *, now: datetime) -> ConsentRecord:
        """The consent record the wallet keeps (and sends to the service) for one presentation."""
        claims = tuple(".".join(str(p) for p in path) for path in screen.credentials[0].claims)
        return ConsentRecord(
            record_id=f"consent-{secrets.token_hex(8)}",
            resident_pseudonym=resident_pseudonym(self.secret, screen.service_did),
            controller=Controller(did=screen.service_did, name=screen.service_name or screen.service_did),
            purposes=(screen.purpose or "",),
            claims_requested=claims, claims_disclosed=claims, legal_basis="consent", given_at=now,
            expires_at=now + timedelta(days=30), state="given", withdrawn_at=None,
            presentation_hash=presentation_hash(vp),
        )
