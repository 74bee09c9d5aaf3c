"""The city as an issuer: contracts, DID, accreditation, KYC, OpenID4VCI, status list, revocation.

Run it with ``python examples/city_issuer.py`` (the Python where vcsdk is installed: ``make setup``
then ``.venv/bin/python``). It uses an embedded chain, the local SOAP resident registry and HTTP on
127.0.0.1; against a real node, connect with ``await Chain.connect(url)`` and
deploy once with ``vcsdk deploy`` instead.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
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
    verify_credential,
)
from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.errors import CredentialRevokedError
from vcsdk.ethr import EthrRegistry, Resolver
from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS, KycApplication, KycPipeline, LocalResidentRegistry, ResidentRegistryClient
from vcsdk.oid4vc import (
    CredentialConfiguration,
    CredentialIssuer,
    InMemoryStateStore,
    issuer_routes,
    parse_credential_offer,
    parse_credential_offer_uri,
    receive_credential,
    run_flow,
)
from vcsdk.registry import Chain, key_address
from vcsdk.status import HttpStatusListFetcher, StatusListChecker, StatusListStore, status_list_routes
from vcsdk.trust import StatusDigest, TrustRegistry

VCTS = VctRegistry("https://credentials.kaga.example")  # the city's credential types (vct)


def free_port() -> int:
    """A free port on 127.0.0.1, for a server whose URL must be known before it starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve(routes: list[web.RouteDef], port: int = 0) -> AsyncIterator[str]:
    """Serve ``routes`` on 127.0.0.1 (in production: behind your web server, over https)."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def main() -> None:
    async with AsyncExitStack() as stack:
        # -- 1. Contracts: the ERC-1056 DID registry, trusted issuers, access receipts. ------------
        chain = await stack.enter_async_context(Chain.embedded())
        governance = chain.dev_keys[0]  # the city's Ethereum account (an HSM or KMS in production)
        did_registry = await chain.deploy("EthereumDIDRegistry", sender=governance)
        trust = await TrustRegistry.deploy(chain, sender=governance)
        receipts = await chain.deploy("AccessReceiptRegistry", sender=governance)  # the wallet server anchors here
        print(f"contracts: DID registry {did_registry}, trust {trust.address}, receipts {receipts}")

        # -- 2. The city's DID, with a P-256 key published as a Multikey (so it can sign ES256). ----
        network = EthrNetwork(chain_id=int(chain.chain_id), registry=did_registry, chain=chain)
        ethr = await EthrRegistry.bind(chain, network)
        resolver = Resolver([network], cache_ttl=timedelta(0))
        stack.push_async_callback(resolver.close)
        city_did = f"did:ethr:{hex(int(chain.chain_id))}:{key_address(governance)}"
        signing = Key.generate("P-256")
        await ethr.set_attribute(key_address(governance), *key_attribute(signing), sender=governance)
        document = (await resolver.resolve(city_did)).to_json()["didDocument"]
        method = next(m for m in document["verificationMethod"] if m["type"] == "Multikey")
        city_key = signing.with_kid(method["id"])
        print(f"city DID: {city_did}; signing key {method['id'].split('#')[1]} ({method['type']})")

        # -- 3. Accredit the city for its credential type (governance may accredit other issuers). --
        now = datetime.fromtimestamp((await chain.get_block("latest")).timestamp, UTC)
        await trust.accredit(city_did, VCTS.resident_identity, valid_from=now - timedelta(days=1), sender=governance)
        accredited = await trust.is_accredited(city_did, VCTS.resident_identity, at=now)
        print(f"accredited for {VCTS.resident_identity}: {accredited}")

        # -- 4. A status list, served over HTTP; each publication's digest is anchored on chain. ----
        status_store = StatusListStore()
        status_base = await stack.enter_async_context(serve(status_list_routes(status_store)))
        status_list = StatusListIssuer(f"{status_base}/status/1", size=1 << 16)

        async def publish_status() -> None:
            token = status_list.publish(city_key, now=now, ttl=timedelta(minutes=5), iss=city_did)
            status_store.publish("/status/1", token, max_age=300)
            await trust.anchor_status_digests(
                [StatusDigest(status_list.uri, status_list.digest, status_list.version + 1)], sender=governance)
            print(f"status list published (version {status_list.version + 1}), digest anchored on chain")

        # -- 5. OpenID4VCI: a pre-authorized offer with a transaction code (PIN). -------------------
        issuer_port = free_port()
        oid4vci = CredentialIssuer(
            credential_issuer=f"http://127.0.0.1:{issuer_port}/issuer",  # https://city.example/issuer
            configurations=[CredentialConfiguration(id="ResidentIdentityCredential", vct=VCTS.resident_identity)],
            issue=lambda claims, holder_key: issue_sd_jwt_vc(
                claims, issuer=city_did, signer=city_key, vct=VCTS.resident_identity,
                disclosable=disclosable_paths(RESIDENT_IDENTITY_CREDENTIAL), holder_key=holder_key,
                status=status_list.allocate(), now=now, expires_at=now + timedelta(days=365)),
            store=InMemoryStateStore(), display_name="Kaga City",
        )
        await stack.enter_async_context(serve(issuer_routes(oid4vci, clock=lambda: now), issuer_port))
        offers: list[tuple[str, str | None]] = []

        async def make_offer(claims: Any, *, holder_key: Key, now: datetime) -> str:
            offer, pin = await oid4vci.create_offer("ResidentIdentityCredential", claims, now=now)
            offers.append((await oid4vci.publish_offer(offer, now=now), pin))
            return offers[-1][0]

        # -- 6. KYC: check the application against the resident registry (SOAP), then offer. --------
        registry = LocalResidentRegistry()  # the city's real registry in production
        await registry.start()
        stack.push_async_callback(registry.stop)
        soap = ResidentRegistryClient(registry.url)
        stack.push_async_callback(soap.aclose)
        kyc = KycPipeline(registry=soap, issue=make_offer)
        device = Key.generate("P-256")  # the resident's phone key; only its public half reaches the city
        rec = next(e.record for e in SEED_RESIDENTS if e.status == "active")
        address = f"{rec.address.postal_code} {rec.address.prefecture}{rec.address.city}{rec.address.street}"
        wrong = rec.birthdate.replace(year=rec.birthdate.year - 1)
        for birthdate in (wrong, rec.birthdate):
            outcome = await kyc.run(KycApplication(family_name=rec.family_name, given_name=rec.given_name,
                                                   birthdate=birthdate, address=address,
                                                   device_key=device.public_key()), now=now)
            print(f"KYC with {'a wrong' if birthdate == wrong else 'the right'} birth date: {outcome.kind}")

        # The resident's wallet scans the QR code and types the PIN it got by SMS or letter.
        offer_uri, pin = offers[-1]
        print(f"credential offer: {offer_uri[:50]}…, PIN of {len(pin or '')} digits sent separately")
        async with aiohttp.ClientSession() as session:
            offer = parse_credential_offer_uri(offer_uri)
            if isinstance(offer, str):  # by reference: fetch it
                async with session.get(offer) as response:
                    offer = parse_credential_offer(await response.json())
            issued = await run_flow(receive_credential(offer, tx_code=pin, signers=[device], now=lambda: now), session)
        credential = issued.credentials[0]
        print(f"issued {peek(credential).unverified_vct} bound to the device key")
        await publish_status()

        # -- 7. Revocation: verifiers see it at once, because the anchored digest changes. ----------
        fetcher = await stack.enter_async_context(HttpStatusListFetcher(allow_loopback_http=True))
        checker = StatusListChecker(resolver=resolver, source=fetcher, digests=trust)
        await verify_credential(credential, resolver=resolver, status=checker, now=now)
        print("a verifier accepts the credential")
        status_list.revoke(peek(credential).unverified_claims["status"]["status_list"]["idx"])
        await publish_status()
        try:
            await verify_credential(credential, resolver=resolver, status=checker, now=now)
            raise SystemExit("the revoked credential was accepted")
        except CredentialRevokedError as exc:
            print(f"after revocation the verifier refuses it: {exc.code}")


if __name__ == "__main__":
    asyncio.run(main())
