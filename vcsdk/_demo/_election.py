"""The demo's election: eligibility over OpenID4VCI, one ballot per credential, ballots anchored and tallied."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from vcsdk.credentials import StatusChecker, StatusListIssuer, peek, present
from vcsdk.ethr import Resolver
from vcsdk.keys import Key, Signer
from vcsdk.kyc import SEED_RESIDENTS, ResidentRegistry
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
    receive_credential,
    request_object_request,
    run_flow,
    send,
)
from vcsdk.registry import Chain
from vcsdk.voting import (
    BallotAnchor,
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
    parse_proof_answer,
    prepare_ballot,
    proof_request,
    verify_ballot_receipt,
    verify_published_election,
    voting_routes,
)

__all__ = ["CityContext", "run_election"]

# Synthetic residents of the local registry and their (secret) choices.
VOTES = {"TK-000203": "Sato", "TK-000205": "Suzuki", "TK-000206": "Sato"}
OUTSIDE_DISTRICT = "KG-000101"  # lives in Kaga: no eligibility for a Tsukuba election


@dataclass
class CityContext:
    """What the election borrows from the rest of the story."""

    chain: Chain
    resolver: Resolver
    city_did: str
    city_key: Signer
    vct: str
    status_list: StatusListIssuer
    publish_status: Callable[[datetime], Awaitable[None]]
    registry: ResidentRegistry
    session: aiohttp.ClientSession
    voting_did: str
    voting_key: Signer
    anchor_sender: Key
    status: StatusChecker
    serve: Callable[[list[Any], int], Any]
    free_port: Callable[[], int]


def _application(resident_id: str) -> EligibilityApplication:
    r = next(e.record for e in SEED_RESIDENTS if e.record.resident_id == resident_id)
    a = r.address
    return EligibilityApplication(r.family_name, r.given_name, r.birthdate, f"{a.postal_code} {a.city}{a.street}")


async def _answer(ctx: CityContext, device: Key, credential: str, deep_link: str, now: datetime) -> dict[str, Any]:
    """The voter's phone: verify the request, present only what the DCQL query asks, post it."""
    ref = parse_authorization_request_uri(deep_link)
    jwt = (await send(ctx.session, request_object_request(ref))).body.decode()
    request = await load_request_object(jwt, resolver=ctx.resolver, expected_client_id=ref.client_id, now=now)
    unverified = peek(credential)
    candidate = CandidateCredential(ref="vote", format="dc+sd-jwt", vct=unverified.unverified_vct,
                                    claims=unverified.unverified_claims)
    (chosen,) = build_consent(request, match_dcql(request.dcql_query, [candidate])).credentials
    vp = present(credential, disclose=chosen.claims, holder_signer=device, audience=request.client_id,
                 nonce=request.nonce, now=now)
    answer = await send(ctx.session, build_authorization_response(request, {chosen.query_id: vp}))
    return answer.json_object(what="response_uri answer")


