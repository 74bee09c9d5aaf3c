"""``vcsdk voting``: check a published election against the chain and recount it."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk._json import parse_json_object
from vcsdk.errors import ChainIdMismatchError, InvalidInputError

MAX_RESULTS_BYTES = 256 * 1024 * 1024


def register(sub: Any) -> None:
    voting = sub.add_parser("voting", help="elections: recount a published election and check it on chain")
    v = voting.add_subparsers(dest="voting_command", metavar="ACTION", required=True)
    verify = v.add_parser(
        "verify", help="recount RESULTS.json and check every ballot against the roots on chain (exit 0 if it holds)"
    )
    verify.add_argument("results", type=Path, help="the publication (GET <voting service>/results)")
    verify.add_argument("--rpc-url", required=True, help="JSON-RPC URL of an Ethereum node")
    verify.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    from vcsdk.voting import verify_published_election

    published = parse_json_object(args.results.read_bytes(), what="RESULTS.json", max_bytes=MAX_RESULTS_BYTES)
    anchor = published.get("anchor")
    if not isinstance(anchor, dict) or not isinstance(anchor.get("contract"), str):
        raise InvalidInputError("RESULTS.json names no anchor contract")
    chain_id = anchor.get("chain_id")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int):
        raise InvalidInputError("RESULTS.json names no chain id")
    keys = _token_keys(published.get("token_keys"))
    roots, committed_at = asyncio.run(_chain_facts(args.rpc_url, anchor["contract"], chain_id, keys))
    tally = verify_published_election(published, anchored=roots, committed_at=committed_at)
    print_json(
        {
            "verified": True,
            "election_id": tally.election.election_id,
            "tally": dict(tally.counts),
            "ballots": tally.ballots,
            "batches": tally.batches,
            "contract": anchor["contract"],
            "chain_id": chain_id,
        }
    )
    return 0


def _token_keys(value: object) -> list[Any]:
    from vcsdk.voting import TokenKey

    if not isinstance(value, list) or not 0 < len(value) <= 256:
        raise InvalidInputError("RESULTS.json lists no token keys")
    return [TokenKey.from_json(v) for v in value]


async def _chain_facts(
    rpc_url: str, address: str, chain_id: int, keys: list[Any]
) -> tuple[dict[bytes, bytes], dict[bytes, datetime]]:
    """Everything anchored in the election's contract, and when each token key was committed."""
    from vcsdk.registry import Chain
    from vcsdk.voting import BallotAnchor

    async with await Chain.connect(rpc_url) as chain:
        if int(chain.chain_id) != chain_id:
            raise ChainIdMismatchError("the node serves another chain than the one the results were anchored on")
        anchor = BallotAnchor(chain, address)
        return await anchor.anchored_roots(), await anchor.token_key_commitments(keys)
