"""The detectors' SQL checked against python-stdnum and by hand: check digits, patterns, names and ``decide``.

The check digits are written in SQL (detectors.py) so the engine can run them over every row; here each is run
in DuckDB on random values, valid and not, and compared with python-stdnum's answer for the same value.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from shengjing.classify import detectors as d
from shengjing.classify.classifier import FieldSpec, Mode, classify_files
from shengjing.classify.detectors import InfoType, NameEvidence, ValueCounts, condition_sql, decide, name_evidence

RNG_SEED = 11643
COUNTIES = ["110101", "210102", "210103", "210106", "310104", "440106", "620102", "230103", "510107", "650102"]


def run_sql(expression: str, values: Sequence[str | None], ids: Sequence[str | None] | None = None) -> list[bool]:
    """``expression`` (over the columns ``v`` and, when given, ``i``) evaluated in DuckDB for each value."""
    columns = {"n": list(range(len(values))), "v": list(values)}
    if ids is not None:
        columns["i"] = list(ids)
    con = duckdb.connect()
    try:
        con.register("t", pa.table(columns))
        rows = con.execute(f"SELECT COALESCE(({expression}), FALSE) FROM t ORDER BY n").fetchall()
    finally:
        con.close()
    return [bool(r[0]) for r in rows]


def with_derived(check: str, kind: InfoType) -> str:
    """A check written over the type's parsed numbers (``DERIVED``), with those computed inline from ``v``."""
    for name, sql in d.derived_sql(kind, "duckdb", "v").items():
        check = re.sub(rf"\b{name}\b", f"({sql})", check)
    return d.inline_tables(check, "duckdb")


def matches(kind: InfoType, part: str, values: Sequence[str]) -> list[bool]:
    sql = condition_sql(kind, part, "duckdb", "v")
    assert sql is not None
    return run_sql(sql, values)


def stdnum_ric(number: str) -> bool | None:
    """python-stdnum's verdict; None where it cannot say: 2.2 raises KeyError('county') for an unknown county."""
    try:
        return ric.is_valid(number)
    except KeyError:
        return None


# --- GB 11643 resident ID ------------------------------------------------------------------------------------------


def random_ids(rng: random.Random, n: int) -> list[str]:
    """Valid numbers, the same with a wrong check character, with a lower-case x, and unknown counties."""
    out = []
    for _ in range(n):
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 90))
        county = rng.choice([*COUNTIES, "114506", "219999"])
        body = f"{county}{born:%Y%m%d}{rng.randrange(1000):03d}"
        check = ric.calc_check_digit(body + "0")  # stdnum ignores the last character it is given
        kind = rng.random()
        if kind < 0.4:
            out.append(body + check)
        elif kind < 0.55:
            out.append(body + (check.lower() if check == "X" else "x"))
        else:
            out.append(body + rng.choice([c for c in "0123456789X" if c != check]))
    return out


def test_id_check_digit_agrees_with_stdnum_on_random_values() -> None:
    rng = random.Random(RNG_SEED)
    values = random_ids(rng, 3000) + ["".join(rng.choice(string.digits) for _ in range(17)) + "X" for _ in range(500)]
    sql = run_sql(with_derived(d.ID_CHECK, InfoType.ID_NUMBER), values)
    expected = [ric.calc_check_digit(v[:17] + "0") == v[17].upper() for v in values]
    assert sql == expected
    assert 0.2 < sum(sql) / len(sql) < 0.8  # both verdicts well represented
    assert any(v.endswith("x") and ok for v, ok in zip(values, sql, strict=True))  # a lower-case x passes


def test_id_strong_condition_agrees_with_stdnum_where_stdnum_can_say() -> None:
    rng = random.Random(RNG_SEED + 1)
    values = random_ids(rng, 2000)
    sql = matches(InfoType.ID_NUMBER, "strong", values)
    verdicts = [stdnum_ric(v.upper()) for v in values]
    unknown = [v for v, ok in zip(values, verdicts, strict=True) if ok is None]
    assert unknown, "the unknown-county trap of python-stdnum 2.2 is exercised"
    # stdnum also checks that the county existed in the birth year; the SQL checks the pattern and the check digit.
    for value, ours, theirs in zip(values, sql, verdicts, strict=True):
        if theirs is None:
            continue
        if ours and not theirs:
            with pytest.raises(ValidationError):
                ric.get_birth_place(value)
        else:
            assert ours == theirs, value
    assert sum(sql) > 500
    with pytest.raises(KeyError):
        ric.is_valid("114506812005024350")


