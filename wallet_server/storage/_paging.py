"""Stored times and keyset pages (ordered by ``(created_at, id)`` or another time and key), shared by
the wallet server's queries."""

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
    select: str,
    *,
    where: str | None = None,
    args: Sequence[Any] = (),
    after: Cursor | None,
    limit: int,
    order: tuple[str, str] = ("created_at", "id"),
) -> tuple[str, list[Any]]:
    """The SQL and arguments of one page: ``select`` rows matching ``where`` that come after the
    cursor in ``order`` (a stored time, then a unique text key; ``(created_at, id)`` by default), one
    more than ``limit`` so :func:`page_of` can tell whether another page follows."""
    time, key = order
    conditions = [where] if where else []
    params = list(args)
    if after is not None:
        conditions.append(f"({time} > ? OR ({time} = ? AND {key} > ?))")
        params += [to_ts(after[0]), to_ts(after[0]), after[1]]
    clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{select}{clause} ORDER BY {time}, {key} LIMIT ?", [*params, limit + 1]


def page_of(items: list[T], limit: int, *, order: tuple[str, str] = ("created_at", "id")) -> Page[T]:
    """A page of at most ``limit`` items (fetched with :func:`keyset_query` in the same ``order``,
    here the items' attributes) and the cursor to continue after, if another page follows."""
    if len(items) > limit:
        items = items[:limit]
        last: Any = items[-1]
        return Page(tuple(items), (getattr(last, order[0]), getattr(last, order[1])))
    return Page(tuple(items), None)
