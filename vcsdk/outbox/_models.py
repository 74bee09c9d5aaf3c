"""Values the outbox stores and returns (never database rows or web3 dictionaries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NotRequired, TypedDict

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.errors import InvalidInputError
from vcsdk.receipts import AccessReceipt, InclusionProof, InclusionProofJson, hex32, receipt_leaf

__all__ = [
    "AnchorLocation",
    "AnchoringState",
    "Batch",
    "BatchState",
    "QueuedLeaf",
    "ReceiptEntry",
    "ReceiptEntryJson",
    "StoredReceipt",
    "TickReport",
]

BatchState = Literal["pending", "sent", "final"]
"""``pending``: cut, not yet seen on chain; ``sent``: mined, waiting for confirmations; ``final``."""

AnchoringState = Literal["queued", "anchoring", "final"]
"""A receipt's state: not in a batch yet, in a batch not yet final, anchored with enough confirmations."""


@dataclass(frozen=True, slots=True)
class QueuedLeaf:
    """A receipt waiting for a batch, as the batcher reads it: its position in the queue, id, leaf and
    when it was stored."""

    seq: int
    receipt_id: str
    leaf: bytes
    stored_at: datetime


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """A verified access receipt as the outbox keeps it.

    :ivar receipt: the parsed receipt (``receipt.token`` is the exact JWS).
    :ivar salt: the 32 random bytes hashed into its Merkle leaf; give them to the resident only.
    :ivar leaf: ``sha256(salt || token)``.
    :ivar stored_at: when the outbox stored it (before acknowledging it).
    :ivar batch_id: the batch it was cut into, if any; ``leaf_index`` its position there.
    """

    receipt: AccessReceipt
    salt: bytes
    leaf: bytes
    stored_at: datetime
    batch_id: bytes | None = None
    leaf_index: int | None = None

    @property
    def receipt_id(self) -> str:
        return self.receipt.receipt_id


@dataclass(frozen=True, slots=True)
class Batch:
    """One Merkle batch of receipts and where its anchoring stands.

    :ivar tx_hash: the anchoring transaction last seen (sent or mined); ``block_number`` its block
        once mined.
    """

    batch_id: bytes
    root: bytes
    size: int
    state: BatchState
    created_at: datetime
    tx_hash: str | None = None
    block_number: int | None = None
    final_at: datetime | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class AnchorLocation:
    """Where the chain says a batch was anchored (its ``BatchAnchored`` event)."""

    batch_id: bytes
    root: bytes
    size: int
    tx_hash: str
    block_number: int


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one :meth:`ReceiptOutbox.tick` did.

    :ivar queued_receipts: receipts left waiting for a batch, exact below the outbox's
        ``batch_size``; a longer queue reports ``batch_size`` (a round never counts the whole
        queue; :meth:`ReceiptStore.count_queued` does, for metrics).
    :ivar chain_error: the error code if the chain could not be reached or refused a call; the
        work stays queued and the next tick retries.
    """

    batches_cut: int = 0
    sent: int = 0
    finalized: int = 0
    open_batches: int = 0
    queued_receipts: int = 0
    chain_error: str | None = None


class ReceiptEntryJson(TypedDict):
    """A receipt with its proof material, as a resident's app stores it (``RECEIPT.json``)."""

    receipt: str
    salt: str
    state: str
    proof: NotRequired[InclusionProofJson]
    root: NotRequired[str]
    tx_hash: NotRequired[str]
    block_number: NotRequired[int]


@dataclass(frozen=True, slots=True)
class ReceiptEntry:
    """One line of a resident's access history.

    :ivar proof: the inclusion proof once the receipt is in a batch (already checked against the
        root on chain when ``state`` is ``final``).
    :ivar root: the batch root the proof leads to.
    """

    receipt: AccessReceipt
    salt: bytes
    state: AnchoringState
    proof: InclusionProof | None = None
    root: bytes | None = None
    tx_hash: str | None = None
    block_number: int | None = None

    @property
    def leaf(self) -> bytes:
        return receipt_leaf(self.receipt.to_bytes(), self.salt)

    def to_json(self) -> ReceiptEntryJson:
        """The JSON form that ``vcsdk receipts verify-proof`` reads."""
        out: ReceiptEntryJson = {
            "receipt": self.receipt.token,
            "salt": b64url_encode(self.salt),
            "state": self.state,
        }
        if self.proof is not None:
            out["proof"] = self.proof.to_json()
        if self.root is not None:
            out["root"] = "0x" + self.root.hex()
        if self.tx_hash is not None:
            out["tx_hash"] = self.tx_hash
        if self.block_number is not None:
            out["block_number"] = self.block_number
        return out

    @staticmethod
    def proof_material(value: ReceiptEntryJson | dict[str, object]) -> tuple[str, bytes, InclusionProof]:
        """Read ``(token, salt, proof)`` from a ``RECEIPT.json`` object.

        :raises InvalidInputError: if the receipt, salt or proof is missing or malformed.
        """
        token, salt, proof = value.get("receipt"), value.get("salt"), value.get("proof")
        if not isinstance(token, str) or not isinstance(salt, str) or not isinstance(proof, dict):
            raise InvalidInputError(
                "RECEIPT.json needs receipt, salt and proof; wait until the receipt is batched"
            )
        if "root" in value:
            hex32(value["root"], what="root")
        return token, b64url_decode(salt, what="salt"), InclusionProof.from_json(proof)
