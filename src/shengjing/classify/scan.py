"""Counting what a snapshot's columns hold, in the engine: one aggregate query over a table (the snapshot, or a
sample of it drawn once).

The query is assembled from conditions that sqlglot rendered once per type and dialect (DuckDB embedded, or
Spark for what outgrows one machine). Each column is cast to text and trimmed once, in a subquery; the numbers a
check digit reads are parsed once, in the next; each candidate type is then one ``CASE`` that yields 2 for a
strong match, 1 for a weak one and 0 otherwise; the outer query sums them. Nothing but counts leaves the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlglot import exp

from shengjing.classify.detectors import InfoType, ValueCounts, condition_sql, derived_sql

SAMPLE_SEED = 20240501  # a fixed seed: the same snapshot gives the same sample, so re-runs agree
IDENTIFYING = (InfoType.ID_NUMBER, InfoType.PASSPORT, InfoType.HK_MACAU_PASS, InfoType.MOBILE)


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

    def one_row(self, sql: str) -> Sequence[object]: ...


def build_query(
    plans: Sequence[ColumnPlan], *, dialect: str, table: str, shapes: bool = False
) -> tuple[str, list[str]]:
    """The counting query over ``table`` in ``dialect``, and the names of its result columns.

    An inner projection trims each column's text once; a middle one marks each value per candidate type (2 strong,
    1 weak, 0 no match); the outer one sums. With ``shapes``, only each type's regular expressions are counted:
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
        sums.append(f"SUM(CASE WHEN {value} IS NULL THEN 0 ELSE 1 END) AS p{k}_checked")
        if plan.distinct:
            sums.append(f"APPROX_COUNT_DISTINCT({value}) AS p{k}_distinct")
        for kind in plan.types:
            mark = f"p{k}_{kind.value}"
            if shapes:
                marks.append(f"CASE WHEN {condition_sql(kind, 'shape', dialect, value)} THEN 1 ELSE 0 END AS {mark}")
                sums.append(f"SUM({mark}) AS {mark}__fit")
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
            whens = []
            if strong:
                whens.append(f"WHEN {strong} THEN 2")
            if rest:
                whens.append(f"WHEN {rest} THEN 1")
            marks.append(f"CASE {' '.join(whens)} ELSE 0 END AS {mark}")
            sums.append(f"SUM(CASE WHEN {mark} = 2 THEN 1 ELSE 0 END) AS {mark}__strong")
            sums.append(f"SUM(CASE WHEN {mark} >= 1 THEN 1 ELSE 0 END) AS {mark}__fit")
    inner = f"SELECT *{''.join(', ' + d for d in derived)} FROM ({inner}) AS raw"  # noqa: S608
    middle = f"SELECT *{''.join(', ' + m for m in marks)} FROM ({inner}) AS texts"  # noqa: S608
    names = [s.rsplit(" AS ", 1)[1] for s in sums]
    return f"SELECT {', '.join(sums)} FROM ({middle}) AS marked", names  # noqa: S608


_STRING = {"duckdb": "VARCHAR", "spark": "STRING"}


def _trimmed(column: str, dialect: str) -> str:
    """The value as text, trimmed, empty as NULL. Only values that start or end with a space are trimmed: two
    LIKE tests cost half of what TRIM on every value does."""
    text = f"CAST({column} AS {_STRING[dialect]})"
    return f"NULLIF(CASE WHEN {text} LIKE ' %' OR {text} LIKE '% ' THEN TRIM({text}) ELSE {text} END, '')"


def _quoted(name: str, dialect: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


def count(engine: Engine, plans: Sequence[ColumnPlan], *, table: str, shapes: bool = False) -> ScanResult:
    """Run the counting query and read its one row back into per-column counts (with ``shapes``, the regular
    expressions' matches are reported as ``fit`` and nothing as ``strong``)."""
    sql, names = build_query(plans, dialect=engine.dialect, table=table, shapes=shapes)
    row = engine.one_row(sql)
    values = dict(zip(names, (int(v or 0) for v in row), strict=True))  # type: ignore[call-overload]
    counts: dict[str, ValueCounts] = {}
    distinct: dict[str, int] = {}
    for k, plan in enumerate(plans):
        found = ValueCounts(checked=values[f"p{k}_checked"])
        for kind in plan.types:
            found.fit[kind] = values[f"p{k}_{kind.value}__fit"]
            if not shapes:
                found.strong[kind] = values[f"p{k}_{kind.value}__strong"]
        counts[plan.column] = found
        if plan.distinct:
            distinct[plan.column] = values[f"p{k}_distinct"]
    return ScanResult(rows=values["n_rows"], counts=counts, distinct=distinct)


# --- engines --------------------------------------------------------------------------------------------------------


class DuckDBEngine:
    """An in-process DuckDB over a snapshot's Parquet files, as the view ``snapshot``; nothing else readable."""

    dialect = "duckdb"

    def __init__(self, files: Sequence[Path], *, threads: int | None = None) -> None:
        import duckdb

        self.connection = duckdb.connect(config={"threads": threads} if threads else {})
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        self.connection.execute(f"CREATE VIEW snapshot AS SELECT * FROM read_parquet([{listed}])")  # noqa: S608
        # No progress bar on stdout (it would corrupt --json output); then the snapshot's files stay readable, and
        # nothing else: no other file, no network, no extension.
        self.connection.execute("SET enable_progress_bar = false")
        self.connection.execute(f"SET allowed_paths = [{listed}]")
        self.connection.execute("SET enable_external_access = false")
        self.connection.execute("SET lock_configuration = true")

    def sample(self, rows: int) -> str:
        """Draw a reservoir sample of the snapshot once, as the table ``sample``: each look at it then reads
        ``rows`` rows instead of the whole snapshot again."""
        drawn = f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE ({SAMPLE_SEED})"
        self.connection.execute(f"CREATE TEMP TABLE sample AS SELECT * FROM snapshot {drawn}")  # noqa: S608
        return "sample"

    def one_row(self, sql: str) -> Sequence[object]:
        row = self.connection.execute(sql).fetchone()
        if row is None:  # an aggregate query always yields one row
            raise RuntimeError("the counting query returned no row")
        return row

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

    def one_row(self, sql: str) -> Sequence[object]:
        return tuple(self.session.sql(sql).collect()[0])

    def close(self) -> None:
        self.session.catalog.dropTempView("snapshot")
