"""Consents and access receipts for residents: pseudonyms, the outbox, anchoring, proofs, withdrawals,
the resident's privacy choices and the violations of services that broke the receipt rule.

Consent records and receipts live in the receipt outbox (:mod:`vcsdk.outbox`) on the
wallet's own database; ``resident_consents`` says which consents are whose. A resident appears in
them only as a per-service pseudonym: HMAC-SHA256 of the service's DID under a 32-byte secret the
server keeps sealed under the resident's data key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from vcsdk.credentials import IssuerKeyResolver
from vcsdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ProofInvalidError,
    RegistryError,
    RegistryNotConfiguredError,
    VcsdkError,
)
from vcsdk.keys import Signer
from vcsdk.oid4vc import HttpRequest
from vcsdk.outbox import (
    AnchorChain,
    AnchorLocation,
    Batch,
    ReceiptEntry,
    ReceiptOutbox,
    ReceiptStore,
    ResidentView,
    TickReport,
)
from vcsdk.receipts import (
    AccessReceipt,
    ConsentRecord,
    Pseudonym,
    peek_access_receipt,
    resident_pseudonym,
    sign_consent_record,
    verify_access_receipt_resolved,
    verify_inclusion,
    verify_withdrawal_receipt_resolved,
)
from wallet_server.services._common import Clock, new_id, require_id
from wallet_server.services._cursor import decode_cursor, encode_cursor
from wallet_server.services.auth import Principal
from wallet_server.services.lease import JobHolder
from wallet_server.services.wallet import OutgoingHttp, ResidentVault
from wallet_server.storage import (
    CopyPolicy,
    PrivacyRow,
    ReceiptFetchRow,
    ResidentConsentRow,
    ViolationKind,
    ViolationRow,
    ViolationSummary,
    WalletDataStore,
)

__all__ = [
    "AnchoringOverview",
    "ChainPort",
    "CityChainPort",
    "ConsentView",
    "ConsentsPage",
    "PrivacySettings",
    "ReceiptService",
    "ReceiptView",
    "ReceiptsPage",
    "ViolationsPage",
]

if TYPE_CHECKING:
    from wallet_server.services.city import CitySetup

log = logging.getLogger("wallet_server.receipts")
MAX_PAGE = 100
#: Receipt ids are the services' own (vcsdk.receipts allows 1-128 of these characters).
_RECEIPT_ID = re.compile(r"[A-Za-z0-9._:~-]{1,128}")
MAX_PAGES = 50


class ChainPort(Protocol):
    """What the resident side needs from the chain, opened on first use."""

    async def resolver(self) -> IssuerKeyResolver:
        """Resolves services' DIDs (request objects, access receipts)."""
        ...

    async def receipt_registry(self) -> AnchorChain | None:
        """The access-receipt registry receipts are anchored in; ``None`` if none is configured."""
        ...

    async def registration_authority(self) -> str:
        """The DID whose relying-party registrations the wallet accepts (the city's)."""
        ...

    async def consent_signer(self) -> Signer:
        """Signs the consent records the wallet gives services (a key of a DID services resolve)."""
        ...


class CityChainPort:
    """The chain as the city set it up (:class:`~wallet_server.services.city.CitySetup`): its DID
    resolver, its access-receipt registry (anchored by the city's account, the registry's owner), the
    city as the authority that registers services, and the city's P-256 DID key, which signs the
    consent records its wallet gives services (``typ`` ``consent-record+jwt``, so a record can never
    pass for a credential).

    :param mine_to_confirm: mine the blocks batches need for their confirmations (dev nodes only).
    """

    def __init__(self, city: CitySetup, *, mine_to_confirm: bool = False) -> None:
        self._city = city
        self._mine_to_confirm = mine_to_confirm
        self._registry: AnchorChain | None = None

    async def resolver(self) -> IssuerKeyResolver:
        return (await self._city.get()).resolver

    async def registration_authority(self) -> str:
        return (await self._city.get()).did

    async def consent_signer(self) -> Signer:
        return (await self._city.get()).signing_key

    async def receipt_registry(self) -> AnchorChain | None:
        if self._registry is None:
            from vcsdk.outbox import AccessReceiptRegistry

            city = await self._city.get()
            self._registry = AccessReceiptRegistry(
                city.chain,
                city.receipt_registry_address,
                sender=city.owner,
                from_block=city.deployment_blocks.get("AccessReceiptRegistry", 0),
                mine_to_confirm=self._mine_to_confirm,
            )
        return self._registry


