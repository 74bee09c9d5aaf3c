"""The resident's offers inbox: the SDK's two-phase holder issuance, the proof signed by the phone.

Accepting an offer is two calls, so the device key never leaves the phone:

1. :meth:`WalletService.accept` runs :func:`vcsdk.oid4vc.prepare_issuance` (issuer metadata, the
   pre-authorized code redeemed with the resident's ``tx_code``, a ``c_nonce``) for the calling
   device's public key and answers with the key proof's JWS signing input.
2. :meth:`WalletService.finish` — the phone returns the ES256 signature over that input;
   :func:`vcsdk.oid4vc.finish_issuance` checks it with the device's registered key and sends the
   Credential Request; the credential is stored, encrypted, through
   :class:`~wallet_server.services.CredentialService`.

The SDK's :class:`~vcsdk.oid4vc.PendingIssuance` (the issuer's access token and endpoints) stays
sealed under the resident's data key in between.
With the custodial option (off by default) the server holds a device key for the resident and signs
the proof itself in one call.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import aiohttp
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vcsdk.credentials import IssuerKeyResolver
from vcsdk.egress import PrivateAddressError, PublicAddressResolver, egress_refusal, normal_host
from vcsdk.encoding import b64url_decode
from vcsdk.errors import (
    ConflictError,
    DidResolutionError,
    InvalidInputError,
    ProtocolError,
    SignatureInvalidError,
    VcsdkError,
    VerificationError,
)
from vcsdk.keys import Key
from vcsdk.oid4vc import (
    CredentialOffer,
    HttpRequest,
    HttpResponse,
    IssuedCredentials,
    IssuerSession,
    PendingIssuance,
    TxCode,
    fetch_credential_offer,
    finish_issuance,
    notify_issuer,
    parse_credential_offer,
    prepare_issuance,
    refresh_issuance,
    renew_issuance,
    run_flow,
    send,
    verify_received_credential,
)
from vcsdk.status import HttpStatusListFetcher
from wallet_server.errors import ForbiddenError
from wallet_server.services._common import Clock, new_id, require_id, require_str
from wallet_server.services._cursor import decode_cursor, encode_cursor
from wallet_server.services.auth import Principal
from wallet_server.services.credentials import CredentialService, CredentialView
from wallet_server.services.encryption import DataKeys, KeyProvider, open_sealed, seal
from wallet_server.storage import Offer, OfferState, ResidentSecretsRow, Store, WalletDataStore

__all__ = [
    "BATCH",
    "MAX_COPIES",
    "OfferView",
    "OffersPage",
    "OutgoingHttp",
    "PrivateAddressError",
    "ProofSigningRequest",
    "PublicAddressResolver",
    "ResidentVault",
    "WalletService",
]

T = TypeVar("T")
#: The metadata member naming the batch a stored credential copy belongs to (the offer it came from).
BATCH = "batch"
MAX_PAGE = 100
PROOF_ALG = "ES256"
#: How long a scanned offer stays in the inbox (the issuer's own expiry still applies).
SCANNED_OFFER_TTL = timedelta(days=1)
#: How long the phone has to sign a proof (the issuer's c_nonce and access token live about as long).
PROOF_SIGNING_TTL = timedelta(minutes=5)
#: Most copy keys the phone may name for one offer (the issuer's batch size may be smaller).
MAX_COPIES = 20
_OPEN_STATES: tuple[OfferState, ...] = ("pending", "accepting")


def _copy_keys(keys: Any) -> list[dict[str, str]]:
    """The phone's copy keys: distinct public P-256 JWKs (checked before the issuer sees them)."""
    if keys is None:
        return []
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_COPIES:
        raise InvalidInputError(f"keys must be a list of 1 to {MAX_COPIES} public JWKs")
    out: list[dict[str, str]] = []
    for jwk in keys:
        if not isinstance(jwk, dict) or "d" in jwk:
            raise InvalidInputError("each of keys must be a public JWK")
        try:
            key = Key.from_jwk(jwk)
        except VcsdkError:
            raise InvalidInputError("each of keys must be a public P-256 JWK") from None
        if key.curve != "P-256":
            raise InvalidInputError("each of keys must be a public P-256 JWK")
        public = key.public_jwk()
        if public in out:
            raise InvalidInputError("keys must be distinct: each copy has its own key")
        out.append(public)
    return out


