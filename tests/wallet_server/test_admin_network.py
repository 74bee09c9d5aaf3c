"""The back office on a real JSON-RPC node (anvil): contracts deployed by ``vcsdk deploy``'s code, their
addresses read from the network config, the city's DID and accreditation set up with ``city_key``,
then a credential issued and verified end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.wallet_server._city import issue_to, verify
from tests.wallet_server._helpers import OPERATOR_TOKEN, admin_headers, new_resident
from tests.wallet_server.conftest import make_settings
from vcsdk.keys import Key
from vcsdk.kyc import LocalResidentRegistry
from vcsdk.registry import Chain, DevNode, deploy_contracts, key_address
from wallet_server import create_app

pytestmark = pytest.mark.integration


async def test_rpc_node_with_network_config(
    aiohttp_client, anvil_node: DevNode, anvil_chain: Chain, tmp_path: Path, clock  # type: ignore[no-untyped-def]
) -> None:
    city_key = Key.generate("secp256k1")
    await anvil_chain.fund(key_address(city_key), 10**18)
    config = await deploy_contracts(anvil_node.url, city_key, chain_id=anvil_node.chain_id)
    path = tmp_path / "network.json"
    path.write_text(json.dumps(config))
    async with LocalResidentRegistry() as registry:
        settings = make_settings(
            (f"sqlite:///{tmp_path / 'wallet.db'}", None), rpc_url=anvil_node.url, city_key=city_key,
            network_config=str(path), city_signing_key=Key.generate("P-256"), kyc_registry_url=registry.url,
            status_list_size=256,
        )
        client = await aiohttp_client(create_app(settings, clock=clock))
        city = await (await client.get("/admin/v1/city", headers=admin_headers(OPERATOR_TOKEN))).json()
        assert city["contracts"] == {n: c["address"] for n, c in config["contracts"].items()}
        assert city["did"] == f"did:ethr:{hex(anvil_node.chain_id)}:{key_address(city_key)}"
        phone = await new_resident(client, clock)
        credential, _ = await issue_to(client, phone)
        verified = await verify(client, credential, phone, clock)
        assert verified.issuer == city["did"]


async def test_rpc_node_without_network_config_is_refused(aiohttp_client, anvil_node: DevNode, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                          clock) -> None:
    settings = make_settings((f"sqlite:///{tmp_path / 'wallet.db'}", None), rpc_url=anvil_node.url)
    client = await aiohttp_client(create_app(settings, clock=clock))
    resp = await client.get("/admin/v1/city", headers=admin_headers(OPERATOR_TOKEN))
    assert resp.status == 400 and (await resp.json())["code"] == "registry_not_configured"


async def test_rpc_node_checks_name_the_fix(aiohttp_client, anvil_node: DevNode, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            clock) -> None:
    """A network config for another chain, or whose contracts are gone (a restarted dev node): the
    answer says which flag or command fixes it."""
    path = tmp_path / "network.json"
    contracts = {name: {"address": "0x" + str(i + 2) * 40, "block": 1, "tx": "0x" + "ab" * 32}
                 for i, name in enumerate(("EthereumDIDRegistry", "TrustedIssuerRegistry", "AccessReceiptRegistry"))}
    cases = [(1, "wrong_chain_id", "--rpc-url"), (anvil_node.chain_id, "contract_missing", "vcsdk deploy")]
    for chain_id, code, fix in cases:
        path.write_text(json.dumps({"chain_id": chain_id, "rpc_url": anvil_node.url, "contracts": contracts}))
        settings = make_settings((f"sqlite:///{tmp_path / f'w{chain_id}.db'}", None), rpc_url=anvil_node.url,
                                 city_key=Key.generate("secp256k1"), network_config=str(path))
        client = await aiohttp_client(create_app(settings, clock=clock))
        body = await (await client.get("/admin/v1/city", headers=admin_headers(OPERATOR_TOKEN))).json()
        assert body["code"] == code and fix in body["detail"] and "--network-config" in body["detail"], body
