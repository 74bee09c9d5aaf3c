"""The resident's wallet tables: presentations, consents index, receipt fetches, per-resident secrets.

The offers inbox is the back office's ``offers`` table, one model (:class:`~wallet_server.storage.Offer`)
and one query set for the city's and the resident's side (:class:`~wallet_server.storage.BackOfficeStore`).

:class:`WalletDataStore` runs its queries on the connections of a :class:`SqlStore` (SQLite or
PostgreSQL), so it shares the database, the pool and the migrations. Every read and change is
scoped to one resident; blobs arrive here already sealed by the services.
"""
# ruff: noqa: S608 -- the only interpolated text is the constant column lists below; values are bound.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from vcsdk.errors import ConflictError, NotFoundError
from wallet_server.storage._models import DeviceProof, Page
from wallet_server.storage._paging import keyset_query, page_of, to_ts
from wallet_server.storage._protocol import Cursor, DeviceProofOutcome
from wallet_server.storage._sql import RECORD_DEVICE_PROOF, proof_args
from wallet_server.storage._tables import StoreTables

__all__ = [
    "CopyPolicy",
    "IdempotentAnswerRow",
    "PresentationRow",
    "PresentationState",
    "PrivacyRow",
    "ReceiptFetchRow",
    "ReceiptFetchState",
    "ResidentConsentRow",
    "ResidentSecretsRow",
    "ViolationKind",
    "ViolationRow",
    "ViolationSummary",
    "WalletDataStore",
]

#: A presentation's state. ``sending`` while the answer is on its way to the service; ``unknown``
#: when that send was interrupted (the server stopped) and nobody can tell whether the service got
#: it; ``expired`` is never stored: an open presentation past its ``expires_at`` shows as expired.
PresentationState = Literal[
    "consent_required", "signature_required", "sending", "shared", "refused", "declined", "unknown", "expired"
]


#: A receipt fetch the wallet owes a resident: ``pending`` (try again at ``next_at``), ``done``
#: (stored), ``failed`` (given up; a violation was recorded).
ReceiptFetchState = Literal["pending", "done", "failed"]

#: How the wallet spends credential copies: a fresh one per presentation, or one per service.
CopyPolicy = Literal["one_time", "per_service"]
#: A broken promise of a service: no receipt, a receipt that does not verify, a withdrawal it did
#: not answer, or answered with an invalid receipt.
ViolationKind = Literal["receipt_missing", "receipt_invalid", "withdrawal_unanswered", "withdrawal_receipt_invalid"]


def _dt(value: int) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


#: The row of one claim of an idempotency key: still running, by the request that claimed it.
_CLAIMED = "scope = ? AND idem_key = ? AND state = 'running' AND request_hash = ? AND created_at = ?"


@dataclass(frozen=True, slots=True)
class PresentationRow:
    """A presentation request the resident answers; ``body`` is sealed JSON."""

    id: str
    resident_id: str
    state: PresentationState
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    body: bytes

    def __repr__(self) -> str:
        return f"PresentationRow(id={self.id!r}, state={self.state!r})"


@dataclass(frozen=True, slots=True)
class ResidentConsentRow:
    """A consent record the resident gave (the record itself lives in the receipt outbox)."""

    consent_id: str
    resident_id: str
    service_did: str
    presentation_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ResidentSecretsRow:
    """The resident's sealed pseudonym secret and, with the custodial option, sealed device key."""

    resident_id: str
    pseudonym_secret: bytes
    custodial_key: bytes | None
    created_at: datetime

    def __repr__(self) -> str:
        return f"ResidentSecretsRow(resident_id={self.resident_id!r})"


