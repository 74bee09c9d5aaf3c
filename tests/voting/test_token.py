"""Ballot tokens, pure: the device's key check (tagging), blinding and unblinding, the service's check.

Every check of check_token_key, finish_token and verify_ballot_token has a negative test here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcsdk.blindrsa import blind_sign, generate_key
from vcsdk.errors import BallotTokenError, InvalidInputError, TokenKeyError
from vcsdk.voting import (
    BallotToken,
    CommittedTokenKey,
    TokenKey,
    begin_token,
    check_token_key,
    finish_token,
    verify_ballot_token,
)
from vcsdk.voting._token import token_message

from ._town import tsukuba_election

ELECTION = tsukuba_election()
PRIVATE = generate_key(2048)
KEY = TokenKey(ELECTION.election_id, None, PRIVATE.public_key())
OTHER_PRIVATE = generate_key(2048)
while OTHER_PRIVATE.public_key().public_numbers().n <= PRIVATE.public_key().public_numbers().n:
    OTHER_PRIVATE = generate_key(2048)  # so it can sign any blinded message made for KEY


def committed(key: TokenKey = KEY, *, late: bool = False, digest: bytes | None = None) -> CommittedTokenKey:
    at = ELECTION.opens_at + (timedelta(seconds=1) if late else -timedelta(hours=1))
    return CommittedTokenKey(key.slot, digest or key.digest, 7, at)


def issue(key: TokenKey = KEY, private=PRIVATE) -> BallotToken:  # type: ignore[no-untyped-def]
    pending = begin_token(key, election=ELECTION, district=key.district, committed=committed(key))
    return finish_token(pending, blind_sign(private, pending.blinded_msg))


def test_a_token_round_trips_and_verifies() -> None:
    token = issue()
    assert verify_ballot_token(token, election_id=ELECTION.election_id, keys={None: KEY}) == token.serial
    again = BallotToken.from_json(token.to_json())
    assert again == token
    assert token.input_msg[32:] == token_message(ELECTION.election_id, None, token.serial)
    assert "signature" not in repr(token) and "prefix" not in repr(token)


def test_every_token_has_its_own_serial_and_the_blinded_message_reveals_neither() -> None:
    a = begin_token(KEY, election=ELECTION, district=None, committed=committed())
    b = begin_token(KEY, election=ELECTION, district=None, committed=committed())
    assert a.serial != b.serial and a.blinded_msg != b.blinded_msg
    assert a.serial not in a.blinded_msg and a.input_msg[:32] not in a.blinded_msg
    assert "serial" not in repr(a) and str(a.inv) not in repr(a)


def test_key_slot_and_digest_bind_election_district_and_key() -> None:
    per_district = TokenKey(ELECTION.election_id, "tsukuba-a", PRIVATE.public_key())
    assert KEY.slot != per_district.slot and KEY.digest != per_district.digest
    other_election = TokenKey("another-election", None, PRIVATE.public_key())
    assert KEY.slot != other_election.slot
    other_key = TokenKey(ELECTION.election_id, None, OTHER_PRIVATE.public_key())
    assert other_key.slot == KEY.slot and other_key.digest != KEY.digest
    assert TokenKey.from_json(KEY.to_json()).digest == KEY.digest


def test_device_refuses_a_key_the_chain_does_not_hold() -> None:
    """Tagging: a city handing some voters a key of its own is caught before anything is blinded."""
    tagged = TokenKey(ELECTION.election_id, None, OTHER_PRIVATE.public_key())
    with pytest.raises(TokenKeyError, match="differs"):
        begin_token(tagged, election=ELECTION, district=None, committed=committed(KEY))
    with pytest.raises(TokenKeyError, match="no token key"):
        begin_token(KEY, election=ELECTION, district=None, committed=None)
    with pytest.raises(TokenKeyError, match="after voting opened"):
        begin_token(KEY, election=ELECTION, district=None, committed=committed(late=True))
    with pytest.raises(TokenKeyError, match="another election or district"):
        begin_token(KEY, election=ELECTION, district="tsukuba-a", committed=committed())
    wrong_slot = replace(committed(), slot=b"\x00" * 32)
    with pytest.raises(TokenKeyError):
        check_token_key(KEY, election=ELECTION, district=None, committed=wrong_slot)


def test_device_catches_a_signature_made_with_another_key() -> None:
    """The city shows the committed key but signs one voter's token with another: finish_token refuses."""
    pending = begin_token(KEY, election=ELECTION, district=None, committed=committed())
    with pytest.raises(BallotTokenError):
        finish_token(pending, blind_sign(OTHER_PRIVATE, pending.blinded_msg))
    with pytest.raises(BallotTokenError):
        finish_token(pending, b"\x00" * 10)


