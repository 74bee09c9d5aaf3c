"""The anchorer's PostgreSQL advisory lock: one holder at a time, and a holder killed with SIGKILL
frees it at once (its connection dies, the database ends its session), not after a lease expires."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import textwrap
import time

import asyncpg
import pytest

from tests.wallet_server.conftest import PG_DSN
from vcsdk._sql import PgTimeouts
from vcsdk.errors import StorageError
from wallet_server.services.lease import AdvisoryLock, advisory_key

TIMEOUTS = PgTimeouts(statement=2.0, acquire=2.0, connect=2.0)

_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from vcsdk._sql import PgTimeouts
    from wallet_server.services.lease import AdvisoryLock

    async def main() -> None:
        lock = AdvisoryLock(sys.argv[1], schema=sys.argv[2], name="receipt-anchorer", timeouts=PgTimeouts())
        await lock.hold()
        await asyncio.wait_for(lock.changed.wait(), 30)
        assert await lock.hold()
        print("held", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def _until_held(lock: AdvisoryLock, seconds: float) -> bool:
    await lock.hold()
    try:
        await asyncio.wait_for(lock.changed.wait(), seconds)
    except TimeoutError:
        return False
    return await lock.hold()


def test_the_key_depends_on_schema_and_job() -> None:
    assert advisory_key("a", "receipt-anchorer") == advisory_key("a", "receipt-anchorer")
    assert advisory_key("a", "receipt-anchorer") != advisory_key("b", "receipt-anchorer")
    assert advisory_key(None, "receipt-anchorer") != advisory_key("a", "other")
    assert -(2**63) <= advisory_key("a", "x") < 2**63


async def test_one_holder_and_a_clean_release_hands_over() -> None:
    schema = f"lock_{secrets.token_hex(4)}"
    first = AdvisoryLock(PG_DSN, schema=schema, name="receipt-anchorer", timeouts=TIMEOUTS)
    second = AdvisoryLock(PG_DSN, schema=schema, name="receipt-anchorer", timeouts=TIMEOUTS)
    elsewhere = AdvisoryLock(PG_DSN, schema=schema + "x", name="receipt-anchorer", timeouts=TIMEOUTS)
    try:
        assert await _until_held(first, 10)
        assert not await _until_held(second, 1.0)  # waits in the database while first holds
        assert await _until_held(elsewhere, 10)  # another schema's anchorer is another lock
        await first.release()
        assert not first.held
        assert await _until_held(second, 10)
    finally:
        for lock in (first, second, elsewhere):
            await lock.release()


async def test_a_holder_whose_connection_dies_stops_holding() -> None:
    schema = f"lock_{secrets.token_hex(4)}"
    lock = AdvisoryLock(PG_DSN, schema=schema, name="receipt-anchorer", timeouts=TIMEOUTS)
    other = AdvisoryLock(PG_DSN, schema=schema, name="receipt-anchorer", timeouts=TIMEOUTS)
    try:
        assert await _until_held(lock, 10)
        admin = await asyncpg.connect(PG_DSN)
        try:
            # The database ends the holder's session (a restart, a failover, an operator).
            pid = lock._conn.get_server_pid()
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        with pytest.raises(StorageError):
            await lock.hold()
        assert not lock.held
        assert await _until_held(other, 10)
        assert not await _until_held(lock, 1.0)  # it waits again, behind the new holder
    finally:
        await lock.release()
        await other.release()


async def test_kill_9_of_the_holder_frees_the_lock_at_once() -> None:
    schema = f"lock_{secrets.token_hex(4)}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, PG_DSN, schema], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    waiting = AdvisoryLock(PG_DSN, schema=schema, name="receipt-anchorer", timeouts=TIMEOUTS)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
        assert line.strip() == "held", proc.stderr.read() if proc.stderr else ""
        assert not await _until_held(waiting, 1.0)
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        proc.wait()
        # No lease to expire: the waiting instance has the lock as soon as the session is gone.
        await asyncio.wait_for(waiting.changed.wait(), 10)
        assert await waiting.hold()
        assert time.monotonic() - killed < 3.0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes its pipes
        await waiting.release()