@dataclass(frozen=True, slots=True)
class PrivacyRow:
    """The resident's privacy choices."""

    resident_id: str
    refuse_after_violation: bool
    copy_policy: CopyPolicy
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ViolationRow:
    """A service broke a promise to the resident (see :data:`ViolationKind`)."""

    id: str
    resident_id: str
    service_did: str
    kind: ViolationKind
    code: str
    ref_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ViolationSummary:
    """What the city sees: how many violations of one kind one service has, and the last one's time."""

    service_did: str
    kind: ViolationKind
    count: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class ReceiptFetchRow:
    """The access receipt of one presentation, to ask its service for until it is stored.

    :ivar consent_record: the consent record the wallet signed, posted to ``receipt_uri``.
    """

    presentation_id: str
    resident_id: str
    consent_id: str
    service_did: str
    receipt_uri: str
    consent_record: str
    state: ReceiptFetchState
    attempts: int
    next_at: datetime
    created_at: datetime
    updated_at: datetime
    last_error: str | None = None
    receipt_id: str | None = None

    def __repr__(self) -> str:
        return f"ReceiptFetchRow(presentation_id={self.presentation_id!r}, state={self.state!r})"


@dataclass(frozen=True, slots=True)
class IdempotentAnswerRow:
    """The first request made with an ``Idempotency-Key`` and, once ``done``, its sealed answer."""

    scope: str
    key: str
    request_hash: str
    state: Literal["running", "done"]
    created_at: datetime
    expires_at: datetime
    status: int | None = None
    answer: bytes | None = None

    def __repr__(self) -> str:
        return f"IdempotentAnswerRow(scope={self.scope!r}, state={self.state!r})"


_PRESENTATION_COLS = "id, resident_id, state, created_at, expires_at, updated_at, body"
_CONSENT_COLS = "consent_id, resident_id, service_did, presentation_id, created_at"
_VIOLATION_COLS = "id, resident_id, service_did, kind, code, ref_id, created_at"
_FETCH_COLS = (
    "presentation_id, resident_id, consent_id, service_did, receipt_uri, consent_record, state, attempts, next_at, "
    "created_at, updated_at, last_error, receipt_id"
)


def _presentation(row: Sequence[Any]) -> PresentationRow:
    return PresentationRow(row[0], row[1], row[2], _dt(row[3]), _dt(row[4]), _dt(row[5]), bytes(row[6]))


def _consent(row: Sequence[Any]) -> ResidentConsentRow:
    return ResidentConsentRow(row[0], row[1], row[2], row[3], _dt(row[4]))


def _fetch_row(row: Sequence[Any]) -> ReceiptFetchRow:
    return ReceiptFetchRow(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], int(row[7]), _dt(row[8]), _dt(row[9]), _dt(row[10]),
        row[11], row[12],
    )


def _violation(row: Sequence[Any]) -> ViolationRow:
    return ViolationRow(row[0], row[1], row[2], row[3], row[4], row[5], _dt(row[6]))


