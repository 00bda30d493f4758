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

from sqlglot import exp

from shengjing.classify.detectors import InfoType, ValueCounts, condition_sql, derived_sql

SAMPLE_SEED = 20240501  # a fixed seed: the same snapshot gives the same sample, so re-runs agree
RESERVOIR_LIMIT = 1_000_000  # snapshots up to this many rows are sampled uniformly (see DuckDBEngine.sample)
SAMPLE_RUNS = 8
GROUPED_ROWS = 100  # a full scan counts a column by its distinct values when it has one per this many rows or fewer
DOCUMENTS = (InfoType.ID_NUMBER, InfoType.PASSPORT, InfoType.HK_MACAU_PASS)
IDENTIFYING = (*DOCUMENTS, InfoType.MOBILE)


@dataclass(frozen=True)
class ColumnPlan:
    """What to count in one column: its candidate types, and the ID column its dates may be the birth date of."""

    column: str
    types: tuple[InfoType, ...]
    id_column: str | None = None
    distinct: bool = False  # also estimate its distinct values (for the scale rules)
    trim: bool = True  # trim its values' spaces first (a full scan skips it where the sample holds no padded value)
    grouped: bool = False  # count its distinct values, each weighted by its rows (a repetitive column)


@dataclass
class ScanResult:
    rows: int
    counts: dict[str, ValueCounts]
    distinct: dict[str, int] = field(default_factory=dict)
    padded: dict[str, int] = field(default_factory=dict)  # values with a leading or trailing space (``shapes``)
    repeats: dict[str, Repeats] = field(default_factory=dict)  # how often values repeat (``shapes``)


@dataclass(frozen=True)
class Repeats:
    """How often a sampled column's values repeat: its distinct values, and those seen once and twice."""

    distinct: int
    once: int
    twice: int

    def estimated_distinct(self, rows: int) -> int:
        """The column's distinct values over ``rows`` rows, by Chao's estimator (bias-corrected Chao1): what the
        sample did not see is told by how many values it saw only once against those it saw twice."""
        unseen = self.once * (self.once - 1) / (2 * (self.twice + 1))
        return min(rows, round(self.distinct + unseen))

    def repetitive(self, rows: int) -> bool:
        """Worth counting by its distinct values: at most one per ``GROUPED_ROWS`` rows. Chao's estimate runs low
        where a few values repeat among many unique ones (e-mail addresses: a full scan found hundreds of thousands
        estimated where there were millions), so the bar is high; a column grouped wrongly is only counted slower."""
        return self.estimated_distinct(rows) * GROUPED_ROWS <= rows


class _Counts:
    """How the outer query counts: rows one by one, or (a grouped column) distinct values weighted by their rows."""

    def __init__(self, weight: str | None) -> None:
        self.weight = weight

    def rows(self) -> str:
        return f"SUM({self.weight})" if self.weight else "COUNT(*)"

    def present(self, value: str) -> str:
        return f"SUM(CASE WHEN {value} IS NOT NULL THEN {self.weight} ELSE 0 END)" if self.weight else f"COUNT({value})"

    def where(self, condition: str, *, alternatives: bool = True) -> str:
        """How many rows meet ``condition``. Inside CASE the engine stops at the first alternative a value meets (an
        IPv4 address is not tried as IPv6); in an aggregate's argument it evaluates every one on every row."""
        if self.weight:
            return f"SUM(CASE WHEN {condition} THEN {self.weight} ELSE 0 END)"
        if not alternatives:
            return f"COUNT_IF({condition})"
        return f"COUNT_IF(CASE WHEN {condition} THEN TRUE ELSE FALSE END)"

    def distinct(self, value: str) -> str:
        return f"COUNT(DISTINCT {value})" if self.weight else f"APPROX_COUNT_DISTINCT({value})"


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
    grouped = [plan for plan in plans if plan.grouped]
    if grouped and (len(plans) > 1 or grouped[0].id_column or shapes):
        raise ValueError("a grouped column is counted by a query of its own")
    columns = sorted({plan.column for plan in plans} | {plan.id_column for plan in plans if plan.id_column})
    text = {name: f"c{i}" for i, name in enumerate(columns)}
    untrimmed = {plan.column for plan in plans if not plan.trim}
    texts = ", ".join(
        f"{_text(_quoted(name, dialect), dialect, trim=name not in untrimmed)} AS {text[name]}" for name in columns
    )
    if shapes:  # which values a trim would change: a full scan trims only the columns where the sample had some
        raw = {name: f"CAST({_quoted(name, dialect)} AS {_STRING[dialect]})" for name in columns}
        texts += "".join(f", ({raw[n]} LIKE ' %' OR {raw[n]} LIKE '% ') AS {text[n]}_padded" for n in columns)
    # Every name in the text is ours: columns are quoted identifiers, the table and conditions are constants.
    source = table
    if grouped:  # its distinct values first: grouping a dictionary-encoded column costs the engine next to nothing
        column = _quoted(grouped[0].column, dialect)
        source = f"(SELECT {column}, COUNT(*) AS n__ FROM {table} GROUP BY {column}) AS distinct_values"  # noqa: S608
    inner = f"SELECT {texts}{', n__' if grouped else ''} FROM {source}"  # noqa: S608
    count = _Counts("n__" if grouped else None)
    marks: list[str] = []
    derived: list[str] = []
    sums = [f"{count.rows()} AS n_rows"]
    for k, plan in enumerate(plans):
        value = text[plan.column]
        sums.append(f"{count.present(value)} AS p{k}_checked")
        if shapes:
            sums.append(f"COUNT_IF({value}_padded) AS p{k}_padded")
        if plan.distinct:
            sums.append(f"{count.distinct(value)} AS p{k}_distinct")
        for kind in plan.types:
            mark = f"p{k}_{kind.value}"
            if shapes:
                sums.append(f"{count.where(condition_sql(kind, 'shape', dialect, value))} AS {mark}__fit")
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
                sums.append(f"{count.where(f'{mark} = 2', alternatives=False)} AS {mark}__strong")
                sums.append(f"{count.where(f'{mark} >= 1', alternatives=False)} AS {mark}__fit")
            elif strong:  # what fits is what is strong: counted once
                sums.append(f"{count.where(strong)} AS {mark}__strong")
            elif rest:
                sums.append(f"{count.where(rest)} AS {mark}__fit")
    inner = f"SELECT *{''.join(', ' + d for d in derived)} FROM ({inner}) AS raw"  # noqa: S608
    middle = f"SELECT *{''.join(', ' + m for m in marks)} FROM ({inner}) AS texts"  # noqa: S608
    names = [s.rsplit(" AS ", 1)[1] for s in sums]
    return f"SELECT {', '.join(sums)} FROM ({middle}) AS marked", names  # noqa: S608


