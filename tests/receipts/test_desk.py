"""The service's receipt desk: one receipt per presentation, the same one on every repeat, kept until
the wallet confirms and then forgotten; a purge forgets the unconfirmed ones past the retention; the
consents it holds, and one withdrawal receipt for the withdrawal of exactly one of them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.receipts._factories import T0, make_consent, service_key
from vcsdk.errors import ConflictError, ConsentMismatchError, InvalidInputError, NotFoundError
from vcsdk.receipts import (
    InMemoryKeptReceipts,
    ReceiptDesk,
    peek_access_receipt,
    verify_access_receipt,
    verify_withdrawal_receipt,
)


async def test_the_same_presentation_gets_the_same_receipt() -> None:
    key = service_key()
    desk = ReceiptDesk(key)
    consent = make_consent()
    first = await desk.receipt("req-1", consent=consent, claims=["age_over_18"], purpose="age_check", now=T0)
    later = T0 + timedelta(minutes=1)
    again = await desk.receipt("req-1", consent=consent, claims=["age_over_18"], purpose="age_check", now=later)
    assert again == first and await desk.again("req-1", consent_id=consent.record_id) == first
    receipt = verify_access_receipt(first, consent=consent, service_key=key, now=T0)
    assert receipt.purpose == "age_check" and receipt.receipt_id.startswith("rcpt-")
    other = await desk.receipt("req-2", consent=consent, claims=["age_over_18"], purpose="age_check", now=T0)
    assert peek_access_receipt(other).receipt_id != receipt.receipt_id


async def test_concurrent_requests_sign_one_receipt() -> None:
    desk = ReceiptDesk(service_key())
    consent = make_consent()
    tokens = await asyncio.gather(
        *(desk.receipt("req-1", consent=consent, claims=["age_over_18"], purpose="age_check", now=T0) for _ in range(8))
    )
    assert len(set(tokens)) == 1


async def test_kept_until_confirmed_and_another_consent_is_refused() -> None:
    desk = ReceiptDesk(service_key(), store=InMemoryKeptReceipts())
    consent = make_consent()
    await desk.receipt("req-1", consent=consent, claims=["age_over_18"], purpose="age_check", now=T0)
    with pytest.raises(ConflictError):
        await desk.receipt(
            "req-1", consent=make_consent(record_id="consent-2"), claims=["age_over_18"], purpose="age_check", now=T0
        )
    # Someone who read the request link (its id) but does not name the consent gets nothing.
    for stranger in (None, "", "consent-2", consent.record_id + "x", "\udcff\udcfe", "名前"):
        with pytest.raises(NotFoundError):
            await desk.again("req-1", consent_id=stranger)
        with pytest.raises(NotFoundError):
            await desk.confirmed("req-1", consent_id=stranger)
    assert await desk.again("req-1", consent_id=consent.record_id)  # still kept
    await desk.confirmed("req-1", consent_id=consent.record_id)
    await desk.confirmed("req-1", consent_id=consent.record_id)  # a repeated confirmation is harmless
    with pytest.raises(NotFoundError) as caught:
        await desk.again("req-1", consent_id=consent.record_id)
    assert caught.value.code == "not_found"
    with pytest.raises(InvalidInputError):
        await desk.again("", consent_id=consent.record_id)


async def test_purge_forgets_unconfirmed_receipts_past_the_retention() -> None:
    desk = ReceiptDesk(service_key(), retention=timedelta(days=1))
    consent = make_consent()
    await desk.receipt("old", consent=consent, claims=["age_over_18"], purpose="age_check", now=T0)
    await desk.receipt("new", consent=consent, claims=["age_over_18"], purpose="age_check", now=T0 + timedelta(days=1))
    assert await desk.purge(now=T0 + timedelta(days=1, hours=1)) == 1
    with pytest.raises(NotFoundError):
        await desk.again("old", consent_id=consent.record_id)
    assert await desk.again("new", consent_id=consent.record_id)


async def test_a_withdrawal_of_the_consent_held_gets_one_signed_receipt() -> None:
    key = service_key()
    desk = ReceiptDesk(key)
    consent = make_consent()
    withdrawn = consent.withdraw(now=T0 + timedelta(days=1))
    later = T0 + timedelta(days=1, minutes=1)
    with pytest.raises(NotFoundError):  # a service accepts only the withdrawal of a consent it holds
        await desk.withdrawal(withdrawn, evidence="signed-withdrawal", now=later)
    await desk.hold(consent, evidence="signed-consent")
    await desk.hold(consent, evidence="signed-consent")  # a repeated post changes nothing
    with pytest.raises(ConsentMismatchError):  # another consent's withdrawal, under the held id
        other = make_consent(secret=bytes(range(2, 34))).withdraw(now=T0 + timedelta(days=1))
        await desk.withdrawal(other, evidence="forged", now=later)
    with pytest.raises(ConsentMismatchError):  # not a withdrawal
        await desk.withdrawal(consent, evidence="signed-consent", now=later)
    first = await desk.withdrawal(withdrawn, evidence="signed-withdrawal", now=later)
    again = await desk.withdrawal(withdrawn, evidence="signed-withdrawal", now=later + timedelta(minutes=5))
    assert again == first  # delivered again: the same receipt, never a second one
    receipt = verify_withdrawal_receipt(first, consent=withdrawn, service_key=key, now=later)
    assert receipt.receipt_id.startswith("wdr-")
    held = await desk.consents.get(consent.record_id)
    assert held is not None and held.record == withdrawn and held.evidence == "signed-withdrawal"
    await desk.hold(consent, evidence="signed-consent")  # a late repeat of the consent stays withdrawn
    assert (await desk.consents.get(consent.record_id)) == held
    with pytest.raises(ConflictError):  # withdrawn at another time
        await desk.withdrawal(consent.withdraw(now=T0 + timedelta(hours=1)), evidence="x", now=later)
    with pytest.raises(ConflictError):  # another record under a held id
        await desk.hold(make_consent(record_id="consent-2"), evidence="a")
        await desk.hold(make_consent(record_id="consent-2", secret=bytes(range(1, 33))), evidence="b")
