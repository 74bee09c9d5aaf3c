"""The KYC issuance pipeline: application → registry check → outcome → (on a full match) credential.

::

    pipeline = KycPipeline(registry=client, issue=resident_identity_issuer(
        issuer=city_did, signer=city_key, status_list=status_list))
    outcome = await pipeline.run(application, now=datetime.now(UTC))
    match outcome:
        case Verified(credential=sd_jwt_vc): ...       # hand it to the wallet
        case PartialMatch(matched_fields=fields): ...  # ask the resident to check their details
        case NoMatch() | NotActive(): ...

Rules: nothing is issued unless one registry record matches every field under the exact-match
rules (:mod:`vcsdk.kyc._normalize`) and that resident is ``active``. The credential's claims are
the registry's values, never the applicant's spelling. A registry that cannot be reached raises
:class:`~vcsdk.errors.ResidentRegistryUnavailableError`; nothing is guessed.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar, Final, Literal, Protocol, TypeAlias

from vcsdk._time import aware, to_rfc3339
from vcsdk.credentials import (
    RESIDENT_IDENTITY_CREDENTIAL,
    StatusListIssuer,
    VctRegistry,
    disclosable_paths,
    issue_sd_jwt_vc,
    resident_identity_claims,
)
from vcsdk.errors import InvalidInputError, ResidentRegistryError, UnsupportedAlgorithmError
from vcsdk.keys import Key, Signer
from vcsdk.kyc._normalize import match_fields, tidy_text
from vcsdk.kyc._types import ALL_MATCH_FIELDS, MatchField, ResidentRecord, ResidentRegistry

__all__ = [
    "JST",
    "KycApplication",
    "KycCredentialIssuer",
    "KycOutcome",
    "KycPipeline",
    "NoMatch",
    "NotActive",
    "PartialMatch",
    "Verified",
    "build_resident_identity_claims",
    "resident_identity_issuer",
]

_log = logging.getLogger("vcsdk.kyc.pipeline")

#: Japan Standard Time (UTC+9, no daylight saving): the day on which ages are computed.
JST: Final = timezone(timedelta(hours=9), "JST")
VerificationLevel = Literal["low", "substantial", "high"]


@dataclass(frozen=True, slots=True)
class KycApplication:
    """What a resident claims when asking for a ``ResidentIdentityCredential``.

    :param family_name: family name as the resident writes it.
    :param given_name: given name as the resident writes it.
    :param birthdate: date of birth.
    :param address: address on one line, optionally starting with the postal code.
    :param device_key: the public P-256 key of the resident's device; the credential is bound to it.
    """

    family_name: str = field(repr=False)
    given_name: str = field(repr=False)
    birthdate: date = field(repr=False)
    address: str = field(repr=False)
    device_key: Key


@dataclass(frozen=True, slots=True)
class Verified:
    """One active resident matched every field; the credential was issued.

    :param record: the registry's record (the source of every claim).
    :param claims: the ``ResidentIdentityCredential`` claims that were issued.
    :param credential: what the issuer returned (an SD-JWT VC in compact form).
    """

    record: ResidentRecord
    claims: Mapping[str, Any] = field(repr=False)
    credential: str = field(repr=False)
    kind: ClassVar[str] = "verified"


@dataclass(frozen=True, slots=True)
class NoMatch:
    """No resident record matches the claim closely enough to say more."""

    kind: ClassVar[str] = "no_match"


@dataclass(frozen=True, slots=True)
class PartialMatch:
    """One record matched some fields but not all; nothing was issued.

    Tell the resident which details to check only after they have authenticated otherwise: the
    field list says something about a real resident.

    :param matched_fields: the fields that matched (``familyName``, ``givenName``, ``birthDate``, ``address``).
    """

    matched_fields: frozenset[MatchField]
    kind: ClassVar[str] = "partial_match"

    @property
    def mismatched_fields(self) -> frozenset[MatchField]:
        """The fields that did not match."""
        return ALL_MATCH_FIELDS - self.matched_fields


@dataclass(frozen=True, slots=True)
class NotActive:
    """The claim matched a record, but the resident moved out or died; nothing was issued.

    :param status: ``"moved_out"`` or ``"deceased"``.
    :param since: when that status took effect.
    """

    status: Literal["moved_out", "deceased"]
    since: date = field(repr=False)
    kind: ClassVar[str] = "not_active"


KycOutcome: TypeAlias = Verified | NoMatch | PartialMatch | NotActive


class KycCredentialIssuer(Protocol):
    """Issues the credential once the pipeline has verified the resident.

    The pipeline passes the finished claims and the device key; the issuer adds what it owns (its
    DID and signing key, the ``vct``, a status-list entry, the validity period) and returns the
    credential. May be a plain or an ``async`` function. :func:`resident_identity_issuer` builds
    one over :func:`vcsdk.credentials.issue_sd_jwt_vc`.
    """

    def __call__(
        self, claims: Mapping[str, Any], *, holder_key: Key, now: datetime
    ) -> str | Awaitable[str]: ...


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInputError("names and address in a KYC application must be strings")
    return tidy_text(value)


def build_resident_identity_claims(
    record: ResidentRecord,
    *,
    now: datetime,
    level: VerificationLevel = "substantial",
    local_time: tzinfo = JST,
) -> dict[str, Any]:
    """The ``ResidentIdentityCredential`` claims for a registry record (registry values only).

    ``age_equal_or_over`` is computed for the calendar day of ``now`` in ``local_time``;
    ``verification`` records the level, ``method: "resident_registry"`` and the time of the check.

    :param record: the registry's record.
    :param now: the time of the check (timezone-aware).
    :param level: the assurance level the city assigns to a registry check.
    :param local_time: the city's time zone, for "today" (JST by default).
    :raises InvalidInputError: ``now`` is naive, or the birth date lies after ``now``.
    :raises ClaimsError: the registry's values do not fit the credential's schema.
    :return: the claims object.
    """
    now = aware(now, what="now")
    address = record.address
    return resident_identity_claims(
        family_name=record.family_name,
        given_name=record.given_name,
        birthdate=record.birthdate,
        address={
            "postal_code": address.postal_code,
            "region": address.prefecture,
            "locality": address.city,
            "street_address": address.street,
        },
        resident_since=record.resident_since,
        verification={"level": level, "method": "resident_registry", "time": to_rfc3339(now)},
        as_of=now.astimezone(local_time).date(),
    )


def resident_identity_issuer(
    *,
    issuer: str,
    signer: Signer,
    status_list: StatusListIssuer,
    vcts: VctRegistry | None = None,
    lifetime: timedelta | None = timedelta(days=365),
) -> KycCredentialIssuer:
    """A :class:`KycCredentialIssuer` that issues an SD-JWT VC with every claim selectively disclosable.

    Each credential gets a fresh entry in ``status_list`` and is bound to the device key (``cnf.jwk``).

    :param issuer: the city's DID (``iss``).
    :param signer: the city's signing key (or a remote signer).
    :param status_list: where status entries are allocated (revocation, suspension).
    :param vcts: the city's ``vct`` values (the placeholder base by default).
    :param lifetime: validity period (``exp`` = now + lifetime); ``None`` for no ``exp``.
    :return: the issuer callable.
    """
    vct = (vcts or VctRegistry()).resident_identity
    paths = disclosable_paths(RESIDENT_IDENTITY_CREDENTIAL)

    def issue(claims: Mapping[str, Any], *, holder_key: Key, now: datetime) -> str:
        return issue_sd_jwt_vc(
            claims,
            issuer=issuer,
            signer=signer,
            vct=vct,
            disclosable=paths,
            holder_key=holder_key,
            status=status_list.allocate(),
            now=now,
            expires_at=now + lifetime if lifetime is not None else None,
        )

    return issue


class KycPipeline:
    """Checks applications against the resident registry and issues on a verified match.

    :param registry: the registry port (a :class:`~vcsdk.kyc.ResidentRegistryClient` in production).
    :param issue: called with the claims and device key after a full match of an active resident.
    :param level: the ``verification.level`` claim for registry-checked identities.
    :param local_time: the city's time zone, for ages (JST by default).
    """

    def __init__(
        self,
        *,
        registry: ResidentRegistry,
        issue: KycCredentialIssuer,
        level: VerificationLevel = "substantial",
        local_time: tzinfo = JST,
    ) -> None:
        self._registry = registry
        self._issue = issue
        self._level: VerificationLevel = level
        self._local_time = local_time

    async def run(self, application: KycApplication, *, now: datetime) -> KycOutcome:
        """Check one application and issue the credential if, and only if, it is fully verified.

        :param application: the claimed identity and the device's public key.
        :param now: the time of the check and of issuance (timezone-aware).
        :raises InvalidInputError: a malformed application (empty fields, naive ``now``, private key).
        :raises UnsupportedAlgorithmError: the device key is not a P-256 (ES256) key.
        :raises ResidentRegistryUnavailableError: the registry could not be reached.
        :raises ResidentRegistryFaultError: the registry refused the request.
        :raises ResidentRegistryError: the registry's answer broke the WSDL's promises.
        :return: :class:`Verified`, :class:`PartialMatch`, :class:`NoMatch` or :class:`NotActive`.
        """
        now = aware(now, what="now")
        device_key = application.device_key
        if not isinstance(device_key, Key):
            raise InvalidInputError("device_key must be a vcsdk.keys.Key")
        if device_key.is_private:
            raise InvalidInputError("the application must carry the device's public key, never its private key")
        if device_key.alg != "ES256":
            raise UnsupportedAlgorithmError("device keys must be P-256 (ES256) keys from the phone's secure element")
        family_name, given_name = _text(application.family_name), _text(application.given_name)
        birthdate, address = application.birthdate, _text(application.address)
        result = await self._registry.check_resident(
            family_name=family_name, given_name=given_name, birthdate=birthdate, address=address
        )
        if result.outcome == "none":
            return self._done(NoMatch())
        if result.outcome == "partial":
            return self._done(PartialMatch(matched_fields=result.matched_fields))
        record = result.record
        if record is None:
            raise ResidentRegistryError(
                "the resident registry reported a full match without a record",
                code="resident_registry_bad_response",
            )
        # Defence in depth: the registry's matching may be looser than ours; our rules decide.
        confirmed = match_fields(
            family_name=family_name, given_name=given_name, birthdate=birthdate, address=address, record=record
        )
        if confirmed != ALL_MATCH_FIELDS:
            _log.warning("the registry reported a full match that the exact-match rules do not confirm")
            return self._done(PartialMatch(matched_fields=confirmed))
        status = await self._registry.get_resident_status(record.resident_id)
        if status.status != "active":
            return self._done(NotActive(status=status.status, since=status.since))
        claims = build_resident_identity_claims(record, now=now, level=self._level, local_time=self._local_time)
        issued = self._issue(claims, holder_key=device_key, now=now)
        credential = await issued if inspect.isawaitable(issued) else issued
        return self._done(Verified(record=record, claims=claims, credential=credential))

    @staticmethod
    def _done(outcome: KycOutcome) -> KycOutcome:
        _log.info("KYC application: %s", outcome.kind)
        return outcome
