"""The issuance ledger on SQLite and PostgreSQL: one credential and one token per resident, durably."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vcsdk.errors import ConflictError, TokenAlreadyIssuedError

from .conftest import PG_DSN, LedgerOpener

E = "tsukuba-2026-mayor"


async def test_credentials_one_per_resident(open_ledger: LedgerOpener) -> None:
    ledger = await open_ledger()
    try:
        assert not await ledger.has_credential(E, "TK-1")
        await ledger.record_credential(E, "TK-1", credential_digest=b"\x01" * 32, status_index=77)
        await ledger.record_credential(E, "TK-2", credential_digest=b"\x02" * 32, status_index=None)
        await ledger.record_credential("other-election", "TK-1", credential_digest=b"\x01" * 32, status_index=5)
        with pytest.raises(ConflictError) as again:
            await ledger.record_credential(E, "TK-1", credential_digest=b"\x03" * 32, status_index=1)
        assert again.value.code == "already_issued"
        assert await ledger.has_credential(E, "TK-1")
        assert await ledger.status_index(E, "TK-1") == 77
        assert await ledger.status_index(E, "TK-2") is None
        assert await ledger.status_index(E, "TK-9") is None
        assert await ledger.resident_of(E, b"\x01" * 32) == "TK-1"
        assert await ledger.resident_of(E, b"\x09" * 32) is None
        assert await ledger.resident_of("other-election", b"\x02" * 32) is None
    finally:
        await ledger.close()


async def test_one_token_per_resident_survives_a_restart(open_ledger: LedgerOpener) -> None:
    ledger = await open_ledger()
    try:
        await ledger.claim_token(E, "TK-1", scope="", blinded_msg=b"first")
        await ledger.claim_token(E, "TK-1", scope="", blinded_msg=b"first")  # a retry gets the same answer
        with pytest.raises(TokenAlreadyIssuedError):
            await ledger.claim_token(E, "TK-1", scope="", blinded_msg=b"second")
        with pytest.raises(TokenAlreadyIssuedError):
            await ledger.claim_token(E, "TK-1", scope="tsukuba-a", blinded_msg=b"first")
        await ledger.claim_token("other-election", "TK-1", scope="", blinded_msg=b"second")
    finally:
        await ledger.close()
    restarted = await open_ledger()
    try:
        with pytest.raises(TokenAlreadyIssuedError):
            await restarted.claim_token(E, "TK-1", scope="", blinded_msg=b"third")
        await restarted.claim_token(E, "TK-1", scope="", blinded_msg=b"first")
        assert await restarted.tokens_issued(E) == 1
        assert await restarted.migrate() == []  # the migration ran once
    finally:
        await restarted.close()


async def test_twenty_concurrent_claims_across_two_instances_give_one(open_ledger: LedgerOpener) -> None:
    first, second = await open_ledger(), await open_ledger()
    try:
        claims = [
            (first if i % 2 else second).claim_token(E, "TK-1", scope="", blinded_msg=f"blinded-{i}".encode())
            for i in range(20)
        ]
        outcomes = await asyncio.gather(*claims, return_exceptions=True)
        assert sum(o is None for o in outcomes) == 1
        assert all(isinstance(o, TokenAlreadyIssuedError) for o in outcomes if o is not None)
        assert await first.tokens_issued(E) == 1
    finally:
        await first.close()
        await second.close()


_WORKER = """
import asyncio, json, sys
from vcsdk.errors import TokenAlreadyIssuedError
from vcsdk.voting._ledger import PostgresIssuanceLedger, SqliteIssuanceLedger

async def main(kind, where, schema, worker):
    ledger = await (SqliteIssuanceLedger.open(where) if kind == "sqlite"
                    else PostgresIssuanceLedger.open(where, schema=schema, max_size=5))
    if worker == "setup":
        await ledger.close()
        return
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()  # every process starts claiming at once
    async def claim(i):
        try:
            await ledger.claim_token("tsukuba-2026-mayor", "TK-1", scope="", blinded_msg=f"{worker}-{i}".encode())
            return True
        except TokenAlreadyIssuedError:
            return False
    won = await asyncio.gather(*(claim(i) for i in range(5)))
    await ledger.close()
    print(json.dumps(sum(won)))

asyncio.run(main(*sys.argv[1:4], sys.argv[4]))
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_twenty_claims_from_four_processes_give_one(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    where = str(tmp_path / "ledger.db") if kind == "sqlite" else PG_DSN
    schema = request.getfixturevalue("pg_schema") if kind == "postgres" else ""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    if kind == "sqlite":  # create the file and its tables first, so the workers only race on claims
        subprocess.run([sys.executable, "-c", _WORKER, kind, where, schema, "setup"], env=env, check=True,
                       capture_output=True, timeout=120)
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, kind, where, schema, str(n)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env=env, text=True)
        for n in range(4)
    ]
    try:
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        wins = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert sum(wins) == 1
