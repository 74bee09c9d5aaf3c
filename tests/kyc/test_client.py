"""ResidentRegistryClient against the real local SOAP registry over HTTP on 127.0.0.1."""

# ruff: noqa: RUF001

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from datetime import date

import pytest
from aiohttp import web

from tests.kyc.conftest import FAST
from tests.tls_fixtures import make_ca
from vcsdk.errors import (
    InvalidInputError,
    ResidentRegistryError,
    ResidentRegistryFaultError,
    ResidentRegistryUnavailableError,
)
from vcsdk.kyc import (
    SEED_RESIDENTS,
    LocalResidentRegistry,
    RegistryClientConfig,
    RegistryEntry,
    ResidentRegistryClient,
    create_registry_app,
)

YAMADA_KAGA = {
    "family_name": "山田",
    "given_name": "太郎",
    "birthdate": date(1985, 4, 12),
    "address": "加賀市大聖寺錦町1-2",
}

#: Everything personal the tests send or the registry answers with; none may reach logs or errors.
PERSONAL = [
    *("山田", "太郎", "髙橋", "高橋", "花子", "大聖寺", "錦町", "松が丘", "松ヶ丘"),
    *("1985-04-12", "1992-11-03", "KG-0001"),
]


# --- outcomes -------------------------------------------------------------------------------------


async def test_full_match_returns_the_registered_values(client):
    result = await client.check_resident(
        family_name="高橋", given_name="花子", birthdate=date(1992, 11, 3), address="〒922-0436 加賀市松ヶ丘2丁目15"
    )
    assert result.outcome == "full"
    assert result.matched_fields == {"familyName", "givenName", "birthDate", "address"}
    assert result.mismatched_fields == frozenset()
    record = result.record
    assert record is not None
    # The registry's spelling, not the applicant's.
    assert (record.family_name, record.given_name) == ("髙橋", "花子")
    assert (record.family_name_kana, record.given_name_kana) == ("タカハシ", "ハナコ")
    assert record.resident_id == "KG-000102"
    assert record.birthdate == date(1992, 11, 3)
    assert record.resident_since == date(2016, 10, 1)
    assert dataclasses.astuple(record.address) == ("922-0436", "石川県", "加賀市", "松が丘二丁目15番地")


async def test_full_width_and_ideographic_spaces_still_match(client):
    result = await client.check_resident(
        family_name="\u3000山田\u3000",
        given_name="太郎",
        birthdate=date(1985, 4, 12),
        address="石川県\u3000加賀市\u3000大聖寺錦町１番地の２",
    )
    assert result.outcome == "full"
    assert result.record is not None and result.record.resident_id == "KG-000101"


async def test_homonyms_are_told_apart_by_birthdate_and_address(client):
    result = await client.check_resident(
        family_name="山田", given_name="太郎", birthdate=date(1990, 8, 8), address="つくば市天久保2-1-15"
    )
    assert result.outcome == "full"
    assert result.record is not None and result.record.resident_id == "TK-000205"


async def test_no_match(client):
    result = await client.check_resident(
        family_name="存在", given_name="しない", birthdate=date(2000, 1, 1), address="つくば市竹園9-9-9"
    )
    assert result.outcome == "none"
    assert result.matched_fields == frozenset()
    assert result.record is None


async def test_partial_match_names_the_fields_and_carries_no_values(client):
    result = await client.check_resident(**{**YAMADA_KAGA, "birthdate": date(1985, 4, 13)})
    assert result.outcome == "partial"
    assert result.matched_fields == {"familyName", "givenName", "address"}
    assert result.mismatched_fields == {"birthDate"}
    assert result.record is None


async def test_a_single_matching_field_is_no_match(client):
    result = await client.check_resident(
        family_name="山田", given_name="次郎", birthdate=date(2000, 1, 1), address="つくば市竹園9-9-9"
    )
    assert result.outcome == "none"


