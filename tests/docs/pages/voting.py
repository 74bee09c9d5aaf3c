"""docs/voting.md: the city (DID on an embedded chain, the local SOAP resident registry, a status
list served on 127.0.0.1), the voting service's DID, a resident of Tsukuba and a clock in the voting
period. The page's https services are not reachable from a test, so before the voter's blocks the
issuer and the voting service the page built are run as loopback twins (same election, store and
anchor contract), the resident gets a credential and a ballot token, and the batch is anchored and
the election closed when the page says "later"."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from vcsdk.credentials import StatusListIssuer, VctRegistry, peek, present
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.kyc import LocalResidentRegistry, ResidentRegistryClient
from vcsdk.oid4vc import (
    CandidateCredential,
    HttpRequest,
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
from vcsdk.status import HttpStatusListFetcher, StatusListChecker, StatusListStore, status_list_routes
from vcsdk.trust import AccreditationPolicy, TrustRegistry
from vcsdk.voting import (
    EligibilityIssuer,
    EligibilityOffered,
    SqliteIssuanceLedger,
    VotingService,
    ballot_token_from_redirect,
    voting_routes,
)

sys.path.insert(0, str(Path(__file__).parent))
from _city import start_city


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _serve(ns: dict[str, Any], routes: list[web.RouteDef], port: int = 0) -> str:
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    ns["_cleanup"].append(runner.cleanup)
    return f"http://127.0.0.1:{runner.addresses[0][1]}"


def _async(fn: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        fn()

    return run


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def setup(ns: dict[str, Any]) -> None:
    ns["_cleanup"] = []
    city = await start_city()
    ns["_cleanup"].append(city.chain.close)
    registry = LocalResidentRegistry()
    await registry.start()
    ns["_cleanup"].append(registry.stop)
    client = ResidentRegistryClient(registry.url)
    ns["_cleanup"].append(client.aclose)
    status_store = StatusListStore()
    status_base = await _serve(ns, status_list_routes(status_store))
    service_did, service_key = await city.published_key(city.chain.dev_keys[2])
    did_resolver = Resolver(city.networks, cache_ttl=timedelta(0))
    ns["_cleanup"].append(did_resolver.close)
    fetcher = HttpStatusListFetcher(allow_loopback_http=True)
    ns["_cleanup"].append(fetcher.close)
    session = aiohttp.ClientSession()
    ns["_cleanup"].append(session.close)
    clock = Clock(datetime(2026, 1, 26, 9, 0, tzinfo=UTC))
    vcts = VctRegistry("https://credentials.tsukuba.example")
    trust = await TrustRegistry.deploy(city.chain, sender=city.governance)
    await trust.accredit(city.did, vcts.voting_eligibility, valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                         sender=city.governance)
    shown: list[str] = []
    folder = tempfile.TemporaryDirectory()
    ns["_cleanup"].append(_async(folder.cleanup))
    issuance_ledger = await SqliteIssuanceLedger.open(str(Path(folder.name) / "ledger.db"))
    twin_ledger = await SqliteIssuanceLedger.open(str(Path(folder.name) / "twin-ledger.db"))
    ns["_cleanup"].extend([issuance_ledger.close, twin_ledger.close])
    ns.update(issuance_ledger=issuance_ledger, _twin_ledger=twin_ledger)
    ns.update(
        _city=city, _status_store=status_store, _shown=shown, registry_client=client, city_did=city.did,
        city_key=city.key, vcts=vcts, trust_registry=trust, state_store=InMemoryStateStore(),
        clock=clock, now=clock(), voting_status_list=StatusListIssuer(f"{status_base}/status/voting", size=1 << 12),
        app=web.Application(), family_name="山田", given_name="太郎", birthdate=date(1990, 8, 8),
        address="305-0005 茨城県つくば市天久保二丁目1番地15", show_qr=shown.append, send_sms=lambda phone, code: None,
        phone="+81-29-000-0000", tell_resident=lambda reason: shown.append(f"refused: {reason}"),
        chain=city.chain, anchor_key=city.chain.dev_keys[1], service_did=service_did, service_key=service_key,
        did_resolver=did_resolver, fetcher=fetcher, shared_state_store=InMemoryStateStore(), session=session,
    )


async def before(source: str, ns: dict[str, Any]) -> None:
    if "prepare_ballot(election" in source:
        await _vote_until_the_ballot_token(ns)
    if "parse_proof_answer(" in source:
        await ns["_twin"].anchor_pending(flush=True)
    if "verify_published_election(" in source:
        ns["clock"].now = ns["election"].closes_at + timedelta(minutes=1)
        ns["results_json"] = json.dumps(await ns["_twin"].close(now=ns["clock"]()))


async def _vote_until_the_ballot_token(ns: dict[str, Any]) -> None:
    from vcsdk.voting import EligibilityApplication

    election, clock, device = ns["election"], ns["clock"], Key.generate("P-256")
    # The city's issuer, on loopback: a credential for the resident.
    issuer_port = _port()
    issuer = EligibilityIssuer(
        election=election, registry=ns["registry_client"], issuer=ns["city_did"], signer=ns["city_key"],
        vct=ns["vcts"].voting_eligibility, credential_issuer=f"http://127.0.0.1:{issuer_port}/voting",
        store=InMemoryStateStore(), ledger=ns["_twin_ledger"], clock=clock, status_list=ns["voting_status_list"])
    await _serve(ns, issuer_routes(issuer.oid4vci, clock=clock), issuer_port)
    outcome = await issuer.offer(EligibilityApplication(ns["family_name"], ns["given_name"], ns["birthdate"],
                                                        ns["address"]), now=clock())
    assert isinstance(outcome, EligibilityOffered), outcome
    issued = await run_flow(receive_credential(outcome.offer, tx_code=outcome.tx_code, signers=[device], now=clock),
                            ns["session"])
    (credential,) = issued.credentials
    token = ns["voting_status_list"].publish(ns["city_key"], now=clock(), iss=ns["city_did"])
    ns["_status_store"].publish("/status/voting", token, max_age=300)
    # The voting service, on loopback, with the page's store and anchor contract.
    vote_port = _port()
    base = f"http://127.0.0.1:{vote_port}/e/2026-mayor"
    twin = VotingService(
        election=election, did=ns["service_did"], signer=ns["service_key"], base_url=base, store=ns["store"],
        anchor=ns["anchor"], resolver=ns["did_resolver"], issuers=[ns["city_did"]], vct=ns["vcts"].voting_eligibility,
        status=StatusListChecker(resolver=ns["did_resolver"], source=ns["fetcher"]), clock=clock,
        accreditation=AccreditationPolicy(ns["trust_registry"]), state=InMemoryStateStore(), min_batch_size=1)
    await _serve(ns, voting_routes(twin, clock=clock), vote_port)
    # The wallet answers the service's request with the four eligibility claims.
    session = ns["session"]
    created = await send(session, HttpRequest("POST", f"{base}/sessions", {}, b""))
    ref = parse_authorization_request_uri(created.json_object(what="session")["deep_link"])
    request = await load_request_object((await send(session, request_object_request(ref))).body.decode(),
                                        resolver=ns["did_resolver"], expected_client_id=ref.client_id, now=clock())
    unverified = peek(credential)
    consent = build_consent(request, match_dcql(request.dcql_query, [CandidateCredential(
        "vc", "dc+sd-jwt", unverified.unverified_vct, unverified.unverified_claims)]))
    (chosen,) = consent.credentials
    vp = present(credential, disclose=chosen.claims, holder_signer=device, audience=request.client_id,
                 nonce=request.nonce, now=clock())
    answer = await send(session, build_authorization_response(request, {chosen.query_id: vp}))
    assert answer.status == 200, answer.body
    ns.update(_twin=twin, base_url=base, contract_address=ns["anchor"].address,
              token=ballot_token_from_redirect(parse_response_uri_answer(answer) or ""))


async def teardown(ns: dict[str, Any]) -> None:
    if "store" in ns:
        await ns["store"].close()
    for cleanup in reversed(ns.get("_cleanup", [])):
        await cleanup()
    assert ns.get("_shown"), "the page's issuer made no offer"
