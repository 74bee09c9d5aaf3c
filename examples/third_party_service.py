"""A third-party service built on vcsdk: ask for "age over 20" and the city, verify, return a receipt.

Run it with ``python examples/third_party_service.py``. Everything happens on an embedded chain and
over HTTP on 127.0.0.1; the city and the resident's wallet come from ``_setup.py`` so that this
file is about the service:

1. the service has its own did:ethr with a P-256 key (it signs requests and receipts with it);
2. it asks, over OpenID4VP with a DCQL query, for exactly two claims and says why;
3. it verifies the answer: issuer signature (DID on chain), key binding to its own nonce and
   audience, status list, and the issuer's accreditation on chain;
4. it returns a signed access receipt for the consent the wallet recorded;
5. once the city revokes the credential, the next check fails.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from _setup import VCTS, Wallet, did_with_p256_key, free_port, sample_resident, serve, start_city
from aiohttp import web

from vcsdk.credentials import verify_presentation
from vcsdk.errors import VcsdkError
from vcsdk.keys import Key
from vcsdk.oid4vc import InMemoryStateStore, PresentationResult, Verifier, verifier_routes
from vcsdk.receipts import ConsentRecord, issue_access_receipt, presentation_hash, verify_access_receipt_resolved
from vcsdk.status import HttpStatusListFetcher, StatusListChecker
from vcsdk.trust import AccreditationPolicy

NAME = "Kaga Onsen Shop"
PURPOSE = "Selling sake requires age 20+; the local-resident discount needs your city"
# DCQL: one SD-JWT VC of the city's type, and only these two claims from it.
QUERY: dict[str, Any] = {"credentials": [{
    "id": "resident", "format": "dc+sd-jwt", "meta": {"vct_values": [VCTS.resident_identity]},
    "claims": [{"path": ["age_equal_or_over", "20"]}, {"path": ["address", "locality"]}],
}]}


async def main() -> None:
    async with AsyncExitStack() as stack:
        city = await start_city(stack)
        now = city.now
        session = await stack.enter_async_context(aiohttp.ClientSession())

        # -- 1. The service's identity: a did:ethr whose document publishes a P-256 key. ------------
        did, key = await did_with_p256_key(city.chain, city.ethr, city.resolver, city.chain.dev_keys[1])
        print(f"service DID: {did}")

        # -- 3. How it verifies a presentation (the Verifier calls this for each one). --------------
        fetcher = await stack.enter_async_context(HttpStatusListFetcher(allow_loopback_http=True))
        status = StatusListChecker(resolver=city.resolver, source=fetcher, digests=city.trust)
        accreditation = AccreditationPolicy(city.trust)

        async def verify(presentation: str, *, audience: str, nonce: str) -> Any:
            # Signature, key binding, status, and accreditation for this type at issuance and now.
            return await verify_presentation(presentation, audience=audience, nonce=nonce, resolver=city.resolver,
                                  status=status, accreditation=accreditation, now=now)

        # -- 2 and 4. The HTTP endpoints: request objects, the wallet's answer, receipts. ----------
        port = free_port()
        base = f"http://127.0.0.1:{port}"  # in production: https://shop.example
        results: dict[str, PresentationResult] = {}

        async def on_result(result: PresentationResult) -> dict[str, Any]:
            results[result.request_id] = result
            return {"receipt_uri": f"{base}/receipts/{result.request_id}"}

        async def receipt(request: web.Request) -> web.Response:
            # The wallet sends the consent record it keeps; the receipt must match what was verified.
            result = results[request.match_info["request_id"]]
            consent = ConsentRecord.from_json(await request.text())
            (presented,) = result.credentials["resident"]
            if (consent.controller.did != did or PURPOSE not in consent.purposes
                    or consent.presentation_hash != presentation_hash(presented.presentation)):
                raise web.HTTPBadRequest(text="the consent does not describe this presentation")
            token = issue_access_receipt(key, consent=consent, receipt_id=f"rcpt-{secrets.token_hex(8)}",
                                         claims=consent.claims_disclosed, purpose=PURPOSE, now=now)
            return web.json_response({"access_receipt": token})

        verifier = Verifier(did=did, signer=key, response_uri=f"{base}/oid4vp/response",
                            request_uri_base=f"{base}/oid4vp/request", store=InMemoryStateStore(),
                            verify=verify, name=NAME)
        routes = verifier_routes(verifier, clock=lambda: now, on_result=on_result)
        await stack.enter_async_context(serve([*routes, web.post("/receipts/{request_id}", receipt)], port))

        # A resident with a city credential on their phone.
        wallet = Wallet(session, city.resolver, Key.generate("P-256"))
        wallet.credential = await city.issue(sample_resident(now), holder_key=wallet.device)
        await city.publish_status()

        # -- 2. The request, shown as a QR code or deep link. ---------------------------------------
        created = await verifier.create_request(QUERY, purpose=PURPOSE, now=now)
        print(f"request deep link: {created.deep_link[:60]}…")
        screen, vp, answer = await wallet.answer(created.deep_link, now=now)
        print(f"wallet shows: {screen.service_name} asks for {[list(p) for p in screen.credentials[0].claims]}")
        disclosed = dict(sorted(results[created.request_id].claims().items()))
        print(f"verified: issuer signature, key binding, status, accreditation; the service learned {disclosed}")

        # -- 4. The access receipt, verified by the wallet against its consent record. ---------------
        consent = wallet.consent_for(screen, vp, now=now)
        async with session.post(answer["receipt_uri"], data=json.dumps(consent.to_json())) as response:
            token = (await response.json())["access_receipt"]
        accepted = await verify_access_receipt_resolved(token, consent=consent, resolver=city.resolver, now=now)
        print(f"access receipt {accepted.receipt_id}: claims {list(accepted.claims_accessed)}, "
              f"purpose '{accepted.purpose}', signed by the service; the wallet server anchors its digest")

        # -- 5. The city revokes; the next presentation is refused. ---------------------------------
        await city.revoke(wallet.credential)
        again = await verifier.create_request(QUERY, purpose=PURPOSE, now=now)
        try:
            _, _, refused = await wallet.answer(again.deep_link, now=now)
        except VcsdkError as exc:
            refused = {"error": exc.code}
        print(f"after revocation the service answers: {refused.get('error')}")
        assert again.request_id not in results and refused.get("error") == "credential_revoked"


if __name__ == "__main__":
    asyncio.run(main())
