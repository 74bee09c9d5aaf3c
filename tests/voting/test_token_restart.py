"""Over HTTP, on the issuance ledger of each backend: twenty concurrent token requests of one resident
give one token, and a token issuer restarted mid-election (a new process on the same database) does
not give a second one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from vcsdk.errors import TokenAlreadyIssuedError
from vcsdk.keys import Key
from vcsdk.kyc import LocalResidentRegistry, ResidentRegistryClient
from vcsdk.registry import EmbeddedChain
from vcsdk.status import HttpStatusListFetcher
from vcsdk.voting import (
    BallotTokenIssuer,
    IssuanceLedger,
    PostgresIssuanceLedger,
    SqliteIssuanceLedger,
    prepare_ballot,
    token_issuer_routes,
)

from ._town import Town, build_town, free_port
from .conftest import PG_DSN


@pytest.fixture(params=["sqlite", "postgres"])
async def town_and_ledger(request: pytest.FixtureRequest, aiohttp_server: Any, embedded_chain: EmbeddedChain,
                          tmp_path: Path, pg_schema: str) -> AsyncIterator[tuple[Town, Any]]:
    async def open_ledger() -> IssuanceLedger:
        if request.param == "sqlite":
            return await SqliteIssuanceLedger.open(str(tmp_path / "ledger.db"))
        return await PostgresIssuanceLedger.open(PG_DSN, schema=pg_schema, max_size=8)

    async with (
        LocalResidentRegistry(port=0) as local,
        ResidentRegistryClient(local.url) as registry,
        aiohttp.ClientSession() as session,
        HttpStatusListFetcher(allow_loopback_http=True) as fetcher,
    ):
        town = await build_town(aiohttp_server, embedded_chain, tmp_path, registry, session, fetcher,
                                ledger=await open_ledger())
        try:
            yield town, open_ledger
        finally:
            await town.store.close()
            await town.ledger.close()
            await town.resolver.close()


async def test_twenty_concurrent_requests_give_one_token(town_and_ledger: tuple[Town, Any]) -> None:
    town, _ = town_and_ledger
    device = Key.generate("P-256")
    credential = await town.get_credential("TK-000203", device)
    town.publish_status()
    pendings = [await town.begin() for _ in range(20)]
    outcomes = await asyncio.gather(*(town.request_token(credential, device, p) for p in pendings),
                                    return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, TokenAlreadyIssuedError) for o in outcomes if isinstance(o, BaseException))
    assert await town.ledger.tokens_issued(town.service.election_id) == 1


async def test_a_restarted_token_issuer_gives_no_second_token(town_and_ledger: tuple[Town, Any],
                                                               aiohttp_server: Any) -> None:
    town, open_ledger = town_and_ledger
    device = Key.generate("P-256")
    credential = await town.get_credential("TK-000205", device)
    town.publish_status()
    token = await town.ballot_token(credential, device)
    # The issuer process stops; a new one starts on the same database with the same keys.
    old = town.token_issuer
    restarted_ledger = await open_ledger()
    try:
        port = free_port()
        restarted = BallotTokenIssuer(
            election=old.election, keys=old._keys, ledger=restarted_ledger,
            audience=f"http://127.0.0.1:{port}/voting/ballot-tokens", resolver=town.resolver, issuers=old.issuers,
            vct=old.vct, status=old._status, clock=town.clock,
        )
        app = web.Application()
        app.add_routes(token_issuer_routes(restarted, clock=town.clock))
        await aiohttp_server(app, host="127.0.0.1", port=port)
        town.token_issuer = restarted  # the device now talks to the restarted process
        with pytest.raises(TokenAlreadyIssuedError):
            await town.ballot_token(credential, device)
        assert await restarted_ledger.tokens_issued(old.election.election_id) == 1
    finally:
        await restarted_ledger.close()
    # The token issued before the restart still votes, once.
    town.clock.now = town.service.election.opens_at
    await town.cast(token, prepare_ballot(town.service.election, "Sato"))
