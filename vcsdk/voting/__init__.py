"""Internet voting with verifiable credentials: one resident one vote, ballot secrecy towards the
voting service, and ballots anchored on chain. See ``docs/voting.md`` for the trust model.

* The city: :class:`Election` (districts, voting age, period), :func:`assess_eligibility`, and
  :class:`EligibilityIssuer`, which checks the resident registry and issues a
  ``VotingEligibilityCredential`` through OpenID4VCI.
* The voting service: :class:`VotingService` asks by OpenID4VP for the four eligibility claims
  only, spends a per-election nullifier derived from the credential, stores ballots apart from
  anything about the voter (:class:`SqliteBallotStore`), anchors salted ballot commitments in Merkle
  batches (:class:`BallotAnchor`) and publishes the ballots and tally after the period;
  :func:`voting_routes` mounts it in an aiohttp app.
* Voters and auditors: :func:`prepare_ballot`, :func:`verify_ballot_receipt` and
  :func:`verify_published_election` (pure; no I/O).

The pure parts import no I/O library; the service, store, anchor and routes load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vcsdk.voting._ballot import (
    BallotChoice,
    BallotReceipt,
    ElectionTally,
    PublishedElectionJson,
    ballot_commitment,
    ballot_nullifier,
    batch_tree,
    build_publication,
    prepare_ballot,
    tally,
    verify_ballot_receipt,
    verify_published_election,
)
from vcsdk.voting._election import (
    DistrictRule,
    Election,
    EligibilityDecision,
    assess_eligibility,
    check_eligibility_claims,
)
from vcsdk.voting._issuer import EligibilityApplication, EligibilityIssuer, EligibilityOffered, NotEligible

if TYPE_CHECKING:
    from vcsdk.voting._anchor import AnchoredBatch, BallotAnchor
    from vcsdk.voting._http import (
        ballot_token_from_redirect,
        cast_request,
        parse_cast_answer,
        parse_proof_answer,
        proof_request,
        voting_routes,
    )
    from vcsdk.voting._ledger import IssuanceLedger, PostgresIssuanceLedger, SqliteIssuanceLedger
    from vcsdk.voting._service import ELIGIBILITY_QUERY_ID, VotingService, eligibility_query
    from vcsdk.voting._store import SqliteBallotStore, StoredBallot, StoredBatch

#: Names whose modules do I/O (aiosqlite, web3, aiohttp), imported on first use.
_LAZY = {
    "AnchoredBatch": "_anchor",
    "BallotAnchor": "_anchor",
    "ELIGIBILITY_QUERY_ID": "_service",
    "IssuanceLedger": "_ledger",
    "PostgresIssuanceLedger": "_ledger",
    "SqliteIssuanceLedger": "_ledger",
    "SqliteBallotStore": "_store",
    "StoredBallot": "_store",
    "StoredBatch": "_store",
    "VotingService": "_service",
    "ballot_token_from_redirect": "_http",
    "cast_request": "_http",
    "eligibility_query": "_service",
    "parse_cast_answer": "_http",
    "parse_proof_answer": "_http",
    "proof_request": "_http",
    "voting_routes": "_http",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vcsdk.voting' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"vcsdk.voting.{module}"), name)


__all__ = [
    "ELIGIBILITY_QUERY_ID",
    "AnchoredBatch",
    "BallotAnchor",
    "BallotChoice",
    "BallotReceipt",
    "DistrictRule",
    "Election",
    "ElectionTally",
    "EligibilityApplication",
    "EligibilityDecision",
    "EligibilityIssuer",
    "EligibilityOffered",
    "IssuanceLedger",
    "NotEligible",
    "PostgresIssuanceLedger",
    "PublishedElectionJson",
    "SqliteBallotStore",
    "SqliteIssuanceLedger",
    "StoredBallot",
    "StoredBatch",
    "VotingService",
    "assess_eligibility",
    "ballot_commitment",
    "ballot_nullifier",
    "ballot_token_from_redirect",
    "batch_tree",
    "build_publication",
    "cast_request",
    "check_eligibility_claims",
    "eligibility_query",
    "parse_cast_answer",
    "parse_proof_answer",
    "prepare_ballot",
    "proof_request",
    "tally",
    "verify_ballot_receipt",
    "verify_published_election",
    "voting_routes",
]
