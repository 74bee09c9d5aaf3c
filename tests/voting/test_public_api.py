"""vcsdk.voting's public names are pinned, and its pure part imports no I/O library."""

from __future__ import annotations

import json
import subprocess
import sys

import vcsdk.voting

EXPECTED = [
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
    "NotEligible",
    "PublishedElectionJson",
    "SqliteBallotStore",
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
FORBIDDEN = ("web3", "aiohttp", "sqlite3", "aiosqlite", "asyncpg", "zeep", "httpx", "eth_tester")


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert vcsdk.voting.__all__ == EXPECTED
    for name in EXPECTED:
        assert getattr(vcsdk.voting, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    try:
        vcsdk.voting.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("expected AttributeError")


def test_auditors_can_check_an_election_without_io_libraries() -> None:
    code = (
        "import json, sys\n"
        "from vcsdk.voting import verify_published_election, verify_ballot_receipt, Election\n"
        f"print(json.dumps(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
