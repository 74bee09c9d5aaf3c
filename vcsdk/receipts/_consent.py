"""Consent records after ISO/IEC TS 27560 and the Kantara Consent Receipt specification.

A consent record says which service (the PII controller) may use which of a resident's claims for
which purposes, under which legal basis, from when until when, and covers one presentation. The
resident appears only as a per-service pseudonym (see :func:`resident_pseudonym`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, NewType, NotRequired, TypedDict, get_args

from vcsdk._b64 import b64url_decode, b64url_encode
from vcsdk._json import canonical_json, parse_json_object
from vcsdk._time import aware, parse_rfc3339, to_rfc3339
from vcsdk.errors import ConflictError, InvalidInputError

__all__ = [
    "CONSENT_RECORD_VERSION",
    "ConsentRecord",
    "ConsentRecordJson",
    "ConsentState",
    "Controller",
    "ControllerJson",
    "LegalBasis",
    "Pseudonym",
    "presentation_hash",
    "resident_pseudonym",
]

#: Version tag written into every consent record's JSON form.
CONSENT_RECORD_VERSION = "vcsdk-consent-1"

Pseudonym = NewType("Pseudonym", str)
ConsentState = Literal["given", "withdrawn"]
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

    Build with :meth:`give`; change state with :meth:`withdraw`; exchange with :meth:`to_json` and
    :meth:`from_json`. All times are timezone-aware UTC.
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
        object.__setattr__(self, "given_at", aware(self.given_at, what="given_at"))
        if self.expires_at is not None:
            object.__setattr__(self, "expires_at", aware(self.expires_at, what="expires_at"))
            if self.expires_at <= self.given_at:
                raise InvalidInputError("expires_at must be after given_at")
        if self.state not in get_args(ConsentState):
            raise InvalidInputError("state must be 'given' or 'withdrawn'")
        if (self.state == "withdrawn") != (self.withdrawn_at is not None):
            raise InvalidInputError("withdrawn_at is set exactly when state is 'withdrawn'")
        if self.withdrawn_at is not None:
            object.__setattr__(self, "withdrawn_at", aware(self.withdrawn_at, what="withdrawn_at"))
            if self.withdrawn_at < self.given_at:
                raise InvalidInputError("withdrawn_at cannot be before given_at")
        _check_digest(self.presentation_hash, what="presentation_hash")

    @classmethod
    def give(
        cls,
        *,
        record_id: str,
        resident_pseudonym: Pseudonym | str,
        controller: Controller,
        purposes: tuple[str, ...] | list[str],
        claims_requested: tuple[str, ...] | list[str],
        claims_disclosed: tuple[str, ...] | list[str],
        presentation_hash: str,
        now: datetime,
        legal_basis: LegalBasis = "consent",
        expires_at: datetime | None = None,
    ) -> ConsentRecord:
        """A consent in state ``given`` at ``now``.

        :param record_id: a unique id (e.g. a UUID) the wallet and the service both keep.
        :param resident_pseudonym: from :func:`resident_pseudonym` for this controller.
        :param presentation_hash: from :func:`presentation_hash` of the presentation the consent covers.
        :raises InvalidInputError: if a field is malformed (disclosed claims must be requested claims).
        :return: the record.
        """
        return cls(
            record_id=record_id,
            resident_pseudonym=Pseudonym(resident_pseudonym),
            controller=controller,
            purposes=tuple(purposes),
            claims_requested=tuple(claims_requested),
            claims_disclosed=tuple(claims_disclosed),
            legal_basis=legal_basis,
            given_at=now,
            expires_at=expires_at,
            state="given",
            withdrawn_at=None,
            presentation_hash=presentation_hash,
        )

    def withdraw(self, *, now: datetime) -> ConsentRecord:
        """The same consent, withdrawn at ``now``; accesses after ``now`` are refused.

        :raises ConflictError: if the consent is already withdrawn.
        :raises InvalidInputError: if ``now`` is before the consent was given.
        :return: the withdrawn record.
        """
        if self.state == "withdrawn":
            raise ConflictError("this consent is already withdrawn")
        return replace(self, state="withdrawn", withdrawn_at=aware(now, what="now"))

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
            "version": CONSENT_RECORD_VERSION,
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
        if obj.get("version") != CONSENT_RECORD_VERSION:
            raise InvalidInputError(f"consent record version must be {CONSENT_RECORD_VERSION!r}")
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
        )


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
