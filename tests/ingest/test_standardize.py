"""Standardization rules on realistic, messy Chinese values: each rule, nulls, failure masks, YAML, speed."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from shengjing.demo.shenyang import DISTRICTS
from shengjing.errors import DataFormatError, InvalidInput
from shengjing.ingest.codelists import ETHNICITY, SEX, SHENYANG
from shengjing.ingest.standardize import REASONS, RuleSet, StandardizeResult, load_rules

FULL = """\
version: 1
fields:
  xm: [trim, fullwidth_to_halfwidth]
  sfzh: [trim, fullwidth_to_halfwidth, {upper: {}}]
  csrq: [{date: {formats: ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日"], output: "%Y-%m-%d"}}]
  lxdh: [{phone: {region: CN}}]
  xzqh: [{district: {city: "210100"}}]
  xb: [{codelist: {list: GB/T 2261.1}}]
  mz: [{codelist: {list: GB 3304}}]
"""


def _one(rules: str, values: list[str | None]) -> tuple[list[str | None], list[bool], StandardizeResult]:
    rule_set = load_rules(f"version: 1\nfields:\n  f: {rules}\n")
    result = rule_set.apply(pa.record_batch({"f": pa.array(values, pa.string())}))
    return result.batch.column("f").to_pylist(), result.failures["f"].to_pylist(), result


def test_trim_strips_ascii_and_full_width_spaces_and_keeps_nulls() -> None:
    out, failed, result = _one("[trim]", ["  张三 ", "\u3000李四\u3000", "王\u3000五", None, ""])
    assert out == ["张三", "李四", "王\u3000五", None, ""]
    assert failed == [False] * 5
    assert result.changed["f"] == 2 and result.failed["f"] == 0


def test_fullwidth_to_halfwidth_folds_width_only() -> None:
    values = ["１２３", "ＡＢＣ－ｘ", "沈阳市（和平区）", "张　三", "①㎡", None, "plain"]
    out, _, result = _one("[fullwidth_to_halfwidth]", values)
    # ① and ㎡ are not full-width forms: NFKC would rewrite them, this rule must not.
    assert out == ["123", "ABC-x", "沈阳市(和平区)", "张 三", "①㎡", None, "plain"]
    assert result.changed["f"] == 4


def test_id_numbers_get_half_width_upper_case_check_letters() -> None:
    out, _, _ = _one(
        "[trim, fullwidth_to_halfwidth, upper]",
        [" 21010219900307123x", "２１０１０２１９９００３０７１２３ｘ", "210102199003071234", None],
    )
    assert out == ["21010219900307123X", "21010219900307123X", "210102199003071234", None]


def test_dates_in_every_declared_format_and_strictly_valid() -> None:
    rules = '[{date: {formats: ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日"]}}]'
    values = ["2024/1/5", "20240105", "2024年1月5日", " 2024-01-05 ", "2024-1-05", "2024-02-30", "2024.01.05"]
    out, failed, result = _one(rules, [*values, None, ""])
    assert out == ["2024-01-05"] * 5 + ["2024-02-30", "2024.01.05", None, ""]
    assert failed == [False] * 5 + [True, True, False, False]
    assert result.reasons["f"].to_pylist()[5:7] == ["date_unparsed", "date_unparsed"]
    assert result.changed["f"] == 5 and result.failed["f"] == 2


def test_date_output_format() -> None:
    out, _, _ = _one('[{date: {formats: ["%Y-%m-%d"], output: "%Y%m%d"}}]', ["2024-12-31", "2023-2-9"])
    assert out == ["20241231", "20230209"]


def test_phone_numbers() -> None:
    values = [
        "+86 138 0013 8000", "138-0013-8000", "008613800138000", "8613800138000", "１３８００１３８０００",
        "(024)2386-1234", "024-23861234", "（０２４）２３８６１２３４", "+86 24 2386 1234", "010 6512 3456",
        "4008-123-123", "12345", "023861234", "1380013800", "024-23861234-801", None, "",
    ]  # fmt: skip
    out, failed, result = _one("[{phone: {region: CN}}]", values)
    assert out == [
        "13800138000", "13800138000", "13800138000", "13800138000", "13800138000",
        "024-23861234", "024-23861234", "024-23861234", "024-23861234", "010-65123456",
        "4008123123", "12345", "023861234", "1380013800", "024-23861234-801", None, "",
    ]  # fmt: skip
    assert [i for i, f in enumerate(failed) if f] == [12, 13, 14]
    assert set(result.reasons["f"].to_pylist()) == {None, "phone_unrecognized"}


def test_phone_local_numbers_take_the_configured_area_code() -> None:
    out, failed, _ = _one('[{phone: {area_code: "024"}}]', ["2386-1234", "8888888", "13800138000"])
    assert out == ["024-23861234", "024-8888888", "13800138000"]
    assert failed == [False] * 3


def test_districts_to_gbt_2260_codes() -> None:
    values = ["沈阳市浑南区", "浑南", "浑南区", "辽宁省沈阳市和平区", "沈阳 铁西区", "沈北新区", "沈北", "新民市",
              "新民", "210102", "东陵区", "辽中县", "朝阳区", "沈阳市", None, ""]  # fmt: skip
    out, failed, result = _one('[{district: {city: "210100"}}]', values)
    assert out == ["210112", "210112", "210112", "210102", "210106", "210113", "210113", "210181", "210181",
                   "210102", "210112", "210115", "朝阳区", "沈阳市", None, ""]  # fmt: skip
    assert [i for i, f in enumerate(failed) if f] == [12, 13]
    assert result.reasons["f"].to_pylist()[12] == "district_unknown"


def test_district_table_agrees_with_the_demo_city() -> None:
    assert dict(SHENYANG.districts) == {d.code: d.name for d in DISTRICTS}


def test_sex_code_list_gbt_2261_1() -> None:
    values = ["男", "女", "M", "f", "Ｍ", "1", "2", "男性", "未知", "未说明的性别", " 女 ", "妖", None, ""]
    out, failed, result = _one("[{codelist: {list: GB/T 2261.1}}]", values)
    assert out == ["1", "2", "1", "2", "1", "1", "2", "1", "0", "9", "2", "妖", None, ""]
    assert failed == [False] * 11 + [True, False, False]
    assert result.reasons["f"].to_pylist()[11] == "code_not_in_list"
    assert result.changed["f"] == 9


def test_integer_code_columns_are_read_as_text() -> None:
    rule_set = load_rules("fields: {xb: [{codelist: {list: GB/T 2261.1}}]}")
    result = rule_set.apply(pa.record_batch({"xb": pa.array([1, 2, 3, None], pa.int64())}))
    assert result.batch.column("xb").to_pylist() == ["1", "2", "3", None]
    assert result.failures["xb"].to_pylist() == [False, False, True, False]


def test_ethnicity_code_list_gb_3304() -> None:
    assert len([c for c in ETHNICITY.codes if int(c) <= 56]) == 56
    assert ETHNICITY.codes["01"] == "汉族" and ETHNICITY.codes["56"] == "基诺族" and ETHNICITY.codes["11"] == "满族"
    out, _, _ = _one("[{codelist: {list: GB 3304}}]", ["汉族", "汉", "满族", "1", "10", "朝鲜", "崩龙族"])
    assert out == ["01", "01", "11", "01", "10", "10", "46"]
    assert SEX.resolve("Female") == "2"


def test_dictionary_columns_keep_their_encoding() -> None:
    column = pa.array(["男", "女", "男", None, "x"]).dictionary_encode()
    result = load_rules("fields: {xb: [{codelist: {list: GB/T 2261.1}}]}").apply(pa.record_batch({"xb": column}))
    out = result.batch.column("xb")
    assert pa.types.is_dictionary(out.type)
    assert out.to_pylist() == ["1", "2", "1", None, "x"]
    assert result.failures["xb"].to_pylist() == [False, False, False, False, True]
    assert result.reasons["xb"].to_pylist()[4] == "code_not_in_list"


def test_a_failed_value_keeps_its_original_form_and_the_first_reason() -> None:
    out, failed, result = _one(
        '[trim, fullwidth_to_halfwidth, {district: {city: "210100"}}]', ["　朝阳区１ ", " 和平 "]
    )
    assert out == ["　朝阳区１ ", "210102"]
    assert failed == [True, False]
    assert result.any_failure().to_pylist() == [True, False]
    assert all(code in REASONS for code in result.reasons["f"].drop_null().to_pylist())


def test_other_columns_pass_through_untouched() -> None:
    batch = pa.record_batch({"xm": [" 张三"], "n": pa.array([7], pa.int32())})
    result = load_rules("fields: {xm: [trim]}").apply(batch)
    assert result.batch.schema == batch.schema
    assert result.batch.column("n").to_pylist() == [7]


def test_a_rule_for_a_missing_field_is_a_data_format_error() -> None:
    with pytest.raises(DataFormatError) as info:
        load_rules("fields: {sfzh: [trim]}").apply(pa.record_batch({"xm": ["a"]}))
    assert info.value.details["field"] == "sfzh"


def test_yaml_round_trip(tmp_path: Path) -> None:
    rule_set = load_rules(FULL)
    assert load_rules(rule_set.to_yaml()) == rule_set
    path = tmp_path / "rules.yaml"
    path.write_text(rule_set.to_yaml(), "utf-8")
    assert load_rules(path) == rule_set == load_rules(str(path))
    assert load_rules(rule_set.to_document()) == rule_set
    assert isinstance(rule_set, RuleSet) and list(rule_set.fields) == ["xm", "sfzh", "csrq", "lxdh", "xzqh", "xb", "mz"]


@pytest.mark.parametrize(
    ("document", "field", "rule"),
    [
        ("fields: {xm: [trimm]}", "xm", "trimm"),
        ("fields: {xb: [{codelist: {list: GB 9999}}]}", "xb", "codelist"),
        ('fields: {csrq: [{date: {formats: ["%Y-%q-%d"]}}]}', "csrq", "date"),
        ('fields: {csrq: [{date: {formats: ["no directives"]}}]}', "csrq", "date"),
        ("fields: {csrq: [{date: {formats: []}}]}", "csrq", "date"),
        ('fields: {xzqh: [{district: {city: "110100"}}]}', "xzqh", "district"),
        ("fields: {lxdh: [{phone: {region: US}}]}", "lxdh", "phone"),
        ("fields: {xm: [{trim: {colour: red}}]}", "xm", "trim"),
    ],
)
def test_invalid_rules_name_the_field_and_rule(document: str, field: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as info:
        load_rules(document)
    assert info.value.details["field"] == field and info.value.details["rule"] == rule
    assert field in info.value.message_en and field in info.value.message_zh


@pytest.mark.parametrize(
    "document",
    [
        "version: 2\nfields: {}",
        "fields: [xm]",
        "[1, 2]",
        "fields: {xm: [trim}",
        "colour: red",
        "fields: {xm: [{a: 1, b: 2}]}",
    ],
)
def test_malformed_documents_are_invalid_input(document: str) -> None:
    with pytest.raises(InvalidInput):
        load_rules(document)


def test_a_million_rows_per_rule(capsys: pytest.CaptureFixture[str]) -> None:
    n = 1_000_000
    pool = {
        "xm": ["张三", " 李四", "ＡＢＣ", "王五\u3000", "赵六", "钱七", "孙八", "周九"],
        "sfzh": [
            "21010219900307123x",
            "２１０１０２１９９００３０７１２３４",
            "210102199003071234",
            "21010319851111002X",
        ],
        "csrq": ["2024/1/5", "20240105", "2024年1月5日", "2024-01-05", "2023-12-31", "1990/07/15", "bad", None],
        "lxdh": ["+86 138 0013 8000", "(024)2386-1234", "13912345678", "024-86543210", "12345", "x"],
        "xzqh": ["沈阳市浑南区", "浑南", "和平区", "铁西", "210102", "朝阳区"],
        "xb": ["男", "女", "M", "F", "1", "2", "未知", "?"],
        "mz": ["汉族", "满族", "01", "朝鲜族", "回", "11"],
    }
    # Distinct values per row for the free-text columns, so per-distinct-value steps cannot hide behind caching.
    columns = {
        name: pa.array([f"{values[i % len(values)]}{i}" if name == "xm" else values[i % len(values)] for i in range(n)])
        for name, values in pool.items()
    }
    columns["lxdh"] = pa.array([f"+86 139 {i:08d}"[:17] if i % 3 else f"(024)2{i % 10_000_000:07d}" for i in range(n)])
    rule_set = load_rules(FULL)
    lines = []
    for name, rules in rule_set.fields.items():
        single = RuleSet(fields={name: rules})
        batch = pa.record_batch({name: columns[name]})
        started = time.perf_counter()
        result = single.apply(batch)
        elapsed = time.perf_counter() - started
        lines.append(f"{name:5} {elapsed:6.3f} s  changed={result.changed[name]:>8} failed={result.failed[name]:>7}")
        assert result.batch.num_rows == n
    started = time.perf_counter()
    rule_set.apply(pa.record_batch(columns))
    lines.append(f"all   {time.perf_counter() - started:6.3f} s")
    with capsys.disabled():
        print("\nstandardize, 1,000,000 rows:\n  " + "\n  ".join(lines))
