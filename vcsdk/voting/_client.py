"""The voter's device: requests to the city's token issuer and to the voting service, and their answers.

Pure (no I/O): each ``*_request`` builds an :class:`~vcsdk.oid4vc.HttpRequest` for the app to send
(``vcsdk.oid4vc.send`` or the app's own HTTP stack), each ``parse_*`` reads the answer. The device
talks to the token issuer and the voting service directly; the wallet server is not in the path
and never sees the serial, the token or the ballot.

A refusal raises the error class of its code where vcsdk has one (``AlreadyVotedError``,
``BallotTokenError``, ``TokenAlreadyIssuedError``, ``NotEligibleError``, ``CredentialRevokedError``,
``TokenKeyError``), a :class:`~vcsdk.errors.ProtocolError` with the code otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk.errors import (
    AlreadyVotedError,
    BallotTokenError,
    CredentialRevokedError,
    InvalidInputError,
    NotEligibleError,
    ProofInvalidError,
    ProtocolError,
    TokenAlreadyIssuedError,
    TokenKeyError,
    VcsdkError,
)
from vcsdk.oid4vc import HttpRequest, HttpResponse
from vcsdk.receipts import InclusionProof
from vcsdk.voting._ballot import BallotChoice, BallotReceipt
from vcsdk.voting._election import Election
from vcsdk.voting._token import BallotToken, PendingToken, TokenKey, finish_token

__all__ = [
    "VotingInfo",
    "cast_request",
    "election_request",
    "parse_cast_answer",
    "parse_election_answer",
    "parse_proof_answer",
    "parse_token_answer",
    "parse_token_keys",
    "parse_token_nonce",
    "proof_request",
    "token_keys_request",
    "token_nonce_request",
    "token_request",
]

#: Error codes whose class the device raises (the server raised the same class).
_TYPED: Final[Mapping[str, type[VcsdkError]]] = {
    c.code: c
    for c in (AlreadyVotedError, BallotTokenError, TokenAlreadyIssuedError, NotEligibleError,
              CredentialRevokedError, TokenKeyError)
}


def _raise_for_error(answer: HttpResponse, *, what: str) -> None:
    try:
        answer.raise_for_error(what=what)
    except ProtocolError as exc:
        typed = _TYPED.get(exc.code)
        if typed is not None:
            raise typed(exc.message) from None
        raise


def _url(base: str, path: str) -> str:
    return f"{base.rstrip('/')}/{path}"


# -- the voting service: what the device needs to know -------------------------------------------


@dataclass(frozen=True, slots=True)
class VotingInfo:
    """The voting service's ``GET <base>/``: the election, its token keys and the anchor contract.

    Read the token keys' commitments from ``contract`` on chain ``chain_id`` yourself
    (``BallotAnchor(chain, contract).committed_token_key(key)``) before blinding.
    """

    election: Election
    token_keys: Mapping[str | None, TokenKey]
    chain_id: int
    contract: str
    name: str | None


def election_request(base_url: str) -> HttpRequest:
    """Ask the voting service for the election, its token keys and its anchor contract."""
    return HttpRequest("GET", _url(base_url, ""))


def _keys(value: object, election_id: str) -> dict[str | None, TokenKey]:
    if not isinstance(value, list) or not 0 < len(value) <= 256:
        raise ProtocolError("the answer carries no token keys", code="invalid_response")
    keys = {k.district: k for k in (TokenKey.from_json(v) for v in value)}
    if len(keys) != len(value) or any(k.election_id != election_id for k in keys.values()):
        raise ProtocolError("the token keys are for another election or repeat a district", code="invalid_response")
    return keys


def parse_election_answer(answer: HttpResponse) -> VotingInfo:
    """Read :func:`election_request`'s answer.

    :raises ProtocolError: for a refusal or a malformed answer.
    """
    _raise_for_error(answer, what="election")
    body = answer.json_object(what="election")
    anchor = body.get("anchor")
    if not isinstance(anchor, Mapping) or not isinstance(anchor.get("contract"), str) or not isinstance(
        anchor.get("chain_id"), int
    ):
        raise ProtocolError("the election has no anchor contract", code="invalid_response")
    election = Election.from_json(body.get("election") or {})
    name = body.get("name")
    return VotingInfo(election, _keys(body.get("token_keys"), election.election_id), anchor["chain_id"],
                      anchor["contract"], name if isinstance(name, str) else None)


# -- the city's token issuer -----------------------------------------------------------------------


def token_keys_request(issuer_url: str) -> HttpRequest:
    """Ask the token issuer for the election's token keys."""
    return HttpRequest("GET", _url(issuer_url, "keys"))


