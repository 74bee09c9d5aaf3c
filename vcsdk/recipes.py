"""The front door: a :class:`City` (one network's chain, DID resolver and registries, wired) and a
:class:`Service` (a verifier of presentations that signs access receipts), re-exported as
``vcsdk.City`` and ``vcsdk.Service``.

A third-party service needs five things that must agree with each other: a did:ethr resolver on the
city's network, a status-list checker that trusts only digests the city anchored, the city's
accreditation of the issuer, a verifier that checks the presentation with all three, and an access
receipt for what it read. These recipes wire them once::

    async with await City.open(load_network_config("city.json")) as city:
        service = await city.service(did=did, key=key, wallet_did=city_did)  # consent records signed by the city
        verifier = service.verifier(base_url="https://shop.example", name="Kaga Onsen Shop")
        app.add_routes(service.routes(verifier, purpose="age-check"))  # + /receipts/{id}, /withdrawals

Everything here is made of public parts (:mod:`vcsdk.ethr`, :mod:`vcsdk.status`,
:mod:`vcsdk.trust`, :mod:`vcsdk.oid4vc`, :mod:`vcsdk.receipts`); a service with other needs builds
from those directly.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from aiohttp import web

from vcsdk.credentials import (
    DEFAULT_VERIFICATION_POLICY,
    NonceStore,
    VerificationPolicy,
    VerifiedPresentation,
    verify_presentation,
)
from vcsdk.did import DidResolutionResult, EthrNetwork, key_attribute, key_from_verification_method
from vcsdk.encoding import parse_json_object
from vcsdk.errors import InvalidInputError, NotFoundError, VcsdkError
from vcsdk.ethr import EthrRegistry, Resolver
from vcsdk.keys import Key
from vcsdk.oid4vc import InMemoryStateStore, PresentationResult, StateStore, Verifier, error_response, verifier_routes
from vcsdk.receipts import (
    CONSENT_HEADER,
    ConsentRecord,
    ConsentStore,
    KeptReceiptStore,
    ReceiptDesk,
    issue_access_receipt,
    presentation_hash,
    verify_consent_record_resolved,
)
from vcsdk.registry import CONTRACTS, Chain, key_address, load_network_config
from vcsdk.status import HttpStatusListFetcher, StatusListChecker, StatusListSource
from vcsdk.trust import AccreditationPolicy, TrustRegistry

__all__ = ["City", "Service"]

_NO_WALLET_DID = ("this service cannot verify consent records: pass wallet_did (the city's DID, whose wallet "
                  "server signs them), or unsigned_consent=True in development")

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class City:
    """One city's network, wired: the chain, its did:ethr resolver, the DID and trust registries.

    Open it with :meth:`open` (a deployed network, from the config ``vcsdk deploy`` wrote) or
    :meth:`deploy` (a new one, on a development chain). Close it (``async with``) to close the
    resolver and, if :meth:`open` connected it, the chain.

    :ivar config: the network config: ``chain_id``, ``rpc_url`` and each contract's ``address``.
    """

    chain: Chain
    network: EthrNetwork
    resolver: Resolver
    ethr: EthrRegistry
    trust: TrustRegistry
    config: dict[str, Any]
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack, repr=False)

    @classmethod
    async def open(
        cls,
        config: Mapping[str, Any] | str | Path,
        *,
        chain: Chain | None = None,
        cache_ttl: timedelta = timedelta(seconds=1),
    ) -> City:
        """The city of a deployed network.

        :param config: the network config, or the path of its file
            (:func:`~vcsdk.registry.load_network_config` reads it).
        :param chain: a chain to use; by default one is connected to the config's ``rpc_url`` and
            closed with the city.
        :param cache_ttl: how long resolved DID documents are reused.
        :raises InvalidInputError: if the config lacks the chain id, the RPC URL or a contract.
        :raises ChainIdMismatchError: if the node serves another chain than the config's.
        """
        loaded = load_network_config(config) if isinstance(config, str | Path) else dict(config)
        try:
            addresses = {name: str(loaded["contracts"][name]["address"]) for name in CONTRACTS}
            chain_id, rpc_url = int(loaded["chain_id"]), str(loaded.get("rpc_url", ""))
        except (KeyError, TypeError, ValueError):
            raise InvalidInputError("not a network config: read it with vcsdk.registry.load_network_config") from None
        stack = AsyncExitStack()
        try:
            if chain is None:
                chain = await stack.enter_async_context(await Chain.connect(rpc_url, chain_id=chain_id))
            return await cls._wire(chain, addresses, loaded, cache_ttl=cache_ttl, stack=stack)
        except BaseException:
            await stack.aclose()
            raise

    @classmethod
    async def deploy(cls, chain: Chain, *, sender: Key, cache_ttl: timedelta = timedelta(0)) -> City:
        """Deploy the city's three registries on ``chain`` with ``sender`` (governance) and open it.

        For development chains and tests; a production network is deployed once with ``vcsdk deploy``
        and opened with :meth:`open`.

        :raises TransactionRevertedError: if a deployment reverts (e.g. the account has no funds).
        """
        contracts: dict[str, dict[str, Any]] = {}
        for name in CONTRACTS:
            contracts[name] = {"address": await chain.deploy(name, sender=sender), "block": await chain.block_number()}
        addresses = {name: str(entry["address"]) for name, entry in contracts.items()}
        config: dict[str, Any] = {"chain_id": int(chain.chain_id), "deployer": key_address(sender),
                                  "contracts": contracts}
        return await cls._wire(chain, addresses, config, cache_ttl=cache_ttl, stack=AsyncExitStack())

    @classmethod
    async def _wire(
        cls, chain: Chain, addresses: Mapping[str, str], config: dict[str, Any], *, cache_ttl: timedelta,
        stack: AsyncExitStack,
    ) -> City:
        network = EthrNetwork(chain_id=int(chain.chain_id), registry=addresses["EthereumDIDRegistry"], chain=chain)
        resolver = Resolver([network], cache_ttl=cache_ttl)
        stack.push_async_callback(resolver.close)
        ethr = await EthrRegistry.bind(chain, network)
        trust = TrustRegistry(chain, addresses["TrustedIssuerRegistry"])
        return cls(chain, network, resolver, ethr, trust, config, stack)

    async def close(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def did_of(self, owner: Key) -> str:
        """The did:ethr on this network of the Ethereum account ``owner``."""
        return f"did:ethr:{self.network.hex_chain_id}:{key_address(owner)}"

    async def now(self) -> datetime:
        """The time of the chain's latest block (what the registries compare with)."""
        return datetime.fromtimestamp((await self.chain.get_block("latest")).timestamp, UTC)

    async def publish_key(self, owner: Key, key: Key | None = None) -> tuple[str, Key]:
        """Publish ``key`` (a fresh P-256 key by default) in ``owner``'s did:ethr document.

        One transaction, paid by ``owner``; none if the document already holds ``key``.

        :return: the DID and the private key with ``kid`` set to the DID URL the document gives it.
        """
        signing = key or Key.generate("P-256")
        did = self.did_of(owner)
        kid = _kid_of(await self.resolver.resolve(did), signing)
        if kid is None:
            await self.ethr.set_attribute(key_address(owner), *key_attribute(signing), sender=owner)
            self.resolver.invalidate(did)
            kid = _kid_of(await self.resolver.resolve(did), signing)
        if kid is None:  # pragma: no cover - the registry just accepted it
            raise NotFoundError("the published key does not appear in the DID document")
        return did, signing.with_kid(kid)

    def status_checker(self, source: StatusListSource) -> StatusListChecker:
        """A status-list checker on this city's network: lists from ``source``, signed by their
        issuer's DID key, compared with the digests the city anchored (when it anchored one).

        What :meth:`service` checks status with; for a party that checks status without verifying
        presentations (a ballot-token issuer, a wallet showing whether a credential still holds).
        """
        return _anchored_status(self.resolver, self.trust, source)

    async def service(
        self,
        *,
        did: str,
        key: Key,
        status_source: StatusListSource | None = None,
        policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
        wallet_did: str | None = None,
        unsigned_consent: bool = False,
        receipt_store: KeptReceiptStore | None = None,
        consent_store: ConsentStore | None = None,
        allow_loopback_http: bool = False,
    ) -> Service:
        """A :class:`Service` on this city's network, checking status against the digests it anchored.

        :param did: the service's DID; ``key`` signs its requests and receipts.
        :param status_source: where status lists come from; by default an
            :class:`~vcsdk.status.HttpStatusListFetcher`, closed with the city.
        :param wallet_did: the DID whose key signs the consent records wallets send (the city's DID:
            its wallet server signs them); the receipt and withdrawal endpoints refuse records it
            did not sign.
        :param unsigned_consent: without ``wallet_did``, accept a consent record as plain JSON
            (development only: the service then holds no evidence). Without either, :meth:`Service.routes`
            refuses to serve.
        :param receipt_store: where signed access receipts wait for the wallet's confirmation
            (in memory by default; see :class:`~vcsdk.receipts.ReceiptDesk`).
        :param consent_store: where the consents received are kept (in memory by default).
        :param allow_loopback_http: let the default fetcher read ``http://127.0.0.1`` (development).
        """
        if status_source is None:
            fetcher = HttpStatusListFetcher(allow_loopback_http=allow_loopback_http)
            status_source = await self._stack.enter_async_context(fetcher)
        return Service.of(did=did, key=key, resolver=self.resolver, trust=self.trust, status_source=status_source,
                          policy=policy, wallet_did=wallet_did, unsigned_consent=unsigned_consent,
                          receipt_store=receipt_store, consent_store=consent_store)


