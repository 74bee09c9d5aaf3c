"""The city's back office: admin tokens and roles, enrolment codes, residents (metadata only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vcsdk.errors import ConflictError, InvalidInputError
from wallet_server.errors import AuthenticationError, ForbiddenError
from wallet_server.services._common import Clock, new_id, require_id, sha256_hex
from wallet_server.services._cursor import decode_cursor, encode_cursor
from wallet_server.services.encryption import KeyProvider, WrappedKey, new_data_key, resident_key_aad
from wallet_server.storage import EnrolmentCode, Page, Resident, Store

__all__ = ["AdminRole", "AdminService", "AdminToken", "Administrator", "IssuedEnrolmentCode", "ResidentsPage"]

AdminRole = Literal["issuer", "operator"]
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class AdminToken:
    """One configured admin credential: its SHA-256 (hex), never the token itself, and its roles."""

    name: str
    sha256: str
    roles: frozenset[AdminRole]

    def __repr__(self) -> str:
        return f"AdminToken(name={self.name!r}, roles={sorted(self.roles)!r})"


@dataclass(frozen=True, slots=True)
class Administrator:
    """An authenticated admin: the configured token's name and roles."""

    name: str
    roles: frozenset[AdminRole]


@dataclass(frozen=True, slots=True)
class IssuedEnrolmentCode:
    """An enrolment code to hand to the resident (shown once; only its hash is stored)."""

    code: str
    resident_id: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IssuedEnrolmentCode(resident_id={self.resident_id!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True, slots=True)
class ResidentsPage:
    """One page of residents and the cursor for the next, if any."""

    items: tuple[Resident, ...]
    next_cursor: str | None


def _enrolment_code() -> str:
    # 160 random bits as base32 in groups of four: XXXX-XXXX-… (no 0/1/8/9 ambiguity in base32).
    text = base64.b32encode(secrets.token_bytes(20)).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


class AdminService:
    """City admin operations; every call names the :class:`Administrator` acting.

    :param store: the wallet store.
    :param keys: wraps new residents' data keys.
    :param tokens: the configured admin credentials.
    :param clock: returns the current UTC time.
    :param enrolment_ttl: how long an enrolment code stays valid.
    """

    def __init__(
        self,
        store: Store,
        *,
        keys: KeyProvider,
        tokens: Sequence[AdminToken],
        clock: Clock,
        enrolment_ttl: timedelta = timedelta(hours=72),
    ) -> None:
        self._store = store
        self._keys = keys
        self._tokens = tuple(tokens)
        self._clock = clock
        self._enrolment_ttl = enrolment_ttl

    def authenticate(self, authorization: str | None, *, role: AdminRole | None) -> Administrator:
        """Check ``Authorization: Bearer <admin token>`` and the role (``None``: any admin token).

        :raises AuthenticationError: no or unknown token.
        :raises ForbiddenError: the token lacks ``role``.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            raise AuthenticationError("admin routes need Authorization: Bearer <admin token>")
        digest = hashlib.sha256(token.strip().encode("utf-8")).hexdigest()
        found: AdminToken | None = None
        for candidate in self._tokens:
            # Constant-time comparison of digests; every configured token is compared.
            if hmac.compare_digest(candidate.sha256, digest):
                found = candidate
        if found is None:
            raise AuthenticationError("the admin token is not valid")
        if role is not None and role not in found.roles:
            raise ForbiddenError(f"this admin token lacks the {role} role")
        return Administrator(found.name, found.roles)

    async def create_resident(self) -> Resident:
        """A new resident with a fresh wrapped data key."""
        resident_id = new_id("res")
        wrapped = await self._keys.wrap(new_data_key(), aad=resident_key_aad(resident_id))
        resident = Resident(resident_id, "active", self._clock(), wrapped.key_id, wrapped.blob)
        await self._store.create_resident(resident)
        return resident

    async def issue_enrolment_code(
        self, admin: Administrator, *, resident_id: str | None = None
    ) -> IssuedEnrolmentCode:
        """Make a one-time enrolment code, for a new resident or for another phone of an existing one.

        :raises NotFoundError: if ``resident_id`` is given and unknown.
        :raises InvalidInputError: if ``resident_id`` is malformed.
        """
        if resident_id is None:
            resident = await self.create_resident()
        else:
            resident = await self._store.get_resident(require_id(resident_id, "resident"))
        code = _enrolment_code()
        now = self._clock()
        expires_at = now + self._enrolment_ttl
        await self._store.add_enrolment_code(
            EnrolmentCode(sha256_hex(code.replace("-", "")), resident.id, now, expires_at, admin.name)
        )
        return IssuedEnrolmentCode(code, resident.id, expires_at)

    async def rewrap_resident_keys(self, *, batch: int = 500) -> int:
        """Re-wrap every resident data key that is not under the current server key.

        Run after adding a new current key (old keys still configured); afterwards the old keys
        can be removed from the settings. Safe to run on several instances at once.

        :return: how many data keys were re-wrapped.
        """
        count = 0
        after = None
        while True:
            page = await self._store.list_residents(limit=batch, after=after)
            for resident in page.items:
                if resident.wrap_key_id == self._keys.current_key_id:
                    continue
                aad = resident_key_aad(resident.id)
                data_key = await self._keys.unwrap(WrappedKey(resident.wrap_key_id, resident.wrapped_key), aad=aad)
                fresh = await self._keys.wrap(data_key, aad=aad)
                try:
                    await self._store.replace_resident_key(
                        resident.id, old_key_id=resident.wrap_key_id, new_key_id=fresh.key_id, wrapped_key=fresh.blob
                    )
                    count += 1
                except ConflictError:
                    continue  # another instance re-wrapped it meanwhile
            if page.next_after is None:
                return count
            after = page.next_after

    async def list_residents(self, *, limit: int = 50, cursor: str | None = None) -> ResidentsPage:
        """Residents' metadata (id, status, creation time), oldest first.

        :raises InvalidInputError: bad ``limit`` or cursor.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        page: Page[Resident] = await self._store.list_residents(limit=limit, after=decode_cursor(cursor))
        return ResidentsPage(page.items, encode_cursor(page.next_after) if page.next_after else None)


