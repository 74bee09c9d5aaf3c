"""The whole story on the embedded chain (or any node: ``rpc_url``), every server on loopback over real HTTP.

The city sets up its contracts and DID; a resident passes KYC against the SOAP resident registry
and receives a credential over OpenID4VCI; a shop asks over OpenID4VP for two claims, verifies them
(signature, accreditation, status) and returns an access receipt that is anchored on chain; the
resident reads their history and checks a proof; the city revokes and the shop's next check fails;
anonymized access statistics are exported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from vcsdk._demo._election import CityContext, run_election
from vcsdk._demo._sso import SsoContext, run_sso_login
from vcsdk.credentials import (
    RESIDENT_IDENTITY_CREDENTIAL,
    StatusListIssuer,
    VctRegistry,
    disclosable_paths,
    issue_sd_jwt_vc,
    peek,
    present,
)
from vcsdk.errors import CredentialRevokedError, InvalidInputError, NotFoundError, RegistryError
from vcsdk.keys import Key
from vcsdk.kyc import (
    SEED_RESIDENTS,
    KycApplication,
    KycPipeline,
    LocalResidentRegistry,
    PartialMatch,
    RegistryClientConfig,
    ResidentRegistryClient,
    Verified,
)
from vcsdk.oid4vc import (
    CandidateCredential,
    CredentialConfiguration,
    CredentialIssuer,
    HttpRequest,
    InMemoryStateStore,
    PresentationResult,
    build_authorization_response,
    build_consent,
    issuer_routes,
    load_request_object,
    match_dcql,
    parse_authorization_request_uri,
    parse_credential_offer,
    parse_credential_offer_uri,
    receive_credential,
    request_object_request,
    run_flow,
    send,
    verifier_routes,
)
from vcsdk.outbox import AccessReceiptRegistry, LedgerFile, ReceiptOutbox, ResidentView, SqliteReceiptStore
from vcsdk.receipts import (
    MIN_K_THRESHOLD,
    CellDomain,
    ConsentRecord,
    PrivacyParameters,
    access_statistics,
    issue_access_receipt,
    presentation_hash,
    resident_pseudonym,
    verify_inclusion,
)
from vcsdk.recipes import City
from vcsdk.registration import (
    ClaimSet,
    Purpose,
    RelyingPartyRegistration,
    check_registered_request,
    issue_registration,
)
from vcsdk.registry import Chain, DevChain, EmbeddedChain, check_chain, key_address
from vcsdk.status import StatusListStore, status_list_routes
from vcsdk.trust import StatusDigest

__all__ = ["DemoResult", "Narrator", "run_story"]

VCTS = VctRegistry("https://credentials.kaga.example")
STATUS_TTL = timedelta(minutes=5)
#: Open data: each release spends DEMO_EPSILON of the month's DEMO_BUDGET; k is never below 10.
DEMO_EPSILON = 0.5
DEMO_BUDGET = 1.0
SHOP_NAME = "Kaga Onsen Shop"
SHOP_PURPOSE = "Selling sake requires age 20+; local-resident discount needs your city"
SHOP_PURPOSE_ID = "age_and_discount"
SHOP_QUERY: dict[str, Any] = {
    "credentials": [
        {
            "id": "resident",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCTS.resident_identity]},
            "claims": [{"path": ["age_equal_or_over", "20"]}, {"path": ["address", "locality"]}],
        }
    ]
}


@dataclass
class Narrator:
    """Prints each step in plain words (or collects machine-readable events for ``--json``)."""

    json_mode: bool = False
    write: Callable[[str], None] = print
    total_steps: int = 10
    events: list[dict[str, Any]] = field(default_factory=list)
    _step: int = 0
    _started: float = field(default_factory=time.perf_counter)

    def step(self, title: str) -> None:
        self._step += 1
        self.events.append({"event": "step", "step": self._step, "title": title})
        if not self.json_mode:
            bar = "#" * self._step + "." * (self.total_steps - self._step)
            self.write(f"\n[{bar}] {self._step}/{self.total_steps}  {title}")

    def say(self, text: str, **facts: Any) -> None:
        self.events.append({"event": "info", "step": self._step, "text": text, **facts})
        if not self.json_mode:
            self.write(f"    {text}")

    def outcome(self, name: str, ok: bool, text: str, **facts: Any) -> None:
        """Record a checked outcome: ``ok`` is what the story expected to happen and did."""
        self.events.append({"event": "outcome", "step": self._step, "name": name, "ok": ok, "text": text, **facts})
        if not self.json_mode:
            self.write(f"    {'✔' if ok else '✘'} {text}")

    def block(self, text: str) -> None:
        if not self.json_mode:
            for line in text.splitlines():
                self.write(f"      {line}")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._started


@dataclass(frozen=True, slots=True)
class DemoResult:
    ok: bool
    events: list[dict[str, Any]]
    summary: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def _serve(routes: list[web.RouteDef], port: int) -> AsyncIterator[str]:
    """Run an aiohttp app on 127.0.0.1:port for the duration of the block."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _chain_totals(chain: Chain, first_block: int) -> tuple[int, int]:
    """Transactions and gas used by the story: the blocks after ``first_block`` (on a shared node,
    other users' transactions in those blocks count too)."""
    blocks = await chain.get_blocks(range(first_block + 1, await chain.block_number() + 1))
    return sum(b.transaction_count for b in blocks), sum(b.gas_used for b in blocks)


