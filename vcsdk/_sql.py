"""Connections, transactions and migrations for the SQL stores (receipt outbox, wallet server, voting
ledger and ballot box), in one place.

Each store keeps its own schema and queries; what they share is how a statement runs on aiosqlite or
asyncpg, how a transaction is opened and closed, how driver errors become
:class:`~vcsdk.errors.StorageError` (never a driver exception, never the SQL or its values), how a
PostgreSQL pool is opened in its own schema, and how numbered migration files are applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, ClassVar, Protocol, Self

import aiosqlite
import asyncpg

from vcsdk.errors import ConflictError, InvalidInputError, StorageError

__all__ = ["MigratedSql", "Migration", "PgTimeouts", "PostgresConn", "PostgresMigrated", "SqliteConn",
           "SqliteMigrated", "apply_migrations", "load_migrations", "numbered_placeholders", "open_pg_pool",
           "pg_connection", "pg_transaction", "sqlite_connection", "sqlite_transaction"]

_CONFLICT = "the record conflicts with one that is stored"
_FAILED = "the database failed; try again later"
#: What asyncpg raises when the server or the connection fails, besides SQL errors.
_PG_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class SqliteConn:
    """One aiosqlite connection, used by one statement or transaction at a time."""

    __slots__ = ("_db",)

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._db.execute(sql, args) as cursor:
            return cursor.rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self._db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())


class PostgresConn:
    """One pooled asyncpg connection; ``rewrite`` adapts a store's SQL (e.g. ``?`` to ``$1``)."""

    __slots__ = ("_conn", "_rewrite")

    def __init__(self, conn: Any, *, rewrite: Callable[[str], str] | None = None) -> None:
        self._conn = conn
        self._rewrite = rewrite

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._conn.execute(self._rewrite(sql) if self._rewrite else sql, *args)
        # asyncpg returns the command tag, e.g. "UPDATE 1" or "INSERT 0 1".
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return [tuple(r) for r in await self._conn.fetch(self._rewrite(sql) if self._rewrite else sql, *args)]


def _sqlite_error(exc: sqlite3.Error) -> StorageError:
    return ConflictError(_CONFLICT) if isinstance(exc, sqlite3.IntegrityError) else StorageError(_FAILED)


def _pg_error(exc: BaseException) -> StorageError:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return ConflictError(_CONFLICT)
    return StorageError(_FAILED)


@asynccontextmanager
async def sqlite_connection(db: aiosqlite.Connection, lock: asyncio.Lock) -> AsyncIterator[SqliteConn]:
    """Run statements in autocommit mode, one caller at a time.

    :raises ConflictError: on a constraint violation; :raises StorageError: on any other failure.
    """
    async with lock:
        try:
            yield SqliteConn(db)
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc


