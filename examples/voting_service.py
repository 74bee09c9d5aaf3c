"""A voting service built on vcsdk: one resident one vote, ballot secrecy, ballots anchored on chain.

Run it with ``python examples/voting_service.py``. A small election runs on an embedded chain and
over HTTP on 127.0.0.1 (the city's chain, DID and status list come from ``_setup.py``):

1. the city checks its resident registry (a local SOAP service with made-up residents) and issues
   each eligible resident a ``VotingEligibilityCredential`` over OpenID4VCI;
2. the voting service asks over OpenID4VP for four claims only (election, eligible, district,
   age 18+: never a name or a birthdate), derives the credential's per-election nullifier, and
   hands out a single-use ballot token; the presentation itself is not kept;
3. voters cast salted ballot commitments; a second vote and a revoked eligibility are refused;
4. commitments are anchored on chain in Merkle batches; every voter checks their inclusion proof;
5. after the period the service publishes every ballot, and anyone recomputes the tally and checks
   it against the roots on chain. See docs/voting.md for what each party can and cannot learn.
"""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import aiohttp
from _setup import VCTS, Wallet, did_with_p256_key, free_port, serve, start_city

from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS, LocalResidentRegistry, ResidentRegistryClient
from vcsdk.oid4vc import HttpRequest, InMemoryStateStore, issuer_routes, receive_credential, run_flow, send
from vcsdk.status import HttpStatusListFetcher, StatusListChecker
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

# Residents of the local registry (all made up) and how they will vote; KG-000101 lives in Kaga,
# outside the election's districts, and TK-000202 has moved out of the city.
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
            opens_at=city.now - timedelta(hours=1),
            closes_at=city.now + timedelta(hours=8),
        )

        # -- 1. The city: registry check, then OpenID4VCI (one credential per resident). ------------
        local_registry = await stack.enter_async_context(LocalResidentRegistry(port=0))
        registry = await stack.enter_async_context(ResidentRegistryClient(local_registry.url))
        city_port = free_port()
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        ledger = await SqliteIssuanceLedger.open(str(Path(folder) / "city-ledger.db"))  # durable: one per resident
        stack.push_async_callback(ledger.close)
        issuer = EligibilityIssuer(
            election=election, registry=registry, issuer=city.did, signer=city.key, vct=VCTS.voting_eligibility,
            credential_issuer=f"http://127.0.0.1:{city_port}/voting", store=InMemoryStateStore(), ledger=ledger,
            clock=now, status_list=city.status_list,
        )
        await stack.enter_async_context(serve(issuer_routes(issuer.oid4vci, clock=now), city_port))
        wallets: dict[str, Wallet] = {}
        for resident_id in [*VOTES, REVOKED, *INELIGIBLE]:
            outcome = await issuer.offer(application(resident_id), now=now())
            if not isinstance(outcome, EligibilityOffered):
                print(f"{resident_id}: no credential ({outcome.reason})")
                continue
            wallet = Wallet(session, city.resolver, Key.generate("P-256"))
            flow = receive_credential(outcome.offer, tx_code=outcome.tx_code, signers=[wallet.device], now=now)
            (wallet.credential,) = (await run_flow(flow, session)).credentials
            wallets[resident_id] = wallet
        print(f"eligibility credentials issued to {len(wallets)} residents")
        await issuer.revoke(REVOKED, now=now())  # e.g. the resident moved away before election day
        await city.publish_status()

        # -- 2. The voting service: its DID, the anchor contract, the ballot store, the routes. -----
        did, key = await did_with_p256_key(city.chain, city.ethr, city.resolver, city.chain.dev_keys[1])
        anchor = await BallotAnchor.deploy(city.chain, sender=city.chain.dev_keys[2])
        store = await SqliteBallotStore.open(str(Path(folder) / "ballots.db"))
        stack.push_async_callback(store.close)
        fetcher = await stack.enter_async_context(HttpStatusListFetcher(allow_loopback_http=True))
        port = free_port()
        service = VotingService(
            election=election, did=did, signer=key, base_url=f"http://127.0.0.1:{port}/elections/2026-mayor",
            store=store, anchor=anchor, resolver=city.resolver, issuers=[city.did], vct=VCTS.voting_eligibility,
            status=StatusListChecker(resolver=city.resolver, source=fetcher), clock=now, min_batch_size=2,
            name="Tsukuba internet voting",
        )
        await stack.enter_async_context(serve(voting_routes(service, clock=now), port))

        async def vote(wallet: Wallet, choice: str) -> BallotReceipt | str:
            """The voter's app: open a session, let the wallet present, then cast the ballot."""
            started = await send(session, HttpRequest("POST", f"{service.base_url}/sessions"))
            session_info = started.json_object(what="session")
            screen, _, answer = await wallet.answer(session_info["deep_link"], now=now())
            if "error" in answer:
                return str(answer["error"])
            ballot = prepare_ballot(election, choice)  # the voter keeps choice and salt
            token = ballot_token_from_redirect(answer["redirect_uri"])
            receipt = parse_cast_answer(await send(session, cast_request(service.base_url, token, ballot)), ballot)
            print(f"wallet disclosed {[list(p) for p in screen.credentials[0].claims]}; "
                  f"ballot cast, receipt {receipt.commitment.hex()[:16]}…")
            return receipt

        # -- 3. Voting. ---------------------------------------------------------------------------
        receipts = {rid: await vote(wallets[rid], choice) for rid, choice in VOTES.items()}
        print(f"second vote refused: {await vote(wallets['TK-000203'], 'Takahashi')}")
        print(f"revoked eligibility refused: {await vote(wallets[REVOKED], 'Takahashi')}")

        # -- 4. Anchoring and inclusion proofs. -----------------------------------------------------
        batches = await service.anchor_pending()
        print(f"anchored {sum(b.size for b in batches)} commitments in {len(batches)} batch(es) on chain")
        for receipt in receipts.values():
            assert isinstance(receipt, BallotReceipt)
            proof = parse_proof_answer(await send(session, proof_request(service.base_url, receipt.commitment)))
            root = await anchor.root_of(proof.batch_id) if proof else None
            verify_ballot_receipt(BallotReceipt(receipt.election_id, receipt.commitment, receipt.choice, receipt.salt,
                                                proof), root=root or b"")
        print(f"inclusion verified against the on-chain root for {len(receipts)} receipts")

        # -- 5. The period closes; results are published and checked by anyone. --------------------
        clock[0] = election.closes_at
        await service.close(now=now())
        answer = await send(session, HttpRequest("GET", f"{service.base_url}/results"))
        published = answer.json_object(what="results")
        auditor = BallotAnchor(city.chain, published["anchor"]["contract"])  # read-only, from the publication
        result = verify_published_election(published, anchored=await auditor.anchored_roots())
        print(f"tally: {dict(result.counts)} (recomputed from the publication and the chain)")


if __name__ == "__main__":
    asyncio.run(main())
