"""Classifying one snapshot: what each field holds, from its values (counted in the engine) and its name.

No database and no permissions here, only files in and detections out, so the benchmark and the labelled
accuracy test run exactly what the service runs. The steps:

1. On a bounded sample, count each type's regular expressions in every column (``shapes``): cheap, and enough
   to drop the types a column plainly does not hold.
2. For each column, the candidates are the types that fit some of the sample and the types its name suggests.
   Count their full conditions (check digits, exclusions) on the sample, or on every row in full mode.
3. ``detectors.decide`` weighs the counts and the name evidence. A date column is also compared with the
   row's ID number when the resource has one: agreement on most rows makes it a birth date even when its name
   says nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from shengjing.classify import scan
from shengjing.classify.detectors import (
    BY_TYPE,
    CONTRADICTED,
    SIBLINGS,
    Detection,
    InfoType,
    NameEvidence,
    ValueCounts,
    candidates,
    decide,
    name_evidence,
    value_evidence,
)

ALL_TYPES = tuple(t for t in InfoType if t is not InfoType.NONE)


class Mode(StrEnum):
    SAMPLE = "sample"
    FULL = "full"


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the column's name in the snapshot
    label: str = ""
    element: str | None = None  # the data element's code (数据元)


@dataclass(frozen=True)
class FieldDetection:
    field: str
    detection: Detection
    counts: ValueCounts


@dataclass(frozen=True)
class SnapshotDetection:
    mode: Mode
    engine: str
    rows_total: int
    rows_scanned: int
    fields: list[FieldDetection]
    distinct: dict[str, int]  # estimated distinct values of identifying columns (full mode)
    seconds: float


DEFAULT_SAMPLE_ROWS = 10_000
SAMPLE_QUERIES = 2  # the sample is counted by this many queries at once (one thread each, on a small table)


def open_engine(name: str, files: Sequence[Path], *, spark_master: str = "local[*]") -> scan.Engine:
    if name == "duckdb":
        return scan.DuckDBEngine(files)
    if name == "spark":
        return scan.SparkEngine(files, master=spark_master)
    raise ValueError(f"unknown engine {name!r}")


def classify_files(
    files: Sequence[Path],
    fields: Sequence[FieldSpec],
    *,
    rows_total: int,
    mode: Mode = Mode.SAMPLE,
    engine: str = "duckdb",
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    spark_master: str = "local[*]",
) -> SnapshotDetection:
    """Detect what each of ``fields`` holds in the snapshot made of ``files`` (``rows_total`` rows)."""
    started = time.perf_counter()
    names = {f.name: name_evidence(f.name, f.label, f.element) for f in fields}
    # The sample always runs on DuckDB, in process: it is small, and Spark's start would cost more than it.
    sampler = scan.DuckDBEngine(files)
    try:
        sample = sampler.sample(sample_rows)
        every = [scan.ColumnPlan(f.name, ALL_TYPES) for f in fields]
        shapes = scan.count(sampler, every, table=sample, shapes=True, parts=SAMPLE_QUERIES)
        plans = _plans(fields, shapes, names)
        sampled = scan.count(sampler, plans, table=sample, parts=SAMPLE_QUERIES)
    finally:
        sampler.close()
    result = sampled
    if mode is Mode.FULL:
        plans = _full_plans(plans, sampled, names, repeats=shapes.repeats, rows_total=rows_total)
        runner = open_engine(engine, files, spark_master=spark_master)
        try:
            result = scan.count(runner, plans, table="snapshot")
        finally:
            runner.close()
    counted = {plan.column: set(plan.types) for plan in plans}
    detections = [
        FieldDetection(
            f.name,
            _with_sample_evidence(decide(result.counts[f.name], names[f.name]), counted[f.name], sampled, f.name, mode),
            result.counts[f.name],
        )
        for f in fields
    ]
    return SnapshotDetection(
        mode=mode,
        engine=engine if mode is Mode.FULL else "duckdb",
        rows_total=rows_total,
        rows_scanned=result.rows,
        fields=detections,
        distinct=result.distinct,
        seconds=round(time.perf_counter() - started, 3),
    )


def _plans(
    fields: Sequence[FieldSpec], shapes: scan.ScanResult, names: dict[str, list[NameEvidence]]
) -> list[scan.ColumnPlan]:
    """Each column's candidate types and the ID column its dates may be the birth date of."""
    # The ID column a date may agree with: one named as an ID first, then the one that looks most like IDs.
    id_columns = sorted(
        (
            f.name
            for f in fields
            if shapes.counts[f.name].share(InfoType.ID_NUMBER, strong=False) >= 0.5
            or any(n.type is InfoType.ID_NUMBER for n in names[f.name])
        ),
        key=lambda name: (
            not any(n.type is InfoType.ID_NUMBER for n in names[name]),
            -shapes.counts[name].share(InfoType.ID_NUMBER, strong=False),
        ),
    )
    plans = []
    for f in fields:
        kinds = candidates(shapes.counts[f.name], names[f.name])
        id_column = next((c for c in id_columns if c != f.name), None) if InfoType.BIRTH_DATE in kinds else None
        # A full scan trims a column only if its sample held a padded value: searching every value for a space
        # costs a tenth of the scan, and a padded value the sample missed is then one that fits nothing.
        trim = shapes.padded.get(f.name, 0) > 0
        plans.append(scan.ColumnPlan(f.name, tuple(sorted(kinds)), id_column=id_column, trim=trim))
    return plans