def test_forged_and_foreign_tokens_are_refused() -> None:
    token = issue()
    keys = {None: KEY}
    with pytest.raises(BallotTokenError, match="does not verify"):
        verify_ballot_token(replace(token, signature=bytes(256)), election_id=ELECTION.election_id, keys=keys)
    with pytest.raises(BallotTokenError, match="does not verify"):
        verify_ballot_token(replace(token, serial=bytes(32)), election_id=ELECTION.election_id, keys=keys)
    with pytest.raises(BallotTokenError, match="does not verify"):
        verify_ballot_token(replace(token, prefix=bytes(32)), election_id=ELECTION.election_id, keys=keys)
    with pytest.raises(BallotTokenError, match="another election"):
        verify_ballot_token(token, election_id="another-election", keys=keys)
    with pytest.raises(BallotTokenError, match="district"):
        verify_ballot_token(replace(token, district="tsukuba-a"), election_id=ELECTION.election_id, keys=keys)
    # A token signed with another key (not the election's) does not verify either.
    with pytest.raises(BallotTokenError):
        other = TokenKey(ELECTION.election_id, None, OTHER_PRIVATE.public_key())
        verify_ballot_token(issue(other, OTHER_PRIVATE), election_id=ELECTION.election_id, keys=keys)


def test_per_district_tokens_carry_their_district() -> None:
    keys = {d: TokenKey(ELECTION.election_id, d, OTHER_PRIVATE.public_key() if d == "tsukuba-b" else
                        PRIVATE.public_key()) for d in ELECTION.district_names}
    token = issue(keys["tsukuba-a"], PRIVATE)
    assert token.district == "tsukuba-a"
    assert verify_ballot_token(token, election_id=ELECTION.election_id, keys=keys) == token.serial
    # Moving a token to another district breaks its signature (the district is in the message).
    with pytest.raises(BallotTokenError):
        verify_ballot_token(replace(token, district="tsukuba-c"), election_id=ELECTION.election_id, keys=keys)


@settings(max_examples=30, deadline=None)
@given(index=st.integers(min_value=0), bit=st.integers(0, 7), field=st.sampled_from(["serial", "prefix", "signature"]))
def test_changing_any_bit_of_a_token_is_a_forged_token(index: int, bit: int, field: str) -> None:
    token = TOKEN
    value = getattr(token, field)
    i = index % len(value)
    changed = replace(token, **{field: value[:i] + bytes([value[i] ^ (1 << bit)]) + value[i + 1 :]})
    with pytest.raises(BallotTokenError):
        verify_ballot_token(changed, election_id=ELECTION.election_id, keys={None: KEY})


TOKEN = issue()

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(st.one_of(JSON, st.dictionaries(st.sampled_from(sorted(TOKEN.to_json())), JSON, max_size=3).map(
    lambda change: {**TOKEN.to_json(), **change})))
def test_token_parser_raises_only_ballot_token_errors(value: object) -> None:
    try:
        BallotToken.from_json(value)
    except BallotTokenError:
        pass


@given(st.one_of(JSON, st.dictionaries(st.sampled_from(sorted(KEY.to_json())), JSON, max_size=3).map(
    lambda change: {**KEY.to_json(), **change})))
def test_token_key_parser_raises_only_typed_errors(value: object) -> None:
    from vcsdk.errors import UnsupportedAlgorithmError

    try:
        TokenKey.from_json(value)  # type: ignore[arg-type]
    except (InvalidInputError, UnsupportedAlgorithmError):
        pass


def test_token_message_needs_a_32_byte_serial() -> None:
    with pytest.raises(InvalidInputError):
        token_message(ELECTION.election_id, None, b"short")
