"""The ERC-1056 EthereumDIDRegistry contract: owners, delegates, attributes, signed variants, events."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_abi.packed import encode_packed
from eth_utils.crypto import keccak

from vcsdk.errors import TransactionRevertedError
from vcsdk.keys import Key
from vcsdk.registry import Chain, ContractHandle, EmbeddedChain, address_topic, key_address, sign_hash

VERI_KEY = b"veriKey".ljust(32, b"\x00")
SIG_AUTH = b"sigAuth".ljust(32, b"\x00")
ATTR = b"did/pub/Secp256k1/veriKey/hex".ljust(32, b"\x00")
DAY = 86_400


def signed_digest(
    registry: ContractHandle, nonce: int, identity: str, action: str, types: list[str], values: list[Any]
) -> bytes:
    """ERC-1056's meta-transaction hash, built independently of the contract with eth-abi's packed encoding:
    keccak256(0x19 0x00 registry nonce identity action ...args)."""
    packed = encode_packed(
        ["bytes1", "bytes1", "address", "uint256", "address", "string", *types],
        [b"\x19", b"\x00", registry.address, nonce, identity, action, *values],
    )
    return keccak(packed)


async def _setup(chain: Chain) -> tuple[ContractHandle, list[str]]:
    accounts = await chain.dev_accounts()
    return await chain.deploy_contract("EthereumDIDRegistry", sender=accounts[0]), accounts


async def test_owner_change_links_events_through_previous_change(embedded_chain: EmbeddedChain) -> None:
    registry, accounts = await _setup(embedded_chain)
    identity, second, third = accounts[1], accounts[2], accounts[3]
    assert await registry.call("owners", identity) == "0x" + "00" * 20
    assert await registry.call("changed", identity) == 0

    first = await registry.transact("changeOwner", identity, second, sender=identity)
    assert await registry.call("owners", identity) == second
    assert await registry.call("changed", identity) == first.block_number

    # The old owner (the identity itself) lost control; the new owner has it.
    with pytest.raises(TransactionRevertedError) as info:
        await registry.transact("changeOwner", identity, third, sender=identity)
    assert info.value.reason == "bad_actor"
    later = await registry.transact("changeOwner", identity, third, sender=second)
    assert await registry.call("identityOwner", identity) == third

    events = await registry.get_events("DIDOwnerChanged", topics=[address_topic(identity)])
    assert [(e.args["owner"], e.args["previousChange"]) for e in events] == [
        (second, 0),
        (third, first.block_number),
    ]
    assert events[1].log.block_number == later.block_number


async def test_delegates_are_time_limited(embedded_chain: EmbeddedChain) -> None:
    registry, accounts = await _setup(embedded_chain)
    identity, delegate = accounts[1], accounts[2]
    assert await registry.call("validDelegate", identity, VERI_KEY, delegate) is False

    added = await registry.transact("addDelegate", identity, VERI_KEY, delegate, DAY, sender=identity)
    block = await embedded_chain.get_block(added.block_number)
    (event,) = registry.decode_logs(added.logs)
    assert event.event == "DIDDelegateChanged"
    assert event.args == {
        "identity": identity,
        "delegateType": VERI_KEY,
        "delegate": delegate,
        "validTo": block.timestamp + DAY,
        "previousChange": 0,
    }
    assert await registry.call("delegates", identity, keccak(VERI_KEY), delegate) == block.timestamp + DAY
    assert await registry.call("validDelegate", identity, VERI_KEY, delegate) is True
    assert await registry.call("validDelegate", identity, SIG_AUTH, delegate) is False

    await embedded_chain.advance_time(DAY + 1)
    assert await registry.call("validDelegate", identity, VERI_KEY, delegate) is False

    again = await registry.transact("addDelegate", identity, SIG_AUTH, delegate, DAY, sender=identity)
    revoked = await registry.transact("revokeDelegate", identity, SIG_AUTH, delegate, sender=identity)
    (revoke_event,) = registry.decode_logs(revoked.logs)
    revoke_block = await embedded_chain.get_block(revoked.block_number)
    assert revoke_event.args["validTo"] == revoke_block.timestamp
    assert revoke_event.args["previousChange"] == again.block_number
    assert await registry.call("validDelegate", identity, SIG_AUTH, delegate) is False

    with pytest.raises(TransactionRevertedError) as info:
        await registry.transact("addDelegate", identity, VERI_KEY, delegate, DAY, sender=delegate)
    assert info.value.reason == "bad_actor"


async def test_attributes_are_events_only(embedded_chain: EmbeddedChain) -> None:
    registry, accounts = await _setup(embedded_chain)
    identity = accounts[4]
    value = bytes.fromhex("02" + "11" * 32)
    set_result = await registry.transact("setAttribute", identity, ATTR, value, DAY, sender=identity)
    set_block = await embedded_chain.get_block(set_result.block_number)
    revoke_result = await registry.transact("revokeAttribute", identity, ATTR, value, sender=identity)

    events = await registry.get_events("DIDAttributeChanged", topics=[address_topic(identity)])
    assert [e.args for e in events] == [
        {"identity": identity, "name": ATTR, "value": value, "validTo": set_block.timestamp + DAY, "previousChange": 0},
        {"identity": identity, "name": ATTR, "value": value, "validTo": 0, "previousChange": set_result.block_number},
    ]
    assert await registry.call("changed", identity) == revoke_result.block_number

    with pytest.raises(TransactionRevertedError) as info:
        await registry.transact("revokeAttribute", identity, ATTR, value, sender=accounts[5])
    assert info.value.reason == "bad_actor"


async def test_signed_variants_with_a_secp256k1_key(any_chain: Chain) -> None:
    registry, accounts = await _setup(any_chain)
    relayer = accounts[0]  # pays the gas; the identity's key only signs
    owner = Key.generate("secp256k1")
    identity = key_address(owner)
    delegate = accounts[6]
    value = b"https://city.example/hub"

    async def submit(function: str, action: str, types: list[str], values: list[Any]) -> int:
        nonce = await registry.call("nonce", await registry.call("identityOwner", identity))
        signature = sign_hash(owner, signed_digest(registry, nonce, identity, action, types, values))
        await registry.transact(function, identity, signature.v, signature.r, signature.s, *values, sender=relayer)
        return int(nonce)

    assert (
        await submit("addDelegateSigned", "addDelegate", ["bytes32", "address", "uint256"], [VERI_KEY, delegate, DAY])
        == 0
    )
    assert await registry.call("validDelegate", identity, VERI_KEY, delegate) is True
    assert await submit("revokeDelegateSigned", "revokeDelegate", ["bytes32", "address"], [VERI_KEY, delegate]) == 1
    assert await registry.call("validDelegate", identity, VERI_KEY, delegate) is False
    assert await submit("setAttributeSigned", "setAttribute", ["bytes32", "bytes", "uint256"], [ATTR, value, DAY]) == 2
    assert await submit("revokeAttributeSigned", "revokeAttribute", ["bytes32", "bytes"], [ATTR, value]) == 3
    assert await registry.call("nonce", identity) == 4

    new_owner = Key.generate("secp256k1")
    assert await submit("changeOwnerSigned", "changeOwner", ["address"], [key_address(new_owner)]) == 4
    assert await registry.call("identityOwner", identity) == key_address(new_owner)
    assert await registry.call("nonce", identity) == 5
    # The nonce now counts for the new owner, who has signed nothing yet.
    assert await registry.call("nonce", key_address(new_owner)) == 0

    events = await registry.get_events(topics=[address_topic(identity)])
    assert [e.event for e in events] == [
        "DIDDelegateChanged",
        "DIDDelegateChanged",
        "DIDAttributeChanged",
        "DIDAttributeChanged",
        "DIDOwnerChanged",
    ]
    chain_of_changes = [e.args["previousChange"] for e in events]
    assert chain_of_changes == [0, *[e.log.block_number for e in events[:-1]]]


async def test_signatures_cannot_be_replayed_or_forged(embedded_chain: EmbeddedChain) -> None:
    registry, accounts = await _setup(embedded_chain)
    owner = Key.generate("secp256k1")
    identity = key_address(owner)
    digest = signed_digest(registry, 0, identity, "setAttribute", ["bytes32", "bytes", "uint256"], [ATTR, b"x", DAY])
    sig = sign_hash(owner, digest)
    await registry.transact("setAttributeSigned", identity, sig.v, sig.r, sig.s, ATTR, b"x", DAY, sender=accounts[0])

    with pytest.raises(TransactionRevertedError) as replay:
        await registry.transact(
            "setAttributeSigned", identity, sig.v, sig.r, sig.s, ATTR, b"x", DAY, sender=accounts[0]
        )
    assert replay.value.reason == "bad_signature"

    stranger = Key.generate("secp256k1")
    forged_digest = signed_digest(
        registry, 1, identity, "setAttribute", ["bytes32", "bytes", "uint256"], [ATTR, b"y", DAY]
    )
    forged = sign_hash(stranger, forged_digest)
    with pytest.raises(TransactionRevertedError) as forgery:
        await registry.transact(
            "setAttributeSigned", identity, forged.v, forged.r, forged.s, ATTR, b"y", DAY, sender=accounts[0]
        )
    assert forgery.value.reason == "bad_signature"

    # A valid signature over different arguments than those submitted does not verify either.
    good = sign_hash(owner, forged_digest)
    with pytest.raises(TransactionRevertedError) as tampered:
        await registry.transact(
            "setAttributeSigned", identity, good.v, good.r, good.s, ATTR, b"z", DAY, sender=accounts[0]
        )
    assert tampered.value.reason == "bad_signature"
    assert await registry.call("nonce", identity) == 1


@pytest.mark.integration
@pytest.mark.interop
async def test_reference_controller_computes_the_same_signed_hashes(
    anvil_chain: Chain, anvil_url: str, node_tools: Path
) -> None:
    """ethr-did-resolver's EthrDidController builds the meta-transaction hashes that wallets sign;
    its hashes must be ours, and a signature over them must be accepted by our contract."""
    registry, accounts = await _setup(anvil_chain)
    owner = Key.generate("secp256k1")
    identity = key_address(owner)
    new_owner = accounts[7]
    script = """
