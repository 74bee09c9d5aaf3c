"""Helpers for the back-office tests: a local SOAP resident registry, the wallet's OpenID4VCI flow
over real HTTP, and a verifier that checks signature, status (with the anchored digest) and
accreditation against the city's chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

import vcsdk
from tests.wallet_server._helpers import ISSUER_TOKEN, Clock, Phone, admin_headers
from vcsdk.credentials import present
from vcsdk.kyc import SEED_RESIDENTS, ResidentRecord
from vcsdk.oid4vc import (
    HttpRequest,
    IssuedCredentials,
    parse_credential_offer,
    parse_credential_offer_uri,
    receive_credential,
    run_flow,
    send,
)
from vcsdk.status import HttpStatusListFetcher
from wallet_server.appkeys import CITY

ACTIVE: ResidentRecord = next(e.record for e in SEED_RESIDENTS if e.status == "active")
INACTIVE: ResidentRecord = next(e.record for e in SEED_RESIDENTS if e.status != "active")


def identity(record: ResidentRecord = ACTIVE, **overrides: Any) -> dict[str, Any]:
    """The identity claim an admin submits for ``record`` (exactly as registered unless overridden)."""
    a = record.address
    body = {
        "family_name": record.family_name,
        "given_name": record.given_name,
        "birthdate": record.birthdate.isoformat(),
        "address": f"{a.postal_code} {a.prefecture}{a.city}{a.street}",
    }
    body.update(overrides)
    return body


async def start_issuance(client: TestClient, resident_id: str, **overrides: Any) -> Any:  # type: ignore[type-arg]
    return await client.post(
        "/admin/v1/issuances", json={"resident_id": resident_id, **identity(**overrides)},
        headers=admin_headers(ISSUER_TOKEN),
    )


async def redeem(client: TestClient, offer_uri: str, tx_code: str | None, phone: Phone,  # type: ignore[type-arg]
                 *, extra_signers: int = 0) -> IssuedCredentials:
    """The phone redeems an offer: offer by reference → token (tx_code) → nonce → credential."""
    from vcsdk.keys import Key

    session = client.session
    reference = parse_credential_offer_uri(offer_uri)
    assert isinstance(reference, str)
    offer = parse_credential_offer((await send(session, HttpRequest("GET", reference))).json_object(what="offer"))
    signers = [phone.key] + [Key.generate("P-256") for _ in range(extra_signers)]
    flow = receive_credential(offer, tx_code=tx_code, signers=signers, now=phone.clock)
    return await run_flow(flow, session)


async def issue_to(client: TestClient, phone: Phone, **overrides: Any) -> tuple[str, dict[str, Any]]:  # type: ignore[type-arg]
    """Admin starts issuance, the phone redeems: the credential and the admin's answer."""
    resp = await start_issuance(client, phone.resident_id, **overrides)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["outcome"] == "verified", answer
    issued = await redeem(client, answer["offer"]["offer_uri"], answer["tx_code"], phone)
    return issued.credentials[0], answer


async def verify(client: TestClient, credential: str, phone: Phone, clock: Clock) -> Any:  # type: ignore[type-arg]
    """A verifier's full check of a presentation of ``credential`` at the clock's time."""
    city = await client.server.app[CITY].get()
    now: datetime = clock()
    vp = present(credential, disclose=[("address", "locality")], holder_signer=phone.key, audience="https://shop.test",
                 nonce="n-1", now=now)
    async with HttpStatusListFetcher(allow_loopback_http=True) as fetcher:
        shop = vcsdk.Service.of(did="did:web:shop.test", key=vcsdk.Key.generate("P-256"), resolver=city.resolver,
                                trust=city.trust, status_source=fetcher)
        return await shop.verify(vp, audience="https://shop.test", nonce="n-1", now=now)
