"""``vcsdk voting verify``: recount a publication and check it against a real anvil node."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vcsdk._cli import main
from vcsdk.registry import DevChain, DevNode
from vcsdk.voting import BallotAnchor, batch_tree, build_publication, prepare_ballot

from ._mint import mint, token_key
from ._town import tsukuba_election

ELECTION = tsukuba_election()
KEY = token_key(ELECTION)


async def _publish(url: str, choices: list[str]) -> dict:
    async with await DevChain.connect(url, timeout=10.0, mine_to_confirm=True) as chain:
        sender = (await chain.dev_accounts())[0]
        anchor = await BallotAnchor.deploy(chain, sender=sender)
        await anchor.commit_token_key(KEY)
        # An election opening after the commitment's block (anvil runs on the wall clock).
        now = datetime.fromtimestamp((await chain.get_block("latest")).timestamp, UTC)
        election = replace(ELECTION, opens_at=now + timedelta(hours=1), closes_at=now + timedelta(days=1))
        ballots = [prepare_ballot(ELECTION, c) for c in choices]
        rows, batches = [], []
        for part in (ballots[:2], ballots[2:]):
            tree, _ = batch_tree(b.commitment for b in part)
            done = await anchor.anchor(tree.batch_id, tree.root, tree.size)
            rows += [(b.commitment, b.choice, b.salt, tree.batch_id, mint(KEY, ELECTION)) for b in part]
            batches.append((tree.batch_id, tree.root, tree.size, done.tx_hash, done.block_number))
        return dict(build_publication(election, ballots=rows, batches=batches, token_keys=[KEY],
                                      chain_id=int(chain.chain_id), contract=anchor.address))


@pytest.mark.integration
def test_verify_a_publication_on_anvil(anvil_node: DevNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    published = asyncio.run(_publish(anvil_node.url, ["Sato", "Suzuki", "Sato"]))
    results = tmp_path / "results.json"
    results.write_text(json.dumps(published))
    assert main(["voting", "verify", str(results), "--rpc-url", anvil_node.url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["verified"] is True and shown["tally"] == {"Sato": 2, "Suzuki": 1, "Takahashi": 0}
    assert (shown["ballots"], shown["batches"]) == (3, 2)

    # One changed choice: exit 1 with the check's code.
    published["ballots"][0]["choice"] = "Takahashi" if published["ballots"][0]["choice"] != "Takahashi" else "Sato"
    results.write_text(json.dumps(published))
    assert main(["voting", "verify", str(results), "--rpc-url", anvil_node.url]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "commitment_mismatch"

    # Results that claim another chain.
    results.write_text(json.dumps({**published, "anchor": {**published["anchor"], "chain_id": 1}}))
    assert main(["voting", "verify", str(results), "--rpc-url", anvil_node.url]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "wrong_chain_id"


@pytest.mark.parametrize("body", ["[]", "{}", '{"anchor": {"contract": "0x00"}}', "not json"])
def test_malformed_results_are_refused_before_any_network_call(
    body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.json"
    results.write_text(body)
    assert main(["voting", "verify", str(results), "--rpc-url", "http://127.0.0.1:9"]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] in {"invalid_input", "invalid_token"}
