"""Several processes of one deployment (``--workers N``, or instances behind a load balancer) set the
city up at the same moment, on one chain and one database: its signing key must be published once,
so a registration signed by any of them verifies in all of them.

A key published twice is named by its last attribute event (``#delegate-2``): the process that
published first and took ``#delegate-1`` would sign registrations no wallet accepts any more
(``service_not_registered``), and two processes sending from the city's account at once can also
make one of them fail at start (``nonce too low``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.wallet_server._helpers import OPERATOR_TOKEN, admin_headers
from tests.wallet_server.conftest import make_settings
from vcsdk._b64 import b64url_decode
from vcsdk.did import key_from_verification_method
from vcsdk.keys import Key
from vcsdk.registration import verify_registration_resolved
from vcsdk.registry import Chain, DevNode, deploy_contracts, key_address
from wallet_server import create_app
from wallet_server.appkeys import CITY

pytestmark = pytest.mark.integration

PROCESSES = 3


def _kid(token: str) -> str:
    return str(json.loads(b64url_decode(token.split(".")[0]))["kid"])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_instances_starting_together_publish_the_city_key_once(
    aiohttp_client, anvil_node: DevNode, anvil_chain: Chain, database, tmp_path: Path, clock, backend  # type: ignore[no-untyped-def]
) -> None:
    city_key, signing_key = Key.generate("secp256k1"), Key.generate("P-256")
    await anvil_chain.fund(key_address(city_key), 10**18)
    config = await deploy_contracts(anvil_node.url, city_key, chain_id=anvil_node.chain_id)
    path = tmp_path / "network.json"
    path.write_text(json.dumps(config))
    settings = make_settings(database, rpc_url=anvil_node.url, city_key=city_key, network_config=str(path),
                             city_signing_key=signing_key)  # fmt: skip
    clients = [await aiohttp_client(create_app(settings, clock=clock)) for _ in range(PROCESSES)]

    # Every instance sets the city up at once, as the workers do at start.
    cities = await asyncio.gather(*(c.app[CITY].get() for c in clients))
    assert len({c.did for c in cities}) == 1
    did = cities[0].did
    # One verification method holds the key, and every instance signs with its id.
    cities[0].resolver.invalidate(did)
    document = (await cities[0].resolver.resolve(did)).document_json()
    wanted = signing_key.public_jwk()
    methods = [vm for vm in document["verificationMethod"] if vm["id"] != f"{did}#controller"]
    holding = [vm["id"] for vm in methods if key_from_verification_method(vm).public_jwk() == wanted]
    assert len(holding) == 1, holding
    assert {c.signing_key.kid for c in cities} == set(holding)

    # A service registered through each instance's back office verifies in every other instance.
    for n, client in enumerate(clients):
        body = {
            "service_did": f"did:web:shop{n}.example", "name": f"Shop {n}",
            "purposes": [{"id": "age", "description": "Age"}],
            "claim_sets": [{"id": "age", "vct": "urn:vct:test", "paths": [["age_over_20"]]}], "retention_days": 30,
            "receipt_endpoint": f"https://shop{n}.example/withdrawals",
            "privacy_policy": f"https://shop{n}.example/privacy",
        }  # fmt: skip
        resp = await client.post("/admin/v1/services", json=body, headers=admin_headers(OPERATOR_TOKEN))
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["registration"]
        assert _kid(token) == holding[0]
        for city in cities:
            city.resolver.invalidate(did)
            registration = await verify_registration_resolved(token, city_did=did, resolver=city.resolver,
                                                              now=clock())  # fmt: skip
            assert registration.name == f"Shop {n}"
