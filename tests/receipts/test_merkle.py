"""Merkle batches: RFC 6962 shape, audit paths, and proofs that fail for any alteration."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vcsdk.errors import InvalidInputError, ProofInvalidError
from vcsdk.receipts import InclusionProof, MerkleTree, batch_id_for, receipt_leaf, verify_inclusion
from vcsdk.receipts._merkle import leaf_hash, node_hash

SALT = bytes(32)


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written recursively as the RFC states it."""
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def _reference_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_reference_path(m, leaves[:k]), _reference_root(leaves[k:])]
    return [*_reference_path(m - k, leaves[k:]), _reference_root(leaves[:k])]


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    return [hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(n)]


def test_domain_separation() -> None:
    leaf = bytes(32)
    assert leaf_hash(leaf) == hashlib.sha256(b"\x00" + leaf).digest()
    assert node_hash(leaf, leaf) == hashlib.sha256(b"\x01" + leaf + leaf).digest()
    assert receipt_leaf(b"token", SALT) == hashlib.sha256(SALT + b"token").digest()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100])
def test_matches_rfc6962_definition(n: int) -> None:
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    assert tree.root == _reference_root(leaves)
    for m in range(n):
        assert list(tree.proof(m).audit_path) == _reference_path(m, leaves)


batches = st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=40, unique=True)


@given(batches, st.data())
@example([b"a"], None)
def test_every_leaf_verifies_and_every_alteration_fails(receipts: list[bytes], data: st.DataObject | None) -> None:
    salts = [hashlib.sha256(b"salt" + r).digest() for r in receipts]
    leaves = [receipt_leaf(r, s) for r, s in zip(receipts, salts, strict=True)]
    tree = MerkleTree(leaves)
    for i, leaf in enumerate(leaves):
        proof = tree.proof(i)
        verify_inclusion(leaf, proof, tree.root)
        # An altered receipt (one flipped bit) gives another leaf.
        altered = bytearray(receipts[i])
        altered[0] ^= 1
        with pytest.raises(ProofInvalidError):
            verify_inclusion(receipt_leaf(bytes(altered), salts[i]), proof, tree.root)
        # A wrong salt is a wrong leaf as well.
        with pytest.raises(ProofInvalidError):
            verify_inclusion(receipt_leaf(receipts[i], bytes(32)), proof, tree.root)
        # Any altered sibling.
        for j in range(len(proof.audit_path)):
            path = list(proof.audit_path)
            path[j] = bytes([path[j][0] ^ 0x80]) + path[j][1:]
            with pytest.raises(ProofInvalidError):
                verify_inclusion(leaf, replace(proof, audit_path=tuple(path)), tree.root)
        # A dropped or extra sibling.
        if proof.audit_path:
            with pytest.raises(ProofInvalidError):
                verify_inclusion(leaf, replace(proof, audit_path=proof.audit_path[:-1]), tree.root)
        with pytest.raises(ProofInvalidError):
            verify_inclusion(leaf, replace(proof, audit_path=(*proof.audit_path, bytes(32))), tree.root)
        # Any other index.
        for k in range(tree.size + 1):
            if k != i:
                with pytest.raises(ProofInvalidError):
                    verify_inclusion(leaf, replace(proof, leaf_index=k), tree.root)
        # Another root (and its own batch id, so only the root differs).
        if data is not None:
            other = data.draw(st.binary(min_size=32, max_size=32).filter(lambda b: b != tree.root))
            forged = replace(proof, batch_id=batch_id_for(other, tree.size))
            with pytest.raises(ProofInvalidError):
                verify_inclusion(leaf, forged, other)
        # The right root under another batch id.
        with pytest.raises(ProofInvalidError):
            verify_inclusion(leaf, replace(proof, batch_id=bytes(32)), tree.root)


@given(batches)
def test_other_tree_size_fails(receipts: list[bytes]) -> None:
    leaves = [receipt_leaf(r, SALT) for r in receipts]
    tree = MerkleTree(leaves)
    proof = tree.proof(len(leaves) - 1)
    for size in (len(leaves) - 1, len(leaves) + 1, 2 * len(leaves)):
        with pytest.raises(ProofInvalidError):
            verify_inclusion(
                leaves[-1], replace(proof, tree_size=size, batch_id=batch_id_for(tree.root, max(size, 1))), tree.root
            )


def test_proof_json_round_trip_and_limits() -> None:
    tree = MerkleTree(_leaves(5))
    proof = tree.proof(3)
    assert InclusionProof.from_json(proof.to_json()) == proof
    wire = dict(proof.to_json())
    wire["audit_path"] = ["0x12"]
    with pytest.raises(InvalidInputError):
        InclusionProof.from_json(wire)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        InclusionProof.from_json({**proof.to_json(), "leaf_index": -1})
    with pytest.raises(InvalidInputError):
        MerkleTree([])
    with pytest.raises(InvalidInputError):
        MerkleTree([b"short"])
    with pytest.raises(InvalidInputError):
        tree.proof(5)
    with pytest.raises(InvalidInputError):
        receipt_leaf(b"x", b"short salt")


def test_batch_id_binds_root_and_size() -> None:
    tree = MerkleTree(_leaves(3))
    assert tree.batch_id == batch_id_for(tree.root, 3) != batch_id_for(tree.root, 4)
    assert len(tree.batch_id) == 32
