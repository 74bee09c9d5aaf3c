"""The service's side of the receipt handshake: one signed access receipt per presentation, kept
until the wallet confirms it has stored it.

A wallet that lost the answer (a timeout, its database failed, it restarted) asks again for the
same presentation and gets the same receipt, never a second one, so an access is receipted, stored
and anchored exactly once. The store is the service's (:class:`KeptReceiptStore`; one in memory,
:class:`InMemoryKeptReceipts`, for a single process and for tests).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from vcsdk.errors import ConflictError, InvalidInputError, NotFoundError
from vcsdk.keys import Signer
from vcsdk.receipts._consent import ConsentRecord
from vcsdk.receipts._receipt import issue_access_receipt, peek_access_receipt

__all__ = ["InMemoryKeptReceipts", "KeptReceipt", "KeptReceiptStore", "ReceiptDesk"]

#: How long a signed receipt waits for the wallet's confirmation before it may be purged.
DEFAULT_RETENTION = timedelta(days=7)
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


def _request_id(request_id: str) -> str:
    if not isinstance(request_id, str) or not 0 < len(request_id) <= _MAX_REQUEST_ID:
        raise InvalidInputError(f"a request id is 1 to {_MAX_REQUEST_ID} characters")
    return request_id


class ReceiptDesk:
    """Signs at most one access receipt per presentation and hands the same one out again.

    Serve :meth:`receipt` at the ``receipt_uri`` the wallet posts its consent record to, the same
    kept receipt to a ``GET`` of that URI (:meth:`again`, the wallet fetching it again after a
    failure), and drop it when the wallet confirms it stored it (:meth:`confirmed`, a ``DELETE``).

    :param signer: the service's key (its ``kid`` a DID URL of the service's DID).
    :param store: where signed receipts are kept (in memory by default).
    :param retention: how long an unconfirmed receipt is kept (:meth:`purge`).
    """

    def __init__(
        self, signer: Signer, *, store: KeptReceiptStore | None = None, retention: timedelta = DEFAULT_RETENTION
    ) -> None:
        self._signer = signer
        self.store: KeptReceiptStore = store if store is not None else InMemoryKeptReceipts()
        self.retention = retention

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

    async def again(self, request_id: str) -> str:
        """The receipt signed for ``request_id`` and not yet confirmed.

        :raises NotFoundError: none is kept (never signed, confirmed, or purged).
        """
        kept = await self.store.get(_request_id(request_id))
        if kept is None:
            raise NotFoundError("no receipt is kept for this presentation")
        return kept.token

    async def confirmed(self, request_id: str) -> None:
        """The wallet stored the receipt: forget it (a repeated confirmation is harmless)."""
        await self.store.drop(_request_id(request_id))

    async def purge(self, *, now: datetime) -> int:
        """Forget unconfirmed receipts older than the retention; return how many."""
        return await self.store.purge(signed_before=now - self.retention)