#: What each of the story's accounts gets on a node: its transactions cost well under this.
_FUNDING_WEI = 10**18
_ACCOUNTS = 4  # city governance, shop, voting service, ballot anchorer


async def _open_chain(stack: AsyncExitStack, rpc_url: str | None, funder: Key | None) -> tuple[Chain, list[Key], bool]:
    """The chain and the story's funded accounts: the embedded chain's dev keys, or fresh keys funded
    on the node (by ``funder``, else by the node's first unlocked dev account).

    :return: the chain, the keys, and whether the chain mines on request (a dev chain).
    """
    if rpc_url is None:
        embedded: EmbeddedChain = await stack.enter_async_context(Chain.embedded())
        return embedded, list(embedded.dev_keys[:_ACCOUNTS]), True
    chain = await stack.enter_async_context(await DevChain.connect(rpc_url, mine_to_confirm=False))
    await check_chain(chain)  # the hardfork the contracts need, before anything is sent
    dev = bool(await _try(chain.dev_accounts()))
    if funder is None and not dev:
        raise InvalidInputError(
            f"the node at {chain.endpoint} has no unlocked dev account to pay for the story: pass --key FILE, a "
            "funded secp256k1 private JWK on that chain"
        )
    keys = [Key.generate("secp256k1") for _ in range(_ACCOUNTS)]
    for key in keys:
        await chain.fund(key_address(key), _FUNDING_WEI, sender=funder)
    return chain, keys, dev


async def _try(awaitable: Any) -> Any:
    try:
        return await awaitable
    except RegistryError:
        return None


async def _until_final(outbox: ReceiptOutbox, receipt_id: str, *, now: datetime, wait: float) -> str:
    """Tick the outbox until the receipt's batch is final; on a node that makes its own blocks, wait
    ``wait`` seconds between rounds (bounded: 60 rounds)."""
    for _ in range(60):
        await outbox.drain(now=now)
        with contextlib.suppress(NotFoundError):
            batch = await outbox.batch_of(receipt_id)
            if batch.state == "final":
                return str(batch.state)
        await asyncio.sleep(wait)
    return str((await outbox.batch_of(receipt_id)).state)


