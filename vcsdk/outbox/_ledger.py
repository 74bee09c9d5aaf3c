"""The privacy budget ledger kept in a JSON file, charged under an exclusive lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from vcsdk.errors import InvalidInputError, StorageError
from vcsdk.receipts import PrivacyLedger

__all__ = ["LedgerFile"]


class LedgerFile:
    """A :class:`~vcsdk.receipts.PrivacyLedger` in a JSON file (a :class:`~vcsdk.receipts.BudgetLedger`).

    Each :meth:`charge` locks the file, reads it, charges and writes it back atomically (a new file
    renamed over the old one), so two exports running at once cannot both spend the last of a
    month's budget, and a crash leaves the old or the new ledger, never half of one. Publish the file
    next to the releases: anyone can add up a month's epsilon.

    :param path: the ledger file (created on the first charge).
    :param budget_per_period: required to create the file; if given for an existing file it must
        equal the stored budget (a budget is fixed once and for all).
    """

    def __init__(self, path: str | os.PathLike[str], *, budget_per_period: float | str | None = None) -> None:
        self.path = Path(path)
        self._budget = budget_per_period

    def __repr__(self) -> str:
        return f"LedgerFile({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open the ledger's lock file ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def read(self) -> PrivacyLedger:
        """The ledger as stored (a new, empty one if the file does not exist yet).

        :raises InvalidInputError: if the file is not a ledger, or no budget is known for a new one.
        :raises StorageError: if the file cannot be read.
        """
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            if self._budget is None:
                raise InvalidInputError("the ledger file does not exist yet; give the budget per period") from None
            return PrivacyLedger(budget_per_period=self._budget)
        except OSError as exc:
            raise StorageError(f"cannot read the ledger file ({exc.strerror})") from None
        ledger = PrivacyLedger.from_json(text)
        if self._budget is not None and PrivacyLedger(budget_per_period=self._budget).budget_per_period != (
            ledger.budget_per_period
        ):
            raise InvalidInputError("this ledger was created with another budget per period; a budget is fixed")
        return ledger

    def charge(self, period: str, epsilon: float, *, release_id: str, now: datetime) -> None:
        """Charge a release (see :meth:`PrivacyLedger.charge`) and write the file before returning.

        :raises PrivacyBudgetExceededError: if the period's budget cannot pay it (the file is unchanged).
        :raises StorageError: if the file cannot be written.
        """
        with self._locked():
            ledger = self.read()
            ledger.charge(period, epsilon, release_id=release_id, now=now)
            data = json.dumps(ledger.to_json(), indent=2).encode("utf-8") + b"\n"
            tmp = self.path.with_name(self.path.name + ".tmp")
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            except OSError as exc:
                raise StorageError(f"cannot write the ledger file ({exc.strerror})") from None
