"""A shop on a local city: ask for "20 or over" and the city, verify, return an access receipt.
Start the city with `vcsdk dev up`, then run this file from the same folder (or set VCSDK_DEV_CITY to
the city.json it printed). The shop listens on 127.0.0.1:8070 (SHOP_PORT)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from vcsdk import City, Key
from wallet_server.client import AdminClient, WalletClient

CITY = json.loads(Path(os.environ.get("VCSDK_DEV_CITY", ".vcsdk-dev/city.json")).read_text())  # URLs, keys
PORT = int(os.environ.get("SHOP_PORT", "8070"))  # behind https://shop.example in production
PURPOSE = "age-check"  # a purpose the city registered the shop for; the wallet shows the city's wording
VCT = CITY["resident_identity_vct"]  # DCQL below: one credential of this type, and only these two claims
QUERY = {"credentials": [{"id": "resident", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
                          "claims": [{"path": ["age_equal_or_over", "20"]}, {"path": ["address", "locality"]}]}]}


async def main() -> None:
    async with await City.open(CITY["network_config"]) as city:
        did, key = await city.publish_key(Key.from_jwk(Path(CITY["service_key"]).read_bytes()))
        print(f"shop DID: {did}")
        service = await city.service(did=did, key=key, wallet_did=CITY["city_did"], allow_loopback_http=True)
        verifier = service.verifier(base_url=f"http://127.0.0.1:{PORT}", name="Kaga Onsen Shop",
                                    registration=CITY["service_registration"])
        async with service.serve(verifier, purpose=PURPOSE, port=PORT), WalletClient(CITY["wallet_url"]) as phone, \
                AdminClient(CITY["wallet_url"], CITY["admin_token"]) as admin:
            await phone.enrol(await admin.enrolment_code())  # not the shop's part: the city issues a credential
            await phone.receive_offer((await admin.issue(phone.resident_id, **CITY["seed_resident"]))["tx_code"])
            async def ask() -> tuple[str, str]:  # the request, shown as a QR code or a deep link
                created = await verifier.create_request(QUERY, purpose=PURPOSE, now=datetime.now(UTC))
                return created.request_id, created.deep_link
            asked, link = await ask()
            receipt_id = (await phone.present(link))["outcome"]["receipt_id"]
            print(f"verified; the shop learned {dict(sorted(service.results[asked].claims().items()))}")
            print(f"the wallet kept the shop's access receipt {receipt_id}")
            while (entry := await phone.receipt(receipt_id))["state"] != "final":  # anchored in a Merkle batch
                await asyncio.sleep(0.5)
            print(f"receipt {entry['state']} on chain, inclusion proof verified: {entry['proof_verified']}")
            declined, link = await ask()
            await phone.present(link, share=False)  # the resident says no
            print(f"declined: the shop was told {service.results[declined].error}")
            revoked, link = await ask()  # the city revokes while the resident looks at the consent screen
            screen = await phone.start_presentation(link)
            await admin.revoke((await admin.credentials(phone.resident_id))[0]["id"])
            refused = await phone.finish_presentation(screen)
            print(f"after revocation: the wallet shows {refused['state']} ({refused['outcome']['error']}), "
                  f"the shop was told {service.results[revoked].error}")
            print(f"a new request: the wallet has a credential to share: "
                  f"{(await phone.start_presentation((await ask())[1]))['satisfiable']}")


if __name__ == "__main__":
    asyncio.run(main())
