"""The city's status lists in the database: allocate, revoke/suspend/reinstate, publish, anchor.

Each list's whole :class:`~vcsdk.credentials.StatusListIssuer` state lives in one row and changes
only under that row's lock, so several server instances never hand out one index twice. Publishing
signs a Status List Token with the city's key and stores it for ``GET /status/{id}``; when the list's
digest differs from the one last anchored, the new digest is anchored on the trusted-issuer registry
(one transaction per publication, not per credential).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from vcsdk.credentials import StatusListIssuer
from vcsdk.errors import ConflictError, InvalidInputError, NotFoundError, RegistryError, TransactionRevertedError
from wallet_server.services._common import Clock
from wallet_server.services.city import CitySetup
from wallet_server.storage import BackOfficeStore, CredentialState, IssuedCredential, StatusListRecord

__all__ = ["Allocation", "PublishedList", "StatusAction", "StatusListService"]

log = logging.getLogger("wallet_server.status_lists")
StatusAction = Literal["revoke", "suspend", "reinstate"]
_STATE_AFTER: dict[StatusAction, CredentialState] = {"revoke": "revoked", "suspend": "suspended", "reinstate": "valid"}
#: A published token is valid this long; it is re-signed well before (every ``ttl``).
TOKEN_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Allocation:
    """A fresh status entry: the list, the index and the ``status`` claim for the credential."""

    list_id: int
    index: int
    claim: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PublishedList:
    """A published Status List Token and what is known about it."""

    list_id: int
    uri: str
    token: str
    version: int
    published_at: datetime
    max_age: int
    anchored_version: int | None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.token.encode("ascii")).hexdigest()[:32] + '"'


class StatusListService:
    """Status lists of one city.

    :param store: the wallet store.
    :param city: the city's chain set-up (signing key, trusted-issuer registry).
    :param clock: returns the current UTC time.
    :param size: entries per list.
    :param ttl: the cache lifetime written into tokens and ``Cache-Control``; older tokens are re-signed.
    """

    def __init__(self, store: BackOfficeStore, *, city: CitySetup, clock: Clock, size: int, ttl: timedelta) -> None:
        if size < 8:
            raise InvalidInputError("status_list_size must be at least 8")
        self._store = store
        self._city = city
        self._clock = clock
        self.size = size
        self.ttl = ttl

    # -- allocation ------------------------------------------------------------------------------

    async def allocate(self, *, base_url: str) -> Allocation:
        """Take a random unused index of the newest list, starting a new list when it is full.

        :param base_url: where this server is reached (the list's URI is ``<base_url>/status/<id>``).
        """
        for _ in range(3):
            lists = await self._store.list_status_lists()
            if not lists:
                await self._create(1, base_url)
                continue
            current = lists[-1]
            try:
                return await self._store.update_status_list(current.id, _allocate)
            except ConflictError:
                await self._create(current.id + 1, base_url)  # full: the next list (once, racing or not)
        raise ConflictError("could not allocate a status entry; try again")  # pragma: no cover

    async def _create(self, list_id: int, base_url: str) -> None:
        uri = f"{base_url.rstrip('/')}/status/{list_id}"
        issuer = StatusListIssuer(uri, size=self.size)
        record = StatusListRecord(
            id=list_id, uri=uri, state=issuer.to_json(), size=issuer.size, allocated=0, version=0,
            created_at=self._clock(),
        )
        try:
            await self._store.create_status_list(record)
        except ConflictError:
            return  # another instance created it first
        await self.publish(list_ids=[list_id])

    # -- status changes --------------------------------------------------------------------------

    async def change(
        self, credentials: Sequence[IssuedCredential], action: StatusAction
    ) -> tuple[IssuedCredential, ...]:
        """Revoke, suspend or reinstate credentials, then publish and anchor their lists.

        :raises InvalidInputError: reinstating or suspending a revoked credential.
        :raises NotFoundError: if a credential is unknown.
        """
        if any(c.state == "revoked" for c in credentials) and action != "revoke":
            raise InvalidInputError("a revoked credential stays revoked; issue a new one")

        def mutate(record: StatusListRecord, indices: list[int]) -> StatusListRecord:
            issuer = StatusListIssuer.from_json(dict(record.state))
            for index in indices:
                getattr(issuer, action)(index)
            return replace(record, state=issuer.to_json(), version=issuer.version)

        changed = await self._store.set_credentials_state(
            [c.id for c in credentials], _STATE_AFTER[action], now=self._clock(), mutate=mutate
        )
        await self.publish(list_ids=sorted({c.status_list_id for c in changed}))
        return changed

    async def revoke_entry(self, list_id: int, index: int) -> None:
        """Revoke one entry that belongs to no issued credential (a service's registration), then
        publish and anchor its list. Revoking it again changes nothing and signs nothing (unless the
        first time stopped before its list was published and anchored).

        :raises NotFoundError: for an unknown list. :raises InvalidInputError: an index never allocated.
        """

        def mutate(record: StatusListRecord) -> tuple[StatusListRecord, bool]:
            issuer = StatusListIssuer.from_json(dict(record.state))
            issuer.revoke(index)
            # Published and anchored at this version already (a repeated withdrawal): nothing to sign.
            done = record.published_version == issuer.version and record.anchored_version == issuer.version
            return replace(record, state=issuer.to_json(), version=issuer.version), not done

        if await self._store.update_status_list(list_id, mutate):
            await self.publish(list_ids=[list_id])

    # -- publication ----------------------------------------------------------------------------

    async def publish(
        self, *, list_ids: Sequence[int] | None = None, if_older_than: timedelta | None = None
    ) -> list[PublishedList]:
        """Sign the current version of lists (all by default), store the tokens, anchor changed digests.

        :param if_older_than: re-sign only a token at least this old (decided under the row lock, so
            many requests arriving at once sign once).
        :raises NotFoundError: for an unknown list id.
        :raises RegistryError: if anchoring fails (the tokens are published regardless).
        """
        city = await self._city.get()
        now = self._clock()
        ids = list(list_ids) if list_ids is not None else [r.id for r in await self._store.list_status_lists()]

        def sign(record: StatusListRecord) -> tuple[StatusListRecord, StatusListRecord]:
            fresh = record.published_at is not None and record.token is not None and (
                if_older_than is not None and now - record.published_at < if_older_than
            )
            if fresh and record.published_version == record.version:
                return record, record
            issuer = StatusListIssuer.from_json(dict(record.state))
            token = issuer.publish(city.signing_key, now=now, ttl=self.ttl, lifetime=TOKEN_LIFETIME, iss=city.did)
            updated = replace(record, token=token, published_at=now, published_version=issuer.version)
            return updated, updated

        out = []
        for list_id in ids:
            record = await self._store.update_status_list(list_id, sign)
            record = await self._anchor(record)
            out.append(self._published(record))
        return out

    async def _anchor(self, record: StatusListRecord) -> StatusListRecord:
        from vcsdk.trust import StatusDigest

        issuer = StatusListIssuer.from_json(dict(record.state))
        digest = issuer.digest.hex()
        if digest == record.anchored_digest:
            return record
        city = await self._city.get()
        try:
            await city.trust.anchor_status_digests(
                [StatusDigest(record.uri, issuer.digest, issuer.version)], sender=city.owner
            )
        except TransactionRevertedError:
            # StaleVersion: another instance anchored meanwhile. This version is on chain: done. A newer
            # one: that instance publishes the newer state. Anything else is a real failure.
            anchored = await city.trust.status_digest(record.uri)
            if anchored is None or anchored.version < issuer.version:
                raise
            if anchored.digest != issuer.digest:
                log.info("a newer status digest is anchored", extra={"event": "status_anchor_superseded"})
                return record
            log.info("status digest already anchored", extra={"event": "status_anchor_raced"})

        def mark(current: StatusListRecord) -> tuple[StatusListRecord, StatusListRecord]:
            if current.anchored_version is not None and current.anchored_version >= issuer.version:
                return current, current
            updated = replace(current, anchored_digest=digest, anchored_version=issuer.version)
            return updated, updated

        return await self._store.update_status_list(record.id, mark)

    def _published(self, record: StatusListRecord) -> PublishedList:
        if record.token is None or record.published_at is None:  # pragma: no cover - just published
            raise NotFoundError("this status list has not been published")
        return PublishedList(
            record.id, record.uri, record.token, record.published_version or 0, record.published_at,
            int(self.ttl.total_seconds()), record.anchored_version,
        )

    async def served(self, list_id: int) -> PublishedList:
        """The token to serve at ``/status/{list_id}``, re-signed first if older than ``ttl``.

        :raises NotFoundError: if there is no such list.
        """
        record = await self._store.get_status_list(list_id)
        now = self._clock()
        if record.token is None or record.published_at is None or record.published_at + self.ttl <= now:
            try:
                (published,) = await self.publish(list_ids=[list_id], if_older_than=self.ttl)
                return published
            except RegistryError:
                # The chain is unreachable: a token that has not expired is still the truth to serve.
                record = await self._store.get_status_list(list_id)
                if record.token is None or record.published_at is None or record.published_at + TOKEN_LIFETIME <= now:
                    raise
                log.warning("serving a status list without re-signing it", extra={"event": "status_resign_failed"})
        return self._published(record)

    async def lists(self) -> tuple[StatusListRecord, ...]:
        """Every list's record (state included)."""
        return await self._store.list_status_lists()


def _allocate(record: StatusListRecord) -> tuple[StatusListRecord, Allocation]:
    issuer = StatusListIssuer.from_json(dict(record.state), randbelow=secrets.randbelow)
    claim = issuer.allocate()  # raises ConflictError (status_list_full) when full
    index = int(claim["status_list"]["idx"])
    updated = replace(record, state=issuer.to_json(), allocated=issuer.allocated)
    return updated, Allocation(record.id, index, dict(claim))
