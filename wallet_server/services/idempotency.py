"""``Idempotency-Key`` on the resident API's POSTs that create something (draft-ietf-httpapi-idempotency-key-header).

A client that did not see the answer to a POST (a timeout, a dropped connection) sends it again
with the same key: it gets the first answer again instead of a second offer, presentation or
credential. The key is the caller's: it is scoped to the resident and the route. The same key with
another request is ``422 idempotency_key_reused``; while the first request is still being answered,
a repeat is ``409 idempotency_key_in_use``. Only successful answers are kept (sealed under the
resident's data key, for ``ttl``); a failed request forgets its key, so trying again runs it again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from vcsdk.errors import InvalidInputError
from wallet_server.errors import IdempotencyKeyInUseError, IdempotencyKeyReusedError
from wallet_server.services._common import Clock
from wallet_server.services.wallet import ResidentVault
from wallet_server.storage import IdempotentAnswerRow, WalletDataStore

__all__ = ["HEADER", "IdempotencyKeys"]

HEADER = "Idempotency-Key"
#: Printable ASCII without quotes or backslashes, 1-255 characters (UUIDs, random tokens).
_KEY = re.compile(r'[\x21\x23-\x5b\x5d-\x7e]{1,255}')
_KIND = "idempotent-answer"


class IdempotencyKeys:
    """Answers a POST once per key.

    :param data: where keys and answers are kept (the wallet's database).
    :param vault: seals each answer under the resident's data key.
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
        clock: Clock,
        ttl: timedelta = timedelta(hours=24),
        abandoned_after: timedelta = timedelta(minutes=1),
    ) -> None:
        self._data = data
        self._vault = vault
        self._clock = clock
        self.ttl = ttl
        self._abandoned_after = abandoned_after

    async def answer(
        self, request: web.Request, resident_id: str, route: str, produce: Callable[[], Awaitable[web.Response]]
    ) -> web.Response:
        """``produce``'s answer, or the one kept for the request's key.

        :raises InvalidInputError: (``invalid_idempotency_key``) a malformed key.
        :raises IdempotencyKeyReusedError: the key came with another request before.
        :raises IdempotencyKeyInUseError: the first request with the key is still running.
        """
        key = request.headers.get(HEADER)
        if key is None:
            return await produce()
        key = key.strip().strip('"')  # a structured-field string may come quoted
        if _KEY.fullmatch(key) is None:
            raise InvalidInputError(
                f"{HEADER} is 1 to 255 printable characters, e.g. a UUID", code="invalid_idempotency_key"
            )
        scope = f"{resident_id}:{route}"
        digest = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n")
        digest.update(await request.read())
        now = self._clock()
        row = IdempotentAnswerRow(scope, key, digest.hexdigest(), "running", now, now + self.ttl)
        if not await self._data.claim_idempotency_key(row, stale_before=now - self._abandoned_after):
            return await self._replay(row, resident_id)
        try:
            response = await produce()
        except BaseException:
            await self._data.drop_idempotency_key(scope, key)
            raise
        if not 200 <= response.status < 300 or not isinstance(response.body, bytes):
            await self._data.drop_idempotency_key(scope, key)
            return response
        kept: dict[str, Any] = {"body": response.body.decode(), "location": response.headers.get("Location")}
        sealed = await self._vault.seal_json(resident_id, kept, kind=_KIND, row_id=_row_id(scope, key))
        await self._data.finish_idempotency_key(scope, key, status=response.status, answer=sealed)
        return response

    async def _replay(self, wanted: IdempotentAnswerRow, resident_id: str) -> web.Response:
        found = await self._data.get_idempotency_key(wanted.scope, wanted.key)
        if found is None:
            raise IdempotencyKeyInUseError("the first request with this key has just finished; send it again")
        if found.state != "done" or found.answer is None or found.status is None:
            raise IdempotencyKeyInUseError("the first request with this key is still being answered; try again")
        if found.request_hash != wanted.request_hash:
            raise IdempotencyKeyReusedError(
                f"this {HEADER} was used for another request; use a new key for a new request"
            )
        kept = await self._vault.open_json(
            resident_id, found.answer, kind=_KIND, row_id=_row_id(found.scope, found.key)
        )
        headers = {"Idempotency-Replayed": "true", "Cache-Control": "no-store"}
        if kept.get("location"):
            headers["Location"] = kept["location"]
        return web.Response(
            body=kept["body"].encode(), status=found.status, content_type="application/json", headers=headers
        )


def _row_id(scope: str, key: str) -> str:
    return hashlib.sha256(json.dumps([scope, key]).encode()).hexdigest()
