"""Keyset pages of the resident's consents: ordered by ``(created_at, consent_id)``, every row once,
on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from wallet_server.storage import PrivacyRow, Resident, ResidentConsentRow, Store, ViolationRow, WalletDataStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_consents_page_by_time_then_id(store: Store) -> None:
    rid = f"res_{secrets.token_hex(6)}"
    await store.create_resident(Resident(rid, "active", NOW, "k1", b"w" * 40))
    data = WalletDataStore(store)
    # Three share a time (the id breaks the tie), two come later; given out of order.
    times = {"cns_c": NOW, "cns_a": NOW, "cns_b": NOW, "cns_e": NOW + timedelta(seconds=2),
             "cns_d": NOW + timedelta(seconds=1)}
    for consent_id, at in times.items():
        await data.add_consent(ResidentConsentRow(f"{consent_id}_{rid}", rid, "did:example:svc", "prs_1", at))
    seen: list[str] = []
    page = await data.list_consents(rid, limit=2)
    pages = 1
    while page.next_after is not None:
        seen += [r.consent_id for r in page.items]
        assert page.next_after == (page.items[-1].created_at, page.items[-1].consent_id)
        page = await data.list_consents(rid, limit=2, after=page.next_after)
        pages += 1
    seen += [r.consent_id for r in page.items]
    assert seen == [f"{c}_{rid}" for c in ("cns_a", "cns_b", "cns_c", "cns_d", "cns_e")] and pages == 3
    assert (await data.list_consents("res_other", limit=2)).items == ()


async def test_privacy_and_violation_read_together_as_apart(store: Store) -> None:
    """A request's screening reads the resident's choices and the service's violations in one
    statement: the same answers as get_privacy and service_has_violation."""
    rid = f"res_{secrets.token_hex(6)}"
    await store.create_resident(Resident(rid, "active", NOW, "k1", b"w" * 40))
    data = WalletDataStore(store)
    assert await data.privacy_and_violation(rid, "did:example:svc") == (None, False)
    await data.add_violation(ViolationRow("vio_1", rid, "did:example:bad", "receipt_missing", "x", "prs_1", NOW))
    assert await data.privacy_and_violation(rid, "did:example:bad") == (None, True)
    assert await data.privacy_and_violation(rid, "did:example:svc") == (None, False)
    await data.set_privacy(PrivacyRow(rid, False, "per_service", NOW))
    for did in ("did:example:bad", "did:example:svc"):
        together = await data.privacy_and_violation(rid, did)
        assert together == (await data.get_privacy(rid), await data.service_has_violation(rid, did))
    assert (await data.privacy_and_violation(rid, "did:example:bad"))[0] == PrivacyRow(rid, False, "per_service", NOW)
