"""vcsdk.City and vcsdk.Service: the front door, on the embedded chain and over HTTP on 127.0.0.1.

The examples run the whole story through them (tests/examples, tests/test_dev_city.py); here are
the edges: opening a deployed network from its config, an idempotent key publication, bad configs,
and the receipt endpoint's refusals as typed errors.
"""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

import vcsdk
from tests._net import free_port
from vcsdk import City, Key, Service
from vcsdk.errors import InvalidInputError
from vcsdk.receipts import ConsentRecord, Controller, presentation_hash
from vcsdk.registry import Chain
from vcsdk.status import StaticStatusListSource


async def test_deploy_then_open_from_the_config() -> None:
    async with Chain.embedded() as chain:
        owner, service_owner = chain.dev_keys[0], chain.dev_keys[1]
        async with await City.deploy(chain, sender=owner) as deployed:
            assert set(deployed.config["contracts"]) == {"EthereumDIDRegistry", "TrustedIssuerRegistry",
                                                         "AccessReceiptRegistry"}
            did, key = await deployed.publish_key(service_owner)
        # A service opens the same network from the config alone (its chain given: no RPC URL here).
        async with await City.open(deployed.config, chain=chain) as city:
            assert city.trust.address == deployed.trust.address
            again_did, again = await city.publish_key(service_owner, key)  # already there: no transaction
            assert (again_did, again.kid) == (did, key.kid)
            block = await chain.block_number()
            await city.publish_key(service_owner, key)
            assert await chain.block_number() == block
            resolved = await city.resolver.resolve_key(did, key.kid)
            assert resolved.public_jwk() == key.public_jwk()


@pytest.mark.parametrize("config", [{}, {"chain_id": 1}, {"chain_id": "x", "contracts": {}}])
async def test_open_refuses_what_is_not_a_network_config(config: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match="not a network config"):
        await City.open(config)


async def test_the_receipt_endpoint_answers_typed_errors() -> None:
    async with Chain.embedded() as chain, await City.deploy(chain, sender=chain.dev_keys[0]) as city:
        did, key = await city.publish_key(chain.dev_keys[1])
        wallet_did, _ = await city.publish_key(chain.dev_keys[2])
        service = await city.service(did=did, key=key, status_source=StaticStatusListSource({}), wallet_did=wallet_did)
        assert isinstance(service, Service) and vcsdk.Service is Service
        port = free_port()
        verifier = service.verifier(base_url=f"http://127.0.0.1:{port}", name="Shop")
        async with service.serve(verifier, purpose="age", port=port) as base, aiohttp.ClientSession() as http:
            async with http.post(f"{base}/receipts/unknown", data=b"{}") as resp:
                assert (resp.status, (await resp.json())["error"]) == (404, "not_found")
            async with http.post(f"{base}/receipts/unknown", data=b"not json") as resp:
                assert resp.status == 400 and (await resp.json())["error"] == "invalid_input"
            async with http.get(f"{base}/receipts/unknown") as resp:  # never signed: the wallet may post again
                assert (resp.status, (await resp.json())["error"]) == (404, "not_found")
            async with http.delete(f"{base}/receipts/unknown") as resp:  # a repeated confirmation is harmless
                assert resp.status == 204
            async with http.post(f"{base}/withdrawals", json={"consent_record": "not.a.jws"}) as resp:
                assert resp.status == 400


async def test_without_a_wallet_did_the_routes_refuse_to_serve_unless_told_it_is_development() -> None:
    async with Chain.embedded() as chain, await City.deploy(chain, sender=chain.dev_keys[0]) as city:
        did, key = await city.publish_key(chain.dev_keys[1])
        service = await city.service(did=did, key=key, status_source=StaticStatusListSource({}))
        verifier = service.verifier(base_url="http://127.0.0.1:8070", name="Shop")
        with pytest.raises(InvalidInputError, match="wallet_did"):
            service.routes(verifier, purpose="age")
        with pytest.raises(InvalidInputError, match="wallet_did"):
            await service.read_consent({"consent_record": "x"})
        dev = await city.service(did=did, key=key, status_source=StaticStatusListSource({}), unsigned_consent=True)
        paths = {(r.method, r.path) for r in dev.routes(verifier, purpose="age", withdrawal_path="/w")}
        assert {("POST", "/receipts/{request_id}"), ("GET", "/receipts/{request_id}"),
                ("DELETE", "/receipts/{request_id}"), ("POST", "/w")} <= paths


async def test_a_receipt_only_for_the_access_that_happened() -> None:
    async with Chain.embedded() as chain, await City.deploy(chain, sender=chain.dev_keys[0]) as city:
        did, key = await city.publish_key(chain.dev_keys[1])
        service = await city.service(did=did, key=key, status_source=StaticStatusListSource({}))
        now = await city.now()
        consent = ConsentRecord(
            record_id="c-1", resident_pseudonym="p" * 43, controller=Controller(did=did, name="Shop"),
            purposes=("age",), claims_requested=("age_equal_or_over.20",), claims_disclosed=("age_equal_or_over.20",),
            legal_basis="consent", given_at=now, expires_at=now + timedelta(days=1), state="given",
            withdrawn_at=None, presentation_hash=presentation_hash("the-presentation"),
        )
        token = await service.access_receipt(consent, "the-presentation", purpose="age", now=now)
        assert token.count(".") == 2
        for presentation, purpose in (("another-presentation", "age"), ("the-presentation", "marketing")):
            with pytest.raises(InvalidInputError) as caught:
                await service.access_receipt(consent, presentation, purpose=purpose, now=now)
            assert caught.value.code == "consent_mismatch"
        other = Key.generate("P-256")
        stranger = Service.of(did="did:web:other.example", key=other, resolver=city.resolver, trust=city.trust,
                              status_source=StaticStatusListSource({}))
        with pytest.raises(InvalidInputError):
            await stranger.access_receipt(consent, "the-presentation", purpose="age", now=now)
