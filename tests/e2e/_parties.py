"""The three parties of the end-to-end test, each a real aiohttp server or client on 127.0.0.1.

- the wallet server (``create_app``) as the city's issuer and the residents' wallet backend, on the
  embedded chain where the city sets itself up (DID registry, trusted-issuer registry, receipt
  registry), with the local SOAP resident registry for KYC;
- a third-party service built with the SDK: its own did:ethr with a P-256 key on the same chain, a
  ``Verifier`` behind ``verifier_routes`` checking signature, status (anchored digest) and
  accreditation, and a receipt endpoint signing access receipts with ``issue_access_receipt``;
- the phone: a device key that never leaves it, DPoP on every call, an aiohttp client session.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

import vcsdk
from tests._net import free_port, serve
from tests._service_endpoints import ReceiptDesk
from tests.wallet_server._helpers import ISSUER_TOKEN, OPERATOR_TOKEN, Clock
from tests.wallet_server.conftest import PG_DSN, make_settings
from vcsdk._b64 import b64url_encode
from vcsdk.did import key_attribute
from vcsdk.keys import Key, sign_jws
from vcsdk.kyc import SEED_RESIDENTS, LocalResidentRegistry, ResidentRecord
from vcsdk.oid4vc import PresentationResult, Verifier, verifier_routes
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration, issue_registration
from vcsdk.registry import DevChain, DevNode, deploy_contracts, key_address
from vcsdk.status import HttpStatusListFetcher
from wallet_server import create_app
from wallet_server.appkeys import CITY, ISSUANCE
from wallet_server.services.auth import access_token_hash

ACTIVE: ResidentRecord = next(e.record for e in SEED_RESIDENTS if e.status == "active")
SERVICE_NAME = "Kaga Onsen Shop"
PURPOSE = "Selling sake requires age 20+; the local-resident discount needs your city"  # registered description
PURPOSE_ID = "age_and_discount"  # the registered purpose requests name


def query(vct: str) -> dict[str, Any]:
    """Only two claims of the city's resident credential."""
    return {
        "credentials": [
            {
                "id": "resident",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [vct]},
                "claims": [{"path": ["age_equal_or_over", "20"]}, {"path": ["address", "locality"]}],
            }
        ]
    }


def identity(record: ResidentRecord = ACTIVE) -> dict[str, Any]:
    a = record.address
    return {
        "family_name": record.family_name,
        "given_name": record.given_name,
        "birthdate": record.birthdate.isoformat(),
        "address": f"{a.postal_code} {a.prefecture}{a.city}{a.street}",
    }


@dataclass
class HttpPhone:
    """The resident's phone over real HTTP: its P-256 key signs logins, DPoP proofs, key proofs and KB-JWTs."""

    session: aiohttp.ClientSession
    base: str
    clock: Clock
    key: Key = field(default_factory=lambda: Key.generate("P-256"))
    resident_id: str = ""
    device_id: str = ""
    access_token: str = ""

    copy_keys: dict[str, Key] = field(default_factory=dict)

    def signature(self, signing_input: str, jwk: dict[str, Any] | None = None) -> str:
        """What the secure enclave returns: the raw ES256 signature, base64url — with the key of
        ``jwk`` (a credential copy's key) if named, else the device key."""
        key = self.copy_keys[jwk["x"]] if jwk is not None and jwk["x"] in self.copy_keys else self.key
        return b64url_encode(key.sign(signing_input.encode("ascii")))

    def new_copy_keys(self, count: int) -> list[dict[str, str]]:
        """Fresh P-256 keys, one per credential copy; the private halves stay on the phone."""
        keys = [Key.generate("P-256") for _ in range(count)]
        self.copy_keys.update({k.public_jwk()["x"]: k for k in keys})
        return [k.public_jwk() for k in keys]

    def _dpop(self, method: str, path: str) -> str:
        claims = {
            "htm": method,
            "htu": self.base + path.split("?")[0],
            "iat": int(self.clock().timestamp()),
            "jti": secrets.token_urlsafe(12),
            "ath": access_token_hash(self.access_token),
        }
        return sign_jws(claims, self.key, typ="dpop+jwt", header={"jwk": self.key.public_jwk()}, include_kid=False)

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"DPoP {self.access_token}", "DPoP": self._dpop(method, path)}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json()

    async def enrol(self, code: str) -> None:
        body = {"code": code, "public_jwk": self.key.public_jwk(), "name": "phone"}
        async with self.session.post(f"{self.base}/v1/enrolment", json=body) as resp:
            assert resp.status == 201, await resp.text()
            enrolled = await resp.json()
        self.resident_id, self.device_id = enrolled["resident_id"], enrolled["device"]["id"]
        await self.login()

    async def login(self) -> None:
        async with self.session.post(f"{self.base}/v1/auth/challenge") as resp:
            challenge = await resp.json()
        assertion = sign_jws(
            {"nonce": challenge["nonce"], "aud": challenge["audience"], "iat": int(self.clock().timestamp())},
            self.key,
            typ="wallet-auth+jwt",
        )
        body = {"device_id": self.device_id, "assertion": assertion}
        async with self.session.post(f"{self.base}/v1/auth/token", json=body) as resp:
            assert resp.status == 200, await resp.text()
            self.access_token = (await resp.json())["access_token"]


