"""Counting what a snapshot's columns hold, in the engine: one aggregate query over a table (the snapshot, or a
sample of it drawn once).

The query is assembled from conditions that sqlglot rendered once per type and dialect (DuckDB embedded, or
Spark for what outgrows one machine). Each column is cast to text and trimmed once, in a subquery; the numbers a
check digit reads are parsed once, in the next; a type with both strong and weak conditions is then one ``CASE``
that yields 2 for a strong match, 1 for a weak one and 0 otherwise; the outer query counts. Nothing but counts
leaves the engine. (``COUNT_IF`` rather than ``SUM(CASE …)``: DuckDB spends a tenth of a full scan's time on the
latter.)
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow.parquet as pq
from sqlglot import exp

from shengjing.classify.detectors import InfoType, ValueCounts, condition_sql, derived_sql

SAMPLE_SEED = 20240501  # a fixed seed: the same snapshot gives the same sample, so re-runs agree
RESERVOIR_LIMIT = 1_000_000  # snapshots up to this many rows are sampled uniformly (see DuckDBEngine.sample)
SAMPLE_RUNS = 8
DOCUMENTS = (InfoType.ID_NUMBER, InfoType.PASSPORT, InfoType.HK_MACAU_PASS)
IDENTIFYING = (*DOCUMENTS, InfoType.MOBILE)


@dataclass(frozen=True)
class ColumnPlan:
    """What to count in one column: its candidate types, and the ID column its dates may be the birth date of."""

    column: str
    types: tuple[InfoType, ...]
    id_column: str | None = None
    distinct: bool = False  # also estimate its distinct values (for the scale rules)


@dataclass
class ScanResult:
    rows: int
    counts: dict[str, ValueCounts]
    distinct: dict[str, int] = field(default_factory=dict)


class Engine(Protocol):
    dialect: str

    def one_rows(self, sqls: Sequence[str]) -> list[Sequence[object]]: ...


def build_query(
    plans: Sequence[ColumnPlan], *, dialect: str, table: str, shapes: bool = False
) -> tuple[str, list[str]]:
    """The counting query over ``table`` in ``dialect``, and the names of its result columns.

    An inner projection trims each column's text once; the next parses the numbers check digits read; a middle one
    marks each value of a type with strong and weak conditions (2 strong, 1 weak, 0 no match); the outer one counts
    the marks, and the conditions of the other types directly. With ``shapes``, only each type's regular
    expressions are counted:
    the cheap first look at a sample that picks the candidates. The conditions are sqlglot trees rendered once per
    dialect (``detectors.condition_sql``); here they are only placed, by their value placeholder.
    """
    columns = sorted({plan.column for plan in plans} | {plan.id_column for plan in plans if plan.id_column})
    text = {name: f"c{i}" for i, name in enumerate(columns)}
    texts = ", ".join(f"{_trimmed(_quoted(name, dialect), dialect)} AS {text[name]}" for name in columns)
    # Every name in the text is ours: columns are quoted identifiers, the table and conditions are constants.
    inner = f"SELECT {texts} FROM {table}"  # noqa: S608
    marks: list[str] = []
    derived: list[str] = []
    sums = ["COUNT(*) AS n_rows"]
    for k, plan in enumerate(plans):
        value = text[plan.column]
        sums.append(f"COUNT({value}) AS p{k}_checked")
        if plan.distinct:
            sums.append(f"APPROX_COUNT_DISTINCT({value}) AS p{k}_distinct")
        for kind in plan.types:
            mark = f"p{k}_{kind.value}"
            if shapes:
                sums.append(f"{_count_where(condition_sql(kind, 'shape', dialect, value))} AS {mark}__fit")
                continue
            # A value that failed the strong conditions only needs the weak ones next: the check digits are
            # computed once per value, not again inside "fit".
            parsed = {}
            for name, sql in derived_sql(kind, dialect, value).items():
                parsed[name] = f"{mark}__{name}"
                derived.append(f"{sql} AS {parsed[name]}")
            strong = condition_sql(kind, "strong", dialect, value, derived=parsed)
            rest = condition_sql(kind, "weak", dialect, value, derived=parsed)
            if kind is InfoType.BIRTH_DATE and plan.id_column is not None:
                # The same row's ID number carries the birth date: agreement on most rows says what the dates are.
                strong = condition_sql(kind, "id_agrees", dialect, value, text[plan.id_column])
                rest = condition_sql(kind, "fit", dialect, value)
            if strong and rest:  # a mark per value, 2 strong, 1 weak, 0 neither, then counted twice
                marks.append(f"CASE WHEN {strong} THEN 2 WHEN {rest} THEN 1 ELSE 0 END AS {mark}")
                sums.append(f"COUNT_IF({mark} = 2) AS {mark}__strong")
                sums.append(f"COUNT_IF({mark} >= 1) AS {mark}__fit")
            elif strong:  # what fits is what is strong: counted once
                sums.append(f"{_count_where(strong)} AS {mark}__strong")
            elif rest:
                sums.append(f"{_count_where(rest)} AS {mark}__fit")
    inner = f"SELECT *{''.join(', ' + d for d in derived)} FROM ({inner}) AS raw"  # noqa: S608
    middle = f"SELECT *{''.join(', ' + m for m in marks)} FROM ({inner}) AS texts"  # noqa: S608
    names = [s.rsplit(" AS ", 1)[1] for s in sums]
    return f"SELECT {', '.join(sums)} FROM ({middle}) AS marked", names  # noqa: S608


def _count_where(condition: str | None) -> str:
    """How many rows meet ``condition``. Inside CASE the engine stops at the first alternative a value meets (an
    IPv4 address is not tried as IPv6); in an aggregate's argument it evaluates every one on every row."""
    return f"COUNT_IF(CASE WHEN {condition} THEN TRUE ELSE FALSE END)"


