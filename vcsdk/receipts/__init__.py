"""Consent records, access receipts, Merkle batching with inclusion proofs, and open-data export.

This package is the pure core: no I/O and no clock reads (times are ``now=`` parameters). The
durable outbox, the batcher that anchors roots on chain and the resident view are an adapter on
top of it: :mod:`vcsdk.outbox`.
"""

from __future__ import annotations

from vcsdk.receipts._consent import (
    ConsentRecord,
    ConsentRecordJson,
    ConsentState,
    Controller,
    LegalBasis,
    Pseudonym,
    presentation_hash,
    resident_pseudonym,
)
from vcsdk.receipts._export import (
    MIN_K_THRESHOLD,
    AccessCounter,
    AccessStatistics,
    BudgetLedger,
    CellDomain,
    PrivacyParameters,
    ServiceCells,
    access_statistics,
)
from vcsdk.receipts._ledger import LedgerEntry, PrivacyLedger
from vcsdk.receipts._merkle import (
    MAX_BATCH_SIZE,
    SALT_BYTES,
    InclusionProof,
    InclusionProofJson,
    MerkleTree,
    batch_id_for,
    hex32,
    receipt_leaf,
    verify_inclusion,
)
from vcsdk.receipts._receipt import (
    ACCESS_RECEIPT_TYP,
    AccessReceipt,
    AccessReceiptClaims,
    issue_access_receipt,
    peek_access_receipt,
    verify_access_receipt,
    verify_access_receipt_resolved,
)

__all__ = [
    "ACCESS_RECEIPT_TYP",
    "MAX_BATCH_SIZE",
    "MIN_K_THRESHOLD",
    "SALT_BYTES",
    "AccessCounter",
    "AccessReceipt",
    "AccessReceiptClaims",
    "AccessStatistics",
    "BudgetLedger",
    "CellDomain",
    "ConsentRecord",
    "ConsentRecordJson",
    "ConsentState",
    "Controller",
    "InclusionProof",
    "InclusionProofJson",
    "LedgerEntry",
    "LegalBasis",
    "MerkleTree",
    "PrivacyLedger",
    "PrivacyParameters",
    "Pseudonym",
    "ServiceCells",
    "access_statistics",
    "batch_id_for",
    "hex32",
    "issue_access_receipt",
    "peek_access_receipt",
    "presentation_hash",
    "receipt_leaf",
    "resident_pseudonym",
    "verify_access_receipt",
    "verify_access_receipt_resolved",
    "verify_inclusion",
]
