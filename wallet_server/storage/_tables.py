"""What the table groups beside the core store share: they run on the store's own connections."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Self

from vcsdk.errors import InvalidInputError
from vcsdk.sql import PostgresConn, SqliteConn
from wallet_server.storage._protocol import Store
from wallet_server.storage._sql import SqlStore

__all__ = ["StoreTables"]


class StoreTables:
    """Queries for a group of tables, run on the connections of an open store: the same database,
    pool, migrations and transactions (:class:`~wallet_server.storage.WalletDataStore`,
    :class:`~wallet_server.storage.CityDataStore`, :class:`~wallet_server.storage.ElectionDataStore`).

    :param store: an open :class:`~wallet_server.storage.SqliteStore` or ``PostgresStore``.
    :raises InvalidInputError: for any other store.
    """

    #: What the tables are called in the error for a store without SQL (``"elections"``).
    what: ClassVar[str]

    def __init__(self, store: Store) -> None:
        if not isinstance(store, SqlStore):
            raise InvalidInputError(f"{self.what} need the SQLite or PostgreSQL store")
        self._store = store

    async def _fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return await self._store._fetch(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> int:
        return await self._store._execute(sql, *args)

    def transaction(self) -> AbstractAsyncContextManager[SqliteConn | PostgresConn]:
        """A transaction of the store's database (see :meth:`vcsdk.sql.MigratedSql.transaction`);
        these tables, the core store and the receipt outbox join it with ``joined(conn)``."""
        return self._store.transaction()

    def joined(self, conn: SqliteConn | PostgresConn) -> Self:
        """These tables' queries inside the transaction of ``conn``, which commits or rolls them back.

        :raises InvalidInputError: if ``conn`` is a connection of the other SQL dialect.
        """
        return type(self)(self._store.joined(conn))
