"""The city's credential types: claims builders, disclosable paths, ``vct`` values, JSON Schemas.

Two types are defined, each with a JSON Schema under ``vcsdk/credentials/schemas/``:

* ``ResidentIdentityCredential`` (KYC): names, birthdate, address parts, ``age_equal_or_over``
  {"18", "20", "65"}, ``resident_since`` and how identity was verified.
* ``VotingEligibilityCredential``: election id, eligible, district, age over 18.

Every claim (and every address part and age threshold) is disclosable on its own. Age booleans are
derived from the birthdate at an ``as_of`` date so a resident can prove "20 or over" without the
birthdate. Ages follow the calendar anniversary: someone born on 29 February reaches an age on
1 March in common years. At the granularity of a date this is also what Japan's Act on the
Calculation of Age gives (an age is reached at the end of the day before the anniversary).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any, Final, Literal, TypedDict

from vcsdk.errors import ClaimsError, InvalidInputError

__all__ = [
    "AGE_THRESHOLDS",
    "DEFAULT_VCT_BASE",
    "RESIDENT_IDENTITY_CREDENTIAL",
    "VOTING_ELIGIBILITY_CREDENTIAL",
    "Address",
    "ClaimPath",
    "CredentialTypeName",
    "IdentityVerification",
    "VctRegistry",
    "age_equal_or_over",
    "age_on",
    "credential_schema",
    "disclosable_paths",
    "resident_identity_claims",
    "validate_claims",
    "voting_eligibility_claims",
]

RESIDENT_IDENTITY_CREDENTIAL: Final = "ResidentIdentityCredential"
VOTING_ELIGIBILITY_CREDENTIAL: Final = "VotingEligibilityCredential"
CredentialTypeName = Literal["ResidentIdentityCredential", "VotingEligibilityCredential"]
_TYPES: Final = (RESIDENT_IDENTITY_CREDENTIAL, VOTING_ELIGIBILITY_CREDENTIAL)

#: The age thresholds ``age_equal_or_over`` carries (18: majority, 20: alcohol and tobacco in
#: Japan, 65: senior services).
AGE_THRESHOLDS: Final = (18, 20, 65)
#: Placeholder base for ``vct`` values; a city sets its own (``https://credentials.<city>``).
DEFAULT_VCT_BASE: Final = "https://credentials.city.example"

#: A claim path as DCQL writes it: object member names from the top of the claims.
ClaimPath = tuple[str, ...]


class Address(TypedDict):
    postal_code: str
    region: str
    locality: str
    street_address: str


class IdentityVerification(TypedDict):
    level: Literal["low", "substantial", "high"]
    method: str
    time: str


@dataclass(frozen=True, slots=True)
class VctRegistry:
    """The ``vct`` values of one city's credential types.

    :param base: the city's credential type base URL, e.g. ``https://credentials.kaga.example``.
    """

    base: str = DEFAULT_VCT_BASE

    def __post_init__(self) -> None:
        if not self.base.startswith("https://") or self.base.endswith("/"):
            raise InvalidInputError("vct base must be an https URL without a trailing slash")

    def vct(self, type_name: CredentialTypeName) -> str:
        """The ``vct`` of ``type_name`` (``<base>/<type_name>``)."""
        if type_name not in _TYPES:
            raise InvalidInputError(f"unknown credential type; known types are {list(_TYPES)}")
        return f"{self.base}/{type_name}"

    @property
    def resident_identity(self) -> str:
        """``<base>/ResidentIdentityCredential``."""
        return self.vct(RESIDENT_IDENTITY_CREDENTIAL)

    @property
    def voting_eligibility(self) -> str:
        """``<base>/VotingEligibilityCredential``."""
        return self.vct(VOTING_ELIGIBILITY_CREDENTIAL)

    def type_of(self, vct: str) -> CredentialTypeName | None:
        """The type name a ``vct`` stands for, or ``None`` if it is not one of this city's."""
        for name in _TYPES:
            if vct == f"{self.base}/{name}":
                return name  # type: ignore[return-value]
        return None


def age_on(birthdate: date, as_of: date) -> int:
    """Completed years between ``birthdate`` and ``as_of`` (calendar anniversary).

    :raises InvalidInputError: if ``as_of`` is before ``birthdate``.
    """
    if as_of < birthdate:
        raise InvalidInputError("as_of date is before the birthdate")
    return as_of.year - birthdate.year - ((as_of.month, as_of.day) < (birthdate.month, birthdate.day))


def age_equal_or_over(birthdate: date, as_of: date) -> dict[str, bool]:
    """The ``age_equal_or_over`` object: one boolean per threshold in :data:`AGE_THRESHOLDS`."""
    age = age_on(birthdate, as_of)
    return {str(t): age >= t for t in AGE_THRESHOLDS}