class _NoChain:
    """Stands in for the registry when none is configured: receipts stay queued, nothing is read."""

    async def send_anchor(self, batch_id: bytes, root: bytes, size: int) -> str:
        raise RegistryNotConfiguredError("no access-receipt registry is configured")

    async def find_anchor(self, batch_id: bytes) -> AnchorLocation | None:
        return None

    async def root_of(self, batch_id: bytes) -> bytes | None:
        return None

    async def block_number(self) -> int:
        return 0

    async def confirmations_of(self, block_number: int, *, wanted: int) -> int:
        return 0

    async def tx_pending(self, tx_hash: str) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class ConsentView:
    """A consent the resident gave, with where it stands.

    :ivar withdrawal: once withdrawn: ``delivered`` (the service answered with a valid withdrawal
        receipt, ``receipt_id``), or not with ``error`` (a violation was recorded; withdraw again to
        retry the delivery).
    """

    record: ConsentRecord
    presentation_id: str
    withdrawal: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    """The resident's privacy choices.

    :ivar refuse_after_violation: refuse a service (before the consent screen) once it returned no
        valid access receipt or did not answer a withdrawal — on by default.
    :ivar copy_policy: ``one_time`` (default): a fresh credential copy for every presentation;
        ``per_service``: one copy per service, shown to that service only.
    """

    refuse_after_violation: bool = True
    copy_policy: CopyPolicy = "one_time"


