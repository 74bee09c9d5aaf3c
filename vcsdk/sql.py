"""The SQL toolkit the stores share, public for applications built on vcsdk (the wallet server's stores).

Connections and transactions on aiosqlite and asyncpg with driver errors turned into
:class:`~vcsdk.errors.StorageError`, one PostgreSQL pool opener (:func:`open_pg_pool`), and numbered
migrations (:class:`SqliteMigrated`, :class:`PostgresMigrated`, :func:`apply_migrations`). See
``docs/architecture.md``, "Adding a store".
"""

from __future__ import annotations

from vcsdk._sql import (
    MigratedSql,
    Migration,
    PgTimeouts,
    PostgresConn,
    PostgresMigrated,
    SqliteConn,
    SqliteMigrated,
    apply_migrations,
    load_migrations,
    numbered_placeholders,
    open_pg_pool,
    pg_connection,
    pg_transaction,
    sqlite_connection,
    sqlite_transaction,
)

__all__ = ["MigratedSql", "Migration", "PgTimeouts", "PostgresConn", "PostgresMigrated", "SqliteConn",
           "SqliteMigrated", "apply_migrations", "load_migrations", "numbered_placeholders", "open_pg_pool",
           "pg_connection", "pg_transaction", "sqlite_connection", "sqlite_transaction"]
