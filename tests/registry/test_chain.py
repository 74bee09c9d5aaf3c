"""The generic chain layer on both backends: deploy, call, transact, revert, confirmations, logs."""

from __future__ import annotations

import asyncio

import pytest

from vcsdk.errors import InvalidInputError, RegistryError, TransactionRevertedError
from vcsdk.keys import Key
from vcsdk.registry import (
    BlockInfo,
    Chain,
    ContractHandle,
    DevChain,
    EmbeddedChain,
    JsonRpcChain,
    LogFilter,
    TxResult,
    address_topic,
    key_address,
)

BAD_ACTOR_DATA = (
    "0x08c379a0"
    "0000000000000000000000000000000000000000000000000000000000000020"
    "0000000000000000000000000000000000000000000000000000000000000009"
    "6261645f6163746f720000000000000000000000000000000000000000000000"
)
NAME = b"did/svc/Example".ljust(32, b"\x00")


async def _registry(chain: Chain) -> tuple[ContractHandle, list[str]]:
    accounts = await chain.dev_accounts()
    return await chain.deploy_contract("EthereumDIDRegistry", sender=accounts[0]), accounts


async def test_deploy_call_and_transact(any_chain: Chain) -> None:
    accounts = await any_chain.dev_accounts()
    address = await any_chain.deploy("EthereumDIDRegistry", sender=accounts[0])
    registry = any_chain.contract("EthereumDIDRegistry", address)
    assert await any_chain.get_code(address) == registry.artifact.deployed_bytecode
    identity = accounts[1]
    assert await registry.call("identityOwner", identity) == identity

    result = await registry.transact("changeOwner", identity, accounts[2], sender=identity)
    assert isinstance(result, TxResult)
    assert result.status == 1 and result.gas_used > 0 and result.confirmations >= 1
    block = await any_chain.get_block(result.block_number)
    assert (block.transaction_count, block.gas_used) == (1, result.gas_used)
    assert await registry.call("identityOwner", identity) == accounts[2]
    assert await registry.call("changed", identity) == result.block_number

    (event,) = registry.decode_logs(result.logs)
    assert event.event == "DIDOwnerChanged"
    assert event.args == {"identity": identity, "owner": accounts[2], "previousChange": 0}


async def test_local_key_signs_raw_transactions(any_chain: Chain) -> None:
    registry, _ = await _registry(any_chain)
    key = Key.generate("secp256k1")
    me = key_address(key)
    await any_chain.fund(me, 10**17)
    assert await any_chain.get_balance(me) == 10**17

    # Several transactions from one key at once: nonces must not collide.
    results = await asyncio.gather(
        *(registry.transact("setAttribute", me, NAME, f"v{i}".encode(), 60, sender=key) for i in range(4))
    )
    assert len({r.tx_hash for r in results}) == 4
    events = await registry.get_events("DIDAttributeChanged", topics=[address_topic(me)])
    assert sorted(e.args["value"] for e in events) == [b"v0", b"v1", b"v2", b"v3"]
    assert await any_chain.get_balance(me) < 10**17


async def test_revert_reason_is_kept_for_calls_estimates_and_mined_transactions(any_chain: Chain) -> None:
    registry, accounts = await _registry(any_chain)
    stranger, identity = accounts[3], accounts[4]

    with pytest.raises(TransactionRevertedError) as call_info:
        await registry.call("changeOwner", identity, stranger, sender=stranger)
    assert call_info.value.reason == "bad_actor"
    assert call_info.value.data == BAD_ACTOR_DATA

    with pytest.raises(TransactionRevertedError) as estimate_info:
        await registry.transact("changeOwner", identity, stranger, sender=stranger)
    assert estimate_info.value.reason == "bad_actor"
    assert estimate_info.value.details["reason"] == "bad_actor"

    # With explicit gas there is no estimate: the transaction is mined, fails, and is replayed.
    with pytest.raises(TransactionRevertedError) as mined_info:
        await registry.transact("changeOwner", identity, stranger, sender=stranger, gas=200_000)
    assert mined_info.value.reason == "bad_actor"
    assert mined_info.value.data == BAD_ACTOR_DATA
    assert mined_info.value.code == "tx_reverted"
    assert await registry.call("identityOwner", identity) == identity


async def test_confirmations_wait_for_blocks_on_top(any_chain: Chain) -> None:
    registry, accounts = await _registry(any_chain)
    result = await registry.transact("changeOwner", accounts[5], accounts[6], sender=accounts[5], confirmations=4)
    head = await any_chain.block_number()
    assert head >= result.block_number + 3
    assert result.confirmations >= 4
    assert await any_chain.confirmed_block_number() == head - any_chain.confirmations + 1


