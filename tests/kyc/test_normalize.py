"""The normaliser: exact-match rules, idempotence and totality (hypothesis)."""

# ruff: noqa: RUF001  (Japanese text: katakana and full-width forms are meant)

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vcsdk.kyc._normalize import (
    address_matches,
    match_fields,
    normalize_address,
    normalize_kana,
    normalize_name,
    normalize_postal_code,
    tidy_text,
)
from vcsdk.kyc._types import ResidentAddress, ResidentRecord

NORMALISERS = [normalize_name, normalize_kana, normalize_address, normalize_postal_code, tidy_text]

# Text that exercises the rules: kana, kanji numerals, address markers, dashes, spaces, digits.
_ADDRESSY = st.text(
    alphabet=st.sampled_from(
        [
            *"0123456789０１２３-－ー‐−〒 \u3000丁目番地号のノケヶがガヵ一二三十百千〇松丘宮竹園市県つくばｶﾞﾃﾞa",
            *("\u3099", "\u0308", "\u00a8", "ß", "ǅ", "ﬁ", "㍿", "髙", "﨑", "\u0345", "ゟ", "ゖ", "々"),
        ]
    ),
    max_size=40,
)


@pytest.mark.parametrize("normalise", NORMALISERS, ids=lambda f: f.__name__)
@given(text=st.one_of(st.text(max_size=60), _ADDRESSY))
@example(text="1番地号")
@example(text="三1号丁目")
@example(text="a \u0308")
@example(text="\u00a8")
@example(text="一" * 5000 + "丁目")
def test_normalisers_are_idempotent_and_total(normalise, text):
    once = normalise(text)
    assert isinstance(once, str)
    assert normalise(once) == once


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("茨城県つくば市竹園二丁目３番４号", "茨城県 つくば市 竹園2-3-4"),
        ("つくば市竹園２ー３ー４", "つくば市竹園2‐3‐4"),
        ("加賀市松が丘二丁目15番地", "加賀市松ヶ丘2-15"),
        ("加賀市松ケ丘2丁目15", "加賀市松ガ丘２－１５"),
        ("つくば市二の宮一丁目8番10号", "つくば市二ノ宮1-8-10"),
        ("大聖寺錦町1番地の2", "大聖寺錦町1-2"),
        ("研究学園五丁目12番地3", "研究学園5-12-3"),
        ("竹園十一丁目", "竹園11丁目"),
        ("ｶﾞｰﾃﾞﾝﾋﾙｽﾞ101", "ガーデンヒルズ１０１"),
        ("　竹園　2-3-4　", "竹園2-3-4"),
    ],
)
def test_address_spellings_normalise_to_the_same_form(left, right):
    assert normalize_address(left) == normalize_address(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("竹園2-3-4", "竹園2-3-5"),
        ("竹園2-3-4", "竹園2-34"),
        ("松が丘", "松山丘"),
        ("山代温泉十八区", "山代温泉十区"),
    ],
)
def test_different_addresses_stay_different(left, right):
    assert normalize_address(left) != normalize_address(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("山田", "山田　"),
        ("山田", "\u3000山田"),
        ("髙橋", "高橋"),
        ("山﨑", "山崎"),
        ("Smith", "ＳＭＩＴＨ"),
        ("ジョン・スミス", "ジョン スミス"),
    ],
)
def test_name_spellings_normalise_to_the_same_form(left, right):
    assert normalize_name(left) == normalize_name(right)


def test_names_keep_hiragana_and_katakana_apart_but_readings_do_not():
    assert normalize_name("さくら") != normalize_name("サクラ")
    assert normalize_kana("さくら") == normalize_kana("サクラ") == normalize_kana("ｻｸﾗ")


@pytest.mark.parametrize("spelling", ["305-0032", "〒305-0032", "３０５－００３２", "3050032", "〒３０５ー００３２"])
def test_postal_code_spellings(spelling):
    assert normalize_postal_code(spelling) == "305-0032"


TAKEZONO = ResidentAddress(postal_code="305-0032", prefecture="茨城県", city="つくば市", street="竹園二丁目3番4号")


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        ("茨城県つくば市竹園二丁目3番4号", True),
        ("つくば市竹園2-3-4", True),
        ("〒305-0032 茨城県つくば市竹園2-3-4", True),
        ("〒305-0032 つくば市竹園2-3-4", True),
        ("305-0032 竹園2-3-4", True),
        ("竹園2-3-4", False),  # the city may only be left out after a matching postal code
        ("〒305-0033 つくば市竹園2-3-4", False),
        ("茨城県つくば市竹園2-3-5", False),
        ("茨城県加賀市竹園2-3-4", False),
        ("", False),
    ],
)
def test_address_matches(claimed, expected):
    assert address_matches(claimed, TAKEZONO) is expected


def test_match_fields():
    record = ResidentRecord(
        resident_id="R-1",
        family_name="髙橋",
        given_name="花子",
        birthdate=date(1992, 11, 3),
        address=TAKEZONO,
        resident_since=date(2015, 4, 1),
    )
    assert match_fields(
        family_name="高橋", given_name="花子 ", birthdate=date(1992, 11, 3), address="つくば市竹園2-3-4", record=record
    ) == {"familyName", "givenName", "birthDate", "address"}
    assert match_fields(
        family_name="高橋", given_name="花", birthdate=date(1992, 11, 4), address="つくば市竹園2-3-4", record=record
    ) == {"familyName", "address"}


@given(claimed=st.one_of(st.text(max_size=80), _ADDRESSY), street=st.one_of(st.text(max_size=30), _ADDRESSY))
@example(claimed="〒305-0032", street="")
@example(claimed="3050032", street="1")
def test_address_matching_never_raises(claimed, street):
    registered = ResidentAddress(postal_code="305-0032", prefecture="茨城県", city="つくば市", street=street)
    assert address_matches(claimed, registered) in (True, False)
    # A registered address always matches its own full spelling (when it has a street at all).
    if normalize_address(street):
        assert address_matches("茨城県つくば市" + street, registered)
