"""A third-party service built on vcsdk: ask for "age over 20" and the city, verify, return a receipt.

Run it with ``python examples/third_party_service.py`` (an embedded chain, HTTP on 127.0.0.1). The
city and the resident's wallet come from ``_setup.py``; this file is the service's part: its own
did:ethr, an OpenID4VP request (DCQL) for exactly two claims and why, every check of the answer
(issuer signature, key binding, status list, accreditation) and a signed access receipt.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from _setup import VCTS, free_port, sample_resident, serve, start_city, start_wallet

from vcsdk import City

NAME = "Kaga Onsen Shop"
PURPOSE = "Selling sake requires age 20+; the local-resident discount needs your city"
QUERY: dict[str, Any] = {"credentials": [{  # DCQL: one city credential, only these two claims from it
    "id": "resident", "format": "dc+sd-jwt", "meta": {"vct_values": [VCTS.resident_identity]},
    "claims": [{"path": ["age_equal_or_over", "20"]}, {"path": ["address", "locality"]}],
}]}


async def main() -> None:
    async with AsyncExitStack() as stack:
        town = await start_city(stack)  # the city: its contracts, its DID, a status list over HTTP
        now, port = town.now, free_port()
        # 1. The city's network, from the config it publishes; the service's did:ethr with a P-256 key.
        city = await stack.enter_async_context(await City.open(town.network_config, chain=town.chain))
        did, key = await city.publish_key(town.chain.dev_keys[1])
        print(f"service DID: {did}")
        # 2. The service: resolver, status checker (anchored digests), accreditation, verifier, receipts.
        # Consent records come signed by the city's wallet server (its DID: the city's).
        service = await city.service(did=did, key=key, wallet_did=town.did, allow_loopback_http=True)
        verifier = service.verifier(base_url=f"http://127.0.0.1:{port}", name=NAME, clock=lambda: now)
        await stack.enter_async_context(serve(service.routes(verifier, purpose=PURPOSE, clock=lambda: now), port))

        # 3. The request, shown as a QR code or deep link; the resident's wallet answers it.
        wallet = await start_wallet(stack, town, sample_resident(now))
        created = await verifier.create_request(QUERY, purpose=PURPOSE, now=now)
        screen, answer = await wallet.answer(created.deep_link)
        print(f"wallet shows: {screen.service_name} asks for {[list(p) for p in screen.credentials[0].claims]}")
        learned = dict(sorted(service.results[created.request_id].claims().items()))
        print(f"verified: issuer signature, key binding, status, accreditation; the service learned {learned}")
        # 4. The access receipt for the consent the wallet recorded, checked by the wallet.
        receipt = await wallet.receipt(answer["receipt_uri"])
        print(f"access receipt {receipt.receipt_id}: claims {list(receipt.claims_accessed)}, "
              f"purpose '{receipt.purpose}', signed by the service; the wallet server anchors its digest")
        # 5. The city revokes; the next presentation is refused.
        await town.revoke(wallet.credential)
        _, refused = await wallet.answer((await verifier.create_request(QUERY, purpose=PURPOSE, now=now)).deep_link)
        print(f"after revocation the service answers: {refused.get('error')}")


if __name__ == "__main__":
    asyncio.run(main())
