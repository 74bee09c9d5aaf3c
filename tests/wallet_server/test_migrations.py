"""Numbered migrations: ordering, dialect overrides, and the shipped set."""

from __future__ import annotations

from vcsdk.sql import load_migrations as load_folder
from wallet_server.storage._sql import SqlStore

load_migrations = SqlStore.migration_files


def test_shipped_migrations_are_numbered_from_one_without_gaps() -> None:
    for dialect in ("sqlite", "postgres"):
        versions = [v for v, _, _ in load_migrations(dialect)]
        assert versions == list(range(1, len(versions) + 1))
        assert load_migrations(dialect)[0][1] == "init"


def test_init_creates_every_table() -> None:
    statements = " ".join(load_migrations("postgres")[0][2])
    for table in (
        "residents",
        "enrolment_codes",
        "devices",
        "credentials",
        "challenges",
        "seen_jtis",
        "refresh_tokens",
    ):
        assert f"CREATE TABLE {table} " in statements
    assert "--" not in statements  # comments are stripped before splitting on ';'


def test_dialect_file_replaces_the_portable_one(tmp_path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_init.sql").write_text("CREATE TABLE a (x INT);")
    (folder / "0002_more.sql").write_text("CREATE TABLE b (x INT); CREATE TABLE c (x INT);")
    (folder / "0002_more.postgres.sql").write_text("CREATE TABLE b (x BIGINT);")
    (folder / "notes.txt").write_text("ignored")

    assert [s for _, _, s in load_folder(folder, "sqlite")] == [
        ["CREATE TABLE a (x INT)"],
        ["CREATE TABLE b (x INT)", "CREATE TABLE c (x INT)"],
    ]
    assert load_folder(folder, "postgres")[1][2] == ["CREATE TABLE b (x BIGINT)"]


def test_two_migrations_with_one_number_are_refused(tmp_path) -> None:
    """Two branches that both add ``0004_…`` must not lose one of them silently."""
    import pytest

    from vcsdk.errors import InvalidInputError

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_init.sql").write_text("CREATE TABLE a (x INT);")
    (folder / "0002_leases.sql").write_text("CREATE TABLE b (x INT);")
    (folder / "0002_privacy.sql").write_text("CREATE TABLE c (x INT);")
    with pytest.raises(InvalidInputError, match="0002"):
        load_folder(folder, "sqlite")