async def test_default_confirmations_come_from_the_chain() -> None:
    async with Chain.embedded(confirmations=3) as chain:
        assert chain.confirmations == 3
        accounts = await chain.dev_accounts()
        registry = await chain.deploy_contract("EthereumDIDRegistry", sender=accounts[0])
        result = await registry.transact("changeOwner", accounts[1], accounts[2], sender=accounts[1])
        head = await chain.block_number()
        assert head == result.block_number + 2
        assert result.confirmations == 3
        assert await chain.confirmed_block_number() == result.block_number
        zero = await registry.transact("changeOwner", accounts[1], accounts[3], sender=accounts[2], confirmations=0)
        assert await chain.block_number() == zero.block_number


@pytest.mark.integration
async def test_confirmations_time_out_when_no_blocks_come(anvil_url: str) -> None:
    async with await DevChain.connect(anvil_url, confirmations=3, tx_timeout=0.3, poll_interval=0.05) as chain:
        accounts = await chain.dev_accounts()
        registry = await chain.deploy_contract("EthereumDIDRegistry", sender=accounts[0], confirmations=1)
        head = await chain.block_number()
        with pytest.raises(RegistryError) as info:
            await registry.transact("changeOwner", accounts[7], accounts[8], sender=accounts[7])
        assert info.value.code == "confirmation_timeout"
        assert info.value.details["block_number"] == head + 1
        # The change is mined but not yet final; once blocks come, it counts.
        assert await chain.block_number() == head + 1
        await chain.mine(2)
        resumed = await chain.wait_for_confirmations(bytes.fromhex(info.value.details["tx_hash"][2:]))
        assert resumed.block_number == head + 1 and resumed.confirmations == 3
        assert await registry.call("identityOwner", accounts[7]) == accounts[8]
        with pytest.raises(RegistryError) as unknown:
            await chain.wait_for_confirmations(b"\x11" * 32)
        assert unknown.value.code == "tx_dropped"


async def test_blocks_and_time(any_chain: Chain) -> None:
    genesis = await any_chain.get_block(0)
    latest = await any_chain.get_block("latest")
    assert isinstance(genesis, BlockInfo) and genesis.number == 0 and len(genesis.hash) == 32
    assert latest.number == await any_chain.block_number()
    later = await any_chain.advance_time(3600)
    assert later.number == latest.number + 1
    assert later.timestamp >= latest.timestamp + 3600
    mined = await any_chain.mine(3)
    assert mined == later.number + 3
    with pytest.raises(RegistryError) as info:
        await any_chain.get_block(mined + 1000)
    assert info.value.code == "block_not_found"


async def test_block_headers_in_one_batch(any_chain: Chain) -> None:
    await any_chain.mine(2)
    head = await any_chain.block_number()
    wanted = [head, 0, head - 1, head]
    headers = await any_chain.get_blocks(wanted)
    assert headers == [await any_chain.get_block(b) for b in wanted]
    assert await any_chain.get_blocks([]) == []
    with pytest.raises(RegistryError) as info:
        await any_chain.get_blocks([0, head + 1000])
    assert info.value.code == "block_not_found"
    with pytest.raises(InvalidInputError):
        await any_chain.get_blocks([-1])


async def test_submit_returns_the_hash_and_the_caller_follows_it(any_chain: Chain) -> None:
    registry, accounts = await _registry(any_chain)
    call = registry.function("changeOwner", accounts[3], accounts[4])
    tx_hash = await any_chain.submit(call, sender=accounts[3])
    assert len(tx_hash) == 32
    result = await any_chain.wait_for_confirmations(tx_hash)
    assert result.tx_hash == tx_hash and result.status == 1
    assert not await any_chain.transaction_pending(tx_hash)  # mined
    assert not await any_chain.transaction_pending(b"\x22" * 32)  # never sent
    assert await registry.call("identityOwner", accounts[3]) == accounts[4]
    # A call that would revert is refused at estimation and never sent.
    nonce_before = await any_chain.w3.eth.get_transaction_count(accounts[5])  # type: ignore[arg-type]
    with pytest.raises(TransactionRevertedError) as info:
        await any_chain.submit(registry.function("changeOwner", accounts[3], accounts[5]), sender=accounts[5])
    assert info.value.reason == "bad_actor"
    assert await any_chain.w3.eth.get_transaction_count(accounts[5]) == nonce_before  # type: ignore[arg-type]


async def test_custom_errors_are_named_from_the_abi(any_chain: Chain) -> None:
    accounts = await any_chain.dev_accounts()
    receipts = await any_chain.deploy_contract("AccessReceiptRegistry", sender=accounts[0])
    with pytest.raises(TransactionRevertedError) as info:
        await receipts.transact("anchor", b"\x01" * 32, b"\x02" * 32, 1, sender=accounts[1])
    assert receipts.error_name(info.value.data) == "NotAnchorer"
    assert receipts.error_name(bytes.fromhex(info.value.data[2:])) == "NotAnchorer"  # type: ignore[index]
    assert receipts.error_name(BAD_ACTOR_DATA) is None  # Error(string), not a custom error
    assert receipts.error_name(None) is None
    assert receipts.error_name("0xzz") is None
    assert receipts.error_name("0x01") is None