@dataclass
class Service:
    """The third-party service: a Verifier and what it saw."""

    base: str
    did: str
    key: Key
    verifier: Verifier
    results: list[PresentationResult] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    desk: Any = None  # the ReceiptDesk: its receipt and withdrawal endpoints, and how they behave


@dataclass
class World:
    clock: Clock
    session: aiohttp.ClientSession
    wallet: web.Application
    wallet_url: str
    city: Any
    service: Service
    phone: HttpPhone
    other_did_key: tuple[str, Key]

    async def admin(self, path: str, body: Any, *, token: str = OPERATOR_TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.post(self.wallet_url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json()

    async def admin_get(self, path: str, *, token: str = OPERATOR_TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.get(self.wallet_url + path, headers=headers) as resp:
            return resp.status, await resp.json()

    async def issue_offer(self) -> str:
        """The city's back office runs KYC for the phone's resident; returns the tx_code (sent by letter)."""
        status, answer = await self.admin(
            "/admin/v1/issuances", {"resident_id": self.phone.resident_id, **identity()}, token=ISSUER_TOKEN
        )
        assert status == 200 and answer["outcome"] == "verified", answer
        return str(answer["tx_code"])


async def did_with_p256(city: Any, owner: Key) -> tuple[str, Key]:
    """A did:ethr on the city's chain publishing a fresh P-256 key; the key carries its DID URL."""
    identity_address = key_address(owner)
    signing = Key.generate("P-256")
    await city.ethr.set_attribute(identity_address, *key_attribute(signing), sender=owner)
    did = f"did:ethr:{hex(int(city.chain.chain_id))}:{identity_address}"
    published = await city.resolver.resolve_key(did, None)
    return did, signing.with_kid(published.kid)


@asynccontextmanager
async def _database(tmp_path: Path, backend: str) -> AsyncIterator[tuple[str, str | None]]:
    """SQLite in the test's folder, or a fresh PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'wallet.db'}", None
        return
    schema = f"e2e_{secrets.token_hex(6)}"
    try:
        yield PG_DSN, schema
    finally:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def _on_node(node: DevNode, tmp_path: Path) -> tuple[dict[str, Any], list[Key]]:
    """A real node: the city's key and two service owners funded, the contracts deployed as ``vcsdk
    deploy`` does; returns the settings that point the wallet server at them, and the owners."""
    city_key = Key.generate("secp256k1")
    owners = [Key.generate("secp256k1") for _ in range(2)]
    async with await DevChain.connect(node.url, chain_id=node.chain_id) as funding:
        for key in (city_key, *owners):
            await funding.fund(key_address(key), 10**18)
    config = await deploy_contracts(node.url, city_key, chain_id=node.chain_id)
    path = tmp_path / "network.json"
    path.write_text(json.dumps(config))
    return {"rpc_url": node.url, "city_key": city_key, "network_config": str(path)}, owners


async def serve_service(stack: AsyncExitStack, app: web.Application, city: Any, clock: Any, owner: Key, *,
                        name: str = SERVICE_NAME, received: list[bytes] | None = None) -> Service:
    """A third-party service on 127.0.0.1: a did:ethr with a P-256 key on the city's chain, registered
    by the city for two claims and one purpose; a ``Verifier`` checking signature, status (anchored
    digest) and accreditation; and a receipt endpoint that signs an access receipt for the consent
    record the wallet posts. ``received``: every request body the service gets is appended there."""
    did, key = await did_with_p256(city, owner)
    fetcher = await stack.enter_async_context(HttpStatusListFetcher(allow_loopback_http=True))
    checks = vcsdk.Service.of(did=did, key=key, resolver=city.resolver, trust=city.trust, status_source=fetcher)

    service_port = free_port()
    base = f"http://127.0.0.1:{service_port}"
    registration = _registration(app, city, clock, did, base, name)
    verifier = checks.verifier(base_url=base, name=name, registration=registration, clock=clock)
    service = Service(base, did, key, verifier)

    service.desk = ReceiptDesk(
        did=did, key=key, wallet_did=city.did, resolver=city.resolver, clock=clock, purpose=PURPOSE_ID,
        results=service.results, receipts=service.receipts,
    )

    async def on_result(result: PresentationResult) -> dict[str, Any]:
        service.results.append(result)
        return {"receipt_uri": f"{base}/receipts/{result.request_id}"}

    routes = [*verifier_routes(verifier, clock=clock, on_result=on_result), *service.desk.routes()]
    if received is not None:
        routes = [web.RouteDef(r.method, r.path, _recording(r.handler, received), r.kwargs) for r in routes]
    await stack.enter_async_context(serve(routes, port=service_port))
    return service


def _registration(app: web.Application, city: Any, clock: Any, did: str, base: str, name: str) -> str:
    """The city registers the service: these two claims of its resident credential, this purpose,
    withdrawals delivered to ``<base>/withdrawals``."""
    vct = app[ISSUANCE].vcts.resident_identity
    now = clock()
    return issue_registration(city.signing_key, RelyingPartyRegistration(
        issuer=city.did, service_did=did, registration_id=f"reg-{secrets.token_hex(4)}", name=name,
        purposes=(Purpose(PURPOSE_ID, PURPOSE),),
        claim_sets=(ClaimSet("age", vct, (("age_equal_or_over", "20"),)),
                    ClaimSet("locality", vct, (("address", "locality"),))),
        retention_days=30, receipt_endpoint=f"{base}/withdrawals", privacy_policy=f"{base}/privacy",
        jurisdiction="JP-17", issued_at=now - timedelta(days=1), expires_at=now + timedelta(days=365),
    ))


async def serve_recipe_service(
    stack: AsyncExitStack, app: web.Application, city: Any, clock: Any, owner: Key, *, name: str = SERVICE_NAME,
    wrap: Callable[[web.RouteDef], web.RouteDef] | None = None,
) -> tuple[vcsdk.Service, Verifier, str]:
    """A third-party service built only from the SDK's recipe: ``vcsdk.Service`` checking consent
    records against the city's DID, its ``routes`` (OpenID4VP, receipts, withdrawals) on 127.0.0.1.
    ``wrap``: applied to each route (a test loses an answer there). Returns the service, its
    verifier and its base URL."""
    did, key = await did_with_p256(city, owner)
    fetcher = await stack.enter_async_context(HttpStatusListFetcher(allow_loopback_http=True))
    service = vcsdk.Service.of(did=did, key=key, resolver=city.resolver, trust=city.trust, status_source=fetcher,
                               wallet_did=city.did)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    verifier = service.verifier(base_url=base, name=name, registration=_registration(app, city, clock, did, base, name),
                                clock=clock)
    routes = service.routes(verifier, purpose=PURPOSE_ID, clock=clock)
    await stack.enter_async_context(serve([wrap(r) for r in routes] if wrap else routes, port=port))
    return service, verifier, base


def _recording(handler: Any, received: list[bytes]) -> Any:
    async def recorded(request: web.Request) -> web.StreamResponse:
        received.append(request.path_qs.encode() + b"\n" + await request.read())
        return await handler(request)

    return recorded


@asynccontextmanager
async def world(
    tmp_path: Path, backend: str = "sqlite", *, node: DevNode | None = None, clock: Any = None, phone: bool = True,
    settings: dict[str, Any] | None = None,
) -> AsyncIterator[World]:
    """The three parties. ``backend``: the wallet's database (``sqlite``, ``postgres``); ``node``: a
    real JSON-RPC node (anvil) instead of the embedded chain; ``clock``: the parties' clock (a
    :class:`Clock` the test moves by default); ``phone``: enrol the Python phone (a browser test
    enrols its own); ``settings``: more wallet server settings."""
    clock = clock or Clock()
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(_database(tmp_path, backend))
        registry = await stack.enter_async_context(LocalResidentRegistry())
        chain_settings, owners = await _on_node(node, tmp_path) if node is not None else ({}, [])
        port = free_port()
        wallet_url = f"http://127.0.0.1:{port}"
        wallet_settings = make_settings(
            database,
            **chain_settings,
            public_base_url=wallet_url,
            kyc_registry_url=registry.url,
            city_signing_key=Key.generate("P-256"),
            status_list_size=1024,
            allow_loopback_http=True,
            receipt_batch_size=1,
            receipt_confirmations=2,
            # The test drives anchoring rounds itself (no waiting on a timer).
            receipt_anchor_interval=timedelta(hours=1),
            **(settings or {}),
        )
        app = create_app(wallet_settings, clock=clock)
        await stack.enter_async_context(serve(app, port=port))
        city = await app[CITY].get()

        owners = owners or city.chain.dev_keys[1:3]
        service = await serve_service(stack, app, city, clock, owners[0])
        other = await did_with_p256(city, owners[1])

        # -- the phone ---------------------------------------------------------------------------
        session = await stack.enter_async_context(aiohttp.ClientSession())
        python_phone = HttpPhone(session, wallet_url, clock)
        if phone:
            headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
            async with session.post(f"{wallet_url}/admin/v1/enrolment-codes", json={}, headers=headers) as resp:
                code = (await resp.json())["code"]
            await python_phone.enrol(code)
        yield World(clock, session, app, wallet_url, city, service, python_phone, other)