async def run_election(
    ctx: CityContext, stack: AsyncExitStack, *, now: datetime, check: Callable[..., None], say: Callable[..., None]
) -> dict[str, int]:
    """Run a small election; report each expected outcome through ``check``; return the tally."""
    clock = [now]
    election = Election(
        election_id="tsukuba-2026-mayor", title="Tsukuba mayoral election 2026",
        choices=("Sato", "Suzuki", "Takahashi"),
        districts=(DistrictRule("tsukuba-a", city="つくば市", postal_code_prefixes=("305-00",)),
                   DistrictRule("tsukuba-b", city="つくば市", postal_code_prefixes=("305-08",))),
        election_day=now.date(), opens_at=now - timedelta(hours=1), closes_at=now + timedelta(hours=8),
    )
    port = ctx.free_port()
    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="vcsdk-election-"))
    ledger = await SqliteIssuanceLedger.open(str(Path(folder) / "city-ledger.db"))
    stack.push_async_callback(ledger.close)
    issuer = EligibilityIssuer(
        election=election, registry=ctx.registry, issuer=ctx.city_did, signer=ctx.city_key, vct=ctx.vct,
        credential_issuer=f"http://127.0.0.1:{port}/voting", store=InMemoryStateStore(), ledger=ledger,
        clock=lambda: clock[0], status_list=ctx.status_list,
    )
    await stack.enter_async_context(ctx.serve(issuer_routes(issuer.oid4vci, clock=lambda: clock[0]), port))
    voters: dict[str, tuple[Key, str]] = {}
    for resident_id in VOTES:
        outcome = await issuer.offer(_application(resident_id), now=clock[0])
        if isinstance(outcome, EligibilityOffered):
            device = Key.generate("P-256")
            flow = receive_credential(outcome.offer, tx_code=outcome.tx_code, signers=[device], now=lambda: clock[0])
            (credential,) = (await run_flow(flow, ctx.session)).credentials
            voters[resident_id] = (device, credential)
    outsider = await issuer.offer(_application(OUTSIDE_DISTRICT), now=clock[0])
    check("election_eligibility", len(voters) == len(VOTES) and not isinstance(outsider, EligibilityOffered),
          f"the city issued {len(voters)} eligibility credentials after registry checks; a Kaga resident got none "
          f"({getattr(outsider, 'reason', '?')})")
    await ctx.publish_status(clock[0])

    anchor = await BallotAnchor.deploy(ctx.chain, sender=ctx.anchor_sender)
    store = await SqliteBallotStore.open(str(Path(folder) / "ballots.db"))
    stack.push_async_callback(store.close)
    vport = ctx.free_port()
    service = VotingService(
        election=election, did=ctx.voting_did, signer=ctx.voting_key,
        base_url=f"http://127.0.0.1:{vport}/elections/2026-mayor", store=store, anchor=anchor,
        resolver=ctx.resolver, issuers=[ctx.city_did], vct=ctx.vct, status=ctx.status, clock=lambda: clock[0],
        min_batch_size=2, name="Tsukuba internet voting",
    )
    await stack.enter_async_context(ctx.serve(voting_routes(service, clock=lambda: clock[0]), vport))

    async def vote(resident_id: str, choice: str) -> BallotReceipt | str:
        device, credential = voters[resident_id]
        started = await send(ctx.session, HttpRequest("POST", f"{service.base_url}/sessions"))
        answer = await _answer(ctx, device, credential, started.json_object(what="session")["deep_link"], clock[0])
        if "error" in answer:
            return str(answer["error"])
        ballot = prepare_ballot(election, choice)
        token = ballot_token_from_redirect(answer["redirect_uri"])
        return parse_cast_answer(await send(ctx.session, cast_request(service.base_url, token, ballot)), ballot)

    receipts = {rid: await vote(rid, choice) for rid, choice in VOTES.items()}
    check("ballots_cast", all(isinstance(r, BallotReceipt) for r in receipts.values()),
          "three residents voted; the service saw only election, eligibility, district and age 18+")
    again = await vote("TK-000203", "Takahashi")
    check("double_vote_refused", again == "already_voted", f"a second ballot with the same credential: {again}")
    batches = await service.anchor_pending()
    proved = 0
    for receipt in receipts.values():
        if isinstance(receipt, BallotReceipt):
            proof = parse_proof_answer(await send(ctx.session, proof_request(service.base_url, receipt.commitment)))
            root = await anchor.root_of(proof.batch_id) if proof else None
            verify_ballot_receipt(BallotReceipt(receipt.election_id, receipt.commitment, receipt.choice, receipt.salt,
                                                proof), root=root or b"")
            proved += 1
    check("ballots_included", proved == len(VOTES),
          f"{sum(b.size for b in batches)} ballot commitments anchored; every voter's inclusion proof checks")
    clock[0] = election.closes_at
    await service.close(now=clock[0])
    published = (await send(ctx.session, HttpRequest("GET", f"{service.base_url}/results"))).json_object(
        what="results")
    auditor = BallotAnchor(ctx.chain, published["anchor"]["contract"])
    result = verify_published_election(published, anchored=await auditor.anchored_roots())
    counts = dict(result.counts)
    expected: dict[str, int] = {}
    for choice in VOTES.values():
        expected[choice] = expected.get(choice, 0) + 1
    check("tally_reproduced", {k: v for k, v in counts.items() if v} == expected,
          f"tally {counts}, recomputed by an auditor from the publication and the on-chain roots", tally=counts)
    say("the ballot store holds commitments and choices only; no name, birthdate or address (docs/voting.md)")
    return counts

