"""A small town for voting tests: the city (did:ethr on the embedded chain, resident registry over
SOAP, OpenID4VCI eligibility issuer, ballot-token issuer, status server, issuance ledger) and a
voting service, all on 127.0.0.1; and the voter's device, which talks to both directly."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from vcsdk import City
from vcsdk.credentials import StatusListIssuer, VctRegistry, present
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS, RegistryEntry, ResidentRegistryClient
from vcsdk.oid4vc import InMemoryStateStore, issuer_routes, receive_credential, run_flow, send
from vcsdk.registry import EmbeddedChain
from vcsdk.status import HttpStatusListFetcher, StatusListStore, status_list_routes
from vcsdk.voting import (
    ELIGIBILITY_CLAIMS,
    BallotAnchor,
    BallotChoice,
    BallotReceipt,
    BallotStore,
    BallotToken,
    BallotTokenIssuer,
    DistrictRule,
    Election,
    EligibilityApplication,
    EligibilityIssuer,
    EligibilityOffered,
    IssuanceLedger,
    PendingToken,
    SqliteBallotStore,
    SqliteIssuanceLedger,
    VotingService,
    begin_token,
    cast_request,
    election_request,
    generate_token_keys,
    parse_cast_answer,
    parse_election_answer,
    parse_token_answer,
    parse_token_nonce,
    token_issuer_routes,
    token_nonce_request,
    token_request,
    voting_routes,
)

VCTS = VctRegistry("https://credentials.tsukuba.example")
T0 = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tsukuba_election(election_id: str = "tsukuba-2026-mayor", *, opens_at: datetime = T0) -> Election:
    """The test election; ages count on 1 February 2026 whatever the voting period (``opens_at``)."""
    return Election(
        election_id=election_id,
        title="Tsukuba mayoral election 2026",
        choices=("Sato", "Suzuki", "Takahashi"),
        districts=(
            DistrictRule("tsukuba-a", city="つくば市", postal_code_prefixes=("305-003",)),
            DistrictRule("tsukuba-b", city="つくば市", postal_code_prefixes=("305-000", "305-004")),
            DistrictRule("tsukuba-c", city="つくば市", postal_code_prefixes=("305-08",)),
        ),
        election_day=date(2026, 2, 1),
        opens_at=opens_at,
        closes_at=opens_at + timedelta(days=1),
    )


async def chain_now(chain: EmbeddedChain) -> datetime:
    """The chain's clock (the wall clock on the embedded chain): token keys are committed at it."""
    return datetime.fromtimestamp((await chain.get_block("latest")).timestamp, UTC)


def kaga_election(*, opens_at: datetime = T0) -> Election:
    return Election(
        election_id="kaga-2026-council",
        title="Kaga council election 2026",
        choices=("Yes", "No"),
        districts=(DistrictRule("kaga-1", city="加賀市"),),
        election_day=date(2026, 2, 1),
        opens_at=opens_at,
        closes_at=opens_at + timedelta(days=1),
    )


def resident(resident_id: str) -> RegistryEntry:
    return next(e for e in SEED_RESIDENTS if e.record.resident_id == resident_id)


def application(resident_id: str) -> EligibilityApplication:
    r = resident(resident_id).record
    a = r.address
    return EligibilityApplication(
        family_name=r.family_name,
        given_name=r.given_name,
        birthdate=r.birthdate,
        address=f"{a.postal_code} {a.prefecture}{a.city}{a.street}",
    )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Town:
    chain: EmbeddedChain
    gov: Key
    city_did: str
    city_key: Key
    resolver: Resolver
    clock: Clock
    status_list: StatusListIssuer
    status_store: StatusListStore
    ledger: IssuanceLedger
    issuer: EligibilityIssuer
    token_issuer: BallotTokenIssuer
    service: VotingService
    store: BallotStore
    anchor: BallotAnchor
    db_path: Path
    ledger_path: Path
    session: aiohttp.ClientSession
    extra_issuers: dict[str, EligibilityIssuer] = field(default_factory=dict)
    city: City | None = None

    @property
    def base(self) -> str:
        return self.service.base_url

    @property
    def tokens_url(self) -> str:
        return self.token_issuer.audience

    def publish_status(self) -> None:
        token = self.status_list.publish(self.city_key, now=self.clock(), ttl=TTL, iss=self.city_did)
        self.status_store.publish("/status/voting", token, max_age=int(TTL.total_seconds()))

    async def get_credential(self, resident_id: str, device: Key, *, issuer: EligibilityIssuer | None = None) -> str:
        outcome = await (issuer or self.issuer).offer(application(resident_id), now=self.clock())
        assert isinstance(outcome, EligibilityOffered), outcome
        issued = await run_flow(
            receive_credential(outcome.offer, tx_code=outcome.tx_code, signers=[device], now=self.clock), self.session
        )
        (credential,) = issued.credentials
        return credential

    async def begin(self, *, district: str | None = None) -> PendingToken:
        """The device: fetch the election and its keys from the voting service, read the key's
        commitment from the chain itself, blind a fresh serial."""
        info = parse_election_answer(await send(self.session, election_request(self.base)))
        key = info.token_keys[district]
        committed = await BallotAnchor(self.chain, info.contract).committed_token_key(key)
        return begin_token(key, election=info.election, district=district, committed=committed)

    async def request_token(
        self, credential: str, device: Key, pending: PendingToken, *, disclose: Any = ELIGIBILITY_CLAIMS
    ) -> BallotToken:
        """The device: a nonce, a presentation of the eligibility claims bound to it, the blind signature."""
        nonce = parse_token_nonce(await send(self.session, token_nonce_request(self.tokens_url)))
        vp = present(credential, disclose=disclose, holder_signer=device, audience=self.tokens_url, nonce=nonce,
                     now=self.clock())
        answer = await send(self.session, token_request(self.tokens_url, pending, presentation=vp, nonce=nonce))
        return parse_token_answer(answer, pending)

    async def ballot_token(self, credential: str, device: Key, **kw: Any) -> BallotToken:
        return await self.request_token(credential, device, await self.begin(), **kw)

    async def cast(self, token: BallotToken, ballot: BallotChoice) -> BallotReceipt:
        return parse_cast_answer(await send(self.session, cast_request(self.base, token, ballot)), ballot)


