"""The receipt outbox: durable storage, Merkle batching anchored on chain, and the resident's view.

This is the I/O side of :mod:`vcsdk.receipts`: a :class:`ReceiptStore` (SQLite by default,
PostgreSQL for several servers), the :class:`AccessReceiptRegistry` contract client, the
:class:`ReceiptOutbox` that accepts and anchors receipts, and the :class:`ResidentView`.
"""

from __future__ import annotations

from vcsdk.outbox._chain import AccessReceiptRegistry, AnchorChain
from vcsdk.outbox._ledger import LedgerFile
from vcsdk.outbox._models import (
    AnchoringState,
    AnchorLocation,
    Batch,
    BatchState,
    ReceiptEntry,
    ReceiptEntryJson,
    StoredReceipt,
    TickReport,
)
from vcsdk.outbox._outbox import STEPS, ReceiptOutbox
from vcsdk.outbox._postgres import PostgresReceiptStore
from vcsdk.outbox._sqlite import SqliteReceiptStore
from vcsdk.outbox._store import ReceiptStore
from vcsdk.outbox._view import ResidentView

__all__ = [
    "STEPS",
    "AccessReceiptRegistry",
    "AnchorChain",
    "AnchorLocation",
    "AnchoringState",
    "Batch",
    "BatchState",
    "LedgerFile",
    "PostgresReceiptStore",
    "ReceiptEntry",
    "ReceiptEntryJson",
    "ReceiptOutbox",
    "ReceiptStore",
    "ResidentView",
    "SqliteReceiptStore",
    "StoredReceipt",
    "TickReport",
]
