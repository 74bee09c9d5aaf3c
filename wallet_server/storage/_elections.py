"""The city's elections: what the console shows and what the ballot-token issuer needs.

:class:`ElectionDataStore` runs its queries on the connections of a :class:`SqlStore` (SQLite or
PostgreSQL). A row holds the election, its state, its public facts (anchor contract, voting service,
tally) as JSON, and the token keys sealed with the server data key. Nothing about a voter is here:
the issuance ledger (``vcsdk.voting``) keeps who received a credential or a token.
"""
# ruff: noqa: S608 -- the only interpolated text is the constant column list below; values are bound.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vcsdk.errors import ConflictError, NotFoundError
from wallet_server.storage._paging import to_ts
from wallet_server.storage._tables import StoreTables

__all__ = ["ElectionDataStore", "ElectionRow"]

_COLS = "id, state, body, keys_wrap_key_id, keys_sealed, created_by, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class ElectionRow:
    """One election as stored; ``body`` is JSON text, ``keys_sealed`` the sealed token keys."""

    id: str
    state: str
    body: str
    keys_wrap_key_id: str
    keys_sealed: bytes
    created_by: str
    created_at: datetime
    updated_at: datetime


def _row(row: Sequence[Any]) -> ElectionRow:
    return ElectionRow(row[0], row[1], row[2], row[3], bytes(row[4]), row[5],
                       datetime.fromtimestamp(int(row[6]), UTC), datetime.fromtimestamp(int(row[7]), UTC))


class ElectionDataStore(StoreTables):
    """Queries for the city's elections, on the connections of ``store``."""

    what = "elections"

    async def add(self, row: ElectionRow) -> None:
        """:raises ConflictError: if an election with this id exists."""
        await self._execute(
            f"INSERT INTO elections ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row.id, row.state, row.body, row.keys_wrap_key_id, row.keys_sealed, row.created_by,
            to_ts(row.created_at), to_ts(row.updated_at),
        )

    async def get(self, election_id: str) -> ElectionRow:
        """:raises NotFoundError: if there is no such election."""
        rows = await self._fetch(f"SELECT {_COLS} FROM elections WHERE id = ?", election_id)
        if not rows:
            raise NotFoundError("no such election")
        return _row(rows[0])

    async def list(self) -> tuple[ElectionRow, ...]:
        """Every election, the newest first."""
        rows = await self._fetch(f"SELECT {_COLS} FROM elections ORDER BY created_at DESC, id")
        return tuple(_row(r) for r in rows)

    async def update(self, election_id: str, *, expected_state: str, state: str, body: str, now: datetime) -> None:
        """Move the election from ``expected_state`` to ``state`` with a new ``body``.

        :raises ConflictError: (``election_state``) if another request changed it first.
        """
        changed = await self._execute(
            "UPDATE elections SET state = ?, body = ?, updated_at = ? WHERE id = ? AND state = ?",
            state, body, to_ts(now), election_id, expected_state,
        )
        if changed != 1:
            raise ConflictError("the election changed meanwhile; read it again", code="election_state")
