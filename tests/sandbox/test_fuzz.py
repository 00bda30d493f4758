"""Generated queries against the sandbox: Hypothesis writes SQL from a grammar over the city's schema (projections of
columns, functions, aggregates with FILTER, CASE, comparisons, GROUP BY, HAVING, ORDER BY, LIMIT, joins, IN, EXISTS
and scalar subqueries, derived tables, CTEs, set operations), using every column, the protected ones too.

1. The checker never fails but by refusing (``QueryRefused``).
2. A query it accepts, rewritten and run on DuckDB over the city's data, shows no protected value, no more rows than
   the row limit, and, when its root groups, only groups of at least k rows, counted again on the raw data by plain
   DuckDB (the row filter and the mask applied by hand).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from shengjing.sandbox import checker
from shengjing.sandbox.checker import QueryRefused
from shengjing.sandbox.engines import DuckDBEngine, EngineFailure, Limits
from shengjing.sandbox.rewriter import rewrite, source_name
from tests.sandbox.test_redteam import POLICY, ROW_LIMIT, K, leaks, write_lake

# Each column's kind, and the uses its control allows: a grammar biased towards them accepts enough queries to run,
# and still picks any column now and then, to look for what the checker lets through.
COLUMNS: dict[str, dict[str, str]] = {
    "person": {"gmsfhm": "text", "xm": "text", "xb": "text", "qx": "text", "nl": "number", "sr": "number",
               "zy": "text", "bz": "text"},
    "insurance": {"gmsfhm": "text", "jfje": "number", "xz": "text"},
}  # fmt: skip
ROLES = {  # which controls suit a role
    "output": {"plain", "masked"},
    "key": {"plain", "masked", "group_by"},
    "filter": {"plain", "masked", "group_by", "compare"},
    "aggregate": {"plain", "masked", "group_by", "aggregate"},
}
FUNCTIONS = {
    "text": ["LOWER({})", "UPPER({})", "LEFT({}, 3)", "SUBSTR({}, 2, 4)", "TRIM({})", "REPLACE({}, '1', 'x')",
             "MD5({})", "REGEXP_EXTRACT({}, '[0-9]+')", "{} || '-'", "COALESCE({}, 'none')"],
    "number": ["ABS({})", "ROUND({}, 1)", "{} + 1", "{} - 7", "{} * 2", "{} / 3", "{} // 2", "{} % 5",
               "GREATEST({}, 10)", "NULLIF({}, 0)", "{} // ({} - 37)"],
}  # fmt: skip
TO_NUMBER = ["LENGTH({})", "TRY_CAST({} AS BIGINT)", "STRPOS({}, '1')"]
LITERALS = {
    "text": ["'210102'", "'1'", "'教师'", "'养老'", "'x'", "'备注'"],
    "number": ["0", "18", "37", "60", "5000.5"],
}
AGGREGATES = {
    "number": ["SUM({})", "AVG({})", "STDDEV({})", "MIN({})", "MAX({})", "COUNT({})", "COUNT(DISTINCT {})"],
    "text": ["COUNT({})", "COUNT(DISTINCT {})", "MIN({})", "MAX({})", "STRING_AGG({}, ',')", "ANY_VALUE({})"],
}
SOURCES = [  # (FROM clause, the aliases it brings: alias → table)
    ("person p", {"p": "person"}),
    ("insurance i", {"i": "insurance"}),
    ("person p JOIN insurance i ON p.gmsfhm = i.gmsfhm", {"p": "person", "i": "insurance"}),
    ("person p LEFT JOIN insurance i ON i.gmsfhm = p.gmsfhm", {"p": "person", "i": "insurance"}),
    ("person p JOIN person q ON p.qx = q.qx", {"p": "person", "q": "person"}),
]


@dataclass(frozen=True)
class Value:
    sql: str
    kind: str  # text | number | boolean


Scope = dict[str, dict[str, str]]  # alias → column → kind (tables, derived tables, CTEs)


def _scope(aliases: dict[str, str]) -> Scope:
    return {alias: COLUMNS[table] for alias, table in aliases.items()}


def _control(scope_alias: str, table_of: dict[str, str], column: str) -> str:
    table = POLICY.table(table_of.get(scope_alias, ""))
    policy = table.column(column) if table is not None else None
    return policy.control.value if policy is not None else "plain"  # a derived table's column: any use is tried


@st.composite
def column(draw: st.DrawFn, scope: Scope, tables: dict[str, str], role: str, kind: str | None = None) -> Value:
    candidates = [(a, c, k) for a, columns in scope.items() for c, k in columns.items() if kind in (None, k)]
    suited = [x for x in candidates if _control(x[0], tables, x[1]) in ROLES[role]]
    alias, name, found = draw(st.sampled_from(suited if suited and draw(st.integers(0, 9)) else candidates or suited))
    return Value(f"{alias}.{name}", found)


@st.composite
def value(draw: st.DrawFn, scope: Scope, tables: dict[str, str], role: str, depth: int = 2) -> Value:
    choice = draw(st.integers(0, 9 if depth > 0 else 2))
    if choice <= 1:
        return draw(column(scope, tables, role))
    if choice == 2:
        kind = draw(st.sampled_from(["text", "number"]))
        return Value(draw(st.sampled_from(LITERALS[kind])), kind)
    inner = draw(value(scope, tables, role, depth - 1))
    if inner.kind == "boolean":
        return inner
    if choice <= 5:
        template = draw(st.sampled_from(FUNCTIONS[inner.kind]))
        return Value(template.replace("{}", inner.sql), inner.kind)
    if choice == 6 and inner.kind == "text":
        return Value(draw(st.sampled_from(TO_NUMBER)).replace("{}", inner.sql), "number")
    if choice == 7:
        test = draw(condition(scope, tables, "filter", depth - 1))
        other = draw(value(scope, tables, role, depth - 1))
        fallback = other.sql if other.kind == inner.kind else draw(st.sampled_from(LITERALS[inner.kind]))
        return Value(f"CASE WHEN {test.sql} THEN {inner.sql} ELSE {fallback} END", inner.kind)
    if choice == 8:
        table, alias = draw(st.sampled_from([("person", "s"), ("insurance", "t")]))
        inner_scope, inner_tables = {alias: COLUMNS[table]}, {alias: table}
        aggregate = draw(aggregate_of(inner_scope, inner_tables, depth - 1))
        test = draw(condition(inner_scope | scope, inner_tables | tables, "filter", 0))
        return Value(f"(SELECT {aggregate.sql} FROM {table} {alias} WHERE {test.sql})", aggregate.kind)
    partition = draw(column(scope, tables, "key"))
    function = draw(
        st.sampled_from(["ROW_NUMBER()", "RANK()", f"SUM({inner.sql})" if inner.kind == "number" else "COUNT(*)"])
    )
    return Value(f"{function} OVER (PARTITION BY {partition.sql} ORDER BY {inner.sql})", "number")


@st.composite
def condition(draw: st.DrawFn, scope: Scope, tables: dict[str, str], role: str, depth: int = 1) -> Value:
    choice = draw(st.integers(0, 8 if depth > 0 else 4))
    left = draw(value(scope, tables, role, max(depth - 1, 0)))
    kind = left.kind if left.kind != "boolean" else "number"
    literal = draw(st.sampled_from(LITERALS[kind]))
    if choice <= 1:
        right = draw(value(scope, tables, role, 0))
        right_sql = right.sql if right.kind == left.kind and draw(st.booleans()) else literal
        return Value(f"{left.sql} {draw(st.sampled_from(['=', '<>', '<', '>=']))} {right_sql}", "boolean")
    if choice == 2:
        return Value(f"{left.sql} IN ({literal}, {draw(st.sampled_from(LITERALS[kind]))})", "boolean")
    if choice == 3:
        return Value(f"{left.sql} IS {draw(st.sampled_from(['', 'NOT ']))}NULL", "boolean")
    if choice == 4:
        pattern = draw(st.sampled_from(["'21%'", "'%1'", "'教%'"]))
        return Value(f"{left.sql} LIKE {pattern}" if kind == "text" else f"{left.sql} BETWEEN 18 AND 60", "boolean")
    if choice == 5:
        a, b = draw(condition(scope, tables, role, depth - 1)), draw(condition(scope, tables, role, depth - 1))
        return Value(f"({a.sql} {draw(st.sampled_from(['AND', 'OR']))} {b.sql})", "boolean")
    if choice == 6:
        return Value(f"NOT ({draw(condition(scope, tables, role, depth - 1)).sql})", "boolean")
    outer = draw(column(scope, tables, "filter"))
    table, alias = draw(st.sampled_from([("person", "s"), ("insurance", "t")]))
    key = draw(column({alias: COLUMNS[table]}, {alias: table}, "filter"))
    test = draw(condition({alias: COLUMNS[table]}, {alias: table}, "filter", 0))
    if choice == 7:
        return Value(f"{outer.sql} IN (SELECT {key.sql} FROM {table} {alias} WHERE {test.sql})", "boolean")
    return Value(f"EXISTS (SELECT 1 FROM {table} {alias} WHERE {key.sql} = {outer.sql} AND {test.sql})", "boolean")


@st.composite
def aggregate_of(draw: st.DrawFn, scope: Scope, tables: dict[str, str], depth: int = 1) -> Value:
    if draw(st.integers(0, 4)) == 0:
        sql = "COUNT(*)"
    else:
        argument = draw(value(scope, tables, "aggregate", depth))
        kind = argument.kind if argument.kind != "boolean" else "text"
        sql = draw(st.sampled_from(AGGREGATES[kind])).replace("{}", argument.sql)
    if draw(st.integers(0, 4)) == 0:
        sql += f" FILTER (WHERE {draw(condition(scope, tables, 'filter', 0)).sql})"
    return Value(sql, "number")


@dataclass(frozen=True)
class Query:
    sql: str
    outputs: list[Value]  # kinds of the output columns, named c0, c1, …


@st.composite
def source(draw: st.DrawFn, depth: int) -> tuple[str, Scope, dict[str, str], str]:
    """A FROM clause, its scope, which table each alias reads, and the WITH clause it needs (or '')."""
    kind = draw(st.integers(0, 4 if depth > 0 else 0))
    if kind <= 2:
        text, aliases = draw(st.sampled_from(SOURCES))
        return text, _scope(aliases), aliases, ""
    inner = draw(select(depth - 1))
    columns = {f"c{n}": v.kind for n, v in enumerate(inner.outputs)}
    if kind == 3:
        return f"({inner.sql}) d", {"d": columns}, {}, ""
    return "w", {"w": columns}, {}, f"WITH w AS ({inner.sql}) "


@st.composite
def select(draw: st.DrawFn, depth: int = 1) -> Query:
    """One SELECT, grouping or not."""
    from_, scope, tables, with_ = draw(source(depth))
    where = f" WHERE {draw(condition(scope, tables, 'filter')).sql}" if draw(st.booleans()) else ""
    if draw(st.booleans()):  # grouping: the keys, then aggregates
        keys = draw(st.lists(key(scope, tables), min_size=1, max_size=2, unique_by=lambda v: v.sql))
        aggregates = draw(st.lists(aggregate_of(scope, tables), min_size=1, max_size=3))
        outputs = keys + aggregates
        group = " GROUP BY " + ", ".join(k.sql for k in keys)
        having = f" HAVING {draw(aggregate_of(scope, tables, 0)).sql} > 1" if draw(st.integers(0, 3)) == 0 else ""
        tail = group + having
    else:
        outputs = draw(st.lists(value(scope, tables, "output"), min_size=1, max_size=3))
        tail = ""
    projections = ", ".join(f"{v.sql} AS c{n}" for n, v in enumerate(outputs))
    order = f" ORDER BY {draw(st.integers(1, len(outputs)))}" if draw(st.booleans()) else ""
    limit = f" LIMIT {draw(st.sampled_from([1, 5, 50, 500]))}" if draw(st.booleans()) else ""
    distinct = "DISTINCT " if not tail and draw(st.integers(0, 5)) == 0 else ""
    return Query(f"{with_}SELECT {distinct}{projections} FROM {from_}{where}{tail}{order}{limit}", outputs)


@st.composite
def key(draw: st.DrawFn, scope: Scope, tables: dict[str, str]) -> Value:
    if draw(st.integers(0, 3)) == 0:
        return draw(condition(scope, tables, "filter", 0))  # a grouping by a comparison
    found = draw(column(scope, tables, "key"))
    return Value(f"LEFT({found.sql}, 4)", "text") if found.kind == "text" and draw(st.integers(0, 4)) == 0 else found


@st.composite
def query(draw: st.DrawFn) -> str:
    first = draw(select())
    if draw(st.integers(0, 4)):
        return first.sql
    second = draw(select(0))
    operation = draw(st.sampled_from(["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]))
    return f"({first.sql}) {operation} ({second.sql})"


TOKENS = ["SELECT", "FROM", "WHERE", "(", ")", ",", "*", "p.*", "person", "JOIN", "ON", "UNION", "GROUP BY 1",
          "ORDER BY", "LIMIT 1", "AS", "NOT", "IN", "EXISTS", "CASE", "END", "::INT", "'", ";", "--", "/*", "xm",
          "gmsfhm", "__sj_src_person", "TRY(", "read_csv('x')", "LATERAL", "RECURSIVE", "$1", "QUALIFY",
          "OVER ()"]  # fmt: skip


@st.composite
def mangled(draw: st.DrawFn) -> str:
    """A generated query with a span cut out or a token spliced in: what a typing operator, or an attacker, sends."""
    sql = draw(query())
    start = draw(st.integers(0, len(sql)))
    end = draw(st.integers(start, min(len(sql), start + 40)))
    return sql[:start] + draw(st.sampled_from(["", " ", *TOKENS])) + sql[end:]


FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@FUZZ
@given(st.one_of(query(), mangled()))
def test_the_checker_only_ever_refuses(sql: str) -> None:
    try:
        checked = checker.check(sql, POLICY)
    except QueryRefused as refused:
        assert refused.reasons and all(r.message_zh and r.message_en for r in refused.reasons)
        return
    rewrite(checked, POLICY)  # an accepted query always rewrites


# --- what an accepted query shows -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return write_lake(tmp_path_factory.mktemp("fuzz-lake"))


RAW_VIEWS = Template(
    # The city's row filter and bz's mask (keep_first:2), written here by hand rather than taken from the rewriter.
    "CREATE VIEW person AS SELECT * REPLACE (LEFT(bz, 2) || REPEAT('*', GREATEST(LENGTH(bz) - 2, 0)) AS bz) "
    "FROM read_parquet('$person') WHERE nl >= 18; CREATE VIEW insurance AS SELECT * FROM read_parquet('$insurance')"
)


def group_sizes(checked: checker.CheckedQuery, lake: dict[str, list[Path]]) -> dict[tuple[Any, ...], int] | None:
    """The rows in each group of the root (by its keys), on the raw data, by plain DuckDB: None if the root does not
    group by keys it outputs, if another SELECT aggregates (its suppressed groups change what the root sees), or if
    the recount fails (on an error TRY hid in the sandbox)."""
    root = checked.tree
    group = root.args.get("group") if isinstance(root, exp.Select) else None
    if group is None or [id(s) for s in checked.aggregating] != [id(root)]:
        return None
    projected = [p.this if isinstance(p, exp.Alias) else p for p in root.selects]
    if any(key not in projected for key in group.expressions):
        return None
    recount = root.copy()
    keys = [exp.alias_(k.copy(), f"k{n}", quoted=True) for n, k in enumerate(group.expressions)]
    recount.set("expressions", [*keys, exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True)])
    for part in ("having", "order", "limit", "offset", "qualify", "distinct"):
        recount.set(part, None)
    connection = duckdb.connect()
    try:
        paths = {t: str(lake[source_name(t)][0]) for t in ("person", "insurance")}
        connection.execute(RAW_VIEWS.substitute(paths))
        rows = connection.execute(recount.sql(dialect="duckdb")).fetchall()
    except duckdb.Error:
        return None
    finally:
        connection.close()
    return {_rounded(row[:-1]): row[-1] for row in rows}


def _rounded(values: Any) -> tuple[Any, ...]:
    """A group's key, its floats rounded (a key may be a sum, added up in another order by another run)."""
    return tuple(round(v, 6) if isinstance(v, float) else v for v in values)