_STRING = {"duckdb": "VARCHAR", "spark": "STRING"}


def _text(column: str, dialect: str, *, trim: bool) -> str:
    """The value as text, empty as NULL, and with ``trim`` its spaces trimmed. Only values with a space in them are
    trimmed: TRIM on every value costs three times what the search for a space does, and the search a third less
    than testing both ends (DuckDB, 12 columns of a million rows). Even so the search costs a full scan a tenth of
    its time, so a full scan trims only the columns whose sample held a padded value (``ColumnPlan.trim``)."""
    text = f"CAST({column} AS {_STRING[dialect]})"
    if not trim:
        return f"NULLIF({text}, '')"
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
    """Run the counting queries and read their rows back into per-column counts (with ``shapes``, the regular
    expressions' matches are reported as ``fit`` and nothing as ``strong``, and how often each column's values
    repeat). With ``parts``, the columns are counted by that many queries at once: a query over a small table (a
    sample) runs on one thread. A grouped column is counted by a query of its own, over its distinct values."""
    rowwise = [plan for plan in plans if not plan.grouped]
    size = max(1, -(-len(rowwise) // parts))
    groups = [rowwise[i : i + size] for i in range(0, len(rowwise), size)]
    groups += [[plan] for plan in plans if plan.grouped]
    queries = [build_query(group, dialect=engine.dialect, table=table, shapes=shapes) for group in groups]
    sqls = [sql for sql, _ in queries]
    columns = [plan.column for plan in plans]
    if shapes:
        sqls.append(_repeats_query(columns, dialect=engine.dialect, table=table))
    answers = engine.one_rows(sqls)
    counts: dict[str, ValueCounts] = {}
    result = ScanResult(rows=0, counts=counts)
    for group, (_, names), row in zip(groups, queries, answers, strict=False):
        values = dict(zip(names, (int(v or 0) for v in row), strict=True))  # type: ignore[call-overload]
        result.rows = values["n_rows"]
        for k, plan in enumerate(group):
            found = ValueCounts(checked=values[f"p{k}_checked"])
            for kind in plan.types:
                mark = f"p{k}_{kind.value}"
                found.strong[kind] = 0 if shapes else values.get(f"{mark}__strong", 0)
                found.fit[kind] = values.get(f"{mark}__fit", found.strong[kind])
            counts[plan.column] = found
            if shapes:
                result.padded[plan.column] = values[f"p{k}_padded"]
            if plan.distinct:
                result.distinct[plan.column] = values[f"p{k}_distinct"]
    if shapes:
        numbers = [int(v or 0) for v in answers[-1]]
        result.repeats = {c: Repeats(*numbers[3 * i : 3 * i + 3]) for i, c in enumerate(columns)}
    return result


def _repeats_query(columns: Sequence[str], *, dialect: str, table: str) -> str:
    """One row: for each column, its distinct values, and those that occur once and twice, in ``table``."""
    parts = []
    for i, name in enumerate(columns):
        column = _quoted(name, dialect)
        tally = f"SELECT COUNT(*) AS n FROM {table} WHERE {column} IS NOT NULL GROUP BY {column}"  # noqa: S608
        parts.append(f"(SELECT COUNT(*), COUNT_IF(n = 1), COUNT_IF(n = 2) FROM ({tally}) AS t) AS r{i}")  # noqa: S608
    return f"SELECT * FROM {', '.join(parts)}"  # noqa: S608


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
        # (From the footers through the engine: importing pyarrow would cost the scan a tenth of a second more.)
        listed = ", ".join(_literal(str(f)) for f in self.files)
        footers = dict(
            self.connection.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata([{listed}])").fetchall()  # noqa: S608
        )
        file_rows = [int(footers[str(f)]) for f in self.files]
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
        from shengjing.store.spark import spark_session

        self.session = spark_session(master, "shengjing-classify")
        self.session.read.parquet(*[str(f) for f in files]).createOrReplaceTempView("snapshot")

    def one_rows(self, sqls: Sequence[str]) -> list[Sequence[object]]:
        return [tuple(self.session.sql(sql).collect()[0]) for sql in sqls]

    def close(self) -> None:
        self.session.catalog.dropTempView("snapshot")
