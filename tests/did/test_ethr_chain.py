"""did:ethr on a real chain (embedded py-evm, and anvil under the integration marker): updates,
signed meta-transactions, resolution with history, caching, finality, and the typed errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests._net import free_port
from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.did.erc1056 import bytes32, change_owner_digest
from vcsdk.errors import (
    ChainIdMismatchError,
    ChainUnavailableError,
    DidDeactivatedError,
    DidNotFoundError,
    DidResolutionError,
    InvalidDidError,
    InvalidInputError,
    KeyNotFoundError,
    RegistryNotConfiguredError,
    TransactionRevertedError,
    UnsupportedDidMethodError,
)
from vcsdk.ethr import EthrRegistry, Resolver
from vcsdk.keys import Key, sign_jws, verify_jws
from vcsdk.registry import Chain, DevNode, key_address, sign_hash

ETH = 10**18


class ChainClock:
    """A clock pinned to the chain's head time plus a margin (the chain may run ahead of the wall clock)."""

    def __init__(self) -> None:
        self.seconds = 0

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.seconds, UTC)

    async def sync(self, chain: Chain, *, margin: int = 1000) -> None:
        self.seconds = (await chain.get_block("latest")).timestamp + margin


@dataclass
class Setup:
    chain: Chain
    network: EthrNetwork
    registry: EthrRegistry
    owner: Key
    identity: str
    did: str
    relayer: str
    clock: ChainClock

    def resolver(self, **kwargs: object) -> Resolver:
        kwargs.setdefault("cache_ttl", timedelta(0))
        return Resolver([self.network], clock=self.clock, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def setup(any_chain: Chain) -> AsyncIterator[Setup]:
    accounts = await any_chain.dev_accounts()
    registry_address = await any_chain.deploy("EthereumDIDRegistry", sender=accounts[0])
    network = EthrNetwork(chain_id=int(any_chain.chain_id), registry=registry_address, chain=any_chain)
    registry = await EthrRegistry.bind(any_chain, [network])
    owner = Key.generate("secp256k1")
    await any_chain.fund(key_address(owner), ETH)
    identity = key_address(owner)
    clock = ChainClock()
    await clock.sync(any_chain)
    yield Setup(
        chain=any_chain,
        network=network,
        registry=registry,
        owner=owner,
        identity=identity,
        did=f"did:ethr:{hex(int(any_chain.chain_id))}:{identity}",
        relayer=accounts[1],
        clock=clock,
    )


async def test_updates_resolve_into_the_document(setup: Setup) -> None:
    s = setup
    city_key = Key.generate("P-256")
    delegate = Key.generate("secp256k1")
    await s.registry.set_attribute(s.identity, *key_attribute(city_key), sender=s.owner)
    await s.registry.add_delegate(s.identity, "sigAuth", key_address(delegate), sender=s.owner)
    await s.registry.set_attribute(s.identity, "did/svc/CredentialIssuer", "https://city.example/vci", sender=s.owner)
    await s.clock.sync(s.chain)
    async with s.resolver() as resolver:
        result = await resolver.resolve(s.did)
        doc = result.document_json()
        types = [vm["type"] for vm in doc["verificationMethod"]]
        assert types == ["EcdsaSecp256k1RecoveryMethod2020", "Multikey", "EcdsaSecp256k1RecoveryMethod2020"]
        assert doc["authentication"] == [f"{s.did}#controller", f"{s.did}#delegate-2"]
        assert doc["service"] == [
            {"id": f"{s.did}#service-1", "type": "CredentialIssuer", "serviceEndpoint": "https://city.example/vci"}
        ]
        assert int(result.did_document_metadata["versionId"]) == await s.registry.changed(s.identity)
        # The city's ES256 key, as a verifier finds it.
        key = await resolver.resolve_key(s.did, f"{s.did}#delegate-1")
        token = sign_jws({"iss": s.did}, city_key.with_kid(key.kid))
        assert verify_jws(token, key).claims() == {"iss": s.did}
        # The controller is a blockchain account only: no usable key.
        with pytest.raises(KeyNotFoundError, match="ES256K-R"):
            await resolver.resolve_key(s.did, "#controller")
        # The registry reads.
        assert await s.registry.identity_owner(s.identity) == s.identity
        assert await s.registry.valid_delegate(s.identity, "sigAuth", key_address(delegate))


async def test_signed_meta_transactions_relayer_pays(setup: Setup) -> None:
    s = setup
    owner = Key.generate("secp256k1")  # never funded: it cannot pay for anything itself
    identity = key_address(owner)
    did = f"did:ethr:{hex(int(s.chain.chain_id))}:{identity}"
    city_key = Key.generate("P-256")
    new_owner = Key.generate("secp256k1")
    name, value = key_attribute(city_key)
    assert await s.registry.nonce(identity) == 0
    await s.registry.set_attribute_signed(identity, name, value, owner_key=owner, relayer=s.relayer)
    await s.registry.add_delegate_signed(identity, "veriKey", s.relayer, owner_key=owner, relayer=s.relayer)
    await s.registry.revoke_delegate_signed(identity, "veriKey", s.relayer, owner_key=owner, relayer=s.relayer)
    await s.registry.set_attribute_signed(
        identity, "did/svc/X", "https://x.example", owner_key=owner, relayer=s.relayer
    )
    await s.registry.revoke_attribute_signed(
        identity, "did/svc/X", "https://x.example", owner_key=owner, relayer=s.relayer
    )
    assert await s.registry.nonce(identity) == 5
    await s.registry.change_owner_signed(identity, key_address(new_owner), owner_key=owner, relayer=s.relayer)
    assert await s.chain.get_balance(identity) == 0
    assert await s.registry.identity_owner(identity) == key_address(new_owner)
    await s.clock.sync(s.chain)
    async with s.resolver() as resolver:
        doc = (await resolver.resolve(did)).document_json()
        assert [vm["id"] for vm in doc["verificationMethod"]] == [f"{did}#controller", f"{did}#delegate-1"]
        assert doc["verificationMethod"][0]["blockchainAccountId"].endswith(key_address(new_owner))
        assert "service" not in doc
    # The old owner's key no longer controls the identity.
    with pytest.raises(InvalidInputError, match="not the identity's current owner"):
        await s.registry.set_attribute_signed(identity, "did/svc/Y", "u", owner_key=owner, relayer=s.relayer)
    # A replayed signature (nonce already burnt) is refused by the registry.
    digest = change_owner_digest(s.registry.address, 0, identity, s.relayer)
    old = sign_hash(owner, digest)
    handle = s.chain.contract("EthereumDIDRegistry", s.registry.address)
    with pytest.raises(TransactionRevertedError) as info:
        await handle.transact("changeOwnerSigned", identity, old.v, old.r, old.s, s.relayer, sender=s.relayer)
    assert info.value.code == "tx_reverted"


async def test_registry_refuses_unconfigured_pairs(setup: Setup) -> None:
    s = setup
    other = EthrNetwork(chain_id=int(s.chain.chain_id) + 1, registry=s.registry.address, chain=s.chain)
    with pytest.raises(RegistryNotConfiguredError) as info:
        await EthrRegistry.bind(s.chain, [other])
    assert info.value.code == "registry_not_configured"
    with pytest.raises(RegistryNotConfiguredError):
        await EthrRegistry.bind(s.chain, [s.network], registry="0x" + "12" * 20)
    no_code = EthrNetwork(chain_id=int(s.chain.chain_id), registry="0x" + "12" * 20, chain=s.chain)
    with pytest.raises(RegistryNotConfiguredError, match="no contract"):
        await EthrRegistry.bind(s.chain, [no_code])
    # A binding built by hand for an unconfigured pair still refuses to sign.
    rogue = EthrRegistry(
        s.chain, EthrNetwork(chain_id=int(s.chain.chain_id) + 7, registry=s.registry.address, chain=s.chain)
    )
    with pytest.raises(RegistryNotConfiguredError):
        await rogue.change_owner_signed(s.identity, s.relayer, owner_key=s.owner, relayer=s.relayer)


async def test_reverted_and_invalid_updates(setup: Setup) -> None:
    s = setup
    stranger = Key.generate("secp256k1")
    await s.chain.fund(key_address(stranger), ETH)
    with pytest.raises(TransactionRevertedError) as info:
        await s.registry.change_owner(s.identity, key_address(stranger), sender=stranger)
    assert info.value.code == "tx_reverted"
    assert "bad_actor" in (info.value.reason or info.value.message)
    with pytest.raises(InvalidInputError):
        await s.registry.set_attribute(s.identity, "did/pub/" + "x" * 40, b"v", sender=s.owner)
    with pytest.raises(InvalidInputError):
        await s.registry.add_delegate(s.identity, "veriKey", "0x1234", sender=s.owner)
    with pytest.raises(InvalidInputError):
        await s.registry.add_delegate(s.identity, "veriKey", s.relayer, 0, sender=s.owner)
    with pytest.raises(InvalidInputError):
        key_attribute(Key.generate("P-256"), purpose="enc")


async def test_deactivation_from_events(setup: Setup) -> None:
    s = setup
    await s.registry.set_attribute(s.identity, *key_attribute(Key.generate("P-256")), sender=s.owner)
    tx = await s.registry.deactivate(s.identity, sender=s.owner)
    # The contract answers the identity itself as owner again; resolution must not be fooled by it.
    assert await s.registry.identity_owner(s.identity) == s.identity
    await s.clock.sync(s.chain)
    async with s.resolver() as resolver:
        result = await resolver.resolve(s.did)
        assert result.deactivated
        assert result.did_document_metadata["versionId"] == str(tx.block_number)
        assert result.document_json()["verificationMethod"] == []
        with pytest.raises(DidDeactivatedError) as info:
            await resolver.resolve_key(s.did, "#delegate-1")
        assert info.value.code == "did_deactivated"
        # The version before deactivation is still readable.
        before = await resolver.resolve(f"{s.did}?versionId={tx.block_number - 1}")
        assert not before.deactivated
        assert before.did_document_metadata["nextVersionId"] == str(tx.block_number)


async def test_history_by_version_id_and_version_time(setup: Setup) -> None:
    s = setup
    first, second = Key.generate("P-256"), Key.generate("P-256")
    name1, value1 = key_attribute(first)
    tx1 = await s.registry.set_attribute(s.identity, name1, value1, sender=s.owner)
    await s.chain.advance_time(100)
    await s.registry.revoke_attribute(s.identity, name1, value1, sender=s.owner)
    tx2 = await s.registry.set_attribute(s.identity, *key_attribute(second), sender=s.owner)
    await s.clock.sync(s.chain)
    t1 = (await s.chain.get_block(tx1.block_number)).timestamp
    async with s.resolver() as resolver:
        # Rotation: the current document has only the second key.
        current = await resolver.resolve_key(s.did, None)
        assert current.public_jwk() == second.public_jwk()
        with pytest.raises(KeyNotFoundError):
            await resolver.resolve_key(s.did, f"{s.did}#delegate-1")
        # At the first key's time (a credential issued then), the first key is found.
        old = await resolver.resolve_key(s.did, "#delegate-1", at=datetime.fromtimestamp(t1 + 10, UTC))
        assert old.public_jwk() == first.public_jwk()
        v1 = await resolver.resolve(f"{s.did}?versionId={tx1.block_number}")
        assert v1.did_document_metadata["versionId"] == str(tx1.block_number)
        assert int(v1.did_document_metadata["nextVersionId"]) > tx1.block_number
        latest = await resolver.resolve(s.did)
        assert latest.did_document_metadata["versionId"] == str(tx2.block_number)
        assert "nextVersionId" not in latest.did_document_metadata
        with pytest.raises(DidNotFoundError):
            await resolver.resolve(f"{s.did}?versionId={tx2.block_number + 10_000}")
        with pytest.raises(InvalidDidError):
            await resolver.resolve(f"{s.did}?versionId=1&versionTime=2026-01-01T00:00:00Z")
        with pytest.raises(InvalidDidError):
            await resolver.resolve(f"{s.did}?versionId=abc")


async def test_cache_revalidates_with_one_call_and_fetches_only_new_blocks(setup: Setup) -> None:
    s = setup
    for i in range(3):
        await s.registry.set_attribute(s.identity, f"did/svc/S{i}", f"https://s{i}.example", sender=s.owner)
    await s.clock.sync(s.chain)
    async with s.resolver() as resolver:
        await resolver.resolve(s.did)
        cold = resolver.rpc_calls
        assert cold == 1 + 3 + 1  # changed, one eth_getLogs per changed block, one batch of headers
        await resolver.resolve(s.did)
        assert resolver.rpc_calls == cold + 1  # one changed() call, nothing else
        await s.registry.set_attribute(s.identity, "did/svc/S3", "https://s3.example", sender=s.owner)
        result = await resolver.resolve(s.did)
        assert resolver.rpc_calls == cold + 1 + 3  # then: changed, the new block's logs, its header
        assert len(result.document_json()["service"]) == 4
    # With a TTL, a warm resolve makes no call at all.
    async with s.resolver(cache_ttl=timedelta(minutes=5)) as cached:
        await cached.resolve(s.did)
        calls = cached.rpc_calls
        for _ in range(100):
            await cached.resolve(s.did)
        assert cached.rpc_calls == calls
        cached.invalidate(s.did)
        await cached.resolve(s.did)
        assert cached.rpc_calls > calls


async def test_cost_does_not_grow_with_chain_length(setup: Setup) -> None:
    s = setup
    for i in range(2):
        await s.registry.set_attribute(s.identity, f"did/svc/S{i}", f"https://s{i}.example", sender=s.owner)
    await s.clock.sync(s.chain)
    async with s.resolver() as short:
        await short.resolve(s.did)
        calls_short = short.rpc_calls
    await s.chain.mine(300)  # a much longer chain, same identity history
    async with s.resolver() as long:
        await long.resolve(s.did)
        assert long.rpc_calls == calls_short == 1 + 2 + 1


async def test_concurrent_cold_resolves_share_one_walk(setup: Setup) -> None:
    s = setup
    for i in range(3):
        await s.registry.set_attribute(s.identity, f"did/svc/S{i}", f"https://s{i}.example", sender=s.owner)
    await s.clock.sync(s.chain)
    async with s.resolver() as resolver:
        results = await asyncio.gather(*(resolver.resolve(s.did) for _ in range(5)))
        assert resolver.rpc_calls == 1 + 3 + 1
        assert len({json.dumps(r.to_json(), sort_keys=True) for r in results}) == 1


async def test_finality_depth_hides_recent_changes(setup: Setup) -> None:
    s = setup
    deep = EthrNetwork(chain_id=s.network.chain_id, registry=s.network.registry, chain=s.chain, finality_depth=3)
    await s.chain.mine(3)  # the registry itself must be 3 blocks deep
    await s.registry.set_attribute(s.identity, "did/svc/Hub", "https://hub.example", sender=s.owner)
    await s.clock.sync(s.chain)
    async with Resolver([deep], clock=s.clock, cache_ttl=timedelta(0)) as resolver:
        assert "service" not in (await resolver.resolve(s.did)).document_json()
        await s.chain.mine(3)
        assert "service" in (await resolver.resolve(s.did)).document_json()


async def test_resolution_errors(setup: Setup) -> None:
    s = setup
    async with s.resolver() as resolver:
        with pytest.raises(DidResolutionError) as info:
            await resolver.resolve(f"did:ethr:0x7a69aa:{s.identity}")
        assert info.value.code == "unknown_network"
        with pytest.raises(DidResolutionError) as info:
            await resolver.resolve(f"did:ethr:sepolia:{s.identity}")
        assert info.value.code == "unknown_network"
        with pytest.raises(UnsupportedDidMethodError) as info2:
            await resolver.resolve("did:web:example.org")
        assert info2.value.code == "method_not_supported"
        with pytest.raises(InvalidDidError):
            await resolver.resolve("did:ethr:0x1234")
        with pytest.raises(InvalidDidError):
            await resolver.resolve(f"{s.did}/path")
        with pytest.raises(InvalidDidError):
            await resolver.resolve_key(f"{s.did}#x", None)


async def test_wrong_registry_address(setup: Setup) -> None:
    s = setup
    wrong = EthrNetwork(chain_id=s.network.chain_id, registry="0x" + "12" * 20, chain=s.chain)
    async with Resolver([wrong]) as resolver:
        with pytest.raises(DidResolutionError) as info:
            await resolver.resolve(s.did)
        assert info.value.code == "registry_not_found"


async def test_rpc_down_is_chain_unavailable() -> None:
    port = free_port()  # nothing listens there
    network = EthrNetwork(chain_id=1337, registry="0x" + "12" * 20, rpc_urls=(f"http://127.0.0.1:{port}",))
    async with Resolver([network]) as resolver:
        with pytest.raises(ChainUnavailableError) as info:
            await resolver.resolve("did:ethr:0x539:0x" + "34" * 20)
        assert info.value.code == "chain_unavailable"
    # The message names the endpoint it tried and where that URL comes from.
    assert f"http://127.0.0.1:{port}" in info.value.message and "--rpc-url" in info.value.message
    assert info.value.details["endpoints"] == [f"http://127.0.0.1:{port}"]


@pytest.mark.integration
async def test_wrong_chain_id_and_failover(anvil_node: DevNode) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    wrong = EthrNetwork(chain_id=anvil_node.chain_id + 1, registry="0x" + "12" * 20, rpc_urls=(anvil_node.url,))
    async with Resolver([wrong]) as resolver:
        with pytest.raises(ChainIdMismatchError) as info:
            await resolver.resolve(f"did:ethr:{hex(anvil_node.chain_id + 1)}:0x" + "34" * 20)
        assert info.value.code == "wrong_chain_id"
    # The first endpoint is down, the second answers (and reports that no registry is there).
    ok = EthrNetwork(chain_id=anvil_node.chain_id, registry="0x" + "12" * 20, rpc_urls=(dead, anvil_node.url))
    async with Resolver([ok]) as resolver:
        with pytest.raises(DidResolutionError) as info2:
            await resolver.resolve(f"did:ethr:{hex(anvil_node.chain_id)}:0x" + "34" * 20)
        assert info2.value.code == "registry_not_found"


def test_bytes32_refuses_long_names() -> None:
    assert bytes32("veriKey") == b"veriKey" + b"\x00" * 25
    with pytest.raises(InvalidInputError):
        bytes32("x" * 33)


async def test_a_parsed_key_is_reused_only_while_the_document_stands(setup: Setup) -> None:
    s = setup
    first = Key.generate("P-256")
    await s.registry.set_attribute(s.identity, *key_attribute(first), sender=s.owner)
    await s.clock.sync(s.chain)
    async with s.resolver() as resolver:  # no TTL: every resolve asks the chain whether the DID changed
        kid = f"{s.did}#delegate-1"
        key = await resolver.resolve_key(s.did, kid)
        assert await resolver.resolve_key(s.did, kid) is key  # same document: the key is not parsed again
        assert key.public_jwk() == first.public_jwk()
        # Another relationship is looked up on its own (a veriKey is not an authentication key).
        with pytest.raises(KeyNotFoundError):
            await resolver.resolve_key(s.did, kid, relationship="authentication")
        # The key revoked: the next lookup reads the new document and no longer finds it.
        await s.registry.revoke_attribute(s.identity, *key_attribute(first), sender=s.owner)
        await s.clock.sync(s.chain)
        with pytest.raises(KeyNotFoundError):
            await resolver.resolve_key(s.did, kid)
