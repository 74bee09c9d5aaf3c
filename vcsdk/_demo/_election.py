"""The demo's election: eligibility over OpenID4VCI, blind-signed ballot tokens, ballots anchored and tallied."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from vcsdk.credentials import StatusChecker, StatusListIssuer, present
from vcsdk.errors import VcsdkError
from vcsdk.ethr import Resolver
from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS, ResidentRegistry
from vcsdk.oid4vc import HttpRequest, InMemoryStateStore, issuer_routes, receive_credential, run_flow, send
from vcsdk.registry import Chain
from vcsdk.voting import (
    ELIGIBILITY_CLAIMS,
    BallotAnchor,
    BallotReceipt,
    BallotToken,
    BallotTokenIssuer,
    DistrictRule,
    Election,
    EligibilityApplication,
    EligibilityIssuer,
    EligibilityOffered,
    SqliteBallotStore,
    SqliteIssuanceLedger,
    TokenKey,
    VotingService,
    begin_token,
    cast_request,
    election_request,
    generate_token_keys,
    parse_cast_answer,
    parse_election_answer,
    parse_proof_answer,
    parse_token_answer,
    parse_token_nonce,
    prepare_ballot,
    proof_request,
    token_issuer_routes,
    token_nonce_request,
    token_request,
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
    city_key: Key
    vct: str
    status_list: StatusListIssuer
    publish_status: Callable[[datetime], Awaitable[None]]
    registry: ResidentRegistry
    session: aiohttp.ClientSession
    anchor_sender: Key
    status: StatusChecker
    serve: Callable[[list[Any], int], Any]
    free_port: Callable[[], int]


def _application(resident_id: str) -> EligibilityApplication:
    r = next(e.record for e in SEED_RESIDENTS if e.record.resident_id == resident_id)
    a = r.address
    return EligibilityApplication(r.family_name, r.given_name, r.birthdate, f"{a.postal_code} {a.city}{a.street}")


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
        election_day=now.date(), opens_at=now + timedelta(hours=1), closes_at=now + timedelta(hours=9),
    )
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vcsdk-election-")))
    ledger = await SqliteIssuanceLedger.open(str(folder / "city-ledger.db"))
    stack.push_async_callback(ledger.close)
    port = ctx.free_port()
    city_url = f"http://127.0.0.1:{port}/voting"
    issuer = EligibilityIssuer(
        election=election, registry=ctx.registry, issuer=ctx.city_did, signer=ctx.city_key, vct=ctx.vct,
        credential_issuer=city_url, store=InMemoryStateStore(), ledger=ledger, clock=lambda: clock[0],
        status_list=ctx.status_list,
    )
    tokens_url = f"{city_url}/ballot-tokens"
    token_issuer = BallotTokenIssuer(
        election=election, keys=generate_token_keys(election), ledger=ledger, audience=tokens_url,
        resolver=ctx.resolver, issuers=[ctx.city_did], vct=ctx.vct, status=ctx.status, clock=lambda: clock[0],
    )
    routes = [*issuer_routes(issuer.oid4vci, clock=lambda: clock[0]),
              *token_issuer_routes(token_issuer, clock=lambda: clock[0])]
    await stack.enter_async_context(ctx.serve(routes, port))
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

    # The voting service's anchor contract holds the city's token key, committed before voting opens.
    anchor = await BallotAnchor.deploy(ctx.chain, sender=ctx.anchor_sender)
    for key in token_issuer.token_keys.values():
        await anchor.commit_token_key(key)
    store = await SqliteBallotStore.open(str(folder / "ballots.db"))
    stack.push_async_callback(store.close)
    vport = ctx.free_port()
    service = VotingService(
        election=election, base_url=f"http://127.0.0.1:{vport}/elections/2026-mayor", store=store, anchor=anchor,
        token_keys=list(token_issuer.token_keys.values()), clock=lambda: clock[0], min_batch_size=2,
        name="Tsukuba internet voting",
    )
    await stack.enter_async_context(ctx.serve(voting_routes(service, clock=lambda: clock[0]), vport))
    clock[0] = election.opens_at

    async def token_for(resident_id: str) -> BallotToken:
        """The voter's device: check the key on chain, blind a serial, present eligibility, unblind."""
        device, credential = voters[resident_id]
        info = parse_election_answer(await send(ctx.session, election_request(service.base_url)))
        key = info.token_keys[None]
        committed = await BallotAnchor(ctx.chain, info.contract).committed_token_key(key)
        pending = begin_token(key, election=info.election, district=None, committed=committed)
        nonce = parse_token_nonce(await send(ctx.session, token_nonce_request(tokens_url)))
        vp = present(credential, disclose=ELIGIBILITY_CLAIMS, holder_signer=device, audience=tokens_url,
                     nonce=nonce, now=clock[0])
        return parse_token_answer(await send(ctx.session, token_request(tokens_url, pending, presentation=vp,
                                                                         nonce=nonce)), pending)

    async def vote(token: BallotToken, choice: str) -> BallotReceipt | str:
        ballot = prepare_ballot(election, choice)
        try:
            return parse_cast_answer(await send(ctx.session, cast_request(service.base_url, token, ballot)), ballot)
        except VcsdkError as exc:
            return exc.code

    tokens = {rid: await token_for(rid) for rid in VOTES}
    receipts = {rid: await vote(tokens[rid], choice) for rid, choice in VOTES.items()}
    check("ballots_cast", all(isinstance(r, BallotReceipt) for r in receipts.values()),
          "three residents got a blind-signed ballot token from the city and voted with it; the city never saw "
          "the tokens, the voting service never saw who voted")
    again = await vote(tokens["TK-000203"], "Takahashi")
    try:
        await token_for("TK-000203")
        reissued = "issued"
    except VcsdkError as exc:
        reissued = exc.code
    check("double_vote_refused", again == "already_voted" and reissued == "token_already_issued",
          f"a second ballot with the same token: {again}; a second token for the same resident: {reissued}")
    tagged = TokenKey(election.election_id, None, generate_token_keys(election)[None].public_key())
    try:
        begin_token(tagged, election=election, district=None, committed=await anchor.committed_token_key(tagged))
        tagging = "accepted"
    except VcsdkError as exc:
        tagging = exc.code
    check("tagging_caught", tagging == "token_key_not_committed",
          f"a token key other than the one committed on chain is refused by the voter's device ({tagging})")
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
    keys = [TokenKey.from_json(k) for k in published["token_keys"]]
    result = verify_published_election(published, anchored=await auditor.anchored_roots(),
                                       committed_at=await auditor.token_key_commitments(keys))
    counts = dict(result.counts)
    expected: dict[str, int] = {}
    for choice in VOTES.values():
        expected[choice] = expected.get(choice, 0) + 1
    check("tally_reproduced", {k: v for k, v in counts.items() if v} == expected,
          f"tally {counts}, recomputed by an auditor from the publication (every ballot with its token) and "
          "the on-chain roots", tally=counts)
    say("the ballot store holds tokens, commitments and choices; the city's ledger holds who got a token; "
        "nothing links the two (docs/voting.md)")
    return counts
