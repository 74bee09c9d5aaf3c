"""A shop on a local city: ask for "20 or over" and the city, verify, return an access receipt.

Start the city in one terminal with `vcsdk dev up` (or `make dev`), then run this file from the same
folder: `python examples/quickstart_service.py` (elsewhere: set VCSDK_DEV_CITY to the city.json path
`vcsdk dev up` printed). The shop listens on 127.0.0.1:8070 (SHOP_PORT to change it).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from vcsdk.credentials import verify_presentation
from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.ethr import EthrRegistry, Resolver
from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS
from vcsdk.oid4vc import InMemoryStateStore, PresentationResult, Verifier, verifier_routes
from vcsdk.receipts import issue_access_receipt, presentation_hash, verify_consent_record_resolved
from vcsdk.registry import Chain, key_address, load_network_config
from vcsdk.status import HttpStatusListFetcher, StatusListChecker
from vcsdk.trust import AccreditationPolicy, TrustRegistry
from wallet_server.client import AdminClient, WalletClient

# What `vcsdk dev up` printed: URLs, the network config, the admin token, a funded key for you.
CITY = json.loads(Path(os.environ.get("VCSDK_DEV_CITY", ".vcsdk-dev/city.json")).read_text())
NETWORK = load_network_config(CITY["network_config"])
SHOP = f"http://127.0.0.1:{int(os.environ.get('SHOP_PORT', '8070'))}"  # https://shop.example in production

NAME = "Kaga Onsen Shop"
# A purpose the city registered the shop for: its id goes in the request, the wallet shows the
# city's wording ("Checking that you are old enough for what you buy"), not the shop's own.
PURPOSE = "age-check"
REGISTRATION = CITY["service_registration"]  # the city's signed registration of this shop
# DCQL: one SD-JWT VC of the city's resident type, and only these two claims from it.
QUERY: dict[str, Any] = {"credentials": [{
    "id": "resident", "format": "dc+sd-jwt", "meta": {"vct_values": [CITY["resident_identity_vct"]]},
    "claims": [{"path": ["age_equal_or_over", "20"]}, {"path": ["address", "locality"]}],
}]}


async def shop_identity(chain: Chain, resolver: Resolver) -> tuple[str, Key]:
    """The shop's did:ethr (owned by its funded Ethereum key, the DID the city registered) with a
    P-256 signing key published in it once (one transaction) and kept in a file."""
    owner = Key.from_jwk(Path(CITY["service_key"]).read_bytes())
    did = f"did:ethr:{hex(CITY['chain_id'])}:{key_address(owner)}"
    kept = Path(CITY["service_key"]).with_name("service-signing.jwk")
    if kept.exists():  # published on an earlier run against this city
        signing = Key.from_jwk(kept.read_bytes())
    else:
        signing = Key.generate("P-256")
        ethr = await EthrRegistry.bind(chain, EthrNetwork.from_network_config(NETWORK))
        await ethr.set_attribute(key_address(owner), *key_attribute(signing), sender=owner)
        kept.write_text(json.dumps(signing.private_jwk()))
    published = await resolver.resolve_key(did, None)  # its kid is the DID URL the document gives it
    return did, signing.with_kid(published.kid)


def shop_routes(
    verifier: Verifier, key: Key, resolver: Resolver, results: dict[str, PresentationResult]
) -> list[web.RouteDef]:
    """The shop's HTTP side: the OpenID4VP endpoints, and the access-receipt endpoint."""

    async def on_result(result: PresentationResult) -> dict[str, Any]:
        # Verified (or declined: result.ok is False, result.claims() would raise and say why).
        results[result.request_id] = result
        # The receipt handshake: the wallet will POST its consent record to this URL.
        return {"receipt_uri": f"{SHOP}/receipts/{result.request_id}"} if result.ok else {}

    async def on_failure(result: PresentationResult) -> None:
        # A check failed: tell the customer why (result.error is e.g. "credential_revoked").
        results[result.request_id] = result

    async def receipt(request: web.Request) -> web.Response:
        result = results.get(request.match_info["request_id"])
        # The wallet posts the consent record it signed (with the city's wallet key): verify, keep.
        consent = await verify_consent_record_resolved((await request.json())["consent_record"],
                                                       wallet_did=CITY["city_did"], resolver=resolver)
        if result is None or not result.ok:
            raise web.HTTPNotFound(text="no verified presentation for this request")
        (presented,) = result.credentials["resident"]
        # Sign only for the access that happened: our DID, our purpose, this exact presentation.
        if (consent.controller.did != verifier.did or PURPOSE not in consent.purposes
                or consent.presentation_hash != presentation_hash(presented.presentation)):
            raise web.HTTPBadRequest(text="the consent does not describe this presentation")
        token = issue_access_receipt(key, consent=consent, receipt_id=f"rcpt-{secrets.token_hex(8)}",
                                     claims=consent.claims_disclosed, purpose=PURPOSE, now=datetime.now(UTC))
        return web.json_response({"access_receipt": token})

    return [*verifier_routes(verifier, clock=lambda: datetime.now(UTC), on_result=on_result, on_failure=on_failure),
            web.post("/receipts/{request_id}", receipt)]


