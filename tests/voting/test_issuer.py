"""The city issues eligibility after the registry check (the local SOAP registry on 127.0.0.1),
one credential per resident per election, over the OpenID4VCI state machine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from vcsdk.credentials import StaticKeyResolver, StatusListIssuer, VerificationPolicy, peek, verify_credential
from vcsdk.errors import InvalidInputError, NotFoundError, ProtocolError
from vcsdk.keys import Key
from vcsdk.kyc import LocalResidentRegistry, ResidentRegistryClient
from vcsdk.oid4vc import InMemoryStateStore, build_credential_request, create_key_proof
from vcsdk.voting import EligibilityApplication, EligibilityIssuer, EligibilityOffered, NotEligible
from vcsdk.voting._issuer import credential_digest
from vcsdk.voting._ledger import IssuanceLedger

from ._town import T0, VCTS, Clock, application, tsukuba_election
from .conftest import LedgerOpener

CITY = "did:ethr:0x539:0x1111111111111111111111111111111111111111"
ISSUER_URL = "https://city.tsukuba.example/issuer"


@pytest.fixture
async def registry() -> AsyncIterator[ResidentRegistryClient]:
    async with LocalResidentRegistry(port=0) as local, ResidentRegistryClient(local.url) as client:
        yield client


@pytest.fixture
def city_key() -> Key:
    return Key.generate("P-256").with_kid(f"{CITY}#key-1")


@pytest.fixture
async def ledger(open_ledger: LedgerOpener) -> AsyncIterator[IssuanceLedger]:
    opened = await open_ledger()
    try:
        yield opened
    finally:
        await opened.close()


def _issuer(registry: ResidentRegistryClient, city_key: Key, ledger: IssuanceLedger, **kw) -> EligibilityIssuer:  # type: ignore[no-untyped-def]
    return EligibilityIssuer(
        election=tsukuba_election(), registry=registry, issuer=CITY, signer=city_key, credential_issuer=ISSUER_URL,
        store=InMemoryStateStore(), ledger=ledger, clock=Clock(T0), vct=VCTS.voting_eligibility, **kw,
    )


async def _redeem(issuer: EligibilityIssuer, offered: EligibilityOffered, device: Key) -> tuple[str, str]:
    """Token and credential endpoints of the state machine, as a wallet would call them."""
    token = await issuer.oid4vci.token(
        {"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
         "pre-authorized_code": offered.offer.pre_authorized_code, "tx_code": offered.tx_code or ""},
        now=T0,
    )
    return token.access_token, await _credential(issuer, token.access_token, device)


async def _credential(issuer: EligibilityIssuer, access_token: str, device: Key) -> str:
    nonce = (await issuer.oid4vci.nonce(now=T0))["c_nonce"]
    proof = create_key_proof(device, audience=ISSUER_URL, nonce=nonce, now=T0)
    body = build_credential_request("VotingEligibilityCredential", [proof])
    (credential,) = (await issuer.oid4vci.credential(access_token, body, now=T0)).credentials
    return credential


async def test_an_eligible_resident_gets_exactly_one_credential(registry, city_key, ledger) -> None:  # type: ignore[no-untyped-def]
    status = StatusListIssuer("https://city.tsukuba.example/status/1", size=1 << 10)
    issuer = _issuer(registry, city_key, ledger, status_list=status)
    assert issuer.oid4vci.batch_size == 1 and "batch_credential_issuance" not in issuer.oid4vci.metadata()
    offered = await issuer.offer(application("TK-000203"), now=T0)
    assert isinstance(offered, EligibilityOffered) and offered.district == "tsukuba-a"
    assert "TK-000203" not in repr(offered) and offered.tx_code not in repr(offered)
    device = Key.generate("P-256")
    access_token, credential = await _redeem(issuer, offered, device)
    verified = await verify_credential(credential, resolver=StaticKeyResolver({CITY: city_key}), now=T0,
                                       policy=VerificationPolicy(check_status=False))
    assert {k: verified.claims[k] for k in ("election_id", "eligible", "district", "age_over_18")} == {
        "election_id": "tsukuba-2026-mayor", "eligible": True, "district": "tsukuba-a", "age_over_18": True}
    claims = peek(credential).unverified_claims
    assert claims["exp"] == int(issuer.election.closes_at.timestamp())
    assert not {"family_name", "given_name", "birthdate", "address"} & set(claims)
    assert claims["cnf"]["jwk"] == device.public_jwk() and "status" in claims
    # The same access token cannot fetch a second copy (the offer's ticket is single use).
    with pytest.raises(ProtocolError) as second:
        await _credential(issuer, access_token, Key.generate("P-256"))
    assert second.value.code == "invalid_credential_request"
    # Nor can a second offer be made for the same resident and election.
    assert await issuer.offer(application("TK-000203"), now=T0) == NotEligible("already_issued")
    # The city can revoke it through the status list.
    idx = await issuer.revoke("TK-000203", now=T0)
    assert status.status(idx) == "revoked"
    # The ledger knows which resident holds the credential, by its issuer-signed part.
    assert await ledger.resident_of("tsukuba-2026-mayor", credential_digest(credential, "tsukuba-2026-mayor")) == (
        "TK-000203")


async def test_a_restarted_issuer_issues_no_second_credential(registry, city_key, open_ledger) -> None:  # type: ignore[no-untyped-def]
    """The ledger is durable: a new issuer process on the same database refuses the resident."""
    first_ledger = await open_ledger()
    try:
        first = _issuer(registry, city_key, first_ledger)
        offered = await first.offer(application("TK-000206"), now=T0)
        assert isinstance(offered, EligibilityOffered)
        # A second offer made before the first is redeemed, by the process that will restart.
        pending = await first.offer(application("TK-000206"), now=T0)
        assert isinstance(pending, EligibilityOffered)
        await _redeem(first, offered, Key.generate("P-256"))
    finally:
        await first_ledger.close()
    restarted_ledger = await open_ledger()
    try:
        restarted = _issuer(registry, city_key, restarted_ledger)
        assert await restarted.offer(application("TK-000206"), now=T0) == NotEligible("already_issued")
        # The pending offer's state lives in a (new, empty) state store: nothing to redeem; and even
        # an issuer sharing the old state store would be stopped by the ledger.
        first.ledger = restarted_ledger
        with pytest.raises(ProtocolError):
            await _redeem(first, pending, Key.generate("P-256"))
    finally:
        await restarted_ledger.close()


async def test_two_outstanding_offers_give_one_credential(registry, city_key, ledger) -> None:  # type: ignore[no-untyped-def]
    issuer = _issuer(registry, city_key, ledger)
    first = await issuer.offer(application("TK-000205"), now=T0)
    second = await issuer.offer(application("TK-000205"), now=T0)
    assert isinstance(first, EligibilityOffered) and isinstance(second, EligibilityOffered)
    await _redeem(issuer, first, Key.generate("P-256"))
    with pytest.raises(ProtocolError) as info:
        await _redeem(issuer, second, Key.generate("P-256"))
    assert info.value.code == "invalid_credential_request"


@pytest.mark.parametrize(
    ("resident_id", "reason"),
    [
        ("TK-000201", "under_age"),  # 17 on election day
        ("TK-000202", "not_active"),  # moved out
        ("KG-000103", "not_active"),  # deceased
        ("KG-000101", "outside_districts"),  # Kaga
    ],
)
async def test_ineligible_residents_get_no_offer(registry, city_key, ledger, resident_id: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert await _issuer(registry, city_key, ledger).offer(application(resident_id), now=T0) == NotEligible(reason)  # type: ignore[arg-type]


async def test_an_applicant_the_registry_does_not_match_gets_no_offer(registry, city_key, ledger) -> None:  # type: ignore[no-untyped-def]
    wrong = EligibilityApplication(family_name="山﨑", given_name="美咲", birthdate=date(1999, 9, 10),
                                   address="305-0031 茨城県つくば市吾妻三丁目5番地1")
    assert await _issuer(registry, city_key, ledger).offer(wrong, now=T0) == NotEligible("no_match")
    assert "美咲" not in repr(wrong)


async def test_revocation_needs_a_status_list_and_an_issued_credential(registry, city_key, ledger) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError):
        await _issuer(registry, city_key, ledger).revoke("TK-000203", now=T0)
    with_list = _issuer(registry, city_key, ledger, status_list=StatusListIssuer("https://c.example/s", size=64))
    with pytest.raises(NotFoundError):
        await with_list.revoke("TK-000203", now=T0 + timedelta(seconds=1))
