"""Shared scaffolding for the examples: a loopback web server, a small city, a resident's wallet.

Not part of the SDK. ``third_party_service.py`` imports it so that the service stays the readable
centre of that file; ``city_issuer.py`` shows the city's side in full.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

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
from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.ethr import EthrRegistry, Resolver
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
from vcsdk.receipts import ConsentRecord, Controller, presentation_hash, resident_pseudonym
from vcsdk.registry import Chain, EmbeddedChain, key_address
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


async def did_with_p256_key(chain: Chain, ethr: EthrRegistry, resolver: Resolver, owner: Key) -> tuple[str, Key]:
    """Publish a fresh P-256 key (a Multikey ``veriKey``) on ``owner``'s did:ethr.

    :return: the DID and the private key, with ``kid`` set to the DID URL the document gives it.
    """
    signing = Key.generate("P-256")
    await ethr.set_attribute(key_address(owner), *key_attribute(signing), sender=owner)
    did = f"did:ethr:{hex(int(chain.chain_id))}:{key_address(owner)}"
    published = await resolver.resolve_key(did, None)
    return did, signing.with_kid(published.kid)


@dataclass
class City:
    """A compact city: embedded chain, DID registry, trust registry, a status list served over HTTP."""

    chain: EmbeddedChain
    governance: Key
    ethr: EthrRegistry
    resolver: Resolver
    trust: TrustRegistry
    did: str
    key: Key
    status_list: StatusListIssuer
    status_store: StatusListStore
    now: datetime

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


async def start_city(stack: AsyncExitStack) -> City:
    """Start a city on a fresh embedded chain, accredited for ResidentIdentityCredential."""
    chain = await stack.enter_async_context(Chain.embedded())
    governance = chain.dev_keys[0]
    registry = await chain.deploy("EthereumDIDRegistry", sender=governance)
    network = EthrNetwork(chain_id=int(chain.chain_id), registry=registry, chain=chain)
    ethr = await EthrRegistry.bind(chain, network)
    resolver = Resolver([network], cache_ttl=timedelta(0))
    stack.push_async_callback(resolver.close)
    trust = await TrustRegistry.deploy(chain, sender=governance)
    did, key = await did_with_p256_key(chain, ethr, resolver, governance)
    now = datetime.fromtimestamp((await chain.get_block("latest")).timestamp, UTC)
    await trust.accredit(did, VCTS.resident_identity, valid_from=now - timedelta(days=1), sender=governance)
    store = StatusListStore()
    base = await stack.enter_async_context(serve(status_list_routes(store)))
    status_list = StatusListIssuer(f"{base}/status/1", size=1 << 16)
    return City(chain, governance, ethr, resolver, trust, did, key, status_list, store, now)


@dataclass
class Wallet:
    """The resident's phone: a device key, one credential, and a secret for per-service pseudonyms."""

    session: aiohttp.ClientSession
    resolver: Resolver
    device: Key
    credential: str = ""
    secret: bytes = b""

    def __post_init__(self) -> None:
        self.secret = self.secret or secrets.token_bytes(32)

    async def answer(self, deep_link: str, *, now: datetime) -> tuple[ConsentScreen, str, dict[str, Any]]:
        """Fetch and verify the request, show the consent screen, present, and post the answer.

        :return: what the resident saw, the presentation sent, and the service's JSON answer.
        """
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
        response = await send(self.session, build_authorization_response(request, {chosen.query_id: vp}))
        return screen, vp, response.json_object(what="response_uri answer")

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