async def a_resident_with_a_credential(admin: AdminClient, phone: WalletClient) -> None:
    """Not the shop's part: the city enrols a seed resident's phone, checks them (KYC) and issues."""
    await phone.enrol(await admin.enrolment_code())
    record = next(e.record for e in SEED_RESIDENTS if e.status == "active")
    a = record.address
    issued = await admin.issue(phone.resident_id, family_name=record.family_name, given_name=record.given_name,
                               birthdate=record.birthdate.isoformat(),
                               address=f"{a.postal_code} {a.prefecture}{a.city}{a.street}")
    assert issued["outcome"] == "verified", issued
    await phone.receive_offer(issued["tx_code"])  # the PIN reaches the resident by letter or SMS


async def main() -> None:
    async with await Chain.connect(CITY["rpc_url"], chain_id=CITY["chain_id"]) as chain, \
            Resolver([EthrNetwork.from_network_config(NETWORK)]) as resolver, \
            HttpStatusListFetcher(allow_loopback_http=True) as fetcher:  # https only in production
        did, key = await shop_identity(chain, resolver)
        print(f"shop DID: {did}")

        trust = TrustRegistry(chain, NETWORK["contracts"]["TrustedIssuerRegistry"]["address"])
        status = StatusListChecker(resolver=resolver, source=fetcher, digests=trust)

        async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
            # Issuer signature (key from the city's DID on chain), key binding to our nonce and
            # audience, expiry, status (revocation), and the city's accreditation for this type.
            return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=resolver,
                                             status=status, accreditation=AccreditationPolicy(trust),
                                             now=datetime.now(UTC))

        verifier = Verifier(did=did, signer=key, response_uri=f"{SHOP}/oid4vp/response",
                            request_uri_base=f"{SHOP}/oid4vp/request", store=InMemoryStateStore(),
                            verify=verify, name=NAME, registration=REGISTRATION)
        results: dict[str, PresentationResult] = {}
        app = web.Application()
        app.add_routes(shop_routes(verifier, key, resolver, results))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(SHOP.rsplit(":", 1)[1])).start()
        try:
            async with AdminClient(CITY["wallet_url"], CITY["admin_token"]) as admin, \
                    WalletClient(CITY["wallet_url"]) as phone:
                await a_resident_with_a_credential(admin, phone)

                # The shop shows a QR code (or a link); the resident's wallet answers it.
                created = await verifier.create_request(QUERY, purpose=PURPOSE, now=datetime.now(UTC))
                shared = await phone.present(created.deep_link)
                result = results[created.request_id]
                print(f"verified; the shop learned {dict(sorted(result.claims().items()))}")
                print(f"the wallet kept the shop's access receipt {shared['outcome']['receipt_id']}")

                # The wallet server anchors the receipt's digest on chain in a Merkle batch.
                for _ in range(60):
                    entry = await phone.receipt(shared["outcome"]["receipt_id"])
                    if entry["state"] == "final":
                        break
                    await asyncio.sleep(0.5)
                print(f"receipt {entry['state']} on chain, inclusion proof verified: {entry['proof_verified']}")

                # A resident may say no: the shop hears access_denied (result.ok is False).
                asked = await verifier.create_request(QUERY, purpose=PURPOSE, now=datetime.now(UTC))
                await phone.present(asked.deep_link, share=False)
                print(f"declined: the shop was told {results[asked.request_id].error}")

                # The city revokes while the resident looks at the consent screen: the shop's check
                # refuses the presentation and says why; the wallet offers that credential no more.
                again = await verifier.create_request(QUERY, purpose=PURPOSE, now=datetime.now(UTC))
                screen = await phone.start_presentation(again.deep_link)
                (issued,) = await admin.credentials(phone.resident_id)
                await admin.revoke(issued["id"])
                refused = await phone.finish_presentation(screen)
                print(f"after revocation: the wallet shows {refused['state']} ({refused['outcome']['error']}), "
                      f"the shop was told {results[again.request_id].error}")
                later = await verifier.create_request(QUERY, purpose=PURPOSE, now=datetime.now(UTC))
                print(f"a new request: the wallet has a credential to share: "
                      f"{(await phone.start_presentation(later.deep_link))['satisfiable']}")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