@asynccontextmanager
async def sqlite_transaction(db: aiosqlite.Connection, lock: asyncio.Lock) -> AsyncIterator[SqliteConn]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception), one caller at a time.

    :raises ConflictError: on a constraint violation; :raises StorageError: on any other failure.
    """
    async with lock:
        try:
            await db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc
        try:
            yield SqliteConn(db)
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):  # the original error is the one to report
                await db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _sqlite_error(exc) from exc
            raise
        else:
            try:
                await db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                raise _sqlite_error(exc) from exc


@asynccontextmanager
async def _joined(conn: SqliteConn | PostgresConn) -> AsyncIterator[SqliteConn | PostgresConn]:
    """A statement or transaction of a joined store: on the connection of the caller's transaction,
    which commits or rolls back; driver errors become :class:`StorageError` as on any connection."""
    try:
        yield conn
    except sqlite3.Error as exc:
        raise _sqlite_error(exc) from exc
    except _PG_ERRORS as exc:
        raise _pg_error(exc) from exc


async def _acquire(pool: Any, timeout: float | None) -> Any:
    # asyncio.timeout arms one timer; asyncpg's own acquire timeout runs a task per acquire.
    if timeout is None:
        return await pool.acquire()
    async with asyncio.timeout(timeout):
        return await pool.acquire()


@asynccontextmanager
async def pg_connection(
    pool: Any, *, rewrite: Callable[[str], str] | None = None, acquire_timeout: float | None = None
) -> AsyncIterator[PostgresConn]:
    """A pooled connection in autocommit mode.

    :param acquire_timeout: seconds to wait for a free connection (``None``: as long as it takes).
    :raises ConflictError: on a constraint violation; :raises StorageError: on any other failure,
        including an unreachable server.
    """
    try:
        conn = await _acquire(pool, acquire_timeout)
        try:
            yield PostgresConn(conn, rewrite=rewrite)
        finally:
            await pool.release(conn)
    except _PG_ERRORS as exc:  # TimeoutError is an OSError
        raise _pg_error(exc) from exc


@asynccontextmanager
async def pg_transaction(
    pool: Any, *, rewrite: Callable[[str], str] | None = None, acquire_timeout: float | None = None
) -> AsyncIterator[PostgresConn]:
    """A pooled connection inside one transaction (rolled back on any exception).

    :raises ConflictError: on a constraint violation; :raises StorageError: on any other failure.
    """
    try:
        conn = await _acquire(pool, acquire_timeout)
        try:
            async with conn.transaction():
                yield PostgresConn(conn, rewrite=rewrite)
        finally:
            await pool.release(conn)
    except _PG_ERRORS as exc:
        raise _pg_error(exc) from exc


# -- PostgreSQL pools ---------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PLACEHOLDER = re.compile(r"\?")


@functools.lru_cache(maxsize=2048)
def numbered_placeholders(sql: str) -> str:
    """Our queries use ``?``; asyncpg wants ``$1, $2, …`` (no query has a literal ``?``).

    Kept per query text (bounded): the stores' queries are constants, rewritten on every statement.
    """
    counter = iter(range(1, 1000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


@dataclass(frozen=True, slots=True)
class PgTimeouts:
    """How long a PostgreSQL caller may wait, in seconds; a frozen or unreachable server then
    fails the call with :class:`~vcsdk.errors.StorageError` instead of holding it.

    :param statement: one statement (the server's ``statement_timeout`` and the client's command
        timeout, which also covers a server that stopped answering).
    :param acquire: waiting for a free pooled connection.
    :param connect: opening a new connection.
    """

    statement: float = 5.0
    acquire: float = 5.0
    connect: float = 5.0

    def __post_init__(self) -> None:
        if min(self.statement, self.acquire, self.connect) <= 0:
            raise InvalidInputError("PostgreSQL timeouts must be positive")


async def _keep_session(conn: Any) -> None:
    """Pool reset: the stores change no session state, so a released connection needs no ``RESET
    ALL`` round trip (asyncpg still rolls back an open transaction first)."""


async def open_pg_pool(
    dsn: str,
    *,
    schema: str | None = None,
    min_size: int = 1,
    max_size: int = 10,
    timeouts: PgTimeouts | None = None,
) -> Any:
    """An asyncpg pool on ``dsn``, its ``search_path`` set to ``schema`` (created if missing).

    :param timeouts: bounds for every statement of the pool; ``None`` for a pool without them
        (one that runs migrations, which may take as long as they need).
    :raises InvalidInputError: if ``schema`` is not a lowercase SQL identifier.
    :raises StorageError: if the database cannot be reached.
    """
    settings: dict[str, str] = {}
    if schema is not None:
        if _IDENTIFIER.fullmatch(schema) is None:
            raise InvalidInputError("the PostgreSQL schema must be a lowercase identifier")
        settings["search_path"] = schema
    options: dict[str, Any] = {}
    if timeouts is not None:
        settings["statement_timeout"] = str(int(timeouts.statement * 1000))
        # A transaction left open by a client that stopped answering releases its locks.
        settings["idle_in_transaction_session_timeout"] = str(int(timeouts.statement * 2000))
        # The client gives the server a little longer than its own statement timeout to report it.
        options = {"command_timeout": timeouts.statement + 1.0, "timeout": timeouts.connect}
    try:
        if schema is not None:
            conn = await asyncpg.connect(dsn, timeout=timeouts.connect if timeouts else 60.0)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            finally:
                await conn.close()
        return await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, server_settings=settings, reset=_keep_session, **options
        )
    except _PG_ERRORS as exc:
        raise StorageError("cannot connect to PostgreSQL; check the database URL and that it is running") from exc


# -- migrations -------------------------------------------------------------------------------------

#: ``NNNN_name.sql`` (portable) or ``NNNN_name.<dialect>.sql`` (replaces it for one dialect).
_MIGRATION_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)(?:\.(sqlite|postgres))?\.sql")

Migration = tuple[int, str, list[str]]


class _Conn(Protocol):
    async def execute(self, sql: str, *args: Any) -> int: ...

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]: ...


def load_migrations(folder: Traversable, dialect: str) -> list[Migration]:
    """The numbered migrations in ``folder`` for ``dialect``: ``(version, name, statements)`` in order.

    ``NNNN_name.sql`` is portable; ``NNNN_name.<dialect>.sql`` replaces it for one dialect. Lines
    starting with ``--`` are comments; statements are separated by ``;``.
    """
    chosen: dict[int, tuple[str, str, bool]] = {}
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is None or (match.group(3) is not None and match.group(3) != dialect):
            continue
        version, specific = int(match.group(1)), match.group(3) is not None
        if version in chosen and chosen[version][2] == specific:
            # Two files for one version (two branches numbered theirs alike): applying either one
            # alone would silently skip the other's tables.
            raise InvalidInputError(f"two migrations are numbered {version:04d}; renumber one")
        if version in chosen and chosen[version][2] and not specific:
            continue
        chosen[version] = (match.group(2), entry.read_text(encoding="utf-8"), specific)
    out = []
    for version in sorted(chosen):
        name, text, _ = chosen[version]
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        statements = [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
        out.append((version, name, statements))
    return out


async def apply_migrations(conn: _Conn, migrations: Sequence[Migration], *, table: str, applied_at: int) -> list[int]:
    """Apply the migrations ``table`` does not list yet, inside the caller's transaction.

    :param table: the bookkeeping table (a constant of the store; created if missing).
    :param applied_at: the time written next to each version (seconds since the epoch).
    :return: the versions applied now.
    """
    if _IDENTIFIER.fullmatch(table) is None:
        raise InvalidInputError("the migrations table must be a lowercase identifier")
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} "
        "(version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
    )
    done = {int(r[0]) for r in await conn.fetch(f"SELECT version FROM {table}")}  # noqa: S608 - constant name
    applied: list[int] = []
    for version, name, statements in migrations:
        if version in done:
            continue
        for statement in statements:
            await conn.execute(statement)
        await conn.execute(
            f"INSERT INTO {table} (version, name, applied_at) VALUES (?, ?, ?)",  # noqa: S608 - constant name
            version, name, applied_at,
        )
        applied.append(version)
    return applied


# -- stores with numbered migrations ---------------------------------------------------------------------


class MigratedSql:
    """Shared by the stores that keep their schema in numbered migration files: running statements,
    applying the migrations, and opening a SQLite file or a PostgreSQL pool ready for use.

    A store subclasses :class:`SqliteMigrated` or :class:`PostgresMigrated` together with a class of
    its queries, and names its migrations folder, bookkeeping table and advisory lock.
    """

    dialect: ClassVar[str] = "sql"
    #: ``(package, folder, …)``: where the ``NNNN_name[.dialect].sql`` files are.
    migrations: ClassVar[tuple[str, ...]]
    migrations_table: ClassVar[str]
    #: A PostgreSQL advisory lock id, the same for every process migrating this store.
    migration_lock: ClassVar[int]

    def _conn(self) -> AbstractAsyncContextManager[SqliteConn | PostgresConn]:
        raise NotImplementedError

    def _tx(self) -> AbstractAsyncContextManager[SqliteConn | PostgresConn]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def _fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self._conn() as conn:
            return await conn.fetch(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> int:
        async with self._conn() as conn:
            return await conn.execute(sql, *args)

    def transaction(self) -> AbstractAsyncContextManager[SqliteConn | PostgresConn]:
        """One transaction on this store's database (committed at the end, rolled back on any
        exception); other stores of the same database take part in it through :meth:`joined`.

        :raises StorageError: if the database fails (nothing of the transaction is kept).
        """
        return self._tx()

    def joined(self, conn: SqliteConn | PostgresConn) -> Self:
        """This store with its statements run on ``conn``, the connection of a :meth:`transaction`
        open on the same database: what several stores write there commits together or not at all.

        The store's own transactions become part of the caller's, so a failure anywhere in it rolls
        back every store's writes. Use the joined store only inside that ``async with`` block.

        :raises InvalidInputError: if ``conn`` is a connection of the other SQL dialect.
        """
        if not isinstance(conn, SqliteConn if self.dialect == "sqlite" else PostgresConn):
            raise InvalidInputError(f"a {self.dialect} store cannot join a transaction of another database")
        clone = copy.copy(self)

        def on_conn() -> AbstractAsyncContextManager[SqliteConn | PostgresConn]:
            return _joined(conn)

        # Instance attributes before the class's methods: every query of the store, whichever
        # backend class defines its connections, runs on ``conn``.
        vars(clone).update(_conn=on_conn, _tx=on_conn)
        return clone

    @classmethod
    def migration_files(cls, dialect: str) -> list[Migration]:
        """The store's numbered migrations for ``dialect``, in order (see :func:`load_migrations`)."""
        package, *parts = cls.migrations
        folder = resources.files(package)
        for part in parts:
            folder = folder.joinpath(part)
        return load_migrations(folder, dialect)

    async def migrate(self) -> list[int]:
        """Apply the migrations this database lacks, in one transaction.

        :return: the versions applied now.
        """
        async with self._tx() as conn:
            if self.dialect == "postgres":  # processes starting at once migrate one after the other
                await conn.fetch("SELECT pg_advisory_xact_lock(?)", self.migration_lock)
            return await apply_migrations(
                conn, self.migration_files(self.dialect), table=self.migrations_table, applied_at=int(time.time()),
            )


