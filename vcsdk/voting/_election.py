"""An election and the eligibility rules the city applies before issuing a voting credential.

Pure: dates and registry values in, a decision out. The district comes from the registered address
(first matching :class:`DistrictRule`), the age from the birthdate on the election day, and only an
``active`` resident can be eligible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal, Protocol, TypedDict

from vcsdk.credentials import age_on
from vcsdk.errors import ClaimsError, InvalidInputError

__all__ = [
    "AddressLike",
    "DistrictRule",
    "Election",
    "ElectionJson",
    "EligibilityDecision",
    "IneligibilityReason",
    "assess_eligibility",
    "check_eligibility_claims",
]

_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
MAX_CHOICES: Final = 64
MAX_TEXT: Final = 128

IneligibilityReason = Literal["not_active", "outside_districts", "under_age"]


class AddressLike(Protocol):
    """A registered address as the resident registry returns it (``vcsdk.kyc.ResidentAddress``)."""

    @property
    def postal_code(self) -> str: ...

    @property
    def prefecture(self) -> str: ...

    @property
    def city(self) -> str: ...


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidInputError(f"{what} must be a non-empty text of at most {MAX_TEXT} characters")
    return value


@dataclass(frozen=True, slots=True)
class DistrictRule:
    """Which registered addresses belong to a voting district.

    An address matches when its city equals ``city`` (if given) and its postal code starts with one
    of ``postal_code_prefixes`` (if any are given).

    :param district: the district name carried in the credential (``tsukuba-3``).
    :param city: the registered city (``つくば市``), or ``None`` for any.
    :param postal_code_prefixes: postal code prefixes (``305-00``), or empty for any.
    :raises InvalidInputError: for an empty district name or a rule that matches every address.
    """

    district: str
    city: str | None = None
    postal_code_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _text(self.district, "district")
        if self.city is not None:
            _text(self.city, "city")
        if self.city is None and not self.postal_code_prefixes:
            raise InvalidInputError("a district rule needs a city or postal code prefixes")
        if isinstance(self.postal_code_prefixes, str) or not all(
            isinstance(p, str) and p for p in self.postal_code_prefixes
        ):
            raise InvalidInputError("postal_code_prefixes must be a tuple of non-empty strings")

    def matches(self, address: AddressLike) -> bool:
        """Whether ``address`` lies in this district."""
        if self.city is not None and address.city != self.city:
            return False
        postal = address.postal_code.strip()
        return not self.postal_code_prefixes or any(postal.startswith(p) for p in self.postal_code_prefixes)


class DistrictRuleJson(TypedDict):
    district: str
    city: str | None
    postal_code_prefixes: list[str]


class ElectionJson(TypedDict):
    election_id: str
    title: str
    choices: list[str]
    districts: list[DistrictRuleJson]
    election_day: str
    opens_at: str
    closes_at: str
    minimum_age: int


@dataclass(frozen=True, slots=True)
class Election:
    """One election: who may vote, on what, and when.

    :param election_id: a stable identifier (letters, digits, ``._:-``), carried in every
        eligibility credential and bound into every ballot commitment.
    :param title: shown to voters.
    :param choices: the options on the ballot, in display order.
    :param districts: the district rules; a resident outside all of them is not eligible.
    :param election_day: ages are computed on this date.
    :param opens_at: first instant a ballot is accepted (timezone-aware).
    :param closes_at: first instant a ballot is no longer accepted (timezone-aware).
    :param minimum_age: the voting age (18 in Japan).
    :raises InvalidInputError: for a malformed identifier, empty or repeated choices, no districts,
        naive datetimes or a period that ends before it starts.
    """

    election_id: str
    title: str
    choices: tuple[str, ...]
    districts: tuple[DistrictRule, ...]
    election_day: date
    opens_at: datetime
    closes_at: datetime
    minimum_age: int = 18

    def __post_init__(self) -> None:
        if not isinstance(self.election_id, str) or _ID.fullmatch(self.election_id) is None:
            raise InvalidInputError("election_id must be 1-128 letters, digits or ._:- (starting alphanumeric)")
        _text(self.title, "title")
        if isinstance(self.choices, str) or not 0 < len(self.choices) <= MAX_CHOICES:
            raise InvalidInputError(f"an election has 1..{MAX_CHOICES} choices")
        for choice in self.choices:
            _text(choice, "a choice")
        if len(set(self.choices)) != len(self.choices):
            raise InvalidInputError("choices must be distinct")
        if not self.districts or not all(isinstance(d, DistrictRule) for d in self.districts):
            raise InvalidInputError("an election needs at least one DistrictRule")
        if not isinstance(self.election_day, date) or isinstance(self.election_day, datetime):
            raise InvalidInputError("election_day must be a date")
        if not isinstance(self.opens_at, datetime) or not isinstance(self.closes_at, datetime):
            raise InvalidInputError("opens_at and closes_at must be datetimes")
        if self.opens_at.tzinfo is None or self.closes_at.tzinfo is None:
            raise InvalidInputError("opens_at and closes_at must be timezone-aware")
        if not self.opens_at < self.closes_at:
            raise InvalidInputError("the voting period must end after it starts")
        age = self.minimum_age
        if not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= 150:
            raise InvalidInputError("minimum_age must be an integer in 0..150")

    @property
    def district_names(self) -> tuple[str, ...]:
        """The districts of this election, without repeats, in rule order."""
        return tuple(dict.fromkeys(rule.district for rule in self.districts))

    def district_of(self, address: AddressLike) -> str | None:
        """The district of a registered address (the first matching rule), or ``None``."""
        for rule in self.districts:
            if rule.matches(address):
                return rule.district
        return None

    def is_open(self, now: datetime) -> bool:
        """Whether ballots are accepted at ``now`` (``opens_at <= now < closes_at``)."""
        return self.opens_at <= now < self.closes_at

    def to_json(self) -> ElectionJson:
        """The published description of the election."""
        return {
            "election_id": self.election_id,
            "title": self.title,
            "choices": list(self.choices),
            "districts": [
                {"district": r.district, "city": r.city, "postal_code_prefixes": list(r.postal_code_prefixes)}
                for r in self.districts
            ],
            "election_day": self.election_day.isoformat(),
            "opens_at": self.opens_at.isoformat(),
            "closes_at": self.closes_at.isoformat(),
            "minimum_age": self.minimum_age,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Election:
        """Read an election from :meth:`to_json` output.

        :raises InvalidInputError: if a member is missing or malformed.
        """
        if not isinstance(value, Mapping) or set(value) != set(ElectionJson.__annotations__):
            raise InvalidInputError(f"an election has exactly the members {sorted(ElectionJson.__annotations__)}")
        try:
            if not isinstance(value["districts"], list) or not all(
                isinstance(r, Mapping) and isinstance(r["postal_code_prefixes"], list) for r in value["districts"]
            ):
                raise InvalidInputError("districts must be a list of rules, each with a list of postal code prefixes")
            rules = tuple(
                DistrictRule(r["district"], r["city"], tuple(r["postal_code_prefixes"])) for r in value["districts"]
            )
            return cls(
                election_id=value["election_id"],
                title=value["title"],
                choices=tuple(value["choices"]),
                districts=rules,
                election_day=date.fromisoformat(value["election_day"]),
                opens_at=datetime.fromisoformat(value["opens_at"]),
                closes_at=datetime.fromisoformat(value["closes_at"]),
                minimum_age=value["minimum_age"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidInputError):
                raise
            raise InvalidInputError("the election description is malformed") from None


@dataclass(frozen=True, slots=True)
class EligibilityDecision:
    """The outcome of :func:`assess_eligibility`.

    :ivar eligible: whether the resident may vote.
    :ivar district: the district of the registered address, if it lies in one of the election's.
    :ivar age_over_18: age 18 or over on the election day.
    :ivar reason: why the resident is not eligible (``None`` when eligible).
    """

    eligible: bool
    district: str | None
    age_over_18: bool
    reason: IneligibilityReason | None = None


def assess_eligibility(
    election: Election, *, status: str, birthdate: date, address: AddressLike
) -> EligibilityDecision:
    """Apply the election's rules to one resident's registry values.

    :param status: the registry status (``active``, ``moved_out``, ``deceased``).
    :param birthdate: the registered date of birth.
    :param address: the registered address.
    :raises InvalidInputError: if the birthdate is after the election day.
    :return: the decision; the first failing rule in the order status, district, age is the reason.
    """
    age = age_on(birthdate, election.election_day)
    district = election.district_of(address)
    reason: IneligibilityReason | None = None
    if status != "active":
        reason = "not_active"
    elif district is None:
        reason = "outside_districts"
    elif age < election.minimum_age:
        reason = "under_age"
    return EligibilityDecision(eligible=reason is None, district=district, age_over_18=age >= 18, reason=reason)


def check_eligibility_claims(election: Election, claims: Mapping[str, Any]) -> str:
    """Check the disclosed claims of a verified ``VotingEligibilityCredential`` against ``election``.

    :param claims: the verified presentation's claims (``election_id``, ``eligible``, ``district``,
        ``age_over_18`` disclosed).
    :raises ClaimsError: with ``code`` ``wrong_election`` (another election or none disclosed),
        ``not_eligible`` (``eligible`` is not true), ``wrong_district`` (not one of the
        election's) or ``under_age`` (``age_over_18`` not true where the voting age is 18 or more).
    :return: the voter's district.
    """
    if claims.get("election_id") != election.election_id:
        raise ClaimsError("the eligibility credential is for another election", code="wrong_election")
    if claims.get("eligible") is not True:
        raise ClaimsError("the eligibility credential does not say the holder is eligible", code="not_eligible")
    district = claims.get("district")
    if not isinstance(district, str) or district not in election.district_names:
        raise ClaimsError("the eligibility credential names a district outside this election", code="wrong_district")
    if election.minimum_age >= 18 and claims.get("age_over_18") is not True:
        raise ClaimsError("the eligibility credential does not show age 18 or over", code="under_age")
    return district
