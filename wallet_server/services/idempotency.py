"""``Idempotency-Key`` on the POSTs that create something (draft-ietf-httpapi-idempotency-key-header).

A client that did not see the answer to a POST (a timeout, a dropped connection) sends it again
with the same key: it gets the first answer again instead of a second offer, presentation,
credential, enrolment code or registration. The key is the caller's: it is scoped to the resident
(or the back office's admin token) and the route. The same key with another request is ``422
idempotency_key_reused``; while the first request is still being answered, a repeat is ``409
idempotency_key_in_use``. Only successful answers are kept (sealed under the resident's data key,
or for the back office under a fresh data key wrapped with the server key, for ``ttl``); a failed
request forgets its key, so trying again runs it again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from aiohttp import web

from vcsdk.encoding import b64url_decode, b64url_encode
from vcsdk.errors import InvalidInputError, StorageError
from wallet_server.errors import IdempotencyKeyInUseError, IdempotencyKeyReusedError
from wallet_server.services._common import Clock
from wallet_server.services.encryption import KeyProvider, WrappedKey, new_data_key, open_sealed, seal
from wallet_server.services.wallet import ResidentVault
from wallet_server.storage import IdempotentAnswerRow, WalletDataStore

__all__ = ["HEADER", "IdempotencyKeys"]

HEADER = "Idempotency-Key"
#: Printable ASCII without quotes or backslashes, 1-255 characters (UUIDs, random tokens).
_KEY = re.compile(r'[\x21\x23-\x5b\x5d-\x7e]{1,255}')
_KIND = "idempotent-answer"
#: Back-office scopes start with this; a resident's start with the resident id (never with "admin/").
_ADMIN_SCOPE = "admin/"


class _Sealer(Protocol):
    async def seal(self, value: dict[str, Any], *, row_id: str) -> bytes: ...

    async def open(self, blob: bytes, *, row_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class _ResidentSealer:
    """A resident's answers: sealed under the resident's data key."""

    vault: ResidentVault
    resident_id: str

    async def seal(self, value: dict[str, Any], *, row_id: str) -> bytes:
        return await self.vault.seal_json(self.resident_id, value, kind=_KIND, row_id=row_id)

    async def open(self, blob: bytes, *, row_id: str) -> dict[str, Any]:
        value: dict[str, Any] = await self.vault.open_json(self.resident_id, blob, kind=_KIND, row_id=row_id)
        return value


@dataclass(frozen=True, slots=True)
class _ServerSealer:
    """The back office's answers (enrolment codes, transaction codes, client secrets): each sealed
    under a fresh data key wrapped with the server key, as residents' data keys are."""

    keys: KeyProvider

    @staticmethod
    def _aad(row_id: str) -> bytes:
        return f"vcsdk-wallet/{_KIND}/v1/back-office/{row_id}".encode()

    async def seal(self, value: dict[str, Any], *, row_id: str) -> bytes:
        data_key = new_data_key()
        wrapped = await self.keys.wrap(data_key, aad=self._aad(row_id))
        sealed = seal(data_key, json.dumps(value, separators=(",", ":")).encode(), aad=self._aad(row_id))
        envelope = {"key_id": wrapped.key_id, "wrapped": b64url_encode(wrapped.blob), "answer": b64url_encode(sealed)}
        return json.dumps(envelope).encode()

    async def open(self, blob: bytes, *, row_id: str) -> dict[str, Any]:
        try:
            envelope = json.loads(blob)
            wrapped = WrappedKey(envelope["key_id"], b64url_decode(envelope["wrapped"]))
            sealed = b64url_decode(envelope["answer"])
        except (ValueError, KeyError, TypeError):
            raise StorageError("a kept idempotent answer is not in the expected shape") from None
        data_key = await self.keys.unwrap(wrapped, aad=self._aad(row_id))
        value: dict[str, Any] = json.loads(open_sealed(data_key, sealed, aad=self._aad(row_id)))
        return value


