"""What a scan reads: the sample it draws once, and the types a full scan counts."""

from __future__ import annotations

import itertools
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shengjing.classify import scan
from shengjing.classify.classifier import _full_plans
from shengjing.classify.detectors import InfoType, NameEvidence, ValueCounts


def test_runs_spread_over_the_files_taken_end_to_end() -> None:
    runs = scan._runs([30_000, 20_000], 800, 8)
    assert len(runs) == 8
    assert all(last - first + 1 == 100 for _, first, last in runs)
    # centred at 1/16, 3/16 … 15/16 of 50,000 rows: the first five in the first file, the rest in the second
    assert [i for i, _, _ in runs] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert runs[0][1] == 50_000 // 16 - 50 and runs[-1][2] == 20_000 - 50_000 // 16 + 49
    # a run that would cross into the next file is clipped to its own
    assert scan._runs([1_000, 1_000], 400, 2) == [(0, 400, 599), (1, 400, 599)]


def _numbered(path: Path, first: int, rows: int) -> Path:
    pq.write_table(pa.table({"n": range(first, first + rows)}), path, row_group_size=4_096)
    return path


def _drawn(files: list[Path], rows: int, **options: int) -> list[int]:
    engine = scan.DuckDBEngine(files)
    try:
        assert engine.sample(rows, **options) == "sample"
        return sorted(n for (n,) in engine.connection.execute("SELECT n FROM sample").fetchall())
    finally:
        engine.close()


def test_a_large_snapshot_is_sampled_in_runs_spread_over_it(tmp_path: Path) -> None:
    files = [_numbered(tmp_path / "part-0.parquet", 0, 30_000), _numbered(tmp_path / "part-1.parquet", 30_000, 20_000)]
    drawn = _drawn(files, 800, reservoir_limit=10_000)
    assert len(drawn) == len(set(drawn)) == 800
    runs = [drawn[k : k + 100] for k in range(0, 800, 100)]
    assert all(run == list(range(run[0], run[0] + 100)) for run in runs)  # consecutive rows
    assert drawn[0] < 5_000 and 20_000 < drawn[400] < 30_000 and drawn[-1] > 45_000  # start, middle and end


def test_a_small_snapshot_is_sampled_uniformly(tmp_path: Path) -> None:
    drawn = _drawn([_numbered(tmp_path / "part-0.parquet", 0, 50_000)], 800)
    assert len(set(drawn)) == 800
    gaps = {b - a for a, b in itertools.pairwise(drawn)}
    assert len(gaps) > 100  # a reservoir, not runs of consecutive rows


def _counts(checked: int, **shares: tuple[float, float]) -> ValueCounts:
    found = ValueCounts(checked=checked)
    for name, (fit, strong) in shares.items():
        found.fit[InfoType(name)] = int(fit * checked)
        found.strong[InfoType(name)] = int(strong * checked)
    return found


def test_a_full_scan_counts_only_the_types_that_could_still_decide() -> None:
    every = (InfoType.HEALTH, InfoType.PERSON_NAME, InfoType.MOBILE, InfoType.LANDLINE, InfoType.BANK_CARD)
    plans = [scan.ColumnPlan("zdmc", every), scan.ColumnPlan("xm", every), scan.ColumnPlan("dh", every)]
    sampled = scan.ScanResult(
        rows=1_000,
        counts={
            # diagnoses: a third shaped like names (白内障), few with a surname and no exclusion
            "zdmc": _counts(1_000, health=(1.0, 1.0), person_name=(0.3, 0.05), bank_card=(0.1, 0.1)),
            "xm": _counts(1_000, person_name=(0.3, 0.05)),
            # local numbers: landlines fit weakly, and decide with mobiles as siblings
            "dh": _counts(1_000, mobile=(0.3, 0.3), landline=(0.6, 0.0)),
        },
    )
    names = {
        "zdmc": [NameEvidence(InfoType.HEALTH, "label", "诊断")],
        "xm": [NameEvidence(InfoType.PERSON_NAME, "code", "xm")],
        "dh": [],
    }
    full = {plan.column: plan.types for plan in _full_plans(plans, sampled, names, repeats={}, rows_total=1_000)}
    assert full == {
        "zdmc": (InfoType.HEALTH,),  # a name-like share without strong matches cannot decide an unnamed type
        "xm": (InfoType.PERSON_NAME,),  # named: the weak fit counts with the name
        "dh": (InfoType.MOBILE, InfoType.LANDLINE),
    }


