"""SQLite backend (aiosqlite, WAL): the default for one machine."""

from __future__ import annotations

from typing import ClassVar

from vcsdk.sql import SqliteMigrated
from wallet_server.storage._sql import SqlStore

__all__ = ["SqliteStore"]


class SqliteStore(SqlStore, SqliteMigrated):
    """The :class:`~wallet_server.storage.Store` on one SQLite file.

    One connection in autocommit mode; an :class:`asyncio.Lock` keeps one statement or transaction
    at a time on it, so a transaction never picks up another request's statements.
    Open with :meth:`open`.
    """

    what = "the SQLite database"
    pragmas: ClassVar[tuple[str, ...]] = (
        "journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL"
    )

    @classmethod
    async def open(cls, path: str, *, migrate: bool = True) -> SqliteStore:
        """Open (creating if needed) the database file at ``path`` and apply migrations.

        :raises StorageError: if the file cannot be opened or prepared.
        """
        return await cls._open_file(path, migrate=migrate)