async def test_moved_out_resident(client):
    result = await client.check_resident(
        family_name="佐藤", given_name="健一", birthdate=date(1958, 7, 20), address="茨城県つくば市二ノ宮1-8-10"
    )
    assert result.outcome == "full" and result.record is not None
    status = await client.get_resident_status(result.record.resident_id)
    assert (status.status, status.since) == ("moved_out", date(2024, 3, 31))


@pytest.mark.parametrize(
    ("resident_id", "status", "since"),
    [("KG-000101", "active", date(2010, 4, 1)), ("KG-000103", "deceased", date(2025, 1, 10))],
)
async def test_resident_status(client, resident_id, status, since):
    answer = await client.get_resident_status(resident_id)
    assert (answer.status, answer.since) == (status, since)


# --- faults: typed, never retried ---------------------------------------------------------------


async def test_unknown_resident_is_a_client_fault_and_is_not_retried(registry, client):
    before = registry.request_count
    with pytest.raises(ResidentRegistryFaultError) as info:
        await client.get_resident_status("NOPE-404")
    assert registry.request_count - before == 1
    assert info.value.code == "resident_registry_fault"
    assert info.value.details == {
        "operation": "GetResidentStatus",
        "fault_code": "Client",
        "registry_code": "unknown_resident",
    }


async def test_server_fault_is_not_retried():
    entry = SEED_RESIDENTS[0]
    twin = RegistryEntry(record=dataclasses.replace(entry.record, resident_id="KG-999999"))
    async with LocalResidentRegistry(residents=[entry, twin]) as reg:
        async with ResidentRegistryClient(reg.url, config=FAST) as c:
            with pytest.raises(ResidentRegistryFaultError) as info:
                await c.check_resident(**YAMADA_KAGA)
        assert reg.request_count == 1
    assert info.value.details["fault_code"] == "Server"
    assert info.value.details["registry_code"] == "ambiguous_match"


# --- transport failures: retried with backoff, then ResidentRegistryUnavailableError -------------


class Hits:
    def __init__(self):
        self.count = 0


def _app_with(middleware_factory):
    app = create_registry_app()
    hits = Hits()
    app.middlewares.append(middleware_factory(hits))
    return app, hits


async def test_server_down(closed_port_url):
    async with ResidentRegistryClient(closed_port_url, config=FAST) as c:
        with pytest.raises(ResidentRegistryUnavailableError) as info:
            await c.check_resident(**YAMADA_KAGA)
    assert info.value.code == "resident_registry_unavailable"
    assert info.value.details == {"operation": "CheckResident", "reason": "connection_failed", "attempts": 3}


async def test_timeout_is_retried_then_reported(aiohttp_server):
    release = asyncio.Event()

    def stall(hits):
        @web.middleware
        async def middleware(request, handler):
            hits.count += 1
            # Bounded: the client gives up long before; the test releases the handler at the end.
            await asyncio.wait_for(release.wait(), timeout=30)
            return await handler(request)

        return middleware

    app, hits = _app_with(stall)
    server = await aiohttp_server(app)
    config = dataclasses.replace(FAST, timeout=0.3, max_attempts=2)
    try:
        async with ResidentRegistryClient(str(server.make_url("/resident-registry")), config=config) as c:
            with pytest.raises(ResidentRegistryUnavailableError) as info:
                await c.check_resident(**YAMADA_KAGA)
    finally:
        release.set()
    assert info.value.details == {"operation": "CheckResident", "reason": "timeout", "attempts": 2}
    assert hits.count == 2


async def test_dropped_connection_is_retried_and_then_succeeds(aiohttp_server):
    def drop_first(hits):
        @web.middleware
        async def middleware(request, handler):
            hits.count += 1
            if hits.count == 1:
                assert request.transport is not None
                request.transport.close()  # the connection dies before any answer
                return web.Response(status=204)
            return await handler(request)

        return middleware

    app, hits = _app_with(drop_first)
    server = await aiohttp_server(app)
    async with ResidentRegistryClient(str(server.make_url("/resident-registry")), config=FAST) as c:
        result = await c.check_resident(**YAMADA_KAGA)
    assert result.outcome == "full"
    assert hits.count == 2


