"""Issuance by the city: KYC against the resident registry, an OpenID4VCI offer in the resident's
inbox, and the credential issued when the resident's phone redeems it.

The admin submits the resident's claimed identity; :class:`~vcsdk.kyc.KycPipeline` checks it
against the SOAP registry. Only on :class:`~vcsdk.kyc.Verified` is an offer made (pre-authorized
code with a Transaction Code): the offer goes into the resident's inbox (``offers`` table) and the
Transaction Code back to the admin, for delivery by another channel. The credential itself is made
at the Credential Endpoint, bound to the key the phone proves, with a fresh status-list entry; its
metadata (never its claims) is recorded for the admin API.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from vcsdk.credentials import RESIDENT_IDENTITY_CREDENTIAL, VctRegistry, disclosable_paths, issue_sd_jwt_vc
from vcsdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ProtocolError,
    ResidentRegistryUnavailableError,
)
from vcsdk.keys import Key
from vcsdk.kyc import KycApplication, KycPipeline, NoMatch, NotActive, PartialMatch, ResidentRegistry, Verified
from vcsdk.oid4vc import CredentialConfiguration, CredentialIssuer, StateStore
from wallet_server.services._common import Clock, new_id, require_id, require_text
from wallet_server.services._cursor import decode_cursor, encode_cursor
from wallet_server.services.admin import Administrator
from wallet_server.services.city import CitySetup
from wallet_server.services.status_lists import StatusAction, StatusListService
from wallet_server.storage import IssuedCredential, Offer, Store

__all__ = [
    "CONFIGURATION_ID",
    "ISSUANCE_TIME_GRANULARITY",
    "ISSUER_PATH",
    "IssuanceOutcome",
    "IssuanceService",
    "IssuedCredentialsPage",
    "coarse_time",
]

log = logging.getLogger("wallet_server.issuance")
CONFIGURATION_ID = RESIDENT_IDENTITY_CREDENTIAL
#: The Credential Issuer Identifier is ``<base URL>/issuer``; the SDK's issuer routes are mounted there.
ISSUER_PATH = "/issuer"
#: Where the offer's context travels with its claims through the protocol state (removed before signing).
_CONTEXT = "\x00wallet_server"
MAX_PAGE = 100
#: The precision of ``iat`` and ``exp`` in the credentials the city issues: the copies of one batch,
#: and everyone's credentials issued within the same hour, share them.
ISSUANCE_TIME_GRANULARITY = timedelta(hours=1)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
OutcomeKind = Literal["verified", "partial_match", "no_match", "not_active"]


@dataclass(frozen=True, slots=True)
class IssuanceOutcome:
    """What KYC decided; for ``verified`` the offer in the resident's inbox and the Transaction Code.

    :ivar matched_fields: for ``partial_match``, the fields that matched.
    :ivar status: for ``not_active``, ``moved_out`` or ``deceased``.
    """

    kind: OutcomeKind
    offer: Offer | None = None
    tx_code: str | None = field(default=None, repr=False)
    matched_fields: tuple[str, ...] = ()
    status: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedCredentialsPage:
    """One page of issued credentials' metadata and the cursor for the next, if any."""

    items: tuple[IssuedCredential, ...]
    next_cursor: str | None


def coarse_time(value: datetime, *, up: bool = False) -> datetime:
    """``value`` rounded down (or ``up``) to :data:`ISSUANCE_TIME_GRANULARITY`, the precision of the
    ``iat`` and ``exp`` the city writes into credentials."""
    step = int(ISSUANCE_TIME_GRANULARITY.total_seconds())
    seconds = int(value.timestamp())
    rounded = seconds - seconds % step
    if up and rounded < value.timestamp():
        rounded += step
    return datetime.fromtimestamp(rounded, value.tzinfo or UTC)


