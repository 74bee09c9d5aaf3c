"""Access receipts: signing, and every wallet-side check with its own error class."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.receipts._factories import OTHER_DID, SERVICE_DID, T0, make_consent, make_receipt, service_key
from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.credentials import VerificationPolicy
from vcsdk.errors import (
    ClaimsError,
    ClaimsNotConsentedError,
    ConsentExpiredError,
    ConsentMismatchError,
    ConsentWithdrawnError,
    InvalidInputError,
    InvalidTokenError,
    KeyNotFoundError,
    PurposeNotConsentedError,
    SignatureInvalidError,
    TokenNotYetValidError,
    TokenTypeError,
    UnsupportedAlgorithmError,
    UntrustedKeyError,
    VerificationError,
)
from vcsdk.keys import Key, sign_jws
from vcsdk.receipts import (
    ACCESS_RECEIPT_TYP,
    ConsentRecord,
    issue_access_receipt,
    peek_access_receipt,
    verify_access_receipt,
    verify_access_receipt_resolved,
)

NOW = T0 + timedelta(hours=1)
KEY = service_key()
CONSENT = make_consent()


def _verify(token: str, *, consent: ConsentRecord = CONSENT, key: Key = KEY, **kw: object) -> object:
    return verify_access_receipt(token, consent=consent, service_key=key.public_key(), now=NOW, **kw)  # type: ignore[arg-type]


def _payload(**changes: object) -> dict[str, object]:
    claims = peek_access_receipt(make_receipt(KEY, CONSENT))
    payload: dict[str, object] = {
        "iss": claims.service_did,
        "sub": claims.resident_pseudonym,
        "jti": claims.receipt_id,
        "iat": int(claims.accessed_at.timestamp()),
        "consent_id": claims.consent_id,
        "claims": list(claims.claims_accessed),
        "purpose": claims.purpose,
        "presentation_hash": claims.presentation_hash,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


@pytest.mark.parametrize("curve", ["P-256", "secp256k1", "Ed25519"])
def test_issue_and_verify(curve: str) -> None:
    key = service_key(curve=curve)
    token = make_receipt(key, CONSENT)
    receipt = verify_access_receipt(token, consent=CONSENT, service_key=key.public_key(), now=NOW)
    assert receipt.token == token
    assert receipt.service_did == SERVICE_DID
    assert receipt.resident_pseudonym == CONSENT.resident_pseudonym
    assert receipt.claims_accessed == ("age_over_18",)
    assert receipt.purpose == "age_check" and receipt.consent_id == "consent-1"
    assert receipt.accessed_at == T0 + timedelta(minutes=5)
    assert receipt.kid == f"{SERVICE_DID}#key-1"


def test_access_in_the_same_second_as_a_sub_second_consent() -> None:
    # iat has whole-second precision; a consent given at x.5 s and used at once is not "later".
    given = T0 + timedelta(microseconds=500_000)
    consent = replace(CONSENT, given_at=given)
    token = make_receipt(KEY, consent, at=given)
    receipt = verify_access_receipt(token, consent=consent, service_key=KEY.public_key(), now=given)
    assert receipt.accessed_at == T0
    with pytest.raises(ConsentMismatchError):
        make_receipt(KEY, consent, at=T0 - timedelta(seconds=1))


def test_receipt_carries_no_claim_values_only_names() -> None:
    receipt = peek_access_receipt(make_receipt(KEY, CONSENT, claims=("family_name", "age_over_18")))
    assert receipt.claims_accessed == ("family_name", "age_over_18")
    assert b"Tanaka" not in b64url_decode(receipt.token.split(".")[1])


async def test_verify_with_resolver() -> None:
    class Resolver:
        def __init__(self) -> None:
            self.asked: list[tuple[str, str | None]] = []

        async def resolve_key(
            self, issuer: str, kid: str | None, *, relationship: str = "assertionMethod", at: datetime | None = None
        ) -> Key:
            self.asked.append((issuer, kid))
            if issuer != SERVICE_DID or kid != KEY.kid:
                raise KeyNotFoundError("no such key")
            return KEY.public_key()

    resolver = Resolver()
    token = make_receipt(KEY, CONSENT)
    receipt = await verify_access_receipt_resolved(token, consent=CONSENT, resolver=resolver, now=NOW)
    assert receipt.receipt_id == "receipt-1" and resolver.asked == [(SERVICE_DID, KEY.kid)]
    foreign = service_key(OTHER_DID)
    with pytest.raises(KeyNotFoundError):
        await verify_access_receipt_resolved(
            sign_jws(_payload(), foreign, typ=ACCESS_RECEIPT_TYP), consent=CONSENT, resolver=resolver, now=NOW
        )


# -- one negative test per check ------------------------------------------------------------------


def test_garbage_is_invalid_token() -> None:
    with pytest.raises(InvalidTokenError):
        _verify("not.a-token")


def test_algorithm_outside_policy() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        _verify(make_receipt(KEY, CONSENT), policy=VerificationPolicy(algorithms=("EdDSA",)))


def test_header_key_refused() -> None:
    token = sign_jws(_payload(), KEY, typ=ACCESS_RECEIPT_TYP, header={"jwk": KEY.public_jwk()})
    with pytest.raises(UntrustedKeyError):
        _verify(token)


def test_wrong_typ() -> None:
    with pytest.raises(TokenTypeError):
        _verify(sign_jws(_payload(), KEY, typ="JWT"))


def test_wrong_key_signature() -> None:
    with pytest.raises(SignatureInvalidError):
        _verify(make_receipt(KEY, CONSENT), key=service_key())


def test_tampered_payload() -> None:
    head, body, sig = make_receipt(KEY, CONSENT).split(".")
    forged = b64url_encode(b64url_decode(body).replace(b"age_over_18", b"family_name"))
    with pytest.raises(SignatureInvalidError):
        _verify(f"{head}.{forged}.{sig}")


def test_kid_not_under_service_did() -> None:
    key = KEY.with_kid("did:ethr:0x539:0x3333333333333333333333333333333333333333#key-1")
    with pytest.raises(KeyNotFoundError):
        _verify(sign_jws(_payload(), key, typ=ACCESS_RECEIPT_TYP))


@pytest.mark.parametrize(
    "changes",
    [{"purpose": None}, {"claims": []}, {"claims": ["a", "a"]}, {"iat": "yesterday"}, {"sub": 7}, {"jti": ""}],
    ids=["no-purpose", "no-claims", "repeated-claim", "iat-text", "sub-number", "empty-jti"],
)
def test_malformed_claims(changes: dict[str, object]) -> None:
    with pytest.raises(ClaimsError):
        _verify(sign_jws(_payload(**changes), KEY, typ=ACCESS_RECEIPT_TYP))


def test_access_time_in_future() -> None:
    token = sign_jws(_payload(iat=int((NOW + timedelta(minutes=5)).timestamp())), KEY, typ=ACCESS_RECEIPT_TYP)
    with pytest.raises(TokenNotYetValidError):
        _verify(token)


@pytest.mark.parametrize(
    "changes",
    [
        {"consent_id": "consent-2"},
        {"sub": make_consent(secret=bytes(32)).resident_pseudonym},
        {"presentation_hash": "A" * 43},
        {"iat": int((T0 - timedelta(hours=1)).timestamp())},
    ],
    ids=["other-consent", "other-resident", "other-presentation", "before-consent"],
)
def test_consent_mismatch(changes: dict[str, object]) -> None:
    with pytest.raises(ConsentMismatchError):
        _verify(sign_jws(_payload(**changes), KEY, typ=ACCESS_RECEIPT_TYP))


def test_other_service() -> None:
    other = service_key(OTHER_DID)
    token = sign_jws(_payload(iss=OTHER_DID), other, typ=ACCESS_RECEIPT_TYP)
    with pytest.raises(ConsentMismatchError):
        _verify(token, key=other)


def test_claims_not_disclosed() -> None:
    token = sign_jws(_payload(claims=["age_over_18", "address"]), KEY, typ=ACCESS_RECEIPT_TYP)
    with pytest.raises(ClaimsNotConsentedError) as info:
        _verify(token)
    assert "address" not in str(info.value)


def test_purpose_not_consented() -> None:
    with pytest.raises(PurposeNotConsentedError):
        _verify(sign_jws(_payload(purpose="marketing"), KEY, typ=ACCESS_RECEIPT_TYP))


def test_after_expiry() -> None:
    consent = make_consent(expires_at=T0 + timedelta(minutes=1))
    with pytest.raises(ConsentExpiredError):
        _verify(make_receipt_unchecked(consent), consent=consent)


def test_after_withdrawal() -> None:
    withdrawn = CONSENT.withdraw(now=T0 + timedelta(minutes=1))
    with pytest.raises(ConsentWithdrawnError):
        _verify(make_receipt(KEY, CONSENT), consent=withdrawn)
    # A receipt for an access before the withdrawal stays valid history.
    early = make_receipt(KEY, CONSENT, at=T0 + timedelta(seconds=30))
    assert _verify(early, consent=withdrawn)


def make_receipt_unchecked(consent: ConsentRecord) -> str:
    return make_receipt(KEY, replace(consent, expires_at=None))


# -- the service side refuses to sign what the wallet would refuse --------------------------------


def test_issue_refuses_inconsistent_receipts() -> None:
    with pytest.raises(ClaimsNotConsentedError):
        make_receipt(KEY, CONSENT, claims=("address",))
    with pytest.raises(PurposeNotConsentedError):
        make_receipt(KEY, CONSENT, purpose="marketing")
    with pytest.raises(ConsentWithdrawnError):
        make_receipt(KEY, CONSENT.withdraw(now=T0), at=T0 + timedelta(minutes=1))
    with pytest.raises(InvalidInputError):
        make_receipt(service_key(OTHER_DID), CONSENT)
    with pytest.raises(InvalidInputError):
        issue_access_receipt(
            KEY, consent=CONSENT, receipt_id="r 1", claims=("age_over_18",), purpose="age_check", now=NOW
        )


def test_every_failure_is_a_verification_error_or_invalid_input() -> None:
    token = make_receipt(KEY, CONSENT)
    for i in range(0, len(token), 7):
        damaged = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        with pytest.raises((VerificationError, InvalidInputError, UnsupportedAlgorithmError)):
            _verify(damaged)


@given(st.text(max_size=600))
@example("a.b.c")
@example("eyJhbGciOiJub25lIn0.e30.")
def test_arbitrary_text_raises_only_sdk_errors(text: str) -> None:
    with pytest.raises((VerificationError, InvalidInputError, UnsupportedAlgorithmError)):
        _verify(text)
