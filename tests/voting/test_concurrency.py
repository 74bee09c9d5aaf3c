"""Property: whatever mix of concurrent casts arrives on two connections, each ballot token (serial)
gets exactly one ballot and every other cast with it is refused with ``already_voted``."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from vcsdk.errors import AlreadyVotedError
from vcsdk.voting import SqliteBallotStore, prepare_ballot

from ._mint import mint, token_key
from ._town import tsukuba_election

ELECTION = tsukuba_election()
TOKENS = [mint(token_key(ELECTION), ELECTION) for _ in range(5)]


async def _run(submissions: list[tuple[int, int, str]]) -> tuple[list[object], int]:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "ballots.db")
        stores = [await SqliteBallotStore.open(path), await SqliteBallotStore.open(path)]
        try:
            casts = []
            for token, connection, choice in submissions:
                ballot = prepare_ballot(ELECTION, choice)
                casts.append(stores[connection].cast(
                    ELECTION.election_id, token=TOKENS[token], commitment=ballot.commitment, choice=choice,
                    salt=ballot.salt,
                ))
            outcomes = await asyncio.gather(*casts, return_exceptions=True)
            return list(outcomes), await stores[1].ballot_count(ELECTION.election_id)
        finally:
            for store in stores:
                await store.close()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1), st.sampled_from(ELECTION.choices)),
                min_size=1, max_size=12))
def test_one_ballot_per_token_under_any_interleaving(submissions: list[tuple[int, int, str]]) -> None:
    outcomes, ballots = asyncio.run(_run(submissions))
    tokens = {t for t, _, _ in submissions}
    assert ballots == len(tokens)
    assert sum(o is None for o in outcomes) == len(tokens)
    refused = [o for o in outcomes if o is not None]
    assert all(isinstance(o, AlreadyVotedError) and o.code == "already_voted" for o in refused)
