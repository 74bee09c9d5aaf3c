"""The queries, written once; the SQLite and PostgreSQL drivers differ only in how they run them."""
# ruff: noqa: S608 -- the only interpolated text is the constant column lists below; values are bound.

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from vcsdk.errors import InvalidInputError, NotFoundError
from wallet_server.storage._backoffice import BackOfficeQueries
from wallet_server.storage._models import (
    CredentialKey,
    Device,
    DeviceProof,
    EnrolmentCode,
    Page,
    RefreshToken,
    Resident,
    StoredCredential,
)
from wallet_server.storage._paging import keyset_query, page_of, to_ts
from wallet_server.storage._protocol import Cursor, DeviceProofOutcome

__all__ = [
    "PURGE_BATCH",
    "PURGE_PAUSE",
    "RECORD_DEVICE_PROOF",
    "Conn",
    "SqlStore",
    "credential_args",
    "from_ts",
    "proof_args",
    "to_ts",
]

Row = Sequence[Any]


def from_ts(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _ts(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class Conn(Protocol):
    """What a driver offers the shared queries: ``?`` placeholders, rows as sequences."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...


def _resident(row: Row) -> Resident:
    return Resident(row[0], row[1], _ts(row[2]), row[3], bytes(row[4]))


def _device(row: Row) -> Device:
    return Device(row[0], row[1], row[2], row[3], row[4], _ts(row[5]))


def _credential(row: Row) -> StoredCredential:
    return StoredCredential(row[0], row[1], row[2], _ts(row[3]), bytes(row[4]))


def _credential_key(row: Row) -> CredentialKey:
    return CredentialKey(row[0], row[1], _ts(row[2]))


def credential_args(credential: StoredCredential) -> tuple[Any, ...]:
    return (credential.id, credential.resident_id, credential.format, to_ts(credential.created_at),
            credential.ciphertext)  # fmt: skip


def proof_args(proof: DeviceProof) -> tuple[Any, ...]:
    """The arguments of :data:`RECORD_DEVICE_PROOF`."""
    return (proof.jti_hash, to_ts(proof.expires_at), proof.device_id, proof.resident_id, proof.jkt,
            proof.family_id)  # fmt: skip


def _refresh(row: Row) -> RefreshToken:
    return RefreshToken(row[0], row[1], row[2], row[3], _ts(row[4]), _ts(row[5]), from_ts(row[6]), from_ts(row[7]))


_RESIDENT_COLS = "id, status, created_at, wrap_key_id, wrapped_key"
_DEVICE_COLS = "id, resident_id, jkt, public_jwk, name, created_at"
_CREDENTIAL_COLS = "id, resident_id, format, created_at, ciphertext"
_CREDENTIAL_KEY_COLS = "id, format, created_at"
#: Records a DPoP proof id only while its device holds the key and its login was not ended
#: (a NULL family matches no row, so NOT EXISTS holds). Arguments: jti_hash, expires_at,
#: device_id, resident_id, jkt, family_id.
RECORD_DEVICE_PROOF = (
    "INSERT INTO seen_jtis (jti_hash, expires_at) SELECT ?, ? FROM devices "
    "WHERE id = ? AND resident_id = ? AND jkt = ? AND NOT EXISTS "
    "(SELECT 1 FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NOT NULL) "
    "ON CONFLICT (jti_hash) DO NOTHING"
)
#: The tables whose rows end at ``expires_at`` and go in :meth:`SqlStore.purge_expired`.
_EXPIRING = ("challenges", "seen_jtis", "refresh_tokens", "enrolment_codes", "protocol_state", "idempotency_keys")
#: Rows one purge statement deletes at most (about 5 ms of SQLite's write lock for proof ids).
PURGE_BATCH = 500
#: Seconds the purge rests between two batches: it takes at most about a fifth of the connection's
#: time, however loaded the server is (45,000 expired proof ids go in about 2.5 s).
PURGE_PAUSE = 0.02
_REFRESH_COLS = "token_hash, family_id, resident_id, device_id, created_at, expires_at, used_at, revoked_at"


class SqlStore(BackOfficeQueries):
    """The shared implementation of :class:`~wallet_server.storage.Store`: the queries, once.

    :class:`~vcsdk.sql.SqliteMigrated` and :class:`~vcsdk.sql.PostgresMigrated` run them (the
    drivers in ``_sqlite.py`` and ``_postgres.py``): opening, connections, transactions, driver
    errors as :class:`StorageError`, :class:`NotFoundError` and :class:`ConflictError`, and the
    numbered migrations in ``wallet_server/storage/migrations`` (bookkeeping in ``schema_migrations``).
    """

    migrations = ("wallet_server.storage", "migrations")
    migrations_table = "schema_migrations"
    # Any constant works; it only has to be the same for every instance migrating this database.
    migration_lock = 0x76637364_6B_77

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    # -- residents ---------------------------------------------------------------------------

    async def create_resident(self, resident: Resident) -> None:
        await self._execute(
            f"INSERT INTO residents ({_RESIDENT_COLS}) VALUES (?, ?, ?, ?, ?)",
            resident.id,
            resident.status,
            to_ts(resident.created_at),
            resident.wrap_key_id,
            resident.wrapped_key,
        )

    async def get_resident(self, resident_id: str) -> Resident:
        rows = await self._fetch(f"SELECT {_RESIDENT_COLS} FROM residents WHERE id = ?", resident_id)
        if not rows:
            raise NotFoundError("no such resident")
        return _resident(rows[0])

    async def list_residents(self, *, limit: int, after: Cursor | None = None) -> Page[Resident]:
        sql, args = keyset_query(f"SELECT {_RESIDENT_COLS} FROM residents", after=after, limit=limit)
        rows = await self._fetch(sql, *args)
        return page_of([_resident(r) for r in rows], limit)

    async def replace_resident_key(
        self, resident_id: str, *, old_key_id: str, new_key_id: str, wrapped_key: bytes
    ) -> None:
        from vcsdk.errors import ConflictError

        changed = await self._execute(
            "UPDATE residents SET wrap_key_id = ?, wrapped_key = ? WHERE id = ? AND wrap_key_id = ?",
            new_key_id,
            wrapped_key,
            resident_id,
            old_key_id,
        )
        if changed != 1:
            raise ConflictError("the resident's data key changed meanwhile; read it again")

    # -- enrolment ---------------------------------------------------------------------------

    async def add_enrolment_code(self, code: EnrolmentCode) -> None:
        await self._execute(
            "INSERT INTO enrolment_codes (code_hash, resident_id, created_at, expires_at, created_by, used_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            code.code_hash,
            code.resident_id,
            to_ts(code.created_at),
            to_ts(code.expires_at),
            code.created_by,
            None,
        )

    async def enrol_device(self, code_hash: str, device: Device, *, now: datetime) -> Device:
        async with self._tx() as conn:
            rows = await conn.fetch(
                "SELECT resident_id FROM enrolment_codes WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
                code_hash,
                to_ts(now),
            )
            if not rows:
                raise NotFoundError("the enrolment code is unknown, used or expired; ask the city for a new one")
            used = await conn.execute(
                "UPDATE enrolment_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
                to_ts(now),
                code_hash,
            )
            if used != 1:
                raise NotFoundError("the enrolment code is unknown, used or expired; ask the city for a new one")
            stored = Device(device.id, rows[0][0], device.jkt, device.public_jwk, device.name, device.created_at)
            await self._insert_device(conn, stored)
            return stored

    # -- devices -----------------------------------------------------------------------------

    @staticmethod
    async def _insert_device(conn: Conn, device: Device) -> None:
        await conn.execute(
            f"INSERT INTO devices ({_DEVICE_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
            device.id,
            device.resident_id,
            device.jkt,
            device.public_jwk,
            device.name,
            to_ts(device.created_at),
        )

    async def add_device(self, device: Device) -> None:
        async with self._conn() as conn:
            await self._insert_device(conn, device)

    async def get_device(self, device_id: str) -> Device:
        rows = await self._fetch(f"SELECT {_DEVICE_COLS} FROM devices WHERE id = ?", device_id)
        if not rows:
            raise NotFoundError("no such device")
        return _device(rows[0])

    async def list_devices(self, resident_id: str) -> tuple[Device, ...]:
        rows = await self._fetch(
            f"SELECT {_DEVICE_COLS} FROM devices WHERE resident_id = ? ORDER BY created_at, id", resident_id
        )
        return tuple(_device(r) for r in rows)

    async def delete_device(self, resident_id: str, device_id: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "DELETE FROM refresh_tokens WHERE device_id = ? AND resident_id = ?", device_id, resident_id
            )
            if await conn.execute("DELETE FROM devices WHERE id = ? AND resident_id = ?", device_id, resident_id) != 1:
                raise NotFoundError("no such device")

    # -- credentials -------------------------------------------------------------------------

    async def put_credential(self, credential: StoredCredential) -> None:
        await self._execute(
            f"INSERT INTO credentials ({_CREDENTIAL_COLS}) VALUES (?, ?, ?, ?, ?)", *credential_args(credential)
        )

    async def get_credential(self, resident_id: str, credential_id: str) -> StoredCredential:
        rows = await self._fetch(
            f"SELECT {_CREDENTIAL_COLS} FROM credentials WHERE id = ? AND resident_id = ?", credential_id, resident_id
        )
        if not rows:
            raise NotFoundError("no such credential")
        return _credential(rows[0])

    async def list_credentials(
        self, resident_id: str, *, limit: int, after: Cursor | None = None
    ) -> Page[StoredCredential]:
        sql, args = keyset_query(
            f"SELECT {_CREDENTIAL_COLS} FROM credentials", where="resident_id = ?", args=[resident_id], after=after,
            limit=limit,
        )
        rows = await self._fetch(sql, *args)
        return page_of([_credential(r) for r in rows], limit)

    async def list_credential_keys(
        self, resident_id: str, *, limit: int, after: Cursor | None = None
    ) -> Page[CredentialKey]:
        sql, args = keyset_query(
            f"SELECT {_CREDENTIAL_KEY_COLS} FROM credentials", where="resident_id = ?", args=[resident_id],
            after=after, limit=limit,
        )  # fmt: skip
        return page_of([_credential_key(r) for r in await self._fetch(sql, *args)], limit)

    async def delete_credential(self, resident_id: str, credential_id: str) -> None:
        if await self._execute(
            "DELETE FROM credentials WHERE id = ? AND resident_id = ?", credential_id, resident_id
        ) != 1:
            raise NotFoundError("no such credential")

    async def prove_and_put_credential(self, proof: DeviceProof, credential: StoredCredential) -> DeviceProofOutcome:
        # One transaction here; PostgreSQL overrides this with one statement.
        async with self._tx() as conn:
            inserted = await conn.execute(RECORD_DEVICE_PROOF, *proof_args(proof))
            if inserted == 1:
                await conn.execute(
                    f"INSERT INTO credentials ({_CREDENTIAL_COLS}) VALUES (?, ?, ?, ?, ?)",
                    *credential_args(credential),
                )
        return await self._proof_outcome(inserted == 1, proof)

    async def prove_and_list_credential_keys(
        self, proof: DeviceProof, *, limit: int, after: Cursor | None = None
    ) -> tuple[DeviceProofOutcome, Page[CredentialKey]]:
        # Two statements here; PostgreSQL overrides this with one.
        outcome = await self.use_device_proof(proof)
        if outcome != "ok":
            return outcome, Page((), None)
        sql, args = keyset_query(
            f"SELECT {_CREDENTIAL_KEY_COLS} FROM credentials", where="resident_id = ?", args=[proof.resident_id],
            after=after, limit=limit,
        )  # fmt: skip
        return "ok", page_of([_credential_key(r) for r in await self._fetch(sql, *args)], limit)

    # -- replay cache ------------------------------------------------------------------------

    async def add_challenge(self, nonce_hash: str, *, expires_at: datetime) -> None:
        await self._execute(
            "INSERT INTO challenges (nonce_hash, expires_at) VALUES (?, ?)", nonce_hash, to_ts(expires_at)
        )

    async def consume_challenge(self, nonce_hash: str, *, now: datetime) -> bool:
        # Delete first, then judge: a nonce can be consumed once even by two racing requests.
        async with self._tx() as conn:
            rows = await conn.fetch("SELECT expires_at FROM challenges WHERE nonce_hash = ?", nonce_hash)
            deleted = await conn.execute("DELETE FROM challenges WHERE nonce_hash = ?", nonce_hash)
        return deleted == 1 and bool(rows) and int(rows[0][0]) > to_ts(now)

    async def remember_jti(self, jti_hash: str, *, expires_at: datetime) -> bool:
        inserted = await self._execute(
            "INSERT INTO seen_jtis (jti_hash, expires_at) VALUES (?, ?) ON CONFLICT (jti_hash) DO NOTHING",
            jti_hash,
            to_ts(expires_at),
        )
        return inserted == 1

    async def use_device_proof(self, proof: DeviceProof) -> DeviceProofOutcome:
        # One round trip on the common path: the proof id goes in only while the device exists and
        # its login was not ended (family_id NULL matches no row, so NOT EXISTS holds).
        return await self._proof_outcome(await self._execute(RECORD_DEVICE_PROOF, *proof_args(proof)) == 1, proof)

    async def _proof_outcome(self, recorded: bool, proof: DeviceProof) -> DeviceProofOutcome:
        """``"ok"`` if ``proof`` was recorded; else why not: its device is gone, its login ended, or
        it was seen before."""
        if recorded:
            return "ok"
        rows = await self._fetch(
            "SELECT 1 FROM devices WHERE id = ? AND resident_id = ? AND jkt = ?",
            proof.device_id, proof.resident_id, proof.jkt,
        )  # fmt: skip
        if not rows:
            return "no_device"
        if proof.family_id is not None and await self._fetch(
            "SELECT 1 FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NOT NULL", proof.family_id
        ):
            return "logged_out"
        return "replay"

    async def take_lease(self, name: str, holder: str, *, until: datetime, now: datetime) -> bool:
        # One statement: insert, or take over an expired lease, or renew our own; never another's.
        changed = await self._execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
            name,
            holder,
            to_ts(until),
            to_ts(now),
        )
        return changed == 1

    async def release_lease(self, name: str, holder: str) -> None:
        await self._execute("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)

    async def purge_expired(self, *, now: datetime, batch: int = PURGE_BATCH, pause: float = PURGE_PAUSE) -> int:
        # Each batch is its own short statement: on SQLite a delete holds the write lock of the
        # whole file, and one transaction over every expired row (tens of thousands of DPoP proof
        # ids under load) stalled every request for as long as it ran. Between batches the store's
        # lock goes to the requests queued on it (asyncio's lock is first come, first served), and
        # the pause keeps a long purge from filling the connection's time on a busy server.
        if batch < 1 or pause < 0:
            raise InvalidInputError("the purge batch must be at least one row and its pause not negative")
        ts, row_id = to_ts(now), "rowid" if self.dialect == "sqlite" else "ctid"
        total = 0
        for table in _EXPIRING:
            while True:
                deleted = await self._execute(
                    f"DELETE FROM {table} WHERE {row_id} IN "
                    f"(SELECT {row_id} FROM {table} WHERE expires_at <= ? LIMIT ?)",
                    ts,
                    batch,
                )
                total += deleted
                if deleted < batch:
                    break
                await asyncio.sleep(pause)
        return total

    # -- refresh tokens ----------------------------------------------------------------------

    async def add_refresh_token(self, token: RefreshToken) -> None:
        await self._execute(
            f"INSERT INTO refresh_tokens ({_REFRESH_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            token.token_hash,
            token.family_id,
            token.resident_id,
            token.device_id,
            to_ts(token.created_at),
            to_ts(token.expires_at),
            None,
            None,
        )

    async def get_refresh_token(self, token_hash: str) -> RefreshToken:
        rows = await self._fetch(f"SELECT {_REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ?", token_hash)
        if not rows:
            raise NotFoundError("unknown refresh token")
        return _refresh(rows[0])

    async def use_refresh_token(self, token_hash: str, *, now: datetime) -> RefreshToken:
        async with self._tx() as conn:
            rows = await conn.fetch(f"SELECT {_REFRESH_COLS} FROM refresh_tokens WHERE token_hash = ?", token_hash)
            if not rows:
                raise NotFoundError("unknown refresh token")
            changed = await conn.execute(
                "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                to_ts(now),
                token_hash,
            )
        record = _refresh(rows[0])
        if changed != 1 and record.used_at is None:
            # Another request used it between our read and our write: that is a reuse too.
            record = replace(record, used_at=now)
        return record

    async def revoke_refresh_family(self, family_id: str, *, now: datetime) -> None:
        await self._execute(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
            to_ts(now),
            family_id,
        )
