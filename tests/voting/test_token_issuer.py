"""The city's ballot-token issuer without HTTP: every refusal with its own class and code, one blind
signature per resident (retries answered the same), per-district keys, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import pytest

from vcsdk.blindrsa import blind_sign
from vcsdk.credentials import StaticKeyResolver, issue_sd_jwt_vc, present
from vcsdk.errors import (
    AudienceMismatchError,
    ClaimsError,
    ConflictError,
    InvalidInputError,
    IssuerNotAccreditedError,
    NotEligibleError,
    ProtocolError,
    SignatureInvalidError,
    TokenAlreadyIssuedError,
)
from vcsdk.keys import Key
from vcsdk.kyc import ResidentStatus
from vcsdk.voting import (
    ELIGIBILITY_CLAIMS,
    BallotTokenIssuer,
    CommittedTokenKey,
    IssuanceLedger,
    begin_token,
    finish_token,
    generate_token_keys,
    verify_ballot_token,
)
from vcsdk.voting._issuer import credential_digest

from ._town import T0, VCTS, Clock, tsukuba_election
from .conftest import LedgerOpener

ELECTION = tsukuba_election()
CITY = "did:ethr:0x539:0x1111111111111111111111111111111111111111"
OTHER = "did:ethr:0x539:0x3333333333333333333333333333333333333333"
AUDIENCE = "https://city.tsukuba.example/voting/ballot-tokens"
VCT = VCTS.voting_eligibility
GOOD = {"election_id": ELECTION.election_id, "eligible": True, "district": "tsukuba-a", "age_over_18": True}
KEYS = generate_token_keys(ELECTION)
DISTRICT_KEYS = generate_token_keys(ELECTION, per_district=True)


@dataclass
class City:
    issuer: BallotTokenIssuer
    ledger: IssuanceLedger
    city_key: Key
    other_key: Key
    clock: Clock

    def credential(self, claims: dict[str, Any] | None = None, *, issuer: str = CITY, key: Key | None = None,
                   vct: str = VCT, holder: Key) -> str:
        claims = claims or GOOD
        return issue_sd_jwt_vc(claims, issuer=issuer, signer=key or self.city_key, vct=vct,
                               disclosable=[[k] for k in claims], holder_key=holder, now=self.clock())

    async def enrol(self, resident_id: str, credential: str) -> None:
        """What the EligibilityIssuer records when it issues the credential."""
        await self.ledger.record_credential(ELECTION.election_id, resident_id,
                                            credential_digest=credential_digest(credential, ELECTION.election_id),
                                            status_index=None)

    async def ask(self, credential: str, holder: Key, *, blinded: bytes | None = None, audience: str = AUDIENCE,
                  district: str | None = None) -> tuple[bytes, bytes]:
        key = self.issuer.token_keys[district]
        pending = begin_token(key, election=ELECTION, district=district,
                              committed=CommittedTokenKey(key.slot, key.digest, 1, ELECTION.opens_at))
        nonce, _ = await self.issuer.nonce(now=self.clock())
        vp = present(credential, disclose=ELIGIBILITY_CLAIMS, holder_signer=holder, audience=audience, nonce=nonce,
                     now=self.clock())
        blinded = blinded or pending.blinded_msg
        sig = await self.issuer.issue(vp, nonce=nonce, blinded_msg=blinded, now=self.clock())
        if blinded == pending.blinded_msg:
            token = finish_token(pending, sig)
            assert verify_ballot_token(token, election_id=ELECTION.election_id, keys=self.issuer.token_keys)
        return blinded, sig


def _issuer(ledger: IssuanceLedger, clock: Clock, city_key: Key, other_key: Key, **kw: Any) -> BallotTokenIssuer:
    kw.setdefault("keys", KEYS)
    return BallotTokenIssuer(election=ELECTION, ledger=ledger, audience=AUDIENCE,
                             resolver=StaticKeyResolver({CITY: city_key, OTHER: other_key}), issuers=[CITY], vct=VCT,
                             status=None, clock=clock, **kw)


@pytest.fixture
async def city(open_ledger: LedgerOpener) -> AsyncIterator[City]:
    ledger = await open_ledger()
    clock = Clock(T0 - timedelta(hours=2))
    city_key = Key.generate("P-256").with_kid(f"{CITY}#key-1")
    other_key = Key.generate("P-256").with_kid(f"{OTHER}#key-1")
    try:
        yield City(_issuer(ledger, clock, city_key, other_key), ledger, city_key, other_key, clock)
    finally:
        await ledger.close()


async def test_one_signature_per_resident_and_retries_get_the_same(city: City) -> None:
    holder = Key.generate("P-256")
    vc = city.credential(holder=holder)
    await city.enrol("TK-000203", vc)
    blinded, first = await city.ask(vc, holder)
    # The same request again (the answer was lost): the same signature.
    assert (await city.ask(vc, holder, blinded=blinded))[1] == first
    assert first == blind_sign(KEYS[None], blinded)
    # Another blinded message for the same resident: refused, typed.
    with pytest.raises(TokenAlreadyIssuedError) as info:
        await city.ask(vc, holder)
    assert info.value.code == "token_already_issued"
    assert await city.ledger.tokens_issued(ELECTION.election_id) == 1


async def test_a_credential_the_ledger_does_not_know_is_refused(city: City) -> None:
    holder = Key.generate("P-256")
    with pytest.raises(NotEligibleError) as info:
        await city.ask(city.credential(holder=holder), holder)
    assert info.value.code == "not_eligible"


async def test_untrusted_issuer_forged_signature_and_other_type_are_refused(city: City) -> None:
    holder = Key.generate("P-256")
    cases = [
        (city.credential(issuer=OTHER, key=city.other_key, holder=holder), IssuerNotAccreditedError),
        (city.credential(key=Key.generate("P-256").with_kid(f"{CITY}#key-1"), holder=holder), SignatureInvalidError),
        (city.credential(vct=VCTS.resident_identity, holder=holder), ClaimsError),
    ]
    for n, (vc, error) in enumerate(cases):
        await city.enrol(f"R-{n}", vc)
        with pytest.raises(error):
            await city.ask(vc, holder)
    assert await city.ledger.tokens_issued(ELECTION.election_id) == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"election_id": "kaga-2026-council"}, "wrong_election"),
        ({"eligible": False}, "not_eligible"),
        ({"district": "kaga-1"}, "wrong_district"),
        ({"age_over_18": False}, "under_age"),
    ],
)
async def test_ineligible_claims_are_refused(city: City, change: dict, code: str) -> None:
    holder = Key.generate("P-256")
    vc = city.credential({**GOOD, **change}, holder=holder)
    await city.enrol("TK-000203", vc)
    with pytest.raises(ClaimsError) as info:
        await city.ask(vc, holder)
    assert info.value.code == code


async def test_key_binding_must_name_this_issuer_and_use_a_fresh_nonce(city: City) -> None:
    holder = Key.generate("P-256")
    vc = city.credential(holder=holder)
    await city.enrol("TK-000203", vc)
    with pytest.raises(AudienceMismatchError):
        await city.ask(vc, holder, audience="https://vote.tsukuba.example")
    nonce, _ = await city.issuer.nonce(now=city.clock())
    vp = present(vc, disclose=ELIGIBILITY_CLAIMS, holder_signer=holder, audience=AUDIENCE, nonce=nonce,
                 now=city.clock())
    blinded = b"\x01" * 256
    for bad_nonce in ("never-issued", nonce):  # the second use of a good nonce is refused too
        if bad_nonce == nonce:
            await city.issuer.issue(vp, nonce=nonce, blinded_msg=blinded, now=city.clock())
        with pytest.raises(ProtocolError) as info:
            await city.issuer.issue(vp, nonce=bad_nonce, blinded_msg=blinded, now=city.clock())
        assert info.value.code == "invalid_nonce"


async def test_malformed_requests_are_invalid_input(city: City) -> None:
    holder = Key.generate("P-256")
    vc = city.credential(holder=holder)
    await city.enrol("TK-000203", vc)
    with pytest.raises(InvalidInputError):
        await city.ask(vc, holder, blinded=b"\x01" * 100)
    nonce, _ = await city.issuer.nonce(now=city.clock())
    with pytest.raises(InvalidInputError):
        await city.issuer.issue("x" * 100_000, nonce=nonce, blinded_msg=b"\x01" * 256, now=city.clock())
    assert await city.ledger.tokens_issued(ELECTION.election_id) == 0


async def test_no_tokens_after_voting_closes(city: City) -> None:
    for attempt in (city.issuer.nonce(now=ELECTION.closes_at),
                    city.issuer.issue("a.b.c~", nonce="n", blinded_msg=b"", now=ELECTION.closes_at)):
        with pytest.raises(ConflictError) as info:
            await attempt
        assert info.value.code == "voting_closed"


async def test_per_district_keys_sign_each_district_with_its_own(city: City) -> None:
    issuer = _issuer(city.ledger, city.clock, city.city_key, city.other_key, keys=DISTRICT_KEYS)
    city.issuer = issuer
    assert issuer.per_district and set(issuer.token_keys) == set(ELECTION.district_names)
    holder = Key.generate("P-256")
    vc = city.credential(holder=holder)  # district tsukuba-a
    await city.enrol("TK-000203", vc)
    blinded, sig = await city.ask(vc, holder, district="tsukuba-a")
    assert sig == blind_sign(DISTRICT_KEYS["tsukuba-a"], blinded)
    # A tsukuba-b voter's credential cannot get a tsukuba-a token: the key follows the credential.
    holder_b = Key.generate("P-256")
    vc_b = city.credential({**GOOD, "district": "tsukuba-b"}, holder=holder_b)
    await city.enrol("TK-000205", vc_b)
    blinded_b, sig_b = await city.ask(vc_b, holder_b, district="tsukuba-b")
    assert sig_b == blind_sign(DISTRICT_KEYS["tsukuba-b"], blinded_b)


def test_issuer_configuration_is_checked(city: City) -> None:
    with pytest.raises(InvalidInputError):
        _issuer(city.ledger, city.clock, city.city_key, city.other_key, keys={"tsukuba-a": KEYS[None]})
    with pytest.raises(InvalidInputError):
        BallotTokenIssuer(election=ELECTION, keys=KEYS, ledger=city.ledger, audience=AUDIENCE,
                          resolver=StaticKeyResolver({}), issuers=[], vct=VCT, status=None, clock=city.clock)
    assert "TK-" not in repr(city.issuer)


async def test_a_resident_the_registry_no_longer_lists_as_active_gets_no_token(city: City) -> None:
    """The wallet server's elections issue eligibility without a status entry: the token issuer asks
    the resident registry again before it signs, and nothing is claimed in the ledger on a refusal."""
    class Registry:
        def __init__(self) -> None:
            self.status: dict[str, str] = {}

        async def get_resident_status(self, resident_id: str) -> ResidentStatus:
            return ResidentStatus(self.status.get(resident_id, "active"), date(2026, 1, 1))  # type: ignore[arg-type]

    registry = Registry()
    issuer = _issuer(city.ledger, city.clock, city.city_key, city.other_key, registry=registry)
    city = replace(city, issuer=issuer)
    for resident_id, status in (("TK-000301", "moved_out"), ("TK-000302", "deceased")):
        holder = Key.generate("P-256")
        vc = city.credential(holder=holder)
        await city.enrol(resident_id, vc)
        registry.status[resident_id] = status
        with pytest.raises(NotEligibleError, match="no longer lists"):
            await city.ask(vc, holder)
    assert await city.ledger.tokens_issued(ELECTION.election_id) == 0
    holder = Key.generate("P-256")
    vc = city.credential(holder=holder)
    await city.enrol("TK-000303", vc)
    await city.ask(vc, holder)  # still active: signed
    assert await city.ledger.tokens_issued(ELECTION.election_id) == 1