async def build_town(aiohttp_server: Any, chain: EmbeddedChain, tmp_path: Path, registry: ResidentRegistryClient,
                     session: aiohttp.ClientSession, fetcher: HttpStatusListFetcher, *,
                     store: BallotStore | None = None, ledger: IssuanceLedger | None = None) -> Town:
    start = await chain_now(chain)
    clock = Clock(start)  # voting opens an hour later: the keys are committed before
    gov = chain.dev_keys[0]
    # The city (the vcsdk.City recipe): its registries, resolver and status checking; its did:ethr
    # with a P-256 signing key published on the ERC-1056 registry.
    city = await City.deploy(chain, sender=gov)
    city_did, city_key = await city.publish_key(gov)
    resolver = city.resolver

    # Status lists, served over HTTP.
    status_store = StatusListStore()
    status_app = web.Application()
    status_app.add_routes(status_list_routes(status_store))
    status_server = await aiohttp_server(status_app, host="127.0.0.1")
    status_list = StatusListIssuer(f"http://127.0.0.1:{status_server.port}/status/voting", size=1 << 12)

    # The city: OpenID4VCI eligibility issuer and ballot-token issuer sharing one durable ledger.
    election = tsukuba_election(opens_at=start + timedelta(hours=1))
    ledger_path = tmp_path / "ledger.db"
    ledger = ledger or await SqliteIssuanceLedger.open(str(ledger_path))
    city_port = free_port()
    issuer = EligibilityIssuer(
        election=election, registry=registry, issuer=city_did, signer=city_key,
        credential_issuer=f"http://127.0.0.1:{city_port}/issuer", store=InMemoryStateStore(), ledger=ledger,
        clock=clock, vct=VCTS.voting_eligibility, status_list=status_list,
    )
    kaga = EligibilityIssuer(
        election=kaga_election(opens_at=election.opens_at), registry=registry, issuer=city_did, signer=city_key,
        credential_issuer=f"http://127.0.0.1:{city_port}/kaga", store=InMemoryStateStore(), ledger=ledger,
        clock=clock, vct=VCTS.voting_eligibility,
    )
    token_issuer = BallotTokenIssuer(
        election=election, keys=generate_token_keys(election), ledger=ledger,
        audience=f"http://127.0.0.1:{city_port}/voting/ballot-tokens", resolver=resolver, issuers=[city_did],
        vct=VCTS.voting_eligibility, status=city.status_checker(fetcher), clock=clock,
        registry=registry,
    )
    city_app = web.Application()
    city_app.add_routes(issuer_routes(issuer.oid4vci, clock=clock))
    city_app.add_routes(issuer_routes(kaga.oid4vci, clock=clock))
    city_app.add_routes(token_issuer_routes(token_issuer, clock=clock))
    await aiohttp_server(city_app, host="127.0.0.1", port=city_port)

    # The voting service: the anchor contract (with the city's token key committed), store, routes.
    anchor = await BallotAnchor.deploy(chain, sender=chain.dev_keys[1])
    for key in token_issuer.token_keys.values():
        await anchor.commit_token_key(key)
    db_path = tmp_path / "ballots.db"
    store = store or await SqliteBallotStore.open(str(db_path))
    vote_port = free_port()
    service = VotingService(
        election=election, base_url=f"http://127.0.0.1:{vote_port}/elections/{election.election_id}",
        store=store, anchor=anchor, token_keys=list(token_issuer.token_keys.values()), clock=clock,
        min_batch_size=2, name="Tsukuba internet voting",
    )
    vote_app = web.Application()
    vote_app.add_routes(voting_routes(service, clock=clock))
    await aiohttp_server(vote_app, host="127.0.0.1", port=vote_port)
    return Town(chain, gov, city_did, city_key, resolver, clock, status_list, status_store, ledger, issuer,
                token_issuer, service, store, anchor, db_path, ledger_path, session, {"kaga": kaga}, city)
