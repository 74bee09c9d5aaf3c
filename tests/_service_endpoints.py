"""A third-party service's receipt side, shared by the end-to-end parties: the endpoint that takes the
wallet's signed consent record and answers with an access receipt, and the registered endpoint that
takes a withdrawal and answers with a withdrawal receipt.

Each can be told to misbehave (``behaviour``), so the tests can watch the wallet record a violation:
``ok``; ``no_receipt`` (answer without one); ``bad_receipt`` (a receipt signed by a key that is not
the service's); ``down`` (answer 503); ``lost_answer`` (sign and keep the receipt, then answer 503,
as when the answer is lost on its way). Receipts are signed, and consents held and withdrawn, through
the SDK's :class:`~vcsdk.receipts.ReceiptDesk` (what ``vcsdk.Service.routes`` serves): one receipt
per presentation, the same one again on a repeated POST or a ``GET`` of the receipt URI, dropped on
the wallet's ``DELETE``; a withdrawal accepted only for the consent held.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from aiohttp import web

from vcsdk.credentials import IssuerKeyResolver
from vcsdk.errors import NotFoundError
from vcsdk.keys import Key
from vcsdk.oid4vc import PresentationResult
from vcsdk.receipts import (
    CONSENT_HEADER,
    issue_access_receipt,
    issue_withdrawal_receipt,
    presentation_hash,
    verify_consent_record_resolved,
)
from vcsdk.receipts import (
    ReceiptDesk as SdkReceiptDesk,
)

Behaviour = Literal["ok", "no_receipt", "bad_receipt", "down", "lost_answer"]


@dataclass
class ReceiptDesk:
    """What the service keeps: the signed consent records (evidence, in ``sdk.consents``) and the
    receipts it signed."""

    did: str
    key: Key
    wallet_did: str
    resolver: IssuerKeyResolver
    clock: Callable[[], datetime]
    purpose: str
    results: list[PresentationResult]
    receipts: list[str] = field(default_factory=list)
    withdrawal_receipts: list[str] = field(default_factory=list)
    receipt_behaviour: Behaviour = "ok"
    withdrawal_behaviour: Behaviour = "ok"
    #: Called after a receipt is signed and kept, before the answer (a fault test cuts the wallet's
    #: database there).
    after_sign: Callable[[str], Awaitable[None]] | None = None
    confirmed: list[str] = field(default_factory=list)
    fetched_again: int = 0
    sdk: SdkReceiptDesk | None = None

    def __post_init__(self) -> None:
        self.sdk = SdkReceiptDesk(self.key)

    def _signer(self, behaviour: Behaviour) -> Key:
        # A receipt that does not verify: a stranger's key under the service's kid.
        return Key.generate("P-256").with_kid(self.key.kid or "") if behaviour == "bad_receipt" else self.key

    async def receipt(self, request: web.Request) -> web.Response:
        """``receipt_uri``: verify the wallet's signed record, keep it, sign an access receipt."""
        if self.receipt_behaviour == "down":
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        result = next(r for r in self.results if r.request_id == request.match_info["request_id"])
        signed = (await request.json())["consent_record"]
        consent = await verify_consent_record_resolved(signed, wallet_did=self.wallet_did, resolver=self.resolver)
        (presented,) = result.credentials["resident"]
        if consent.controller.did != self.did or consent.presentation_hash != presentation_hash(presented.presentation):
            return web.json_response({"error": "invalid_request"}, status=400)
        assert self.sdk is not None
        await self.sdk.hold(consent, evidence=signed)
        if self.receipt_behaviour == "no_receipt":
            return web.json_response({})
        if self.receipt_behaviour == "bad_receipt":
            token = issue_access_receipt(
                self._signer(self.receipt_behaviour), consent=consent, receipt_id=f"rcpt-{secrets.token_hex(8)}",
                claims=consent.claims_disclosed, purpose=self.purpose, now=self.clock(),
            )
            self.receipts.append(token)
            return web.json_response({"access_receipt": token})
        request_id = request.match_info["request_id"]
        fresh = await self.sdk.store.get(request_id) is None
        token = await self.sdk.receipt(
            request_id, consent=consent, claims=consent.claims_disclosed, purpose=self.purpose, now=self.clock()
        )
        if fresh:
            self.receipts.append(token)
        if self.after_sign is not None:
            await self.after_sign(token)
        if self.receipt_behaviour == "lost_answer":
            self.receipt_behaviour = "ok"  # lost once
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        return web.json_response({"access_receipt": token})

    async def receipt_again(self, request: web.Request) -> web.Response:
        """``GET`` of the receipt URI: the kept receipt, for a wallet that lost the answer."""
        assert self.sdk is not None
        if self.receipt_behaviour == "down":
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        try:
            named = request.headers.get(CONSENT_HEADER)
            token = await self.sdk.again(request.match_info["request_id"], consent_id=named)
        except NotFoundError:
            return web.json_response({"error": "not_found"}, status=404)
        self.fetched_again += 1
        return web.json_response({"access_receipt": token})

    async def receipt_confirmed(self, request: web.Request) -> web.Response:
        """``DELETE`` of the receipt URI: the wallet stored the receipt."""
        assert self.sdk is not None
        await self.sdk.confirmed(request.match_info["request_id"], consent_id=request.headers.get(CONSENT_HEADER))
        self.confirmed.append(request.match_info["request_id"])
        return web.Response(status=204)

    async def withdrawal(self, request: web.Request) -> web.Response:
        """The registered ``receipt_endpoint``: accept a withdrawal of a consent held, sign its receipt."""
        if self.withdrawal_behaviour == "down":
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        assert self.sdk is not None
        signed = (await request.json())["consent_record"]
        delivered = await verify_consent_record_resolved(signed, wallet_did=self.wallet_did, resolver=self.resolver)
        try:
            token = await self.sdk.withdrawal(delivered, evidence=signed, now=self.clock())
        except NotFoundError:
            return web.json_response({"error": "not_found"}, status=404)
        if self.withdrawal_behaviour == "no_receipt":
            return web.json_response({})
        if self.withdrawal_behaviour == "bad_receipt":
            token = issue_withdrawal_receipt(
                self._signer(self.withdrawal_behaviour), consent=delivered, receipt_id=f"wdr-{secrets.token_hex(8)}",
                now=self.clock(),
            )
        self.withdrawal_receipts.append(token)
        return web.json_response({"withdrawal_receipt": token})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/receipts/{request_id}", self.receipt),
            web.get("/receipts/{request_id}", self.receipt_again),
            web.delete("/receipts/{request_id}", self.receipt_confirmed),
            web.post("/withdrawals", self.withdrawal),
        ]
