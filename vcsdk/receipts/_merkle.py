"""Merkle batches of salted receipt digests, RFC 6962 / RFC 9162 style.

* leaf data: ``sha256(salt || receipt bytes)`` with a fresh 32-byte salt per receipt, so a digest
  on its own reveals nothing and cannot be confirmed by guessing a receipt;
* leaf hash: ``sha256(0x00 || leaf data)``; interior node: ``sha256(0x01 || left || right)``
  (RFC 6962 §2.1 domain separation, so a leaf can never pass for a node);
* tree shape and audit paths: RFC 6962 §2.1 (split at the largest power of two below ``n``);
  verification: RFC 9162 §2.1.3.2, which also binds the leaf index and the tree size.

Anyone can check a proof against the root read from the ``AccessReceiptRegistry`` contract with
:func:`verify_inclusion` alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from vcsdk.errors import InvalidInputError, ProofInvalidError

__all__ = [
    "BATCH_ID_DOMAIN",
    "MAX_BATCH_SIZE",
    "SALT_BYTES",
    "InclusionProof",
    "InclusionProofJson",
    "MerkleTree",
    "batch_id_for",
    "leaf_hash",
    "node_hash",
    "receipt_leaf",
    "verify_inclusion",
]

SALT_BYTES = 32
#: Largest batch the SDK builds (the contract stores the size as uint32).
MAX_BATCH_SIZE = 1 << 16
#: Domain tag for batch ids, so an id can never equal a root or a leaf.
BATCH_ID_DOMAIN = b"vcsdk/receipt-batch/v1"
_LEAF = b"\x00"
_NODE = b"\x01"
_MAX_PATH = 64


def receipt_leaf(receipt: bytes, salt: bytes) -> bytes:
    """The leaf data for one receipt: ``sha256(salt || receipt)``.

    :param receipt: the receipt bytes (the compact JWS as ASCII).
    :param salt: the receipt's 32 random bytes, kept with the receipt and given to the resident.
    :raises InvalidInputError: if ``salt`` is not 32 bytes.
    :return: 32 bytes.
    """
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise InvalidInputError(f"a receipt salt is {SALT_BYTES} bytes")
    return hashlib.sha256(salt + receipt).digest()


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 6962 leaf hash: ``sha256(0x00 || leaf)``."""
    return hashlib.sha256(_LEAF + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``sha256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE + left + right).digest()


def batch_id_for(root: bytes, size: int) -> bytes:
    """The batch id anchored on chain: ``sha256(domain || root || size as 4 bytes)``.

    Derived from the content only, so re-anchoring after a crash names the same batch.

    :raises InvalidInputError: if ``root`` is not 32 bytes or ``size`` is out of range.
    """
    _check32(root, what="root")
    if not 0 < size <= MAX_BATCH_SIZE:
        raise InvalidInputError(f"batch size must be 1..{MAX_BATCH_SIZE}")
    return hashlib.sha256(BATCH_ID_DOMAIN + root + size.to_bytes(4, "big")).digest()


