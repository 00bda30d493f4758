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
    full = {plan.column: plan.types for plan in _full_plans(plans, sampled, names)}
    assert full == {
        "zdmc": (InfoType.HEALTH,),  # a name-like share without strong matches cannot decide an unnamed type
        "xm": (InfoType.PERSON_NAME,),  # named: the weak fit counts with the name
        "dh": (InfoType.MOBILE, InfoType.LANDLINE),
    }
