"""The pure core: commitments, receipts, tallies and the public check of a publication (ballots with
their tokens). Every check of verify_ballot_receipt and verify_published_election has a negative test here."""

from __future__ import annotations

import copy
import hashlib
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcsdk.errors import BallotTokenError, InvalidInputError, ProofInvalidError, TokenKeyError
from vcsdk.voting import (
    BallotChoice,
    BallotReceipt,
    TokenKey,
    ballot_commitment,
    batch_tree,
    build_publication,
    prepare_ballot,
    tally,
    verify_ballot_receipt,
    verify_published_election,
)

from ._mint import mint, token_key
from ._town import tsukuba_election

ELECTION = tsukuba_election()
CONTRACT = "0x" + "ab" * 20
KEY = token_key(ELECTION)
TOKENS = [mint(KEY, ELECTION) for _ in range(32)]


class Counting:
    def __init__(self) -> None:
        self.n = 0

    def token_bytes(self, n: int) -> bytes:
        self.n += 1
        return hashlib.sha256(f"salt-{self.n}".encode()).digest()[:n]


def _publication(choices: list[str], *, batch: int = 2) -> tuple[dict, dict[bytes, bytes]]:
    rnd = Counting()
    ballots = [prepare_ballot(ELECTION, c, randomness=rnd) for c in choices]
    rows, batches, anchored = [], [], {KEY.slot: KEY.digest}
    for i in range(0, len(ballots), batch):
        part = ballots[i : i + batch]
        tree, _ = batch_tree(b.commitment for b in part)
        rows += [(b.commitment, b.choice, b.salt, tree.batch_id, TOKENS[i + j]) for j, b in enumerate(part)]
        batches.append((tree.batch_id, tree.root, tree.size, "0x" + "00" * 32, 10 + i))
        anchored[tree.batch_id] = tree.root
    pub = build_publication(ELECTION, ballots=rows, batches=batches, token_keys=[KEY], chain_id=1337,
                            contract=CONTRACT)
    return dict(pub), anchored


def test_commitment_binds_election_choice_and_salt() -> None:
    salt = bytes(32)
    base = ballot_commitment("e", "A", salt)
    assert len(base) == 32
    assert base != ballot_commitment("e2", "A", salt)
    assert base != ballot_commitment("e", "B", salt)
    assert base != ballot_commitment("e", "A", b"\x01" + bytes(31))
    # Length prefixes: moving characters between the election id and the choice changes it.
    assert ballot_commitment("ab", "c", salt) != ballot_commitment("a", "bc", salt)
    with pytest.raises(InvalidInputError):
        ballot_commitment("e", "A", b"short")


def test_prepare_ballot_refuses_choices_off_the_ballot() -> None:
    with pytest.raises(InvalidInputError):
        prepare_ballot(ELECTION, "Nobody")
    assert "salt" not in repr(prepare_ballot(ELECTION, "Sato"))


def test_batch_tree_sorts_leaves_and_refuses_repeats() -> None:
    a, b = bytes([2]) * 32, bytes([1]) * 32
    tree, leaves = batch_tree([a, b])
    assert leaves == [b, a] and tree.size == 2
    assert batch_tree([b, a])[0].root == tree.root
    with pytest.raises(InvalidInputError):
        batch_tree([a, a])


def _receipt() -> tuple[BallotChoice, BallotReceipt, bytes]:
    rnd = Counting()
    ballots = [prepare_ballot(ELECTION, c, randomness=rnd) for c in ("Sato", "Suzuki", "Sato")]
    tree, leaves = batch_tree(b.commitment for b in ballots)
    mine = ballots[1]
    proof = tree.proof(leaves.index(mine.commitment))
    return mine, BallotReceipt(ELECTION.election_id, mine.commitment, mine.choice, mine.salt, proof), tree.root


def test_receipt_round_trip_and_check() -> None:
    mine, receipt, root = _receipt()
    again = BallotReceipt.from_json(receipt.to_json())
    assert again == receipt
    verify_ballot_receipt(again, root=root, expected=mine)


def test_receipt_without_proof_is_not_anchored() -> None:
    _, receipt, root = _receipt()
    unanchored = BallotReceipt(receipt.election_id, receipt.commitment, receipt.choice, receipt.salt, None)
    with pytest.raises(ProofInvalidError) as info:
        verify_ballot_receipt(unanchored, root=root)
    assert info.value.code == "receipt_not_anchored"


def test_receipt_whose_choice_does_not_give_the_commitment_is_refused() -> None:
    _, receipt, root = _receipt()
    forged = BallotReceipt(receipt.election_id, receipt.commitment, "Sato", receipt.salt, receipt.proof)
    with pytest.raises(ProofInvalidError) as info:
        verify_ballot_receipt(forged, root=root)
    assert info.value.code == "commitment_mismatch"


def test_receipt_for_another_ballot_than_mine_is_refused() -> None:
    _, receipt, root = _receipt()
    mine = prepare_ballot(ELECTION, "Suzuki")
    with pytest.raises(ProofInvalidError) as info:
        verify_ballot_receipt(receipt, root=root, expected=mine)
    assert info.value.code == "commitment_mismatch"