@dataclass(frozen=True, slots=True)
class ViolationsPage:
    items: tuple[ViolationRow, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ConsentsPage:
    items: tuple[ConsentView, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ReceiptsPage:
    items: tuple[ReceiptView, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """One access receipt with its anchoring state; ``proof_verified`` once checked against the chain."""

    entry: ReceiptEntry
    proof_verified: bool = False

    @property
    def receipt(self) -> AccessReceipt:
        return self.entry.receipt


@dataclass(frozen=True, slots=True)
class AnchoringOverview:
    """Where anchoring stands, for the city's operators: no receipt contents, only counts and batches."""

    queued: int
    open_batches: int
    recent: tuple[Batch, ...]
    batch_size: int
    max_age: timedelta
    confirmations: int


class ReceiptService:
    """Consents, receipts and the anchoring batcher.

    :param data: the resident-side tables.
    :param vault: holds each resident's pseudonym secret.
    :param receipts: the outbox store (same database as the wallet).
    :param chain: the resolver and the receipt registry.
    :param http: delivers withdrawals to services' registered endpoints.
    :param clock: returns the current UTC time.
    :param batch_size: cut a Merkle batch at this many receipts…
    :param max_age: …or when the oldest waited this long.
    :param confirmations: blocks before a batch counts as final.
    """

    def __init__(
        self,
        data: WalletDataStore,
        *,
        vault: ResidentVault,
        receipts: ReceiptStore,
        chain: ChainPort,
        http: OutgoingHttp,
        clock: Clock,
        batch_size: int = 256,
        max_age: timedelta = timedelta(minutes=5),
        confirmations: int = 12,
    ) -> None:
        self._data = data
        self._vault = vault
        self.store = receipts
        self._chain = chain
        self._http = http
        self._clock = clock
        self.batch_size = batch_size
        self.max_age = max_age
        self.confirmations = confirmations
        self._outbox: ReceiptOutbox | None = None

    async def _anchor_chain(self) -> AnchorChain:
        registry = await self._chain.receipt_registry()
        return registry if registry is not None else _NoChain()

    async def outbox(self) -> ReceiptOutbox:
        """The outbox on the configured registry (made on first use)."""
        if self._outbox is None:
            self._outbox = ReceiptOutbox(
                self.store,
                await self._anchor_chain(),
                batch_size=self.batch_size,
                max_age=self.max_age,
                confirmations=self.confirmations,
            )
        return self._outbox

    # -- pseudonyms and consents

    async def pseudonym(self, resident_id: str, service_did: str) -> Pseudonym:
        """The resident's pseudonym towards one service."""
        return resident_pseudonym(await self._vault.pseudonym_secret(resident_id), service_did)

    async def pseudonyms(self, resident_id: str) -> list[str]:
        """The resident's pseudonyms towards every service they consented to."""
        secret = await self._vault.pseudonym_secret(resident_id)
        return [resident_pseudonym(secret, did) for did in await self._data.service_dids(resident_id)]

    async def record_consent(
        self, resident_id: str, presentation_id: str, consent: ConsentRecord, *, fetch: ReceiptFetchRow | None = None
    ) -> None:
        """Keep a consent the resident gave: in the outbox (where receipts are checked against it), in
        the resident's consents and, with ``fetch``, the receipt fetch owed for it, in one transaction
        of the wallet's database: a failure on the way leaves none of them written.

        :raises StorageError: if the database fails (nothing is kept).
        """
        row = ResidentConsentRow(
            consent.record_id, resident_id, consent.controller.did, presentation_id, consent.given_at
        )
        async with self._data.transaction() as conn:
            data = self._data.joined(conn)
            await self.store.joined(conn).put_consent(consent)
            await data.add_consent(row)
            if fetch is not None:
                await data.add_receipt_fetch(fetch)

    async def list_consents(self, principal: Principal, *, limit: int = 20, cursor: str | None = None) -> ConsentsPage:
        """The resident's consents, oldest first.

        :raises InvalidInputError: bad ``limit`` or cursor.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        page = await self._data.list_consents(principal.resident_id, limit=limit, after=decode_cursor(cursor))
        items = []
        for row in page.items:
            items.append(await self._consent_view(principal.resident_id, row))
        return ConsentsPage(tuple(items), encode_cursor(page.next_after) if page.next_after else None)

    async def _consent_view(self, resident_id: str, row: ResidentConsentRow) -> ConsentView:
        record = await self.store.get_consent(row.consent_id)
        if record.state != "withdrawn":
            return ConsentView(record, row.presentation_id)
        receipt = await self._withdrawal_receipt(record)
        if receipt is not None:
            return ConsentView(record, row.presentation_id, {"delivered": True, "receipt_id": receipt.receipt_id})
        violation = await self._last_violation(resident_id, row.consent_id)
        error = violation.code if violation is not None else "not_delivered"
        return ConsentView(record, row.presentation_id, {"delivered": False, "error": error})

    async def _withdrawal_receipt(self, record: ConsentRecord) -> AccessReceipt | None:
        view = ResidentView(self.store, await self._anchor_chain())
        assert record.withdrawn_at is not None
        # Withdrawal receipts have no purpose and come after the withdrawal: a short, bounded look.
        entries = await view.list(
            [record.resident_pseudonym], service_did=record.controller.did, purpose="",
            since=record.withdrawn_at - timedelta(minutes=1), limit=MAX_PAGE,
        )
        found = [
            e.receipt for e in entries if e.receipt.kind == "withdrawal" and e.receipt.consent_id == record.record_id
        ]
        return found[0] if found else None

    async def _last_violation(self, resident_id: str, ref_id: str) -> ViolationRow | None:
        last: ViolationRow | None = None
        cursor = None
        for _ in range(MAX_PAGES):
            page = await self._data.list_violations(resident_id, limit=MAX_PAGE, after=cursor)
            last = next((v for v in reversed(page.items) if v.ref_id == ref_id), last)
            if page.next_after is None:
                break
            cursor = page.next_after
        return last

    async def get_consent(self, principal: Principal, consent_id: str) -> ConsentView:
        """:raises NotFoundError: if the resident gave no such consent."""
        row = await self._data.get_consent(principal.resident_id, require_id(consent_id, "consent"))
        return await self._consent_view(principal.resident_id, row)

    async def withdraw(self, principal: Principal, consent_id: str) -> ConsentView:
        """Withdraw a consent now and deliver the withdrawal to the service.

        From now on receipts for later accesses under it are refused. The withdrawn record, signed
        by the wallet, goes to the service's registered endpoint; the service answers with a signed
        withdrawal receipt, which is verified against the withdrawn record and anchored like an access
        receipt. A service that does not answer, or answers with an invalid receipt, gets a violation
        (and, by the resident's setting, is refused next time); withdrawing again retries delivery.

        :raises NotFoundError: no such consent.
        :raises ConflictError: already withdrawn and delivered.
        """
        row = await self._data.get_consent(principal.resident_id, require_id(consent_id, "consent"))
        current = await self.store.get_consent(row.consent_id)
        if current.state == "withdrawn":
            if await self._withdrawal_receipt(current) is not None:
                raise ConflictError("this consent is already withdrawn, and the service confirmed it")
            record = current  # not delivered before: try again
        else:
            view = ResidentView(self.store, await self._anchor_chain())
            pseudonym = await self.pseudonym(principal.resident_id, row.service_did)
            record = await view.withdraw(row.consent_id, pseudonyms=[pseudonym], now=self._clock())
        await self._deliver_withdrawal(principal.resident_id, record)
        return await self._consent_view(principal.resident_id, row)

    async def _deliver_withdrawal(self, resident_id: str, record: ConsentRecord) -> None:
        endpoint = record.receipt_endpoint
        if endpoint is None:
            return  # a record kept before services had registered endpoints: nowhere to deliver
        did, ref = record.controller.did, record.record_id
        signed = sign_consent_record(record, await self._chain.consent_signer())
        try:
            response = await self._http.send(HttpRequest.json(endpoint, {"consent_record": signed}))
            response.raise_for_error(what="withdrawal")
            token = response.json_object(what="withdrawal answer").get("withdrawal_receipt")
        except VcsdkError as exc:
            await self.record_violation(resident_id, did, "withdrawal_unanswered", exc.code, ref)
            return
        if not isinstance(token, str):
            await self.record_violation(resident_id, did, "withdrawal_unanswered", "receipt_missing", ref)
            return
        try:
            await self.accept_receipt(token, consent_id=record.record_id, resolver=await self._chain.resolver())
        except VcsdkError as exc:
            await self.record_violation(resident_id, did, "withdrawal_receipt_invalid", exc.code, ref)

    # -- the resident's privacy choices and violations

    async def privacy_settings(self, principal: Principal) -> PrivacySettings:
        """The resident's choices (the defaults until they change one)."""
        row = await self._data.get_privacy(principal.resident_id)
        if row is None:
            return PrivacySettings()
        return PrivacySettings(row.refuse_after_violation, row.copy_policy)

    async def update_privacy_settings(self, principal: Principal, changes: Any) -> PrivacySettings:
        """Change some of the resident's choices.

        :raises InvalidInputError: an unknown setting or a value of the wrong kind.
        """
        if not isinstance(changes, dict) or not set(changes) <= {"refuse_after_violation", "copy_policy"}:
            raise InvalidInputError("privacy settings are refuse_after_violation and copy_policy")
        current = await self.privacy_settings(principal)
        refuse = changes.get("refuse_after_violation", current.refuse_after_violation)
        policy = changes.get("copy_policy", current.copy_policy)
        if not isinstance(refuse, bool):
            raise InvalidInputError("refuse_after_violation is true or false")
        if policy not in ("one_time", "per_service"):
            raise InvalidInputError("copy_policy is one_time or per_service")
        await self._data.set_privacy(PrivacyRow(principal.resident_id, refuse, policy, self._clock()))
        return PrivacySettings(refuse, policy)

    async def record_violation(
        self, resident_id: str, service_did: str, kind: ViolationKind, code: str, ref_id: str
    ) -> ViolationRow:
        """Keep a broken promise of a service, for the resident's history and the city's count."""
        row = ViolationRow(new_id("vio"), resident_id, service_did, kind, code[:64], ref_id, self._clock())
        await self._data.add_violation(row)
        log.info("service violation", extra={"event": "service_violation", "code": kind})
        return row

    async def violations(self, principal: Principal, *, limit: int = 20, cursor: str | None = None) -> ViolationsPage:
        """The resident's record of services that broke a promise, oldest first.

        :raises InvalidInputError: bad ``limit`` or cursor.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        page = await self._data.list_violations(principal.resident_id, limit=limit, after=decode_cursor(cursor))
        return ViolationsPage(page.items, encode_cursor(page.next_after) if page.next_after else None)

    async def refuses(self, resident_id: str, service_did: str) -> bool:
        """Whether the wallet refuses ``service_did`` for this resident: the resident chose so (the
        default), and the service broke a promise to them before."""
        return (await self.screen(resident_id, service_did))[0]

    async def screen(self, resident_id: str, service_did: str) -> tuple[bool, PrivacySettings]:
        """:meth:`refuses` and the resident's :meth:`privacy_settings`, from one read of their choices."""
        row, violated = await self._data.privacy_and_violation(resident_id, service_did)
        settings = PrivacySettings() if row is None else PrivacySettings(row.refuse_after_violation, row.copy_policy)
        return settings.refuse_after_violation and violated, settings

    async def violation_summary(self) -> list[ViolationSummary]:
        """For the city: violations counted per service and kind (never which resident)."""
        return await self._data.violation_summary()

    # -- receipts

    async def accept_receipt(
        self, token: str, *, consent_id: str, resolver: IssuerKeyResolver, consent: ConsentRecord | None = None
    ) -> AccessReceipt:
        """Verify a receipt a service returned against the consent ``consent_id`` as stored now (a
        withdrawn one refuses an access after the withdrawal; a withdrawal receipt needs it
        withdrawn), then store it in the outbox.

        The service's key is resolved from the consent's controller DID (never a DID the token
        names), by :func:`vcsdk.receipts.verify_access_receipt_resolved`.

        :param consent: the consent ``consent_id`` as the caller just recorded it, in the request
            that shared the access the receipt is for (the app learns the consent's id only from
            that request's answer, so nothing can have withdrawn it): not read again.

        :raises KeyNotFoundError: the ``kid`` is not a key of the service's DID.
        :raises VerificationError: any check of :func:`vcsdk.receipts.verify_access_receipt`.
        :return: the stored receipt.
        """
        if consent is not None and consent.record_id != consent_id:
            raise ValueError("the consent passed is not the one named")
        current = consent if consent is not None else await self.store.get_consent(consent_id)
        now = self._clock()
        peeked = peek_access_receipt(token)  # its token carries the parse: verified without reading it again
        verify = verify_withdrawal_receipt_resolved if peeked.kind == "withdrawal" else verify_access_receipt_resolved
        receipt = await verify(peeked.token, consent=current, resolver=resolver, now=now)
        stored = await (await self.outbox()).keep(receipt, now=now)
        return stored.receipt

    async def list_receipts(
        self, principal: Principal, *, limit: int = 20, cursor: str | None = None, service_did: str | None = None
    ) -> ReceiptsPage:
        """One page of the resident's receipts, oldest access first, with anchoring state and proofs;
        a page costs the same however long the history is. Each final receipt's proof is checked
        against the root on chain now, as for one receipt (one read per batch on the page).

        ``proof_verified`` is false while a receipt is not final, and when the chain cannot confirm
        its proof at this moment (unreachable, or another root), so the list never claims more than
        :meth:`get_receipt` would.

        :raises InvalidInputError: bad ``limit`` or cursor.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        after = decode_cursor(cursor, ids=_RECEIPT_ID)
        pseudonyms = await self.pseudonyms(principal.resident_id)
        if not pseudonyms:
            return ReceiptsPage((), None)
        chain = await self._anchor_chain()
        view = ResidentView(self.store, chain)
        entries = await view.list(pseudonyms, service_did=service_did, limit=limit + 1, after=after)
        next_cursor = None
        if len(entries) > limit:
            entries = entries[:limit]
            last = entries[-1].receipt
            next_cursor = encode_cursor((last.accessed_at, last.receipt_id))
        roots: dict[bytes, bytes | None] = {}
        views = [ReceiptView(e, proof_verified=await _proof_holds(e, chain, roots)) for e in entries]
        return ReceiptsPage(tuple(views), next_cursor)

    async def get_receipt(self, principal: Principal, receipt_id: str) -> ReceiptView:
        """One receipt; a final one has its inclusion proof verified against the root on chain.

        :raises NotFoundError: no such receipt for this resident.
        :raises ProofInvalidError: the chain does not hold the root the proof leads to.
        """
        if not isinstance(receipt_id, str) or not 0 < len(receipt_id) <= 128:
            raise NotFoundError("no such receipt for this resident")
        pseudonyms = await self.pseudonyms(principal.resident_id)
        view = ResidentView(self.store, await self._anchor_chain())
        entry = await view.get(receipt_id, pseudonyms=pseudonyms)
        return ReceiptView(entry, proof_verified=entry.state == "final" and entry.proof is not None)

    # -- anchoring

    async def outbox_figures(self) -> tuple[int, int, datetime | None]:
        """Receipts waiting for a batch, batches not yet final, and when the oldest receipt not
        yet final was stored (or its batch cut, whichever is earlier known), for metrics."""
        queued = await self.store.queued_receipts(limit=1)
        batches = await self.store.open_batches()
        times = [b.created_at for b in batches[:1]] + [r.stored_at for r in queued]
        return await self.store.count_queued(), len(batches), min(times) if times else None

    async def anchoring_overview(self, *, limit: int = 20) -> AnchoringOverview:
        """Receipts waiting for a batch, batches not yet final, and the newest batches."""
        return AnchoringOverview(
            queued=await self.store.count_queued(),
            open_batches=len(await self.store.open_batches()),
            recent=tuple(await self.store.recent_batches(limit=limit)),
            batch_size=self.batch_size,
            max_age=self.max_age,
            confirmations=self.confirmations,
        )

    async def tick(self) -> TickReport:
        """One anchoring round: cut due batches, advance open ones (chain errors stay in the report)."""
        # One queued receipt is enough to know there is work (never count the whole queue).
        if not await self.store.queued_receipts(limit=1) and not await self.store.open_batches():
            return TickReport()  # nothing to anchor: do not even open the chain
        return await (await self.outbox()).tick(now=self._clock())

    async def run_batcher(self, *, interval: float, stop: asyncio.Event, lease: JobHolder | None = None) -> None:
        """Anchor on a timer until ``stop`` is set; a failing round is logged and retried next time.

        :param lease: when several instances share the database, only its holder anchors; the others
            take over when it dies (:class:`~wallet_server.services.lease.AdvisoryLock` on PostgreSQL:
            at once; :class:`~wallet_server.services.lease.Lease`: once the lease expires). An instance
            that becomes the holder between rounds anchors at once.
        """
        try:
            await self._batcher_loop(interval=interval, stop=stop, lease=lease)
        finally:
            if lease is not None:
                with contextlib.suppress(VcsdkError):
                    await lease.release()

    async def _batcher_loop(self, *, interval: float, stop: asyncio.Event, lease: JobHolder | None) -> None:
        anchoring = False  # whether the last round anchored (a change is logged)
        while not stop.is_set():
            try:
                holds = lease is None or await lease.hold()
                if lease is not None and holds and not anchoring:
                    log.info("this instance anchors receipts now", extra={"event": "anchorer_elected"})
                anchoring = holds
                if holds:
                    report = await self.tick()
                    if report.chain_error:
                        log.warning(
                            "anchoring delayed", extra={"event": "anchor_delayed", "code": report.chain_error}
                        )
            except VcsdkError as exc:
                anchoring = anchoring and lease is not None and lease.held
                log.warning("anchoring round failed", extra={"event": "anchor_failed", "code": exc.code})
            except Exception:  # a background loop must outlive any one failed round
                log.exception("anchoring round failed", extra={"event": "anchor_failed", "code": "internal_error"})
            await _pause(interval, stop, lease.changed if lease is not None else None)


async def _pause(seconds: float, stop: asyncio.Event, changed: asyncio.Event | None) -> None:
    """Wait ``seconds``, or until ``stop`` or ``changed`` (which is cleared) is set."""
    waits = [asyncio.ensure_future(stop.wait())]
    if changed is not None:
        waits.append(asyncio.ensure_future(changed.wait()))
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    if changed is not None:
        changed.clear()


async def _proof_holds(entry: ReceiptEntry, chain: AnchorChain, roots: dict[bytes, bytes | None]) -> bool:
    """Whether a final entry's inclusion proof leads to the root the chain holds now."""
    if entry.state != "final" or entry.proof is None:
        return False
    batch_id = entry.proof.batch_id
    try:
        if batch_id not in roots:
            roots[batch_id] = await chain.root_of(batch_id)
        root = roots[batch_id]
        if root is None:
            return False
        verify_inclusion(entry.leaf, entry.proof, root)
    except (ProofInvalidError, RegistryError):
        return False
    return True
