"""The service's side of the receipt handshake: one signed access receipt per presentation, kept
until the wallet confirms it has stored it, and one signed withdrawal receipt per withdrawn consent.

A wallet that lost the answer (a timeout, its database failed, it restarted) asks again for the
same presentation and gets the same receipt, never a second one, so an access is receipted, stored
and anchored exactly once. The store is the service's (:class:`KeptReceiptStore`; one in memory,
:class:`InMemoryKeptReceipts`, for a single process and for tests).

The service also keeps the consents it received (:class:`ConsentStore`; :class:`InMemoryConsents`):
the wallet-signed record is its evidence, and a withdrawal is accepted only for exactly the consent
it holds (:func:`~vcsdk.receipts.accept_withdrawal`).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from vcsdk.errors import ConflictError, InvalidInputError, NotFoundError
from vcsdk.keys import Signer
from vcsdk.receipts._consent import ConsentRecord, accept_withdrawal
from vcsdk.receipts._receipt import issue_access_receipt, issue_withdrawal_receipt, peek_access_receipt

__all__ = [
    "CONSENT_HEADER",
    "ConsentStore",
    "HeldConsent",
    "InMemoryConsents",
    "InMemoryKeptReceipts",
    "KeptReceipt",
    "KeptReceiptStore",
    "ReceiptDesk",
]

#: How long a signed receipt waits for the wallet's confirmation before it may be purged.
DEFAULT_RETENTION = timedelta(days=7)
#: The header in which a wallet names the receipt's consent record when it fetches a kept receipt
#: again (``GET``) or confirms it (``DELETE``): the request id is in a link anyone near the QR code
#: may read; the consent's id only the wallet and the service know.
CONSENT_HEADER = "Consent-Record-Id"
_MAX_REQUEST_ID = 256


@dataclass(frozen=True, slots=True)
class KeptReceipt:
    """A receipt the service signed for one presentation (``request_id``: the service's own id of it)."""

    request_id: str
    consent_id: str
    receipt_id: str
    token: str
    signed_at: datetime


class KeptReceiptStore(Protocol):
    """Where a service keeps the receipts it signed until the wallet confirms them."""

    async def get(self, request_id: str) -> KeptReceipt | None:
        """The receipt kept for ``request_id``, if any."""
        ...

    async def put_if_absent(self, kept: KeptReceipt) -> KeptReceipt:
        """Keep ``kept`` unless a receipt is kept for its ``request_id`` already; return the one kept."""
        ...

    async def drop(self, request_id: str) -> None:
        """Forget the receipt of ``request_id`` (confirmed by the wallet)."""
        ...

    async def purge(self, *, signed_before: datetime) -> int:
        """Forget receipts signed before ``signed_before``; return how many."""
        ...


class InMemoryKeptReceipts:
    """A :class:`KeptReceiptStore` in this process's memory (one process; tests)."""

    def __init__(self) -> None:
        self._kept: dict[str, KeptReceipt] = {}
        self._lock = asyncio.Lock()

    async def get(self, request_id: str) -> KeptReceipt | None:
        return self._kept.get(request_id)

    async def put_if_absent(self, kept: KeptReceipt) -> KeptReceipt:
        async with self._lock:
            return self._kept.setdefault(kept.request_id, kept)

    async def drop(self, request_id: str) -> None:
        self._kept.pop(request_id, None)

    async def purge(self, *, signed_before: datetime) -> int:
        old = [k for k, v in self._kept.items() if v.signed_at < signed_before]
        for k in old:
            del self._kept[k]
        return len(old)


@dataclass(frozen=True, slots=True)
class HeldConsent:
    """A consent the service holds: the record, the wallet-signed token it came as (the evidence;
    empty when a development service took it unsigned) and, once withdrawn, the withdrawal receipt
    the service signed for it (handed out again if the wallet delivers the withdrawal again)."""

    record: ConsentRecord
    evidence: str
    withdrawal_receipt: str | None = None


class ConsentStore(Protocol):
    """Where a service keeps the consents it received, by record id."""

    async def get(self, record_id: str) -> HeldConsent | None:
        """The consent held under ``record_id``, if any."""
        ...

    async def put(self, held: HeldConsent) -> None:
        """Keep ``held`` under its record id, replacing what was kept there."""
        ...


class InMemoryConsents:
    """A :class:`ConsentStore` in this process's memory (one process; tests)."""

    def __init__(self) -> None:
        self._held: dict[str, HeldConsent] = {}

    async def get(self, record_id: str) -> HeldConsent | None:
        return self._held.get(record_id)

    async def put(self, held: HeldConsent) -> None:
        self._held[held.record.record_id] = held


def _request_id(request_id: str) -> str:
    if not isinstance(request_id, str) or not 0 < len(request_id) <= _MAX_REQUEST_ID:
        raise InvalidInputError(f"a request id is 1 to {_MAX_REQUEST_ID} characters")
    return request_id


class ReceiptDesk:
    """Signs at most one access receipt per presentation and hands the same one out again.

    Serve :meth:`receipt` at the ``receipt_uri`` the wallet posts its consent record to, the same
    kept receipt to a ``GET`` of that URI (:meth:`again`, the wallet fetching it again after a
    failure), and drop it when the wallet confirms it stored it (:meth:`confirmed`, a ``DELETE``).

    The consents behind the receipts are kept with :meth:`hold`; a withdrawal of one of them is
    checked and answered with a signed withdrawal receipt by :meth:`withdrawal`.

    :param signer: the service's key (its ``kid`` a DID URL of the service's DID).
    :param store: where signed receipts are kept (in memory by default).
    :param consents: where received consents are kept (in memory by default).
    :param retention: how long an unconfirmed receipt is kept (:meth:`purge`).
    """

    def __init__(
        self,
        signer: Signer,
        *,
        store: KeptReceiptStore | None = None,
        consents: ConsentStore | None = None,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        self._signer = signer
        self.store: KeptReceiptStore = store if store is not None else InMemoryKeptReceipts()
        self.consents: ConsentStore = consents if consents is not None else InMemoryConsents()
        self.retention = retention
        self._withdrawing = asyncio.Lock()

    async def receipt(
        self,
        request_id: str,
        *,
        consent: ConsentRecord,
        claims: Sequence[str],
        purpose: str,
        now: datetime,
        receipt_id: str | None = None,
    ) -> str:
        """The access receipt for presentation ``request_id`` under ``consent`` (verified by the
        caller against the presentation): signed the first time, the kept one after that.

        :raises ConflictError: a receipt is kept for this presentation under another consent.
        :raises InvalidInputError: and the errors of :func:`~vcsdk.receipts.issue_access_receipt`.
        """
        kept = await self.store.get(_request_id(request_id))
        if kept is None:
            token = issue_access_receipt(
                self._signer, consent=consent, receipt_id=receipt_id or f"rcpt-{secrets.token_hex(12)}",
                claims=claims, purpose=purpose, now=now,
            )
            signed = KeptReceipt(request_id, consent.record_id, peek_access_receipt(token).receipt_id, token, now)
            kept = await self.store.put_if_absent(signed)
        if kept.consent_id != consent.record_id:
            raise ConflictError("this presentation's receipt was signed under another consent")
        return kept.token

    async def again(self, request_id: str, *, consent_id: str | None) -> str:
        """The receipt signed for ``request_id`` and not yet confirmed, to the wallet that names its
        consent record (the :data:`CONSENT_HEADER` of the request): the request id travels in a link
        anyone near the QR code may read, the consent's id only the wallet and the service know.

        :raises NotFoundError: none is kept (never signed, confirmed, or purged), or ``consent_id``
            is not its consent's (the same answer: nothing tells a stranger a receipt exists).
        """
        kept = await self.store.get(_request_id(request_id))
        if kept is None or not _same(kept.consent_id, consent_id):
            raise NotFoundError("no receipt is kept for this presentation")
        return kept.token

    async def confirmed(self, request_id: str, *, consent_id: str | None) -> None:
        """The wallet stored the receipt: forget it (a repeated confirmation is harmless).

        :raises NotFoundError: ``consent_id`` is not the kept receipt's consent (it is kept).
        """
        kept = await self.store.get(_request_id(request_id))
        if kept is None:
            return
        if not _same(kept.consent_id, consent_id):
            raise NotFoundError("no receipt is kept for this presentation")
        await self.store.drop(kept.request_id)

    async def purge(self, *, now: datetime) -> int:
        """Forget unconfirmed receipts older than the retention; return how many."""
        return await self.store.purge(signed_before=now - self.retention)

    async def hold(self, consent: ConsentRecord, *, evidence: str) -> None:
        """Keep a consent the wallet sent (verified by the caller) with the signed token it came as.

        A consent already held is kept as it is (a repeated post changes nothing, and a withdrawn
        one stays withdrawn).

        :raises ConflictError: another record is held under the same id.
        """
        held = await self.consents.get(consent.record_id)
        if held is None:
            await self.consents.put(HeldConsent(consent, evidence))
        elif held.record != consent and held.record.state != "withdrawn":
            raise ConflictError("another consent record is held under this id")

    async def withdrawal(
        self, delivered: ConsentRecord, *, evidence: str, now: datetime, receipt_id: str | None = None
    ) -> str:
        """The withdrawal receipt for ``delivered`` (verified by the caller as the wallet's): checked
        against the consent held (:func:`~vcsdk.receipts.accept_withdrawal`), kept instead of it, and
        signed the first time; the same receipt when the wallet delivers the same withdrawal again.

        :raises NotFoundError: no consent is held under the delivered record's id.
        :raises ConsentMismatchError: it withdraws another consent than the one held, or changes it.
        :raises ConflictError: the held consent was withdrawn at another time.
        """
        async with self._withdrawing:
            held = await self.consents.get(delivered.record_id)
            if held is None:
                raise NotFoundError("no consent is held under this id")
            withdrawn = accept_withdrawal(held.record, delivered, now=now)
            if held.withdrawal_receipt is not None:
                return held.withdrawal_receipt
            token = issue_withdrawal_receipt(
                self._signer, consent=withdrawn, receipt_id=receipt_id or f"wdr-{secrets.token_hex(12)}", now=now
            )
            await self.consents.put(HeldConsent(withdrawn, evidence, token))
            return token


def _same(kept: str, named: str | None) -> bool:
    # surrogatepass: a header that was not UTF-8 arrives with lone surrogates; it compares unequal.
    return isinstance(named, str) and hmac.compare_digest(
        kept.encode("utf-8", "surrogatepass"), named.encode("utf-8", "surrogatepass")
    )
