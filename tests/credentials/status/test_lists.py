"""Bit packing, compression limits and the issuer's index allocation."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcsdk._b64 import b64url_encode
from vcsdk.credentials._status_list import (
    Bitstring,
    BitstringStatusListIssuer,
    StatusListIssuer,
    TokenStatusList,
    bounded_inflate,
    parse_status_claim,
    status_list_digest,
)
from vcsdk.errors import ConflictError, InvalidInputError

NOW = datetime(2026, 4, 1, tzinfo=UTC)


@given(bits=st.sampled_from([1, 2, 4, 8]), data=st.data())
def test_token_status_list_round_trips(bits: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 300))
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=size, max_size=size))
    lst = TokenStatusList(size, bits=bits)
    for i, v in enumerate(values):
        lst.set(i, v)
    back = TokenStatusList.from_json(lst.to_json())
    assert [back.get(i) for i in range(size)] == values


@given(data=st.data(), size=st.sampled_from([1, 2, 4]))
def test_bitstring_round_trips(data: st.DataObject, size: int) -> None:
    entries = data.draw(st.dictionaries(st.integers(0, 131_071 // size), st.integers(0, (1 << size) - 1), max_size=20))
    bits = Bitstring(131_072, status_size=size)
    for i, v in entries.items():
        bits.set(i, v)
    back = Bitstring.decode(bits.encode(), status_size=size)
    for i, v in entries.items():
        assert back.get(i) == v


def test_value_out_of_range_and_index_out_of_range() -> None:
    lst = TokenStatusList(16, bits=1)
    with pytest.raises(InvalidInputError):
        lst.set(0, 2)
    with pytest.raises(InvalidInputError):
        lst.get(16)
    with pytest.raises(InvalidInputError):
        TokenStatusList(8, bits=3)


def test_zlib_bomb_is_refused() -> None:
    bomb = zlib.compress(bytes(50_000_000), 9)  # ~49 KB that would inflate to 50 MB
    assert len(bomb) < 100_000
    with pytest.raises(InvalidInputError, match="compression bomb"):
        TokenStatusList.decode(b64url_encode(bomb), bits=1, max_bytes=1_000_000)


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(bytes(50_000_000), 9, mtime=0)
    with pytest.raises(InvalidInputError, match="compression bomb"):
        Bitstring.decode("u" + b64url_encode(bomb), max_bytes=1_000_000)


def test_corrupt_and_trailing_data_are_refused() -> None:
    good = zlib.compress(b"\x00" * 10)
    with pytest.raises(InvalidInputError):
        bounded_inflate(good[:-3], container="zlib", max_bytes=100)
    with pytest.raises(InvalidInputError):
        bounded_inflate(good + b"xx", container="zlib", max_bytes=100)
    with pytest.raises(InvalidInputError):
        bounded_inflate(b"not zlib", container="zlib", max_bytes=100)


def test_bitstring_needs_u_prefix_and_minimum_size() -> None:
    short = gzip.compress(bytes(100), mtime=0)
    with pytest.raises(InvalidInputError, match="131072"):
        Bitstring.decode("u" + b64url_encode(short))
    with pytest.raises(InvalidInputError):
        Bitstring.decode(b64url_encode(gzip.compress(bytes(16384))))
    with pytest.raises(InvalidInputError):
        Bitstring(1000)


def test_allocation_is_random_and_never_reused() -> None:
    issuer = StatusListIssuer("https://city.example/status/1", size=256, bits=2)
    seen = {parse_status_claim(issuer.allocate()).idx for _ in range(256)}
    assert seen == set(range(256))
    with pytest.raises(ConflictError) as info:
        issuer.allocate()
    assert info.value.code == "status_list_full"


def test_allocation_falls_back_to_a_bounded_scan_when_draws_collide() -> None:
    issuer = StatusListIssuer("https://city.example/status/1", size=64, randbelow=lambda n: 0)
    first = parse_status_claim(issuer.allocate()).idx
    second = parse_status_claim(issuer.allocate()).idx
    assert (first, second) == (0, 1)


def test_issuer_transitions_and_versions() -> None:
    issuer = StatusListIssuer("https://city.example/status/1", size=1024)
    idx = parse_status_claim(issuer.allocate()).idx
    digest0 = issuer.digest
    issuer.suspend(idx)
    assert issuer.status(idx) == "suspended" and issuer.version == 1
    issuer.reinstate(idx)
    assert issuer.status(idx) == "valid" and issuer.version == 2
    assert issuer.digest == digest0
    issuer.revoke(idx)
    assert issuer.status(idx) == "revoked"
    with pytest.raises(InvalidInputError):
        issuer.reinstate(idx)
    with pytest.raises(InvalidInputError):
        issuer.suspend(idx)
    with pytest.raises(InvalidInputError, match="never allocated"):
        issuer.revoke((idx + 1) % 1024)


def test_one_bit_list_cannot_suspend() -> None:
    issuer = StatusListIssuer("https://city.example/status/1", size=64, bits=1)
    idx = parse_status_claim(issuer.allocate()).idx
    with pytest.raises(InvalidInputError):
        issuer.suspend(idx)


def test_issuer_state_round_trips() -> None:
    issuer = StatusListIssuer("https://city.example/status/1", size=4096)
    idxs = [parse_status_claim(issuer.allocate()).idx for _ in range(10)]
    issuer.revoke(idxs[0])
    issuer.suspend(idxs[1])
    back = StatusListIssuer.from_json(issuer.to_json())
    assert back.to_json() == issuer.to_json()
    assert back.status(idxs[0]) == "revoked" and back.status(idxs[1]) == "suspended"
    assert back.allocated == 10
    with pytest.raises(InvalidInputError):
        StatusListIssuer.from_json({"format": "other"})


def test_bitstring_issuer_pair() -> None:
    pair = BitstringStatusListIssuer(
        "https://city.example/w3c/rev", "https://city.example/w3c/sus", issuer="did:ethr:0x1:0xabc"
    )
    rev, sus = pair.allocate()
    assert rev["statusListIndex"] == sus["statusListIndex"]
    assert (rev["statusPurpose"], sus["statusPurpose"]) == ("revocation", "suspension")
    idx = int(rev["statusListIndex"])
    pair.suspend(idx)
    assert pair.status(idx) == "suspended"
    pair.reinstate(idx)
    pair.revoke(idx)
    assert pair.status(idx) == "revoked"
    back = BitstringStatusListIssuer.from_json(pair.to_json())
    assert back.status(idx) == "revoked" and back.to_json() == pair.to_json()


def test_digest_depends_on_content_and_width() -> None:
    a, b = TokenStatusList(16, bits=1), TokenStatusList(8, bits=2)
    assert a.to_bytes() == b.to_bytes()
    assert status_list_digest(a) != status_list_digest(b)
    a2 = TokenStatusList(16, bits=1)
    a2.set(3, 1)
    assert status_list_digest(a) != status_list_digest(a2)


def test_million_entry_list_with_one_percent_revoked_is_small() -> None:
    issuer = StatusListIssuer("https://city.example/status/1", size=1_000_000, bits=1)
    for _ in range(10_000):
        issuer.revoke(parse_status_claim(issuer.allocate()).idx)
    size = len(issuer.statuses.encode())
    assert size < 16 * 1024 * 4 / 3 + 64  # <= 16 KiB compressed, base64url adds a third
    _ = timedelta


@given(st.text(max_size=300), st.sampled_from([1, 2, 4, 8]))
def test_lst_parser_raises_only_invalid_input(text: str, bits: int) -> None:
    try:
        TokenStatusList.decode(text, bits=bits, max_bytes=10_000)
    except InvalidInputError:
        pass


@given(st.text(max_size=300))
def test_encoded_list_parser_raises_only_invalid_input(text: str) -> None:
    try:
        Bitstring.decode("u" + text, max_bytes=100_000)
    except InvalidInputError:
        pass


@given(st.binary(max_size=300))
def test_bounded_inflate_raises_only_invalid_input(data: bytes) -> None:
    for container in ("zlib", "gzip"):
        try:
            bounded_inflate(data, container=container, max_bytes=10_000)  # type: ignore[arg-type]
        except InvalidInputError:
            pass


@given(st.one_of(st.none(), st.integers(), st.text(), st.dictionaries(st.text(max_size=5), st.integers())))
def test_status_claim_parser_raises_only_claims_error(value: object) -> None:
    from vcsdk.errors import ClaimsError

    try:
        parse_status_claim({"status_list": value})
    except ClaimsError:
        pass
