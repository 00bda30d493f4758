"""The pipeline on files, without the platform around it: identifier checks in SQL agree with python-stdnum, a
declaration's mistakes are told with where they are, and Spark gives the same clusters as DuckDB."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from stdnum.cn import ric, uscc

from shengjing.demo.generator import generate_city
from shengjing.demo.service import DECLARATIONS
from shengjing.errors import InvalidInput
from shengjing.libraries.checks import is_valid
from shengjing.libraries.engines import DuckDBRunner, open_runner
from shengjing.libraries.linkage import BaseLibraryPipeline, Outputs, SourceInput
from shengjing.libraries.spec import BaseLibrarySpec, Entity, IdentifierCheck, parse_library, parse_model

TABLES = {
    "SY-GA-PERSON": "person",
    "SY-RS-INSURED-PERSON": "insured_person",
    "SY-WJ-PATIENT": "patient",
    "SY-JY-STUDENT": "student",
}


def _population() -> tuple[BaseLibrarySpec, Entity]:
    spec = parse_library((DECLARATIONS / "library-population.yaml").read_text("utf-8"))
    model = parse_model((DECLARATIONS / "model-population.yaml").read_text("utf-8"))
    assert isinstance(spec, BaseLibrarySpec)
    return spec, model.entity(spec.entity)


def _stdnum(check: IdentifierCheck, value: str) -> bool:
    if check is IdentifierCheck.CREDIT_CODE:
        # stdnum also checks the embedded organization code's own check digit; the library's check is GB 32100's
        return (
            len(value) == 18 and all(c in uscc._alphabet for c in value) and uscc.calc_check_digit(value) == value[17]
        )
    # stdnum also checks the birth date and county; the library's check is the check digit's (a typo's) only
    return len(value) == 18 and value[:17].isdigit() and value[0] != "0" and ric.calc_check_digit(value) == value[17]


def test_identifier_checks_in_sql_agree_with_stdnum() -> None:
    rng = random.Random(5)
    ids, codes = [], []
    for _ in range(3000):
        birth = f"{rng.randint(1930, 2020)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        body = f"{rng.randint(11, 65)}{rng.randint(0, 9999):04d}{birth}{rng.randint(0, 999):03d}"
        good = body + ric.calc_check_digit(body + "0")  # stdnum reads the 17 digits before the last character
        k = rng.randrange(18)
        ids += [
            good,
            good[:k] + str((int(good[k]) + 1) % 10 if good[k].isdigit() else 1) + good[k + 1 :],
            good[:17],
            good.lower(),
            "",
        ]
        cbody = "9121" + "".join(rng.choice(uscc._alphabet) for _ in range(13))
        code = cbody + uscc.calc_check_digit(cbody)
        codes += [code, code[:5] + rng.choice("ABCDEFGHJK") + code[6:], code[:17] + "I", code.lower()]
    connection = duckdb.connect()
    connection.register("v", pa.table({"value": [*ids, None]}))
    found = connection.sql(f"SELECT value, {is_valid(IdentifierCheck.RESIDENT_ID, 'value')} FROM v").fetchall()
    assert all(ok is (value is not None and _stdnum(IdentifierCheck.RESIDENT_ID, value)) for value, ok in found)
    assert sum(ok for _, ok in found) >= 3000  # the well-made ones (and their lower-case copies, digits alike)
    connection.register("c", pa.table({"value": codes}))
    found = connection.sql(f"SELECT value, {is_valid(IdentifierCheck.CREDIT_CODE, 'value')} FROM c").fetchall()
    assert all(ok is _stdnum(IdentifierCheck.CREDIT_CODE, value) for value, ok in found)
    assert sum(ok for _, ok in found) >= 3000


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("kind: base", "kind: basic"), "library"),
        (("  identifier: id_number", "  identifier: idno"), "idno"),
        (("thresholds: [1], term_frequency", "thresholds: [], term_frequency"), "needs thresholds"),
        (("    trust: 1\n", "    trust: 0\n"), "sources.0.trust"),
        (("conflicts: [name, sex, birth_date]", "conflicts: [name, sex, birthday]"), "birthday"),
    ],
)
def test_a_bad_declaration_says_what_and_where(change: tuple[str, str], where: str) -> None:
    text = (DECLARATIONS / "library-population.yaml").read_text("utf-8")
    assert change[0] in text
    with pytest.raises(InvalidInput) as raised:
        parse_library(text.replace(*change, 1), file="population.yaml")
    assert "population.yaml" in raised.value.message_en and where in raised.value.message_en, raised.value.message_en
    with pytest.raises(InvalidInput) as raised:
        parse_library("code: X\n name: [unclosed\n", file="broken.yaml")
    assert "line 2" in raised.value.message_en and "第 2 行" in raised.value.message_zh


def _build(city: Path, runner_name: str, out: Path) -> Outputs:
    spec, entity = _population()
    outputs = Outputs(*(out / n for n in ("golden", "members", "lineage", "conflicts")))
    for path in (outputs.golden, outputs.members, outputs.lineage, outputs.conflicts):
        path.mkdir(parents=True)
    runner = open_runner(runner_name, work_dir=out)
    try:
        BaseLibraryPipeline(spec, entity, runner).run(
            [SourceInput(r, 1, (city / f"{TABLES[r]}.parquet",)) for r in spec.inputs], outputs
        )
    finally:
        runner.close()
    return outputs


def _read(path: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    return duckdb.sql(sql.format(files=f"read_parquet('{path}/*.parquet')")).fetchall()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime")
def test_spark_gives_the_same_clusters_as_duckdb_on_50000_persons(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    city = tmp_path / "city"
    generate_city(city, persons=50_000, seed=11, tables=set(TABLES.values()))
    duck, spark = _build(city, "duckdb", tmp_path / "duckdb"), _build(city, "spark", tmp_path / "spark")
    members = "SELECT source, record_key, person_key, method FROM {files} ORDER BY source, record_key"
    duck_members, spark_members = _read(duck.members, members), _read(spark.members, members)
    assert len(duck_members) > 100_000
    assert sum(1 for m in duck_members if m[3] == "probabilistic") > 2000  # Splink had real work on both
    assert duck_members == spark_members
    golden = "SELECT * FROM {files} ORDER BY person_key"
    assert _read(duck.golden, golden) == _read(spark.golden, golden)
    lineage = "SELECT * FROM {files} ORDER BY person_key, attribute"
    assert _read(duck.lineage, lineage) == _read(spark.lineage, lineage)
    conflicts = "SELECT * FROM {files} ORDER BY ALL"
    assert _read(duck.conflicts, conflicts) == _read(spark.conflicts, conflicts)


def test_a_duplicated_record_key_is_refused_with_the_source_named(tmp_path: Path) -> None:
    city = tmp_path / "city"
    generate_city(city, persons=300, seed=3, tables=set(TABLES.values()))
    patients = duckdb.sql(f"SELECT * FROM read_parquet('{city}/patient.parquet')").to_arrow_table()
    twice = duckdb.connect()
    twice.register("patients", patients)
    twice.sql("SELECT * FROM patients UNION ALL (SELECT * FROM patients LIMIT 3)").write_parquet(
        str(city / "patient.parquet")
    )
    spec, entity = _population()
    outputs = Outputs(*(tmp_path / n for n in ("golden", "members", "lineage", "conflicts")))
    for path in (outputs.golden, outputs.members, outputs.lineage, outputs.conflicts):
        path.mkdir()
    runner = DuckDBRunner(memory="1GB")
    with pytest.raises(InvalidInput) as raised:
        BaseLibraryPipeline(spec, entity, runner).run(
            [SourceInput(r, 1, (city / f"{TABLES[r]}.parquet",)) for r in spec.inputs], outputs
        )
    runner.close()
    assert raised.value.details["resource"] == "SY-WJ-PATIENT" and raised.value.details["duplicates"] == 3


MODEL = """
code: contacts
name: 联系人
kind: base
entities:
  - name: person
    title: 人
    key: person_key
    attributes:
      - {name: person_key, title: 标识}
      - {name: id_number, title: 身份号码}
      - {name: name, title: 姓名}
      - {name: mobile, title: 手机}
      - {name: address, title: 住址}
