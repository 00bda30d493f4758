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
from shengjing.libraries.spec import BaseLibrarySpec, IdentifierCheck, parse_library, parse_model

TABLES = {
    "SY-GA-PERSON": "person",
    "SY-RS-INSURED-PERSON": "insured_person",
    "SY-WJ-PATIENT": "patient",
    "SY-JY-STUDENT": "student",
}


def _population() -> tuple[BaseLibrarySpec, list]:  # type: ignore[type-arg]
    spec = parse_library((DECLARATIONS / "library-population.yaml").read_text("utf-8"))
    model = parse_model((DECLARATIONS / "model-population.yaml").read_text("utf-8"))
    assert isinstance(spec, BaseLibrarySpec)
    return spec, model.entity(spec.entity).attributes


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
        good = body + ric.calc_check_digit(body)
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
    connection.register("c", pa.table({"value": codes}))
    found = connection.sql(f"SELECT value, {is_valid(IdentifierCheck.CREDIT_CODE, 'value')} FROM c").fetchall()
    assert all(ok is _stdnum(IdentifierCheck.CREDIT_CODE, value) for value, ok in found)
    assert sum(ok for _, ok in found) >= 3000  # the valid ones, at least, pass


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
    spec, attributes = _population()
    outputs = Outputs(*(out / n for n in ("golden", "members", "lineage", "conflicts")))
    for path in (outputs.golden, outputs.members, outputs.lineage, outputs.conflicts):
        path.mkdir(parents=True)
    runner = open_runner(runner_name, work_dir=out)
    try:
        BaseLibraryPipeline(spec, attributes, runner).run(
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
    spec, attributes = _population()
    outputs = Outputs(*(tmp_path / n for n in ("golden", "members", "lineage", "conflicts")))
    for path in (outputs.golden, outputs.members, outputs.lineage, outputs.conflicts):
        path.mkdir()
    runner = DuckDBRunner(memory="1GB")
    with pytest.raises(InvalidInput) as raised:
        BaseLibraryPipeline(spec, attributes, runner).run(
            [SourceInput(r, 1, (city / f"{TABLES[r]}.parquet",)) for r in spec.inputs], outputs
        )
    runner.close()
    assert raised.value.details["resource"] == "SY-WJ-PATIENT" and raised.value.details["duplicates"] == 3
