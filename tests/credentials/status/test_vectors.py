"""The specs' own status list examples (tests/vectors/status-list/README.md names each source)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vcsdk.credentials._status_list import (
    BITSTRING_MIN_ENTRIES,
    Bitstring,
    TokenStatusList,
    issue_status_list_token,
    parse_bitstring_entry,
    parse_status_claim,
    verify_status_list_token,
)
from vcsdk.credentials._w3c import validate_credential
from vcsdk.keys import Key

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "status-list"


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


@pytest.mark.parametrize("name", ["ietf-1bit.json", "ietf-2bit.json"])
def test_ietf_example_decodes_to_the_spec_statuses(name: str) -> None:
    case = _load(name)
    lst = TokenStatusList.from_json(case["status_list"])
    assert lst.to_bytes() == bytes.fromhex(case["bytes_hex"])
    assert [lst.get(i) for i in range(len(case["statuses"]))] == case["statuses"]


@pytest.mark.parametrize("name", ["ietf-1bit.json", "ietf-2bit.json"])
def test_ietf_example_encodes_to_the_spec_lst(name: str) -> None:
    case = _load(name)
    lst = TokenStatusList(len(case["statuses"]), bits=case["bits"])
    for i, value in enumerate(case["statuses"]):
        lst.set(i, value)
    assert lst.to_bytes() == bytes.fromhex(case["bytes_hex"])
    # zlib level 9 on these inputs gives exactly the spec's bytes.
    assert lst.to_json() == case["status_list"]


def test_ietf_status_list_token_example_payload_verifies_when_signed() -> None:
    case = _load("ietf-status-list-token-payload.json")
    payload = case["payload"]
    key = Key.generate("P-256").with_kid("12")
    lst = TokenStatusList.from_json(payload["status_list"])
    token = issue_status_list_token(
        lst,
        key,
        uri=payload["sub"],
        now=datetime.fromtimestamp(payload["iat"], UTC),
        ttl=payload["ttl"],
        exp=datetime.fromtimestamp(payload["exp"], UTC),
    )
    ref = parse_status_claim(case["referenced_token_status"])
    verified = verify_status_list_token(
        token, key.public_key(), uri=ref.uri, now=datetime.fromtimestamp(payload["iat"] + 10, UTC)
    )
    assert verified.ttl == 43200
    assert verified.statuses.get(ref.idx) == 1
    header = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == case["header"]


def test_w3c_example_credential_is_valid_and_all_zero() -> None:
    case = _load("w3c-bitstring-status-list-credential.json")
    vc = validate_credential(case["credential"])
    bits = Bitstring.decode(vc["credentialSubject"]["encodedList"])
    assert bits.size == case["entries"] == BITSTRING_MIN_ENTRIES
    assert bits.to_bytes() == bytes(BITSTRING_MIN_ENTRIES // 8)


def test_w3c_example_entry_parses() -> None:
    case = _load("w3c-bitstring-status-list-entry.json")
    ref = parse_bitstring_entry(case["credentialStatus"])
    assert (ref.url, ref.index, ref.purpose) == tuple(case["expected"].values())


def test_w3c_bit_order_is_msb_first_custom_case() -> None:
    bits = Bitstring()
    bits.set(0, 1)
    bits.set(94567, 1)
    raw = bits.to_bytes()
    assert raw[0] == 0x80 and raw[11820] == 0x01
    assert sum(1 for b in raw if b) == 2
    back = Bitstring.decode(bits.encode())
    assert back.get(0) == 1 and back.get(94567) == 1 and back.get(1) == 0


def test_the_two_formats_order_bits_oppositely() -> None:
    ietf = TokenStatusList(8, bits=1)
    ietf.set(0, 1)
    w3c = Bitstring()
    w3c.set(0, 1)
    assert ietf.to_bytes()[0] == 0x01
    assert w3c.to_bytes()[0] == 0x80