def _birthdate(value: Any) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise InvalidInputError("birthdate must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError("birthdate must be a date, YYYY-MM-DD") from None


class IssuanceService:
    """The city's issuance back office and its OpenID4VCI Credential Issuer.

    :param store: the wallet store.
    :param state: the OpenID4VCI protocol state (database-backed, shared by every instance).
    :param city: the city's chain set-up (DID, signing key).
    :param status_lists: allocates status entries and changes them.
    :param registry: the resident registry (``None`` when not configured: issuance answers 503).
    :param clock: returns the current UTC time.
    :param public_base_url: the server's public URL; ``None`` takes it from each request (development).
    """

    def __init__(
        self,
        store: Store,
        *,
        state: StateStore,
        city: CitySetup,
        status_lists: StatusListService,
        registry: ResidentRegistry | None,
        clock: Clock,
        public_base_url: str | None,
        vcts: VctRegistry,
        city_name: str,
        credential_lifetime: timedelta,
        offer_ttl: timedelta,
    ) -> None:
        self._store = store
        self._state = state
        self._city = city
        self._status_lists = status_lists
        self._registry = registry
        self._clock = clock
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.vcts = vcts
        self._city_name = city_name
        self._lifetime = credential_lifetime
        self._offer_ttl = offer_ttl
        self._issuers: dict[str, CredentialIssuer] = {}
        self._paths = disclosable_paths(RESIDENT_IDENTITY_CREDENTIAL)

    def now(self) -> datetime:
        """The current time, from the app's clock."""
        return self._clock()

    # -- the OpenID4VCI issuer -------------------------------------------------------------------

    def base_url(self, origin: str) -> str:
        """This server's base URL: the configured public URL, or the request's origin (development)."""
        return self._public_base_url or origin.rstrip("/")

    def issuer(self, origin: str) -> CredentialIssuer:
        """The Credential Issuer at ``<base URL>/issuer``.

        :param origin: ``scheme://host`` of the current request (used without ``public_base_url``).
        """
        base = self.base_url(origin)
        found = self._issuers.get(base)
        if found is None:
            if len(self._issuers) > 8:  # only ever one in production; bounded for development hosts
                self._issuers.clear()
            found = CredentialIssuer(
                credential_issuer=f"{base}{ISSUER_PATH}",
                configurations=[
                    CredentialConfiguration(
                        id=CONFIGURATION_ID, vct=self.vcts.resident_identity, display_name="Resident identity",
                        claims=tuple(tuple(p) for p in self._paths),
                    )
                ],
                issue=self._issue,
                store=self._state,
                display_name=self._city_name,
                offer_ttl=self._offer_ttl,
                # The wallet refills a resident's batch of copies with the refresh token (fresh keys).
                refresh_pre_authorized=True,
            )
            self._issuers[base] = found
        return found

    async def _issue(self, claims: Mapping[str, Any], holder_key: Key) -> str:
        """Called by the Credential Endpoint once per proven device key."""
        context = claims.get(_CONTEXT)
        if not isinstance(context, dict):
            raise ConflictError("this offer was not made by the back office")
        subject = {k: v for k, v in claims.items() if k != _CONTEXT}
        offer_id = str(context["offer_id"])
        # A refill (re-issuance under the same grant) never revives what the city revoked, nor
        # hands out valid copies of a batch it suspended (until it reinstates the batch).
        _refuse_refill({c.state for c in await self._store.issued_credentials_of_offer(offer_id)})
        city = await self._city.get()
        allocation = await self._status_lists.allocate(base_url=str(context["base_url"]))
        now = self._clock()
        # Copies of one batch (and every credential issued in the same hour) carry the same iat and
        # exp: a time to the second would link the copies a resident shows to different services.
        issued_at = coarse_time(now)
        expires_at = coarse_time(now + self._lifetime, up=True)
        token = issue_sd_jwt_vc(
            subject, issuer=city.did, signer=city.signing_key, vct=self.vcts.resident_identity,
            disclosable=self._paths, holder_key=holder_key, status=allocation.claim, now=issued_at,
            expires_at=expires_at,
        )
        copy = IssuedCredential(
            new_id("icr"), offer_id, str(context["resident_id"]), CONFIGURATION_ID, self.vcts.resident_identity,
            allocation.list_id, allocation.index, now, expires_at, "valid", now,
        )
        await self._store.add_issued_credential(copy)
        # The city may have revoked or suspended the batch since the check above, its change not
        # seeing this copy yet: look again now that the copy is stored (the change looks again after
        # changing too, so one of the two sees the other), and give the copy the batch's fate.
        later = {c.state for c in await self._store.issued_credentials_of_offer(offer_id) if c.id != copy.id}
        fate: StatusAction | None = "revoke" if "revoked" in later else "suspend" if "suspended" in later else None
        if fate is not None:
            await self._status_lists.change((copy,), fate)
            _refuse_refill(later)
        await self._store.set_offer_state(offer_id, "redeemed", now=now)
        log.info("credential issued", extra={"event": "credential_issued"})
        return token

    # -- the admin API --------------------------------------------------------------------------

    async def start(self, admin: Administrator, body: Mapping[str, Any], *, origin: str) -> IssuanceOutcome:
        """Run KYC for a resident and, on a verified match, put an offer in their inbox.

        :param body: ``resident_id``, ``family_name``, ``given_name``, ``birthdate`` (YYYY-MM-DD),
            ``address``, optionally ``device_id`` (the device whose key KYC checks; newest by default).
        :raises NotFoundError: unknown resident or device.
        :raises ConflictError: the resident has no device yet.
        :raises InvalidInputError: malformed fields.
        :raises ResidentRegistryUnavailableError: no registry configured, or it does not answer.
        """
        resident = await self._store.get_resident(require_id(body.get("resident_id"), "resident"))
        devices = await self._store.list_devices(resident.id)
        if not devices:
            raise ConflictError("the resident has no registered device; enrol the phone first")
        device = devices[-1]
        if body.get("device_id") is not None:
            wanted = require_id(body.get("device_id"), "device")
            device = next((d for d in devices if d.id == wanted), None)  # type: ignore[assignment]
            if device is None:
                raise NotFoundError("no such device")
        application = KycApplication(
            family_name=require_text(body.get("family_name"), "family_name", max_len=100),
            given_name=require_text(body.get("given_name"), "given_name", max_len=100),
            birthdate=_birthdate(body.get("birthdate")),
            address=require_text(body.get("address"), "address", max_len=300),
            device_key=Key.from_jwk(json.loads(device.public_jwk)),
        )
        if self._registry is None:
            raise ResidentRegistryUnavailableError("no resident registry is configured (kyc_registry_url)")
        base = self.base_url(origin)
        issuer = self.issuer(origin)
        made: list[tuple[Offer, str | None]] = []

        async def make_offer(claims: Mapping[str, Any], *, holder_key: Key, now: datetime) -> str:
            offer_id = new_id("off")
            context = {"offer_id": offer_id, "resident_id": resident.id, "base_url": base}
            offer, pin = await issuer.create_offer(CONFIGURATION_ID, {**claims, _CONTEXT: context}, now=now)
            uri = await issuer.publish_offer(offer, now=now)
            record = Offer(
                offer_id, resident.id, CONFIGURATION_ID, uri, json.dumps(offer.to_dict(), separators=(",", ":")),
                admin.name, now, now + self._offer_ttl, "pending", now,
            )
            await self._store.add_offer(record)
            made.append((record, pin))
            return uri

        outcome = await KycPipeline(registry=self._registry, issue=make_offer).run(application, now=self._clock())
        if isinstance(outcome, Verified):
            offer, pin = made[-1]
            return IssuanceOutcome("verified", offer=offer, tx_code=pin)
        if isinstance(outcome, PartialMatch):
            return IssuanceOutcome("partial_match", matched_fields=tuple(sorted(outcome.matched_fields)))
        if isinstance(outcome, NotActive):
            return IssuanceOutcome("not_active", status=outcome.status)
        assert isinstance(outcome, NoMatch)
        return IssuanceOutcome("no_match")

    async def list_issued(
        self, *, limit: int = 50, cursor: str | None = None, resident_id: str | None = None
    ) -> IssuedCredentialsPage:
        """Issued credentials' metadata, oldest first.

        :raises InvalidInputError: bad ``limit`` or cursor.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        if resident_id is not None and _ID.fullmatch(resident_id) is None:
            raise InvalidInputError("resident_id is not an id this server makes")
        page = await self._store.list_issued_credentials(
            limit=limit, after=decode_cursor(cursor), resident_id=resident_id
        )
        return IssuedCredentialsPage(page.items, encode_cursor(page.next_after) if page.next_after else None)

    async def get_issued(self, credential_id: str) -> IssuedCredential:
        """:raises NotFoundError: if unknown."""
        return await self._store.get_issued_credential(require_id(credential_id, "issued credential"))

    async def change_status(self, credential_id: str, action: StatusAction) -> tuple[IssuedCredential, ...]:
        """Revoke, suspend or reinstate a credential and every copy issued from the same offer (a
        batch shares one fate), then publish the status list and anchor its digest.

        :raises NotFoundError: if unknown.
        :raises InvalidInputError: a revoked credential cannot be suspended or reinstated.
        :return: every affected credential, as it is now.
        """
        credential = await self.get_issued(credential_id)
        copies = await self._store.issued_credentials_of_offer(credential.offer_id)
        changed = await self._status_lists.change(copies or (credential,), action)
        # A refill racing this change may have stored a copy after the read above (and given it the
        # batch's fate as it saw it); it looks at the batch again after storing, and this looks
        # again after changing: one sees the other, and the copy ends with the batch's new state.
        known = {c.id for c in changed}
        behind = {"revoke": ("valid", "suspended"), "suspend": ("valid",), "reinstate": ("suspended",)}[action]
        late = [
            c for c in await self._store.issued_credentials_of_offer(credential.offer_id)
            if c.id not in known and c.state in behind
        ]
        return changed + (await self._status_lists.change(late, action) if late else ())


def _refuse_refill(states: Collection[str]) -> None:
    """:raises ProtocolError: (``credential_request_denied``) a batch the city revoked or suspended."""
    if "revoked" in states:
        raise ProtocolError("this credential was revoked; no new copies are issued", code="credential_request_denied")
    if "suspended" in states:
        raise ProtocolError(
            "this credential is suspended; no new copies are issued until the city reinstates it",
            code="credential_request_denied",
        )