# -- outgoing HTTP --------------------------------------------------------------------------------


class OutgoingHttp:
    """Requests the server makes for a resident (issuers, services): https to public hosts only.

    Plain http and private, loopback or link-local address literals are refused before a request
    is made, so a link in an offer or a QR code cannot make the server call into the operator's own
    network. Host names are checked where they are resolved: give the session a connector with a
    :class:`PublicAddressResolver` (the app does), and a name resolving to a private address is
    refused too.

    :param session: the app's client session (with its timeouts and resolver).
    :param allow_loopback_http: development and tests only: also ``http(s)://127.0.0.1`` and
        ``localhost``.
    :param private_hosts: host names allowed although they are private (see
        :class:`PublicAddressResolver`).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        allow_loopback_http: bool = False,
        private_hosts: Iterable[str] = (),
    ) -> None:
        self._session = session
        self._allow_loopback = allow_loopback_http
        self._private_hosts = frozenset(normal_host(h) for h in private_hosts)

    def status_fetcher(self) -> HttpStatusListFetcher:
        """A status-list fetcher on this session, under the same rules (loopback, private hosts)."""
        return HttpStatusListFetcher(
            session=self._session, allow_loopback_http=self._allow_loopback, private_hosts=self._private_hosts
        )

    def check_url(self, url: str) -> None:
        """The shared egress rule (:func:`vcsdk.egress.egress_refusal`): the host is checked as the
        HTTP client will read it (IDNA/NFKC), so Unicode digits cannot hide a private address.

        :raises ProtocolError: (``invalid_request``) for a URL the server will not call.
        """
        reason = egress_refusal(url, allow_loopback_http=self._allow_loopback, private_hosts=self._private_hosts)
        if reason is not None:
            raise ProtocolError(f"{reason}; the wallet does not call it", code="invalid_request")

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send one request of a protocol flow.

        :raises ProtocolError: a refused URL or (``invalid_request``) a host resolving to a private
            address, or (``server_unreachable``) the peer did not answer.
        """
        self.check_url(request.url)

        try:
            return await send(self._session, request)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                raise ProtocolError(
                    "the link's host resolves to a private address; the wallet does not call it",
                    code="invalid_request",
                ) from None
            raise ProtocolError(
                "the issuer or service could not be reached; try again later", code="server_unreachable"
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProtocolError(
                "the issuer or service could not be reached; try again later", code="server_unreachable"
            ) from exc

    async def run(self, flow: Generator[HttpRequest, HttpResponse, T]) -> T:
        """Drive a protocol flow to its end (bounded number of steps), every request through :meth:`send`."""
        return await run_flow(flow, self.send)


class IssuerResolverPort(Protocol):
    """Finds issuers' keys (the chain port; did:ethr resolution opens on first use)."""

    async def resolver(self) -> IssuerKeyResolver: ...


# -- sealed per-resident values -------------------------------------------------------------------

#: Marks sealed JSON that orjson wrote (a byte no JSON text starts with): orjson reads it back as
#: written. Anything else (what orjson does not write, such as integers beyond 64 bits, which its
#: reader would turn into floats; blobs of earlier versions) is read by the standard library.
#: A sealed value never holds NaN or an infinity (what residents send is parsed strictly, which
#: refuses them); orjson would write them as null. Blobs with the marker cannot be read by a
#: version before it: roll back only to one that has it.
_ORJSON = b"\x01"


def _sealable_json(value: Any) -> bytes:
    try:
        return _ORJSON + orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: integers beyond 64 bits, keys that are not strings, …
        return json.dumps(value, separators=(",", ":")).encode()

_CACHED_SECRETS = 10_000


class ResidentVault:
    """Seals JSON under a resident's data key; holds the pseudonym secret and the custodial key.

    Associated data names the kind of record, the resident and the row, so a blob copied to
    another row or resident does not open.
    """

    def __init__(self, store: Store, data: WalletDataStore, *, keys: KeyProvider, clock: Clock) -> None:
        self._store = store
        self._data = data
        self._keys = keys
        self._clock = clock
        # Per process and bounded: unwrapped data keys (DataKeys), and pseudonym secrets, which
        # never change once made; both only spare a row read (and an unwrap) per use.
        self._data_keys = DataKeys(store, keys)
        self._pseudonym_secrets: dict[str, bytes] = {}

    async def data_key(self, resident_id: str) -> AESGCM:
        """The resident's data key, ready to seal and open (unwrapped once per process)."""
        return await self._data_keys.cipher(resident_id)

    @staticmethod
    def _aad(kind: str, resident_id: str, row_id: str) -> bytes:
        return f"vcsdk-wallet/{kind}/v1/{resident_id}/{row_id}".encode()

    async def seal_json(self, resident_id: str, value: Any, *, kind: str, row_id: str) -> bytes:
        return seal(await self.data_key(resident_id), _sealable_json(value), aad=self._aad(kind, resident_id, row_id))

    async def open_json(self, resident_id: str, blob: bytes, *, kind: str, row_id: str) -> Any:
        """:raises StorageError: if the blob was altered or belongs elsewhere."""
        plain = open_sealed(await self.data_key(resident_id), blob, aad=self._aad(kind, resident_id, row_id))
        if plain[:1] == _ORJSON:
            return orjson.loads(plain[1:])
        return json.loads(plain)

    async def _secrets(self, resident_id: str) -> ResidentSecretsRow:
        row = await self._data.get_secrets(resident_id)
        if row is None:
            sealed = seal(
                await self.data_key(resident_id),
                secrets.token_bytes(32),
                aad=self._aad("pseudonym-secret", resident_id, "0"),
            )
            await self._data.add_secrets(ResidentSecretsRow(resident_id, sealed, None, self._clock()))
            row = await self._data.get_secrets(resident_id)
            assert row is not None
        return row

    async def pseudonym_secret(self, resident_id: str) -> bytes:
        """The resident's 32-byte secret for per-service pseudonyms (made on first use)."""
        secret = self._pseudonym_secrets.get(resident_id)
        if secret is None:
            row = await self._secrets(resident_id)
            secret = open_sealed(
                await self.data_key(resident_id), row.pseudonym_secret,
                aad=self._aad("pseudonym-secret", resident_id, "0"),
            )  # fmt: skip
            if len(self._pseudonym_secrets) >= _CACHED_SECRETS:
                del self._pseudonym_secrets[next(iter(self._pseudonym_secrets))]
            self._pseudonym_secrets[resident_id] = secret
        return secret

    async def custodial_key(self, resident_id: str, *, create: bool) -> Key | None:
        """The resident's server-held P-256 key (custodial option), made on first use if ``create``."""
        row = await self._secrets(resident_id)
        aad = self._aad("custodial-key", resident_id, "0")
        if row.custodial_key is None:
            if not create:
                return None
            jwk = Key.generate("P-256").private_jwk()
            sealed = seal(await self.data_key(resident_id), json.dumps(jwk).encode(), aad=aad)
            await self._data.set_custodial_key(resident_id, sealed)
            row = await self._secrets(resident_id)
            assert row.custodial_key is not None
        return Key.from_jwk(open_sealed(await self.data_key(resident_id), row.custodial_key, aad=aad))


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferView:
    """An offer in the inbox, as the app shows it (the pre-authorized code is never shown).

    ``state``: ``pending``, ``accepting`` (waiting for the proof signature), ``redeemed``,
    ``declined``, or ``expired``.
    """

    id: str
    state: str
    credential_issuer: str
    configuration_ids: tuple[str, ...]
    tx_code: TxCode | None
    created_at: datetime
    expires_at: datetime
    credential_id: str | None = None


@dataclass(frozen=True, slots=True)
class OffersPage:
    """One page of offers and the cursor for the next, if any."""

    items: tuple[OfferView, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ProofSigningRequest:
    """What the phone signs to finish an offer: each of ``signing_inputs`` with the key at the same
    position in ``jwks`` (``alg``); ``signing_input`` is the first (a single-copy offer has one).

    :ivar jwks: the public keys of the copies the phone asked for (the device key when it named none).
    """

    offer_id: str
    signing_input: str
    alg: str
    expires_at: datetime
    signing_inputs: tuple[str, ...] = ()
    jwks: tuple[dict[str, str], ...] = ()


# -- the service ----------------------------------------------------------------------------------


class WalletService:
    """The offers inbox; every method is scoped to the calling resident.

    :param store: the wallet store (devices and the offers inbox).
    :param vault: seals the in-progress flow under the resident's data key.
    :param credentials: stores the issued credential, encrypted.
    :param http: calls issuers.
    :param clock: returns the current UTC time.
    :param custodial: whether the custodial key option is enabled (off by default).
    :param chain: resolves issuers' DIDs: every received credential is verified before it is stored
        (without it, nothing is stored).
    """

    def __init__(
        self,
        store: Store,
        *,
        vault: ResidentVault,
        credentials: CredentialService,
        http: OutgoingHttp,
        clock: Clock,
        custodial: bool = False,
        chain: IssuerResolverPort | None = None,
    ) -> None:
        self._store = store
        self._vault = vault
        self._credentials = credentials
        self._http = http
        self._clock = clock
        self._custodial = custodial
        self._chain = chain

    async def _move_offer(
        self,
        resident_id: str,
        offer_id: str,
        *,
        expect_state: OfferState | Sequence[OfferState],
        state: OfferState,
        now: datetime,
        flow: bytes | None = None,
        credential_id: str | None = None,
    ) -> None:
        """Compare-and-set an offer of the resident (``flow`` and ``credential_id`` written as given).

        :raises ConflictError: if another request changed it first (or it is gone).
        """
        if not await self._store.set_offer_state(
            offer_id, state, now=now, expected=expect_state, resident_id=resident_id, flow=flow,
            credential_id=credential_id,
        ):
            raise ConflictError("the offer changed meanwhile; read it again")

    # -- delivering offers

    async def deliver_offer(
        self,
        resident_id: str,
        offer: CredentialOffer,
        *,
        offer_uri: str,
        created_by: str,
        expires_at: datetime,
    ) -> OfferView:
        """Put an offer into a resident's inbox (the city's issuance after KYC, or a scanned QR code).

        :param offer: the parsed offer (by value).
        :param offer_uri: the ``openid-credential-offer://`` URI it came as.
        :param created_by: who delivered it: an admin name, or ``resident`` for a scan.
        :raises NotFoundError: if the resident does not exist.
        :return: the offer as listed.
        """
        await self._store.get_resident(resident_id)
        now = self._clock()
        row = Offer(
            id=new_id("off"),
            resident_id=resident_id,
            configuration_id=offer.credential_configuration_ids[0],
            offer_uri=offer_uri,
            offer_json=json.dumps(offer.to_dict(), separators=(",", ":")),
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
            state="pending",
            updated_at=now,
        )
        await self._store.add_offer(row)
        return self._view(row)

    async def add_scanned(self, principal: Principal, uri: Any) -> OfferView:
        """Add an ``openid-credential-offer://`` link the resident scanned (by value or reference).

        :raises InvalidInputError: if ``uri`` is not a string of sensible length.
        :raises ProtocolError: (``invalid_request``) a malformed offer or a link the server will not
            fetch; the issuer's error when fetching by reference fails.
        """
        text = require_str(uri, "offer_uri", max_len=8192)
        if not text.startswith(("openid-credential-offer://", "https://")):
            raise ProtocolError("offer_uri must be an openid-credential-offer:// link", code="invalid_request")
        parsed = await self._http.run(fetch_credential_offer(text))
        self._http.check_url(parsed.credential_issuer)
        return await self.deliver_offer(
            principal.resident_id,
            parsed,
            offer_uri=text,
            created_by="resident",
            expires_at=self._clock() + SCANNED_OFFER_TTL,
        )

    # -- reading

    def _view(self, row: Offer) -> OfferView:
        try:
            offer = parse_credential_offer(row.offer_json)
            issuer, ids, tx = offer.credential_issuer, offer.credential_configuration_ids, offer.tx_code
        except VcsdkError:
            issuer, ids, tx = "", (row.configuration_id,), None
        state = row.state
        if state in _OPEN_STATES and self._clock() >= row.expires_at:
            state = "expired"
        return OfferView(row.id, state, issuer, ids, tx, row.created_at, row.expires_at, row.credential_id)

    async def get(self, principal: Principal, offer_id: str) -> OfferView:
        """:raises NotFoundError: if the resident has no such offer."""
        return self._view(await self._store.get_offer(require_id(offer_id, "offer"), resident_id=principal.resident_id))

    async def list(self, principal: Principal, *, limit: int = 20, cursor: str | None = None) -> OffersPage:
        """The resident's offers, oldest first.

        :raises InvalidInputError: bad ``limit`` or cursor.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        page = await self._store.list_offers(principal.resident_id, limit=limit, after=decode_cursor(cursor))
        items = tuple(self._view(r) for r in page.items)
        return OffersPage(items, encode_cursor(page.next_after) if page.next_after else None)

    async def decline(self, principal: Principal, offer_id: str) -> OfferView:
        """Decline an open offer; it stays in the list as ``declined``.

        :raises NotFoundError: no such offer. :raises ConflictError: it is not open any more.
        """
        row = await self._store.get_offer(require_id(offer_id, "offer"), resident_id=principal.resident_id)
        if row.state not in _OPEN_STATES:
            raise ConflictError(f"the offer is {row.state}; only an open offer can be declined")
        await self._move_offer(
            principal.resident_id, row.id, expect_state=_OPEN_STATES, state="declined", now=self._clock()
        )
        return await self.get(principal, row.id)

    # -- accepting

    async def _open_row(self, principal: Principal, offer_id: str) -> Offer:
        row = await self._store.get_offer(require_id(offer_id, "offer"), resident_id=principal.resident_id)
        if row.state not in _OPEN_STATES:
            raise ConflictError(f"the offer is {row.state}; it cannot be accepted again")
        if self._clock() >= row.expires_at:
            raise ConflictError("the offer has expired; ask the issuer for a new one")
        return row

    async def accept(
        self, principal: Principal, offer_id: str, *, tx_code: Any = None, custodial: bool = False, keys: Any = None
    ) -> ProofSigningRequest | CredentialView:
        """Step one: redeem the offer at the issuer and return the key proof to sign.

        Called again while ``accepting`` (e.g. the phone lost the input, or the issuer refused the
        proof's nonce), it fetches a fresh ``c_nonce`` and returns a new input.

        :param tx_code: the transaction code (PIN) the resident received out of band.
        :param keys: the public JWKs of fresh P-256 keys the phone made, one per credential copy
            (OpenID4VCI batch issuance; at most the issuer's batch size). Each copy is bound to its own
            key, so copies shown to different services share no key. Without them, one copy bound to
            the device key.
        :param custodial: sign with the server-held key and finish at once (needs the custodial
            option; the credential is then bound to that key, not to the phone).
        :raises NotFoundError: no such offer. :raises ConflictError: the offer is not open or expired.
        :raises InvalidInputError: a missing, unexpected or malformed ``tx_code``; ``keys`` that are
            not distinct public P-256 JWKs, or more than the issuer's batch size.
        :raises ProtocolError: the issuer's error code, e.g. ``invalid_grant`` for a wrong ``tx_code``
            or an already used offer.
        :raises ForbiddenError: ``custodial`` while the option is off.
        :return: the signing request, or (custodial) the stored credential.
        """
        row = await self._open_row(principal, offer_id)
        if tx_code is not None:
            tx_code = require_str(tx_code, "tx_code", max_len=32)
        copies = _copy_keys(keys)
        offer = parse_credential_offer(row.offer_json)
        config_id = row.configuration_id if row.configuration_id in offer.credential_configuration_ids else None
        if custodial:
            return await self._accept_custodial(principal, row, offer, tx_code, config_id)
        device = await self._store.get_device(principal.device_id)
        jwk = json.loads(device.public_jwk)
        jwks = copies or [jwk]
        if row.state == "accepting" and row.flow is not None:
            # Accepting again (the phone lost the input, or the issuer refused the nonce): a fresh
            # c_nonce, and the proofs are now for the keys of the device that called.
            pending = replace(await self._pending(principal, row, jwk, same_device=False), jwks=tuple(jwks))
            pending = await self._http.run(renew_issuance(pending, now=self._clock))
        else:
            pending = await self._http.run(
                prepare_issuance(offer, tx_code=tx_code, jwks=jwks, now=self._clock, configuration_id=config_id)
            )
        return await self._save_flow(principal, row, pending)

    async def _pending(
        self, principal: Principal, row: Offer, jwk: dict[str, str], *, same_device: bool = True
    ) -> PendingIssuance:
        assert row.flow is not None
        state = await self._vault.open_json(principal.resident_id, row.flow, kind="offer-flow", row_id=row.id)
        if same_device and state.get("device_id") != principal.device_id:
            raise ConflictError("sign the proof on the device that accepted the offer")
        if "pending" not in state:
            # Saved before the SDK kept the flow: the same facts under their old names.
            auth = str(state.get("authorization", ""))
            state["pending"] = {
                **state,
                "access_token": auth.removeprefix("Bearer "),
                "jwks": [jwk],
                "signing_inputs": [state.get("signing_input", "")],
            }
        return PendingIssuance.from_state(state["pending"])

    async def _save_flow(self, principal: Principal, row: Offer, pending: PendingIssuance) -> ProofSigningRequest:
        state = {"pending": pending.to_state(), "device_id": principal.device_id}
        sealed = await self._vault.seal_json(principal.resident_id, state, kind="offer-flow", row_id=row.id)
        await self._move_offer(
            principal.resident_id, row.id, expect_state=row.state, state="accepting", now=self._clock(), flow=sealed
        )
        expires = min(self._clock() + PROOF_SIGNING_TTL, row.expires_at)
        inputs = tuple(s.decode("ascii") for s in pending.signing_inputs)
        return ProofSigningRequest(
            row.id, inputs[0], pending.alg, expires, inputs, tuple(dict(j) for j in pending.jwks)
        )

    async def finish(
        self, principal: Principal, offer_id: str, signature: Any = None, *, signatures: Any = None
    ) -> CredentialView:
        """Step two: attach the phone's signatures to the key proofs, get and store the credentials
        (one copy per key; every copy is kept, the first is returned).

        :param signature: base64url of the raw ES256 signature (``R || S``, 64 bytes) over the
            signing input, made with the key of the device that called :meth:`accept`.
        :param signatures: for several copies: one such signature per signing input, in order, each
            made with the copy key at the same position.
        :raises NotFoundError: no such offer. :raises ConflictError: not waiting for a signature,
            or signed on another device than the one that accepted.
        :raises InvalidInputError: (``signature_invalid``) the signature does not verify with the
            device's registered key.
        :raises ProtocolError: the issuer's error, e.g. ``invalid_nonce`` (call accept again for a
            fresh input) or ``invalid_proof``.
        :return: the stored credential.
        """
        row = await self._store.get_offer(require_id(offer_id, "offer"), resident_id=principal.resident_id)
        if row.state != "accepting" or row.flow is None:
            raise ConflictError("the offer is not waiting for a proof signature; accept it first")
        device = await self._store.get_device(principal.device_id)
        pending = await self._pending(principal, row, json.loads(device.public_jwk))
        if signatures is None:
            signatures = [signature]
        issued = await self._finish_signed(pending, signatures)
        return await self._received(principal, row, pending, issued, device_x=json.loads(device.public_jwk).get("x"))

    async def _received(
        self,
        principal: Principal,
        row: Offer,
        pending: PendingIssuance,
        issued: IssuedCredentials,
        *,
        device_x: str | None = None,
    ) -> CredentialView:
        if issued.deferred or not issued.credentials:
            raise ProtocolError(
                "the issuer deferred issuance; this wallet takes offers it can redeem at once",
                code="issuance_deferred",
            )
        await self._verify_received(pending, issued.credentials)
        # Copies when the phone named keys of its own (the device key is not one of them).
        copies = not any(j.get("x") == device_x for j in pending.jwks) if device_x is not None else False
        flow = None
        if copies and isinstance(issued.session, IssuerSession) and issued.session.refresh_token:
            # Kept, sealed, to refill the batch later: the issuer session with its refresh token.
            state = {"pending": replace(pending, session=issued.session).to_state(), "refill": True}
            flow = await self._vault.seal_json(principal.resident_id, state, kind="offer-flow", row_id=row.id)
        view = await self._store_credentials(
            principal, row, issued.credentials, pending.credential_issuer, copies=copies, flow=flow
        )
        if issued.notification_id is not None and pending.notification_endpoint is not None:
            # OpenID4VCI §11: tell the issuer the credential was stored. Best effort: the credential
            # is already safe, and an issuer that misses the notification loses nothing.
            with contextlib.suppress(VcsdkError):
                await self._http.run(notify_issuer(pending, issued.notification_id, now=self._clock))
        return view

    async def _finish_signed(self, pending: PendingIssuance, signatures: object) -> IssuedCredentials:
        """Send the credential request with the phone's signatures, one per signing input.

        :raises InvalidInputError: (``signature_invalid``) a missing, extra or wrong signature.
        :raises ProtocolError: the issuer's error.
        """
        if not isinstance(signatures, list) or len(signatures) != len(pending.signing_inputs):
            raise InvalidInputError(
                f"send one signature per signing input ({len(pending.signing_inputs)})", code="signature_invalid"
            )
        raw = [b64url_decode(require_str(s, "signature", max_len=200), what="signature") for s in signatures]
        try:
            return await self._http.run(finish_issuance(pending, raw, now=self._clock))
        except SignatureInvalidError:
            raise InvalidInputError(
                "a signature does not verify with its key; sign each signing_input with ES256 and the key of its jwk",
                code="signature_invalid",
            ) from None

    async def _verify_received(self, pending: PendingIssuance, credentials: Sequence[str]) -> None:
        """RFC 9901 §7.2: every credential is verified before anything is stored (issuer signature
        with the key its DID names, SD-JWT not SD-JWT+KB, Disclosures, salts of 128 bits, ``cnf``
        one of the keys proved, ``vct`` as the metadata announced); one bad credential refuses all.

        :raises ProtocolError: with the failed check's code (``signature_invalid``, ``weak_salt``,
            ``unexpected_key_binding``, ``cnf_mismatch``, ``unexpected_vct``, …).
        """
        if self._chain is None:
            raise ProtocolError("this wallet cannot resolve issuers, so it stores no credential", code="server_error")
        resolver = await self._chain.resolver()
        seen: set[str] = set()
        for token in credentials:
            try:
                verified = await verify_received_credential(
                    token, resolver=resolver, device_jwks=pending.jwks, now=self._clock(), expected_vct=pending.vct
                )
            except (VerificationError, DidResolutionError) as exc:
                # The issuer's answer failed a check: a bad request (400) with that check's code,
                # not the app's own credentials (401). Nothing of the batch is stored.
                raise ProtocolError(f"the issuer's credential does not verify: {exc.message}", code=exc.code) from None
            assert verified.holder_key is not None
            thumbprint = verified.holder_key.thumbprint()
            if thumbprint in seen:
                raise ProtocolError("the issuer bound two credentials to one key", code="cnf_mismatch")
            seen.add(thumbprint)

    async def _store_credentials(
        self,
        principal: Principal,
        row: Offer,
        tokens: Sequence[str],
        issuer: str,
        *,
        copies: bool,
        flow: bytes | None = None,
    ) -> CredentialView:
        # Every copy of a batch names the batch (the offer) and how many copies came with it: the wallet
        # shows each copy to one service only (see PresentationService).
        # A credential bound to the device key itself (no copy keys named) is not a copy: the same key
        # is in every credential the device accepted that way, so the wallet cannot make it unlinkable.
        batch = {BATCH: row.id, "copies": len(tokens)} if copies else {}
        views = [
            await self._credentials.put(
                principal,
                token,
                format="dc+sd-jwt",
                metadata={
                    "offer_id": row.id, "credential_issuer": issuer, "configuration_id": row.configuration_id,
                    **batch,
                },
            )
            for token in tokens
        ]
        view = views[0]
        await self._move_offer(
            principal.resident_id,
            row.id,
            # The city's own issuer marks its offers redeemed as it issues; that is the same outcome.
            expect_state=(*_OPEN_STATES, "redeemed"),
            state="redeemed",
            now=self._clock(),
            credential_id=row.credential_id or view.id,
            flow=flow,
        )
        return view

    # -- refilling a batch of copies

    async def _refill_state(self, principal: Principal, batch: str) -> tuple[Offer, dict[str, Any]]:
        row = await self._store.get_offer(require_id(batch, "batch"), resident_id=principal.resident_id)
        if row.state != "redeemed" or row.flow is None:
            raise ConflictError("these copies cannot be refilled here; accept a new offer from the issuer")
        state = await self._vault.open_json(principal.resident_id, row.flow, kind="offer-flow", row_id=row.id)
        if not state.get("refill"):
            raise ConflictError("these copies cannot be refilled here; accept a new offer from the issuer")
        return row, state

    async def refill(self, principal: Principal, batch: Any, keys: Any) -> ProofSigningRequest:
        """Ask the issuer for new copies of a batch, for fresh keys of the phone (re-issuance with
        the refresh token, OpenID4VCI §13.5); step one, like :meth:`accept`.

        :param batch: the batch (the ``batch`` of its copies' metadata: the offer they came from).
        :param keys: public JWKs of fresh P-256 keys, one per new copy.
        :raises NotFoundError: no such batch. :raises ConflictError: the batch cannot be refilled (no
            refresh token: accept a new offer).
        :raises InvalidInputError: bad ``keys``.
        :raises ProtocolError: the issuer's error (``invalid_grant`` once the refresh token expired).
        """
        copies = _copy_keys(keys)
        if not copies:
            raise InvalidInputError("keys are required: one fresh public key per new copy")
        row, state = await self._refill_state(principal, batch)
        pending = await self._http.run(
            refresh_issuance(PendingIssuance.from_state(state["pending"]), now=self._clock, jwks=copies)
        )
        sealed = await self._vault.seal_json(
            principal.resident_id,
            {"pending": pending.to_state(), "refill": True, "device_id": principal.device_id},
            kind="offer-flow",
            row_id=row.id,
        )
        await self._move_offer(
            principal.resident_id, row.id, expect_state="redeemed", state="redeemed", now=self._clock(),
            flow=sealed, credential_id=row.credential_id,
        )
        inputs = tuple(s.decode("ascii") for s in pending.signing_inputs)
        return ProofSigningRequest(
            row.id, inputs[0], pending.alg, self._clock() + PROOF_SIGNING_TTL, inputs,
            tuple(dict(j) for j in pending.jwks),
        )

    async def finish_refill(self, principal: Principal, batch: Any, signatures: Any) -> CredentialView:
        """Step two of a refill: the phone's signatures; the new copies join the batch.

        :raises ConflictError: no refill waiting for signatures on this device.
        :raises InvalidInputError: (``signature_invalid``) a missing or wrong signature.
        :raises ProtocolError: the issuer's error (``credential_request_denied`` once revoked).
        :return: the first new copy.
        """
        row, state = await self._refill_state(principal, batch)
        if state.get("device_id") != principal.device_id:
            raise ConflictError("start the refill on this device first")
        pending = PendingIssuance.from_state(state["pending"])
        issued = await self._finish_signed(pending, signatures)
        if issued.deferred or not issued.credentials:
            raise ProtocolError("the issuer deferred issuance", code="issuance_deferred")
        await self._verify_received(pending, issued.credentials)
        session = issued.session if isinstance(issued.session, IssuerSession) else pending.session
        kept = {"pending": replace(pending, session=session).to_state(), "refill": True}
        flow = await self._vault.seal_json(principal.resident_id, kept, kind="offer-flow", row_id=row.id)
        return await self._store_credentials(
            principal, row, issued.credentials, pending.credential_issuer, copies=True, flow=flow
        )

    async def _accept_custodial(
        self, principal: Principal, row: Offer, offer: CredentialOffer, tx_code: str | None, config_id: str | None
    ) -> CredentialView:
        if not self._custodial:
            raise ForbiddenError("the custodial key option is not enabled on this server")
        key = await self._vault.custodial_key(principal.resident_id, create=True)
        assert key is not None
        if row.state != "pending":
            raise ConflictError("the offer is already being accepted on a device")
        pending = await self._http.run(
            prepare_issuance(
                offer, tx_code=tx_code, jwks=[key.public_jwk()], now=self._clock, configuration_id=config_id
            )
        )
        issued = await self._http.run(finish_issuance(pending, [key.sign(pending.signing_inputs[0])], now=self._clock))
        return await self._received(principal, row, pending, issued)
