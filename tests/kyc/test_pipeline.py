"""The KYC pipeline: real registry over loopback, real client, real SD-JWT VC issuance."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.kyc.conftest import FAST
from vcsdk.credentials import StatusListIssuer, validate_claims, verify_sd_jwt
from vcsdk.errors import (
    InvalidInputError,
    ResidentRegistryError,
    ResidentRegistryUnavailableError,
    UnsupportedAlgorithmError,
)
from vcsdk.keys import Key
from vcsdk.kyc import (
    SEED_RESIDENTS,
    CheckResult,
    KycApplication,
    KycPipeline,
    NoMatch,
    NotActive,
    PartialMatch,
    ResidentRegistryClient,
    ResidentStatus,
    Verified,
    build_resident_identity_claims,
    resident_identity_issuer,
)

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
CITY_DID = "did:ethr:0x7a69:0x00000000000000000000000000000000000c1770"
DEVICE = Key.generate("P-256").public_key()


class RecordingIssuer:
    """An issuer callable that records what it was asked to issue."""

    def __init__(self):
        self.calls = []

    def __call__(self, claims, *, holder_key, now):
        self.calls.append((claims, holder_key, now))
        return "issued-credential"


def application(**change):
    base = {
        "family_name": "高橋",  # the registry holds 髙橋
        "given_name": "花子",
        "birthdate": date(1992, 11, 3),
        "address": "〒922-0436 加賀市松ヶ丘２丁目１５",
        "device_key": DEVICE,
    }
    return KycApplication(**{**base, **change})


@pytest.fixture
def issuer():
    return RecordingIssuer()


@pytest.fixture
def pipeline(client, issuer):
    return KycPipeline(registry=client, issue=issuer)


async def test_verified_resident_gets_a_credential_with_the_registry_values(client):
    city_key = Key.generate("secp256k1")
    status_list = StatusListIssuer("https://city.example/status/1", size=1024)
    pipeline = KycPipeline(
        registry=client, issue=resident_identity_issuer(issuer=CITY_DID, signer=city_key, status_list=status_list)
    )
    outcome = await pipeline.run(application(), now=NOW)
    assert isinstance(outcome, Verified)
    assert outcome.record.resident_id == "KG-000102"

    verified = verify_sd_jwt(outcome.credential, issuer_key=city_key.public_key(), now=NOW)
    assert verified.issuer == CITY_DID
    assert verified.vct.endswith("/ResidentIdentityCredential")
    assert verified.holder_key == DEVICE
    assert verified.status is not None and status_list.allocated == 1
    assert verified.expires_at == NOW + timedelta(days=365)
    claims = {k: v for k, v in verified.claims.items() if k not in {"iss", "iat", "exp", "vct", "cnf", "status"}}
    assert claims == {
        "family_name": "髙橋",  # the registry's spelling, not the applicant's 高橋
        "given_name": "花子",
        "birthdate": "1992-11-03",
        "address": {
            "postal_code": "922-0436",
            "region": "石川県",
            "locality": "加賀市",
            "street_address": "松が丘二丁目15番地",
        },
        "age_equal_or_over": {"18": True, "20": True, "65": False},
        "resident_since": "2016-10-01",
        "verification": {"level": "substantial", "method": "resident_registry", "time": "2026-11-26T06:00:00Z"},
    }
    assert claims == dict(outcome.claims)
    validate_claims("ResidentIdentityCredential", claims)


async def test_async_issuer_callables_are_awaited(client):
    async def issue(claims, *, holder_key, now):
        return f"async:{claims['resident_since']}"

    outcome = await KycPipeline(registry=client, issue=issue, level="high").run(application(), now=NOW)
    assert isinstance(outcome, Verified)
    assert outcome.credential == "async:2016-10-01"
    assert outcome.claims["verification"]["level"] == "high"


async def test_partial_match_issues_nothing(pipeline, issuer):
    outcome = await pipeline.run(application(birthdate=date(1992, 11, 4)), now=NOW)
    assert outcome == PartialMatch(matched_fields=frozenset({"familyName", "givenName", "address"}))
    assert outcome.mismatched_fields == {"birthDate"}
    assert issuer.calls == []


async def test_no_match_issues_nothing(pipeline, issuer):
    # Only the address matches: one field says nothing about the claim.
    outcome = await pipeline.run(
        application(family_name="存在しない", given_name="人", birthdate=date(2001, 2, 3)), now=NOW
    )
    assert outcome == NoMatch()
    assert issuer.calls == []


@pytest.mark.parametrize(
    ("claimed", "status", "since"),
    [
        (
            dict(family_name="佐藤", given_name="健一", birthdate=date(1958, 7, 20), address="つくば市二の宮1-8-10"),
            "moved_out",
            date(2024, 3, 31),
        ),
        (
            dict(family_name="鈴木", given_name="一郎", birthdate=date(1938, 1, 5), address="加賀市山代温泉十八区1"),
            "deceased",
            date(2025, 1, 10),
        ),
    ],
    ids=["moved-out", "deceased"],
)
async def test_inactive_residents_get_nothing(pipeline, issuer, claimed, status, since):
    outcome = await pipeline.run(application(**claimed), now=NOW)
    assert outcome == NotActive(status=status, since=since)
    assert issuer.calls == []


async def test_registry_down_raises_and_issues_nothing(closed_port_url, issuer):
    async with ResidentRegistryClient(closed_port_url, config=FAST) as down:
        with pytest.raises(ResidentRegistryUnavailableError):
            await KycPipeline(registry=down, issue=issuer).run(application(), now=NOW)
    assert issuer.calls == []


class LooseRegistry:
    """A registry port whose own matching is looser than vcsdk's rules (it says full for anything)."""

    def __init__(self, record):
        self.record = record
        self.status_calls = 0

    async def check_resident(self, *, family_name, given_name, birthdate, address):
        return CheckResult(outcome="full", matched_fields=frozenset(), record=self.record)

    async def get_resident_status(self, resident_id):
        self.status_calls += 1
        return ResidentStatus(status="active", since=date(2000, 1, 1))


