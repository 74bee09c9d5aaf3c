"""Consent records after ISO/IEC TS 27560 and the Kantara Consent Receipt specification.

A consent record says which service (the PII controller) may use which of a resident's claims for
which purposes, under which legal basis, from when until when, and covers one presentation. After
ISO/IEC TS 27560 it also names the notice the resident was shown, the data categories, the
recipients beyond the controller, the retention period, the jurisdiction, the consent type and the
history of events (given, withdrawn). The resident appears only as a per-service pseudonym (see
:func:`resident_pseudonym`).

The wallet builds the record from the service's relying-party registration
(:meth:`ConsentRecord.give`) and signs it (:func:`sign_consent_record`), so the service can hold it
as evidence; a withdrawal travels the same way, signed, to the service's registered endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, NewType, NotRequired, TypedDict, get_args

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._json import canonical_json, parse_json_object
from vcsdk._time import aware, parse_rfc3339, to_rfc3339
from vcsdk._url import is_https_url
from vcsdk.credentials import IssuerKeyResolver
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.errors import (
    ConflictError,
    ConsentMismatchError,
    InvalidInputError,
    KeyNotFoundError,
    TokenNotYetValidError,
)
from vcsdk.keys import Key, Signer, decode_jws, sign_jws, verify_jws
from vcsdk.registration import RelyingPartyRegistration

__all__ = [
    "CONSENT_RECORD_TYP",
    "CONSENT_RECORD_VERSION",
    "MAX_CONSENT_RECORD_BYTES",
    "ConsentEvent",
    "ConsentRecord",
    "ConsentRecordJson",
    "ConsentState",
    "ConsentType",
    "Controller",
    "ControllerJson",
    "LegalBasis",
    "Pseudonym",
    "accept_withdrawal",
    "peek_consent_record",
    "presentation_hash",
    "resident_pseudonym",
    "sign_consent_record",
    "verify_consent_record",
    "verify_consent_record_resolved",
]

#: Version tag written into every consent record's JSON form (ISO/IEC TS 27560 fields).
CONSENT_RECORD_VERSION = "vcsdk-consent-2"
#: The first version, without the ISO/IEC TS 27560 additions: still read, for records kept before.
_LEGACY_VERSION = "vcsdk-consent-1"
#: The JWS ``typ`` of a consent record the wallet signed (RFC 8725 §3.11 explicit typing).
CONSENT_RECORD_TYP = "consent-record+jwt"

Pseudonym = NewType("Pseudonym", str)
ConsentState = Literal["given", "withdrawn"]
#: ISO/IEC TS 27560 consent types; a wallet's consent screen gives ``explicit`` consent.
ConsentType = Literal["explicit", "expressed", "implied"]
ConsentEventType = Literal["given", "withdrawn"]
#: GDPR Art. 6(1) lawful bases, as ISO/IEC TS 27560 and Kantara name them.
LegalBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interest", "public_task", "legitimate_interest"
]

_MAX_ITEMS = 64
_MAX_TEXT = 256
_ID = re.compile(r"[A-Za-z0-9._:~-]{1,128}")
_DID = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]{1,200}")
_PSEUDONYM = re.compile(r"[A-Za-z0-9_-]{43}")
_MIN_SECRET = 32
_MAX_EVENTS = 16
_WITHDRAWAL_LEEWAY = timedelta(seconds=60)
_JURISDICTION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


def resident_pseudonym(resident_secret: bytes, service_did: str) -> Pseudonym:
    """The resident's pseudonym towards one service: base64url HMAC-SHA256(secret, service DID).

    The keyed hash makes pseudonyms for two services unlinkable for anyone without the resident's
    secret, so receipts from different services cannot be joined.

    :param resident_secret: at least 32 random bytes the resident's wallet keeps.
    :param service_did: the service's DID (the consent's controller).
    :raises InvalidInputError: if the secret is shorter than 32 bytes or the DID is malformed.
    :return: 43 characters of base64url.
    """
    if not isinstance(resident_secret, bytes) or len(resident_secret) < _MIN_SECRET:
        raise InvalidInputError(f"the resident secret must be at least {_MIN_SECRET} bytes")
    _check_did(service_did, what="service DID")
    mac = hmac.new(resident_secret, service_did.encode("utf-8"), hashlib.sha256).digest()
    return Pseudonym(b64url_encode(mac))


def presentation_hash(presentation: str | bytes) -> str:
    """base64url SHA-256 of the presentation exactly as the wallet sent it (e.g. an SD-JWT+KB).

    :return: 43 characters of base64url.
    """
    data = presentation.encode("utf-8") if isinstance(presentation, str) else presentation
    return b64url_encode(hashlib.sha256(data).digest())


class ControllerJson(TypedDict):
    did: str
    name: str


class ConsentEventJson(TypedDict):
    type: str
    at: str
    by: str


class ConsentRecordJson(TypedDict):
    version: str
    record_id: str
    resident_pseudonym: str
    controller: ControllerJson
    purposes: list[str]
    claims_requested: list[str]
    claims_disclosed: list[str]
    legal_basis: str
    given_at: str
    expires_at: NotRequired[str]
    state: str
    withdrawn_at: NotRequired[str]
    presentation_hash: str
    notice: NotRequired[str]
    registration_id: NotRequired[str]
    data_categories: NotRequired[list[str]]
    recipients: NotRequired[list[str]]
    retention_days: NotRequired[int]
    jurisdiction: NotRequired[str]
    receipt_endpoint: NotRequired[str]
    consent_type: NotRequired[str]
    events: NotRequired[list[ConsentEventJson]]


#: The ISO/IEC TS 27560 members a ``vcsdk-consent-2`` record must carry.
_V2_MEMBERS = (
    "notice", "registration_id", "data_categories", "recipients", "retention_days", "jurisdiction",
    "receipt_endpoint", "consent_type", "events",
)


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One entry of a consent's history (ISO/IEC TS 27560 event): what happened, when, by whom."""

    type: ConsentEventType
    at: datetime
    by: Literal["resident"] = "resident"

    def __post_init__(self) -> None:
        if self.type not in get_args(ConsentEventType):
            raise InvalidInputError("a consent event is 'given' or 'withdrawn'")
        if self.by != "resident":
            raise InvalidInputError("a consent event is made by the resident")
        object.__setattr__(self, "at", _second(self.at, what="event time"))

    def to_json(self) -> ConsentEventJson:
        return {"type": self.type, "at": to_rfc3339(self.at), "by": self.by}