async def test_gateway_unavailable_is_retried_and_then_succeeds(aiohttp_server):
    def unavailable_twice(hits):
        @web.middleware
        async def middleware(request, handler):
            hits.count += 1
            if hits.count <= 2:
                return web.Response(status=503, text="maintenance")
            return await handler(request)

        return middleware

    app, hits = _app_with(unavailable_twice)
    server = await aiohttp_server(app)
    async with ResidentRegistryClient(str(server.make_url("/resident-registry")), config=FAST) as c:
        status = await c.get_resident_status("KG-000101")
    assert status.status == "active"
    assert hits.count == 3


async def test_gateway_unavailable_after_all_attempts(aiohttp_server):
    def always_503(hits):
        @web.middleware
        async def middleware(request, handler):
            hits.count += 1
            return web.Response(status=503)

        return middleware

    app, hits = _app_with(always_503)
    server = await aiohttp_server(app)
    async with ResidentRegistryClient(str(server.make_url("/resident-registry")), config=FAST) as c:
        with pytest.raises(ResidentRegistryUnavailableError) as info:
            await c.get_resident_status("KG-000101")
    assert info.value.details["reason"] == "http_503"
    assert hits.count == FAST.max_attempts


async def test_wrong_path_is_an_http_status_error_and_is_not_retried(registry):
    url = registry.url.replace("/resident-registry", "/elsewhere")
    before = registry.request_count
    async with ResidentRegistryClient(url, config=FAST) as c:
        with pytest.raises(ResidentRegistryError) as info:
            await c.get_resident_status("KG-000101")
    assert type(info.value) is ResidentRegistryError
    assert info.value.code == "resident_registry_http_status"
    assert info.value.details == {"operation": "GetResidentStatus", "http_status": 404}
    assert registry.request_count == before


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<?xml version='1.0'?><soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>"
        b"<soap:Body><rr:GetResidentStatusResponse xmlns:rr='urn:vcsdk:resident-registry:1'>"
        b"<rr:status>emigrated</rr:status><rr:since>2020-01-01</rr:since>"
        b"</rr:GetResidentStatusResponse></soap:Body></soap:Envelope>",
    ],
    ids=["not-xml", "unknown-status"],
)
async def test_malformed_answers_are_bad_response_errors(aiohttp_server, body):
    hits = Hits()

    async def answer(request):
        hits.count += 1
        return web.Response(body=body, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/resident-registry", answer)
    server = await aiohttp_server(app)
    async with ResidentRegistryClient(str(server.make_url("/resident-registry")), config=FAST) as c:
        with pytest.raises(ResidentRegistryError) as info:
            await c.get_resident_status("KG-000101")
    assert info.value.code == "resident_registry_bad_response"
    assert hits.count == 1


async def test_oversized_answers_are_refused_unparsed(registry):
    config = dataclasses.replace(FAST, max_response_bytes=200)
    async with ResidentRegistryClient(registry.url, config=config) as c:
        with pytest.raises(ResidentRegistryError) as info:
            await c.check_resident(**YAMADA_KAGA)
    assert info.value.code == "resident_registry_bad_response"
    assert "max_response_bytes" in info.value.message
    assert registry.request_count == 1


# --- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city_ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_registry(city_ca):
    async with LocalResidentRegistry(ssl_context=city_ca.server_context()) as reg:
        yield reg


async def test_tls_with_the_city_ca(tls_registry, city_ca):
    assert tls_registry.url.startswith("https://127.0.0.1:")
    config = dataclasses.replace(FAST, ca_file=city_ca.ca_file)
    async with ResidentRegistryClient(tls_registry.url, config=config) as c:
        assert (await c.get_resident_status("KG-000101")).status == "active"


async def test_tls_with_an_unknown_ca_fails_at_once(tls_registry):
    async with ResidentRegistryClient(tls_registry.url, config=FAST) as c:
        with pytest.raises(ResidentRegistryUnavailableError) as info:
            await c.get_resident_status("KG-000101")
    assert info.value.code == "resident_registry_tls_failed"
    assert tls_registry.request_count == 0


async def test_tls_verification_can_be_turned_off_for_a_test_registry(tls_registry):
    async with ResidentRegistryClient(tls_registry.url, config=dataclasses.replace(FAST, verify=False)) as c:
        assert (await c.get_resident_status("KG-000101")).status == "active"


# --- input and configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"family_name": ""},
        {"given_name": "　 "},
        {"address": "x" * 301},
        {"family_name": "山" * 101},
        {"birthdate": "1985-04-12"},
        {"birthdate": dt.datetime(1985, 4, 12)},
        {"family_name": None},
    ],
    ids=["empty", "blank", "long-address", "long-name", "str-date", "datetime", "none"],
)
async def test_bad_input_is_refused_before_anything_is_sent(registry, client, change):
    before = registry.request_count
    with pytest.raises(InvalidInputError) as info:
        await client.check_resident(**{**YAMADA_KAGA, **change})
    assert registry.request_count == before
    assert not any(word in str(info.value) for word in PERSONAL)


