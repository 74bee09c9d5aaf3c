"""One holder at a time for a job every instance runs (the receipt anchorer), through a database lease."""

from __future__ import annotations

import secrets
from datetime import timedelta

from wallet_server.services._common import Clock
from wallet_server.storage import ReplayCache

__all__ = ["Lease"]


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
