"""A wallet app against a local city: enrol a phone, receive the city's credential, check it, and
read what the wallet server keeps for the resident.

Start the city with `vcsdk dev up` (or `make dev`), then run this file from the same folder:
`python examples/quickstart_wallet.py` (elsewhere: set VCSDK_DEV_CITY to the city.json path
`vcsdk dev up` printed).
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from vcsdk.credentials import peek, verify_credential
from vcsdk.did import EthrNetwork
from vcsdk.ethr import Resolver
from vcsdk.kyc import SEED_RESIDENTS
from vcsdk.registry import load_network_config
from vcsdk.status import HttpStatusListFetcher, StatusListChecker
from wallet_server.client import AdminClient, WalletClient

CITY = json.loads(Path(os.environ.get("VCSDK_DEV_CITY", ".vcsdk-dev/city.json")).read_text())


async def enrol(admin: AdminClient, phone: WalletClient) -> None:
    """The phone registers its device key with a one-time code from the city, then logs in by signing
    a challenge; every later call carries a DPoP proof made with the same key."""
    await phone.enrol(await admin.enrolment_code(), name="my phone")
    print(f"enrolled: resident {phone.resident_id}, device {phone.device_id}")


async def receive(admin: AdminClient, phone: WalletClient) -> dict[str, str]:
    """The city checks the resident against its registry and puts an offer in the inbox; the PIN
    reaches the resident by letter or SMS. The phone signs the key proof; the server redeems it."""
    record = next(e.record for e in SEED_RESIDENTS if e.status == "active")
    a = record.address
    issued = await admin.issue(phone.resident_id, family_name=record.family_name, given_name=record.given_name,
                               birthdate=record.birthdate.isoformat(),
                               address=f"{a.postal_code} {a.prefecture}{a.city}{a.street}")
    (offer,) = (await phone.call("GET", "/v1/offers"))["items"]
    print(f"offer from {offer['credential_issuer']}: {offer['configuration_ids']}, PIN of "
          f"{offer['tx_code']['length']} digits")
    return await phone.receive_offer(issued["tx_code"], offer_id=offer["id"])


async def check(credential: str) -> None:
    """What the app may do before showing a credential: verify it as any verifier would (the city's
    signature from its DID on chain, the status list)."""
    network = EthrNetwork.from_network_config(load_network_config(CITY["network_config"]))
    async with Resolver([network]) as resolver, HttpStatusListFetcher(allow_loopback_http=True) as fetcher:
        status = StatusListChecker(resolver=resolver, source=fetcher)
        verified = await verify_credential(credential, resolver=resolver, status=status, now=datetime.now(UTC))
    print(f"verified: issued by {verified.issuer}, bound to this phone's key: "
          f"{verified.holder_key is not None}")


async def main() -> None:
    async with AdminClient(CITY["wallet_url"], CITY["admin_token"]) as admin, \
            WalletClient(CITY["wallet_url"]) as phone:
        await enrol(admin, phone)
        stored = await receive(admin, phone)
        print(f"stored credential {stored['id']} ({stored['vct']})")

        # The credential as the server keeps it (encrypted under the resident's key at rest).
        (listed,) = (await phone.call("GET", "/v1/credentials"))["items"]
        item = await phone.call("GET", f"/v1/credentials/{listed['id']}")  # with the raw token
        claims = peek(item["credential"]).unverified_claims
        print(f"claims the city put in it: {sorted(k for k in claims if not k.startswith('_'))}")
        await check(item["credential"])

        # What the server keeps for the resident: consents given and access receipts, per service.
        consents = (await phone.call("GET", "/v1/consents"))["items"]
        receipts = (await phone.call("GET", "/v1/receipts"))["items"]
        print(f"consents: {len(consents)}, access receipts: {len(receipts)} (none until a service asks)")


if __name__ == "__main__":
    asyncio.run(main())
