"""SQLite backend (aiosqlite, WAL): the default for one machine."""

from __future__ import annotations

import sqlite3
from typing import ClassVar

import aiosqlite

from vcsdk.errors import StorageError
from vcsdk.sql import SqliteMigrated
from wallet_server.storage._sql import SqlStore

__all__ = ["CHECKPOINT_BACKSTOP_PAGES", "SqliteStore"]

#: WAL pages after which a commit on the store's connection copies them back itself: a backstop
#: (about 16 MB of 4 KiB pages) for when :meth:`SqliteStore.checkpoint` is not called often enough.
CHECKPOINT_BACKSTOP_PAGES = 4000


class SqliteStore(SqlStore, SqliteMigrated):
    """The :class:`~wallet_server.storage.Store` on one SQLite file.

    One connection in autocommit mode; an :class:`asyncio.Lock` keeps one statement or transaction
    at a time on it, so a transaction never picks up another request's statements.
    Open with :meth:`open`; call :meth:`checkpoint` now and then (the server does, several times a
    second) so that requests' commits do not copy the WAL back into the database themselves.
    """

    what = "the SQLite database"
    pragmas: ClassVar[tuple[str, ...]] = (
        "journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL",
        f"wal_autocheckpoint={CHECKPOINT_BACKSTOP_PAGES}",
    )

    def __init__(self, db: aiosqlite.Connection) -> None:
        super().__init__(db)
        self._path: str | None = None
        self._checkpointer: aiosqlite.Connection | None = None

    @classmethod
    async def open(cls, path: str, *, migrate: bool = True) -> SqliteStore:
        """Open (creating if needed) the database file at ``path`` and apply migrations.

        :raises StorageError: if the file cannot be opened or prepared.
        """
        store = await cls._open_file(path, migrate=migrate)
        store._path = path
        return store

    async def checkpoint(self) -> None:
        """Copy the pages committed to the WAL back into the database file (a passive checkpoint).

        It runs on a connection of its own, beside the requests' statements: they neither wait for it
        nor do it themselves in a commit, where it took 10-20 ms (over 100 ms on a busy disk) every
        thousand pages, holding every request queued on the store's connection. A passive checkpoint
        takes no lock writers need; what a writer holds is copied on a later call.

        :raises StorageError: if the database fails.
        """
        if self._path is None:
            raise StorageError("the store was not opened from a file; open it with SqliteStore.open")
        try:
            if self._checkpointer is None:
                self._checkpointer = await aiosqlite.connect(self._path, isolation_level=None)
            async with self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)") as cursor:
                await cursor.fetchall()
        except sqlite3.Error as exc:
            raise StorageError("checkpointing the SQLite database failed; try again later") from exc

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
            self._checkpointer = None
        await super().close()