class WalletDataStore(StoreTables):
    """Queries for the resident-side tables, on the connections of ``store``.

    :param store: an open :class:`~wallet_server.storage.SqliteStore` or ``PostgresStore``.
    """

    what = "the resident wallet tables"

    # -- presentations ---------------------------------------------------------------------------

    async def add_presentation(self, row: PresentationRow) -> None:
        await self._execute(
            f"INSERT INTO presentations ({_PRESENTATION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            row.id, row.resident_id, row.state, to_ts(row.created_at), to_ts(row.expires_at),
            to_ts(row.updated_at), row.body,
        )

    async def get_presentation(self, resident_id: str, presentation_id: str) -> PresentationRow:
        """:raises NotFoundError: if the resident has no such presentation."""
        rows = await self._fetch(
            f"SELECT {_PRESENTATION_COLS} FROM presentations WHERE id = ? AND resident_id = ?",
            presentation_id, resident_id,
        )
        if not rows:
            raise NotFoundError("no such presentation")
        return _presentation(rows[0])

    async def prove_and_get_presentation(
        self, proof: DeviceProof, presentation_id: str
    ) -> tuple[DeviceProofOutcome, PresentationRow | None]:
        """Record ``proof`` as :meth:`~wallet_server.storage.ReplayCache.use_device_proof` does and,
        only if that gives ``"ok"``, read ``proof.resident_id``'s presentation (``None``: no such
        one). PostgreSQL does both in one round trip."""
        if self._store.dialect != "postgres":
            outcome = await self._store.use_device_proof(proof)
            if outcome != "ok":
                return outcome, None
            rows = await self._fetch(
                f"SELECT {_PRESENTATION_COLS} FROM presentations WHERE id = ? AND resident_id = ?",
                presentation_id, proof.resident_id,
            )  # fmt: skip
            return "ok", _presentation(rows[0]) if rows else None
        # The proof's insert is a data-modifying CTE that always runs once; its RETURNING row is the
        # marker (id NULL) and the presentation is read only if that row exists.
        rows = await self._fetch(
            f"WITH proof AS ({RECORD_DEVICE_PROOF} RETURNING 1) "
            "SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM proof UNION ALL "
            f"(SELECT {_PRESENTATION_COLS} FROM presentations "
            "WHERE id = ? AND resident_id = ? AND EXISTS (SELECT 1 FROM proof))",
            *proof_args(proof), presentation_id, proof.resident_id,
        )  # fmt: skip
        if not any(row[0] is None for row in rows):
            return await self._store._proof_outcome(False, proof), None
        found = [row for row in rows if row[0] is not None]
        return "ok", _presentation(found[0]) if found else None

    async def list_presentations(
        self, resident_id: str, *, limit: int, after: Cursor | None = None
    ) -> Page[PresentationRow]:
        """The resident's presentations, oldest first."""
        sql, args = keyset_query(
            f"SELECT {_PRESENTATION_COLS} FROM presentations", where="resident_id = ?", args=[resident_id], after=after,
            limit=limit,
        )
        rows = await self._fetch(sql, *args)
        return page_of([_presentation(r) for r in rows], limit)

    async def update_presentation(
        self,
        resident_id: str,
        presentation_id: str,
        *,
        expect_state: PresentationState,
        state: PresentationState,
        body: bytes,
        now: datetime,
    ) -> None:
        """Compare-and-set the state and sealed body.

        :raises ConflictError: if another request moved it first.
        """
        changed = await self._execute(
            "UPDATE presentations SET state = ?, body = ?, updated_at = ? "
            "WHERE id = ? AND resident_id = ? AND state = ?",
            state, body, to_ts(now), presentation_id, resident_id, expect_state,
        )
        if changed != 1:
            raise ConflictError("the presentation changed meanwhile; read it again")

    async def settle_interrupted_presentations(self, *, sending_before: datetime, now: datetime) -> int:
        """Move every presentation still ``sending`` since before ``sending_before`` to ``unknown``.

        A send interrupted by a stopped server leaves its presentation ``sending``; it is never sent
        again (a presentation is single use), so the resident sees that it may or may not have arrived.
        A presentation with a receipt fetch was answered by its service: the fetch finishes it, so it is
        left alone. All residents at once: run at start-up.

        :return: how many presentations changed.
        """
        return await self._execute(
            "UPDATE presentations SET state = 'unknown', updated_at = ? WHERE state = 'sending' AND updated_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM receipt_fetches f WHERE f.presentation_id = presentations.id)",
            to_ts(now), to_ts(sending_before),
        )

    # -- receipt fetches ---------------------------------------------------------------------------

    async def add_receipt_fetch(self, row: ReceiptFetchRow) -> None:
        """:raises ConflictError: if the presentation has one already."""
        await self._execute(
            f"INSERT INTO receipt_fetches ({_FETCH_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row.presentation_id, row.resident_id, row.consent_id, row.service_did, row.receipt_uri,
            row.consent_record, row.state, row.attempts, to_ts(row.next_at), to_ts(row.created_at),
            to_ts(row.updated_at), row.last_error, row.receipt_id,
        )

    async def get_receipt_fetch(self, presentation_id: str) -> ReceiptFetchRow | None:
        rows = await self._fetch(
            f"SELECT {_FETCH_COLS} FROM receipt_fetches WHERE presentation_id = ?", presentation_id
        )
        return _fetch_row(rows[0]) if rows else None

    async def due_receipt_fetches(self, *, now: datetime, limit: int) -> list[ReceiptFetchRow]:
        """Pending fetches whose next attempt is due, the longest-waiting first."""
        rows = await self._fetch(
            f"SELECT {_FETCH_COLS} FROM receipt_fetches WHERE state = 'pending' AND next_at <= ? "
            "ORDER BY next_at, presentation_id LIMIT ?",
            to_ts(now), limit,
        )
        return [_fetch_row(r) for r in rows]

    async def update_receipt_fetch(self, row: ReceiptFetchRow, *, expect_attempts: int) -> bool:
        """Compare-and-set a fetch's progress: only if nobody else counted an attempt meanwhile.

        :return: whether it changed (``False``: another instance got there first).
        """
        changed = await self._execute(
            "UPDATE receipt_fetches SET state = ?, attempts = ?, next_at = ?, updated_at = ?, last_error = ?, "
            "receipt_id = ? WHERE presentation_id = ? AND attempts = ? AND state = 'pending'",
            row.state, row.attempts, to_ts(row.next_at), to_ts(row.updated_at), row.last_error, row.receipt_id,
            row.presentation_id, expect_attempts,
        )
        return changed == 1

    # -- idempotency keys --------------------------------------------------------------------------

    async def claim_idempotency_key(self, row: IdempotentAnswerRow, *, stale_before: datetime) -> bool:
        """Record the first request with a key (``running``), or take over an expired key or one whose
        first request was abandoned (``running`` since before ``stale_before``).

        :return: whether this request is the one to answer (``False``: the key is taken).
        """
        changed = await self._execute(
            "INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, status, answer, created_at, "
            "expires_at) VALUES (?, ?, ?, 'running', NULL, NULL, ?, ?) ON CONFLICT (scope, idem_key) DO UPDATE SET "
            "request_hash = excluded.request_hash, state = 'running', status = NULL, answer = NULL, "
            "created_at = excluded.created_at, expires_at = excluded.expires_at "
            "WHERE idempotency_keys.expires_at <= excluded.created_at "
            "OR (idempotency_keys.state = 'running' AND idempotency_keys.created_at < ?)",
            row.scope, row.key, row.request_hash, to_ts(row.created_at), to_ts(row.expires_at), to_ts(stale_before),
        )
        return changed == 1

    async def get_idempotency_key(self, scope: str, key: str) -> IdempotentAnswerRow | None:
        rows = await self._fetch(
            "SELECT scope, idem_key, request_hash, state, created_at, expires_at, status, answer "
            "FROM idempotency_keys WHERE scope = ? AND idem_key = ?",
            scope, key,
        )
        if not rows:
            return None
        r = rows[0]
        answer = None if r[7] is None else bytes(r[7])
        return IdempotentAnswerRow(r[0], r[1], r[2], r[3], _dt(r[4]), _dt(r[5]), r[6], answer)

    async def finish_idempotency_key(self, claimed: IdempotentAnswerRow, *, status: int, answer: bytes) -> bool:
        """Keep the answer of the request that claimed the key (``claimed``, as given to
        :meth:`claim_idempotency_key`).

        Nothing changes if another request took the key over since (its first request was taken to
        be abandoned): that request's row is its own, and it keeps its own answer.

        :return: whether the answer was kept.
        """
        changed = await self._execute(
            "UPDATE idempotency_keys SET state = 'done', status = ?, answer = ? "
            f"WHERE {_CLAIMED}",
            status, answer, claimed.scope, claimed.key, claimed.request_hash, to_ts(claimed.created_at),
        )
        return changed == 1

    async def drop_idempotency_key(self, claimed: IdempotentAnswerRow) -> None:
        """Forget a key whose request failed, so that trying again runs it again; only while the
        request that failed (``claimed``) still holds it."""
        await self._execute(
            f"DELETE FROM idempotency_keys WHERE {_CLAIMED}",
            claimed.scope, claimed.key, claimed.request_hash, to_ts(claimed.created_at),
        )

    async def count_receipt_fetches(self) -> int:
        """Pending receipt fetches (for metrics)."""
        rows = await self._fetch("SELECT COUNT(*) FROM receipt_fetches WHERE state = 'pending'")
        return int(rows[0][0])

    # -- consents --------------------------------------------------------------------------------

    async def add_consent(self, row: ResidentConsentRow) -> None:
        await self._execute(
            f"INSERT INTO resident_consents ({_CONSENT_COLS}) VALUES (?, ?, ?, ?, ?)",
            row.consent_id, row.resident_id, row.service_did, row.presentation_id, to_ts(row.created_at),
        )

    async def get_consent(self, resident_id: str, consent_id: str) -> ResidentConsentRow:
        """:raises NotFoundError: if the resident has no such consent."""
        rows = await self._fetch(
            f"SELECT {_CONSENT_COLS} FROM resident_consents WHERE consent_id = ? AND resident_id = ?",
            consent_id, resident_id,
        )
        if not rows:
            raise NotFoundError("no such consent")
        return _consent(rows[0])

    async def list_consents(
        self, resident_id: str, *, limit: int, after: Cursor | None = None
    ) -> Page[ResidentConsentRow]:
        """The resident's consents, oldest first."""
        sql, args = keyset_query(
            f"SELECT {_CONSENT_COLS} FROM resident_consents", where="resident_id = ?", args=[resident_id],
            after=after, limit=limit, order=("created_at", "consent_id"),
        )
        rows = await self._fetch(sql, *args)
        return page_of([_consent(r) for r in rows], limit, order=("created_at", "consent_id"))

    async def service_dids(self, resident_id: str) -> list[str]:
        """Every service the resident has consented to (for their per-service pseudonyms)."""
        rows = await self._fetch(
            "SELECT DISTINCT service_did FROM resident_consents WHERE resident_id = ? ORDER BY service_did",
            resident_id,
        )
        return [str(r[0]) for r in rows]

    # -- secrets ---------------------------------------------------------------------------------

    async def get_secrets(self, resident_id: str) -> ResidentSecretsRow | None:
        rows = await self._fetch(
            "SELECT resident_id, pseudonym_secret, custodial_key, created_at FROM resident_secrets "
            "WHERE resident_id = ?",
            resident_id,
        )
        if not rows:
            return None
        r = rows[0]
        return ResidentSecretsRow(r[0], bytes(r[1]), None if r[2] is None else bytes(r[2]), _dt(r[3]))

    async def add_secrets(self, row: ResidentSecretsRow) -> bool:
        """Store the resident's secrets unless another request stored them first; ``True`` if stored."""
        inserted = await self._execute(
            "INSERT INTO resident_secrets (resident_id, pseudonym_secret, custodial_key, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (resident_id) DO NOTHING",
            row.resident_id, row.pseudonym_secret, row.custodial_key, to_ts(row.created_at),
        )
        return inserted == 1

    async def set_custodial_key(self, resident_id: str, sealed_key: bytes) -> bool:
        """Store the custodial key once; ``False`` if one exists already."""
        changed = await self._execute(
            "UPDATE resident_secrets SET custodial_key = ? WHERE resident_id = ? AND custodial_key IS NULL",
            sealed_key, resident_id,
        )
        return changed == 1

    # -- privacy choices and violations -------------------------------------------------------------

    async def get_privacy(self, resident_id: str) -> PrivacyRow | None:
        rows = await self._fetch(
            "SELECT resident_id, refuse_after_violation, copy_policy, updated_at FROM resident_privacy "
            "WHERE resident_id = ?",
            resident_id,
        )
        if not rows:
            return None
        r = rows[0]
        return PrivacyRow(r[0], bool(r[1]), r[2], _dt(r[3]))

    async def privacy_and_violation(self, resident_id: str, service_did: str) -> tuple[PrivacyRow | None, bool]:
        """:meth:`get_privacy` and :meth:`service_has_violation` in one statement (a request's screening)."""
        rows = await self._fetch(
            "SELECT p.resident_id, p.refuse_after_violation, p.copy_policy, p.updated_at, "
            "EXISTS (SELECT 1 FROM violations WHERE resident_id = ? AND service_did = ?) "
            "FROM (SELECT 1 AS one) AS o LEFT JOIN resident_privacy p ON p.resident_id = ?",
            resident_id, service_did, resident_id,
        )  # fmt: skip
        r = rows[0]
        privacy = None if r[0] is None else PrivacyRow(r[0], bool(r[1]), r[2], _dt(r[3]))
        return privacy, bool(r[4])

    async def set_privacy(self, row: PrivacyRow) -> None:
        await self._execute(
            "INSERT INTO resident_privacy (resident_id, refuse_after_violation, copy_policy, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (resident_id) DO UPDATE SET "
            "refuse_after_violation = excluded.refuse_after_violation, copy_policy = excluded.copy_policy, "
            "updated_at = excluded.updated_at",
            row.resident_id, 1 if row.refuse_after_violation else 0, row.copy_policy, to_ts(row.updated_at),
        )

    async def add_violation(self, row: ViolationRow) -> None:
        await self._execute(
            f"INSERT INTO violations ({_VIOLATION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            row.id, row.resident_id, row.service_did, row.kind, row.code, row.ref_id, to_ts(row.created_at),
        )

    async def list_violations(
        self, resident_id: str, *, limit: int, after: Cursor | None = None
    ) -> Page[ViolationRow]:
        """The resident's violations, oldest first."""
        sql, args = keyset_query(
            f"SELECT {_VIOLATION_COLS} FROM violations", where="resident_id = ?", args=[resident_id], after=after,
            limit=limit,
        )
        rows = await self._fetch(sql, *args)
        return page_of([_violation(r) for r in rows], limit)

    async def service_has_violation(self, resident_id: str, service_did: str) -> bool:
        """Whether ``service_did`` broke a promise to this resident."""
        rows = await self._fetch(
            "SELECT 1 FROM violations WHERE resident_id = ? AND service_did = ? LIMIT 1", resident_id, service_did
        )
        return bool(rows)

    # -- credential copies -------------------------------------------------------------------------

    async def copy_uses(self, resident_id: str) -> dict[str, str]:
        """Credential id → the service (the resident's pseudonym for it) each used copy was shown to."""
        rows = await self._fetch(
            "SELECT credential_id, service FROM credential_uses WHERE resident_id = ?", resident_id
        )
        return {str(r[0]): str(r[1]) for r in rows}

    async def use_copy(self, resident_id: str, credential_id: str, service: str, *, once: bool, now: datetime) -> None:
        """Record that a copy is shown to ``service``: a copy is only ever shown to one service, and
        with ``once`` only one time.

        :raises ConflictError: the copy was shown to another service, or (``once``) already shown.
        """
        added = await self._execute(
            "INSERT INTO credential_uses (credential_id, resident_id, service, used_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (credential_id) DO NOTHING",
            credential_id, resident_id, service, to_ts(now),
        )
        if added == 1:
            return
        rows = await self._fetch(
            "SELECT service FROM credential_uses WHERE credential_id = ? AND resident_id = ?",
            credential_id, resident_id,
        )
        if once or not rows or rows[0][0] != service:
            raise ConflictError("this credential copy was already shown; start again for a fresh copy")

    async def violation_summary(self) -> list[ViolationSummary]:
        """Per service and kind: how many, and when the last one was (no resident in it)."""
        rows = await self._fetch(
            "SELECT service_did, kind, COUNT(*), MAX(created_at) FROM violations "
            "GROUP BY service_did, kind ORDER BY service_did, kind"
        )
        return [ViolationSummary(str(r[0]), r[1], int(r[2]), _dt(r[3])) for r in rows]