"""
LIBRARY = """
code: T-CONTACTS
name: 联系人库
kind: base
model: contacts
entity: person
sources:
  - resource: A
    trust: 1
    record_key: rid
    updated_at: at
    columns: &columns {id_number: id, name: name, mobile: mobile, address: address}
  - {resource: B, trust: 2, record_key: rid, updated_at: at, columns: *columns}
linking:
  identifier: id_number
  check: gb11643
  blocking: [[name]]
  comparisons: [{attribute: name, kind: exact}]
survivorship: {id_number: most_trusted, name: most_trusted, mobile: most_recent, address: most_complete}
conflicts: [name, address]
"""


def test_survivorship_rules_choose_as_declared_and_lineage_names_the_record(tmp_path: Path) -> None:
    import datetime as dt

    import pyarrow.parquet as pq

    body = "21010219800101001"
    person = body + ric.calc_check_digit(body + "0")
    old, new = dt.datetime(2020, 1, 1), dt.datetime(2024, 1, 1)
    tables = {
        # the more trusted source: its name survives; its mobile is older; its address shorter
        "A": {
            "rid": ["a1"],
            "id": [person],
            "name": ["张三"],
            "mobile": ["13900000001"],
            "address": ["和平区"],
            "at": [old],
        },
        "B": {
            "rid": ["b1", "b2"],
            "id": [person, person],
            "name": ["张叁", None],
            "mobile": ["13900000002", None],
            "address": ["沈阳市和平区南京街1号", None],
            "at": [new, dt.datetime(2025, 1, 1)],  # b2 is the newest record, but holds no value: nulls never win
        },
    }
    sources = []
    for code, columns in tables.items():
        pq.write_table(pa.table(columns), tmp_path / f"{code}.parquet")
        sources.append(SourceInput(code, 7, (tmp_path / f"{code}.parquet",)))
    spec = parse_library(LIBRARY)
    assert isinstance(spec, BaseLibrarySpec)
    outputs = Outputs(*(tmp_path / n for n in ("golden", "members", "lineage", "conflicts")))
    for path in (outputs.golden, outputs.members, outputs.lineage, outputs.conflicts):
        path.mkdir()
    runner = DuckDBRunner(memory="1GB")
    rows = BaseLibraryPipeline(spec, parse_model(MODEL).entity("person"), runner).run(sources, outputs)
    runner.close()
    assert rows["golden"] == 1 and rows["members"] == 3
    golden = _read(outputs.golden, "SELECT id_number, name, mobile, address, record_count, source_count FROM {files}")
    assert golden == [(person, "张三", "13900000002", "沈阳市和平区南京街1号", 3, 2)]
    lineage = _read(outputs.lineage, "SELECT attribute, source, snapshot, record_key, rule FROM {files} ORDER BY 1")
    assert lineage == [
        ("address", "B", 7, "b1", "most_complete"),
        ("id_number", "A", 7, "a1", "most_trusted"),
        ("mobile", "B", 7, "b1", "most_recent"),
        ("name", "A", 7, "a1", "most_trusted"),
    ]
    conflicts = _read(outputs.conflicts, "SELECT attribute, value, source, chosen FROM {files} ORDER BY 1, 2")
    assert conflicts == [
        ("address", "和平区", "A", False),
        ("address", "沈阳市和平区南京街1号", "B", True),
        ("name", "张三", "A", True),
        ("name", "张叁", "B", False),
    ]
