"""docs/receipts.md: a shop's DID and key, a resident's pseudonym and presentation; before the
resident's blocks, the receipt is stored by a real outbox (SQLite) and anchored on an embedded chain."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from vcsdk.credentials import StaticKeyResolver
from vcsdk.keys import Key
from vcsdk.outbox import AccessReceiptRegistry, ReceiptOutbox, SqliteReceiptStore
from vcsdk.receipts import resident_pseudonym
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration
from vcsdk.registry import Chain

SHOP_DID = "did:ethr:0x1:0x5b3b0e1d3c2f9a3e4c5d6e7f8091a2b3c4d5e6f7"
WALLET_DID = "did:ethr:0x1:0x00000000000000000000000000000000000000c1"  # the city's DID: its wallet signs


async def setup(ns: dict[str, Any]) -> None:
    key = Key.generate("P-256")
    now = datetime.now(UTC)
    ns["shop_registration"] = RelyingPartyRegistration(
        issuer="did:ethr:0x1:0x00000000000000000000000000000000000000c1", service_did=SHOP_DID,
        registration_id="reg-bookshop", name="Kaga Bookshop", purposes=(Purpose("age_check", "Age check"),),
        claim_sets=(ClaimSet("age", "https://city.example/ResidentIdentityCredential", (("age_over_18",),)),),
        retention_days=30, receipt_endpoint="https://bookshop.example/receipts",
        privacy_policy="https://bookshop.example/privacy", jurisdiction="JP", issued_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=365),
    )
    wallet_key = Key.generate("P-256").with_kid(WALLET_DID + "#city-p256")
    ns.update(wallet_did=WALLET_DID, wallet_key=wallet_key)
    ns.update(shop_did=SHOP_DID, key=key, presentation="eyJ…~WyJ…~eyJ…",
              pseudonym=resident_pseudonym(secrets.token_bytes(32), SHOP_DID),
              key_from_did_document=key.public_key().with_kid(SHOP_DID + "#key-1"),
              resolver=StaticKeyResolver({SHOP_DID: key.with_kid(SHOP_DID + "#key-1"), WALLET_DID: wallet_key}))


async def before(source: str, ns: dict[str, Any]) -> None:
    if "ResidentView(store, registry)" in source:
        chain = await Chain.embedded().__aenter__()
        registry = await AccessReceiptRegistry.deploy(chain, sender=chain.dev_keys[0])
        store = await SqliteReceiptStore.open("receipts.db")
        outbox = ReceiptOutbox(store, registry, batch_size=16, max_age=timedelta(minutes=1), confirmations=1)
        await store.put_consent(ns["consent"])
        now = ns["now"]
        stored = await outbox.accept(ns["token"], service_key=ns["key_from_did_document"], now=now)
        await outbox.drain(now=now + timedelta(minutes=2))
        ns.update(_chain=chain, store=store, registry=registry, pseudonyms=[ns["pseudonym"]],
                  receipt_id=stored.receipt_id, consent_id=ns["consent"].record_id)
    if "verify_inclusion(leaf, proof, root)" in source:
        entry = ns["entry"]
        ns.update(salt=entry.salt, proof=entry.proof)


async def teardown(ns: dict[str, Any]) -> None:
    if "store" in ns:
        await ns["store"].close()
    if "_chain" in ns:
        await ns["_chain"].close()