const { EthrDidController } = require('ethr-did-resolver');
const [rpcUrl, registry, identity, newOwner, delegate] = process.argv.slice(1);
(async () => {
  const c = new EthrDidController(identity, undefined, undefined, 31337, undefined, rpcUrl, registry, false);
  const out = {
    changeOwner: await c.createChangeOwnerHash(newOwner),
    addDelegate: await c.createAddDelegateHash('veriKey', delegate, 86400),
    revokeDelegate: await c.createRevokeDelegateHash('veriKey', delegate),
    setAttribute: await c.createSetAttributeHash('did/svc/HubService', 'https://hub.example', 86400),
    revokeAttribute: await c.createRevokeAttributeHash('did/svc/HubService', 'https://hub.example'),
  };
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""
    node = shutil.which("node")
    assert node is not None
    proc = subprocess.run(
        [node, "-e", script, anvil_url, registry.address, identity, new_owner, accounts[6]],
        cwd=node_tools,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    reference = {k: bytes.fromhex(v[2:]) for k, v in json.loads(proc.stdout).items()}

    svc = b"did/svc/HubService".ljust(32, b"\x00")
    url = b"https://hub.example"
    ours = {
        "changeOwner": signed_digest(registry, 0, identity, "changeOwner", ["address"], [new_owner]),
        "addDelegate": signed_digest(
            registry, 0, identity, "addDelegate", ["bytes32", "address", "uint256"], [VERI_KEY, accounts[6], DAY]
        ),
        "revokeDelegate": signed_digest(
            registry, 0, identity, "revokeDelegate", ["bytes32", "address"], [VERI_KEY, accounts[6]]
        ),
        "setAttribute": signed_digest(
            registry, 0, identity, "setAttribute", ["bytes32", "bytes", "uint256"], [svc, url, DAY]
        ),
        "revokeAttribute": signed_digest(registry, 0, identity, "revokeAttribute", ["bytes32", "bytes"], [svc, url]),
    }
    assert ours == reference

    sig = sign_hash(owner, reference["changeOwner"])
    await registry.transact("changeOwnerSigned", identity, sig.v, sig.r, sig.s, new_owner, sender=accounts[0])
    assert await registry.call("identityOwner", identity) == new_owner