def test_receipt_against_another_root_is_refused() -> None:
    _, receipt, _ = _receipt()
    with pytest.raises(ProofInvalidError) as info:
        verify_ballot_receipt(receipt, root=bytes(32))
    assert info.value.code == "proof_invalid"


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"election_id": "e", "commitment": "0x00", "choice": "A", "salt": "0x" + "00" * 32, "proof": None},
        {"election_id": 1, "commitment": "0x" + "00" * 32, "choice": "A", "salt": "0x" + "00" * 32, "proof": None},
        {"election_id": "e", "commitment": "0x" + "00" * 32, "choice": "A", "salt": "0x" + "00" * 32, "proof": 5},
        {"election_id": "e", "commitment": "0x" + "00" * 32, "choice": "A", "salt": "0x" + "00" * 32, "proof": {}},
    ],
)
def test_malformed_receipts_are_invalid_input(raw: dict) -> None:
    with pytest.raises(InvalidInputError):
        BallotReceipt.from_json(raw)


def test_tally_counts_every_choice_and_refuses_unknown_ones() -> None:
    assert tally(ELECTION, ["Sato", "Sato"]) == {"Sato": 2, "Suzuki": 0, "Takahashi": 0}
    with pytest.raises(InvalidInputError):
        tally(ELECTION, ["Nobody"])


def test_publication_verifies() -> None:
    pub, anchored = _publication(["Sato", "Suzuki", "Sato", "Takahashi", "Sato"])
    result = verify_published_election(pub, anchored=anchored, committed_at={KEY.slot: ELECTION.opens_at})
    assert dict(result.counts) == {"Sato": 3, "Suzuki": 1, "Takahashi": 1}
    assert (result.ballots, result.batches) == (5, 3)
    assert [b["commitment"] for b in pub["ballots"]] == sorted(b["commitment"] for b in pub["ballots"])


def test_publication_whose_token_key_is_not_the_committed_one_is_refused() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"])
    with pytest.raises(TokenKeyError):
        verify_published_election(pub, anchored={**anchored, KEY.slot: bytes(32)})
    with pytest.raises(TokenKeyError):
        verify_published_election(pub, anchored={k: v for k, v in anchored.items() if k != KEY.slot})
    with pytest.raises(TokenKeyError):  # committed after voting opened
        verify_published_election(pub, anchored=anchored,
                                  committed_at={KEY.slot: ELECTION.opens_at + timedelta(seconds=1)})
    from vcsdk.blindrsa import generate_key

    other = TokenKey(ELECTION.election_id, None, generate_key(2048).public_key())
    swapped = copy.deepcopy(pub)
    swapped["token_keys"] = [other.to_json()]
    with pytest.raises(TokenKeyError):  # a key swapped in the publication does not match the chain
        verify_published_election(swapped, anchored={**anchored, KEY.slot: KEY.digest})


def test_publication_with_a_forged_token_is_refused() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"])
    bad = copy.deepcopy(pub)
    bad["ballots"][0]["token"]["signature"] = bad["ballots"][1]["token"]["signature"]
    with pytest.raises(BallotTokenError):
        verify_published_election(bad, anchored=anchored)


def test_publication_using_a_serial_twice_is_refused() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"], batch=1)
    bad = copy.deepcopy(pub)
    bad["ballots"][1]["token"] = bad["ballots"][0]["token"]
    assert _code(bad, anchored) == "duplicate_serial"


def _code(pub: dict, anchored: dict[bytes, bytes]) -> str:
    with pytest.raises(ProofInvalidError) as info:
        verify_published_election(pub, anchored=anchored)
    return info.value.code


def test_publication_with_an_altered_salt_is_a_commitment_mismatch() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"])
    bad = copy.deepcopy(pub)
    bad["ballots"][0]["salt"] = "0x" + "00" * 32
    assert _code(bad, anchored) == "commitment_mismatch"


def test_publication_with_a_repeated_ballot_is_refused() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"])
    bad = copy.deepcopy(pub)
    bad["ballots"].append({**bad["ballots"][0], "token": dict(TOKENS[-1].to_json())})  # a fresh token, same ballot
    assert _code(bad, anchored) == "duplicate_ballot"


def test_publication_missing_a_ballot_does_not_rebuild_the_root() -> None:
    pub, anchored = _publication(["Sato", "Suzuki", "Sato"], batch=3)
    bad = copy.deepcopy(pub)
    del bad["ballots"][1]
    bad["tally"] = tally(ELECTION, [b["choice"] for b in bad["ballots"]])
    assert _code(bad, anchored) == "root_mismatch"


def test_publication_with_ballots_of_an_unlisted_batch_is_refused() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"], batch=1)
    bad = copy.deepcopy(pub)
    del bad["batches"][0]
    assert _code(bad, anchored) == "root_mismatch"


def test_publication_whose_batch_is_not_on_chain_is_refused() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"], batch=1)
    first = next(k for k in anchored if k != KEY.slot)
    assert _code(pub, {k: v for k, v in anchored.items() if k != first}) == "batch_not_anchored"


