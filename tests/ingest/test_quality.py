"""Quality rules: vectorized masks cross-checked against python-stdnum, quarantine, uniqueness, score, timeliness."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from stdnum.cn import ric, uscc

from shengjing.errors import InvalidInput
from shengjing.ingest.quality import (
    ID_REASONS,
    QUARANTINE_COLUMNS,
    UNIQUE_REASONS,
    USCC_ALPHABET,
    QualityChecker,
    QualityReport,
    codelist_failures,
    credit_code_failures,
    date_failures,
    id_number_failures,
    load_rules,
    pattern_failures,
    quarantine_schema,
    range_failures,
    reference_failures,
    required_failures,
    timeliness,
)

TODAY = date(2026, 11, 15)
SHENYANG_DISTRICTS = ["210102", "210103", "210104", "210105", "210106", "210111", "210112", "210113", "210114"]


def make_id(rng: random.Random, birth: date | None = None, region: str | None = None) -> str:
    birth = birth or date(1930, 1, 1) + timedelta(days=rng.randrange(90 * 365))
    body = f"{region or rng.choice(SHENYANG_DISTRICTS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character given


def make_credit_code(rng: random.Random, prefix: str = "91") -> str:
    body = prefix + rng.choice(["210100", "210102", "210106"]) + "".join(rng.choices(USCC_ALPHABET, k=9))
    return body + uscc.calc_check_digit(body)


def flip(value: str, alphabet: str) -> str:
    return value[:-1] + next(c for c in alphabet if c != value[-1])


def reasons_en(failures, table) -> list[str | None]:  # type: ignore[no-untyped-def]
    return [table[code][1] if bad else None for bad, code in zip(failures.failed, failures.reason, strict=True)]


# --- id_number -------------------------------------------------------------------------------------------------


def test_generated_ids_pass_and_flipped_check_digits_fail() -> None:
    rng = random.Random(1)
    ids = [make_id(rng) for _ in range(3000)]
    ok = id_number_failures(pa.array(ids), today=TODAY)
    assert not ok.failed.any() and ok.checked == 3000
    bad = id_number_failures(pa.array([flip(i, "0123456789X") for i in ids]), today=TODAY)
    assert bad.failed.all()
    assert set(reasons_en(bad, ID_REASONS)) == {"wrong check digit"}


def test_check_digit_agrees_with_stdnum_on_random_candidates() -> None:
    rng = random.Random(2)
    values = []
    for _ in range(5000):
        body = make_id(rng)[:17]
        values.append(body + rng.choice("0123456789X"))
    ours = id_number_failures(pa.array(values), today=TODAY).failed
    theirs = np.array([ric.calc_check_digit(v) != v[-1] for v in values])
    assert (ours == theirs).all()
    assert 0 < theirs.sum() < len(values)


def test_real_shenyang_ids_that_stdnum_rejects_are_valid() -> None:
    # A Heping-district person born 1980: stdnum.cn.ric refuses the region code's date range; the number is valid.
    value = make_id(random.Random(3), birth=date(1980, 1, 1), region="210102")
    try:
        stdnum_says = ric.is_valid(value)
    except KeyError:  # FIELD-NOTES: unknown counties raise instead of returning False
        stdnum_says = False
    assert not stdnum_says
    assert not id_number_failures(pa.array([value]), today=TODAY).failed.any()


def test_id_edge_cases_and_reasons() -> None:
    rng = random.Random(4)
    feb30 = "21010219900230123"
    feb30 += ric.calc_check_digit(feb30 + "0")
    leap = make_id(rng, birth=date(2000, 2, 29))
    feb29_1900 = "21010219000229123"
    feb29_1900 += ric.calc_check_digit(feb29_1900 + "0")
    future = make_id(rng, birth=TODAY + timedelta(days=1))
    born_today = make_id(rng, birth=TODAY)
    order_number = "202611150000012345"  # an 18-digit order number: no province 20
    unknown_province = make_id(rng, region="990102")
    # Find an ID whose check letter is X and write it in lower case.
    with_x = next(i for i in (make_id(rng) for _ in range(1000)) if i.endswith("X"))
    values = [
        feb30,
        leap,
        feb29_1900,
        future,
        born_today,
        order_number,
        unknown_province,
        with_x.lower(),
        with_x,
        "21010219800101123",  # 17 characters
        "２１０１０２１９８００１０１１２３４",  # full-width digits: standardization's job, invalid here
        None,
        "",
    ]
    result = id_number_failures(pa.array(values), today=TODAY)
    assert reasons_en(result, ID_REASONS) == [
        "birth date is not a real date",
        None,
        "birth date is not a real date",
        "birth date is in the future",
        None,
        "unknown province in the region code",
        "unknown province in the region code",
        "the check letter must be an upper-case X",
        None,
        "not 17 digits followed by a check character",
        "not 17 digits followed by a check character",
        None,
        None,
    ]
    assert result.checked == len(values) - 2  # null and blank are left to `required`
    lenient = id_number_failures(pa.array([with_x.lower()]), today=TODAY, allow_lowercase_x=True)
    assert not lenient.failed.any()


def test_integer_id_column_is_checked_as_text() -> None:
    value = next(i for i in (make_id(random.Random(5)) for _ in range(50)) if not i.endswith("X"))
    assert not id_number_failures(pa.array([int(value)], pa.int64()), today=TODAY).failed.any()


# --- credit_code ---------------------------------------------------------------------------------------------


def test_credit_codes_agree_with_stdnum() -> None:
    rng = random.Random(6)
    codes = [make_credit_code(rng) for _ in range(3000)]
    assert all(uscc.is_valid(c) for c in codes)
    assert not credit_code_failures(pa.array(codes)).failed.any()
    flipped = [flip(c, USCC_ALPHABET) for c in codes]
    assert credit_code_failures(pa.array(flipped)).failed.all()
    # Random candidates with random check characters: same verdict as stdnum.
    candidates = [c[:17] + rng.choice(USCC_ALPHABET) for c in codes]
    ours = credit_code_failures(pa.array(candidates)).failed
    assert (ours == np.array([not uscc.is_valid(c) for c in candidates])).all()


def test_credit_code_format() -> None:
    rng = random.Random(7)
    other_authority = make_credit_code(rng, prefix="Y1")  # GB 32100 allows it; stdnum demands digits
    assert not uscc.is_valid(other_authority)
    good = make_credit_code(rng)
    values = [other_authority, good.lower(), good[:-1], good[:8] + "I" + good[9:], "91AB0100MA0XXXXXX1", None, "  "]
    result = credit_code_failures(pa.array(values))
    assert result.failed.tolist() == [False, True, True, True, True, False, False]
    assert result.checked == 5


# --- date, codelist, pattern, range, required ----------------------------------------------------------------


def test_date_rule() -> None:
    values = ["2024-02-29", "2023-02-29", "2024-13-01", "2024/01/01", "1999-12-31", "2031-01-01", "2024-1-1", None]
    result = date_failures(pa.array(values), min=date(2000, 1, 1), max=date(2030, 12, 31))
    assert result.failed.tolist() == [False, True, True, True, True, True, True, False]
    assert result.reason[result.failed].tolist() == [1, 1, 0, 2, 3, 0]
    typed = date_failures(pa.array([date(1999, 1, 1), date(2020, 1, 1), None]), min=date(2000, 1, 1))
    assert typed.failed.tolist() == [True, False, False] and typed.checked == 2


def test_codelist_pattern_range_required() -> None:
    assert codelist_failures(pa.array(["1", "2", "9", None]), ["1", "2"]).failed.tolist() == [False, False, True, False]
    mobiles = pa.array(["13912345678", "1391234567", "23912345678", "+8613912345678"])
    assert pattern_failures(mobiles, r"^1[3-9][0-9]{9}$").failed.tolist() == [False, True, True, True]
    text = range_failures(pa.array(["12.5", " 7 ", "abc", "-1", "1e3", "", None]), min=0, max=100)
    assert text.failed.tolist() == [False, False, True, True, True, False, False]
    assert text.reason[text.failed].tolist() == [0, 1, 2]
    assert range_failures(pa.array([5, 500, None]), max=100).failed.tolist() == [False, True, False]
    required = required_failures(pa.array(["a", None, "", "  ", "\u3000", "b"]))
    assert required.failed.tolist() == [False, True, True, True, True, False] and required.checked == 6


def test_reference_rule_checks_present_values_against_the_other_resource_keys() -> None:
    result = reference_failures(pa.array(["A01", "B02", None, " ", "Z99"]), pa.array(["A01", "B02"]))
    assert result.failed.tolist() == [False, False, False, False, True] and result.checked == 3
    rules = load_rules("- {kind: reference, field: dept, resource: SY-ORG, key: code}")
    batch = pa.record_batch({"dept": ["A01", "Z99"]})
    checked = QualityChecker(rules, references={"reference:dept": pa.array(["A01"])}).check(batch, 1)
    assert checked.quarantined.column("_reason_en").to_pylist() == ["not found in the referenced resource"]
    with pytest.raises(InvalidInput):  # the ingest must hand over the keys; a rule left unresolved is refused
        QualityChecker(rules)


# --- checker: quarantine, uniqueness, counts ---------------------------------------------------------------------

RULES = """
rules:
  - {kind: required, field: name}
  - {kind: id_number, field: id_no}
  - {kind: codelist, field: sex, values: ["1", "2"], blocking: false}
  - {kind: unique, key: [id_no]}
