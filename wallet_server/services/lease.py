"""One holder at a time for a job every instance runs (the receipt anchorer).

On PostgreSQL the holder is whoever holds a session-level advisory lock on a connection of its own
(:class:`AdvisoryLock`): when the holder dies, its connection closes and the database releases the
lock at once, so a waiting instance takes over within moments. On SQLite, where every instance is on
one host, a lease row in the database (:class:`Lease`) does it, taken over once it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any, Protocol

import asyncpg

from vcsdk.errors import StorageError
from vcsdk.sql import PgTimeouts
from wallet_server.services._common import Clock
from wallet_server.storage import ReplayCache

__all__ = ["AdvisoryLock", "JobHolder", "Lease", "advisory_key"]

log = logging.getLogger("wallet_server.lease")
_PG_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
#: Pause after a failed attempt to connect and wait for the lock, doubling up to the maximum.
_RETRY_FIRST, _RETRY_MAX = 0.5, 10.0


class JobHolder(Protocol):
    """Decides whether this instance runs the next round of a job."""

    held: bool
    #: Set when this instance became the holder between rounds (the job need not wait for its timer).
    changed: asyncio.Event

    async def hold(self) -> bool:
        """Whether this instance holds the job now. :raises StorageError: if the database fails."""
        ...

    async def release(self) -> None:
        """Give the job up (a clean stop), so another instance takes it at once."""
        ...


class Lease:
    """A named lease in the shared database, renewed by its holder on every round.

    Every instance calls :meth:`hold` before each round of the job and runs the round only when it
    returns ``True``. The holder renews the lease each time; if it dies (``kill -9``, a lost host) or
    loses the database, it stops renewing and the first instance to call :meth:`hold` after
    ``ttl`` takes over. A holder that stops cleanly calls :meth:`release` so another takes over at once.

    :param store: the shared database.
    :param name: the job, e.g. ``receipt-anchorer``.
    :param ttl: how long a lease lasts without renewal; longer than one round and the pause between two.
    :param clock: returns the current UTC time.
    """

    def __init__(self, store: ReplayCache, name: str, *, ttl: timedelta, clock: Clock) -> None:
        self._store = store
        self.name = name
        self.ttl = ttl
        self._clock = clock
        #: This process's holder id (random: not a host name or address).
        self.holder = secrets.token_hex(8)
        self.held = False
        self.changed = asyncio.Event()

    async def hold(self) -> bool:
        """Take, renew or fail to get the lease. :raises StorageError: if the database fails."""
        now = self._clock()
        self.held = await self._store.take_lease(self.name, self.holder, until=now + self.ttl, now=now)
        return self.held

    async def release(self) -> None:
        if self.held:
            await self._store.release_lease(self.name, self.holder)
            self.held = False

    def __repr__(self) -> str:
        return f"Lease({self.name!r}, holder={self.holder!r}, held={self.held})"


def advisory_key(schema: str | None, name: str) -> int:
    """The 64-bit advisory lock key of job ``name`` in ``schema`` (instances of other schemas on the
    same database do not contend)."""
    digest = hashlib.sha256(f"vcsdk:{schema or 'public'}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock held on a dedicated connection.

    Every instance waits for the lock in the background (``pg_advisory_lock`` blocks in the database
    until the holder's session ends); the one that gets it holds the job for as long as its
    connection lives. When the holder is killed, its connection closes, PostgreSQL releases the lock,
    and the next waiting instance has it at once and sets :attr:`changed`. Before each round
    :meth:`hold` checks that the connection still answers (within the statement timeout); a holder
    that lost its database closes the connection, stops holding and waits again.

    :param dsn: the database.
    :param schema: the wallet's schema (part of the lock's key).
    :param name: the job, e.g. ``receipt-anchorer``.
    :param timeouts: bounds for connecting and for the liveness check.
    """

    def __init__(self, dsn: str, *, schema: str | None, name: str, timeouts: PgTimeouts) -> None:
        self._dsn = dsn
        self.name = name
        self.key = advisory_key(schema, name)
        self._timeouts = timeouts
        self._conn: Any = None
        self._waiter: asyncio.Task[None] | None = None
        self.held = False
        self.changed = asyncio.Event()

    async def hold(self) -> bool:
        """Whether this instance holds the lock now; starts waiting for it if not yet.

        :raises StorageError: if the holder's connection stopped answering (the lock is let go).
        """
        if self.held:
            try:
                await self._conn.fetchval("SELECT 1", timeout=self._timeouts.statement)
            except Exception as exc:  # any failure of the lock's connection (asyncpg raises several kinds)
                await self._drop()
                raise StorageError("the anchorer's lock connection failed; waiting for the lock again") from exc
            return True
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.create_task(self._wait_for_lock())
        return False

    async def _wait_for_lock(self) -> None:
        pause = _RETRY_FIRST
        while True:
            try:
                # No statement timeout on this connection: waiting for the lock is its whole job.
                self._conn = await asyncpg.connect(self._dsn, timeout=self._timeouts.connect)
                await self._conn.fetchval("SELECT pg_advisory_lock($1)", self.key)
            except (*_PG_ERRORS, TimeoutError):
                await self._close_conn()
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RETRY_MAX)
                continue
            self.held = True
            self.changed.set()
            return

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection fails to close in several ways
                await asyncio.wait_for(conn.close(), self._timeouts.connect)
            if not conn.is_closed():
                conn.terminate()

    async def _drop(self) -> None:
        self.held = False
        await self._close_conn()

    async def release(self) -> None:
        """Stop waiting and let the lock go (closing the connection ends the session that holds it)."""
        if self._waiter is not None:
            self._waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiter
            self._waiter = None
        await self._drop()

    def __repr__(self) -> str:
        return f"AdvisoryLock({self.name!r}, key={self.key}, held={self.held})"
