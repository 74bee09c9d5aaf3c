"""DID and did:ethr syntax: accepted forms, refused forms, and only InvalidDidError on arbitrary text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vcsdk.did import parse_did_url, parse_ethr_did
from vcsdk.did._syntax import parse_version_id, parse_version_time
from vcsdk.errors import InvalidDidError, InvalidInputError

ADDR = "0xb9c5714089478a327f09197987f16f9e5d936e8a"
CHECKSUM = "0xB9C5714089478a327F09197987f16f9E5d936E8a"
PUBKEY = "0x0328939c3dc5af29fe52fea2ab97019d256a6ffd17e7bbc09405e15466f253c910"


@pytest.mark.parametrize(
    ("did", "network", "chain_id"),
    [
        (f"did:ethr:{ADDR}", "mainnet", None),
        (f"did:ethr:mainnet:{ADDR}", "mainnet", None),
        (f"did:ethr:sepolia:{ADDR}", "sepolia", None),
        (f"did:ethr:rsk:testnet:{ADDR}", "rsk:testnet", None),
        (f"did:ethr:0x539:{ADDR}", "0x539", 1337),
        (f"did:ethr:0x0539:{ADDR}", "0x539", 1337),
        (f"did:ethr:0x1:{CHECKSUM}", "0x1", 1),
    ],
)
def test_ethr_networks(did: str, network: str, chain_id: int | None) -> None:
    parsed = parse_ethr_did(did)
    assert parsed.network == network
    assert parsed.chain_id == chain_id
    assert parsed.address == CHECKSUM
    assert parsed.public_key is None
    assert parsed.did == did


def test_public_key_did_derives_the_address() -> None:
    parsed = parse_ethr_did(f"did:ethr:0x539:{PUBKEY}")
    assert parsed.address == "0xcaf3C37a127793a4934a7e2831FfEDD9E83Cc8b1"
    assert parsed.public_key == bytes.fromhex(PUBKEY[2:])


def test_did_url_parts() -> None:
    url = parse_did_url(f"did:ethr:0x539:{ADDR}/path/x?versionId=12&versionTime=2026-01-01T00:00:00Z#controller")
    assert url.did == f"did:ethr:0x539:{ADDR}"
    assert url.method == "ethr"
    assert url.path == "/path/x"
    assert url.params == {"versionId": "12", "versionTime": "2026-01-01T00:00:00Z"}
    assert url.param("versionId") == "12"
    assert url.fragment == "controller"
    assert str(url) == f"did:ethr:0x539:{ADDR}/path/x?versionId=12&versionTime=2026-01-01T00:00:00Z#controller"
    assert parse_did_url("did:key:z6Mk#x").params == {}


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "did:",
        "did:ethr",
        "did:ethr:",
        "DID:ethr:" + ADDR,
        "did:Ethr:" + ADDR,
        "did:ethr:0x1234",
        "did:ethr:" + ADDR + "00",
        "did:ethr:" + ADDR[:-1] + "g",
        "did:ethr:0x539:0x04" + "ab" * 32,  # uncompressed key
        "did:ethr:0x02" + "00" * 32,  # compressed prefix but not on the curve
        "did:ethr:0xzz:" + ADDR,
        "did:ethr:Main:" + ADDR,
        "did:ethr::" + ADDR,
        "did:key:z6Mk",  # not ethr
        "did:ethr:" + ADDR + " ",
        "did:ethr:" + ADDR + "#frag ment",
    ],
)
def test_malformed_ethr_dids_raise_invalid_did(bad: str) -> None:
    with pytest.raises(InvalidDidError) as info:
        parse_ethr_did(bad)
    assert info.value.code == "invalid_did"


def test_non_strings_and_huge_inputs() -> None:
    with pytest.raises(InvalidDidError):
        parse_did_url(None)
    with pytest.raises(InvalidDidError):
        parse_did_url("did:key:" + "z" * 10_000)


def test_version_parameters() -> None:
    assert parse_version_id("0") == 0 and parse_version_id("123") == 123
    assert parse_version_time("2026-01-31T12:00:00Z") == datetime(2026, 1, 31, 12, tzinfo=UTC)
    for bad in ("-1", "1.5", "0x10", "", "1e3"):
        with pytest.raises(InvalidDidError):
            parse_version_id(bad)
    for bad in ("2026-01-31", "2026-01-31T12:00:00", "2026-01-31T12:00:00+01:00", "2026-13-31T12:00:00Z"):
        with pytest.raises(InvalidDidError):
            parse_version_time(bad)


@given(st.text(max_size=300))
@example("did:ethr:0x539:0x02" + "00" * 32)
@example("did:ethr:0x:" + ADDR)
@example("did:ethr:0x" + "f" * 65 + ":" + ADDR)
@example("did:a:b%zz")
def test_parsers_raise_only_invalid_did_error(text: str) -> None:
    try:
        parse_ethr_did(text)
    except InvalidDidError:
        pass
    try:
        url = parse_did_url(text)
    except InvalidDidError:
        return
    assert str(url) == text


@given(st.from_regex(r"did:ethr:(0x[0-9a-f]{1,4}:|[a-z]{1,6}:)?0x[0-9a-fA-F]{40}", fullmatch=True))
def test_well_formed_address_dids_always_parse(text: str) -> None:
    parsed = parse_ethr_did(text)
    assert parsed.address.lower() == "0x" + text[-40:].lower()


def test_invalid_did_is_an_invalid_input_and_a_value_error() -> None:
    with pytest.raises(InvalidInputError):
        parse_did_url("nope")
    with pytest.raises(ValueError):
        parse_did_url("nope")
