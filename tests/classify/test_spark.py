"""Full scans on Spark count exactly what DuckDB counts: the same sqlglot conditions, rendered for each engine."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc

from shengjing.classify.classifier import FieldSpec, Mode, classify_files
from shengjing.classify.detectors import InfoType

pytest.importorskip("pyspark", reason="the Spark engine is an optional extra (pip install '.[spark]')")
pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime")


def _snapshot(path: Path, rows: int = 400) -> Path:
    rng = random.Random(11)
    ids, cards, orders, births, codes = [], [], [], [], []
    for i in range(rows):
        birth = f"{rng.randint(1950, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        body = f"210102{birth}{rng.randint(0, 999):03d}"
        ids.append(body + ric.calc_check_digit(body + "0"))
        births.append(f"{birth[:4]}-{birth[4:6]}-{birth[6:]}")
        # 16 to 19 digits; a 19-digit number starting with 9 is past 2^63 (Spark reads it as a decimal)
        length = 16 + i % 4
        card = rng.choice(("62", "9")) + "".join(rng.choice("0123456789") for _ in range(length - 3))
        card = card.ljust(length - 1, "0")
        card += luhn.calc_check_digit(card) if i % 10 else "0"  # one in ten with a check digit that may be wrong
        cards.append(" ".join(card[k : k + 4] for k in range(0, len(card), 4)) if i % 7 == 0 else card)
        orders.append(str(rng.randint(10**17, 10**18 - 1)))
        code = "91210102" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        code += uscc.calc_check_digit(code) if i % 10 else "0"
        codes.append(code.lower() if i % 9 == 0 else code)
    mobiles = [f"1{rng.choice('3456789')}{rng.randint(0, 10**9 - 1):09d}" for _ in range(rows)]
    columns = {"c1": ids, "c2": cards, "lxdh": orders, "c4": births, "c5": mobiles, "c6": codes}
    pq.write_table(pa.table(columns), path)
    return path


def test_spark_counts_what_duckdb_counts(tmp_path: Path) -> None:
    files = [_snapshot(tmp_path / "part-0.parquet")]
    fields = [FieldSpec(name) for name in ("c1", "c2", "lxdh", "c4", "c5", "c6")]
    runs = {
        engine: classify_files(files, fields, rows_total=400, mode=Mode.FULL, engine=engine)
        for engine in ("duckdb", "spark")
    }
    duck, spark = ({f.field: f for f in runs[e].fields} for e in ("duckdb", "spark"))
    for name in duck:
        assert (duck[name].counts.checked, duck[name].counts.fit, duck[name].counts.strong) == (
            spark[name].counts.checked,
            spark[name].counts.fit,
            spark[name].counts.strong,
        ), name
        assert duck[name].detection == spark[name].detection
    assert [duck[n].detection.type for n in duck] == [
        InfoType.ID_NUMBER,
        InfoType.BANK_CARD,
        InfoType.NONE,  # named like a phone, holding order numbers
        InfoType.BIRTH_DATE,  # an opaque date column that agrees with the row's ID number
        InfoType.MOBILE,
        InfoType.CREDIT_CODE,  # upper and lower case, one in ten with a check character that may be wrong
    ]
    assert runs["spark"].engine == "spark" and runs["spark"].rows_scanned == 400


def test_a_grouped_column_counts_on_spark_what_it_counts_row_by_row_on_duckdb(tmp_path: Path) -> None:
    """A repetitive column is counted over its distinct values, each weighted by its rows: the same counts as
    row by row, on either engine."""
    from shengjing.classify import scan

    rng = random.Random(12)
    words = ["汉族", "满族", "回族", "蒙古族", "锡伯族", "无", "", "  满族 ", None]
    path = tmp_path / "part-0.parquet"
    pq.write_table(pa.table({"mz": [rng.choice(words) for _ in range(2_000)]}), path)
    kinds = (InfoType.ETHNICITY, InfoType.RELIGION)
    found = {}
    for engine, grouped in (("duckdb", False), ("duckdb", True), ("spark", True)):
        runner = scan.DuckDBEngine([path]) if engine == "duckdb" else scan.SparkEngine([path])
        try:
            plan = scan.ColumnPlan("mz", kinds, distinct=True, grouped=grouped)
            result = scan.count(runner, [plan], table="snapshot")
        finally:
            runner.close()
        found[engine, grouped] = (result.rows, result.counts["mz"], result.distinct.get("mz"))
    assert found["duckdb", True][:2] == found["duckdb", False][:2] == found["spark", True][:2]
    assert found["duckdb", True][2] == found["spark", True][2] == 6  # exact over distinct values, after the trim
    assert found["duckdb", True][1].strong[InfoType.ETHNICITY] > 1_000
