"""A small town for voting tests: the city (did:ethr on the embedded chain, resident registry over
SOAP, OpenID4VCI issuer, status server) and a voting service, all on 127.0.0.1, plus a wallet."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from vcsdk.credentials import StaticKeyResolver, StatusListIssuer, VctRegistry, peek, present
from vcsdk.did import EthrNetwork, key_attribute
from vcsdk.errors import ProtocolError
from vcsdk.ethr import EthrRegistry, Resolver
from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS, RegistryEntry, ResidentRegistryClient
from vcsdk.oid4vc import (
    CandidateCredential,
    HttpRequest,
    HttpResponse,
    InMemoryStateStore,
    build_authorization_response,
    build_consent,
    issuer_routes,
    load_request_object,
    match_dcql,
    parse_authorization_request_uri,
    parse_response_uri_answer,
    receive_credential,
    request_object_request,
    run_flow,
    send,
)
from vcsdk.registry import EmbeddedChain, key_address
from vcsdk.status import HttpStatusListFetcher, StatusListChecker, StatusListStore, status_list_routes
from vcsdk.voting import (
    BallotAnchor,
    BallotChoice,
    BallotReceipt,
    DistrictRule,
    Election,
    EligibilityApplication,
    EligibilityIssuer,
    EligibilityOffered,
    SqliteBallotStore,
    SqliteIssuanceLedger,
    VotingService,
    ballot_token_from_redirect,
    cast_request,
    parse_cast_answer,
    voting_routes,
)

VCTS = VctRegistry("https://credentials.tsukuba.example")
T0 = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
SERVICE_DID = "did:ethr:0x539:0x5e71ce0000000000000000000000000000000001"
ELIGIBILITY_PATHS = [["election_id"], ["eligible"], ["district"], ["age_over_18"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tsukuba_election(election_id: str = "tsukuba-2026-mayor") -> Election:
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
        opens_at=T0,
        closes_at=T0 + timedelta(days=1),
    )


def kaga_election() -> Election:
    return Election(
        election_id="kaga-2026-council",
        title="Kaga council election 2026",
        choices=("Yes", "No"),
        districts=(DistrictRule("kaga-1", city="加賀市"),),
        election_day=date(2026, 2, 1),
        opens_at=T0,
        closes_at=T0 + timedelta(days=1),
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
    issuer: EligibilityIssuer
    service: VotingService
    service_key: Key
    store: SqliteBallotStore
    anchor: BallotAnchor
    db_path: Path
    session: aiohttp.ClientSession
    extra_issuers: dict[str, EligibilityIssuer] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.service.base_url

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

    async def present(self, credential: str, device: Key, *, honest: bool = True) -> HttpResponse:
        """A wallet answers a fresh request of the voting service with ``credential``.

        ``honest``: disclose what DCQL matching selects (refuses if nothing matches); otherwise
        disclose the four eligibility claims whatever the query says (a rogue or careless wallet).
        """
        created = await send(self.session, HttpRequest("POST", f"{self.base}/sessions", {}, b""))
        assert created.status == 201, created.body
        ref = parse_authorization_request_uri(created.json_object(what="session")["deep_link"])
        fetched = await send(self.session, request_object_request(ref))
        request = await load_request_object(
            fetched.body.decode(),
            resolver=StaticKeyResolver({SERVICE_DID: self.service_key}),
            expected_client_id=ref.client_id,
            now=self.clock(),
        )
        disclose: Any = ELIGIBILITY_PATHS
        if honest:
            unverified = peek(credential)
            candidate = CandidateCredential("vc", "dc+sd-jwt", unverified.unverified_vct, unverified.unverified_claims)
            consent = build_consent(request, match_dcql(request.dcql_query, [candidate]))
            (chosen,) = consent.credentials
            disclose = chosen.claims
        presentation = present(
            credential,
            disclose=disclose,
            holder_signer=device,
            audience=request.client_id,
            nonce=request.nonce,
            now=self.clock(),
        )
        return await send(self.session, build_authorization_response(request, {"eligibility": presentation}))

    async def ballot_token(self, credential: str, device: Key, **kw: Any) -> str:
        answer = await self.present(credential, device, **kw)
        if answer.status != 200:
            body = answer.json_object(what="error")
            raise ProtocolError(body.get("error_description", ""), code=body["error"])
        return ballot_token_from_redirect(parse_response_uri_answer(answer) or "")

    async def cast(self, token: str, ballot: BallotChoice) -> BallotReceipt:
        return parse_cast_answer(await send(self.session, cast_request(self.base, token, ballot)), ballot)


async def build_town(aiohttp_server: Any, chain: EmbeddedChain, tmp_path: Path, registry: ResidentRegistryClient,
                     session: aiohttp.ClientSession, fetcher: HttpStatusListFetcher) -> Town:
    clock = Clock(T0 + timedelta(minutes=1))
    gov = chain.dev_keys[0]
    # The city's did:ethr with a P-256 signing key published on the ERC-1056 registry.
    did_registry = await chain.deploy("EthereumDIDRegistry", sender=gov)
    network = EthrNetwork(chain_id=int(chain.chain_id), registry=did_registry, chain=chain)
    ethr = await EthrRegistry.bind(chain, network)
    identity = key_address(gov)
    city_key = Key.generate("P-256")
    await ethr.set_attribute(identity, *key_attribute(city_key), sender=gov)
    city_did = f"did:ethr:{hex(int(chain.chain_id))}:{identity}"
    resolver = Resolver([network], cache_ttl=timedelta(0))
    city_key = city_key.with_kid((await resolver.resolve_key(city_did, None)).kid)

    # Status lists, served over HTTP.
    status_store = StatusListStore()
    status_app = web.Application()
    status_app.add_routes(status_list_routes(status_store))
    status_server = await aiohttp_server(status_app, host="127.0.0.1")
    status_list = StatusListIssuer(f"http://127.0.0.1:{status_server.port}/status/voting", size=1 << 12)

    # The city's OpenID4VCI issuer for the election, checking the SOAP resident registry.
    election = tsukuba_election()
    city_port = free_port()
    ledger = await SqliteIssuanceLedger.open(str(tmp_path / "ledger.db"))
    issuer = EligibilityIssuer(
        election=election, registry=registry, issuer=city_did, signer=city_key,
        credential_issuer=f"http://127.0.0.1:{city_port}/issuer", store=InMemoryStateStore(), ledger=ledger,
        clock=clock, vct=VCTS.voting_eligibility, status_list=status_list,
    )
    kaga = EligibilityIssuer(
        election=kaga_election(), registry=registry, issuer=city_did, signer=city_key,
        credential_issuer=f"http://127.0.0.1:{city_port}/kaga", store=InMemoryStateStore(), ledger=ledger,
        clock=clock, vct=VCTS.voting_eligibility,
    )
    city_app = web.Application()
    city_app.add_routes(issuer_routes(issuer.oid4vci, clock=clock))
    city_app.add_routes(issuer_routes(kaga.oid4vci, clock=clock))
    await aiohttp_server(city_app, host="127.0.0.1", port=city_port)

    # The voting service: ballot store, anchor contract, OpenID4VP verifier, routes.
    anchor = await BallotAnchor.deploy(chain, sender=chain.dev_keys[1])
    db_path = tmp_path / "ballots.db"
    store = await SqliteBallotStore.open(str(db_path))
    service_key = Key.generate("secp256k1").with_kid(f"{SERVICE_DID}#controller")
    vote_port = free_port()
    service = VotingService(
        election=election, did=SERVICE_DID, signer=service_key,
        base_url=f"http://127.0.0.1:{vote_port}/elections/{election.election_id}",
        store=store, anchor=anchor, resolver=resolver, issuers=[city_did], vct=VCTS.voting_eligibility,
        status=StatusListChecker(resolver=resolver, source=fetcher), clock=clock, min_batch_size=2,
        name="Tsukuba internet voting",
    )
    vote_app = web.Application()
    vote_app.add_routes(voting_routes(service, clock=clock))
    await aiohttp_server(vote_app, host="127.0.0.1", port=vote_port)
    return Town(chain, gov, city_did, city_key, resolver, clock, status_list, status_store, issuer, service,
                service_key, store, anchor, db_path, session, {"kaga": kaga})