def test_a_full_scan_trims_only_the_columns_whose_sample_holds_padded_values(tmp_path: Path) -> None:
    """Fixed-width exports pad their text (CHAR(20)): such a column is trimmed over every row and still counted as
    what it holds; a column without padding in its sample is read as stored, which costs a tenth less."""
    from stdnum.cn import ric

    from shengjing.classify.classifier import FieldSpec, Mode, classify_files

    bodies = [f"210102{1950 + i % 60}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}" for i in range(3_000)]
    ids = [b + ric.calc_check_digit(b + "0") for b in bodies]
    path = tmp_path / "part-0.parquet"
    pq.write_table(pa.table({"c1": [f"{v}  " for v in ids], "c2": ids, "c3": [f" {v}" for v in ids]}), path)
    engine = scan.DuckDBEngine([path])
    try:
        every = [scan.ColumnPlan(name, (InfoType.ID_NUMBER,)) for name in ("c1", "c2", "c3")]
        shapes = scan.count(engine, every, table=engine.sample(1_000), shapes=True)
    finally:
        engine.close()
    assert shapes.padded == {"c1": 1_000, "c2": 0, "c3": 1_000}
    result = classify_files([path], [FieldSpec(n) for n in ("c1", "c2", "c3")], rows_total=3_000, mode=Mode.FULL)
    for found in result.fields:
        assert found.detection.type is InfoType.ID_NUMBER, found.field
        assert found.counts.strong[InfoType.ID_NUMBER] == 3_000, found.field


def test_chao_tells_a_repetitive_column_from_one_of_identifiers() -> None:
    # 10,000 sampled names of a city's 15,000 or so: many seen once, many twice; IDs: every one seen once
    assert scan.Repeats(distinct=5_511, once=3_464, twice=1_050).estimated_distinct(10_000_000) < 20_000
    assert scan.Repeats(distinct=10_000, once=10_000, twice=0).estimated_distinct(10_000_000) == 10_000_000
    assert scan.Repeats(distinct=36, once=0, twice=0).estimated_distinct(10_000_000) == 36
    assert scan.Repeats(distinct=5_511, once=3_464, twice=1_050).repetitive(10_000_000)
    # e-mail addresses: a few repeat, most are unique; Chao's estimate runs low, the bar is set above it
    assert not scan.Repeats(distinct=9_109, once=9_020, twice=87).repetitive(10_000_000)


def test_a_full_scan_counts_a_repetitive_column_by_its_distinct_values(tmp_path: Path) -> None:
    from shengjing.classify.classifier import FieldSpec, Mode, classify_files

    rows = 200_000
    path = tmp_path / "part-0.parquet"
    ethnic = ["汉族"] * 90 + ["满族"] * 6 + ["回族"] * 4
    pq.write_table(
        pa.table({"mz": [ethnic[i % 100] for i in range(rows)], "serial": [f"SN{i:09d}" for i in range(rows)]}),
        path,
    )
    engine = scan.DuckDBEngine([path])
    try:
        plans = [scan.ColumnPlan(name, (InfoType.ETHNICITY,)) for name in ("mz", "serial")]
        repeats = scan.count(engine, plans, table=engine.sample(10_000), shapes=True).repeats
    finally:
        engine.close()
    assert repeats["mz"].repetitive(rows) and not repeats["serial"].repetitive(rows)
    result = classify_files([path], [FieldSpec("mz"), FieldSpec("serial")], rows_total=rows, mode=Mode.FULL)
    by_field = {f.field: f for f in result.fields}
    assert by_field["mz"].detection.type is InfoType.ETHNICITY
    assert by_field["mz"].counts.checked == rows and by_field["mz"].counts.strong[InfoType.ETHNICITY] == rows
    assert by_field["serial"].counts.checked == rows
