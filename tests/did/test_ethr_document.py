"""The pure did:ethr document builder: expected documents, and the same histories through ethr-did-resolver."""

from __future__ import annotations

import random
from typing import Any

import base58
import pytest

from tests.did._reference import run_reference
from tests.did.ethr_cases import (
    ADDRESS,
    CHAIN_ID,
    DELEGATE_1,
    DELEGATE_2,
    DID,
    ED_KEY,
    FAR,
    NOW,
    OWNER_2,
    P256_MULTIKEY,
    PUBKEY_ADDRESS,
    PUBKEY_DID,
    SECP_KEY,
    Case,
    History,
    cases,
    reference_history,
    ts,
)
from vcsdk.did._ethr_document import ETHR_CONTEXT, build_ethr_document, iso_timestamp
from vcsdk.did._syntax import parse_ethr_did

CASES = {c.name: c for c in cases()}


def build(case: Case) -> Any:
    return build_ethr_document(
        case.parsed, case.history.events, chain_id=CHAIN_ID, now=case.now, until_block=case.until_block
    )


def ids(values: list[Any]) -> list[str]:
    return [v if isinstance(v, str) else v["id"] for v in values]


def test_no_events_gives_the_default_document() -> None:
    built = build(CASES["no_events"])
    assert built.document == {
        "@context": ETHR_CONTEXT,
        "id": DID,
        "verificationMethod": [
            {
                "id": f"{DID}#controller",
                "type": "EcdsaSecp256k1RecoveryMethod2020",
                "controller": DID,
                "blockchainAccountId": f"eip155:1337:{ADDRESS}",
            }
        ],
        "authentication": [f"{DID}#controller"],
        "assertionMethod": [f"{DID}#controller"],
    }
    assert built.metadata == {}
    assert not built.deactivated
    assert built.next_expiry is None


def test_delegates_numbering_and_relationships() -> None:
    doc = build(CASES["delegates"]).document
    assert ids(doc["verificationMethod"]) == [f"{DID}#controller", f"{DID}#delegate-1", f"{DID}#delegate-2"]
    assert doc["verificationMethod"][1]["blockchainAccountId"] == f"eip155:1337:{DELEGATE_1}"
    assert doc["authentication"] == [f"{DID}#controller", f"{DID}#delegate-2"]
    assert doc["assertionMethod"] == [f"{DID}#controller", f"{DID}#delegate-1", f"{DID}#delegate-2"]


def test_expired_and_revoked_delegates_disappear_but_keep_their_numbers() -> None:
    built = build(CASES["expired_and_revoked_delegates"])
    assert ids(built.document["verificationMethod"]) == [f"{DID}#controller", f"{DID}#delegate-4"]
    assert built.document["authentication"] == [f"{DID}#controller"]
    assert built.next_expiry == FAR


def test_attribute_keys_services_and_key_agreement() -> None:
    doc = build(CASES["attributes"]).document
    by_id = {vm["id"]: vm for vm in doc["verificationMethod"]}
    assert by_id[f"{DID}#delegate-1"] == {
        "id": f"{DID}#delegate-1",
        "type": "EcdsaSecp256k1VerificationKey2019",
        "controller": DID,
        "publicKeyHex": "02b97c30de767f084ce3080168ee293053ba33b235d7116a3263d29f1450936b71",
    }
    assert by_id[f"{DID}#delegate-2"]["type"] == "Ed25519VerificationKey2018"
    assert "publicKeyBase58" in by_id[f"{DID}#delegate-2"]
    assert by_id[f"{DID}#delegate-3"]["publicKeyBase64"] == "uXww3nZ/CEzjCAFo7ikwU7ozsjXXEWoyY9KfFFCTa3E="
    assert by_id[f"{DID}#delegate-4"]["type"] == "X25519KeyAgreementKey2019"
    assert doc["keyAgreement"] == [f"{DID}#delegate-4"]
    assert by_id[f"{DID}#delegate-5"]["publicKeyPem"] == "-----BEGIN PUBLIC KEY-----"
    assert "value" in by_id[f"{DID}#delegate-6"]
    assert f"{DID}#delegate-8" not in by_id  # PEM that is not UTF-8 is skipped, its number used
    assert f"{DID}#delegate-3" in doc["authentication"] and f"{DID}#delegate-7" in doc["authentication"]
    assert doc["service"] == [
        {"id": f"{DID}#service-1", "type": "HubService", "serviceEndpoint": "https://hubs.example.org"},
        {
            "id": f"{DID}#service-2",
            "type": "Messaging",
            "serviceEndpoint": {"uri": "https://m.example.org", "accept": ["a"]},
        },
        {"id": f"{DID}#service-4", "type": "List", "serviceEndpoint": ["https://a.example.org"]},
    ]