# --- Luhn ------------------------------------------------------------------------------------------------------------


def test_luhn_agrees_with_stdnum_on_random_card_numbers() -> None:
    rng = random.Random(RNG_SEED + 2)
    values: list[str] = []
    for _ in range(3000):
        length = rng.randint(16, 19)
        body = rng.choice("123456789") + "".join(rng.choice(string.digits) for _ in range(length - 2))
        good = luhn.calc_check_digit(body)
        number = body + (good if rng.random() < 0.5 else str((int(good) + rng.randint(1, 9)) % 10))
        if rng.random() < 0.2:  # written in groups of four
            number = rng.choice(" -").join(number[i : i + 4] for i in range(0, len(number), 4))
        values.append(number)
    sql = matches(InfoType.BANK_CARD, "strong", values)
    expected = [luhn.is_valid(re.sub("[ -]", "", v)) for v in values]
    assert sql == expected
    assert 0.3 < sum(sql) / len(sql) < 0.7


def test_luhn_rejects_what_is_not_a_card() -> None:
    assert matches(InfoType.BANK_CARD, "fit", ["6222021234567890", "622202123456789", "0622021234567890128"]) == [
        luhn.is_valid("6222021234567890"),
        False,  # 15 digits
        False,  # a leading zero
    ]


# --- GB 32100 unified social credit code ----------------------------------------------------------------------------


def test_credit_check_character_agrees_with_stdnum_on_random_codes() -> None:
    rng = random.Random(RNG_SEED + 3)
    alphabet = uscc._alphabet  # the 31 characters of GB 32100, as stdnum spells them
    values = []
    for _ in range(3000):
        # kinds written as letters too, "1E" among them (read as a number, 1E0000… would be one with an exponent)
        head = rng.choice(["91", "92", "93", "11", "12", "51", "52", "Y1", "1E", "5A", "9N", "YE"])
        body = head + rng.choice(COUNTIES) + "".join(rng.choice(alphabet) for _ in range(9))
        check = uscc.calc_check_digit(body)
        values.append(body + (check if rng.random() < 0.5 else rng.choice([c for c in alphabet if c != check])))
    sql = run_sql(with_derived(d.CREDIT_CHECK, InfoType.CREDIT_CODE), values)
    assert sql == [uscc.calc_check_digit(v[:17]) == v[17] for v in values]
    strong = matches(InfoType.CREDIT_CODE, "strong", values)
    # stdnum insists on eight digits first; GB 32100 also allows letters for the registering authority (Y1 …).
    for value, ours in zip(values, strong, strict=True):
        if value[:8].isdigit():
            assert ours == uscc.is_valid(value), value
    assert 0.3 < sum(strong) / len(strong) < 0.7


def test_credit_code_strong_rule_needs_the_gb32100_shape() -> None:
    code = "91210102MA0XN7WK3" + uscc.calc_check_digit("91210102MA0XN7WK3")
    assert uscc.is_valid(code)
    assert matches(InfoType.CREDIT_CODE, "strong", [code, code.lower(), code[:-1], "210102000012345"]) == [
        True,
        True,  # checked on the upper-cased value
        False,
        False,  # the 15-digit registration number it replaced
    ]


