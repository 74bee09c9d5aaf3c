"""Signed consent records and withdrawals: the wallet signs, the service checks and answers with a
signed withdrawal receipt, the wallet verifies it and the outbox anchors it like an access receipt."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.receipts._factories import OTHER_DID, SERVICE_DID, T0, make_consent, make_receipt, service_key
from vcsdk._b64 import b64url_encode
from vcsdk.credentials import StaticKeyResolver
from vcsdk.errors import (
    ClaimsError,
    ConflictError,
    ConsentMismatchError,
    ConsentWithdrawnError,
    InvalidInputError,
    KeyNotFoundError,
    SignatureInvalidError,
    TokenNotYetValidError,
    TokenTypeError,
    UnsupportedAlgorithmError,
    UntrustedKeyError,
)
from vcsdk.keys import Key, sign_jws
from vcsdk.outbox import ReceiptOutbox, ResidentView, SqliteReceiptStore
from vcsdk.receipts import (
    CONSENT_RECORD_TYP,
    WITHDRAWAL_RECEIPT_TYP,
    accept_withdrawal,
    issue_withdrawal_receipt,
    peek_access_receipt,
    peek_consent_record,
    sign_consent_record,
    verify_access_receipt,
    verify_consent_record,
    verify_consent_record_resolved,
    verify_withdrawal_receipt,
)
from vcsdk.registry import Chain

WALLET_DID = "did:ethr:0x539:0x1000000000000000000000000000000000000001"
WALLET_KEY = Key.generate("P-256").with_kid(WALLET_DID + "#wallet")
SERVICE_KEY = service_key()
GIVEN = make_consent()
AT = T0 + timedelta(days=2)
WITHDRAWN = GIVEN.withdraw(now=AT)


def _verify_record(token: str, key: Key = WALLET_KEY):  # type: ignore[no-untyped-def]
    return verify_consent_record(token, wallet_did=WALLET_DID, wallet_key=key.public_key())


def test_the_wallet_signs_and_the_service_verifies_the_record() -> None:
    token = sign_consent_record(GIVEN, WALLET_KEY)
    assert _verify_record(token) == GIVEN and peek_consent_record(token) == GIVEN
    with pytest.raises(InvalidInputError):
        sign_consent_record(GIVEN, Key.generate("P-256"))  # no DID URL kid


async def test_resolved_verification_and_every_check() -> None:
    token = sign_consent_record(GIVEN, WALLET_KEY)
    resolver = StaticKeyResolver({WALLET_DID: WALLET_KEY})
    assert await verify_consent_record_resolved(token, wallet_did=WALLET_DID, resolver=resolver) == GIVEN
    with pytest.raises(KeyNotFoundError):
        await verify_consent_record_resolved(token, wallet_did=OTHER_DID, resolver=resolver)
    h, p, _ = token.split(".")
    payload = dict(GIVEN.to_json())
    cases: list[tuple[str, type[Exception]]] = [
        (f"{h}.{p}.{b64url_encode(bytes(64))}", SignatureInvalidError),
        (sign_jws(payload, WALLET_KEY, typ="JWT"), TokenTypeError),
        (sign_jws(payload, WALLET_KEY, typ=CONSENT_RECORD_TYP, header={"jwk": {}}), UntrustedKeyError),
        (sign_jws(payload, WALLET_KEY.with_kid(OTHER_DID + "#k"), typ=CONSENT_RECORD_TYP), KeyNotFoundError),
        (sign_jws({**payload, "retention_days": "forever"}, WALLET_KEY, typ=CONSENT_RECORD_TYP), InvalidInputError),
    ]
    for bad, error in cases:
        with pytest.raises(error):
            _verify_record(bad)
    with pytest.raises(UnsupportedAlgorithmError):
        _verify_record(token, key=Key.generate("secp256k1").with_kid(WALLET_DID + "#wallet"))


def test_the_service_accepts_exactly_the_withdrawal_of_what_it_holds() -> None:
    delivered = _verify_record(sign_consent_record(WITHDRAWN, WALLET_KEY))
    assert accept_withdrawal(GIVEN, delivered, now=AT + timedelta(seconds=5)) == WITHDRAWN
    assert accept_withdrawal(WITHDRAWN, delivered, now=AT + timedelta(hours=1)) == WITHDRAWN  # redelivery
    with pytest.raises(ConsentMismatchError, match="not a withdrawal"):
        accept_withdrawal(GIVEN, GIVEN, now=AT)
    widened = replace(WITHDRAWN, claims_disclosed=("family_name", "age_over_18", "address"))
    for changed in (widened, replace(WITHDRAWN, retention_days=3650), make_consent(record_id="other").withdraw(now=AT)):
        with pytest.raises(ConsentMismatchError):
            accept_withdrawal(GIVEN, changed, now=AT)
    with pytest.raises(TokenNotYetValidError):
        accept_withdrawal(GIVEN, GIVEN.withdraw(now=AT + timedelta(hours=1)), now=AT)
    with pytest.raises(ConflictError):
        accept_withdrawal(WITHDRAWN, GIVEN.withdraw(now=AT + timedelta(hours=1)), now=AT + timedelta(hours=2))


def test_withdrawal_receipts_and_every_check() -> None:
    token = issue_withdrawal_receipt(SERVICE_KEY, consent=WITHDRAWN, receipt_id="w-1", now=AT + timedelta(seconds=3))
    receipt = verify_withdrawal_receipt(token, consent=WITHDRAWN, service_key=SERVICE_KEY.public_key(), now=AT)
    assert receipt.kind == "withdrawal" and receipt.claims_accessed == () and receipt.consent_id == GIVEN.record_id
    assert peek_access_receipt(token).kind == "withdrawal"
    # Neither kind passes for the other.
    with pytest.raises(TokenTypeError):
        verify_access_receipt(token, consent=WITHDRAWN, service_key=SERVICE_KEY.public_key(), now=AT)
    with pytest.raises(InvalidInputError):
        issue_withdrawal_receipt(SERVICE_KEY, consent=GIVEN, receipt_id="w-2", now=AT)
    with pytest.raises(InvalidInputError):
        issue_withdrawal_receipt(SERVICE_KEY, consent=WITHDRAWN, receipt_id="w-2", now=AT - timedelta(hours=1))
    with pytest.raises(InvalidInputError):
        issue_withdrawal_receipt(service_key(OTHER_DID), consent=WITHDRAWN, receipt_id="w-2", now=AT)
    claims = peek_access_receipt(token)
    base = {
        "iss": SERVICE_DID, "sub": claims.resident_pseudonym, "jti": "w-3", "iat": int(AT.timestamp()),
        "consent_id": GIVEN.record_id, "presentation_hash": GIVEN.presentation_hash,
        "withdrawn_at": int(AT.timestamp()), "record_hash": _record_hash(),
    }
    bad: list[tuple[dict[str, object], type[Exception]]] = [
        ({"record_hash": b64url_encode(bytes(32))}, ConsentMismatchError),  # another version of the record
        ({"withdrawn_at": int(AT.timestamp()) + 60}, ConsentMismatchError),
        ({"consent_id": "other"}, ConsentMismatchError),
        ({"sub": "A" * 43}, ConsentMismatchError),
        ({"iat": int(AT.timestamp()) - 3600}, ConsentMismatchError),
        ({"iat": int(AT.timestamp()) + 7200}, TokenNotYetValidError),
        ({"record_hash": 7}, ClaimsError),
    ]
    for change, error in bad:
        forged = sign_jws({**base, **change}, SERVICE_KEY, typ=WITHDRAWAL_RECEIPT_TYP)
        with pytest.raises(error):
            verify_withdrawal_receipt(forged, consent=WITHDRAWN, service_key=SERVICE_KEY.public_key(), now=AT)
    assert verify_withdrawal_receipt(
        sign_jws(base, SERVICE_KEY, typ=WITHDRAWAL_RECEIPT_TYP), consent=WITHDRAWN,
        service_key=SERVICE_KEY.public_key(), now=AT,
    ).receipt_id == "w-3"


def _record_hash() -> str:
    import hashlib

    return b64url_encode(hashlib.sha256(WITHDRAWN.to_bytes()).digest())


async def test_the_outbox_anchors_withdrawal_receipts_like_access_receipts(tmp_path: Path) -> None:
    store = await SqliteReceiptStore.open(str(tmp_path / "outbox.db"))
    async with Chain.embedded() as chain:
        from vcsdk.outbox import AccessReceiptRegistry

        registry = await AccessReceiptRegistry.deploy(chain, sender=chain.dev_keys[0])
        outbox = ReceiptOutbox(store, registry, batch_size=2, confirmations=1)
        await store.put_consent(GIVEN)
        access = make_receipt(SERVICE_KEY, GIVEN, receipt_id="a-1", at=T0 + timedelta(hours=1))
        await outbox.accept(access, service_key=SERVICE_KEY.public_key(), now=AT)
        view = ResidentView(store, registry)
        await view.withdraw(GIVEN.record_id, pseudonyms=[GIVEN.resident_pseudonym], now=AT)
        withdrawal = issue_withdrawal_receipt(
            SERVICE_KEY, consent=await store.get_consent(GIVEN.record_id), receipt_id="w-1", now=AT
        )
        stored = await outbox.accept(withdrawal, service_key=SERVICE_KEY.public_key(), now=AT)
        assert stored.receipt.kind == "withdrawal"
        late = make_receipt(SERVICE_KEY, GIVEN, receipt_id="a-2", at=T0 + timedelta(hours=2))
        with pytest.raises(ConsentWithdrawnError):
            await outbox.accept(
                sign_jws(
                    {**_claims_of(late), "iat": int((AT + timedelta(hours=1)).timestamp())},
                    SERVICE_KEY, typ="access-receipt+jwt",
                ),
                service_key=SERVICE_KEY.public_key(), now=AT + timedelta(hours=2),
            )
        report = await outbox.drain(now=AT + timedelta(hours=1))
        assert report.open_batches == 0
        entries = await view.list([GIVEN.resident_pseudonym])
        assert {(e.receipt.receipt_id, e.receipt.kind, e.state) for e in entries} == {
            ("a-1", "access", "final"), ("w-1", "withdrawal", "final"),
        }
        proof = await view.get("w-1", pseudonyms=[GIVEN.resident_pseudonym])
        assert proof.proof is not None and proof.state == "final"
    await store.close()


def _claims_of(token: str) -> dict[str, object]:
    from vcsdk.keys import decode_jws

    return decode_jws(token).unverified_claims()
