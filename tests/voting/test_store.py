"""The ballot stores on SQLite and PostgreSQL: one ballot per serial across connections, what a row
holds, and compaction: after it the stored layout depends on the ballots, not on the order they came in."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from vcsdk.errors import AlreadyVotedError, ConflictError, NotFoundError
from vcsdk.voting import (
    BallotChoice,
    BallotStore,
    BallotToken,
    PostgresBallotStore,
    SqliteBallotStore,
    batch_tree,
    prepare_ballot,
)

from ._town import tsukuba_election
from .conftest import PG_DSN

E = tsukuba_election()
EID = E.election_id
Opener = Callable[[], Awaitable[BallotStore]]


def _token(district: str | None = None) -> BallotToken:
    # The store does not check signatures (the service does): random bytes of the right shape.
    return BallotToken(EID, district, secrets.token_bytes(32), secrets.token_bytes(32), secrets.token_bytes(256))


def _ballots(n: int) -> list[tuple[BallotToken, BallotChoice]]:
    return [(_token(), prepare_ballot(E, random.choice(E.choices))) for _ in range(n)]


async def _cast(store: BallotStore, items: list[tuple[BallotToken, BallotChoice]]) -> None:
    for token, ballot in items:
        await store.cast(EID, token=token, commitment=ballot.commitment, choice=ballot.choice, salt=ballot.salt)


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        path = str(tmp_path / "ballots.db")
        return lambda: SqliteBallotStore.open(path)
    schema = request.getfixturevalue("pg_schema")
    return lambda: PostgresBallotStore.open(PG_DSN, schema=schema, max_size=4)


async def test_one_ballot_per_serial_and_what_a_row_holds(open_store: Opener) -> None:
    store = await open_store()
    try:
        (token, ballot), (other_token, other_ballot) = _ballots(2)
        await _cast(store, [(token, ballot)])
        with pytest.raises(AlreadyVotedError):
            await _cast(store, [(token, other_ballot)])
        with pytest.raises(ConflictError) as reused:
            await _cast(store, [(other_token, ballot)])  # a new token with a commitment already stored
        assert not isinstance(reused.value, AlreadyVotedError)
        (row,) = await store.ballots(EID)
        assert (row.token, row.commitment, row.choice, row.salt, row.batch_id) == (
            token, ballot.commitment, ballot.choice, ballot.salt, None)
        assert await store.ballot(EID, ballot.commitment) == row
        with pytest.raises(NotFoundError):
            await store.ballot(EID, bytes(32))
        district = _token("tsukuba-b")
        await _cast(store, [(district, other_ballot)])
        assert (await store.ballot(EID, other_ballot.commitment)).token.district == "tsukuba-b"
        tree, leaves = batch_tree(await store.unbatched(EID, limit=10))
        await store.add_batch(EID, batch_id=tree.batch_id, root=tree.root, commitments=leaves)
        with pytest.raises(ConflictError):
            await store.add_batch(EID, batch_id=tree.batch_id, root=tree.root, commitments=leaves)
        await store.mark_anchored(EID, tree.batch_id, tx_hash="0x" + "11" * 32, block_number=9)
        with pytest.raises(NotFoundError):
            await store.mark_anchored(EID, bytes(32), tx_hash="0x", block_number=1)
        (batch,) = await store.batches(EID, state="anchored")
        assert (batch.size, batch.block_number) == (2, 9)
        assert len(await store.ballots(EID, batch_id=tree.batch_id)) == 2
    finally:
        await store.close()


async def test_racing_casts_with_one_token_on_two_connections_store_one(open_store: Opener) -> None:
    first, second = await open_store(), await open_store()
    try:
        token = _token()
        ballots = [prepare_ballot(E, c) for c in ("Sato", "Suzuki", "Takahashi", "Sato")]
        outcomes = await asyncio.gather(
            *(store.cast(EID, token=token, commitment=b.commitment, choice=b.choice, salt=b.salt)
              for store, b in zip((first, second, first, second), ballots, strict=True)),
            return_exceptions=True,
        )
        assert sum(o is None for o in outcomes) == 1
        assert all(isinstance(o, AlreadyVotedError) for o in outcomes if o is not None)
        assert await second.ballot_count(EID) == 1
    finally:
        await first.close()
        await second.close()


def _offsets(raw: bytes, serials: list[bytes]) -> dict[bytes, int]:
    found = {s: raw.find(s) for s in serials}
    assert all(v >= 0 for v in found.values())
    return found


def allocation_order(raw: bytes, tokens: list[BallotToken], *, page_size: int = 4096) -> list[bytes]:
    """The serials in the order their rows were written, as someone reading the raw SQLite file would
    estimate it: by each row's signature (only the table holds it), pages in order, and inside a page
    from its end backwards (SQLite allocates cell space downwards)."""
    found = _offsets(raw, [t.signature for t in tokens])
    by_signature = {t.signature: t.serial for t in tokens}
    ordered = sorted(found, key=lambda s: (found[s] // page_size, -(found[s] % page_size)))
    return [by_signature[s] for s in ordered]


async def _layouts(tmp_path: Path, items: list[tuple[BallotToken, BallotChoice]], how: str) -> list[bytes]:
    """The raw files of two stores that got the same ballots in opposite orders.

    ``how``: ``compact`` (then close), ``close`` (closing compacts), ``none`` (checkpointed only:
    the connection is closed without the store's close())."""
    raws = []
    for name, order in (("forward", items), ("backward", list(reversed(items)))):
        path = tmp_path / f"{name}-{how}.db"
        store = await SqliteBallotStore.open(str(path))
        await _cast(store, order)
        if how == "compact":
            await store.compact()
        if how == "none":
            async with store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                await cursor.fetchall()
            raws.append(path.read_bytes())
            await store._db.close()
            continue
        await store.close()
        wal = Path(f"{path}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        raws.append(path.read_bytes())
    return raws


@pytest.mark.parametrize("how", ["compact", "close"])
async def test_sqlite_file_layout_after_compaction_is_independent_of_arrival_order(tmp_path: Path, how: str) -> None:
    items = _ballots(40)
    tokens, serials = [t for t, _ in items], [t.serial for t, _ in items]
    forward, backward = await _layouts(tmp_path, items, how)
    assert _offsets(forward, serials) == _offsets(backward, serials)
    assert allocation_order(forward, tokens) == allocation_order(backward, tokens)


async def test_sqlite_layout_without_compaction_does_show_arrival_order(tmp_path: Path) -> None:
    """The control for the test above: the raw file of an uncompacted store does depend on arrival."""
    items = _ballots(40)
    tokens, serials = [t for t, _ in items], [t.serial for t, _ in items]
    forward, backward = await _layouts(tmp_path, items, "none")
    assert _offsets(forward, serials) != _offsets(backward, serials)
    assert allocation_order(forward, tokens) != allocation_order(backward, tokens)


async def test_postgres_rows_after_compaction_carry_no_arrival_order(pg_schema: str) -> None:
    store = await PostgresBallotStore.open(PG_DSN, schema=pg_schema, max_size=2)
    items = _ballots(30)
    try:
        await _cast(store, items)
        conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": pg_schema})
        try:
            query = "SELECT serial, xmin::text::bigint, ctid::text FROM voting_ballots"
            before = await conn.fetch(query)
            assert len({r[1] for r in before}) == 30  # the control: one transaction id per cast
            await store.compact()
            after = await conn.fetch(query)
        finally:
            await conn.close()
        assert len({r[1] for r in after}) == 1  # one transaction id for all
        by_position = sorted(after, key=lambda r: tuple(int(x) for x in r[2].strip("()").split(",")))
        assert [bytes(r[0]) for r in by_position] == sorted(t.serial for t, _ in items)
        assert await store.ballot_count(EID) == 30  # nothing lost
    finally:
        await store.close()
