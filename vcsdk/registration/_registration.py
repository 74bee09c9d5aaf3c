"""Relying-party registration: what the city allows one service to ask of residents' wallets.

The city registers each service and signs the registration as a compact JWS (``typ``
``rp-registration+jwt``) with a key of its own DID. The service attaches the token to every
OpenID4VP request (``verifier_info``); the wallet verifies it against the city's DID and checks the
request against it before the resident is asked anything (:func:`check_request`).

Why a signed registration rather than a registry contract: the wallet checks it from the request
alone (no chain read per request that a node operator could observe), nothing about services has to
be written on chain, a change costs no transaction, and the city withdraws a registration the way it
revokes a credential (short validity, and an optional entry in its status list).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypedDict

from vcsdk._time import aware, from_numeric_date, to_numeric_date
from vcsdk._url import is_https_url
from vcsdk.credentials import IssuerKeyResolver, StatusChecker
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.errors import (
    ClaimsError,
    CredentialRevokedError,
    CredentialStatusError,
    CredentialSuspendedError,
    InvalidInputError,
    KeyNotFoundError,
    RegistrationError,
    RequestNotRegisteredError,
    ServiceNotRegisteredError,
    StatusListUnavailableError,
    TokenExpiredError,
    TokenNotYetValidError,
    UnsupportedAlgorithmError,
    VerificationError,
)
from vcsdk.keys import AlgorithmPolicy, Key, Signer, decode_jws, sign_jws, verify_jws

__all__ = [
    "MAX_REGISTRATION_BYTES",
    "REGISTRATION_TYP",
    "ClaimSet",
    "Purpose",
    "RegisteredPurposeJson",
    "RegistrationClaims",
    "RelyingPartyRegistration",
    "check_registered_request",
    "check_request",
    "claim_path_name",
    "issue_registration",
    "peek_registration",
    "verify_registration",
    "verify_registration_resolved",
]

#: The JWS ``typ`` of a registration (RFC 8725 §3.11 explicit typing).
REGISTRATION_TYP = "rp-registration+jwt"
MAX_REGISTRATION_BYTES = 32_768
_MAX_ITEMS = 16
_MAX_PATHS = 64
_MAX_PATH_LENGTH = 16
_MAX_TEXT = 200
_MAX_RETENTION_DAYS = 3650
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DID = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]{1,200}")
_JURISDICTION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")

#: A claims path pointer (OpenID4VP §7): member names, array indexes, ``None`` for every element.
_Path = tuple[str | int | None, ...]


def claim_path_name(path: Sequence[str | int | None]) -> str:
    """A claims path as consent records and receipts name it: ``("address", "locality")`` →
    ``address.locality`` (``None``, any array element, is ``*``)."""
    return ".".join("*" if p is None else str(p) for p in path)


class RegisteredPurposeJson(TypedDict):
    id: str
    description: str


class ClaimSetJson(TypedDict):
    id: str
    vct: str
    paths: list[list[str | int | None]]


class RegistrationClaims(TypedDict, total=False):
    """The JWS payload of a registration."""

    iss: str
    sub: str
    jti: str
    iat: int
    exp: int
    name: str
    purposes: list[RegisteredPurposeJson]
    claim_sets: list[ClaimSetJson]
    retention_days: int
    receipt_endpoint: str
    privacy_policy: str
    jurisdiction: str
    recipients: list[str]
    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Purpose:
    """A purpose the service is registered for: a short ``id`` the request names, and the sentence
    the resident reads."""

    id: str
    description: str

    def __post_init__(self) -> None:
        _check_id(self.id, what="purpose id")
        _check_text(self.description, what="purpose description")


@dataclass(frozen=True, slots=True)
class ClaimSet:
    """Claims of one credential type the service may ask for, under a name (``id``) that the open-data
    export uses as its cell.

    :param id: a short name, unique within the registration (``age``, ``address``).
    :param vct: the SD-JWT VC type the claims belong to.
    :param paths: claims path pointers; a requested path is allowed if one of these is a prefix of it.
    """

    id: str
    vct: str
    paths: tuple[_Path, ...]

    def __post_init__(self) -> None:
        _check_id(self.id, what="claim set id")
        _check_text(self.vct, what="claim set vct", limit=512)
        paths = tuple(tuple(p) for p in self.paths) if isinstance(self.paths, list | tuple) else self.paths
        object.__setattr__(self, "paths", paths)
        if not isinstance(paths, tuple) or not 0 < len(paths) <= _MAX_PATHS:
            raise InvalidInputError(f"a claim set has 1 to {_MAX_PATHS} claim paths")
        for path in paths:
            _check_path(path)

    def permits(self, path: Sequence[str | int | None]) -> bool:
        """Whether requesting ``path`` stays inside this claim set (a registered path is a prefix of it)."""
        return any(_prefix_of(allowed, path) for allowed in self.paths)

    def covers_name(self, name: str) -> bool:
        """Whether a claim named as in receipts (``address.locality``) lies inside this claim set."""
        parts = name.split(".")
        return any(
            len(allowed) <= len(parts) and all(_segment_matches(a, p) for a, p in zip(allowed, parts, strict=False))
            for allowed in self.paths
        )


@dataclass(frozen=True, slots=True)
class RelyingPartyRegistration:
    """A service's registration with the city.

    :ivar issuer: the city's DID (it signs the registration).
    :ivar service_did: the registered service's DID (its OpenID4VP ``client_id`` without prefix).
    :ivar registration_id: a unique id the city keeps.
    :ivar name: the display name the resident sees.
    :ivar purposes: the purposes it may ask for.
    :ivar claim_sets: the claims it may ask for, per credential type.
    :ivar retention_days: how long it may keep what it receives.
    :ivar receipt_endpoint: where wallets deliver consent withdrawals (https).
    :ivar privacy_policy: the service's privacy notice (https), named in consent records.
    :ivar jurisdiction: ISO 3166 code of the law the processing falls under (``JP``, ``JP-17``).
    :ivar recipients: third parties the service passes data to (none by default).
    :ivar issued_at: when the city signed it; :ivar expires_at: when it ends.
    :ivar status: the city's status-list reference for withdrawing it early, if any.
    """

    issuer: str
    service_did: str
    registration_id: str
    name: str
    purposes: tuple[Purpose, ...]
    claim_sets: tuple[ClaimSet, ...]
    retention_days: int
    receipt_endpoint: str
    privacy_policy: str
    jurisdiction: str
    issued_at: datetime
    expires_at: datetime
    recipients: tuple[str, ...] = ()
    status: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_did(self.issuer, what="registration issuer")
        _check_did(self.service_did, what="registered service DID")
        _check_id(self.registration_id, what="registration id")
        _check_text(self.name, what="service name")
        for name, kind in (("purposes", Purpose), ("claim_sets", ClaimSet)):
            items = getattr(self, name)
            if not isinstance(items, tuple) or not 0 < len(items) <= _MAX_ITEMS:
                raise InvalidInputError(f"a registration has 1 to {_MAX_ITEMS} {name.replace('_', ' ')}")
            if not all(isinstance(i, kind) for i in items):
                raise InvalidInputError(f"{name} must hold {kind.__name__} values")
            ids = [i.id for i in items]
            if len(set(ids)) != len(ids):
                raise InvalidInputError(f"{name} ids must be unique")
        days = self.retention_days
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= _MAX_RETENTION_DAYS:
            raise InvalidInputError(f"retention_days must be a whole number of days, 0 to {_MAX_RETENTION_DAYS}")
        for name in ("receipt_endpoint", "privacy_policy"):
            if not is_https_url(getattr(self, name)) or len(getattr(self, name)) > 1024:
                raise InvalidInputError(f"{name} must be an https URL")
        if not isinstance(self.jurisdiction, str) or _JURISDICTION.fullmatch(self.jurisdiction) is None:
            raise InvalidInputError("jurisdiction must be an ISO 3166 code such as JP or JP-17")
        if not isinstance(self.recipients, tuple) or len(self.recipients) > _MAX_ITEMS:
            raise InvalidInputError(f"recipients must be at most {_MAX_ITEMS} names")
        for r in self.recipients:
            _check_text(r, what="recipient")
        object.__setattr__(self, "issued_at", aware(self.issued_at, what="issued_at"))
        object.__setattr__(self, "expires_at", aware(self.expires_at, what="expires_at"))
        if self.expires_at <= self.issued_at:
            raise InvalidInputError("a registration must expire after it is issued")
        if self.status is not None and not isinstance(self.status, Mapping):
            raise InvalidInputError("status must be a status-list reference object")

    def purpose(self, purpose_id: str) -> Purpose | None:
        """The registered purpose with this id, or ``None``."""
        return next((p for p in self.purposes if p.id == purpose_id), None)

    def permits(self, vct: str, path: Sequence[str | int | None]) -> bool:
        """Whether the service may ask for ``path`` of a credential of type ``vct``."""
        return any(cs.vct == vct and cs.permits(path) for cs in self.claim_sets)

    def claim_set_ids(self, claim_names: Iterable[str]) -> tuple[str, ...]:
        """The registered claim sets that the named claims (as in receipts) fall in, in registration
        order; a claim outside every set contributes nothing."""
        names = tuple(claim_names)
        return tuple(cs.id for cs in self.claim_sets if any(cs.covers_name(n) for n in names))

    def to_claims(self) -> RegistrationClaims:
        """The JWS payload."""
        out: RegistrationClaims = {
            "iss": self.issuer,
            "sub": self.service_did,
            "jti": self.registration_id,
            "iat": to_numeric_date(self.issued_at),
            "exp": to_numeric_date(self.expires_at),
            "name": self.name,
            "purposes": [{"id": p.id, "description": p.description} for p in self.purposes],
            "claim_sets": [{"id": c.id, "vct": c.vct, "paths": [list(p) for p in c.paths]} for c in self.claim_sets],
            "retention_days": self.retention_days,
            "receipt_endpoint": self.receipt_endpoint,
            "privacy_policy": self.privacy_policy,
            "jurisdiction": self.jurisdiction,
            "recipients": list(self.recipients),
        }
        if self.status is not None:
            out["status"] = dict(self.status)
        return out

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> RelyingPartyRegistration:
        """Read a registration from its JWS payload.

        :raises ClaimsError: if a member is missing or malformed.
        """
        required = ("iss", "sub", "jti", "iat", "exp", "name", "purposes", "claim_sets", "retention_days",
                    "receipt_endpoint", "privacy_policy", "jurisdiction")
        missing = [n for n in required if n not in claims]
        if missing:
            raise ClaimsError(f"the registration lacks {missing}")
        try:
            purposes = _list(claims["purposes"], "purposes")
            sets = _list(claims["claim_sets"], "claim_sets")
            recipients = _list(claims.get("recipients", []), "recipients")
            status = claims.get("status")
            if status is not None and not isinstance(status, Mapping):
                raise InvalidInputError("status must be a status-list reference object")
            return cls(
                issuer=claims["iss"],
                service_did=claims["sub"],
                registration_id=claims["jti"],
                name=claims["name"],
                purposes=tuple(Purpose(id=_member(p, "id"), description=_member(p, "description")) for p in purposes),
                claim_sets=tuple(
                    ClaimSet(id=_member(c, "id"), vct=_member(c, "vct"), paths=_paths(_member(c, "paths", list)))
                    for c in sets
                ),
                retention_days=claims["retention_days"],
                receipt_endpoint=claims["receipt_endpoint"],
                privacy_policy=claims["privacy_policy"],
                jurisdiction=claims["jurisdiction"],
                issued_at=from_numeric_date(claims["iat"], what="registration iat", error=ClaimsError, whole=True),
                expires_at=from_numeric_date(claims["exp"], what="registration exp", error=ClaimsError, whole=True),
                recipients=tuple(recipients),
                status=status,
            )
        except InvalidInputError as exc:
            raise ClaimsError(f"the registration is malformed: {exc.message}") from None


def issue_registration(signer: Signer, registration: RelyingPartyRegistration) -> str:
    """Sign a registration as the city.

    :param signer: a key of the city's DID; its ``kid`` must be a DID URL of ``registration.issuer``.
    :raises InvalidInputError: if the ``kid`` is not a key of the issuer's DID.
    :return: the compact JWS the service attaches to its requests.
    """
    if signer.kid is None or not signer.kid.startswith(registration.issuer + "#"):
        raise InvalidInputError("the signer's kid must be a DID URL of the registration's issuer (did#fragment)")
    return sign_jws(dict(registration.to_claims()), signer, typ=REGISTRATION_TYP)


def peek_registration(token: str) -> RelyingPartyRegistration:
    """Parse a registration without verifying its signature. Trust nothing in it yet.

    :raises InvalidTokenError: if the token is not a compact JWS.
    :raises ClaimsError: if a member is missing or malformed.
    """
    return RelyingPartyRegistration.from_claims(decode_jws(token, max_bytes=MAX_REGISTRATION_BYTES).unverified_claims())


@functools.lru_cache(maxsize=256)
def _signed_registration(
    token: str, city_did: str, city_key: Key, algorithms: AlgorithmPolicy
) -> RelyingPartyRegistration:
    """The signature, issuer and contents of a registration: a function of these arguments alone,
    so kept per process (bounded; failures are not kept). A service attaches one registration to
    every request, and the wallet checks each against it; the validity window, which depends on
    the time, is checked at every use."""
    jws = decode_jws(token, max_bytes=MAX_REGISTRATION_BYTES)
    verified = verify_jws(jws, city_key, policy=algorithms, typ=REGISTRATION_TYP)
    if verified.kid is None or not verified.kid.startswith(city_did + "#"):
        raise KeyNotFoundError("the registration's kid is not a key of the city's DID")
    registration = RelyingPartyRegistration.from_claims(verified.claims())
    if registration.issuer != city_did:
        raise ServiceNotRegisteredError("this service's registration was not issued by the city")
    return registration


def verify_registration(
    token: str,
    *,
    city_did: str,
    city_key: Key,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
) -> RelyingPartyRegistration:
    """Verify a registration as the wallet does: signed by the city, current.

    :param city_did: the city's DID, configured in the wallet (never taken from the token).
    :param city_key: the key the token's ``kid`` names, resolved from the city's DID document.
    :param policy: the algorithm allow-list and the clock skew (``leeway``) on its validity.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit the key.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises TokenTypeError: if ``typ`` is not ``rp-registration+jwt``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises KeyNotFoundError: if ``kid`` is not a DID URL of the city's DID.
    :raises ClaimsError: if a member is missing or malformed.
    :raises ServiceNotRegisteredError: if another party than the city issued it.
    :raises TokenNotYetValidError: if it is issued in the future; :raises TokenExpiredError: if it ended.
    :return: the registration.
    """
    policy = verification_policy(policy)
    leeway = policy.leeway
    registration = _signed_registration(token, city_did, city_key, policy.algorithm_policy)
    if registration.status is not None:  # the kept value is shared: each caller gets its own entry
        registration = replace(registration, status=copy.deepcopy(registration.status))
    now = aware(now, what="now")
    if registration.issued_at > now + leeway:
        raise TokenNotYetValidError("the service's registration is issued in the future")
    if now >= registration.expires_at + leeway:
        raise TokenExpiredError("the service's registration with the city has ended")
    return registration


async def verify_registration_resolved(
    token: str,
    *,
    city_did: str,
    resolver: IssuerKeyResolver,
    now: datetime,
    status: StatusChecker | None = None,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
) -> RelyingPartyRegistration:
    """Resolve the city's key named by the token's ``kid``, :func:`verify_registration`, then check
    the registration's status-list entry (if it has one and ``status`` is given).

    :param status: the status checker for the city's lists; with it, a registration the city
        withdrew early (its status entry set) is refused.
    :raises KeyNotFoundError: if the ``kid`` is missing or not a key of the city's DID.
    :raises DidResolutionError: if the city's DID cannot be resolved.
    :raises ServiceNotRegisteredError: if the city has withdrawn the registration (status).
    :raises StatusListUnavailableError: if the city's status list cannot be read or used (stale,
        not verifiable, not the city's): an outage, whatever the checker's own error was
        (``details.cause``).
    :raises VerificationError: any error :func:`verify_registration` raises.
    """
    policy = verification_policy(policy)
    kid = decode_jws(token, max_bytes=MAX_REGISTRATION_BYTES).header.get("kid")
    if not isinstance(kid, str) or not kid.startswith(city_did + "#"):
        raise KeyNotFoundError("the registration's kid is not a key of the city's DID")
    key = await resolver.resolve_key(city_did, kid, relationship="assertionMethod")
    registration = verify_registration(token, city_did=city_did, city_key=key, now=now, policy=policy)
    if status is not None and registration.status is not None:
        try:
            await status.check(registration.status, issuer=city_did, now=now)
        except (CredentialRevokedError, CredentialSuspendedError):
            raise ServiceNotRegisteredError(
                f"the city has withdrawn the registration of {registration.name}, so your wallet did not answer it"
            ) from None
        except StatusListUnavailableError:
            raise
        except VerificationError as exc:
            # The city's list could not be used (stale, signed badly, not its own): the city's
            # outage, never a verdict on the service nor a reason to log the resident out.
            raise StatusListUnavailableError(
                f"the city's status list cannot be used now ({exc.message}); try again later",
                details={"cause": exc.code},
            ) from None
    return registration


# -- checking a request against the registration ----------------------------------------------


class _ClaimsQueryLike(Protocol):
    @property
    def path(self) -> Sequence[str | int | None]: ...


class _CredentialQueryLike(Protocol):
    @property
    def format(self) -> str: ...

    @property
    def vct_values(self) -> tuple[str, ...]: ...

    @property
    def claims(self) -> Sequence[_ClaimsQueryLike] | None: ...


def check_request(
    registration: RelyingPartyRegistration | None,
    *,
    service_did: str,
    credentials: Iterable[_CredentialQueryLike],
    purpose: str | None,
) -> RelyingPartyRegistration:
    """Check that a request stays inside the service's registration; the wallet runs this before it
    shows the resident anything.

    :param registration: the verified registration the request carried (``None``: it carried none).
    :param service_did: the DID of the service that signed the request.
    :param credentials: the request's credential queries (DCQL ``CredentialQuery`` values).
    :param purpose: the request's purpose; it must be a registered purpose's id.
    :raises ServiceNotRegisteredError: no registration, or one for another service.
    :raises RequestNotRegisteredError: a purpose, credential type or claim the registration does not
        allow, or a query for a whole credential (no ``claims``). The message names the service and
        the claims it over-asked, for the resident to read.
    :return: the registration, for the consent screen.
    """
    if registration is None:
        raise ServiceNotRegisteredError(
            "this service is not registered with the city, so your wallet did not answer it"
        )
    if registration.service_did != service_did:
        raise ServiceNotRegisteredError(
            "this service showed another service's registration with the city, so your wallet did not answer it"
        )
    who = registration.name
    if purpose is None or registration.purpose(purpose) is None:
        raise RequestNotRegisteredError(
            f"{who} gave a purpose it is not registered with the city for, so your wallet did not answer it"
        )
    over: list[str] = []
    for cq in credentials:
        vcts = cq.vct_values
        registered = {cs.vct for cs in registration.claim_sets}
        if cq.format != "dc+sd-jwt" or not vcts or not set(vcts) <= registered:
            over.append("a credential type it is not registered for")
            continue
        if cq.claims is None:
            over.append("a whole credential")
            continue
        for c in cq.claims:
            if not all(registration.permits(vct, c.path) for vct in vcts):
                over.append(claim_path_name(c.path))
    if over:
        listed = ", ".join(dict.fromkeys(over))
        raise RequestNotRegisteredError(
            f"{who} asked for more than the city allows it to ({listed}), so your wallet did not answer it",
            details={"not_registered": list(dict.fromkeys(over))[:_MAX_PATHS]},
        )
    return registration


class _DcqlLike(Protocol):
    @property
    def credentials(self) -> Sequence[_CredentialQueryLike]: ...


class _RequestLike(Protocol):
    """What :func:`check_registered_request` reads of an OpenID4VP request
    (:class:`vcsdk.oid4vc.AuthorizationRequest`)."""

    @property
    def verifier_did(self) -> str: ...

    @property
    def purpose(self) -> str | None: ...

    @property
    def registration(self) -> str | None: ...

    @property
    def dcql_query(self) -> _DcqlLike: ...


async def check_registered_request(
    request: _RequestLike,
    *,
    city_did: str,
    resolver: IssuerKeyResolver,
    now: datetime,
    status: StatusChecker | None = None,
) -> RelyingPartyRegistration:
    """The wallet's check of a verified OpenID4VP request, before the resident sees it: the
    registration it carries verifies against the city's DID (and status list, with ``status``), is
    for the service that signed the request, and covers what it asks and why.

    :param request: a request whose signature the wallet verified (``load_request_object``).
    :param city_did: the city's DID the wallet trusts for registrations.
    :raises ServiceNotRegisteredError: no registration, one that does not verify (``details.cause``
        names the failed check), expired, withdrawn, or for another service.
    :raises RequestNotRegisteredError: a purpose, credential type or claim beyond the registration.
    :raises DidResolutionError: the city's DID cannot be resolved (an outage, not a verdict).
    :raises CredentialStatusError: the city's status list cannot be read (an outage, not a verdict).
    :return: the registration, for the consent screen (name, purposes, retention).
    """
    token = request.registration
    if token is None:
        return check_request(None, service_did=request.verifier_did, credentials=(), purpose=request.purpose)
    try:
        registration = await verify_registration_resolved(
            token, city_did=city_did, resolver=resolver, now=now, status=status
        )
    except RegistrationError:
        raise
    except CredentialStatusError:
        raise  # the list could not be read: say so, do not blame the service
    except (VerificationError, InvalidInputError, UnsupportedAlgorithmError) as exc:
        raise ServiceNotRegisteredError(
            "this service's registration with the city is not valid, so your wallet did not answer it",
            details={"cause": exc.code},
        ) from None
    return check_request(
        registration,
        service_did=request.verifier_did,
        credentials=request.dcql_query.credentials,
        purpose=request.purpose,
    )


# -- helpers ----------------------------------------------------------------------------------


def _segment_matches(allowed: str | int | None, name: str) -> bool:
    if allowed is None:  # any array element: named "*" (all) or by its index
        return name == "*" or name.isdigit()
    return str(allowed) == name


def _prefix_of(allowed: _Path, path: Sequence[str | int | None]) -> bool:
    if len(allowed) > len(path):
        return False
    for a, p in zip(allowed, path, strict=False):
        if a is None:
            if p is not None and not isinstance(p, int):
                return False
        elif p is None or type(a) is not type(p) or a != p:
            return False
    return True


def _check_path(path: object) -> None:
    if not isinstance(path, tuple) or not 0 < len(path) <= _MAX_PATH_LENGTH:
        raise InvalidInputError(f"a claim path has 1 to {_MAX_PATH_LENGTH} elements")
    for p in path:
        if p is None or (isinstance(p, int) and not isinstance(p, bool) and p >= 0):
            continue
        if not isinstance(p, str) or not 0 < len(p) <= _MAX_TEXT:
            raise InvalidInputError("claim path elements are names, array indexes or null")


def _paths(value: list[Any]) -> tuple[_Path, ...]:
    out = []
    for p in value:
        if not isinstance(p, list):
            raise InvalidInputError("each claim path must be an array")
        out.append(tuple(p))
    return tuple(out)


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInputError(f"{what} must be an array")
    return value


def _member(obj: Any, name: str, kind: type = str) -> Any:
    if not isinstance(obj, Mapping) or not isinstance(obj.get(name), kind):
        raise InvalidInputError(f"each entry needs {name!r}")
    return obj[name]


def _check_id(value: object, *, what: str) -> None:
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise InvalidInputError(f"{what} must be 1-64 characters of [A-Za-z0-9_-]")


def _check_did(value: object, *, what: str) -> None:
    if not isinstance(value, str) or _DID.fullmatch(value) is None:
        raise InvalidInputError(f"{what} is not a DID")


def _check_text(value: object, *, what: str, limit: int = _MAX_TEXT) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= limit or not value.isprintable():
        raise InvalidInputError(f"{what} must be 1-{limit} printable characters")