class SqliteMigrated(MigratedSql):
    """A store on one SQLite file: one aiosqlite connection, one statement or transaction at a time."""

    dialect = "sqlite"
    #: What the store is called in error messages (``"the ballot database"``).
    what: ClassVar[str] = "the database"
    #: Run on the connection when the file is opened, before the migrations.
    pragmas: ClassVar[tuple[str, ...]] = ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000",
                                          "secure_delete=ON")

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def _open_file(cls, path: str, *, migrate: bool = True) -> Self:
        """Open (creating if needed) the file, run :attr:`pragmas` and (unless not ``migrate``) apply
        the migrations.

        :raises StorageError: if the file cannot be opened or prepared.
        :raises InvalidInputError: if two migrations share a number.
        """
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open {cls.what}; check the path and its permissions") from exc
        store = cls(db)
        try:
            for pragma in cls.pragmas:
                async with db.execute(f"PRAGMA {pragma}") as cursor:
                    await cursor.fetchall()
            if migrate:
                await store.migrate()
        except BaseException as exc:
            await db.close()
            if isinstance(exc, (sqlite3.Error, StorageError)):
                raise StorageError(f"cannot prepare {cls.what}") from exc
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    def _conn(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_connection(self._db, self._lock)

    def _tx(self) -> AbstractAsyncContextManager[SqliteConn]:
        return sqlite_transaction(self._db, self._lock)


class PostgresMigrated(MigratedSql):
    """A store on PostgreSQL through an asyncpg pool (``?`` placeholders rewritten)."""

    dialect = "postgres"

    def __init__(self, pool: Any, *, acquire_timeout: float | None = None) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout

    @classmethod
    async def _open_pool(
        cls,
        dsn: str,
        *,
        schema: str | None,
        max_size: int,
        min_size: int = 1,
        timeouts: PgTimeouts | None = None,
        migrate: bool = True,
    ) -> Self:
        """Connect a pool in ``schema`` (created if missing) and (unless not ``migrate``) apply the
        migrations.

        :param timeouts: bounds for the pool's statements, waits and connects; the migrations then
            run first on a connection of their own without them (they may take as long as they need).
        :raises InvalidInputError: if ``schema`` is not a lowercase identifier.
        :raises StorageError: if the database cannot be reached.
        """
        if migrate and timeouts is not None:
            migrating = await open_pg_pool(dsn, schema=schema, min_size=1, max_size=1)
            try:
                await cls(migrating).migrate()
            finally:
                await migrating.close()
            migrate = False
        pool = await open_pg_pool(dsn, schema=schema, min_size=min_size, max_size=max_size, timeouts=timeouts)
        store = cls(pool, acquire_timeout=None if timeouts is None else timeouts.acquire)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await pool.close()
                raise
        return store

    async def close(self) -> None:
        await self._pool.close()

    def _conn(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_connection(self._pool, rewrite=numbered_placeholders, acquire_timeout=self._acquire_timeout)

    def _tx(self) -> AbstractAsyncContextManager[PostgresConn]:
        return pg_transaction(self._pool, rewrite=numbered_placeholders, acquire_timeout=self._acquire_timeout)
