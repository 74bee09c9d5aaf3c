"""Synthetic residents for the local development registry.

Nobody here is a real person: common family and given names put together at random, with
addresses in Kaga (石川県加賀市, postal codes 922-xxxx) and Tsukuba (茨城県つくば市, 305-xxxx)
whose house numbers are made up. The list is fixed so that tests, the demo and the docs can refer
to the same people. It covers an active adult, a minor born on 29 February, two residents with the
same name, typographic kanji variants (髙, 﨑), a resident who moved out and one who died.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from vcsdk.kyc._types import ResidentAddress, ResidentRecord, ResidentStatusCode

__all__ = ["SEED_RESIDENTS", "RegistryEntry"]


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One row of the local registry: the record plus its current status.

    :param record: the resident record ``CheckResident`` returns on a full match.
    :param status: what ``GetResidentStatus`` answers.
    :param status_since: when that status took effect; defaults to ``record.resident_since``.
    """

    record: ResidentRecord
    status: ResidentStatusCode = "active"
    status_since: date | None = field(default=None)

    @property
    def effective_since(self) -> date:
        """``status_since``, or the date the resident registered when it is not set."""
        return self.status_since or self.record.resident_since


def _entry(
    resident_id: str,
    family: tuple[str, str | None],
    given: tuple[str, str | None],
    birthdate: date,
    address: tuple[str, str, str, str],
    resident_since: date,
    status: ResidentStatusCode = "active",
    status_since: date | None = None,
) -> RegistryEntry:
    postal_code, prefecture, city, street = address
    return RegistryEntry(
        record=ResidentRecord(
            resident_id=resident_id,
            family_name=family[0],
            given_name=given[0],
            birthdate=birthdate,
            address=ResidentAddress(postal_code=postal_code, prefecture=prefecture, city=city, street=street),
            resident_since=resident_since,
            family_name_kana=family[1],
            given_name_kana=given[1],
        ),
        status=status,
        status_since=status_since,
    )


_KAGA = ("石川県", "加賀市")
_TSUKUBA = ("茨城県", "つくば市")

#: The fixed synthetic population of the local registry, ordered by resident id.
SEED_RESIDENTS: tuple[RegistryEntry, ...] = (
    _entry(
        "KG-000101", ("山田", "ヤマダ"), ("太郎", "タロウ"), date(1985, 4, 12),
        ("922-0064", *_KAGA, "大聖寺錦町1番地2"), date(2010, 4, 1),
    ),
    _entry(
        "KG-000102", ("髙橋", "タカハシ"), ("花子", "ハナコ"), date(1992, 11, 3),
        ("922-0436", *_KAGA, "松が丘二丁目15番地"), date(2016, 10, 1),
    ),
    _entry(
        "KG-000103", ("鈴木", "スズキ"), ("一郎", "イチロウ"), date(1938, 1, 5),
        ("922-0242", *_KAGA, "山代温泉十八区1番地"), date(1970, 6, 1),
        status="deceased", status_since=date(2025, 1, 10),
    ),
    _entry(
        "KG-000104", ("田中", "タナカ"), ("陽子", "ヨウコ"), date(1960, 6, 15),
        ("922-0412", *_KAGA, "片山津温泉乙65番地"), date(1988, 9, 1),
    ),
    _entry(
        "TK-000201", ("中村", "ナカムラ"), ("さくら", "サクラ"), date(2008, 2, 29),
        ("305-0032", *_TSUKUBA, "竹園二丁目3番4号"), date(2008, 3, 15),
    ),
    _entry(
        "TK-000202", ("佐藤", "サトウ"), ("健一", "ケンイチ"), date(1958, 7, 20),
        ("305-0051", *_TSUKUBA, "二の宮一丁目8番10号"), date(1990, 5, 1),
        status="moved_out", status_since=date(2024, 3, 31),
    ),
    _entry(
        "TK-000203", ("山﨑", "ヤマザキ"), ("美咲", "ミサキ"), date(1999, 9, 9),
        ("305-0031", *_TSUKUBA, "吾妻三丁目5番地1"), date(2018, 4, 1),
    ),
    _entry(
        "TK-000204", ("小林", "コバヤシ"), ("大輔", "ダイスケ"), date(2006, 12, 31),
        ("305-0817", *_TSUKUBA, "研究学園五丁目12番地3"), date(2012, 8, 20),
    ),
    _entry(
        "TK-000205", ("山田", "ヤマダ"), ("太郎", "タロウ"), date(1990, 8, 8),
        ("305-0005", *_TSUKUBA, "天久保二丁目1番地15"), date(2009, 4, 1),
    ),
    _entry(
        "TK-000206", ("渡辺", None), ("翔", None), date(2001, 1, 1),
        ("305-0044", *_TSUKUBA, "並木四丁目3番"), date(2019, 4, 1),
    ),
)