async def run_story(
    narrator: Narrator, *, out_dir: Path, rpc_url: str | None = None, funder: Key | None = None
) -> DemoResult:
    """Run the story; every expected refusal is an outcome too. Returns the summary.

    :param rpc_url: run on this node instead of the embedded chain (contracts deployed afresh).
    :param funder: a funded account on that node paying for the story (default: its first unlocked
        dev account, as anvil and hardhat have).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: dict[str, Any] = {}
    all_ok = True

    def check(name: str, ok: bool, text: str, **facts: Any) -> None:
        nonlocal all_ok
        all_ok = all_ok and ok
        narrator.outcome(name, ok, text, **facts)

    async with AsyncExitStack() as stack:
        # -- 1. the city sets up ------------------------------------------------------------------
        narrator.step("The city sets up: contracts, its DID, issuer accreditation")
        chain, accounts, dev_chain = await _open_chain(stack, rpc_url, funder)
        first_block = await chain.block_number()
        governance, shop_owner = accounts[0], accounts[1]
        city = await stack.enter_async_context(await City.deploy(chain, sender=governance))
        resolver, trust, contracts = city.resolver, city.trust, city.config["contracts"]
        did_registry = contracts["EthereumDIDRegistry"]["address"]
        receipts_registry = AccessReceiptRegistry(chain, contracts["AccessReceiptRegistry"]["address"],
                                                  from_block=contracts["AccessReceiptRegistry"]["block"])
        where = "the embedded chain" if rpc_url is None else chain.endpoint
        narrator.say(f"contracts deployed on {where} (chain id {int(chain.chain_id)})",
                     did_registry=did_registry, trust_registry=trust.address,
                     receipt_registry=receipts_registry.address)
        city_did, city_key = await city.publish_key(governance)
        resolution = await resolver.resolve(city_did)
        document = resolution.to_json()["didDocument"]
        narrator.say(f"city DID: {city_did}", did=city_did)
        narrator.say("its DID document, resolved from the chain:")
        narrator.block(json.dumps(document, indent=2))
        narrator.events.append({"event": "did_document", "did": city_did, "document": document})
        start = datetime.fromtimestamp((await chain.get_block("latest")).timestamp, UTC)
        await trust.accredit(city_did, VCTS.resident_identity, valid_from=start - timedelta(days=1), sender=governance)
        check("city_accredited", True, "the city is accredited on chain to issue ResidentIdentityCredential")
        shop_did, shop_key = await city.publish_key(shop_owner)
        narrator.say(f"the shop has its own DID: {shop_did}", shop_did=shop_did)
        shop_registration = RelyingPartyRegistration(
            issuer=city_did, service_did=shop_did, registration_id=f"reg-{secrets.token_hex(6)}", name=SHOP_NAME,
            purposes=(Purpose(SHOP_PURPOSE_ID, SHOP_PURPOSE),),
            claim_sets=(ClaimSet("age", VCTS.resident_identity, (("age_equal_or_over", "20"),)),
                        ClaimSet("locality", VCTS.resident_identity, (("address", "locality"),))),
            retention_days=30, receipt_endpoint="https://shop.kaga.example/receipts",
            privacy_policy="https://shop.kaga.example/privacy", jurisdiction="JP-17",
            issued_at=start, expires_at=start + timedelta(days=365),
        )
        shop_registration_token = issue_registration(city_key, shop_registration)
        narrator.say(f"the city registers the shop: it may ask {[c.id for c in shop_registration.claim_sets]} "
                     f"and keeps data {shop_registration.retention_days} days", registration=shop_registration_token)

        # Status lists: served over HTTP by the city, digests anchored on chain.
        status_port = _free_port()
        status_base = await stack.enter_async_context(_serve(status_list_routes(status_store := StatusListStore()),
                                                               status_port))
        status_list = StatusListIssuer(f"{status_base}/status/1", size=1 << 17)

        anchored_versions: list[int] = []

        async def publish_status(at: datetime) -> None:
            token = status_list.publish(city_key, now=at, ttl=STATUS_TTL, iss=city_did)
            status_store.publish("/status/1", token, max_age=int(STATUS_TTL.total_seconds()))
            # Anchor only a new version: the registry refuses a version that does not increase.
            if not anchored_versions or anchored_versions[-1] != status_list.version:
                await trust.anchor_status_digests(
                    [StatusDigest(status_list.uri, status_list.digest, status_list.version + 1)], sender=governance
                )
                anchored_versions.append(status_list.version)

        # -- 2. KYC and issuance -------------------------------------------------------------------
        narrator.step("A resident passes KYC against the city's SOAP registry and gets a credential (OpenID4VCI)")
        registry_server = LocalResidentRegistry()
        await registry_server.start()
        stack.push_async_callback(registry_server.stop)
        soap = ResidentRegistryClient(registry_server.url, config=RegistryClientConfig(timeout=5.0, jitter=False))
        stack.push_async_callback(soap.aclose)
        now = start
        device = Key.generate("P-256")  # the phone's secure-enclave key; only its public half leaves the phone
        issuer_port = _free_port()
        issuer_url = f"http://127.0.0.1:{issuer_port}/issuer"
        paths = disclosable_paths(RESIDENT_IDENTITY_CREDENTIAL)

        def issue(claims: Any, holder_key: Key) -> str:
            return issue_sd_jwt_vc(
                claims, issuer=city_did, signer=city_key, vct=VCTS.resident_identity, disclosable=paths,
                holder_key=holder_key, status=status_list.allocate(), now=now, expires_at=now + timedelta(days=365),
            )

        oid4vci = CredentialIssuer(
            credential_issuer=issuer_url,
            configurations=[CredentialConfiguration(id="ResidentIdentityCredential", vct=VCTS.resident_identity)],
            issue=issue, store=InMemoryStateStore(), display_name="Kaga City",
        )
        await stack.enter_async_context(_serve(issuer_routes(oid4vci, clock=lambda: now), issuer_port))
        offers: list[tuple[str, str | None]] = []

        async def make_offer(claims: Any, *, holder_key: Key, now: datetime) -> str:
            offer, pin = await oid4vci.create_offer("ResidentIdentityCredential", claims, now=now)
            offers.append((await oid4vci.publish_offer(offer, now=now), pin))
            return offers[-1][0]

        kyc = KycPipeline(registry=soap, issue=make_offer)
        rec = next(e.record for e in SEED_RESIDENTS if e.status == "active")
        address_line = f"{rec.address.postal_code} {rec.address.prefecture}{rec.address.city}{rec.address.street}"
        typo = KycApplication(family_name=rec.family_name, given_name=rec.given_name,
                              birthdate=rec.birthdate.replace(day=1 if rec.birthdate.day != 1 else 2),
                              address=address_line, device_key=device.public_key())
        outcome = await kyc.run(typo, now=now)
        check("kyc_partial_refused", isinstance(outcome, PartialMatch),
              "an application with a wrong birth date is a partial match: nothing is issued",
              outcome=outcome.kind)
        application = KycApplication(family_name=rec.family_name, given_name=rec.given_name,
                                     birthdate=rec.birthdate, address=address_line, device_key=device.public_key())
        outcome = await kyc.run(application, now=now)
        check("kyc_verified", isinstance(outcome, Verified), "the registry confirms the resident (SOAP over HTTP)",
              outcome=outcome.kind)
        offer_uri, pin = offers[-1]
        narrator.say("the city shows a credential-offer QR code; the PIN goes to the resident by another channel")
        session = await stack.enter_async_context(aiohttp.ClientSession())
        reference = parse_credential_offer_uri(offer_uri)
        offer = parse_credential_offer((await send(session, HttpRequest("GET", str(reference)))).json_object(
            what="credential offer")) if isinstance(reference, str) else reference
        issued = await run_flow(receive_credential(offer, tx_code=pin, signers=[device], now=lambda: now), session)
        credential = issued.credentials[0]
        await publish_status(now)
        check("credential_received", peek(credential).unverified_claims["cnf"]["jwk"] == device.public_jwk(),
              "the wallet holds an SD-JWT VC bound to the device key")
        envelope = {"iss", "iat", "exp", "nbf", "vct", "cnf", "status", "sub"}  # JWT and SD-JWT VC claims
        seen["city"] = sorted(k for k in peek(credential).unverified_claims if k not in envelope and k[0] != "_")

        # -- 3. the shop asks, the resident consents ---------------------------------------------------
        narrator.step("A shop asks for 'age over 20 and city' (OpenID4VP + DCQL); the resident consents")
        # Signature, key binding, accredited for this type when issued and still now, then status.
        service = await city.service(did=shop_did, key=shop_key, allow_loopback_http=True)
        shop_port = _free_port()
        shop_base = f"http://127.0.0.1:{shop_port}"
        results: list[PresentationResult] = []

        async def on_result(result: PresentationResult) -> dict[str, Any]:
            results.append(result)
            return {"redirect_uri": f"{shop_base}/thanks"}

        shop = service.verifier(base_url=shop_base, name=SHOP_NAME, registration=shop_registration_token,
                                clock=lambda: now)
        await stack.enter_async_context(_serve(verifier_routes(shop, clock=lambda: now, on_result=on_result),
                                               shop_port))

        registered: list[RelyingPartyRegistration] = []  # what the wallet checked, for its consent screen

        async def wallet_answers(deep_link: str) -> tuple[Any, str, str | None]:
            """The phone: fetch and verify the request, match, show consent, present, post."""
            ref = parse_authorization_request_uri(deep_link)
            jwt = (await send(session, request_object_request(ref))).body.decode()
            request = await load_request_object(jwt, resolver=resolver, expected_client_id=ref.client_id, now=now)
            # Before the resident sees anything: is the service registered with the city for this request?
            registered.append(await check_registered_request(request, city_did=city_did, resolver=resolver, now=now))
            candidate = CandidateCredential(ref="kyc", format="dc+sd-jwt", vct=peek(credential).unverified_vct,
                                            claims=peek(credential).unverified_claims)
            consent = build_consent(request, match_dcql(request.dcql_query, [candidate]))
            (chosen,) = consent.credentials
            vp = present(credential, disclose=chosen.claims, holder_signer=device, audience=request.client_id,
                         nonce=request.nonce, now=now)
            answer = await send(session, build_authorization_response(request, {chosen.query_id: vp}))
            error = None if answer.status == 200 else str(answer.json_object(what="error").get("error"))
            return consent, vp, error

        created = await shop.create_request(SHOP_QUERY, purpose=SHOP_PURPOSE_ID, now=now)
        narrator.say(f"the shop shows a QR code: {created.deep_link[:72]}…")
        consent_screen, vp, _ = await wallet_answers(created.deep_link)
        shown = registered[-1]
        purpose_shown = shown.purpose(consent_screen.purpose or "")
        narrator.say(f"the wallet checked the shop's registration and shows: '{shown.name}' asks for "
                     f"{[list(c) for c in consent_screen.credentials[0].claims]} — purpose: "
                     f"{purpose_shown.description if purpose_shown else consent_screen.purpose}; "
                     f"kept {shown.retention_days} days")
        check("shop_verified", len(results) == 1, "the shop verified signature, accreditation, status and key binding")
        disclosed = results[0].claims() if results else {}
        check("exact_disclosure", disclosed == {"age_equal_or_over": {"20": True},
                                                "address": {"locality": rec.address.city}},
              f"the shop learned exactly: {disclosed}", disclosed=disclosed)
        seen["shop"] = disclosed

        # -- 4. the access receipt ---------------------------------------------------------------------
        narrator.step("The shop returns a signed access receipt; the wallet server anchors it on chain")
        store = await SqliteReceiptStore.open(str(out_dir / "receipts.db"))
        stack.push_async_callback(store.close)
        # Two confirmations: a dev chain mines the second block on request, another node makes it.
        anchoring = AccessReceiptRegistry(chain, receipts_registry.address, sender=governance,
                                          from_block=receipts_registry.from_block, mine_to_confirm=dev_chain)
        outbox = ReceiptOutbox(store, anchoring, batch_size=16, max_age=timedelta(minutes=1), confirmations=2)
        resident_secret = secrets.token_bytes(32)  # kept by the wallet; pseudonyms are per service
        pseudonym = resident_pseudonym(resident_secret, shop_did)
        consent = ConsentRecord.give(
            record_id=f"consent-{secrets.token_hex(8)}", resident_pseudonym=pseudonym,
            registration=shop_registration, purposes=(SHOP_PURPOSE_ID,),
            claims_requested=("age_equal_or_over.20", "address.locality"),
            claims_disclosed=("age_equal_or_over.20", "address.locality"),
            presentation_hash=presentation_hash(vp), now=now, expires_at=now + timedelta(days=30),
        )
        await store.put_consent(consent)
        receipt_token = issue_access_receipt(shop_key, consent=consent, receipt_id=f"rcpt-{secrets.token_hex(8)}",
                                             claims=consent.claims_disclosed, purpose=SHOP_PURPOSE_ID, now=now)
        stored = await outbox.accept(receipt_token, service_key=await resolver.resolve_key(shop_did, shop_key.kid),
                                     now=now)
        check("receipt_accepted", True, "the wallet verified the receipt against the consent and stored it")
        now += timedelta(minutes=2)
        state = await _until_final(outbox, stored.receipt_id, now=now, wait=0.0 if dev_chain else 2.0)
        check("receipt_anchored", state == "final", f"receipt anchored in a Merkle batch (state {state})",
              batch_state=state)

        # -- 5. the resident reads their history -------------------------------------------------------
        narrator.step("The resident lists their access history and checks a proof against the chain")
        view = ResidentView(store, receipts_registry)
        history = await view.list([pseudonym])
        for entry in history:
            r = entry.receipt
            narrator.say(f"{r.accessed_at:%Y-%m-%d %H:%M} {SHOP_NAME} read {list(r.claims_accessed)} "
                         f"for '{r.purpose}' — {entry.state}")
        entry = await view.get(stored.receipt_id, pseudonyms=[pseudonym])
        root = await receipts_registry.root_of(entry.proof.batch_id) if entry.proof else None
        proved = entry.proof is not None and root is not None
        if proved and entry.proof is not None and root is not None:
            verify_inclusion(entry.leaf, entry.proof, root)
        check("inclusion_proof", proved, "the inclusion proof leads to the root stored on chain")

        # -- 6. single sign-on -----------------------------------------------------------------------------
        narrator.step("Log in with the city wallet: a library's OpenID Connect client, the wallet presents")
        op_service = await city.service(did=city_did, key=city_key, allow_loopback_http=True)

        async def op_verify(presentation: str, *, audience: str, nonce: str) -> Any:
            return await op_service.verify(presentation, audience=audience, nonce=nonce, now=now)

        seen["library"] = await run_sso_login(SsoContext(
            city_did=city_did, city_key=city_key, library_did="did:web:library.kaga.example",
            vct=VCTS.resident_identity, credential=credential, status_list=status_list, verify=op_verify,
            resolver=resolver, serve=_serve, free_port=_free_port, wallet_answers=wallet_answers,
            expected={"given_name": rec.given_name, "address": {"locality": rec.address.city}},
        ), stack, now=now, check=check, say=narrator.say)

        # -- 6. revocation -------------------------------------------------------------------------------
        narrator.step("The city revokes the credential; the shop's next check fails")
        status_list.revoke(peek(credential).unverified_claims["status"]["status_list"]["idx"])
        now += timedelta(seconds=30)
        await publish_status(now)
        narrator.say("the city publishes the new status list and anchors its digest on chain")
        again = await shop.create_request(SHOP_QUERY, purpose=SHOP_PURPOSE_ID, now=now)
        _, _, error = await wallet_answers(again.deep_link)
        refused = len(results) == 1 and error == CredentialRevokedError.code
        check("revoked_refused", refused,
              "the shop's next check refuses with credential_revoked: the anchored digest changed, so it "
              "re-fetched the list at once instead of waiting for its cache to expire",
              error=error)

        # -- 7. an election ------------------------------------------------------------------------------
        narrator.step("An election: eligibility, blind-signed ballot tokens, one ballot each, anchored and tallied")
        ctx = CityContext(
            chain=chain, resolver=resolver, city_did=city_did, city_key=city_key, vct=VCTS.voting_eligibility,
            status_list=status_list, publish_status=publish_status, registry=soap, session=session,
            anchor_sender=accounts[3], status=service.status,
            serve=_serve, free_port=_free_port,
        )
        await trust.accredit(city_did, VCTS.voting_eligibility, valid_from=start - timedelta(days=1),
                             sender=governance)
        seen["voting_service"] = ("ballots with blind-signed tokens (serial, signature) — never who voted; the city "
                                  "signed the tokens without seeing them")
        await run_election(ctx, stack, now=now, check=check, say=narrator.say)

        # -- 7. open data --------------------------------------------------------------------------------
        narrator.step("Open data: differentially private access statistics (OpenDP)")
        receipts = [e.receipt for e in await view.list([pseudonym])]
        period = f"{receipts[0].accessed_at:%Y-%m}"
        ledger = LedgerFile(out_dir / "privacy_ledger.json", budget_per_period=DEMO_BUDGET)
        params = PrivacyParameters(epsilon=DEMO_EPSILON, k_threshold=MIN_K_THRESHOLD)
        stats = access_statistics(
            receipts, domain=CellDomain.from_registrations([shop_registration], period=period), parameters=params,
            ledger=ledger, release_id=f"access-{period}-{secrets.token_hex(4)}", now=now,
        )
        (out_dir / "access_statistics.csv").write_text(stats.to_csv())
        (out_dir / "access_statistics.json").write_text(stats.to_json_text())
        published = sum(1 for _, n in stats.cells if n is not None)
        narrator.say(f"epsilon = {params.epsilon} of this month's budget {DEMO_BUDGET} (ledger: "
                     f"{ledger.path.name}), k = {params.k_threshold}: {published} of {len(stats.cells)} cells "
                     "published, the rest suppressed", epsilon=params.epsilon, k_threshold=params.k_threshold,
                     cells=len(stats.cells), published=published)
        check("open_data", True, f"wrote {out_dir / 'access_statistics.csv'} and .json")

        # -- 8. summary ------------------------------------------------------------------------------------
        narrator.step("Summary")
        txs, gas = await _chain_totals(chain, first_block)
        seen_by: dict[str, Any] = {
            "city": "the claims it issued: " + ", ".join(seen.get("city", [])),
            "shop": seen.get("shop"),
            "voting_service": seen.get("voting_service"),
            "chain": "contract addresses, DID keys, accreditation, status-list digests, Merkle roots; "
                     "no personal data",
        }
        summary: dict[str, Any] = {
            "transactions": txs,
            "gas_used": gas,
            "receipts_anchored": sum(1 for e in await view.list([pseudonym]) if e.state == "final"),
            "seen_by": seen_by,
            "seconds": round(narrator.elapsed, 1),
        }
        narrator.say(f"{txs} transactions, {gas:,} gas; {summary['receipts_anchored']} receipt(s) anchored; "
                     f"{summary['seconds']} s", **summary)
        for party, what in seen_by.items():
            narrator.say(f"{party.replace('_', ' ')} saw: {what}")
        return DemoResult(ok=all_ok, events=narrator.events, summary=summary)