_STRING = {"duckdb": "VARCHAR", "spark": "STRING"}


def _trimmed(column: str, dialect: str) -> str:
    """The value as text, trimmed, empty as NULL. Only values with a space in them are trimmed: TRIM on every
    value costs three times what the search for a space does, and the search a third less than testing both ends
    (DuckDB, 12 columns of a million rows)."""
    text = f"CAST({column} AS {_STRING[dialect]})"
    return f"NULLIF(CASE WHEN CONTAINS({text}, ' ') THEN TRIM({text}) ELSE {text} END, '')"


def _quoted(name: str, dialect: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _runs(file_rows: Sequence[int], rows: int, runs: int) -> list[tuple[int, int, int]]:
    """``runs`` runs of consecutive rows, ``rows`` in all, centred at evenly spread positions of the files taken
    end to end: (file index, first row, last row), each clipped to its file. With more rows in the files than
    ``rows``, the runs do not overlap."""
    total = sum(file_rows)
    length = max(1, rows // runs)
    found = []
    for k in range(runs):
        start = max(0, min(total - length, (2 * k + 1) * total // (2 * runs) - length // 2))
        for i, n in enumerate(file_rows):
            if start < n:
                found.append((i, start, min(n, start + length) - 1))
                break
            start -= n
    return found


def count(
    engine: Engine, plans: Sequence[ColumnPlan], *, table: str, shapes: bool = False, parts: int = 1
) -> ScanResult:
    """Run the counting query and read its one row back into per-column counts (with ``shapes``, the regular
    expressions' matches are reported as ``fit`` and nothing as ``strong``). With ``parts``, the columns are
    counted by that many queries at once: a query over a small table (a sample) runs on one thread."""
    size = max(1, -(-len(plans) // parts))
    groups = [plans[i : i + size] for i in range(0, len(plans), size)] or [plans]
    queries = [build_query(group, dialect=engine.dialect, table=table, shapes=shapes) for group in groups]
    counts: dict[str, ValueCounts] = {}
    distinct: dict[str, int] = {}
    rows = 0
    for group, (_, names), row in zip(groups, queries, engine.one_rows([sql for sql, _ in queries]), strict=True):
        values = dict(zip(names, (int(v or 0) for v in row), strict=True))  # type: ignore[call-overload]
        rows = values["n_rows"]
        for k, plan in enumerate(group):
            found = ValueCounts(checked=values[f"p{k}_checked"])
            for kind in plan.types:
                mark = f"p{k}_{kind.value}"
                found.strong[kind] = 0 if shapes else values.get(f"{mark}__strong", 0)
                found.fit[kind] = values.get(f"{mark}__fit", found.strong[kind])
            counts[plan.column] = found
            if plan.distinct:
                distinct[plan.column] = values[f"p{k}_distinct"]
    return ScanResult(rows=rows, counts=counts, distinct=distinct)


# --- engines --------------------------------------------------------------------------------------------------------


class DuckDBEngine:
    """An in-process DuckDB over a snapshot's Parquet files, as the view ``snapshot``; nothing else readable."""

    dialect = "duckdb"

    def __init__(self, files: Sequence[Path], *, threads: int | None = None) -> None:
        import duckdb

        self.connection = duckdb.connect(config={"threads": threads} if threads else {})
        self.files = list(files)
        listed = ", ".join(_literal(str(f)) for f in files)
        self.connection.execute(f"CREATE VIEW snapshot AS SELECT * FROM read_parquet([{listed}])")  # noqa: S608
        # No progress bar on stdout (it would corrupt --json output); then the snapshot's files stay readable, and
        # nothing else: no other file, no network, no extension.
        self.connection.execute("SET enable_progress_bar = false")
        self.connection.execute(f"SET allowed_paths = [{listed}]")
        self.connection.execute("SET enable_external_access = false")
        self.connection.execute("SET lock_configuration = true")

    def sample(self, rows: int, *, reservoir_limit: int = RESERVOIR_LIMIT) -> str:
        """Draw a sample of the snapshot once, as the table ``sample``: each look at it then reads ``rows`` rows
        instead of the whole snapshot again.

        Up to ``reservoir_limit`` rows, a uniform reservoir over every row. Above it, ``SAMPLE_RUNS`` runs of
        consecutive rows spread evenly over the snapshot: a reservoir reads every value of every column (3.4 s of
        a 10-million-row snapshot on two cores, a quarter of a full regular-expression scan), where a run costs
        the engine a read of one row group's pages. Runs cover the start, the middle and the end of the
        snapshot, so a format that changed over time (15-digit IDs in old records) is seen; the full scan still
        counts every row.
        """
        # Only a sample needs the row counts: a full scan's engine reads no footer before its query.
        file_rows = [pq.read_metadata(f).num_rows for f in self.files]
        if sum(file_rows) <= max(reservoir_limit, rows):
            reservoir = f"reservoir({int(rows)} ROWS) REPEATABLE ({SAMPLE_SEED})"
            self.connection.execute(f"CREATE TABLE sample AS SELECT * FROM snapshot USING SAMPLE {reservoir}")  # noqa: S608
            return "sample"
        runs = [
            f"SELECT * EXCLUDE (file_row_number) FROM read_parquet({_literal(str(self.files[i]))}, "  # noqa: S608
            f"file_row_number = true) WHERE file_row_number BETWEEN {first} AND {last}"
            for i, first, last in _runs(file_rows, rows, SAMPLE_RUNS)
        ]
        # Each run is read on one thread: two halves at once, then put together.
        halves = (runs[: len(runs) // 2], runs[len(runs) // 2 :])
        self._at_once([f"CREATE TABLE sample_{k} AS {' UNION ALL '.join(half)}" for k, half in enumerate(halves)])
        self.connection.execute("CREATE TABLE sample AS SELECT * FROM sample_0 UNION ALL SELECT * FROM sample_1")
        return "sample"

    def one_rows(self, sqls: Sequence[str]) -> list[Sequence[object]]:
        rows = self._at_once(sqls)
        if any(row is None for row in rows):  # an aggregate query always yields one row
            raise RuntimeError("a counting query returned no row")
        return rows  # type: ignore[return-value]

    def _at_once(self, sqls: Sequence[str]) -> list[Sequence[object] | None]:
        """Run the statements at once, each on a cursor of its own (DuckDB lets go of the GIL while it runs), and
        return the first row of each."""
        if len(sqls) == 1:
            return [self.connection.execute(sqls[0]).fetchone()]
        with ThreadPoolExecutor(len(sqls)) as pool:
            return list(pool.map(self._on_cursor, sqls))

    def _on_cursor(self, sql: str) -> Sequence[object] | None:
        cursor = self.connection.cursor()
        try:
            return cursor.execute(sql).fetchone()
        finally:
            cursor.close()

    def close(self) -> None:
        self.connection.close()


class SparkEngine:
    """A Spark session (``local[*]`` unless ``master`` says otherwise) over the snapshot's Parquet files."""

    dialect = "spark"

    def __init__(self, files: Sequence[Path], *, master: str = "local[*]") -> None:
        from pyspark.sql import SparkSession

        self.session = (
            SparkSession.builder.master(master)
            .appName("shengjing-classify")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # Our conditions expect SQL's forgiving semantics (a failed cast is NULL), as DuckDB gives them.
            .config("spark.sql.ansi.enabled", "false")
            .getOrCreate()
        )
        self.session.sparkContext.setLogLevel("ERROR")
        self.session.read.parquet(*[str(f) for f in files]).createOrReplaceTempView("snapshot")

    def one_rows(self, sqls: Sequence[str]) -> list[Sequence[object]]:
        return [tuple(self.session.sql(sql).collect()[0]) for sql in sqls]

    def close(self) -> None:
        self.session.catalog.dropTempView("snapshot")