# --- other value rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "part", "values", "expected"),
    [
        (InfoType.MOBILE, "strong", ["13812345678", "+86 138 1234 5678", "86-13812345678", "12812345678"],
         [True, True, True, False]),
        (InfoType.LANDLINE, "strong", ["024-23456789", "(024)23456789", "02423456789", "024-23456789-8012", "23456789"],
         [True, True, True, True, False]),
        (InfoType.LANDLINE, "fit", ["23456789", "1234567"], [True, False]),
        (InfoType.IP_ADDRESS, "strong", ["10.12.0.21", "203.0.113.5:53211", "2001:db8::1", "[2001:db8::1]:443",
                                         "256.1.1.1", "1.2.3"], [True, True, True, True, False, False]),
        (InfoType.ADDRESS, "strong", ["沈阳市和平区南京北街206号", "浑南区全运路5号3栋2单元501室", "沈阳市第一人民医院",
                                      "浑南区XX小区3号院", "沈阳市数据局办公室"], [True, True, False, True, False]),
        (InfoType.HEALTH, "strong", ["2型糖尿病", "E11.900x001", "I10.x00", "J06.9", "I10", "心内科", "未见异常"],
         [True, True, True, True, False, False, False]),
        (InfoType.HEALTH, "fit", ["I10", "未见异常", "A12"], [True, True, True]),
        (InfoType.BIRTH_DATE, "fit", ["1985-03-12", "19850312", "1985/3/12", "1985年3月12日", "1985-03-12 00:00:00",
                                      "1985-03", "198503", "1985年3月", "85-03-12", "2024-13-01"],
         [True, True, True, True, True, True, True, True, False, False]),
        (InfoType.PASSPORT, "strong", ["E12345678", "EA1234567", "G12345678", "E1234567"], [True, True, True, False]),
        (InfoType.HK_MACAU_PASS, "strong", ["C12345678", "CA1234567", "W12345678", "H1234567801", "C1234567"],
         [True, True, True, True, False]),
        (InfoType.LICENSE_PLATE, "strong", ["辽A12345", "辽A·1B345", "辽AD12345", "辽A1234挂", "辽I12345"],
         [True, True, True, True, False]),
        (InfoType.COORDINATES, "strong", ["123.456789,41.801234", "123.456789, 41.801234", "123.45,41.80"],
         [True, True, False]),
    ],
)  # fmt: skip
def test_value_rules(kind: InfoType, part: str, values: list[str], expected: list[bool]) -> None:
    assert matches(kind, part, values) == expected


def test_birth_date_agrees_with_the_id_number_however_it_is_written() -> None:
    rng = random.Random(RNG_SEED + 4)
    dates, ids, expected = [], [], []
    for _ in range(500):
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 70))
        body = f"210102{born:%Y%m%d}{rng.randrange(1000):03d}"
        number = body + ric.calc_check_digit(body + "0")
        same = rng.random() < 0.7
        shown = born if same else born + timedelta(days=rng.randint(1, 300))
        written = rng.choice(
            [shown.isoformat(), f"{shown:%Y%m%d}", f"{shown.year}/{shown.month}/{shown.day}",
             f"{shown.year}年{shown.month}月{shown.day}日", f"{shown.isoformat()} 00:00:00"]
        )  # fmt: skip
        dates.append(written)
        old = born.year < 1990 and rng.random() < 0.2  # the 15-digit numbers of the first cards
        ids.append(f"210102{born:%y%m%d}{rng.randrange(1000):03d}" if old else number)
        expected.append(same and ric.get_birth_date(number) == born)
    assert run_sql(d.ID_AGREES, dates, ids) == expected


def test_every_pattern_is_re2_and_renders_for_both_engines() -> None:
    """DuckDB's RE2 has no look-around; every condition must compile there and render for Spark too."""
    for kind in InfoType:
        if kind is InfoType.NONE:
            continue
        for part in ("shape", "strong", "fit"):
            sql = condition_sql(kind, part, "duckdb", "v")
            if sql is None:
                continue
            assert not re.search(r"\(\?[=!<]", sql), (kind, part)
            run_sql(sql, ["x", None])
            spark = condition_sql(kind, part, "spark", "v")
            assert spark and sqlglot.parse_one(spark, read="spark")


def test_the_dictionaries_hold_each_word_once() -> None:
    for name, words in d._load_dictionary().items():
        assert len(words) == len(set(words)), (name, [w for w in set(words) if words.count(w) > 1])


# --- the field's name ------------------------------------------------------------------------------------------------


def test_tokens_of_codes_in_every_style() -> None:
    assert {"patient", "id", "card", "idcard", "id_card"} <= set(d.tokens_of("patientIdCard"))
    assert {"hk", "macau", "hk_macau", "permit_no"} <= set(d.tokens_of("hkMacauPermitNo"))
    assert "sfzh" in d.tokens_of("hzsfzh")  # pinyin initials: the noun comes last (患者 + 身份证号)
    assert "gmsfhm" in d.tokens_of("GMSFHM")
    assert "ip" not in d.tokens_of("zip_code") and "ip" not in d.tokens_of("shipping")


def kinds(code: str, label: str = "", element: str | None = None) -> set[InfoType]:
    return {e.type for e in name_evidence(code, label, element)}


