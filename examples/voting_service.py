"""A voting service built on vcsdk: one resident one vote, and a ballot no one can link to its voter.

Run it with ``python examples/voting_service.py``. A small election runs on an embedded chain and
over HTTP on 127.0.0.1 (the city's chain, DID and status list come from ``_setup.py``):

1. the city checks its resident registry (a local SOAP service with made-up residents) and issues
   each eligible resident a ``VotingEligibilityCredential`` over OpenID4VCI;
2. the city makes the election's ballot-token key; the voting service commits it in the election's
   anchor contract before voting opens;
3. each voter's device checks that key against the chain, picks a random serial, blinds it, presents
   the four eligibility claims to the city's token issuer and gets a blind signature (RFC 9474): the
   city signs a token it never sees; a second token, a revoked eligibility, a Kaga resident and a
   token key the chain does not know are all refused;
4. the device casts its ballot with the token at the voting service, which never learns who votes;
   a second ballot with the same token and a forged token are refused;
5. commitments are anchored in Merkle batches; every voter checks their inclusion proof; after the
   period the service publishes every ballot with its token, and anyone recomputes the tally and
   checks it against the chain. See docs/voting.md for what each party can and cannot learn.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import aiohttp
from _setup import VCTS, free_port, serve, start_city

from vcsdk.blindrsa import generate_key
from vcsdk.credentials import present
from vcsdk.errors import TokenKeyError, VcsdkError
from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS, LocalResidentRegistry, ResidentRegistryClient
from vcsdk.oid4vc import HttpRequest, InMemoryStateStore, issuer_routes, receive_credential, run_flow, send
from vcsdk.status import HttpStatusListFetcher, StatusListChecker
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

# Residents of the local registry (all made up) and how they will vote; KG-000101 lives in Kaga,
# outside the election's districts, and TK-000204 has her eligibility revoked before she votes.
VOTES = {"TK-000203": "Sato", "TK-000205": "Suzuki", "TK-000206": "Sato"}
REVOKED, INELIGIBLE = "TK-000204", ("KG-000101", "TK-000202")


def application(resident_id: str) -> EligibilityApplication:
    """What a resident types in the city's app (here: copied from the registry's synthetic seed)."""
    r = next(e.record for e in SEED_RESIDENTS if e.record.resident_id == resident_id)
    a = r.address
    return EligibilityApplication(r.family_name, r.given_name, r.birthdate, f"{a.postal_code} {a.city}{a.street}")


async def main() -> None:
    async with AsyncExitStack() as stack:
        city = await start_city(stack)  # embedded chain, the city's did:ethr, a status list over HTTP
        clock = [city.now]
        now = lambda: clock[0]  # noqa: E731 - the clock every component reads
        session = await stack.enter_async_context(aiohttp.ClientSession())
        election = Election(
            election_id="tsukuba-2026-mayor", title="Tsukuba mayoral election 2026",
            choices=("Sato", "Suzuki", "Takahashi"),
            districts=(DistrictRule("tsukuba-a", city="つくば市", postal_code_prefixes=("305-00",)),
                       DistrictRule("tsukuba-b", city="つくば市", postal_code_prefixes=("305-08",))),
            election_day=city.now.date(),
            opens_at=city.now + timedelta(hours=1),  # the token key is committed before this
            closes_at=city.now + timedelta(hours=9),
        )
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))

        # -- 1. The city: registry check, then OpenID4VCI (one credential per resident, durably). ----
        local_registry = await stack.enter_async_context(LocalResidentRegistry(port=0))
        registry = await stack.enter_async_context(ResidentRegistryClient(local_registry.url))
        ledger = await SqliteIssuanceLedger.open(str(folder / "city-ledger.db"))
        stack.push_async_callback(ledger.close)
        city_port = free_port()
        city_url = f"http://127.0.0.1:{city_port}/voting"
        issuer = EligibilityIssuer(
            election=election, registry=registry, issuer=city.did, signer=city.key, vct=VCTS.voting_eligibility,
            credential_issuer=city_url, store=InMemoryStateStore(), ledger=ledger, clock=now,
            status_list=city.status_list,
        )
        # -- 2. The city's token issuer: one blind signature per resident, with one key for the election.
        fetcher = await stack.enter_async_context(HttpStatusListFetcher(allow_loopback_http=True))
        status = StatusListChecker(resolver=city.resolver, source=fetcher)
        tokens_url = f"{city_url}/ballot-tokens"
        token_issuer = BallotTokenIssuer(
            election=election, keys=generate_token_keys(election), ledger=ledger, audience=tokens_url,
            resolver=city.resolver, issuers=[city.did], vct=VCTS.voting_eligibility, status=status, clock=now,
            registry=registry,
        )
        await stack.enter_async_context(serve([*issuer_routes(issuer.oid4vci, clock=now),
                                               *token_issuer_routes(token_issuer, clock=now)], city_port))
        devices: dict[str, Key] = {}
        credentials: dict[str, str] = {}
        for resident_id in [*VOTES, REVOKED, *INELIGIBLE]:
            outcome = await issuer.offer(application(resident_id), now=now())
            if not isinstance(outcome, EligibilityOffered):
                print(f"{resident_id}: no credential ({outcome.reason})")
                continue
            devices[resident_id] = Key.generate("P-256")
            flow = receive_credential(outcome.offer, tx_code=outcome.tx_code, signers=[devices[resident_id]], now=now)
            (credentials[resident_id],) = (await run_flow(flow, session)).credentials
        print(f"eligibility credentials issued to {len(credentials)} residents")
        await issuer.revoke(REVOKED, now=now())  # e.g. the resident moved away before election day
        await city.publish_status()

        # -- 3. The voting service: the anchor contract with the city's key committed, the store. ---
        anchor = await BallotAnchor.deploy(city.chain, sender=city.chain.dev_keys[2])
        for key in token_issuer.token_keys.values():
            await anchor.commit_token_key(key)  # once, before voting opens; the contract refuses a second
        store = await SqliteBallotStore.open(str(folder / "ballots.db"))
        stack.push_async_callback(store.close)
        port = free_port()
        service = VotingService(
            election=election, base_url=f"http://127.0.0.1:{port}/elections/2026-mayor", store=store, anchor=anchor,
            token_keys=list(token_issuer.token_keys.values()), clock=now, min_batch_size=2,
            name="Tsukuba internet voting",
        )
        await stack.enter_async_context(serve(voting_routes(service, clock=now), port))

        async def get_token(resident_id: str) -> BallotToken:
            """The voter's device: check the key on chain, blind a random serial, present, unblind."""
            info = parse_election_answer(await send(session, election_request(service.base_url)))
            key = info.token_keys[None]
            committed = await BallotAnchor(city.chain, info.contract).committed_token_key(key)
            pending = begin_token(key, election=info.election, district=None, committed=committed)
            nonce = parse_token_nonce(await send(session, token_nonce_request(tokens_url)))
            vp = present(credentials[resident_id], disclose=ELIGIBILITY_CLAIMS, holder_signer=devices[resident_id],
                         audience=tokens_url, nonce=nonce, now=now())
            answer = await send(session, token_request(tokens_url, pending, presentation=vp, nonce=nonce))
            return parse_token_answer(answer, pending)

        async def vote(token: BallotToken, choice: str) -> BallotReceipt:
            ballot = prepare_ballot(election, choice)  # the voter keeps choice and salt
            return parse_cast_answer(await send(session, cast_request(service.base_url, token, ballot)), ballot)

        async def refused(step: Awaitable[object]) -> str:
            try:
                await step
            except VcsdkError as exc:
                return exc.code
            raise AssertionError("expected a refusal")

        # -- 4. Tokens before voting opens (a token fetched early cannot be matched by time), then votes.
        tokens = {rid: await get_token(rid) for rid in VOTES}
        clock[0] = election.opens_at
        receipts = {rid: await vote(tokens[rid], choice) for rid, choice in VOTES.items()}
        for rid, receipt in receipts.items():
            print(f"{rid}: voted with serial {tokens[rid].serial.hex()[:12]}…, receipt {receipt.commitment.hex()[:8]}…")
        print(f"second token refused: {await refused(get_token('TK-000203'))}")
        print(f"second ballot with one token refused: {await refused(vote(tokens['TK-000203'], 'Takahashi'))}")
        print(f"revoked eligibility refused: {await refused(get_token(REVOKED))}")
        forged = BallotToken(election.election_id, None, b"\x01" * 32, b"\x02" * 32, b"\x03" * 256)
        print(f"forged token refused: {await refused(vote(forged, 'Takahashi'))}")
        # A city that hands one voter a key of its own (to recognise that voter's ballot later) is caught.
        tagged = TokenKey(election.election_id, None, generate_key().public_key())
        try:
            begin_token(tagged, election=election, district=None, committed=await anchor.committed_token_key(tagged))
        except TokenKeyError as exc:
            print(f"a token key other than the committed one is refused by the device: {exc.code}")

        # -- 5. Anchoring, inclusion proofs, results. --------------------------------------------------
        batches = await service.anchor_pending()
        print(f"anchored {sum(b.size for b in batches)} commitments in {len(batches)} batch(es) on chain")
        for receipt in receipts.values():
            proof = parse_proof_answer(await send(session, proof_request(service.base_url, receipt.commitment)))
            root = await anchor.root_of(proof.batch_id) if proof else None
            verify_ballot_receipt(BallotReceipt(receipt.election_id, receipt.commitment, receipt.choice, receipt.salt,
                                                proof), root=root or b"")
        print(f"inclusion verified against the on-chain root for {len(receipts)} receipts")
        clock[0] = election.closes_at
        await service.close(now=now())
        published = (await send(session, HttpRequest("GET", f"{service.base_url}/results"))).json_object(
            what="results")
        auditor = BallotAnchor(city.chain, published["anchor"]["contract"])  # read-only, from the publication
        keys = [TokenKey.from_json(k) for k in published["token_keys"]]
        result = verify_published_election(published, anchored=await auditor.anchored_roots(),
                                           committed_at=await auditor.token_key_commitments(keys))
        print(f"tally: {dict(result.counts)} (recomputed from the publication and the chain; "
              f"{await ledger.tokens_issued(election.election_id)} tokens issued, {result.ballots} ballots)")


if __name__ == "__main__":
    asyncio.run(main())