async def test_a_looser_registry_full_match_is_not_trusted(issuer):
    registry = LooseRegistry(SEED_RESIDENTS[1].record)  # 髙橋 花子
    outcome = await KycPipeline(registry=registry, issue=issuer).run(
        application(address="加賀市松が丘2-16"), now=NOW
    )
    assert outcome == PartialMatch(matched_fields=frozenset({"familyName", "givenName", "birthDate"}))
    assert issuer.calls == [] and registry.status_calls == 0


async def test_a_full_match_without_a_record_is_a_registry_error(issuer):
    class Broken(LooseRegistry):
        async def check_resident(self, **_):
            return CheckResult(outcome="full")

    with pytest.raises(ResidentRegistryError) as info:
        await KycPipeline(registry=Broken(None), issue=issuer).run(application(), now=NOW)
    assert info.value.code == "resident_registry_bad_response"


@pytest.mark.parametrize(
    ("change", "now", "error"),
    [
        ({"device_key": Key.generate("P-256")}, NOW, InvalidInputError),  # a private key
        ({"device_key": Key.generate("secp256k1").public_key()}, NOW, UnsupportedAlgorithmError),
        ({"device_key": "not a key"}, NOW, InvalidInputError),
        ({}, NOW.replace(tzinfo=None), InvalidInputError),
        ({"family_name": None}, NOW, InvalidInputError),
        ({"address": b"bytes"}, NOW, InvalidInputError),
    ],
    ids=["private-key", "not-p256", "not-a-key", "naive-now", "none-name", "bytes-address"],
)
async def test_malformed_applications(registry, issuer, change, now, error):
    before = registry.request_count
    async with ResidentRegistryClient(registry.url, config=FAST) as c:
        with pytest.raises(error):
            await KycPipeline(registry=c, issue=issuer).run(application(**change), now=now)
    assert registry.request_count == before
    assert issuer.calls == []


# --- claims: ages on the city's calendar day ---------------------------------------------------------

SAKURA = SEED_RESIDENTS[4].record  # born 2008-02-29


@pytest.mark.parametrize(
    ("now", "eighteen"),
    [
        (datetime(2026, 2, 28, 14, 59, tzinfo=UTC), False),  # 23:59 on 28 Feb in Japan
        (datetime(2026, 2, 28, 15, 0, tzinfo=UTC), True),  # 00:00 on 1 Mar in Japan
        (datetime(2028, 2, 28, 15, 0, tzinfo=UTC), True),  # 29 Feb 2028 in Japan (20th birthday)
    ],
)
def test_age_thresholds_follow_the_day_in_japan(now, eighteen):
    assert SAKURA.birthdate == date(2008, 2, 29)
    claims = build_resident_identity_claims(SAKURA, now=now)
    assert claims["age_equal_or_over"]["18"] is eighteen
    assert claims["verification"]["time"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_twenty_on_the_leap_day_birthday():
    claims = build_resident_identity_claims(SAKURA, now=datetime(2028, 2, 29, 0, 0, tzinfo=UTC))
    assert claims["age_equal_or_over"] == {"18": True, "20": True, "65": False}


def test_claims_need_an_aware_now():
    with pytest.raises(InvalidInputError):
        build_resident_identity_claims(SAKURA, now=datetime(2026, 1, 1))


# --- no personal data in logs ----------------------------------------------------------------------


async def test_pipeline_logs_outcomes_only(caplog, pipeline):
    caplog.set_level(logging.DEBUG)
    outcomes = [
        await pipeline.run(application(), now=NOW),
        await pipeline.run(application(birthdate=date(1992, 11, 4)), now=NOW),
        await pipeline.run(dataclasses.replace(application(), family_name="別人", given_name="別人"), now=NOW),
    ]
    assert [o.kind for o in outcomes] == ["verified", "partial_match", "partial_match"]
    assert "KYC application: verified" in caplog.text
    for word in ("髙橋", "高橋", "花子", "松", "1992-11-0", "KG-000102", "別人"):
        assert word not in caplog.text
        assert all(word not in repr(o) for o in outcomes)
    assert "花子" not in repr(application())
