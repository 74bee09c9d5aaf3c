"""examples/voting_service.py runs as a user would run it and shows every step of the election."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "voting_service.py"
EXPECTED = [
    "KG-000101: no credential (outside_districts)",
    "TK-000202: no credential (not_active)",
    "eligibility credentials issued to 4 residents",
    "second token refused: token_already_issued",
    "second ballot with one token refused: already_voted",
    "revoked eligibility refused: credential_revoked",
    "forged token refused: invalid_ballot_token",
    "a token key other than the committed one is refused by the device: token_key_not_committed",
    "anchored 3 commitments in 1 batch(es) on chain",
    "inclusion verified against the on-chain root for 3 receipts",
    "tally: {'Sato': 2, 'Suzuki': 1, 'Takahashi': 0} (recomputed from the publication and the chain; "
    "3 tokens issued, 3 ballots)",
]


def test_voting_example_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for line in EXPECTED:
        assert line in proc.stdout, f"the example did not print {line!r}:\n{proc.stdout}"
    assert proc.stdout.count(": voted with serial ") == 3
    assert "Traceback" not in proc.stderr
