"""Interop on anvil: our resolver and npm ethr-did-resolver 11.x read the same registry state and agree.

One history per DID kind: owner changes, delegates (one expired), key and service attributes,
revocations, a signed meta-transaction, public-key DIDs (controller kept and moved), a deactivated DID
(with a change after the deactivation), and an untouched DID; compared now and at past versionIds.
Where we follow the current spec instead of 11.x (``Multikey`` as ``publicKeyMultibase``), 11.x's
output is rewritten the same way before comparing (see docs/did.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import base58
import pytest

from tests.did._reference import require_reference, run_reference
from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.ethr import EthrRegistry, Resolver
from vcsdk.keys import Key
from vcsdk.registry import Chain, DevNode, key_address

pytestmark = [pytest.mark.interop, pytest.mark.integration]

ETH = 10**18
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"


def normalize(result: dict[str, Any]) -> dict[str, Any]:
    """The parts both resolvers must agree on; 11.x's Multikey hex rewritten as publicKeyMultibase."""
    doc = dict(result.get("didDocument") or {})
    methods = []
    for vm in doc.get("verificationMethod", []):
        vm = dict(vm)
        if vm["type"] == "Multikey" and "publicKeyMultibase" not in vm:
            raw = bytes.fromhex(vm.pop("publicKeyHex", None) or vm.pop("value"))
            vm["publicKeyMultibase"] = "z" + base58.b58encode(raw).decode()
        methods.append(vm)
    context = [c for c in doc.get("@context", []) if c != MULTIKEY_CONTEXT]
    return {
        "@context": context,
        "id": doc.get("id"),
        "verificationMethod": methods,
        "authentication": doc.get("authentication"),
        "assertionMethod": doc.get("assertionMethod"),
        "keyAgreement": doc.get("keyAgreement"),
        "service": doc.get("service"),
        "didDocumentMetadata": result.get("didDocumentMetadata"),
        "contentType": result.get("didResolutionMetadata", {}).get("contentType"),
    }


async def funded_key(chain: Chain, curve: str = "secp256k1") -> Key:
    key = Key.generate(curve)  # type: ignore[arg-type]
    await chain.fund(key_address(key), ETH)
    return key


def pubkey_did(prefix: str, key: Key) -> str:
    return f"{prefix}0x{key.compressed_public_bytes().hex()}"


async def test_resolution_matches_ethr_did_resolver(anvil_chain: Chain, anvil_node: DevNode) -> None:
    require_reference()
    chain = anvil_chain
    accounts = await chain.dev_accounts()
    registry_address = await chain.deploy("EthereumDIDRegistry", sender=accounts[0])
    network = EthrNetwork(chain_id=int(chain.chain_id), registry=registry_address, chain=chain)
    reg = await EthrRegistry.bind(chain, [network])
    prefix = f"did:ethr:{hex(int(chain.chain_id))}:"
    versions: list[str] = []

    # A: an address DID with a long history.
    a = await funded_key(chain)
    a_id = key_address(a)
    a_did = prefix + a_id
    o2 = await funded_key(chain)
    d1, d2 = Key.generate("secp256k1"), Key.generate("secp256k1")
    city = Key.generate("P-256")
    await reg.set_attribute(a_id, *key_attribute(city), sender=a)
    await reg.add_delegate(a_id, "veriKey", key_address(d1), sender=a)
    await reg.add_delegate(a_id, "sigAuth", key_address(d2), 10, sender=a)  # expired when compared
    tx = await reg.set_attribute(a_id, "did/svc/Hub", "https://hub.example.org", sender=a)
    versions.append(f"{a_did}?versionId={tx.block_number}")
    await reg.set_attribute(a_id, *key_attribute(Key.generate("secp256k1"), purpose="sigAuth"), sender=a)
    await reg.set_attribute(a_id, *key_attribute(Key.generate("Ed25519")), sender=a)
    await reg.set_attribute(a_id, "did/pub/X25519/enc/base58", b"\x09" * 32, sender=a)
    tx = await reg.change_owner(a_id, key_address(o2), sender=a)
    versions.append(f"{a_did}?versionId={tx.block_number}")
    versions.append(f"{a_did}?versionId={tx.block_number - 1}")
    await reg.revoke_delegate(a_id, "veriKey", key_address(d1), sender=o2)
    await reg.revoke_attribute(a_id, "did/svc/Hub", "https://hub.example.org", sender=o2)
    await reg.set_attribute(a_id, "did/svc/Messaging", '{"uri":"https://m.example.org"}', sender=o2)
    await reg.set_attribute_signed(a_id, "did/svc/Relayed", "https://r.example.org", owner_key=o2, relayer=accounts[1])
    tx = await reg.add_delegate(a_id, "veriKey", key_address(d1), sender=o2)  # re-added: new number
    versions.append(f"{a_did}?versionId={tx.block_number}")

    # B: a public-key DID that keeps its controller; C: one whose ownership moved.
    b = await funded_key(chain)
    b_did = pubkey_did(prefix, b)
    await reg.set_attribute(key_address(b), "did/svc/Hub", "https://b.example.org", sender=b)
    await reg.add_delegate(key_address(b), "sigAuth", key_address(d2), sender=b)
    c = await funded_key(chain)
    c_did = pubkey_did(prefix, c)
    tx = await reg.change_owner(key_address(c), key_address(o2), sender=c)
    versions.append(f"{c_did}?versionId={tx.block_number - 1}")

    # D: deactivated, then one more change by the identity (the contract still accepts it).
    d = await funded_key(chain)
    d_id = key_address(d)
    d_did = prefix + d_id
    tx = await reg.set_attribute(d_id, *key_attribute(Key.generate("P-256")), sender=d)
    versions.append(f"{d_did}?versionId={tx.block_number}")
    await reg.deactivate(d_id, sender=d)
    await reg.set_attribute(d_id, "did/svc/After", "https://after.example.org", sender=d)

    # E: never touched.
    e_did = prefix + key_address(Key.generate("secp256k1"))

    head = await chain.get_block("latest")
    now = head.timestamp + 1000  # both resolvers judge validTo at this instant
    dids = [a_did, b_did, c_did, d_did, e_did, *versions]
    reference = run_reference(
        {
            "mode": "resolve",
            "rpcUrl": anvil_node.url,
            "registry": registry_address,
            "chainId": int(chain.chain_id),
            "networkName": "dev",
            "dids": dids,
            "now": now,
        }
    )["results"]
    clock = lambda: datetime.fromtimestamp(now, UTC)  # noqa: E731
    async with Resolver([network], clock=clock, cache_ttl=timedelta(0)) as resolver:
        for did, theirs in zip(dids, reference, strict=True):
            assert "error" not in theirs["didResolutionMetadata"], (did, theirs["didResolutionMetadata"])
            ours = (await resolver.resolve(did)).to_json()
            assert normalize(ours) == normalize(theirs), did
    # Sanity: the comparison covered what it claims.
    a_now = normalize(reference[0])
    assert any(vm["type"] == "Multikey" for vm in a_now["verificationMethod"])
    assert a_now["keyAgreement"] and a_now["service"]
    assert reference[3]["didDocumentMetadata"]["deactivated"] is True
    assert any(vm["id"].endswith("#controllerKey") for vm in reference[1]["didDocument"]["verificationMethod"])
    assert not any(vm["id"].endswith("#controllerKey") for vm in reference[2]["didDocument"]["verificationMethod"])