def test_name_evidence() -> None:
    assert kinds("gmsfhm", "公民身份号码") == {InfoType.ID_NUMBER}
    assert kinds("sfzh") == {InfoType.ID_NUMBER}
    assert kinds("IdCard") == {InfoType.ID_NUMBER}
    assert kinds("lxdh") == {InfoType.MOBILE, InfoType.LANDLINE}  # 联系电话: either
    assert kinds("shdz") == {InfoType.ADDRESS}
    assert kinds("qymc", "企业名称") == set()  # a company's name is not a person's
    assert InfoType.PERSON_NAME not in kinds("company_name")
    assert kinds("c7") == set() and kinds("f12") == set()
    assert kinds("anything", element="GMSFHM") == {InfoType.ID_NUMBER}


def test_a_phone_column_of_order_numbers_is_none_and_an_opaque_column_of_ids_is_an_id(tmp_path: Path) -> None:
    rng = random.Random(RNG_SEED + 5)
    rows = 300
    orders = [f"2024{rng.randrange(1, 13):02d}{rng.randrange(28):02d}{rng.randrange(10**10):010d}" for _ in range(rows)]
    ids = random_ids(random.Random(RNG_SEED + 6), rows * 3)
    valid = [v for v in ids if ric.calc_check_digit(v[:17] + "0") == v[17].upper()][:rows]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"phone": orders, "lxdh": orders, "c7": valid}), path)
    fields = [FieldSpec("phone"), FieldSpec("lxdh", "联系电话"), FieldSpec("c7")]
    result = classify_files([path], fields, rows_total=rows, mode=Mode.SAMPLE)
    phone, lxdh, c7 = (f.detection for f in result.fields)
    for detection in (phone, lxdh):
        assert detection.type is InfoType.NONE
        assert detection.decided_by == "none"
        contradicted = {e["type"] for e in detection.evidence if e.get("contradicts_name")}
        assert contradicted == {"mobile", "landline"}
    assert c7.type is InfoType.ID_NUMBER and c7.decided_by == "values"
    assert not [e for e in c7.evidence if e["kind"] == "name"]


# --- decide --------------------------------------------------------------------------------------------------------


def counts(checked: int, **per_type: tuple[int, int]) -> ValueCounts:
    """Per type (strong, fit) counts."""
    found = ValueCounts(checked=checked)
    for name, (strong, fit) in per_type.items():
        found.strong[InfoType(name)] = strong
        found.fit[InfoType(name)] = fit
    return found


def test_decide_reports_the_evidence_it_used() -> None:
    name = [NameEvidence(InfoType.ID_NUMBER, "code", "sfzh")]
    found = decide(counts(100, id_number=(96, 97), credit_code=(3, 97), bank_card=(10, 10)), name)
    assert found.type is InfoType.ID_NUMBER and found.decided_by == "values+name"
    assert {"kind": "name", "type": "id_number", "source": "code", "word": "sfzh"} in found.evidence
    values = [e for e in found.evidence if e["kind"] == "values"]
    assert values == [
        {"kind": "values", "type": "id_number", "checked": 100, "strong": 96, "fit": 97, "share": 0.97,
         "checks": ["GB 11643 pattern", "GB 11643 check digit"]}
    ]  # fmt: skip
    assert 0.9 < found.confidence < 1.0


def test_decide_by_name_when_the_values_only_fit() -> None:
    found = decide(counts(50, birth_date=(0, 49)), [NameEvidence(InfoType.BIRTH_DATE, "label", "出生日期")])
    assert found.type is InfoType.BIRTH_DATE and found.decided_by == "name"
    assert decide(counts(50, birth_date=(0, 49)), []).type is InfoType.NONE  # any date could be a birth date


def test_decide_says_none_with_what_the_name_claimed_and_what_the_values_came_closest_to() -> None:
    found = decide(counts(200, mobile=(10, 10), bank_card=(20, 20)), [NameEvidence(InfoType.MOBILE, "code", "phone")])
    assert found.type is InfoType.NONE and found.decided_by == "none"
    by_type = {e["type"]: e for e in found.evidence if e["kind"] == "values"}
    assert by_type["mobile"]["contradicts_name"] is True
    assert by_type["bank_card"]["too_few"] is True


def test_decide_takes_a_mixed_phone_column_by_its_majority() -> None:
    found = decide(counts(100, mobile=(60, 60), landline=(35, 38)), [])
    assert found.type is InfoType.MOBILE and found.decided_by == "values"
    assert any(e.get("sibling") and e["type"] == "landline" for e in found.evidence)
    assert decide(counts(100, mobile=(30, 30), landline=(5, 40)), []).type is InfoType.NONE  # mostly local numbers