@dataclass
class Service:
    """A third-party service: verifies presentations and signs access receipts for what it read.

    :meth:`verify` runs every check: the issuer's signature (key from its DID), key binding to the
    service's nonce and audience, expiry, the status list (against the anchored digest) and the
    issuer's accreditation for the credential type, at issuance and now.

    Consent records are verified against :attr:`wallet_did` (the city's DID) and kept, with the
    signed receipts, by :attr:`desk` (a :class:`~vcsdk.receipts.ReceiptDesk`): one access receipt per
    presentation, handed out again until the wallet confirms it, and one withdrawal receipt per
    withdrawn consent. ``unsigned_consent`` accepts plain JSON records instead (development only).
    """

    did: str
    key: Key
    resolver: Resolver
    status: StatusListChecker
    accreditation: AccreditationPolicy
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY
    wallet_did: str | None = None
    results: dict[str, PresentationResult] = field(default_factory=dict)
    unsigned_consent: bool = False
    receipt_store: KeptReceiptStore | None = None
    consent_store: ConsentStore | None = None
    desk: ReceiptDesk = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.desk = ReceiptDesk(self.key, store=self.receipt_store, consents=self.consent_store)

    @classmethod
    def of(
        cls,
        *,
        did: str,
        key: Key,
        resolver: Resolver,
        trust: TrustRegistry,
        status_source: StatusListSource,
        policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
        wallet_did: str | None = None,
        unsigned_consent: bool = False,
        receipt_store: KeptReceiptStore | None = None,
        consent_store: ConsentStore | None = None,
    ) -> Service:
        """A service from its parts: status lists from ``status_source`` checked against the digests
        ``trust`` anchored, and accreditation from ``trust`` (:meth:`City.service` calls this and
        describes the rest)."""
        status = _anchored_status(resolver, trust, status_source)
        return cls(did=did, key=key, resolver=resolver, status=status, accreditation=AccreditationPolicy(trust),
                   policy=policy, wallet_did=wallet_did, unsigned_consent=unsigned_consent,
                   receipt_store=receipt_store, consent_store=consent_store)

    async def verify(self, presentation: str, *, audience: str, nonce: str, now: datetime | None = None,
                     nonces: NonceStore | None = None) -> VerifiedPresentation:
        """Verify an SD-JWT VC presentation with every check (see the class).

        That a nonce is answered once is the :meth:`verifier`'s (it consumes each request once); a
        caller using ``verify`` on its own passes the ``nonces`` store that issued ``nonce``, which
        consumes it (a replay is ``replayed_nonce``).

        :raises VcsdkError: the failed check's error (``credential_revoked``, ``nonce_mismatch``, …).
        """
        return await verify_presentation(presentation, audience=audience, nonce=nonce, policy=self.policy,
                                         resolver=self.resolver, status=self.status, nonces=nonces,
                                         accreditation=self.accreditation, now=now or _system_clock())

    def verifier(
        self,
        *,
        base_url: str,
        name: str,
        store: StateStore | None = None,
        registration: str | None = None,
        clock: Clock = _system_clock,
    ) -> Verifier:
        """An OpenID4VP :class:`~vcsdk.oid4vc.Verifier` that checks answers with :meth:`verify`.

        Request objects are served under ``<base_url>/oid4vp/request`` and answers posted to
        ``<base_url>/oid4vp/response`` (:meth:`routes` serves both).
        """

        async def verify(presentation: str, *, audience: str, nonce: str) -> VerifiedPresentation:
            return await self.verify(presentation, audience=audience, nonce=nonce, now=clock())

        base = base_url.rstrip("/")
        return Verifier(did=self.did, signer=self.key, response_uri=f"{base}/oid4vp/response",
                        request_uri_base=f"{base}/oid4vp/request", store=store or InMemoryStateStore(),
                        verify=verify, name=name, registration=registration)

    async def access_receipt(self, consent: ConsentRecord, presentation: str, *, purpose: str,
                             now: datetime | None = None) -> str:
        """Sign an access receipt for the access ``consent`` describes.

        Only for the access that happened: the consent must name this service, ``purpose``, and the
        exact presentation the service verified.

        :raises InvalidInputError: (``consent_mismatch``) if it does not.
        """
        self._check_access(consent, presentation, purpose=purpose)
        return issue_access_receipt(self.key, consent=consent, receipt_id=f"rcpt-{secrets.token_hex(8)}",
                                    claims=consent.claims_disclosed, purpose=purpose, now=now or _system_clock())

    def _check_access(self, consent: ConsentRecord, presentation: str, *, purpose: str) -> None:
        if (consent.controller.did != self.did or purpose not in consent.purposes
                or consent.presentation_hash != presentation_hash(presentation)):
            raise InvalidInputError("the consent does not describe this presentation", code="consent_mismatch")

    async def read_consent(self, body: dict[str, Any]) -> ConsentRecord:
        """The consent record a wallet posts: ``{"consent_record": <signed>}`` checked against
        :attr:`wallet_did`, or (``unsigned_consent``, development) the record's JSON.

        :raises InvalidInputError: no signed record, or neither ``wallet_did`` nor ``unsigned_consent``.
        :raises VerificationError: the record is not signed by a key of :attr:`wallet_did`.
        """
        return (await self._read_consent(body))[0]

    async def _read_consent(self, body: dict[str, Any]) -> tuple[ConsentRecord, str]:
        """The verified record and the evidence to keep (the signed token; empty when unsigned)."""
        if self.wallet_did is not None:
            token = body.get("consent_record")
            if not isinstance(token, str):
                raise InvalidInputError("send the signed consent record as consent_record")
            verified = await verify_consent_record_resolved(token, wallet_did=self.wallet_did, resolver=self.resolver)
            return verified, token
        if not self.unsigned_consent:
            raise InvalidInputError(_NO_WALLET_DID)
        return ConsentRecord.from_json(body), ""

    def routes(
        self,
        verifier: Verifier,
        *,
        purpose: str,
        clock: Clock = _system_clock,
        on_result: Callable[[PresentationResult], Awaitable[None]] | None = None,
        on_failure: Callable[[PresentationResult], Awaitable[None]] | None = None,
        withdrawal_path: str = "/withdrawals",
    ) -> list[web.RouteDef]:
        """The OpenID4VP endpoints of ``verifier``, the receipt endpoint and the withdrawal endpoint.

        - ``POST <base>/receipts/{request_id}``: the wallet's signed consent record for a verified
          presentation; the consent is kept (:meth:`~vcsdk.receipts.ReceiptDesk.hold`) and answered
          with the access receipt, signed once: a repeated post gets the same receipt.
        - ``GET`` of that URI: the same receipt again (the wallet lost the answer); ``DELETE``: the
          wallet stored it, and the service forgets it.
        - ``POST <base><withdrawal_path>`` (register ``<base>/withdrawals`` as the ``receipt_endpoint``):
          the wallet-signed withdrawal of a consent the service holds, answered with a signed
          withdrawal receipt (the same one again if delivered again).

        Each answer is kept in :attr:`results` under its request id; a verified one tells the wallet
        where to post its consent record (``receipt_uri``).

        :raises InvalidInputError: the service has no :attr:`wallet_did` to verify consent records with
            (pass the city's DID), and ``unsigned_consent`` is not set.
        """
        if self.wallet_did is None and not self.unsigned_consent:
            raise InvalidInputError(_NO_WALLET_DID)
        base = verifier.response_uri.rsplit("/oid4vp/", 1)[0]

        async def kept(result: PresentationResult) -> dict[str, Any]:
            self.results[result.request_id] = result
            if on_result is not None:
                await on_result(result)
            return {"receipt_uri": f"{base}/receipts/{result.request_id}"} if result.ok else {}

        async def failed(result: PresentationResult) -> None:
            self.results[result.request_id] = result
            if on_failure is not None:
                await on_failure(result)

        async def receipt(request: web.Request) -> web.Response:
            request_id = request.match_info["request_id"]
            try:
                body = parse_json_object(await request.read(), what="consent")
                result = self.results.get(request_id)
                if result is None or not result.ok:
                    raise NotFoundError("no verified presentation for this request")
                consent, evidence = await self._read_consent(body)
                presented = [c.presentation for found in result.credentials.values() for c in found]
                self._check_access(consent, presented[0], purpose=purpose)
                await self.desk.hold(consent, evidence=evidence)
                token = await self.desk.receipt(request_id, consent=consent, claims=consent.claims_disclosed,
                                                purpose=purpose, now=clock())
            except VcsdkError as exc:
                return error_response(exc)
            return web.json_response({"access_receipt": token})

        async def receipt_again(request: web.Request) -> web.Response:
            try:
                token = await self.desk.again(request.match_info["request_id"],
                                              consent_id=request.headers.get(CONSENT_HEADER))
            except VcsdkError as exc:
                return error_response(exc)
            return web.json_response({"access_receipt": token})

        async def receipt_confirmed(request: web.Request) -> web.Response:
            try:
                await self.desk.confirmed(request.match_info["request_id"],
                                          consent_id=request.headers.get(CONSENT_HEADER))
            except VcsdkError as exc:
                return error_response(exc)
            return web.Response(status=204)

        async def withdrawal(request: web.Request) -> web.Response:
            try:
                body = parse_json_object(await request.read(), what="withdrawal")
                delivered, evidence = await self._read_consent(body)
                token = await self.desk.withdrawal(delivered, evidence=evidence, now=clock())
            except VcsdkError as exc:
                return error_response(exc)
            return web.json_response({"withdrawal_receipt": token})

        receipts = f"{_path(base)}/receipts/{{request_id}}"
        return [*verifier_routes(verifier, clock=clock, on_result=kept, on_failure=failed),
                web.post(receipts, receipt), web.get(receipts, receipt_again), web.delete(receipts, receipt_confirmed),
                web.post(f"{_path(base)}/{withdrawal_path.strip('/')}", withdrawal)]

    @asynccontextmanager
    async def serve(
        self, verifier: Verifier, *, purpose: str, port: int, host: str = "127.0.0.1", clock: Clock = _system_clock,
        on_failure: Callable[[PresentationResult], Awaitable[None]] | None = None,
        withdrawal_path: str = "/withdrawals",
    ) -> AsyncIterator[str]:
        """Serve :meth:`routes` on ``host:port`` until the block ends (behind a TLS proxy in production).

        :return: the base URL it listens on.
        """
        app = web.Application()
        app.add_routes(self.routes(verifier, purpose=purpose, clock=clock, on_failure=on_failure,
                                   withdrawal_path=withdrawal_path))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            yield f"http://{host}:{port}"
        finally:
            await runner.cleanup()


def _anchored_status(resolver: Resolver, trust: TrustRegistry, source: StatusListSource) -> StatusListChecker:
    """Status lists from ``source``, checked against the digests ``trust`` anchored."""
    return StatusListChecker(resolver=resolver, source=source, digests=trust)


def _kid_of(result: DidResolutionResult, signing: Key) -> str | None:
    """The id of the verification method holding ``signing``'s public key, if the document has one."""
    wanted = signing.public_jwk()
    for method in result.document_json().get("verificationMethod", []) or []:
        try:
            if key_from_verification_method(method).public_jwk() == wanted:
                return str(method["id"])
        except VcsdkError:
            continue
    return None


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")