class IdempotencyKeys:
    """Answers a POST once per key.

    :param data: where keys and answers are kept (the wallet's database).
    :param vault: seals a resident's answers under the resident's data key.
    :param keys: wraps the data keys of the back office's answers (the server key).
    :param clock: returns the current UTC time.
    :param ttl: how long a key and its answer are kept.
    :param abandoned_after: a first request still running after this long is taken to have died
        with its server, and the key is free again.
    """

    def __init__(
        self,
        data: WalletDataStore,
        *,
        vault: ResidentVault,
        keys: KeyProvider,
        clock: Clock,
        ttl: timedelta = timedelta(hours=24),
        abandoned_after: timedelta = timedelta(minutes=1),
    ) -> None:
        self._data = data
        self._vault = vault
        self._server = _ServerSealer(keys)
        self._clock = clock
        self.ttl = ttl
        self._abandoned_after = abandoned_after

    async def answer(
        self, request: web.Request, resident_id: str, route: str, produce: Callable[[], Awaitable[web.Response]]
    ) -> web.Response:
        """``produce``'s answer, or the one kept for the request's key (keys scoped to the resident
        and ``route``).

        :raises InvalidInputError: (``invalid_idempotency_key``) a malformed key.
        :raises IdempotencyKeyReusedError: the key came with another request before.
        :raises IdempotencyKeyInUseError: the first request with the key is still running.
        """
        sealer = _ResidentSealer(self._vault, resident_id)
        return await self._answer(request, f"{resident_id}:{route}", sealer, produce)

    async def answer_admin(
        self, request: web.Request, admin: str, route: str, produce: Callable[[], Awaitable[web.Response]]
    ) -> web.Response:
        """As :meth:`answer`, for the back office: keys scoped to the admin token's name and
        ``route``, answers sealed under the server key."""
        return await self._answer(request, f"{_ADMIN_SCOPE}{admin}:{route}", self._server, produce)

    async def _answer(
        self, request: web.Request, scope: str, sealer: _Sealer, produce: Callable[[], Awaitable[web.Response]]
    ) -> web.Response:
        key = request.headers.get(HEADER)
        if key is None:
            return await produce()
        key = key.strip().strip('"')  # a structured-field string may come quoted
        if _KEY.fullmatch(key) is None:
            raise InvalidInputError(
                f"{HEADER} is 1 to 255 printable characters, e.g. a UUID", code="invalid_idempotency_key"
            )
        digest = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n")
        digest.update(await request.read())
        now = self._clock()
        row = IdempotentAnswerRow(scope, key, digest.hexdigest(), "running", now, now + self.ttl)
        if not await self._data.claim_idempotency_key(row, stale_before=now - self._abandoned_after):
            return await self._replay(row, sealer)
        try:
            response = await produce()
        except BaseException:
            await self._data.drop_idempotency_key(row)
            raise
        if not 200 <= response.status < 300 or not isinstance(response.body, bytes):
            await self._data.drop_idempotency_key(row)
            return response
        kept: dict[str, Any] = {"body": response.body.decode(), "location": response.headers.get("Location")}
        sealed = await sealer.seal(kept, row_id=_row_id(scope, key))
        # Kept only while this request still holds the key (not taken over as abandoned meanwhile).
        await self._data.finish_idempotency_key(row, status=response.status, answer=sealed)
        return response

    async def _replay(self, wanted: IdempotentAnswerRow, sealer: _Sealer) -> web.Response:
        found = await self._data.get_idempotency_key(wanted.scope, wanted.key)
        if found is None:
            raise IdempotencyKeyInUseError("the first request with this key has just finished; send it again")
        if found.state != "done" or found.answer is None or found.status is None:
            raise IdempotencyKeyInUseError("the first request with this key is still being answered; try again")
        if found.request_hash != wanted.request_hash:
            raise IdempotencyKeyReusedError(
                f"this {HEADER} was used for another request; use a new key for a new request"
            )
        kept = await sealer.open(found.answer, row_id=_row_id(found.scope, found.key))
        headers = {"Idempotency-Replayed": "true", "Cache-Control": "no-store"}
        if kept.get("location"):
            headers["Location"] = kept["location"]
        return web.Response(
            body=kept["body"].encode(), status=found.status, content_type="application/json", headers=headers
        )


def _row_id(scope: str, key: str) -> str:
    return hashlib.sha256(json.dumps([scope, key]).encode()).hexdigest()