def test_publication_whose_batch_has_another_root_on_chain_is_refused() -> None:
    pub, anchored = _publication(["Sato"])
    assert _code(pub, {k: v if k == KEY.slot else bytes(32) for k, v in anchored.items()}) == "root_mismatch"


def test_publication_leaving_out_an_anchored_batch_is_refused() -> None:
    # The token key's commitment is an anchored entry too, but it is accounted for by token_keys.
    pub, anchored = _publication(["Sato"])
    assert _code(pub, {**anchored, b"\x01" * 32: b"\x02" * 32}) == "unpublished_batch"


def test_publication_with_a_wrong_tally_is_refused() -> None:
    pub, anchored = _publication(["Sato"])
    assert _code({**pub, "tally": {"Sato": 0, "Suzuki": 1, "Takahashi": 0}}, anchored) == "tally_mismatch"


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.pop("tally"),
        lambda p: p.update(format="other"),
        lambda p: p.update(ballots="x"),
        lambda p: p["ballots"][0].update(choice="Nobody"),
        lambda p: p["ballots"][0].update(commitment="0x12"),
        lambda p: p["ballots"][0].pop("batch_id"),
        lambda p: p["batches"][0].pop("root"),
        lambda p: p["election"].update(choices=[]),
        lambda p: p["election"].pop("title"),
        lambda p: p.pop("token_keys"),
        lambda p: p.update(token_keys=[]),
        lambda p: p["token_keys"].append(dict(p["token_keys"][0])),
        lambda p: p["ballots"][0].pop("token"),
    ],
)
def test_malformed_publications_are_invalid_input(change) -> None:  # type: ignore[no-untyped-def]
    pub, anchored = _publication(["Sato", "Suzuki"])
    bad = copy.deepcopy(pub)
    change(bad)
    with pytest.raises(InvalidInputError):
        verify_published_election(bad, anchored=anchored)


@given(st.lists(st.sampled_from(ELECTION.choices), min_size=1, max_size=30), st.integers(1, 8))
def test_any_publication_verifies_and_its_tally_is_the_count(choices: list[str], batch: int) -> None:
    pub, anchored = _publication(choices, batch=batch)
    result = verify_published_election(pub, anchored=anchored)
    assert sum(result.counts.values()) == len(choices)
    assert all(result.counts[c] == choices.count(c) for c in ELECTION.choices)


@given(st.data())
def test_changing_any_published_choice_is_detected(data: st.DataObject) -> None:
    pub, anchored = _publication(["Sato", "Suzuki", "Takahashi", "Sato"])
    i = data.draw(st.integers(0, 3))
    other = data.draw(st.sampled_from([c for c in ELECTION.choices if c != pub["ballots"][i]["choice"]]))
    bad = copy.deepcopy(pub)
    bad["ballots"][i]["choice"] = other
    assert _code(bad, anchored) == "commitment_mismatch"


def test_election_round_trip_and_period() -> None:
    from vcsdk.voting import Election

    again = Election.from_json(ELECTION.to_json())
    assert again == ELECTION
    assert ELECTION.is_open(ELECTION.opens_at) and not ELECTION.is_open(ELECTION.closes_at)
    assert ELECTION.election_day == date(2026, 2, 1) and ELECTION.closes_at - ELECTION.opens_at == timedelta(days=1)


def test_publication_with_a_wrong_batch_size_is_refused() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"])
    bad = copy.deepcopy(pub)
    bad["batches"][0]["size"] = 3
    assert _code(bad, anchored) == "root_mismatch"


def test_publication_listing_a_batch_twice_is_invalid() -> None:
    pub, anchored = _publication(["Sato", "Suzuki"])
    bad = copy.deepcopy(pub)
    bad["batches"].append(dict(bad["batches"][0]))
    with pytest.raises(InvalidInputError):
        verify_published_election(bad, anchored=anchored)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def _mutations(base: dict) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.sampled_from(sorted(base)), JSON, max_size=3).map(lambda change: {**base, **change})


@given(st.one_of(JSON, _mutations(_receipt()[1].to_json())))  # type: ignore[arg-type]
def test_receipt_parser_raises_only_invalid_input(value: object) -> None:
    try:
        BallotReceipt.from_json(value)  # type: ignore[arg-type]
    except InvalidInputError:
        pass


@given(st.one_of(JSON, _mutations(_publication(["Sato", "Suzuki"])[0])))
def test_publication_check_raises_only_sdk_errors(value: object) -> None:
    _, anchored = _publication(["Sato", "Suzuki"])
    try:
        verify_published_election(value, anchored=anchored)  # type: ignore[arg-type]
    except (InvalidInputError, ProofInvalidError, BallotTokenError, TokenKeyError):
        pass


@given(_mutations(dict(ELECTION.to_json())))  # type: ignore[arg-type]
def test_election_parser_raises_only_invalid_input(value: dict) -> None:
    from vcsdk.voting import Election

    try:
        Election.from_json(value)
    except InvalidInputError:
        pass