def test_multikey_attribute_becomes_public_key_multibase() -> None:
    doc = build(CASES["multikey"]).document
    vm = doc["verificationMethod"][1]
    assert vm["type"] == "Multikey"
    assert vm["publicKeyMultibase"] == "z" + base58.b58encode(P256_MULTIKEY).decode()
    assert "https://w3id.org/security/multikey/v1" in doc["@context"]
    assert doc["assertionMethod"][-1] == vm["id"]


def test_revocation_and_re_adding() -> None:
    doc = build(CASES["revoked_attributes"]).document
    assert ids(doc["verificationMethod"]) == [f"{DID}#controller", f"{DID}#delegate-2", f"{DID}#delegate-4"]
    assert doc["service"] == [
        {"id": f"{DID}#service-3", "type": "Other", "serviceEndpoint": "https://other.example.org"}
    ]
    # Re-adding a live entry keeps its first position but takes the new number.
    doc = build(CASES["re_added_keeps_position"]).document
    assert ids(doc["verificationMethod"]) == [f"{DID}#controller", f"{DID}#delegate-3", f"{DID}#delegate-2"]


def test_owner_change_moves_the_controller_account() -> None:
    doc = build(CASES["owner_changes"]).document
    assert doc["verificationMethod"][0]["blockchainAccountId"] == f"eip155:1337:{DELEGATE_2}"


def test_public_key_did_has_controller_key_until_ownership_moves() -> None:
    doc = build(CASES["public_key_did"]).document
    assert doc["verificationMethod"][1] == {
        "id": f"{PUBKEY_DID}#controllerKey",
        "type": "EcdsaSecp256k1VerificationKey2019",
        "controller": PUBKEY_DID,
        "publicKeyHex": "0328939c3dc5af29fe52fea2ab97019d256a6ffd17e7bbc09405e15466f253c910",
    }
    assert doc["verificationMethod"][0]["blockchainAccountId"] == f"eip155:1337:{PUBKEY_ADDRESS}"
    assert f"{PUBKEY_DID}#controllerKey" in doc["assertionMethod"]
    moved = build(CASES["public_key_did_new_owner"]).document
    assert ids(moved["verificationMethod"]) == [f"{PUBKEY_DID}#controller"]
    back = build(CASES["public_key_did_owner_back"]).document
    assert f"{PUBKEY_DID}#controllerKey" in ids(back["verificationMethod"])


def test_deactivation_is_decided_from_the_owner_event() -> None:
    built = build(CASES["deactivated"])
    assert built.deactivated
    assert built.document["verificationMethod"] == [] and built.document["authentication"] == []
    assert built.metadata == {"deactivated": True, "versionId": "5", "updated": iso_timestamp(ts(5))}
    earlier = build(CASES["deactivated_at_earlier_version"])
    assert not earlier.deactivated
    assert earlier.metadata == {
        "versionId": "3",
        "updated": iso_timestamp(ts(3)),
        "nextVersionId": "5",
        "nextUpdate": iso_timestamp(ts(5)),
    }


def test_versions_by_block_and_by_time() -> None:
    v4 = build(CASES["version_4"])
    assert ids(v4.document["verificationMethod"]) == [f"{DID}#controller", f"{DID}#delegate-1"]
    assert v4.metadata["versionId"] == "4" and v4.metadata["nextVersionId"] == "6"
    v7 = build(CASES["version_7"])
    assert v7.document["verificationMethod"][0]["blockchainAccountId"].endswith(OWNER_2)
    assert v7.metadata == {
        "versionId": "6",
        "updated": iso_timestamp(ts(6)),
        "nextVersionId": "8",
        "nextUpdate": iso_timestamp(ts(8)),
    }
    before = build(CASES["version_2_before_all"])
    assert before.metadata == {"nextVersionId": "3", "nextUpdate": iso_timestamp(ts(3))}
    # versionTime: same selection, by block timestamp.
    case = CASES["version_7"]
    by_time = build_ethr_document(
        case.parsed, case.history.events, chain_id=CHAIN_ID, now=ts(7) + 3, until_time=ts(7) + 3
    )
    assert by_time.document == v7.document and by_time.metadata == v7.metadata


def test_result_is_a_pydid_document() -> None:
    result = build(CASES["attributes"]).to_result()
    assert result.did_document.id == DID
    data = result.to_json()
    assert set(data) == {"didResolutionMetadata", "didDocument", "didDocumentMetadata"}
    assert data["didDocument"]["service"][0]["serviceEndpoint"] == "https://hubs.example.org"


def test_next_expiry_is_the_earliest_live_valid_to() -> None:
    history = History().delegate(3, "veriKey", DELEGATE_1, NOW + 50).attribute(4, "did/svc/X", b"u", NOW + 20)
    built = build_ethr_document(parse_ethr_did(DID), history.events, chain_id=CHAIN_ID, now=NOW)
    assert built.next_expiry == NOW + 20


# -- interop: the same histories through ethr-did-resolver 11.x ------------------------------------


