"""The voting service of the election journeys: a party of its own on 127.0.0.1, built with the SDK
(``VotingService`` behind ``voting_routes``, a SQLite ballot store, the anchor contract the city
deployed and allowed its account to anchor in). It reads the election and its token keys from the
city's public endpoint, as an operator would configure it.

Its clock is the real time plus ``offset``, which a test moves to let voting open (the city commits
the token keys before ``opens_at``) and to close the period without waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from tests._net import serve
from tests.chain_fixtures import fund as dev_fund
from vcsdk.keys import Key
from vcsdk.registry import Chain, key_address
from vcsdk.voting import BallotAnchor, Election, SqliteBallotStore, TokenKey, VotingService, voting_routes


@dataclass
class ShiftedClock:
    """The real time plus ``offset``."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def new_service_key() -> Key:
    return Key.generate("secp256k1")


async def fund(chain: Chain, key: Key) -> str:
    address = key_address(key)
    await dev_fund(chain, address, 10**18)
    return address


@dataclass
class BallotBox:
    base: str
    service: VotingService
    clock: ShiftedClock

    def open(self) -> None:
        """Move the service's clock into the voting period."""
        election = self.service.election
        self.clock.offset = election.opens_at - datetime.now(UTC) + timedelta(seconds=1)

    async def close(self) -> Any:
        """The period is over: anchor what is left and publish."""
        self.clock.offset = self.service.election.closes_at - datetime.now(UTC)
        return await self.service.close(now=self.service.election.closes_at)


@asynccontextmanager
async def ballot_box(
    tmp_path: Path, chain: Chain, key: Key, election_json: dict[str, Any], *, port: int,
    name: str = "Kaga internet voting", allow_origins: tuple[str, ...] = (),
) -> AsyncIterator[BallotBox]:
    """Serve the voting service at ``http://127.0.0.1:{port}/elections/{id}`` for a committed election
    (``election_json`` is the city's ``GET /voting/{id}``); ``allow_origins``: the web wallet's origin,
whose ballot page calls it from the browser (CORS)."""
    election = Election.from_json(election_json["election"])
    anchor_facts = election_json["anchor"]
    anchor = BallotAnchor(chain, anchor_facts["contract"], sender=key, from_block=anchor_facts["from_block"])
    store = await SqliteBallotStore.open(str(tmp_path / "ballots.db"))
    clock = ShiftedClock()
    base = f"http://127.0.0.1:{port}/elections/{election.election_id}"
    service = VotingService(
        election=election, base_url=base, store=store, anchor=anchor,
        token_keys=[TokenKey.from_json(k) for k in election_json["token_keys"]], clock=clock, min_batch_size=1,
        name=name,
    )
    app = web.Application()
    app.add_routes(voting_routes(service, clock=clock, allow_origins=allow_origins))
    try:
        async with serve(app, port=port):
            yield BallotBox(base, service, clock)
    finally:
        await store.close()


def voting_service_url(port: int, election_id: str) -> str:
    return f"http://127.0.0.1:{port}/elections/{election_id}"