def parse_token_keys(answer: HttpResponse, election: Election) -> dict[str | None, TokenKey]:
    """The token keys the issuer publishes (check each against the chain before use).

    :raises ProtocolError: for a refusal or a malformed answer.
    """
    _raise_for_error(answer, what="token keys")
    body = answer.json_object(what="token keys")
    if body.get("election_id") != election.election_id:
        raise ProtocolError("the token keys are for another election", code="invalid_response")
    return _keys(body.get("keys"), election.election_id)


def token_nonce_request(issuer_url: str) -> HttpRequest:
    """Ask the token issuer for a nonce to bind the eligibility presentation to."""
    return HttpRequest("POST", _url(issuer_url, "nonce"), {}, b"")


def parse_token_nonce(answer: HttpResponse) -> str:
    """:raises ProtocolError: for a refusal (e.g. ``voting_closed``) or a malformed answer."""
    _raise_for_error(answer, what="token nonce")
    nonce = answer.json_object(what="token nonce").get("nonce")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= 128:
        raise ProtocolError("the token issuer's answer carries no nonce", code="invalid_response")
    return nonce


def token_request(issuer_url: str, pending: PendingToken, *, presentation: str, nonce: str) -> HttpRequest:
    """Ask for the blind signature: the eligibility presentation (key-bound to ``nonce`` and the
    issuer) and the blinded message. Nothing else about the token leaves the device."""
    body: dict[str, Any] = {
        "presentation": presentation,
        "nonce": nonce,
        "blinded_msg": b64url_encode(pending.blinded_msg),
    }
    return HttpRequest.json(_url(issuer_url, "sign"), body)


def parse_token_answer(answer: HttpResponse, pending: PendingToken) -> BallotToken:
    """Unblind the issuer's answer into the ballot token (checked under the committed key).

    :raises TokenAlreadyIssuedError, NotEligibleError, CredentialRevokedError: the issuer's refusal.
    :raises BallotTokenError: if the answer does not unblind to a valid signature.
    :raises ProtocolError: for any other refusal, with its code.
    """
    _raise_for_error(answer, what="ballot token")
    blind_sig = answer.json_object(what="ballot token").get("blind_sig")
    if not isinstance(blind_sig, str) or len(blind_sig) > 1024:
        raise BallotTokenError("the token issuer's answer carries no blind signature")
    try:
        raw = b64url_decode(blind_sig, what="blind_sig")
    except InvalidInputError:
        raise BallotTokenError("the token issuer's blind signature is not base64url") from None
    return finish_token(pending, raw)


# -- the ballot box ----------------------------------------------------------------------------------


def cast_request(base_url: str, token: BallotToken, ballot: BallotChoice) -> HttpRequest:
    """The request casting ``ballot`` with ``token``."""
    body: dict[str, Any] = {"token": dict(token.to_json()), "choice": ballot.choice, "salt": "0x" + ballot.salt.hex()}
    return HttpRequest.json(_url(base_url, "ballots"), body)


def parse_cast_answer(answer: HttpResponse, ballot: BallotChoice) -> BallotReceipt:
    """Read the receipt and check it is for the voter's own ballot.

    :raises AlreadyVotedError: if the token's serial was spent; :raises BallotTokenError: if the
        service refused the token; :raises ProtocolError: for another refusal (``voting_closed``…).
    :raises ProofInvalidError: (``commitment_mismatch``) if the receipt is for another ballot.
    """
    _raise_for_error(answer, what="ballot")
    receipt = BallotReceipt.from_json(answer.json_object(what="ballot receipt"))
    if (receipt.commitment, receipt.choice, receipt.election_id) != (
        ballot.commitment,
        ballot.choice,
        ballot.election_id,
    ):
        raise ProofInvalidError("the receipt is not for the ballot this voter cast", code="commitment_mismatch")
    return receipt


def proof_request(base_url: str, commitment: bytes) -> HttpRequest:
    """The request for a ballot's inclusion proof."""
    return HttpRequest("GET", _url(base_url, f"receipts/0x{commitment.hex()}"))


def parse_proof_answer(answer: HttpResponse) -> InclusionProof | None:
    """The inclusion proof, or ``None`` while the ballot's batch is not anchored.

    :raises ProtocolError: with the service's error code.
    """
    _raise_for_error(answer, what="inclusion proof")
    proof = answer.json_object(what="inclusion proof").get("proof")
    return InclusionProof.from_json(proof) if proof is not None else None
