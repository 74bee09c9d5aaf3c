"""Normalisation of names and Japanese addresses for exact matching against the resident registry.

Two spellings match when their normal forms are equal; nothing here is fuzzy. The rules:

* Unicode NFKC: full-width Latin letters and digits become ASCII, half-width katakana become
  full-width, compatibility ideographs become their unified form.
* Whitespace (including the ideographic space U+3000) is removed from names and addresses.
* Case folding for names written in Latin letters.
* A few typographic kanji variants that most keyboards cannot type are folded (髙→高, 﨑→崎, 𠮷→吉).
* Kana readings and addresses fold hiragana into katakana. Names do not: さくら and サクラ are
  different registered names.
* Addresses: 丁目/番地/番/号 and の between numbers become hyphens (``竹園二丁目3番4号`` and
  ``竹園2-3-4`` are the same address); kanji numerals before those markers become Arabic numerals;
  dash look-alikes after a digit become ``-``; ケ/ヶ/が/ガ/ヵ between two kanji are one letter
  (松が丘 = 松ヶ丘 = 松ケ丘); の and ノ are one letter through the kana folding (二の宮 = 二ノ宮).

Every function is total (it never raises on any ``str``) and idempotent: ``f(f(x)) == f(x)``.
Prefixes that may be omitted (prefecture, city, postal code) are handled by
:func:`address_matches`, not by the normal form.
"""

# ruff: noqa: RUF001, RUF002, RUF003  (Japanese text: katakana and full-width forms are meant)

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Final

from vcsdk.kyc._types import MatchField, ResidentAddress, ResidentRecord

__all__ = [
    "address_matches",
    "match_fields",
    "normalize_address",
    "normalize_kana",
    "normalize_name",
    "normalize_postal_code",
    "tidy_text",
]

# Typographic variants (IBM extension / JIS X 0213 forms) that registries hold and keyboards lack.
_KANJI_VARIANTS: Final = str.maketrans({"髙": "高", "﨑": "崎", "𠮷": "吉"})

# Hiragana U+3041..U+3096 and the iteration marks ゝゞ sit 0x60 below their katakana twins.
_HIRAGANA_TO_KATAKANA: Final = {cp: cp + 0x60 for cp in (*range(0x3041, 0x3097), 0x309D, 0x309E)}

_WHITESPACE: Final = re.compile(r"\s+")
_NAME_SEPARATORS: Final = re.compile(r"[\s・]+")

# Ideographs (CJK unified, extension A, compatibility, supplementary planes) and the iteration mark.
_KANJI: Final = "\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# A place-name connector spelled several ways between two kanji: 松が丘, 松ヶ丘, 松ケ丘. (の/ノ, as
# in 二の宮, needs no rule: addresses fold hiragana into katakana anyway.)
_KE_BETWEEN_KANJI: Final = re.compile(rf"(?<=[{_KANJI}])[ケヶガヵ](?=[{_KANJI}])")