def _day(value: date | str, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{what} must be a date (YYYY-MM-DD)") from None


def resident_identity_claims(
    *,
    family_name: str,
    given_name: str,
    birthdate: date | str,
    address: Address,
    resident_since: date | str,
    verification: IdentityVerification,
    as_of: date,
    subject_id: str | None = None,
) -> dict[str, Any]:
    """Build and validate the claims of a ``ResidentIdentityCredential``.

    :param as_of: the date the age booleans are computed for (usually the issuance date; reissue
        the credential when a threshold is crossed, or keep validity short).
    :param subject_id: the holder's DID for a W3C ``credentialSubject.id`` (omit for SD-JWT VC,
        which binds the holder through ``cnf``).
    :raises InvalidInputError: if a date cannot be read.
    :raises ClaimsError: if the claims do not match the schema.
    :return: the claims object (every member disclosable: see :func:`disclosable_paths`).
    """
    born = _day(birthdate, "birthdate")
    claims: dict[str, Any] = {}
    if subject_id is not None:
        claims["id"] = subject_id
    claims |= {
        "family_name": family_name,
        "given_name": given_name,
        "birthdate": born.isoformat(),
        "address": dict(address),
        "age_equal_or_over": age_equal_or_over(born, as_of),
        "resident_since": _day(resident_since, "resident_since").isoformat(),
        "verification": dict(verification),
    }
    validate_claims(RESIDENT_IDENTITY_CREDENTIAL, claims)
    return claims


def voting_eligibility_claims(
    *,
    election_id: str,
    eligible: bool,
    district: str,
    birthdate: date | str | None = None,
    age_over_18: bool | None = None,
    as_of: date | None = None,
    subject_id: str | None = None,
) -> dict[str, Any]:
    """Build and validate the claims of a ``VotingEligibilityCredential``.

    Give either ``birthdate`` and ``as_of`` (election day), from which ``age_over_18`` is derived,
    or ``age_over_18`` directly. The birthdate itself is never put in the credential.

    :raises InvalidInputError: if neither or both ways of giving the age are used.
    :raises ClaimsError: if the claims do not match the schema.
    """
    if (birthdate is None) == (age_over_18 is None):
        raise InvalidInputError("give either birthdate (with as_of) or age_over_18")
    if birthdate is not None:
        if as_of is None:
            raise InvalidInputError("as_of (the election day) is needed to derive age_over_18")
        age_over_18 = age_on(_day(birthdate, "birthdate"), as_of) >= 18
    claims: dict[str, Any] = {}
    if subject_id is not None:
        claims["id"] = subject_id
    claims |= {"election_id": election_id, "eligible": eligible, "district": district, "age_over_18": age_over_18}
    validate_claims(VOTING_ELIGIBILITY_CREDENTIAL, claims)
    return claims


_DISCLOSABLE: Final[dict[str, tuple[ClaimPath, ...]]] = {
    RESIDENT_IDENTITY_CREDENTIAL: (
        ("family_name",),
        ("given_name",),
        ("birthdate",),
        ("address",),
        ("address", "postal_code"),
        ("address", "region"),
        ("address", "locality"),
        ("address", "street_address"),
        ("age_equal_or_over",),
        ("age_equal_or_over", "18"),
        ("age_equal_or_over", "20"),
        ("age_equal_or_over", "65"),
        ("resident_since",),
        ("verification",),
        ("verification", "level"),
        ("verification", "method"),
        ("verification", "time"),
    ),
    VOTING_ELIGIBILITY_CREDENTIAL: (("election_id",), ("eligible",), ("district",), ("age_over_18",)),
}


def disclosable_paths(type_name: CredentialTypeName) -> tuple[ClaimPath, ...]:
    """The claim paths issued as selectively disclosable, parents before children.

    Pass them to the SD-JWT issuer as the ``sd`` paths: a container (``address``) and each member
    inside it (``address.locality``) are separate disclosures, so "lives in Kaga" can be shown
    without the street.

    :raises InvalidInputError: for an unknown type.
    """
    try:
        return _DISCLOSABLE[type_name]
    except KeyError:
        raise InvalidInputError(f"unknown credential type; known types are {list(_TYPES)}") from None


@cache
def credential_schema(type_name: CredentialTypeName) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a type's claims, as shipped in ``vcsdk/credentials/schemas``.

    :raises InvalidInputError: for an unknown type.
    """
    if type_name not in _TYPES:
        raise InvalidInputError(f"unknown credential type; known types are {list(_TYPES)}")
    text = resources.files("vcsdk.credentials").joinpath("schemas", f"{type_name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _without_required(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_required(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [_without_required(v) for v in schema]
    return schema


@cache
def _validator(type_name: str, partial: bool) -> Any:
    from jsonschema import Draft202012Validator, FormatChecker

    schema = credential_schema(type_name)  # type: ignore[arg-type]
    if partial:
        schema = _without_required(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def validate_claims(type_name: CredentialTypeName, claims: object, *, partial: bool = False) -> None:
    """Validate claims against the type's JSON Schema.

    :param partial: validate disclosed claims only: required members may be absent (a verifier's
        view of a selective disclosure), but whatever is present must be well formed.
    :raises ClaimsError: naming the first failing location (never the offending value).
    :raises InvalidInputError: for an unknown type.
    """
    if type_name not in _TYPES:
        raise InvalidInputError(f"unknown credential type; known types are {list(_TYPES)}")
    validator = _validator(type_name, partial)
    errors = sorted(validator.iter_errors(claims), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise ClaimsError(
            f"{type_name} claims do not match the schema at {where} (rule: {first.validator})",
            details={"path": where, "rule": str(first.validator)},
        )
