"""Open a store from a database URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from vcsdk.errors import InvalidInputError
from vcsdk.sql import PgTimeouts
from wallet_server.storage._protocol import Store

__all__ = ["open_store"]


async def open_store(
    url: str, *, schema: str | None = None, timeouts: PgTimeouts | None = None, pool_size: int = 10
) -> Store:
    """Open and migrate the store a URL names.

    :param url: ``sqlite:///relative.db``, ``sqlite:////absolute/path.db`` or
        ``postgresql://user@host:5432/db``.
    :param schema: PostgreSQL only: keep the tables in this schema.
    :param timeouts: PostgreSQL only: statement, pool and connect timeouts.
    :param pool_size: PostgreSQL only: connections in the pool.
    :raises InvalidInputError: for another scheme.
    :raises StorageError: if the database cannot be opened.
    :return: a migrated store; close it with ``await store.close()``.
    """
    from wallet_server.storage._postgres import PostgresStore
    from wallet_server.storage._sqlite import SqliteStore

    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url[len("sqlite://") :]
        if path.startswith("/"):
            path = path[1:]
        if not path:
            raise InvalidInputError("a sqlite URL needs a file: sqlite:///wallet.db")
        return await SqliteStore.open(path)
    if scheme in ("postgres", "postgresql"):
        return await PostgresStore.open(url, schema=schema, timeouts=timeouts, max_size=pool_size)
    raise InvalidInputError("the database URL must start with sqlite:// or postgresql://")
