"""Property: whatever mix of concurrent casts arrives on two connections, each credential (nullifier)
gets exactly one ballot and every other cast is refused with ``already_voted``."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from vcsdk.errors import ConflictError
from vcsdk.voting import SqliteBallotStore, prepare_ballot

from ._town import tsukuba_election

ELECTION = tsukuba_election()


async def _run(submissions: list[tuple[int, int, str]]) -> tuple[list[object], int, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "ballots.db")
        stores = [await SqliteBallotStore.open(path), await SqliteBallotStore.open(path)]
        try:
            casts = []
            for credential, connection, choice in submissions:
                ballot = prepare_ballot(ELECTION, choice)
                casts.append(stores[connection].cast(
                    ELECTION.election_id, nullifier=f"{credential:064x}", commitment=ballot.commitment,
                    choice=choice, salt=ballot.salt,
                ))
            outcomes = await asyncio.gather(*casts, return_exceptions=True)
            return (
                list(outcomes),
                len(await stores[0].ballots(ELECTION.election_id)),
                await stores[1].nullifier_count(ELECTION.election_id),
            )
        finally:
            for store in stores:
                await store.close()


@settings(max_examples=25)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1), st.sampled_from(ELECTION.choices)),
                min_size=1, max_size=12))
def test_one_ballot_per_credential_under_any_interleaving(submissions: list[tuple[int, int, str]]) -> None:
    outcomes, ballots, nullifiers = asyncio.run(_run(submissions))
    credentials = {c for c, _, _ in submissions}
    assert ballots == nullifiers == len(credentials)
    assert sum(o is None for o in outcomes) == len(credentials)
    refused = [o for o in outcomes if o is not None]
    assert all(isinstance(o, ConflictError) and o.code == "already_voted" for o in refused)