def _full_plans(
    plans: list[scan.ColumnPlan],
    sampled: scan.ScanResult,
    names: dict[str, list[NameEvidence]],
    *,
    repeats: dict[str, scan.Repeats],
    rows_total: int,
) -> list[scan.ColumnPlan]:
    """What a full scan counts: per column, only the types that could still decide it, and the distinct values of
    identifying columns, which is how many people a resource holds: its document numbers (ID, passport, pass), or
    its mobile numbers when it holds none (a person may have several).

    A type that fits under ``CONTRADICTED`` of the sample is left out (an 18-digit ID column passes Luhn one time
    in ten: counting bank cards over every row would change nothing but the time); so is a type the field's name
    does not suggest whose strong conditions match under half the share its detector needs to decide by values
    alone (a diagnosis 白内障 is shaped like a name, and nothing more). With 10,000 sampled values a share is known
    to about ±1 %, so such a type cannot reach what a decision needs. Siblings decide together on what fits, and
    are kept by their fit.

    A column whose values repeat (``Repeats.repetitive``: names, diagnoses, ethnicities, districts) is counted over
    its distinct values, each weighted by its rows, unless its dates are compared row by row with an ID number."""
    siblings = {t for family in SIBLINGS for t in family}
    counted = {}
    for plan in plans:
        counts = sampled.counts[plan.column]
        named = {n.type for n in names[plan.column]}
        counted[plan.column] = {
            t
            for t in plan.types
            if counts.share(t, strong=False) >= CONTRADICTED
            and (t in named or t in siblings or counts.share(t, strong=True) >= BY_TYPE[t].strong_share / 2)
        }
    documents = any(kinds & set(scan.DOCUMENTS) for kinds in counted.values())
    people = set(scan.DOCUMENTS) if documents else set(scan.IDENTIFYING)
    return [
        scan.ColumnPlan(
            plan.column,
            tuple(t for t in plan.types if t in counted[plan.column]),
            id_column=plan.id_column,
            distinct=bool(counted[plan.column] & people),
            trim=plan.trim,
            grouped=plan.id_column is None and plan.column in repeats and repeats[plan.column].repetitive(rows_total),
        )
        for plan in plans
    ]


def _with_sample_evidence(
    detection: Detection, counted: set[InfoType], sampled: scan.ScanResult, column: str, mode: Mode
) -> Detection:
    """Say where each value count comes from: every row, or (for a type left out of a full scan) the sample."""
    evidence = []
    for item in detection.evidence:
        if item.get("kind") == "values" and "type" in item:
            kind = InfoType(item["type"])
            if mode is Mode.FULL and kind not in counted:
                item = {**item, **value_evidence(kind, sampled.counts[column]), "scope": "sample"}
            else:
                item = {**item, "scope": "all rows" if mode is Mode.FULL else "sample"}
        evidence.append(item)
    return replace(detection, evidence=evidence)
