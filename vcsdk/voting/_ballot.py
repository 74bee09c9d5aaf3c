"""Ballots: salted commitments, receipts, tallies and the public check of a publication.

Pure: no I/O, no clock. The voting service and anyone auditing an election use the same functions.

* **Ballot token** (``vcsdk.voting`` ``_token``): the double-vote key is the token's serial, a random
  value the voter's device picked and the city signed blindly; published with every ballot so
  anyone can check each ballot carries a valid token and no serial is used twice.
* **Commitment**: ``sha256(domain || election_id || choice || salt)`` with a fresh 32-byte salt,
  the leaf of the Merkle batches anchored on chain. Published with its choice and salt after the
  election closes, so anyone can recompute it.
* **Batches**: RFC 6962 Merkle trees (:class:`vcsdk.receipts.MerkleTree`) over the commitments of
  a batch sorted by value, so the leaf order says nothing about the order of voting.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypedDict

from vcsdk.errors import InvalidInputError, ProofInvalidError, TokenKeyError
from vcsdk.oid4vc import Randomness, SystemRandomness
from vcsdk.receipts import InclusionProof, InclusionProofJson, MerkleTree, batch_id_for, hex32, verify_inclusion
from vcsdk.voting._election import Election, ElectionJson
from vcsdk.voting._token import BallotToken, BallotTokenJson, TokenKey, TokenKeyJson, verify_ballot_token

__all__ = [
    "COMMITMENT_DOMAIN",
    "PUBLICATION_FORMAT",
    "SALT_BYTES",
    "BallotChoice",
    "BallotReceipt",
    "BallotReceiptJson",
    "ElectionTally",
    "PublishedBallotJson",
    "PublishedBatchJson",
    "PublishedElectionJson",
    "ballot_commitment",
    "batch_tree",
    "build_publication",
    "prepare_ballot",
    "tally",
    "verify_ballot_receipt",
    "verify_published_election",
]

COMMITMENT_DOMAIN: Final = b"vcsdk/voting/ballot/v1"
PUBLICATION_FORMAT: Final = "vcsdk-election-results/v2"
SALT_BYTES: Final = 32
_SYSTEM_RANDOMNESS: Final = SystemRandomness()


def _field(value: str) -> bytes:
    data = value.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def _salt(salt: object) -> bytes:
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise InvalidInputError(f"a ballot salt is {SALT_BYTES} bytes")
    return salt


def ballot_commitment(election_id: str, choice: str, salt: bytes) -> bytes:
    """The salted commitment to one ballot: ``sha256(domain || election_id || choice || salt)``.

    Each text is length-prefixed, so no two (election, choice) pairs share an encoding.

    :raises InvalidInputError: if ``salt`` is not 32 bytes.
    :return: 32 bytes (the Merkle leaf).
    """
    return hashlib.sha256(COMMITMENT_DOMAIN + _field(election_id) + _field(choice) + _salt(salt)).digest()


@dataclass(frozen=True, slots=True)
class BallotChoice:
    """A voter's ballot before it is cast: the choice and the salt the voter keeps.

    :ivar commitment: what the voting service must put in its receipt.
    """

    election_id: str
    choice: str
    salt: bytes = field(repr=False)

    @property
    def commitment(self) -> bytes:
        return ballot_commitment(self.election_id, self.choice, self.salt)


def prepare_ballot(election: Election, choice: str, *, randomness: Randomness = _SYSTEM_RANDOMNESS) -> BallotChoice:
    """Pick a fresh salt for ``choice`` (voter side).

    :raises InvalidInputError: if ``choice`` is not on the ballot.
    """
    if choice not in election.choices:
        raise InvalidInputError("the choice is not on this election's ballot")
    return BallotChoice(election.election_id, choice, randomness.token_bytes(SALT_BYTES))


def batch_tree(commitments: Iterable[bytes]) -> tuple[MerkleTree, list[bytes]]:
    """The Merkle tree of one batch: leaves are the commitments sorted by value.

    :raises InvalidInputError: for an empty batch, a repeated commitment or one that is not 32 bytes.
    :return: the tree and the sorted leaves (leaf ``i`` of the tree is ``leaves[i]``).
    """
    leaves = sorted(commitments)
    if len(set(leaves)) != len(leaves):
        raise InvalidInputError("a batch holds each commitment once")
    return MerkleTree(leaves), leaves


class BallotReceiptJson(TypedDict):
    election_id: str
    commitment: str
    choice: str
    salt: str
    proof: InclusionProofJson | None


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass(frozen=True, slots=True)
class BallotReceipt:
    """What the voter keeps: the commitment and, once anchored, its inclusion proof.

    :ivar proof: ``None`` until the ballot's batch is anchored on chain; fetch the receipt again
        then. The proof's ``batch_id`` names the on-chain batch.
    """

    election_id: str
    commitment: bytes
    choice: str
    salt: bytes = field(repr=False)
    proof: InclusionProof | None = None

    def to_json(self) -> BallotReceiptJson:
        """The JSON wire shape (``0x``-hex bytes)."""
        return {
            "election_id": self.election_id,
            "commitment": _hex(self.commitment),
            "choice": self.choice,
            "salt": _hex(self.salt),
            "proof": self.proof.to_json() if self.proof is not None else None,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> BallotReceipt:
        """Read a receipt.

        :raises InvalidInputError: if a member is missing or malformed.
        """
        if not isinstance(value, Mapping) or set(value) != set(BallotReceiptJson.__annotations__):
            raise InvalidInputError(f"a ballot receipt has exactly {sorted(BallotReceiptJson.__annotations__)}")
        if not isinstance(value["election_id"], str) or not isinstance(value["choice"], str):
            raise InvalidInputError("election_id and choice must be strings")
        proof = value["proof"]
        if proof is not None and not isinstance(proof, Mapping):
            raise InvalidInputError("proof must be an inclusion proof object or null")
        return cls(
            election_id=value["election_id"],
            commitment=hex32(value["commitment"], what="commitment"),
            choice=value["choice"],
            salt=hex32(value["salt"], what="salt"),
            proof=InclusionProof.from_json(dict(proof)) if proof is not None else None,
        )


def verify_ballot_receipt(receipt: BallotReceipt, *, root: bytes, expected: BallotChoice | None = None) -> None:
    """Check that the receipt's ballot is in the batch whose on-chain root is ``root``.

    :param root: the root the chain holds for ``receipt.proof.batch_id`` (read it yourself).
    :param expected: the voter's own :class:`BallotChoice`, to check the service recorded it.
    :raises ProofInvalidError: (``receipt_not_anchored``) without a proof; (``commitment_mismatch``)
        if choice and salt do not give the commitment, or differ from ``expected``; otherwise if the
        inclusion proof does not lead to ``root``.
    """
    if receipt.proof is None:
        raise ProofInvalidError(
            "the ballot is not anchored yet; fetch the receipt again later", code="receipt_not_anchored"
        )
    if ballot_commitment(receipt.election_id, receipt.choice, receipt.salt) != receipt.commitment:
        raise ProofInvalidError("the receipt's choice and salt do not give its commitment", code="commitment_mismatch")
    if expected is not None and (
        expected.commitment != receipt.commitment or expected.election_id != receipt.election_id
    ):
        raise ProofInvalidError("the receipt is not for the ballot this voter cast", code="commitment_mismatch")
    verify_inclusion(receipt.commitment, receipt.proof, root)


def tally(election: Election, choices: Iterable[str]) -> dict[str, int]:
    """Count ``choices``, with every choice of the ballot present (zero when nobody chose it).

    :raises InvalidInputError: for a choice that is not on the ballot.
    """
    counts = Counter(choices)
    unknown = set(counts) - set(election.choices)
    if unknown:
        raise InvalidInputError(f"{len(unknown)} counted choice(s) are not on the ballot")
    return {c: counts.get(c, 0) for c in election.choices}


# -- publication ----------------------------------------------------------------------------------


class PublishedBallotJson(TypedDict):
    commitment: str
    choice: str
    salt: str
    batch_id: str
    token: BallotTokenJson


class PublishedBatchJson(TypedDict):
    batch_id: str
    root: str
    size: int
    tx_hash: str | None
    block_number: int | None


class AnchorJson(TypedDict):
    chain_id: int
    contract: str


class PublishedElectionJson(TypedDict):
    format: str
    election: ElectionJson
    anchor: AnchorJson
    token_keys: list[TokenKeyJson]
    batches: list[PublishedBatchJson]
    ballots: list[PublishedBallotJson]
    tally: dict[str, int]


def build_publication(
    election: Election,
    *,
    ballots: Sequence[tuple[bytes, str, bytes, bytes, BallotToken]],
    batches: Sequence[tuple[bytes, bytes, int, str | None, int | None]],
    token_keys: Sequence[TokenKey],
    chain_id: int,
    contract: str,
) -> PublishedElectionJson:
    """Assemble the JSON export of a closed election.

    :param ballots: ``(commitment, choice, salt, batch_id, token)`` of every anchored ballot.
    :param batches: ``(batch_id, root, size, tx_hash, block_number)`` of every anchored batch.
    :param token_keys: the election's token keys (committed in ``contract``).
    :param chain_id: the chain holding the roots.
    :param contract: the anchor contract's address.
    :raises InvalidInputError: for a choice not on the ballot.
    :return: ballots sorted by commitment, batches by block then id, and the tally.
    """
    rows = sorted(ballots, key=lambda b: b[0])
    return {
        "format": PUBLICATION_FORMAT,
        "election": election.to_json(),
        "anchor": {"chain_id": chain_id, "contract": contract},
        "token_keys": [k.to_json() for k in sorted(token_keys, key=lambda k: k.district or "")],
        "batches": [
            {"batch_id": _hex(b), "root": _hex(r), "size": n, "tx_hash": tx, "block_number": blk}
            for b, r, n, tx, blk in sorted(batches, key=lambda x: (x[4] or 0, x[0]))
        ],
        "ballots": [
            {"commitment": _hex(c), "choice": ch, "salt": _hex(s), "batch_id": _hex(b), "token": t.to_json()}
            for c, ch, s, b, t in rows
        ],
        "tally": tally(election, (r[1] for r in rows)),
    }


@dataclass(frozen=True, slots=True)
class ElectionTally:
    """The result of :func:`verify_published_election`: the recomputed count."""

    election: Election
    counts: Mapping[str, int]
    ballots: int
    batches: int


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInputError(f"{what} must be a list")
    return value


def _token_keys(election: Election, value: object) -> dict[str | None, TokenKey]:
    keys: dict[str | None, TokenKey] = {}
    for entry in _list(value, "token_keys"):
        key = TokenKey.from_json(entry)
        if key.election_id != election.election_id or key.district in keys:
            raise InvalidInputError("the token keys are for another election or name a district twice")
        keys[key.district] = key
    if set(keys) != {None} and set(keys) != set(election.district_names):
        raise InvalidInputError("the token keys are one key, or one per district of the election")
    return keys


def verify_published_election(
    published: Mapping[str, Any],
    *,
    anchored: Mapping[bytes, bytes],
    committed_at: Mapping[bytes, datetime] | None = None,
) -> ElectionTally:
    """Recompute an election's tally from its publication and check it against the chain.

    Anyone can run it: read every root the election's anchor contract holds (e.g.
    ``await BallotAnchor(...).anchored_roots()``), then pass the publication and those roots.

    Checks, in order: each published token key is the one committed in the contract (and, with
    ``committed_at``, committed no later than voting opened); every ballot carries a token signed
    with its district's key and no serial appears twice; every ballot's commitment is
    ``sha256(domain || election || choice || salt)`` and appears once; the ballots of each published
    batch rebuild its root and batch id; every published batch is anchored with that root, and
    every anchored batch is published (nothing hidden); the recomputed tally equals the published one.

    :param published: the JSON export (:func:`build_publication`).
    :param anchored: ``batch_id -> root`` of everything anchored in the election's contract
        (ballot batches and token key commitments).
    :param committed_at: ``slot -> block time`` of the token key commitments
        (``BallotAnchor.token_key_commitments()``); checked against the election's opening.
    :raises InvalidInputError: if the publication is malformed.
    :raises TokenKeyError: if a token key is not the committed one, or was committed late.
    :raises BallotTokenError: if a ballot's token does not verify (a forged or foreign token).
    :raises ProofInvalidError: with ``code`` ``duplicate_serial``, ``commitment_mismatch``,
        ``duplicate_ballot``, ``root_mismatch``, ``batch_not_anchored``, ``unpublished_batch`` or
        ``tally_mismatch``.
    :return: the verified tally.
    """
    if not isinstance(published, Mapping) or set(published) != set(PublishedElectionJson.__annotations__):
        raise InvalidInputError(f"a publication has exactly {sorted(PublishedElectionJson.__annotations__)}")
    if published["format"] != PUBLICATION_FORMAT:
        raise InvalidInputError(f"unknown publication format; expected {PUBLICATION_FORMAT}")
    election = Election.from_json(published["election"])
    keys = _token_keys(election, published["token_keys"])
    for key in keys.values():
        if anchored.get(key.slot) != key.digest:
            raise TokenKeyError("a published token key is not the one committed in the election's contract")
        if committed_at is not None and (key.slot not in committed_at or committed_at[key.slot] > election.opens_at):
            raise TokenKeyError("a token key was committed only after voting opened")
    by_batch: dict[bytes, list[bytes]] = {}
    seen: set[bytes] = set()
    serials: set[bytes] = set()
    choices: list[str] = []
    for entry in _list(published["ballots"], "ballots"):
        if not isinstance(entry, Mapping) or set(entry) != set(PublishedBallotJson.__annotations__):
            raise InvalidInputError(f"a published ballot has exactly {sorted(PublishedBallotJson.__annotations__)}")
        token = BallotToken.from_json(entry["token"])
        serial = verify_ballot_token(token, election_id=election.election_id, keys=keys)
        if serial in serials:
            raise ProofInvalidError("a ballot token serial is used twice", code="duplicate_serial")
        serials.add(serial)
        choice = entry["choice"]
        if not isinstance(choice, str) or choice not in election.choices:
            raise InvalidInputError("a published ballot names a choice that is not on the ballot")
        commitment = hex32(entry["commitment"], what="commitment")
        salt = hex32(entry["salt"], what="salt")
        if ballot_commitment(election.election_id, choice, salt) != commitment:
            raise ProofInvalidError(
                "a published ballot's choice and salt do not give its commitment", code="commitment_mismatch"
            )
        if commitment in seen:
            raise ProofInvalidError("a commitment is published twice", code="duplicate_ballot")
        seen.add(commitment)
        by_batch.setdefault(hex32(entry["batch_id"], what="batch_id"), []).append(commitment)
        choices.append(choice)
    published_batches: dict[bytes, bytes] = {}
    sizes: dict[bytes, object] = {}
    for entry in _list(published["batches"], "batches"):
        if not isinstance(entry, Mapping) or set(entry) != set(PublishedBatchJson.__annotations__):
            raise InvalidInputError(f"a published batch has exactly {sorted(PublishedBatchJson.__annotations__)}")
        batch_id = hex32(entry["batch_id"], what="batch_id")
        if batch_id in published_batches:
            raise InvalidInputError("a batch is listed twice")
        published_batches[batch_id] = hex32(entry["root"], what="root")
        sizes[batch_id] = entry["size"]
    if set(by_batch) != set(published_batches):
        raise ProofInvalidError("ballots and batches of the publication do not match", code="root_mismatch")
    for batch_id, commitments in by_batch.items():
        tree, _ = batch_tree(commitments)
        if (
            tree.root != published_batches[batch_id]
            or batch_id_for(tree.root, tree.size) != batch_id
            or sizes[batch_id] != tree.size
        ):
            raise ProofInvalidError("a batch's ballots do not rebuild its root", code="root_mismatch")
        on_chain = anchored.get(batch_id)
        if on_chain is None:
            raise ProofInvalidError("a published batch is not anchored on chain", code="batch_not_anchored")
        if on_chain != tree.root:
            raise ProofInvalidError("a published batch's root differs from the chain's", code="root_mismatch")
    if set(anchored) - set(published_batches) - {k.slot for k in keys.values()}:
        raise ProofInvalidError(
            "the anchor contract holds batches the publication leaves out", code="unpublished_batch"
        )
    counts = tally(election, choices)
    claimed = published["tally"]
    if not isinstance(claimed, Mapping) or dict(claimed) != counts:
        raise ProofInvalidError("the published tally differs from the recomputed one", code="tally_mismatch")
    return ElectionTally(election, counts, len(choices), len(published_batches))