@dataclass(frozen=True, slots=True)
class Controller:
    """The PII controller: the service that receives the data.

    :param did: the service's DID; it signs access receipts with a key from this DID.
    :param name: a human-readable name shown to the resident.
    """

    did: str
    name: str

    def __post_init__(self) -> None:
        _check_did(self.did, what="controller DID")
        _check_text(self.name, what="controller name")


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent a resident gave a service (ISO/IEC TS 27560 / Kantara consent receipt fields).

    Build with :meth:`give` from the service's registration; change state with :meth:`withdraw`;
    exchange with :meth:`to_json` and :meth:`from_json`, signed with :func:`sign_consent_record`.
    All times are timezone-aware UTC.

    :ivar notice: the privacy notice the resident was shown (the registration's ``privacy_policy``).
    :ivar registration_id: the city's registration the request was checked against.
    :ivar data_categories: the registered claim sets the disclosed claims fall in.
    :ivar recipients: who receives the data besides the controller (from the registration).
    :ivar retention_days: how long the controller may keep the data.
    :ivar jurisdiction: ISO 3166 code of the law that applies.
    :ivar receipt_endpoint: where the wallet delivers a withdrawal (the registration's).
    :ivar consent_type: ``explicit`` for consent given on the wallet's consent screen.
    :ivar events: the history, oldest first: ``given`` and, once withdrawn, ``withdrawn``.

    The ISO/IEC TS 27560 members are ``None`` only in records kept before they existed
    (``vcsdk-consent-1``), which are still read.
    """

    record_id: str
    resident_pseudonym: Pseudonym
    controller: Controller
    purposes: tuple[str, ...]
    claims_requested: tuple[str, ...]
    claims_disclosed: tuple[str, ...]
    legal_basis: LegalBasis
    given_at: datetime
    expires_at: datetime | None
    state: ConsentState
    withdrawn_at: datetime | None
    presentation_hash: str
    notice: str | None = None
    registration_id: str | None = None
    data_categories: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    retention_days: int | None = None
    jurisdiction: str | None = None
    receipt_endpoint: str | None = None
    consent_type: ConsentType = "explicit"
    events: tuple[ConsentEvent, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.record_id, str) or _ID.fullmatch(self.record_id) is None:
            raise InvalidInputError("consent record_id must be 1-128 characters of [A-Za-z0-9._:~-]")
        if not isinstance(self.resident_pseudonym, str) or _PSEUDONYM.fullmatch(self.resident_pseudonym) is None:
            raise InvalidInputError("resident_pseudonym must be a base64url HMAC-SHA256 (43 characters)")
        if not isinstance(self.controller, Controller):
            raise InvalidInputError("controller must be a Controller")
        for name in ("purposes", "claims_requested", "claims_disclosed"):
            _check_names(getattr(self, name), what=name)
        if not self.purposes:
            raise InvalidInputError("a consent needs at least one purpose")
        if not set(self.claims_disclosed) <= set(self.claims_requested):
            raise InvalidInputError("claims_disclosed must be a subset of claims_requested")
        if self.legal_basis not in get_args(LegalBasis):
            raise InvalidInputError(f"legal_basis must be one of {list(get_args(LegalBasis))}")
        # Whole seconds, as the JSON form and receipts carry them: a record equals its round trip.
        object.__setattr__(self, "given_at", _second(self.given_at, what="given_at"))
        if self.expires_at is not None:
            object.__setattr__(self, "expires_at", _second(self.expires_at, what="expires_at"))
            if self.expires_at <= self.given_at:
                raise InvalidInputError("expires_at must be after given_at")
        if self.state not in get_args(ConsentState):
            raise InvalidInputError("state must be 'given' or 'withdrawn'")
        if (self.state == "withdrawn") != (self.withdrawn_at is not None):
            raise InvalidInputError("withdrawn_at is set exactly when state is 'withdrawn'")
        if self.withdrawn_at is not None:
            object.__setattr__(self, "withdrawn_at", _second(self.withdrawn_at, what="withdrawn_at"))
            if self.withdrawn_at < self.given_at:
                raise InvalidInputError("withdrawn_at cannot be before given_at")
        _check_digest(self.presentation_hash, what="presentation_hash")
        self._check_27560()

    def _check_27560(self) -> None:
        legacy = self.registration_id is None
        iso = (self.notice, self.retention_days, self.jurisdiction, self.receipt_endpoint)
        if legacy:
            if any(v is not None for v in iso) or self.data_categories or self.recipients:
                raise InvalidInputError("a consent record with ISO/IEC TS 27560 fields needs its registration_id")
        else:
            if not isinstance(self.registration_id, str) or _ID.fullmatch(self.registration_id) is None:
                raise InvalidInputError("registration_id must be 1-128 characters of [A-Za-z0-9._:~-]")
            for name in ("notice", "receipt_endpoint"):
                value = getattr(self, name)
                if not is_https_url(value) or len(value) > 1024:
                    raise InvalidInputError(f"{name} must be an https URL")
            days = self.retention_days
            if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
                raise InvalidInputError("retention_days must be a whole number of days, 0 to 3650")
            if not isinstance(self.jurisdiction, str) or _JURISDICTION.fullmatch(self.jurisdiction) is None:
                raise InvalidInputError("jurisdiction must be an ISO 3166 code such as JP or JP-17")
        for name in ("data_categories", "recipients"):
            _check_names(getattr(self, name), what=name)
        if self.consent_type not in get_args(ConsentType):
            raise InvalidInputError(f"consent_type must be one of {list(get_args(ConsentType))}")
        expected = [ConsentEvent("given", self.given_at)]
        if self.withdrawn_at is not None:
            expected.append(ConsentEvent("withdrawn", self.withdrawn_at))
        if not self.events:
            object.__setattr__(self, "events", tuple(expected))
        elif (
            not isinstance(self.events, tuple)
            or len(self.events) > _MAX_EVENTS
            or list(self.events) != expected
        ):
            # The history is the record's own: given at given_at, withdrawn at withdrawn_at.
            raise InvalidInputError("events must be 'given' at given_at, then 'withdrawn' at withdrawn_at if withdrawn")

    @classmethod
    def give(
        cls,
        *,
        record_id: str,
        resident_pseudonym: Pseudonym | str,
        registration: RelyingPartyRegistration,
        purposes: tuple[str, ...] | list[str],
        claims_requested: tuple[str, ...] | list[str],
        claims_disclosed: tuple[str, ...] | list[str],
        presentation_hash: str,
        now: datetime,
        legal_basis: LegalBasis = "consent",
        expires_at: datetime | None = None,
    ) -> ConsentRecord:
        """An explicit consent in state ``given`` at ``now``, for a registered service.

        The controller, notice, recipients, retention, jurisdiction and receipt endpoint come from
        the registration; the data categories are the registered claim sets of the disclosed claims.

        :param record_id: a unique id (e.g. a UUID) the wallet and the service both keep.
        :param resident_pseudonym: from :func:`resident_pseudonym` for this controller.
        :param registration: the service's registration, verified by the wallet.
        :param purposes: registered purpose ids the resident consented to.
        :param presentation_hash: from :func:`presentation_hash` of the presentation the consent covers.
        :raises InvalidInputError: if a field is malformed, a purpose is not registered, or disclosed
            claims are not requested claims.
        :return: the record.
        """
        unregistered = [p for p in purposes if registration.purpose(p) is None]
        if unregistered:
            raise InvalidInputError("every purpose of a consent must be one of the service's registered purposes")
        return cls(
            record_id=record_id,
            resident_pseudonym=Pseudonym(resident_pseudonym),
            controller=Controller(did=registration.service_did, name=registration.name),
            purposes=tuple(purposes),
            claims_requested=tuple(claims_requested),
            claims_disclosed=tuple(claims_disclosed),
            legal_basis=legal_basis,
            given_at=now,
            expires_at=expires_at,
            state="given",
            withdrawn_at=None,
            presentation_hash=presentation_hash,
            notice=registration.privacy_policy,
            registration_id=registration.registration_id,
            data_categories=registration.claim_set_ids(claims_disclosed),
            recipients=registration.recipients,
            retention_days=registration.retention_days,
            jurisdiction=registration.jurisdiction,
            receipt_endpoint=registration.receipt_endpoint,
            consent_type="explicit",
        )

    def withdraw(self, *, now: datetime) -> ConsentRecord:
        """The same consent, withdrawn at ``now``; accesses after ``now`` are refused.

        :raises ConflictError: if the consent is already withdrawn.
        :raises InvalidInputError: if ``now`` is before the consent was given.
        :return: the withdrawn record.
        """
        if self.state == "withdrawn":
            raise ConflictError("this consent is already withdrawn")
        at = _second(now, what="now")
        return replace(
            self, state="withdrawn", withdrawn_at=at, events=(*self.events, ConsentEvent("withdrawn", at))
        )

    def active_at(self, when: datetime) -> bool:
        """True if the consent covers an access at ``when`` (given, not expired, not withdrawn)."""
        when = aware(when)
        if when < self.given_at:
            return False
        if self.expires_at is not None and when >= self.expires_at:
            return False
        return self.withdrawn_at is None or when < self.withdrawn_at

    def to_json(self) -> ConsentRecordJson:
        """The JSON wire shape (RFC 3339 times, sorted into a fixed member set)."""
        out: ConsentRecordJson = {
            "version": _LEGACY_VERSION if self.registration_id is None else CONSENT_RECORD_VERSION,
            "record_id": self.record_id,
            "resident_pseudonym": self.resident_pseudonym,
            "controller": {"did": self.controller.did, "name": self.controller.name},
            "purposes": list(self.purposes),
            "claims_requested": list(self.claims_requested),
            "claims_disclosed": list(self.claims_disclosed),
            "legal_basis": self.legal_basis,
            "given_at": to_rfc3339(self.given_at),
            "state": self.state,
            "presentation_hash": self.presentation_hash,
        }
        if self.expires_at is not None:
            out["expires_at"] = to_rfc3339(self.expires_at)
        if self.withdrawn_at is not None:
            out["withdrawn_at"] = to_rfc3339(self.withdrawn_at)
        if self.registration_id is not None:
            assert self.notice is not None and self.retention_days is not None  # checked in __post_init__
            assert self.jurisdiction is not None and self.receipt_endpoint is not None
            out["notice"] = self.notice
            out["registration_id"] = self.registration_id
            out["data_categories"] = list(self.data_categories)
            out["recipients"] = list(self.recipients)
            out["retention_days"] = self.retention_days
            out["jurisdiction"] = self.jurisdiction
            out["receipt_endpoint"] = self.receipt_endpoint
            out["consent_type"] = self.consent_type
            out["events"] = [e.to_json() for e in self.events]
        return out

    def to_bytes(self) -> bytes:
        """Canonical (key-sorted, compact) UTF-8 JSON of :meth:`to_json`."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, value: ConsentRecordJson | dict[str, Any] | str | bytes) -> ConsentRecord:
        """Read a consent record from its JSON form (object or text).

        :raises InvalidInputError: on unknown members, a wrong version or any malformed field.
        :return: the record.
        """
        obj: dict[str, Any] = (
            parse_json_object(value, what="consent record", max_bytes=65_536)
            if isinstance(value, str | bytes)
            else dict(value)
        )
        allowed = set(ConsentRecordJson.__annotations__)
        unknown = set(obj) - allowed
        if unknown:
            raise InvalidInputError(f"consent record has unknown members: {sorted(unknown)}")
        version = obj.get("version")
        if version not in (CONSENT_RECORD_VERSION, _LEGACY_VERSION):
            raise InvalidInputError(f"consent record version must be {CONSENT_RECORD_VERSION!r}")
        iso: dict[str, Any] = {}
        if version == CONSENT_RECORD_VERSION:
            missing = [m for m in _V2_MEMBERS if m not in obj]
            if missing:
                raise InvalidInputError(f"consent record lacks {missing}")
            for name in ("data_categories", "recipients", "events"):
                if not isinstance(obj[name], list):
                    raise InvalidInputError(f"consent {name} must be a list")
            if not obj["events"]:
                raise InvalidInputError("consent events must record at least when it was given")
            iso = {
                "notice": _str(obj, "notice"),
                "registration_id": _str(obj, "registration_id"),
                "data_categories": tuple(obj["data_categories"]),
                "recipients": tuple(obj["recipients"]),
                "retention_days": obj["retention_days"],
                "jurisdiction": _str(obj, "jurisdiction"),
                "receipt_endpoint": _str(obj, "receipt_endpoint"),
                "consent_type": _str(obj, "consent_type"),
                "events": tuple(_event(e) for e in obj["events"][:_MAX_EVENTS + 1]),
            }
        elif any(m in obj for m in _V2_MEMBERS):
            raise InvalidInputError(f"a {_LEGACY_VERSION} consent record has no ISO/IEC TS 27560 members")
        ctrl = obj.get("controller")
        if not isinstance(ctrl, dict) or set(ctrl) != {"did", "name"}:
            raise InvalidInputError("consent controller must be an object with did and name")
        for name in ("purposes", "claims_requested", "claims_disclosed"):
            if not isinstance(obj.get(name), list):
                raise InvalidInputError(f"consent {name} must be a list of strings")
        expires = obj.get("expires_at")
        withdrawn = obj.get("withdrawn_at")
        return cls(
            record_id=_str(obj, "record_id"),
            resident_pseudonym=Pseudonym(_str(obj, "resident_pseudonym")),
            controller=Controller(did=_str(ctrl, "did"), name=_str(ctrl, "name")),
            purposes=tuple(obj["purposes"]),
            claims_requested=tuple(obj["claims_requested"]),
            claims_disclosed=tuple(obj["claims_disclosed"]),
            legal_basis=_str(obj, "legal_basis"),  # type: ignore[arg-type]  # checked in __post_init__
            given_at=parse_rfc3339(obj.get("given_at"), what="given_at"),
            expires_at=None if expires is None else parse_rfc3339(expires, what="expires_at"),
            state=_str(obj, "state"),  # type: ignore[arg-type]  # checked in __post_init__
            withdrawn_at=None if withdrawn is None else parse_rfc3339(withdrawn, what="withdrawn_at"),
            presentation_hash=_str(obj, "presentation_hash"),
            **iso,
        )


def _second(value: datetime, *, what: str) -> datetime:
    return aware(value, what=what).replace(microsecond=0)


def _event(value: Any) -> ConsentEvent:
    if not isinstance(value, dict) or set(value) != {"type", "at", "by"}:
        raise InvalidInputError("each consent event has type, at and by")
    return ConsentEvent(type=value["type"], at=parse_rfc3339(value["at"], what="event time"), by=value["by"])


def _str(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise InvalidInputError(f"consent {name} must be a string")
    return value


def _check_did(value: object, *, what: str) -> None:
    if not isinstance(value, str) or _DID.fullmatch(value) is None:
        raise InvalidInputError(f"{what} is not a DID")


def _check_text(value: object, *, what: str) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_TEXT:
        raise InvalidInputError(f"{what} must be 1-{_MAX_TEXT} characters")


def _check_names(values: object, *, what: str) -> None:
    if not isinstance(values, tuple) or len(values) > _MAX_ITEMS:
        raise InvalidInputError(f"{what} must be at most {_MAX_ITEMS} names")
    for v in values:
        _check_text(v, what=f"each of {what}")
    if len(set(values)) != len(values):
        raise InvalidInputError(f"{what} repeats a name")


def _check_digest(value: object, *, what: str) -> None:
    if not isinstance(value, str) or len(value) != 43:
        raise InvalidInputError(f"{what} must be a base64url SHA-256 digest")
    b64url_decode(value, what=what)


# -- the signed record ------------------------------------------------------------------------

#: Largest signed consent record accepted.
MAX_CONSENT_RECORD_BYTES = 65_536


def sign_consent_record(record: ConsentRecord, signer: Signer) -> str:
    """Sign a consent record as the wallet, so the service can hold it as evidence.

    :param signer: the wallet's key; its ``kid`` must be a DID URL (``did:…#key``) so the service can
        resolve it.
    :raises InvalidInputError: if the ``kid`` is not a DID URL.
    :return: a compact JWS, ``typ`` ``consent-record+jwt``, whose payload is :meth:`ConsentRecord.to_json`.
    """
    if signer.kid is None or not signer.kid.startswith("did:") or "#" not in signer.kid:
        raise InvalidInputError("the wallet's signing key needs a DID URL as kid (did:…#fragment)")
    return sign_jws(dict(record.to_json()), signer, typ=CONSENT_RECORD_TYP)


def peek_consent_record(token: str) -> ConsentRecord:
    """Read a signed consent record without checking its signature. Trust nothing in it yet.

    :raises InvalidTokenError: if it is not a compact JWS.
    :raises InvalidInputError: if the payload is not a consent record.
    """
    return ConsentRecord.from_json(decode_jws(token, max_bytes=MAX_CONSENT_RECORD_BYTES).unverified_claims())


def verify_consent_record(
    token: str, *, wallet_did: str, wallet_key: Key, policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY
) -> ConsentRecord:
    """Verify a consent record the wallet signed.

    :param wallet_did: the DID of the wallet the service trusts (for a city's wallet, the city's DID).
    :param wallet_key: the key the token's ``kid`` names, resolved from that DID.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit the key.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises TokenTypeError: if ``typ`` is not ``consent-record+jwt``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises KeyNotFoundError: if ``kid`` is not a DID URL of ``wallet_did``.
    :raises InvalidInputError: if the payload is not a consent record.
    :return: the record.
    """
    jws = decode_jws(token, max_bytes=MAX_CONSENT_RECORD_BYTES)
    algorithms = verification_policy(policy).algorithm_policy
    verified = verify_jws(jws, wallet_key, policy=algorithms, typ=CONSENT_RECORD_TYP)
    if verified.kid is None or not verified.kid.startswith(wallet_did + "#"):
        raise KeyNotFoundError("the consent record's kid is not a key of the wallet's DID")
    return ConsentRecord.from_json(verified.claims())


async def verify_consent_record_resolved(
    token: str,
    *,
    wallet_did: str,
    resolver: IssuerKeyResolver,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
) -> ConsentRecord:
    """Resolve the wallet's key named by the token's ``kid``, then :func:`verify_consent_record`.

    :raises KeyNotFoundError: if the ``kid`` is missing or not a key of ``wallet_did``.
    :raises DidResolutionError: if the wallet's DID cannot be resolved.
    """
    kid = decode_jws(token, max_bytes=MAX_CONSENT_RECORD_BYTES).header.get("kid")
    if not isinstance(kid, str) or not kid.startswith(wallet_did + "#"):
        raise KeyNotFoundError("the consent record's kid is not a key of the wallet's DID")
    key = await resolver.resolve_key(wallet_did, kid, relationship="assertionMethod")
    return verify_consent_record(token, wallet_did=wallet_did, wallet_key=key, policy=verification_policy(policy))


def accept_withdrawal(held: ConsentRecord, withdrawn: ConsentRecord, *, now: datetime) -> ConsentRecord:
    """The service's check of a withdrawal it received: the same consent it holds, now withdrawn.

    Delivering the same withdrawal again returns it again (a wallet may retry).

    :param held: the consent record the service keeps.
    :param withdrawn: the verified record the wallet delivered (:func:`verify_consent_record`).
    :param now: the time of receipt; a withdrawal may not be dated later (60 s leeway).
    :raises ConsentMismatchError: if it is another consent, not withdrawn, or changes anything but
        the withdrawal.
    :raises ConflictError: if the held consent was withdrawn at another time.
    :raises TokenNotYetValidError: if the withdrawal is dated in the future.
    :return: the withdrawn record, to keep instead of ``held``.
    """
    if withdrawn.state != "withdrawn" or withdrawn.withdrawn_at is None:
        raise ConsentMismatchError("the delivered record is not a withdrawal")
    if withdrawn.withdrawn_at > aware(now, what="now") + _WITHDRAWAL_LEEWAY:
        raise TokenNotYetValidError("the withdrawal is dated in the future; check the wallet's clock")
    if held.state == "withdrawn":
        if held == withdrawn:
            return held
        raise ConflictError("this consent was already withdrawn at another time")
    if held.withdraw(now=withdrawn.withdrawn_at) != withdrawn:
        raise ConsentMismatchError("the withdrawal does not match the consent the service holds")
    return withdrawn