class InclusionProofJson(TypedDict):
    batch_id: str
    leaf_index: int
    tree_size: int
    audit_path: list[str]


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An audit path (RFC 6962 §2.1.1) for one leaf of one anchored batch.

    :param batch_id: the on-chain batch id whose root the proof is checked against.
    :param leaf_index: the leaf's position, 0-based.
    :param tree_size: the number of leaves in the batch.
    :param audit_path: sibling hashes from the leaf up to the root.
    """

    batch_id: bytes
    leaf_index: int
    tree_size: int
    audit_path: tuple[bytes, ...]

    def to_json(self) -> InclusionProofJson:
        """The JSON wire shape, with ``0x``-hex hashes (as the chain shows them)."""
        return {
            "batch_id": "0x" + self.batch_id.hex(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "audit_path": ["0x" + p.hex() for p in self.audit_path],
        }

    @classmethod
    def from_json(cls, value: InclusionProofJson | dict[str, Any]) -> InclusionProof:
        """Read a proof from its JSON form.

        :raises InvalidInputError: if a member is missing or malformed.
        """
        if not isinstance(value, dict) or set(value) != set(InclusionProofJson.__annotations__):
            raise InvalidInputError("an inclusion proof has exactly batch_id, leaf_index, tree_size, audit_path")
        path = value["audit_path"]
        if not isinstance(path, list) or len(path) > _MAX_PATH:
            raise InvalidInputError(f"audit_path must be a list of at most {_MAX_PATH} hashes")
        index, size = value["leaf_index"], value["tree_size"]
        for name, n in (("leaf_index", index), ("tree_size", size)):
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_BATCH_SIZE:
                raise InvalidInputError(f"{name} must be an integer in 0..{MAX_BATCH_SIZE}")
        return cls(
            batch_id=hex32(value["batch_id"], what="batch_id"),
            leaf_index=index,
            tree_size=size,
            audit_path=tuple(hex32(p, what="audit_path entry") for p in path),
        )


class MerkleTree:
    """An RFC 6962 Merkle tree over a batch's leaf data, kept level by level for fast audit paths.

    Pairing adjacent nodes and promoting an unpaired last node unchanged builds exactly the RFC 6962
    tree (split at the largest power of two below ``n``).
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Sequence[bytes]) -> None:
        """:raises InvalidInputError: if there are no leaves, too many, or a leaf is not 32 bytes."""
        if not 0 < len(leaves) <= MAX_BATCH_SIZE:
            raise InvalidInputError(f"a batch has 1..{MAX_BATCH_SIZE} leaves")
        for leaf in leaves:
            _check32(leaf, what="leaf")
        # leaf_hash and node_hash inlined: one sha256 per node in a comprehension, no call per node.
        sha256 = hashlib.sha256
        level = [sha256(_LEAF + leaf).digest() for leaf in leaves]
        levels = [level]
        while len(level) > 1:
            nxt = [sha256(_NODE + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=False)]
            if len(level) % 2:
                nxt.append(level[-1])
            levels.append(nxt)
            level = nxt
        self._levels = levels

    @property
    def size(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        """The Merkle tree hash (32 bytes)."""
        return self._levels[-1][0]

    @property
    def batch_id(self) -> bytes:
        """:func:`batch_id_for` this tree's root and size."""
        return batch_id_for(self.root, self.size)

    def proof(self, index: int) -> InclusionProof:
        """The audit path for leaf ``index``.

        :raises InvalidInputError: if ``index`` is out of range.
        """
        if not 0 <= index < self.size:
            raise InvalidInputError("leaf index is outside the batch")
        path: list[bytes] = []
        i = index
        for level in self._levels[:-1]:
            if i % 2:
                path.append(level[i - 1])
            elif i + 1 < len(level):
                path.append(level[i + 1])
            i //= 2
        return InclusionProof(self.batch_id, index, self.size, tuple(path))


def verify_inclusion(leaf: bytes, proof: InclusionProof, root: bytes) -> None:
    """Check that ``leaf`` is at ``proof.leaf_index`` of a tree of ``proof.tree_size`` with ``root``.

    Follows RFC 9162 §2.1.3.2, so the index, the size and every sibling are bound by the root.

    :param leaf: the leaf data (:func:`receipt_leaf` of the receipt and its salt).
    :param proof: the audit path.
    :param root: the root read from the chain for ``proof.batch_id``.
    :raises ProofInvalidError: if the proof does not lead from ``leaf`` to ``root``.
    """
    if not isinstance(leaf, bytes) or len(leaf) != 32 or not isinstance(root, bytes) or len(root) != 32:
        raise ProofInvalidError("leaf and root must be 32-byte hashes")
    if not 0 <= proof.leaf_index < proof.tree_size or proof.tree_size > MAX_BATCH_SIZE:
        raise ProofInvalidError("the proof's leaf index is outside its tree")
    if proof.batch_id != batch_id_for(root, proof.tree_size):
        raise ProofInvalidError("the proof names another batch than the root it is checked against")
    fn, sn = proof.leaf_index, proof.tree_size - 1
    r = leaf_hash(leaf)
    for p in proof.audit_path:
        if len(p) != 32 or sn == 0:
            raise ProofInvalidError("the audit path does not fit the tree size")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalidError("the audit path is too short for the tree size")
    if r != root:
        raise ProofInvalidError("the receipt is not in this batch: the audit path leads to another root")


def hex32(value: object, *, what: str) -> bytes:
    """Read a ``0x``-prefixed 32-byte hex string.

    :raises InvalidInputError: otherwise.
    """
    if not isinstance(value, str) or len(value) != 66 or not value.startswith("0x"):
        raise InvalidInputError(f"{what} must be 0x followed by 64 hex digits")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise InvalidInputError(f"{what} must be 0x followed by 64 hex digits") from None


def _check32(value: object, *, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise InvalidInputError(f"{what} must be 32 bytes")
