from __future__ import annotations

import random

import pytest

from shengjing.errors import InvalidInput
from shengjing.registry.numbers import (
    Authority,
    CertificateNumber,
    RegistrationNumber,
    parse_certificate_number,
    parse_registration_number,
    validate_certificate_number,
    validate_registration_number,
)

SHENYANG = Authority("210100", "01")


def _gb11643_check(body: str) -> str:
    """ISO 7064 MOD 11-2 written out as GB 11643 states it: weights 2^(i-1) mod 11 counted from the right, the
    check character in position 1; a value of 10 is written X."""
    total = sum(int(digit) * pow(2, i, 11) for i, digit in enumerate(reversed(body), start=1))
    return "0123456789X"[(12 - total % 11) % 11]


def test_the_check_is_the_resident_identity_number_s() -> None:
    # The example number of GB 11643-1999.
    assert _gb11643_check("11010519491231002") == "X"


def test_certificate_number_format_and_round_trip() -> None:
    number = CertificateNumber(2026, 12, SHENYANG, 123)
    assert str(number) == "SJDJ-2026-12-210100-01-000123"
    assert parse_certificate_number(" sjdj-2026-12-210100-01-000123 ") == number
    assert validate_certificate_number("SJDJ-2026-01-210102-03-999999") == "SJDJ-2026-01-210102-03-999999"


@pytest.mark.parametrize(
    "text",
    [
        "SJDJ-2026-12-210100-000123",  # no unit code
        "SJDJ-2026-13-210100-01-000123",  # month 13
        "SJDJ-2026-00-210100-01-000123",
        "SJDJ-2026-12-210100-01-000000",  # serial 0
        "SJDJ-2026-12-990100-01-000123",  # 99 is no province
        "SJDJ-2026-12-210100-01-00012",
        "SJDJ-２０２６-12-210100-01-000123",  # full-width digits
        "DJ-2026-12-210100-01-000123",
        "SJDJ 2026 12 210100 01 000123",
        "",
    ],
)
def test_malformed_certificate_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_certificate_number(text)
    assert caught.value.message_zh and caught.value.message_en
    assert caught.value.message_zh != caught.value.message_en


def test_registration_number_format_and_round_trip() -> None:
    number = RegistrationNumber(SHENYANG, 2026, 123)
    assert number.body == "2101000120260000123"
    assert str(number) == "21010001202600001235"
    assert str(number)[-1] == _gb11643_check(number.body)
    assert parse_registration_number("21010001 2026 0000123 5") == number
    assert parse_registration_number("2101-0001-2026-0000-1235") == number
    assert validate_registration_number(str(number)) == str(number)


def test_a_check_character_x_round_trips_in_either_case() -> None:
    number = next(n for serial in range(1, 100) if str(n := RegistrationNumber(SHENYANG, 2026, serial)).endswith("X"))
    assert parse_registration_number(str(number).lower()) == number


def test_a_wrong_check_character_is_named_in_both_languages() -> None:
    good = str(RegistrationNumber(SHENYANG, 2026, 123))
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(InvalidInput) as caught:
        parse_registration_number(bad)
    assert "校验码不符" in caught.value.message_zh
    assert "check character does not match" in caught.value.message_en
    assert caught.value.details == {"value": bad}


def _sample_registration_numbers() -> list[str]:
    rng = random.Random(2026)
    authorities = [SHENYANG, Authority("210102", "01"), Authority("110000", "99"), Authority("820000", "00")]
    numbers = [
        str(RegistrationNumber(rng.choice(authorities), rng.randint(2000, 2099), rng.randint(1, 9_999_999)))
        for _ in range(100)
    ]
    numbers += [str(RegistrationNumber(SHENYANG, 2026, serial)) for serial in (1, 9_999_999)]
    return numbers


def test_every_single_substitution_and_adjacent_transposition_is_detected() -> None:
    alphabet = "0123456789X"
    checked = 0
    for number in _sample_registration_numbers():
        variants = [number[:i] + c + number[i + 1 :] for i in range(len(number)) for c in alphabet if c != number[i]]
        variants += [
            number[:i] + number[i + 1] + number[i] + number[i + 2 :]
            for i in range(len(number) - 1)
            if number[i] != number[i + 1]
        ]
        for variant in variants:
            with pytest.raises(InvalidInput):
                parse_registration_number(variant)
            checked += 1
    assert checked > 20_000


@pytest.mark.parametrize(
    "text",
    ["2101000120260000123", "210100012026000012355", "21010001202600001A35", "2101000120260000000X", ""],
)
def test_malformed_registration_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_registration_number(text)


@pytest.mark.parametrize(
    ("division", "unit"), [("21010", "01"), ("210100", "1"), ("000000", "01"), ("21010a", "01"), ("210100", "A1")]
)
def test_bad_authority_codes_are_refused(division: str, unit: str) -> None:
    with pytest.raises(InvalidInput):
        Authority(division, unit)
