"""Stored times and keyset pages ordered by ``(created_at, id)``, shared by the wallet server's queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from wallet_server.storage._models import Page
from wallet_server.storage._protocol import Cursor

__all__ = ["keyset_query", "page_of", "to_ts"]

T = TypeVar("T")


def to_ts(value: datetime) -> int:
    """Datetimes are stored as whole Unix seconds (UTC)."""
    return int(value.timestamp())


def keyset_query(
    select: str, *, where: str | None = None, args: Sequence[Any] = (), after: Cursor | None, limit: int
) -> tuple[str, list[Any]]:
    """The SQL and arguments of one page: ``select`` rows matching ``where`` that come after the
    cursor in ``(created_at, id)`` order, one more than ``limit`` so :func:`page_of` can tell
    whether another page follows."""
    conditions = [where] if where else []
    params = list(args)
    if after is not None:
        conditions.append("(created_at > ? OR (created_at = ? AND id > ?))")
        params += [to_ts(after[0]), to_ts(after[0]), after[1]]
    clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{select}{clause} ORDER BY created_at, id LIMIT ?", [*params, limit + 1]


def page_of(items: list[T], limit: int) -> Page[T]:
    """A page of at most ``limit`` items (fetched with :func:`keyset_query`) and the next cursor."""
    if len(items) > limit:
        items = items[:limit]
        last: Any = items[-1]
        return Page(tuple(items), (last.created_at, last.id))
    return Page(tuple(items), None)