"""


def test_quarantine_table_columns_reasons_and_row_accounting() -> None:
    rng = random.Random(8)
    a, b = make_id(rng), make_id(rng)
    batch = pa.record_batch(
        {
            "name": ["张三", None, "王五", "", "赵六"],
            "id_no": [a, flip(b, "0123456789X"), b, a, None],
            "sex": ["1", "2", "9", "1", "2"],
        }
    )
    checker = QualityChecker(load_rules(RULES), today=TODAY)
    result = checker.check(batch, first_row_number=101)
    assert result.rows_in == batch.num_rows == result.accepted.num_rows + result.quarantined.num_rows
    assert result.accepted.schema == batch.schema
    assert result.quarantined.schema == quarantine_schema(batch.schema)
    assert result.quarantined.schema.names[-5:] == list(QUARANTINE_COLUMNS)
    assert result.accepted.column("name").to_pylist() == ["张三", "王五", "赵六"]  # 王五's bad sex is non-blocking
    q = result.quarantined.to_pylist()
    assert [r["_row"] for r in q] == [102, 104]
    assert q[0]["_rule"] == "required:name;id_number:id_no"
    assert q[0]["_field"] == "name;id_no"
    assert q[0]["_reason_zh"] == "必填项为空；校验码错误"
    assert q[0]["_reason_en"] == "required value is missing or blank; wrong check digit"
    assert q[1]["_rule"] == "required:name;unique:id_no"
    assert q[1]["_reason_en"] == "required value is missing or blank; " + UNIQUE_REASONS[0][1]
    for row in q:  # reasons never carry the data
        assert a not in row["_reason_en"] and b not in row["_reason_zh"]
    counts = {c.rule_id: (c.checked, c.failed) for c in result.counts}
    assert counts == {
        "required:name": (5, 2),
        "id_number:id_no": (4, 1),
        "codelist:sex": (5, 1),
        "unique:id_no": (4, 1),
    }


def test_all_accepted_and_empty_batches_keep_the_schema() -> None:
    checker = QualityChecker(load_rules(RULES), today=TODAY)
    schema = pa.schema([("name", pa.string()), ("id_no", pa.string()), ("sex", pa.string())])
    result = checker.check(pa.RecordBatch.from_pylist([], schema=schema), 1)
    assert result.rows_in == 0 and result.quarantined.schema.names[-5:] == list(QUARANTINE_COLUMNS)
    rng = random.Random(9)
    good = pa.record_batch({"name": ["甲"], "id_no": [make_id(rng)], "sex": ["1"]})
    result = checker.check(good, 1)
    assert result.accepted.num_rows == 1 and result.quarantined.num_rows == 0


def test_uniqueness_across_batches_keeps_the_first() -> None:
    checker = QualityChecker(load_rules([{"kind": "unique", "key": ["org", "year"]}]))
    first = pa.record_batch({"org": ["A", "A", "B", "A", None], "year": [2024, 2025, 2024, 2024, 2024]})
    second = pa.record_batch({"org": ["B", "C", "C", "A"], "year": [2024, 2024, 2024, 2026]})
    r1 = checker.check(first, 1)
    r2 = checker.check(second, 6)
    assert r1.quarantined.column("_row").to_pylist() == [4]
    assert r1.quarantined.column("_reason_en").to_pylist() == [UNIQUE_REASONS[0][1]]
    assert r2.quarantined.column("_row").to_pylist() == [6, 8]
    assert r2.quarantined.column("_reason_en").to_pylist() == [UNIQUE_REASONS[1][1], UNIQUE_REASONS[0][1]]
    assert r1.accepted.num_rows + r2.accepted.num_rows == 6  # the null key is not a duplicate
    assert (r1.counts[0].checked, r2.counts[0].checked) == (4, 4)
    assert len(checker._seen["unique:org+year"]) == 5  # bounded by distinct keys: A24 A25 B24 C24 A26


def test_non_blocking_rules_are_only_counted_and_scored() -> None:
    checker = QualityChecker(
        load_rules(
            [
                {"kind": "range", "field": "age", "min": 0, "max": 120, "blocking": False},
                {"kind": "required", "field": "age", "blocking": False},
                {"kind": "pattern", "field": "phone", "regex": r"^1[0-9]{10}$"},
            ]
        )
    )
    report = QualityReport()
    report.add(checker.check(pa.record_batch({"age": ["30", "150", None, "40"], "phone": ["13900000000"] * 4}), 1))
    report.add(checker.check(pa.record_batch({"age": ["20"], "phone": ["12"]}), 5))
    assert (report.rows_in, report.accepted, report.quarantined) == (5, 4, 1)
    # range: 4 checked, 1 failed -> 0.75; required: 5 checked, 1 failed -> 0.8; pattern: 5 checked, 1 failed -> 0.8
    assert report.score("age") == pytest.approx((0.75 + 0.8) / 2)
    assert report.score("phone") == pytest.approx(0.8)
    assert report.score() == pytest.approx((0.75 + 0.8 + 0.8) / 3)
    assert report.field_scores() == pytest.approx({"age": 0.775, "phone": 0.8})
    assert QualityReport().score() is None


# --- loading rules and bad input ---------------------------------------------------------------------------------


def test_rule_errors_are_bilingual_and_name_no_values() -> None:
    with pytest.raises(InvalidInput) as info:
        load_rules([{"kind": "checksum", "field": "secret-value-123"}])
    assert "secret-value-123" not in info.value.message_en + info.value.message_zh
    with pytest.raises(InvalidInput):
        load_rules("rules: [")
    with pytest.raises(InvalidInput):
        load_rules([{"kind": "date", "field": "d", "min": "2030-01-01", "max": "2020-01-01"}])
    with pytest.raises(InvalidInput):
        QualityChecker(load_rules([{"kind": "pattern", "field": "a", "regex": r"(?<=x)y"}]))  # no look-behind in RE2
    with pytest.raises(InvalidInput):
        QualityChecker(load_rules([{"kind": "required", "field": "a"}, {"kind": "required", "field": "a"}]))
    checker = QualityChecker(load_rules([{"kind": "required", "field": "missing"}]))
    with pytest.raises(InvalidInput):
        checker.check(pa.record_batch({"a": [1]}), 1)
    with pytest.raises(InvalidInput):
        QualityChecker(load_rules([])).check(pa.record_batch({"_row": [1]}), 1)


# --- timeliness --------------------------------------------------------------------------------------------------


def test_timeliness_edges() -> None:
    last = datetime(2026, 1, 30, 16, 0, tzinfo=UTC)  # 31 Jan 00:00 in Shanghai
    assert timeliness(last, "每日", last + timedelta(days=1)) == (True, timedelta(0))
    assert timeliness(last, "每日", last + timedelta(days=1, seconds=1)) == (False, timedelta(seconds=1))
    assert timeliness(last, "每周", last + timedelta(days=8)) == (False, timedelta(days=1))
    assert timeliness(last, "实时", last + timedelta(minutes=59)) == (True, timedelta(0))
    # Monthly from 31 Jan (Shanghai) is due at the end of February, local time.
    feb_end = datetime(2026, 2, 27, 16, 0, tzinfo=UTC)
    assert timeliness(last, "每月", feb_end) == (True, timedelta(0))
    assert timeliness(last, "每月", feb_end + timedelta(hours=1)) == (False, timedelta(hours=1))
    assert timeliness(last, "每季度", datetime(2026, 4, 29, 16, 0, tzinfo=UTC))[0]
    assert not timeliness(last, "quarterly", datetime(2026, 4, 30, 16, 0, tzinfo=UTC))[0]
    leap = datetime(2024, 2, 28, 16, 0, tzinfo=UTC)  # 29 Feb 2024 in Shanghai
    assert timeliness(leap, "每年", datetime(2025, 2, 27, 16, 0, tzinfo=UTC)) == (True, timedelta(0))
    assert timeliness(leap, "每年", datetime(2025, 2, 28, 16, 0, tzinfo=UTC)) == (False, timedelta(days=1))
    with pytest.raises(InvalidInput):
        timeliness(last, "每半月", last)
    with pytest.raises(InvalidInput):
        timeliness(datetime(2026, 1, 1), "每日", last)  # naive on purpose


# --- a million rows ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_million_rows() -> None:
    rng = random.Random(10)
    n = 1_000_000
    ids = [make_id(rng) for _ in range(1000)]
    codes = [make_credit_code(rng) for _ in range(1000)]
    pick = np.random.default_rng(10).integers(0, 1000, n)
    id_col = pa.array(ids).take(pa.array(pick))
    code_col = pa.array(codes).take(pa.array(pick))
    # Every 1000th row gets a bad check digit, every 997th a missing name.
    bad = np.arange(n) % 1000 == 0
    id_col = pa.array(np.where(bad, flip(ids[0], "0123456789X"), id_col.to_numpy(zero_copy_only=False)))
    names = pa.array(np.where(np.arange(n) % 997 == 0, None, "张三"), pa.string())
    batch = pa.record_batch({"name": names, "id_no": id_col, "uscc": code_col})
    checker = QualityChecker(
        load_rules(
            [
                {"kind": "required", "field": "name"},
                {"kind": "id_number", "field": "id_no"},
                {"kind": "credit_code", "field": "uscc"},
            ]
        ),
        today=TODAY,
    )
    started = time.perf_counter()
    result = checker.check(batch, 1)
    elapsed = time.perf_counter() - started
    print(f"\nquality: {n:,} rows, required+id_number+credit_code in {elapsed:.2f} s ({n / elapsed:,.0f} rows/s)")
    expected_quarantine = int((bad | (np.arange(n) % 997 == 0)).sum())
    assert result.quarantined.num_rows == expected_quarantine
    assert result.rows_in == n
