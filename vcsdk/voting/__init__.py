"""Internet voting: one resident one vote, and ballots that cannot be linked to voters.

See ``docs/voting.md`` for the flow and the trust model.

* The city: :class:`Election` (districts, voting age, period), :func:`assess_eligibility`,
  :class:`EligibilityIssuer` (resident registry check, one ``VotingEligibilityCredential`` per
  resident over OpenID4VCI) and :class:`BallotTokenIssuer` (one RFC 9474 blind signature per
  resident per election, on a key committed on chain), both remembering residents in a durable
  :class:`IssuanceLedger` (:class:`SqliteIssuanceLedger`, :class:`PostgresIssuanceLedger`);
  :func:`token_issuer_routes` mounts the token issuer in an aiohttp app.
* The voter's device (pure, no I/O): :func:`begin_token` checks the token key against its on-chain
  commitment and blinds a random serial, :func:`finish_token` unblinds the answer into a
  :class:`BallotToken`; :func:`prepare_ballot`, :func:`verify_ballot_receipt`; the request builders
  and parsers for the token issuer and the voting service (``*_request``, ``parse_*``).
* The voting service: :class:`VotingService` accepts one ballot per token (the serial is the
  double-vote key), stores it (:class:`SqliteBallotStore`, :class:`PostgresBallotStore`), anchors
  salted ballot commitments in Merkle batches (:class:`BallotAnchor`) and publishes every ballot
  with its token after the period; :func:`voting_routes` mounts it.
* Anyone: :func:`verify_published_election` (pure).

The pure parts import no I/O library; the service, stores, anchor, ledger and routes load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vcsdk.voting._ballot import (
    BallotChoice,
    BallotReceipt,
    ElectionTally,
    PublishedElectionJson,
    ballot_commitment,
    batch_tree,
    build_publication,
    prepare_ballot,
    tally,
    verify_ballot_receipt,
    verify_published_election,
)
from vcsdk.voting._client import (
    VotingInfo,
    cast_request,
    election_request,
    parse_cast_answer,
    parse_election_answer,
    parse_proof_answer,
    parse_token_answer,
    parse_token_keys,
    parse_token_nonce,
    proof_request,
    token_keys_request,
    token_nonce_request,
    token_request,
)
from vcsdk.voting._election import (
    DistrictRule,
    Election,
    EligibilityDecision,
    assess_eligibility,
    check_eligibility_claims,
)
from vcsdk.voting._issuer import EligibilityApplication, EligibilityIssuer, EligibilityOffered, NotEligible
from vcsdk.voting._ports import IssuanceLedger
from vcsdk.voting._token import (
    TOKEN_VARIANT,
    BallotToken,
    CommittedTokenKey,
    PendingToken,
    TokenKey,
    begin_token,
    check_token_key,
    finish_token,
    verify_ballot_token,
)
from vcsdk.voting._tokens import ELIGIBILITY_CLAIMS, BallotTokenIssuer, generate_token_keys

if TYPE_CHECKING:
    from vcsdk.voting._anchor import AnchoredBatch, BallotAnchor
    from vcsdk.voting._http import token_issuer_routes, voting_routes
    from vcsdk.voting._ledger import PostgresIssuanceLedger, SqliteIssuanceLedger
    from vcsdk.voting._service import VotingService
    from vcsdk.voting._store import BallotStore, PostgresBallotStore, SqliteBallotStore, StoredBallot, StoredBatch

#: Names whose modules do I/O (aiosqlite, asyncpg, web3, aiohttp), imported on first use.
_ANCHOR = frozenset({"AnchoredBatch", "BallotAnchor"})
_HTTP = frozenset({"token_issuer_routes", "voting_routes"})
_LEDGER = frozenset({"PostgresIssuanceLedger", "SqliteIssuanceLedger"})
_STORE = frozenset({"BallotStore", "PostgresBallotStore", "SqliteBallotStore", "StoredBallot", "StoredBatch"})


def __getattr__(name: str) -> object:
    if name in _ANCHOR:
        from vcsdk.voting import _anchor

        return getattr(_anchor, name)
    if name in _HTTP:
        from vcsdk.voting import _http

        return getattr(_http, name)
    if name in _LEDGER:
        from vcsdk.voting import _ledger

        return getattr(_ledger, name)
    if name in _STORE:
        from vcsdk.voting import _store

        return getattr(_store, name)
    if name == "VotingService":
        from vcsdk.voting._service import VotingService

        return VotingService
    raise AttributeError(f"module 'vcsdk.voting' has no attribute {name!r}")


__all__ = [
    "ELIGIBILITY_CLAIMS",
    "TOKEN_VARIANT",
    "AnchoredBatch",
    "BallotAnchor",
    "BallotChoice",
    "BallotReceipt",
    "BallotStore",
    "BallotToken",
    "BallotTokenIssuer",
    "CommittedTokenKey",
    "DistrictRule",
    "Election",
    "ElectionTally",
    "EligibilityApplication",
    "EligibilityDecision",
    "EligibilityIssuer",
    "EligibilityOffered",
    "IssuanceLedger",
    "NotEligible",
    "PendingToken",
    "PostgresBallotStore",
    "PostgresIssuanceLedger",
    "PublishedElectionJson",
    "SqliteBallotStore",
    "SqliteIssuanceLedger",
    "StoredBallot",
    "StoredBatch",
    "TokenKey",
    "VotingInfo",
    "VotingService",
    "assess_eligibility",
    "ballot_commitment",
    "batch_tree",
    "begin_token",
    "build_publication",
    "cast_request",
    "check_eligibility_claims",
    "check_token_key",
    "election_request",
    "finish_token",
    "generate_token_keys",
    "parse_cast_answer",
    "parse_election_answer",
    "parse_proof_answer",
    "parse_token_answer",
    "parse_token_keys",
    "parse_token_nonce",
    "prepare_ballot",
    "proof_request",
    "tally",
    "token_issuer_routes",
    "token_keys_request",
    "token_nonce_request",
    "token_request",
    "verify_ballot_receipt",
    "verify_ballot_token",
    "verify_published_election",
    "voting_routes",
]