async def test_logs_single_and_batched(any_chain: Chain) -> None:
    registry, accounts = await _registry(any_chain)
    first = await registry.transact("setAttribute", accounts[1], NAME, b"a", 10, sender=accounts[1])
    second = await registry.transact("setAttribute", accounts[1], NAME, b"b", 10, sender=accounts[1])
    topic = registry.event_topic("DIDAttributeChanged")
    by_block = await any_chain.get_logs_many(
        [
            LogFilter(
                address=registry.address, topics=(topic,), from_block=first.block_number, to_block=first.block_number
            ),
            LogFilter(address=registry.address, from_block=second.block_number, to_block=second.block_number),
            LogFilter(address=registry.address, topics=(topic, address_topic(accounts[2]))),
        ]
    )
    assert [len(logs) for logs in by_block] == [1, 1, 0]
    assert by_block[0][0] == first.logs[0]
    assert by_block[1][0] == second.logs[0]
    decoded = registry.decode_logs([*by_block[0], *by_block[1]])
    assert [e.args["value"] for e in decoded] == [b"a", b"b"]
    assert decoded[1].args["previousChange"] == first.block_number
    everything = await any_chain.get_logs(address=registry.address, from_block=0)
    assert everything == [first.logs[0], second.logs[0]]


async def test_bad_arguments_are_invalid_input(any_chain: Chain) -> None:
    registry, accounts = await _registry(any_chain)
    with pytest.raises(InvalidInputError):
        registry.function("changeOwner", accounts[0])  # one argument short
    with pytest.raises(InvalidInputError):
        registry.function("noSuchFunction")
    with pytest.raises(InvalidInputError):
        any_chain.contract("EthereumDIDRegistry", "0x1234")
    with pytest.raises(InvalidInputError):
        await any_chain.get_block(-1)
    with pytest.raises(InvalidInputError):
        registry.event_topic("NoSuchEvent")


def test_embedded_chain_has_dev_keys() -> None:
    chain = Chain.embedded()
    assert isinstance(chain, EmbeddedChain)
    keys = chain.dev_keys
    assert len(keys) == 10 and all(k.curve == "secp256k1" and k.is_private for k in keys)
    assert "embedded" in repr(chain)


@pytest.mark.integration
async def test_anvil_chain_fixture_is_json_rpc(anvil_chain: JsonRpcChain) -> None:
    assert anvil_chain.chain_id == 31337
    assert anvil_chain.endpoint.startswith("http://127.0.0.1:")
    assert len(await anvil_chain.dev_accounts()) == 10


def test_production_chain_has_no_dev_helpers() -> None:
    # Mining, moving the clock, unlocked accounts and funding are DevChain's, never a production Chain's.
    from vcsdk.registry import DevChain, DevJsonRpcChain, EmbeddedChain

    for name in ("mine", "_mine_blocks", "advance_time", "dev_accounts", "fund"):
        assert not hasattr(JsonRpcChain, name) and not hasattr(Chain, name), name
    for name in ("mine", "advance_time", "dev_accounts", "fund"):
        assert callable(getattr(DevChain, name)) and callable(getattr(DevJsonRpcChain, name))
    assert issubclass(EmbeddedChain, DevChain) and issubclass(DevJsonRpcChain, JsonRpcChain)
    # Confirmation waiting mines through a hook only the dev chain fills in.
    assert DevChain._mine_for_confirmations is not Chain._mine_for_confirmations


@pytest.mark.integration
async def test_only_a_dev_chain_mines_for_confirmations(anvil_url: str) -> None:
    async with await Chain.connect(anvil_url) as chain:
        assert not isinstance(chain, DevChain)
        head = await chain.block_number()
        with pytest.raises(RegistryError) as info:
            await chain.confirmations_of(head, wanted=3, mine=True)
        assert info.value.code == "rpc_error" and "DevChain" in str(info.value)
        assert await chain.block_number() == head  # nothing was mined
        assert await chain.confirmations_of(head, wanted=3) == 1  # without mining: what there is
    # Asking Chain.connect to mine gives a dev chain, which mines the missing blocks.
    async with await Chain.connect(anvil_url, mine_to_confirm=True) as dev:
        assert isinstance(dev, DevChain) and isinstance(dev, JsonRpcChain)
        head = await dev.block_number()
        assert await dev.confirmations_of(head, wanted=3) == 3
        assert await dev.block_number() == head + 2