def normalize_reference(doc: dict[str, Any]) -> dict[str, Any]:
    """Where we follow the current spec instead of 11.x, rewrite 11.x's output the way we emit it."""
    doc = {k: v for k, v in doc.items() if k != "@context"}
    methods = []
    for vm in doc.get("verificationMethod", []):
        vm = dict(vm)
        if vm["type"] == "Multikey":
            raw = bytes.fromhex(vm.pop("publicKeyHex", None) or vm.pop("value"))
            vm["publicKeyMultibase"] = "z" + base58.b58encode(raw).decode()
        methods.append(vm)
    doc["verificationMethod"] = methods
    return doc


@pytest.mark.interop
def test_builder_matches_ethr_did_resolver_wrap_did_document() -> None:
    all_cases = cases()
    request = {
        "mode": "wrap",
        "cases": [
            {
                "did": c.did,
                "address": c.parsed.address,
                "controllerKey": ("0x" + c.parsed.public_key.hex()) if c.parsed.public_key else None,
                "history": reference_history(c.history.events),
                "chainId": CHAIN_ID,
                "blockHeight": c.until_block if c.until_block is not None else "latest",
                "now": c.now,
            }
            for c in all_cases
        ],
    }
    answers = run_reference(request)
    for case, answer in zip(all_cases, answers, strict=True):
        ours = build(case)
        mine = {k: v for k, v in ours.document.items() if k != "@context"}
        assert mine == normalize_reference(answer["didDocument"]), case.name
        assert ours.deactivated == answer["deactivated"], case.name
        assert ours.metadata.get("versionId", "0") == str(answer["versionId"]), case.name
        expected_next = answer["nextVersionId"]
        assert ours.metadata.get("nextVersionId") == (str(expected_next) if expected_next is not None else None), (
            case.name
        )


def _random_history(rng: random.Random) -> tuple[History, int, int | None]:
    """A random but well-formed ERC-1056 history over a small vocabulary, with collisions on purpose."""
    history = History()
    delegates = [DELEGATE_1, DELEGATE_2, OWNER_2]
    names = [
        "did/pub/Secp256k1/veriKey/hex",
        "did/pub/Ed25519/sigAuth/base58",
        "did/pub/X25519/enc/base64",
        "did/pub/Multikey/veriKey/hex",
        "did/pub/RSA/veriKey/pem",
        "did/pub/Ed25519/veriKey",
        "did/svc/Hub",
        "did/svc/Other",
        "did/unknown",
    ]
    values = [b"https://a.example", b'{"uri":"https://b.example"}', SECP_KEY, ED_KEY, P256_MULTIKEY]
    block = 2
    now = ts(40)
    for _ in range(rng.randint(1, 14)):
        block += rng.choice([0, 1, 1, 2, 3]) if block > 2 else 1
        valid_to = rng.choice([0, ts(block), now - 1, now, now + 1, FAR])
        kind = rng.random()
        if kind < 0.1:
            history.owner(block, rng.choice([OWNER_2, ADDRESS, "0x0000000000000000000000000000000000000000"]))
        elif kind < 0.45:
            history.delegate(block, rng.choice(["veriKey", "sigAuth", "enc"]), rng.choice(delegates), valid_to)
        else:
            name = rng.choice(names)
            value = rng.choice(values) if "svc" in name or "pem" in name else rng.choice(values[2:])
            history.attribute(block, name, value, valid_to)
    until = rng.choice([None, None, rng.randint(1, block + 1)])
    return history, (ts(until) if until is not None else now), until


@pytest.mark.interop
def test_random_histories_match_ethr_did_resolver() -> None:
    """Differential test: 300 seeded random histories through our builder and 11.x's wrapDidDocument."""
    rng = random.Random(1056)
    generated = [_random_history(rng) for _ in range(300)]
    parsed = parse_ethr_did(DID)
    answers = run_reference(
        {
            "mode": "wrap",
            "cases": [
                {
                    "did": DID,
                    "address": parsed.address,
                    "controllerKey": None,
                    "history": reference_history(h.events),
                    "chainId": CHAIN_ID,
                    "blockHeight": until if until is not None else "latest",
                    "now": now,
                }
                for h, now, until in generated
            ],
        }
    )
    for index, ((history, now, until), answer) in enumerate(zip(generated, answers, strict=True)):
        ours = build_ethr_document(parsed, history.events, chain_id=CHAIN_ID, now=now, until_block=until)
        theirs = normalize_reference(answer["didDocument"])
        # Known 11.x gap (docs/did.md): a revoked key-agreement key stays referenced in keyAgreement.
        live = {vm["id"] for vm in theirs["verificationMethod"]}
        if "keyAgreement" in theirs:
            theirs["keyAgreement"] = [ref for ref in theirs["keyAgreement"] if ref in live]
            if not theirs["keyAgreement"]:
                del theirs["keyAgreement"]
        mine = {k: v for k, v in ours.document.items() if k != "@context"}
        assert mine == theirs, f"history #{index}"
        assert ours.deactivated == answer["deactivated"], f"history #{index}"
        assert ours.metadata.get("versionId", "0") == str(answer["versionId"]), f"history #{index}"
