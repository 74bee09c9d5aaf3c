"""The public names of vcsdk.receipts and vcsdk.receipts.outbox are pinned: exporting one is deliberate."""

from __future__ import annotations

import vcsdk.receipts
import vcsdk.receipts.outbox

CORE = [
    "ACCESS_RECEIPT_TYP",
    "AccessReceipt",
    "AccessReceiptClaims",
    "AccessStatistics",
    "ConsentRecord",
    "ConsentRecordJson",
    "ConsentState",
    "Controller",
    "InclusionProof",
    "InclusionProofJson",
    "LegalBasis",
    "MerkleTree",
    "PrivacyParameters",
    "Pseudonym",
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

OUTBOX = [
    "STEPS",
    "AccessReceiptRegistry",
    "AnchorChain",
    "AnchorLocation",
    "AnchoringState",
    "Batch",
    "BatchState",
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


def test_core_all_is_pinned_and_sorted() -> None:
    assert vcsdk.receipts.__all__ == CORE
    assert all(hasattr(vcsdk.receipts, name) for name in CORE)


def test_outbox_all_is_pinned_and_sorted() -> None:
    assert vcsdk.receipts.outbox.__all__ == OUTBOX
    assert all(hasattr(vcsdk.receipts.outbox, name) for name in OUTBOX)


def test_core_does_no_io() -> None:
    import subprocess
    import sys

    code = (
        "import sys, vcsdk.receipts; "
        "bad = [m for m in ('sqlite3', 'aiosqlite', 'asyncpg', 'aiohttp', 'web3', 'zeep') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
