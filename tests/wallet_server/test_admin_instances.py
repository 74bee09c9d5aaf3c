"""Two server instances on one PostgreSQL database share the back office's state: status entries are
never handed out twice, and an OpenID4VCI pre-authorized code redeemed on one is refused on the other."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.wallet_server._city import start_issuance
from tests.wallet_server._helpers import new_resident
from tests.wallet_server.conftest import make_settings
from tests.wallet_server.test_admin_issuance import CITY_SIGNING_KEY
from vcsdk.credentials import StatusListIssuer
from vcsdk.kyc import LocalResidentRegistry
from vcsdk.oid4vc import build_token_request, parse_credential_offer, parse_credential_offer_uri
from wallet_server import create_app
from wallet_server.appkeys import STATUS_LISTS, STORE
from wallet_server.settings import Settings

# Several instances share one database server: PostgreSQL only.
pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture
async def two_instances(aiohttp_client, database, clock):  # type: ignore[no-untyped-def]
    async with LocalResidentRegistry() as registry:
        # 80 allocations at once queue behind one row lock by design: wait as long as that takes here.
        settings: Settings = make_settings(database, kyc_registry_url=registry.url,
                                           city_signing_key=CITY_SIGNING_KEY, status_list_size=64,
                                           database_timeout=timedelta(seconds=60),
                                           database_pool_timeout=timedelta(seconds=60))
        a = await aiohttp_client(create_app(settings, clock=clock))
        b = await aiohttp_client(create_app(settings, clock=clock))
        yield a, b


async def test_status_entries_are_never_handed_out_twice(two_instances) -> None:
    a, b = two_instances
    base = str(a.make_url("")).rstrip("/")
    services = [a.server.app[STATUS_LISTS], b.server.app[STATUS_LISTS]] * 40
    allocations = await asyncio.gather(*(s.allocate(base_url=base) for s in services))
    keys = {(x.list_id, x.index) for x in allocations}
    assert len(keys) == 80  # 64 in the first list, the rest in a second one started when it was full
    lists = await a.server.app[STORE].list_status_lists()
    assert [r.allocated for r in lists] == [64, 16]
    assert StatusListIssuer.from_json(dict(lists[0].state)).allocated == 64


async def test_a_code_redeemed_on_one_instance_is_refused_on_the_other(two_instances, clock) -> None:
    a, b = two_instances
    phone = await new_resident(a, clock)
    answer = await (await start_issuance(a, phone.resident_id)).json()
    reference = parse_credential_offer_uri(answer["offer"]["offer_uri"])
    assert isinstance(reference, str)
    offer_path = reference[reference.index("/issuer/"):]
    # Either instance serves the offer: it is in the shared database.
    offer = parse_credential_offer(await (await b.get(offer_path)).json())
    form = build_token_request(offer, tx_code=answer["tx_code"])
    first = await b.post("/issuer/token", data=form)
    assert first.status == 200 and (await first.json())["access_token"]
    again = await a.post("/issuer/token", data=form)
    assert again.status == 400 and (await again.json())["error"] == "invalid_grant"
