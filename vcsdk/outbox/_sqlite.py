"""SQLite backend of the receipt outbox (aiosqlite, WAL): the default for one machine."""

from __future__ import annotations

from typing import ClassVar

from vcsdk._sql import SqliteMigrated
from vcsdk.outbox._store import SqlReceiptStore

__all__ = ["SqliteReceiptStore"]


class SqliteReceiptStore(SqlReceiptStore, SqliteMigrated):
    """The :class:`ReceiptStore` on one SQLite file in WAL mode; open with :meth:`open`.

    One connection in autocommit mode with ``synchronous=FULL``, so a receipt is on disk before
    :meth:`add_receipt` returns; an :class:`asyncio.Lock` keeps one statement or transaction at a time.
    """

    what = "the SQLite database"
    pragmas: ClassVar[tuple[str, ...]] = ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000")

    @classmethod
    async def open(cls, path: str) -> SqliteReceiptStore:
        """Open (creating if needed) the database at ``path`` and apply the outbox's migrations.

        :raises StorageError: if the file cannot be opened or prepared.
        """
        return await cls._open_file(path)