_KANJI_DIGITS: Final = dict(zip("〇零一二三四五六七八九", (0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_KANJI_UNITS: Final = {"十": 10, "百": 100, "千": 1000}
_ADDRESS_MARKERS: Final = "丁目|番地|番|号"
_KANJI_NUMBER: Final = re.compile(rf"[〇零一二三四五六七八九十百千]+(?={_ADDRESS_MARKERS})")

# Hyphen, minus and dash look-alikes (NFKC leaves these alone), and the long-vowel mark that is
# often typed for a hyphen; only after a digit are they read as a hyphen.
_DASH_AFTER_DIGIT: Final = re.compile(r"(?<=[0-9])[\u2010-\u2015\u2212\u30fc\u2043\ufe58\ufe63\uff0d]")
# One left-to-right pass of the address-number rules; every rewrite shortens the text or replaces
# a non-hyphen with a hyphen, so repeating the pass reaches a fixed point.
_ADDRESS_NUMBER_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # の has already been folded to ノ (addresses fold hiragana into katakana).
    (re.compile(r"(?<=[0-9])(?:丁目|番地ノ?|番ノ?)"), "-"),
    (re.compile(r"(?<=[0-9])号"), ""),
    (re.compile(r"(?<=[0-9])ノ(?=[0-9])"), "-"),
    (re.compile(r"(?<=[0-9])-{2,}"), "-"),
    (re.compile(r"(?<=[0-9])-(?![0-9])"), ""),
)

_POSTAL_CODE: Final = re.compile(r"〒?([0-9]{3})-?([0-9]{4})")


def _fixed_point(step: Callable[[str], str], text: str) -> str:
    # Each step used here only ever shortens the text or trades a character for a "smaller" one,
    # so the loop ends; the bound is a guard, not a tuning knob.
    for _ in range(len(text) + 4):
        nxt = step(text)
        if nxt == text:
            return text
        text = nxt
    return text


def _characters(text: str, *, fold_kana: bool) -> str:
    """Character-level rules shared by names, kana and addresses (no whitespace handling)."""
    text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_KANJI_VARIANTS)
    if fold_kana:
        text = text.translate(_HIRAGANA_TO_KATAKANA)
    return text


def tidy_text(text: str) -> str:
    """Light clean-up before sending text to a registry: NFKC, whitespace runs to one space, trimmed.

    Unlike the ``normalize_*`` functions this keeps the spelling readable (kanji numerals,
    丁目/番地, spaces between words), so a registry with its own matching rules still sees what the
    resident wrote.

    :param text: any text.
    :return: the tidied text.
    """
    return _fixed_point(lambda t: _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", t)).strip(), text)


def normalize_name(text: str) -> str:
    """Normal form of a family or given name for exact comparison.

    NFKC, case folding, typographic kanji variants folded, whitespace and the middle dot ``・``
    removed. Hiragana and katakana stay distinct.

    :param text: a name as registered or as claimed.
    :return: the normal form (possibly empty).
    """

    def step(t: str) -> str:
        t = _characters(t, fold_kana=False)
        return unicodedata.normalize("NFKC", _NAME_SEPARATORS.sub("", t))

    return _fixed_point(step, text)


def normalize_kana(text: str) -> str:
    """Normal form of a kana reading (フリガナ): as :func:`normalize_name`, with hiragana as katakana.

    :param text: a reading in hiragana, katakana (full- or half-width) or a mix.
    :return: the normal form (possibly empty).
    """

    def step(t: str) -> str:
        t = _characters(t, fold_kana=True)
        return unicodedata.normalize("NFKC", _NAME_SEPARATORS.sub("", t))

    return _fixed_point(step, text)


def _kanji_number(match: re.Match[str]) -> str:
    run = match.group(0)
    if not any(ch in _KANJI_UNITS for ch in run):
        # Positional form (二〇二 → 202); kept as a digit string so length is never a problem.
        return "".join(str(_KANJI_DIGITS[ch]) for ch in run)
    total = 0
    digit: int | None = None
    for ch in run:
        if ch in _KANJI_UNITS:
            total += (1 if digit is None else digit) * _KANJI_UNITS[ch]
            digit = None
        else:
            digit = _KANJI_DIGITS[ch]
    return str(total + (digit or 0))


def _address_numbers(text: str) -> str:
    for pattern, replacement in _ADDRESS_NUMBER_RULES:
        text = pattern.sub(replacement, text)
    return text


def normalize_address(text: str) -> str:
    """Normal form of a Japanese address (or part of one) for exact comparison.

    ``茨城県つくば市竹園二丁目３番４号`` and ``茨城県 つくば市 竹園2-3-4`` have the same normal form.

    :param text: an address as registered or as claimed.
    :return: the normal form (possibly empty).
    """

    def characters(t: str) -> str:
        t = _characters(t, fold_kana=True)
        t = _WHITESPACE.sub("", t)
        t = unicodedata.normalize("NFKC", t)
        t = _KE_BETWEEN_KANJI.sub("ケ", t)
        return _DASH_AFTER_DIGIT.sub("-", t)

    def step(t: str) -> str:
        t = _fixed_point(characters, t)
        t = _KANJI_NUMBER.sub(_kanji_number, t)
        return _fixed_point(_address_numbers, t)

    return _fixed_point(step, text)


def normalize_postal_code(text: str) -> str:
    """``NNN-NNNN`` for any spelling of a Japanese postal code (〒, full-width digits, no hyphen).

    :param text: a postal code.
    :return: ``NNN-NNNN``, or the address-normalised text when it is not a postal code.
    """
    norm = normalize_address(text)
    found = _POSTAL_CODE.fullmatch(norm)
    return f"{found.group(1)}-{found.group(2)}" if found else norm


def address_matches(claimed: str, registered: ResidentAddress) -> bool:
    """Whether a one-line claimed address is the registered address, after normalisation.

    Accepted forms: ``[postal code] [prefecture] city street``; when the claim starts with a
    postal code equal to the registered one, the city may be omitted too. The street must always
    be there and must match exactly (after normalisation).

    :param claimed: the address as the resident wrote it.
    :param registered: the registry's structured address.
    :return: ``True`` when they denote the same address.
    """
    norm = normalize_address(claimed)
    postal = _POSTAL_CODE.match(norm)
    has_postal = postal is not None and (postal.end() == len(norm) or norm[postal.end()] not in "0123456789")
    if postal is not None and has_postal:
        if f"{postal.group(1)}-{postal.group(2)}" != normalize_postal_code(registered.postal_code):
            return False
        norm = norm[postal.end() :]
    pref, city, street = registered.prefecture, registered.city, registered.street
    if not normalize_address(street):
        return False
    # Normalise whole spellings, not parts: some rules look at neighbours (松|ヶ丘, 2|丁目).
    spellings = [pref + city + street, city + street]
    if has_postal:
        spellings += [pref + street, street]
    return any(norm == normalize_address(spelling) for spelling in spellings)


def match_fields(
    *, family_name: str, given_name: str, birthdate: date, address: str, record: ResidentRecord
) -> frozenset[MatchField]:
    """The fields of a claimed identity that match a registry record under the exact-match rules.

    :param family_name: claimed family name.
    :param given_name: claimed given name.
    :param birthdate: claimed date of birth.
    :param address: claimed address, one line.
    :param record: the registry's record.
    :return: a subset of ``{"familyName", "givenName", "birthDate", "address"}``.
    """
    matched: set[MatchField] = set()
    if normalize_name(family_name) == normalize_name(record.family_name) != "":
        matched.add("familyName")
    if normalize_name(given_name) == normalize_name(record.given_name) != "":
        matched.add("givenName")
    if birthdate == record.birthdate:
        matched.add("birthDate")
    if address_matches(address, record.address):
        matched.add("address")
    return frozenset(matched)