@pytest.mark.parametrize("resident_id", ["", "a b", "x" * 65, "../etc", "-leading"])
async def test_bad_resident_id_is_refused(client, resident_id):
    with pytest.raises(InvalidInputError):
        await client.get_resident_status(resident_id)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"connect_timeout": -1},
        {"max_attempts": 0},
        {"backoff_initial": -0.1},
        {"client_key_file": "key.pem"},
        {"max_response_bytes": 0},
    ],
)
def test_config_is_validated(kwargs):
    with pytest.raises(InvalidInputError):
        RegistryClientConfig(**kwargs)


def test_backoff_is_exponential_and_capped():
    config = RegistryClientConfig(backoff_initial=0.25, backoff_max=1.0, jitter=False)
    assert [config.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    jittered = RegistryClientConfig(backoff_initial=1.0, backoff_max=8.0)
    assert all(0.5 * 2 ** (n - 1) <= jittered.backoff(n) <= 2 ** (n - 1) for n in (1, 2, 3))


@pytest.mark.parametrize("endpoint", ["ftp://registry/x", "registry.example", "http://"])
def test_endpoint_must_be_http(endpoint):
    with pytest.raises(InvalidInputError):
        ResidentRegistryClient(endpoint)


def test_missing_wsdl(tmp_path):
    with pytest.raises(InvalidInputError) as info:
        ResidentRegistryClient("http://127.0.0.1:1/x", wsdl=tmp_path / "missing.wsdl")
    assert info.value.code == "invalid_wsdl"


def test_missing_ca_file(tmp_path):
    with pytest.raises(InvalidInputError) as info:
        ResidentRegistryClient("https://127.0.0.1:1/x", config=RegistryClientConfig(ca_file=tmp_path / "none.pem"))
    assert info.value.code == "invalid_tls_config"


# --- no personal data in logs, errors or reprs ----------------------------------------------------


async def test_no_personal_data_in_logs_errors_or_reprs(caplog, registry, client, closed_port_url):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    full = await client.check_resident(
        family_name="高橋", given_name="花子", birthdate=date(1992, 11, 3), address="加賀市松ヶ丘2-15"
    )
    partial = await client.check_resident(**{**YAMADA_KAGA, "address": "加賀市大聖寺錦町9-9"})
    assert full.outcome == "full" and partial.outcome == "partial"
    seen += [repr(full), repr(partial), repr(full.record), str(full.record)]
    with pytest.raises(ResidentRegistryFaultError) as fault:
        await client.get_resident_status("KG-000199")
    async with ResidentRegistryClient(closed_port_url, config=FAST) as down:
        with pytest.raises(ResidentRegistryUnavailableError) as unavailable:
            await down.check_resident(**YAMADA_KAGA)
    for error in (fault.value, unavailable.value):
        seen += [str(error), repr(error), str(error.to_dict())]
    seen.append(caplog.text)
    assert "retrying" in caplog.text  # the retries were logged, without any values
    for text in seen:
        for word in PERSONAL:
            assert word not in text, f"{word!r} leaked"
