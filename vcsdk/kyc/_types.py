"""Values the resident-registry adapter returns, and the port the KYC pipeline calls through.

Every value that holds personal data keeps it out of ``repr`` so that a stray log line or a
traceback never prints a name, a birth date or an address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Final, Literal, Protocol, get_args

__all__ = [
    "ALL_MATCH_FIELDS",
    "NAMESPACE",
    "WSDL_PATH",
    "XSD_PATH",
    "CheckResult",
    "MatchField",
    "MatchOutcome",
    "ResidentAddress",
    "ResidentRecord",
    "ResidentRegistry",
    "ResidentStatus",
    "ResidentStatusCode",
]

#: XML namespace of the registry's messages (``resident_registry.xsd``).
NAMESPACE: Final = "urn:vcsdk:resident-registry:1"

#: The WSDL and XSD shipped as package data.
WSDL_PATH: Final[Path] = Path(str(resources.files("vcsdk.kyc").joinpath("resident_registry.wsdl")))
XSD_PATH: Final[Path] = Path(str(resources.files("vcsdk.kyc").joinpath("resident_registry.xsd")))

MatchOutcome = Literal["full", "partial", "none"]
MatchField = Literal["familyName", "givenName", "birthDate", "address"]
ResidentStatusCode = Literal["active", "moved_out", "deceased"]

#: Every field ``CheckResident`` compares, in WSDL order.
ALL_MATCH_FIELDS: Final[frozenset[MatchField]] = frozenset(get_args(MatchField))


@dataclass(frozen=True, slots=True)
class ResidentAddress:
    """A registered address, structured as the registry keeps it.

    :param postal_code: ``NNN-NNNN``.
    :param prefecture: e.g. ``石川県``.
    :param city: e.g. ``加賀市``.
    :param street: the rest, as registered (``大聖寺錦町1番地2``).
    """

    postal_code: str = field(repr=False)
    prefecture: str = field(repr=False)
    city: str = field(repr=False)
    street: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ResidentRecord:
    """One resident as the registry holds it (values exactly as registered, not as claimed).

    :param resident_id: the registry's opaque record identifier.
    :param family_name: family name as registered (kanji for most residents).
    :param given_name: given name as registered.
    :param birthdate: date of birth.
    :param address: the registered address.
    :param resident_since: the date the resident registered at this address.
    :param family_name_kana: katakana reading of the family name, when the registry has one.
    :param given_name_kana: katakana reading of the given name, when the registry has one.
    """

    resident_id: str = field(repr=False)
    family_name: str = field(repr=False)
    given_name: str = field(repr=False)
    birthdate: date = field(repr=False)
    address: ResidentAddress = field(repr=False)
    resident_since: date = field(repr=False)
    family_name_kana: str | None = field(default=None, repr=False)
    given_name_kana: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer to ``CheckResident``.

    :param outcome: ``"full"`` (one record matched every field), ``"partial"`` (one record matched
        some fields: ``matched_fields`` says which) or ``"none"``.
    :param matched_fields: the fields that matched (all four for ``"full"``, empty for ``"none"``).
    :param record: the registered values, present exactly when ``outcome`` is ``"full"``.
    """

    outcome: MatchOutcome
    matched_fields: frozenset[MatchField] = frozenset()
    record: ResidentRecord | None = None

    @property
    def mismatched_fields(self) -> frozenset[MatchField]:
        """The fields that did not match (empty for a full match, all four for no match)."""
        return ALL_MATCH_FIELDS - self.matched_fields


@dataclass(frozen=True, slots=True)
class ResidentStatus:
    """The answer to ``GetResidentStatus``.

    :param status: ``"active"``, ``"moved_out"`` or ``"deceased"``.
    :param since: the date that status took effect.
    """

    status: ResidentStatusCode
    since: date


class ResidentRegistry(Protocol):
    """What the KYC pipeline needs from a resident registry.

    :class:`~vcsdk.kyc.ResidentRegistryClient` implements it over SOAP; a city whose registry speaks
    another protocol implements these two methods in its own adapter (see ``docs/kyc.md``).
    """

    async def check_resident(
        self, *, family_name: str, given_name: str, birthdate: date, address: str
    ) -> CheckResult:
        """:raises ResidentRegistryUnavailableError:, :raises ResidentRegistryFaultError:."""
        ...

    async def get_resident_status(self, resident_id: str) -> ResidentStatus:
        """:raises ResidentRegistryUnavailableError:, :raises ResidentRegistryFaultError:."""
        ...
