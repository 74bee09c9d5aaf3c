"""Relying-party registration: signing, every verification check with its own error, request checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.credentials import VerificationPolicy
from vcsdk.errors import (
    ClaimsError,
    InvalidInputError,
    InvalidTokenError,
    KeyNotFoundError,
    RegistrationError,
    RequestNotRegisteredError,
    ServiceNotRegisteredError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenNotYetValidError,
    TokenTypeError,
    UnsupportedAlgorithmError,
    UntrustedKeyError,
    VerificationError,
)
from vcsdk.keys import Key, sign_jws
from vcsdk.oid4vc import parse_dcql_query
from vcsdk.registration import (
    REGISTRATION_TYP,
    ClaimSet,
    Purpose,
    RelyingPartyRegistration,
    check_request,
    issue_registration,
    peek_registration,
    verify_registration,
)

CITY_DID = "did:ethr:0x539:0x1000000000000000000000000000000000000001"
SHOP_DID = "did:ethr:0x539:0x2000000000000000000000000000000000000002"
OTHER_DID = "did:ethr:0x539:0x3000000000000000000000000000000000000003"
VCT = "https://city.example/credentials/ResidentIdentityCredential"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
CITY_KEY = Key.generate("secp256k1").with_kid(CITY_DID + "#controller")


def registration(**changes: Any) -> RelyingPartyRegistration:
    base = RelyingPartyRegistration(
        issuer=CITY_DID,
        service_did=SHOP_DID,
        registration_id="reg-shop-1",
        name="Kaga Onsen Shop",
        purposes=(Purpose("age_check", "Selling sake requires age 20 or over"),),
        claim_sets=(
            ClaimSet("age", VCT, (("age_equal_or_over", "20"),)),
            ClaimSet("locality", VCT, (("address", "locality"),)),
        ),
        retention_days=30,
        receipt_endpoint="https://shop.example/receipts",
        privacy_policy="https://shop.example/privacy",
        jurisdiction="JP-17",
        issued_at=T0,
        expires_at=T0 + timedelta(days=365),
    )
    return replace(base, **changes)


def token(reg: RelyingPartyRegistration | None = None, key: Key = CITY_KEY) -> str:
    return issue_registration(key, reg or registration())


def verify(tok: str, *, key: Key = CITY_KEY, now: datetime = T0 + timedelta(days=1)) -> RelyingPartyRegistration:
    return verify_registration(tok, city_did=CITY_DID, city_key=key.public_key(), now=now)


def query(*paths: list[Any], vct: str = VCT, claims: bool = True) -> Any:
    cq: dict[str, Any] = {"id": "q", "format": "dc+sd-jwt", "meta": {"vct_values": [vct]}}
    if claims:
        cq["claims"] = [{"path": p} for p in paths]
    return parse_dcql_query({"credentials": [cq]})


def test_round_trip() -> None:
    reg = registration(recipients=("Kaga Delivery",), status={"status_list": {"idx": 7, "uri": "https://c/s/1"}})
    assert verify(token(reg)) == reg
    assert peek_registration(token(reg)) == reg


def test_sign_refuses_a_key_of_another_did() -> None:
    with pytest.raises(InvalidInputError):
        issue_registration(Key.generate("P-256").with_kid(OTHER_DID + "#k"), registration())


def _resign(payload: dict[str, Any], *, key: Key = CITY_KEY, typ: str = REGISTRATION_TYP, **header: Any) -> str:
    return sign_jws(payload, key, typ=typ, header=header)


def _payload(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(registration().to_claims())
    out.update(changes)
    return out


def test_every_check_has_its_own_error() -> None:
    good = token()
    h, p, s = good.split(".")
    cases: list[tuple[str, type[Exception]]] = [
        ("not a jws", InvalidTokenError),
        (_resign(_payload(), typ="JWT"), TokenTypeError),
        (f"{h}.{p}.{b64url_encode(bytes(64))}", SignatureInvalidError),
        (_resign(_payload(), jwk={"kty": "EC"}), UntrustedKeyError),
        (_resign(_payload(), key=Key.generate("secp256k1").with_kid(CITY_DID + "#controller")), SignatureInvalidError),
        (_resign(_payload(), key=CITY_KEY.with_kid(OTHER_DID + "#controller")), KeyNotFoundError),
        (_resign(_payload(name="")), ClaimsError),
        (_resign({k: v for k, v in _payload().items() if k != "claim_sets"}), ClaimsError),
        (_resign(_payload(iss=OTHER_DID)), ServiceNotRegisteredError),
        (_resign(_payload(iat=int((T0 + timedelta(days=3)).timestamp()))), TokenNotYetValidError),
        (_resign(_payload(exp=int((T0 + timedelta(hours=1)).timestamp()))), TokenExpiredError),
    ]
    for tok, error in cases:
        with pytest.raises(error):
            verify(tok)
    header = {"alg": "HS256", "typ": REGISTRATION_TYP, "kid": CITY_DID + "#controller"}
    hs = b64url_encode(repr(header).replace("'", '"').encode()) + "." + p + "." + s
    with pytest.raises(UnsupportedAlgorithmError):
        verify(hs)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"retention_days": -1}, "retention_days"),
        ({"retention_days": True}, "retention_days"),
        ({"receipt_endpoint": "http://shop.example/r"}, "receipt_endpoint"),
        ({"privacy_policy": "javascript:alert(1)"}, "privacy_policy"),
        ({"jurisdiction": "Japan"}, "jurisdiction"),
        ({"purposes": ()}, "purposes"),
        ({"expires_at": T0}, "expire"),
        ({"service_did": "shop"}, "DID"),
    ],
)
def test_registration_fields_are_checked(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        registration(**bad)


def test_claim_set_ids_must_be_unique_and_paths_valid() -> None:
    with pytest.raises(InvalidInputError):
        registration(claim_sets=(ClaimSet("a", VCT, (("x",),)), ClaimSet("a", VCT, (("y",),))))
    with pytest.raises(InvalidInputError):
        ClaimSet("a", VCT, ((),))
    with pytest.raises(InvalidInputError):
        ClaimSet("a", VCT, ((True,),))  # type: ignore[arg-type]


def test_request_inside_the_registration_passes() -> None:
    reg = registration()
    got = check_request(
        reg, service_did=SHOP_DID, credentials=query(["age_equal_or_over", "20"]).credentials, purpose="age_check"
    )
    assert got is reg


def test_unregistered_and_foreign_registrations_are_refused() -> None:
    creds = query(["age_equal_or_over", "20"]).credentials
    with pytest.raises(ServiceNotRegisteredError, match="not registered"):
        check_request(None, service_did=SHOP_DID, credentials=creds, purpose="age_check")
    with pytest.raises(ServiceNotRegisteredError, match="another service"):
        check_request(registration(), service_did=OTHER_DID, credentials=creds, purpose="age_check")


@pytest.mark.parametrize(
    ("q", "purpose", "named"),
    [
        (query(["family_name"]), "age_check", "family_name"),
        (query(["address"]), "age_check", "address"),  # the whole address, not only its locality
        (query(["age_equal_or_over", "20"], ["birthdate"]), "age_check", "birthdate"),
        (query(["age_equal_or_over", "20"], vct="https://other.example/Vct"), "age_check", "type"),
        (query(claims=False), "age_check", "whole credential"),
        (query(["age_equal_or_over", "20"]), "marketing", "purpose"),
        (query(["age_equal_or_over", "20"]), None, "purpose"),
    ],
)
def test_over_asking_is_refused_with_a_readable_reason(q: Any, purpose: str | None, named: str) -> None:
    with pytest.raises(RequestNotRegisteredError) as info:
        check_request(registration(), service_did=SHOP_DID, credentials=q.credentials, purpose=purpose)
    assert named in info.value.message and "Kaga Onsen Shop" in info.value.message
    assert isinstance(info.value, RegistrationError) and isinstance(info.value, VerificationError)


def test_array_wildcards_and_indexes() -> None:
    reg = registration(claim_sets=(ClaimSet("nat", VCT, (("nationalities", None),)),))
    assert reg.permits(VCT, ("nationalities", 0)) and reg.permits(VCT, ("nationalities", None))
    assert not reg.permits(VCT, ("nationalities",))
    one = registration(claim_sets=(ClaimSet("nat", VCT, (("nationalities", 0),)),))
    assert not one.permits(VCT, ("nationalities", None)) and not one.permits(VCT, ("nationalities", 1))


def test_claim_names_map_to_claim_sets() -> None:
    reg = registration()
    assert reg.claim_set_ids(["age_equal_or_over.20"]) == ("age",)
    assert reg.claim_set_ids(["address.locality", "age_equal_or_over.20"]) == ("age", "locality")
    assert reg.claim_set_ids(["address"]) == ()  # a broader claim is in no set
    assert reg.claim_set_ids(["family_name"]) == ()


@given(st.text(max_size=300))
def test_peek_raises_only_input_errors_on_any_text(text: str) -> None:
    try:
        peek_registration(text)
    except (InvalidTokenError, ClaimsError):
        pass


@given(st.dictionaries(st.sampled_from(list(_payload())), st.none() | st.integers() | st.text(max_size=5)))
def test_any_damaged_payload_is_a_claims_error(changes: dict[str, Any]) -> None:
    tok = _resign(_payload(**changes))
    try:
        verify(tok)
    except VerificationError:
        pass


def test_payload_is_not_personal_data() -> None:
    claims = peek_registration(token())
    body = b64url_decode(token().split(".")[1], what="payload").decode()
    assert claims.service_did in body and "resident" not in body


def test_a_registration_verified_once_is_still_checked_at_every_use() -> None:
    """The wallet keeps the verified signature of a registration it has seen; what depends on the
    time, the key, the city or the algorithms is checked on every call, and a failure is never kept."""
    tok = token()
    other = Key.generate("secp256k1").with_kid(CITY_DID + "#controller")
    # A failure first (another key), then the right key: the failure was not kept.
    with pytest.raises(SignatureInvalidError):
        verify(tok, key=other)
    assert verify(tok).name == "Kaga Onsen Shop"
    # Verified before: still refused with another key, at a time outside the window, or for another city.
    with pytest.raises(SignatureInvalidError):
        verify(tok, key=other)
    with pytest.raises(TokenExpiredError):
        verify(tok, now=T0 + timedelta(days=366))
    with pytest.raises(TokenNotYetValidError):
        verify(tok, now=T0 - timedelta(days=1))
    with pytest.raises(KeyNotFoundError):
        verify_registration(tok, city_did=OTHER_DID, city_key=CITY_KEY.public_key(), now=T0 + timedelta(days=1))
    with pytest.raises(UnsupportedAlgorithmError):
        verify_registration(tok, city_did=CITY_DID, city_key=CITY_KEY.public_key(), now=T0 + timedelta(days=1),
                            policy=VerificationPolicy(algorithms=("ES256",)))
    assert verify(tok).name == "Kaga Onsen Shop"


def test_each_caller_gets_its_own_status_entry() -> None:
    """The verified registration is kept per process; what a caller does with its status entry
    does not reach the next caller."""
    entry = {"status_list": {"idx": 7, "uri": "https://city.example/status/1"}}
    tok = token(registration(status=entry))
    first = verify(tok)
    assert first.status == entry
    first.status["status_list"]["uri"] = "https://elsewhere.example/"  # type: ignore[index]
    assert verify(tok).status == entry