def _key_of(row: dict[str, Any], checked: checker.CheckedQuery) -> tuple[Any, ...]:
    projected: list[exp.Expression] = [p.this if isinstance(p, exp.Alias) else p for p in checked.tree.selects]
    names = [p.alias_or_name for p in checked.tree.selects]
    return _rounded(row[names[projected.index(k)]] for k in checked.tree.args["group"].expressions)


def _runs_clean(sql: str, lake: dict[str, list[Path]]) -> None:
    try:
        checked = checker.check(sql, POLICY)
    except QueryRefused:
        return
    rewritten = rewrite(checked, POLICY)
    engine = DuckDBEngine()
    try:
        table = engine.run(
            rewritten.sql(engine.dialect),
            {name: lake[name] for name in rewritten.sources},
            fetch=rewritten.fetch,
            limits=Limits(seconds=20),
        )
    except EngineFailure as failed:  # a generated query may not bind (types, grouping): it says nothing of the data
        assert not leaks([failed.message_zh, failed.message_en, str(failed.details)])
        return
    assert table.num_rows <= rewritten.fetch <= ROW_LIMIT + 1
    found = leaks(value for column in table.to_pydict().values() for value in column)
    assert not found, (sql, found)
    sizes = group_sizes(checked, lake)
    if sizes is not None:
        for row in table.to_pylist():
            assert sizes.get(_key_of(row, checked), 0) >= K, (sql, row)


@FUZZ
@given(sql=query())
def test_an_accepted_query_shows_nothing_protected_and_only_groups_of_k(sql: str, lake: dict[str, list[Path]]) -> None:
    _runs_clean(sql, lake)
