"""The checker: an operator's SQL is accepted only if every use of every column is proven allowed.

The SQL is parsed by sqlglot (DuckDB's dialect, FROM-first included), must be one read-only query over the
authorized tables and the allowed functions, and is qualified against the authorization's schema, which expands
``*`` and gives every column its table. Then, like SecretFlow SCQL's column control list, each value is followed
from the columns it is made of to where it ends up, through CTEs, derived tables, subqueries (a correlated one's
value carries the outer columns it reads), set operations and window functions. A value carries *flows*: for each
physical column it is derived from, how far that column has been reduced (row by row, as a group key, inside a
COUNT/SUM/AVG/STDDEV/VAR) and whether only the outcome of a comparison of it survives; until it is aggregated, a
value of an aggregate-only column may only be added to others or scaled by constants. Where values end up (*sinks*:
the output and ORDER BY, GROUP BY keys and DISTINCT, filters, join keys, which must be copies of authorized columns
of one kind, a join column's of another join column), each flow must be allowed by its column's control. Anything
not resolved is refused: a column without a table, a ``*`` left unexpanded, a function or clause not on the
allow-lists.

A refusal names the column, its control and the clause, never a data value (the checker sees none).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from shengjing.errors import ShengjingError
from shengjing.sandbox.policy import CONTROL_LABELS, RESERVED_PREFIX, ColumnPolicy, Control, Policy, TablePolicy

MAX_SQL_CHARS = 50_000
MAX_NODES = 20_000
MAX_TABLE_REFERENCES = 8


class Level(IntEnum):
    """How far a column's values are reduced in a value derived from them."""

    ROW = 0  # one value per row (the column itself, or a function of it)
    GROUPED = 1  # the key of a group
    AGGREGATED = 2  # inside COUNT, SUM, AVG, STDDEV or VAR


@dataclass(frozen=True, order=True)
class Ref:
    table: str  # the authorized table's SQL name
    column: str


@dataclass(frozen=True, order=True)
class Flow:
    ref: Ref
    level: Level
    cond: bool  # only the outcome of a comparison of it reaches the value


Flows = frozenset[Flow]
NO_FLOWS: Flows = frozenset()


class Sink(StrEnum):
    OUTPUT = "output"
    GROUP_KEY = "group_key"
    FILTER = "filter"
    JOIN_KEY = "join_key"


@dataclass(frozen=True)
class Reason:
    """Why a query is refused: what, where, and (for a column) which control forbids it."""

    code: str
    message_zh: str
    message_en: str
    clause: str = ""
    table: str | None = None
    column: str | None = None
    control: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "clause": self.clause,
            "table": self.table,
            "column": self.column,
            "control": self.control,
        }


class QueryRefused(ShengjingError):
    """The checker refused a query: its reasons are in ``details['reasons']``."""

    code = "query_refused"
    http_status = 422
    exit_code = 2

    def __init__(self, reasons: list[Reason]) -> None:
        first = reasons[0]
        more_zh = f"（另有 {len(reasons) - 1} 处）" if len(reasons) > 1 else ""
        more_en = f" ({len(reasons) - 1} more)" if len(reasons) > 1 else ""
        super().__init__(
            f"查询被拒绝：{first.message_zh}{more_zh}",
            f"Query refused: {first.message_en}{more_en}",
            reasons=[r.as_dict() for r in reasons],
        )
        self.reasons = reasons


# --- what may appear ----------------------------------------------------------------------------------------------

SAFE_AGGREGATES: tuple[type[exp.Expression], ...] = (
    exp.Count,
    exp.Sum,
    exp.Avg,
    exp.Stddev,
    exp.StddevPop,
    exp.StddevSamp,
    exp.Variance,
    exp.VariancePop,
    exp.CountIf,
    exp.ApproxDistinct,
)
# Aggregates whose result is one of the values (or all of them): they reduce rows, but reveal as much as the rows.
REVEALING_AGGREGATES: tuple[type[exp.Expression], ...] = (
    exp.Min,
    exp.Max,
    exp.AnyValue,
    exp.First,
    exp.Last,
    exp.ArgMax,
    exp.ArgMin,
    exp.Median,
    exp.Quantile,
    exp.PercentileCont,
    exp.PercentileDisc,
    exp.Mode,
    exp.ArrayAgg,
    exp.GroupConcat,
)
WINDOW_FUNCTIONS: tuple[type[exp.Expression], ...] = (
    exp.RowNumber,
    exp.Rank,
    exp.DenseRank,
    exp.Ntile,
    exp.Lag,
    exp.Lead,
    exp.FirstValue,
    exp.LastValue,
    exp.NthValue,
    exp.PercentRank,
    exp.CumeDist,
)
# Scalar functions: deterministic, bounded in time and memory by their input, and unable to raise an error that
# carries a value (CAST may: TRY_CAST is allowed instead). REPEAT, LPAD/RPAD and the like could make gigabytes of
# one row; files, settings, variables, lists and structs are out of reach by omission.
SCALAR_FUNCTIONS: tuple[type[exp.Expression], ...] = (
    exp.Lower,
    exp.Upper,
    exp.Length,
    exp.Substring,
    exp.Left,
    exp.Right,
    exp.Trim,
    exp.Concat,
    exp.ConcatWs,
    exp.DPipe,
    exp.StrPosition,
    exp.Replace,
    exp.Reverse,
    exp.Initcap,
    exp.RegexpLike,
    exp.RegexpExtract,
    exp.RegexpReplace,
    exp.StartsWith,
    exp.EndsWith,
    exp.Contains,
    exp.Abs,
    exp.Round,
    exp.Floor,
    exp.Ceil,
    exp.Sqrt,
    exp.Ln,
    exp.Log,
    exp.Exp,
    exp.Pow,
    exp.Sign,
    exp.Greatest,
    exp.Least,
    exp.Year,
    exp.Month,
    exp.Day,
    exp.Quarter,
    exp.Week,
    exp.DayOfWeek,
    exp.DayOfMonth,
    exp.DayOfYear,
    exp.Hour,
    exp.Minute,
    exp.Second,
    exp.Extract,
    exp.DateTrunc,
    exp.TimestampTrunc,
    exp.DateDiff,
    exp.DateAdd,
    exp.DateSub,
    exp.TimeToStr,
    exp.StrToDate,
    exp.StrToTime,
    exp.CurrentDate,
    exp.Coalesce,
    exp.Nullif,
    exp.If,
    exp.Case,
    exp.TryCast,
    exp.SHA2,
    exp.MD5,
)
ANONYMOUS_FUNCTIONS = frozenset({"date_part", "datepart"})  # DuckDB functions sqlglot has no class for
PREDICATES: tuple[type[exp.Expression], ...] = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Xor,
    exp.RegexpLike,
    exp.StartsWith,
    exp.EndsWith,
    exp.Contains,
)
STRUCTURE: tuple[type[exp.Expression], ...] = (
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Subquery,
    exp.From,
    exp.Join,
    exp.Table,
    exp.TableAlias,
    exp.Alias,
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.Star,
    exp.Where,
    exp.Group,
    exp.Having,
    exp.Qualify,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.Offset,
    exp.With,
    exp.CTE,
    exp.Paren,
    exp.Tuple,
    exp.Distinct,
    exp.Window,
    exp.WindowSpec,
    exp.Filter,
    exp.DataType,
    exp.DataTypeParam,
    exp.Var,
    exp.Interval,
    exp.If,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.IntDiv,
    exp.Mod,
    exp.Neg,
    exp.Exists,
    exp.IgnoreNulls,
    exp.RespectNulls,
)
ALLOWED_NODES = frozenset(STRUCTURE + PREDICATES + SCALAR_FUNCTIONS + SAFE_AGGREGATES + REVEALING_AGGREGATES)
ALLOWED_NODES |= frozenset(WINDOW_FUNCTIONS)
SAFE_TYPES = frozenset(
    {
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.TEXT,
        exp.DataType.Type.CHAR,
        exp.DataType.Type.INT,
        exp.DataType.Type.BIGINT,
        exp.DataType.Type.SMALLINT,
        exp.DataType.Type.TINYINT,
        exp.DataType.Type.DOUBLE,
        exp.DataType.Type.FLOAT,
        exp.DataType.Type.DECIMAL,
        exp.DataType.Type.DATE,
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.BOOLEAN,
    }
)
JOIN_METHODS_REFUSED = frozenset({"NATURAL", "POSITIONAL", "ASOF"})
# Join keys are of one kind: an implicit cast between kinds could fail on a value, and a join key stays outside TRY
# so that the engine can plan a hash join on it.
TYPE_KINDS = {"BIGINT": "number", "DOUBLE": "number"}
JOIN_KEY = "sj_join_key"  # meta of an equality the checker proved to be a join key (the rewriter leaves it as it is)

CLAUSE_NAMES = {
    "select": "SELECT",
    "where": "WHERE",
    "group": "GROUP BY",
    "having": "HAVING",
    "qualify": "QUALIFY",
    "order": "ORDER BY",
    "on": "JOIN ON",
}


# --- the result --------------------------------------------------------------------------------------------------


@dataclass
class CheckedQuery:
    """An accepted query: its qualified tree and what the rewriter needs to know of it."""

    sql: str
    tree: exp.Query
    outputs: list[tuple[str, Flows]]
    tables: dict[str, TablePolicy]  # alias → the authorized table it reads (every table reference)
    aggregating: list[exp.Select]  # the SELECTs that aggregate (groups below k are suppressed in each)
    columns_used: set[Ref] = field(default_factory=set)

    @property
    def resources(self) -> list[str]:
        return sorted({t.resource for t in self.tables.values()})


# --- checking --------------------------------------------------------------------------------------------------


def parse(sql: str) -> exp.Query:
    """One read-only query, or a refusal that says why (multiple statements, not a query, does not parse)."""
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused(
            [
                _reason(
                    "too_long", f"查询超过 {MAX_SQL_CHARS} 个字符。", f"The query exceeds {MAX_SQL_CHARS} characters."
                )
            ]
        )
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as exc:
        where = exc.errors[0] if exc.errors else {}
        line, col = where.get("line"), where.get("col")
        raise QueryRefused(
            [
                _reason(
                    "syntax",
                    f"SQL 语法错误（第 {line} 行第 {col} 列）：{where.get('description', '')}",
                    f"SQL syntax error at line {line}, column {col}: {where.get('description', '')}",
                )
            ]
        ) from None
    except SqlglotError as exc:
        raise QueryRefused([_reason("syntax", f"SQL 无法解析：{exc}", f"The SQL does not parse: {exc}")]) from None
    if len(statements) != 1:
        raise QueryRefused(
            [
                _reason(
                    "statements",
                    f"一次只能提交一条查询语句（收到 {len(statements)} 条）。",
                    f"Submit exactly one statement (got {len(statements)}).",
                )
            ]
        )
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        kind = tree.key.upper()
        raise QueryRefused(
            [
                _reason(
                    "not_a_query",
                    f"只允许只读查询（SELECT），不允许 {kind}。",
                    f"Only read-only queries (SELECT) are allowed, not {kind}.",
                )
            ]
        )
    return tree


def check(sql: str, policy: Policy) -> CheckedQuery:
    """Check ``sql`` against ``policy``; every reason found is reported at once."""
    tree = parse(sql)
    _check_nodes(tree, policy)
    _check_tables(tree, policy)
    schema = {t.table: {name: column.sql_type for name, column in t.columns.items()} for t in policy.tables.values()}
    try:
        qualified = qualify(
            tree.copy(),
            schema=schema,
            dialect="duckdb",
            expand_stars=True,
            validate_qualify_columns=True,
            quote_identifiers=True,
            identify=True,
        )
    except OptimizeError as exc:
        raise QueryRefused(
            [_reason("unresolved", f"无法解析查询中的名称：{exc}", f"A name in the query cannot be resolved: {exc}")]
        ) from None
    except (SqlglotError, RecursionError, ValueError, KeyError, AttributeError, TypeError) as exc:  # fail closed
        raise QueryRefused(
            [_reason("unanalysable", "无法分析该查询。", f"The query cannot be analysed ({type(exc).__name__}).")]
        ) from None
    if not isinstance(qualified, exp.Query):
        raise QueryRefused([_reason("not_a_query", "只允许只读查询。", "Only read-only queries are allowed.")])
    leftover = [s for s in qualified.find_all(exp.Star) if not isinstance(s.parent, exp.Count)]
    if leftover:
        raise QueryRefused([_reason("star", "无法展开 *。", "A * could not be expanded.")])
    if any(isinstance(node, exp.TableColumn) for node in qualified.walk()):
        raise QueryRefused(
            [
                _reason(
                    "whole_row",
                    "不允许整行引用（把表名当作列使用）。",
                    "Whole-row references (a table used as a column) are not allowed.",
                )
            ]
        )
    # What qualifying made of the query is held to the same allow-lists (fail closed on anything new).
    reasons = list(_node_reasons(qualified, policy))
    if reasons:
        raise QueryRefused(_distinct(reasons))
    analyzer = _Analyzer(policy)
    try:
        outputs = analyzer.run(qualified)
    except (SqlglotError, RecursionError, ValueError, KeyError, AttributeError, TypeError) as exc:  # fail closed
        raise QueryRefused(
            [_reason("unanalysable", "无法分析该查询。", f"The query cannot be analysed ({type(exc).__name__}).")]
        ) from None
    if analyzer.reasons:
        raise QueryRefused(_distinct(analyzer.reasons))
    return CheckedQuery(
        sql=sql,
        tree=qualified,
        outputs=outputs,
        tables=analyzer.table_aliases,
        aggregating=analyzer.aggregating,
        columns_used=analyzer.columns_used,
    )


def check_row_filter(condition: exp.Expression, table: TablePolicy, policy: Policy) -> None:
    """A row filter may use any column of its own table (it is the data bureau's), the functions a query may use,
    and no subquery or aggregate."""
    reasons = list(_node_reasons(condition, policy))
    for node in condition.walk():
        if isinstance(node, (exp.Query, exp.Subquery, exp.Window, *SAFE_AGGREGATES, *REVEALING_AGGREGATES)):
            reasons.append(
                _reason(
                    "row_filter",
                    "行过滤条件不能含有子查询或聚合。",
                    "A row filter cannot hold a subquery or an aggregate.",
                )
            )
        if isinstance(node, exp.Column) and (node.table or table.column(node.name) is None):
            reasons.append(
                _reason(
                    "row_filter",
                    f"行过滤条件引用了表 {table.table} 之外或不存在的列 {node.sql()}。",
                    f"The row filter names {node.sql()}, which is not a column of {table.table}.",
                )
            )
    if reasons:
        raise QueryRefused(_distinct(reasons))


def _reason(code: str, zh: str, en: str, **where: str | None) -> Reason:
    return Reason(code, zh, en, **where)  # type: ignore[arg-type]


def _distinct(reasons: Iterable[Reason]) -> list[Reason]:
    return list(dict.fromkeys(reasons))


def _node_reasons(tree: exp.Expression, policy: Policy) -> Iterator[Reason]:
    """Every node must be on the allow-lists: a read-only query's structure, predicates and allowed functions."""
    count = 0
    for node in tree.walk():
        count += 1
        if count > MAX_NODES:
            yield _reason("too_large", "查询过于复杂。", "The query is too complex.")
            return
        if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
            yield _reason(
                "cast",
                "不允许 CAST 或 ::（转换失败的报错会带出数据值），请用 TRY_CAST。",
                "CAST and :: are not allowed (a failed cast reports the value): use TRY_CAST.",
            )
            continue
        if isinstance(node, exp.DataType) and node.this not in SAFE_TYPES:
            yield _reason("type", f"不允许转换为类型 {node.sql()}。", f"Casting to {node.sql()} is not allowed.")
            continue
        if isinstance(node, exp.Anonymous):
            if node.name.lower() in ANONYMOUS_FUNCTIONS or node.name.lower() in policy.functions:
                continue
            yield _reason(
                "function",
                f"不允许使用函数 {node.name}。",
                f"The function {node.name} is not allowed.",
                clause=node.name,
            )
            continue
        if isinstance(node, exp.Identifier) and str(node.this).lower().startswith(RESERVED_PREFIX):
            yield _reason("reserved", f"名称 {node.this} 为系统保留。", f"The name {node.this} is reserved.")
            continue
        if type(node) not in ALLOWED_NODES:
            name = node.sql_name() if isinstance(node, exp.Func) else node.key.upper()
            zh, en = (
                (f"不允许使用函数 {name}。", f"The function {name} is not allowed.")
                if isinstance(node, exp.Func)
                else (f"不允许使用 {name}。", f"{name} is not allowed.")
            )
            yield _reason("function" if isinstance(node, exp.Func) else "syntax_element", zh, en, clause=name)


def _check_nodes(tree: exp.Query, policy: Policy) -> None:
    reasons = list(_node_reasons(tree, policy))
    for with_ in tree.find_all(exp.With):
        if with_.args.get("recursive"):
            reasons.append(
                _reason("recursive", "不允许递归 CTE（WITH RECURSIVE）。", "Recursive CTEs are not allowed.")
            )
    for star in tree.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count | exp.Column | exp.Select):
            reasons.append(
                _reason("star", "* 只能用于 SELECT * 或 COUNT(*)。", "* may only be used as SELECT * or COUNT(*).")
            )
    for group in tree.find_all(exp.Group):
        if group.args.get("all"):
            reasons.append(
                _reason(
                    "group_by_all",
                    "不支持 GROUP BY ALL，请写出分组键。",
                    "GROUP BY ALL is not supported: name the keys.",
                )
            )
    for distinct in tree.find_all(exp.Distinct):
        if distinct.args.get("on") is not None:
            reasons.append(
                _reason(
                    "distinct_on",
                    "不支持 DISTINCT ON（它按列分组却不汇总），请用 GROUP BY。",
                    "DISTINCT ON is not supported (it groups rows without aggregating them): use GROUP BY.",
                )
            )
    for join in tree.find_all(exp.Join):
        method = (join.args.get("method") or "").upper()
        if method in JOIN_METHODS_REFUSED:  # looked for before qualifying, which turns NATURAL into ON …
            reasons.append(_join_kind(method))
    for limit in (*tree.find_all(exp.Limit), *tree.find_all(exp.Offset)):
        value = limit.args.get("expression")
        if not isinstance(value, exp.Literal) or not value.is_int:
            reasons.append(
                _reason("limit", "LIMIT 和 OFFSET 只能是整数常量。", "LIMIT and OFFSET must be integer constants.")
            )
    if reasons:
        raise QueryRefused(_distinct(reasons))


def _join_kind(kind: str) -> Reason:
    return _reason(
        "join_kind",
        f"不允许 {kind} JOIN：连接须为 JOIN … ON 的等值连接。",
        f"{kind} JOIN is not allowed: join with JOIN … ON and an equality.",
        clause="JOIN",
    )


def _check_tables(tree: exp.Query, policy: Policy) -> None:
    """Every table read is an authorized one (or a CTE), named plainly: no files, functions or other catalogs."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    reasons = []
    references = 0
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            what = table.this.sql_name() if isinstance(table.this, exp.Func) else table.this.sql()
            reasons.append(
                _reason(
                    "source",
                    f"不能从 {what} 读取：只能查询已授权的数据表。",
                    f"Cannot read from {what}: only authorized tables.",
                )
            )
            continue
        name = table.name.lower()
        if table.args.get("db") or table.args.get("catalog"):
            reasons.append(
                _reason(
                    "source",
                    f"表名 {table.sql()} 不能带库名或目录名。",
                    f"The table {table.sql()} may not name a database.",
                )
            )
        elif name in ctes:
            continue
        elif policy.table(name) is None:
            reasons.append(
                _reason(
                    "not_authorized",
                    f"表 {table.name} 不在本授权范围内。",
                    f"The table {table.name} is not in this authorization.",
                    table=table.name,
                )
            )
        references += 1
    if references > MAX_TABLE_REFERENCES:
        reasons.append(
            _reason(
                "too_many_tables",
                f"一条查询最多读取 {MAX_TABLE_REFERENCES} 次数据表。",
                f"A query may read tables at most {MAX_TABLE_REFERENCES} times.",
            )
        )
    if reasons:
        raise QueryRefused(_distinct(reasons))


# --- following the values --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    scope: Scope
    clause: str
    aggregating: bool = False
    group_keys: tuple[exp.Expression, ...] = ()
    in_aggregate: bool = False
    projections: dict[str, exp.Expression] | None = None  # ORDER BY may name an output column
    join_key: bool = False  # evaluating a side of a join key (a subquery correlated on it is a semi-join)


def _lifted(flows: Flows, level: Level) -> Flows:
    return frozenset(replace(f, level=max(f.level, level)) for f in flows)


def _compared(flows: Flows) -> Flows:
    return frozenset(replace(f, cond=True) for f in flows)


def _union(parts: Iterable[Flows]) -> Flows:
    found: set[Flow] = set()
    for part in parts:
        found |= part
    return frozenset(found)


def nodes_in_scope(node: exp.Expression) -> Iterator[exp.Expression]:
    """``node`` and what is below it, not descending into nested queries."""
    yield node
    for child in node.iter_expressions():
        if isinstance(child, exp.Query | exp.Subquery):
            continue
        yield from nodes_in_scope(child)


def _constant(node: exp.Expression) -> bool:
    return node.find(exp.Column, exp.Query) is None


def _linear(node: exp.Expression) -> bool:
    """Whether ``node`` adds its operands or scales one by a constant: the only ways a row value of an aggregate-only
    column may be combined before it is aggregated. Anything else could single rows out (a CASE, a comparison, ABS,
    ROUND) or let one row dominate (EXP, POW, a product), and an aggregate over all the rows would tell one of them."""
    if isinstance(node, exp.Mul):
        return _constant(node.left) or _constant(node.right)
    if isinstance(node, exp.Div):
        return _constant(node.right)
    return isinstance(node, (exp.Column, exp.Paren, exp.Neg, exp.Add, exp.Sub, exp.Distinct, *SAFE_AGGREGATES))


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


class _Analyzer:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.reasons: list[Reason] = []
        self.table_aliases: dict[str, TablePolicy] = {}
        self.aggregating: list[exp.Select] = []
        self.columns_used: set[Ref] = set()
        self._outputs: dict[int, list[tuple[str, Flows]]] = {}
        self._scopes: dict[int, Scope] = {}
        # By subquery: the outer columns it refers to, which its value depends on (a correlated subquery is computed
        # once per outer row, as if grouped by them); those it is joined on directly are kept apart (``_keyed``),
        # since an EXISTS on them alone is a semi-join.
        self._correlated: dict[int, set[Flow]] = {}
        self._keyed: dict[int, set[Flow]] = {}

    def run(self, tree: exp.Query) -> list[tuple[str, Flows]]:
        root = build_scope(tree)
        if root is None:
            self.reasons.append(
                _reason("unresolved", "无法分析查询结构。", "The query's structure cannot be analysed.")
            )
            return []
        for scope in root.traverse():
            self._scopes[id(scope.expression)] = scope
        # Every scope is checked, inner ones first, even one whose values are never read: its filters, groups and
        # order still decide which rows an outer query counts.
        for scope in root.traverse():
            self._scope_outputs(scope)
        outputs = self._scope_outputs(root)
        for name, flows in outputs:
            self._sink(Sink.OUTPUT, flows, "SELECT", output=name)
        return outputs

    # --- scopes ---

    def _scope_outputs(self, scope: Scope) -> list[tuple[str, Flows]]:
        key = id(scope.expression)
        if key not in self._outputs:
            self._outputs[key] = []  # a cycle would mean a recursive CTE, refused before
            self._outputs[key] = self._analyze(scope)
        return self._outputs[key]

    def _analyze(self, scope: Scope) -> list[tuple[str, Flows]]:
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            if expression.args.get("by_name"):
                self.reasons.append(
                    _reason("by_name", "不支持 UNION BY NAME，请按位置对应各列。", "UNION BY NAME is not supported.")
                )
            branches = [self._scope_outputs(s) for s in scope.set_operation_scopes]
            clause = expression.key.upper()
            compares = isinstance(expression, exp.Intersect | exp.Except)  # rows kept by comparing them with others'
            for _, flows in (output for branch in branches for output in branch):
                if compares or expression.args.get("distinct"):  # rows compared, duplicates removed: a grouping
                    self._sink(Sink.GROUP_KEY, flows, clause)
                else:  # UNION ALL: rows of zeros could pad one row value of an aggregate-only column past k
                    self._no_row_values(flows, clause)
            if compares:
                branches = [[(n, f | _compared(f)) for n, f in b] for b in branches]
            first = branches[0]
            outputs = [(name, _union(b[i][1] for b in branches if i < len(b))) for i, (name, _) in enumerate(first)]
            self._order(expression, _Context(scope, "ORDER BY"), dict(outputs))
            return outputs
        if not isinstance(expression, exp.Select):
            self.reasons.append(_reason("syntax_element", "不支持的查询结构。", "Unsupported query structure."))
            return []
        self._sources(scope)
        group = expression.args.get("group")
        if group is not None and (
            group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets")
        ):
            self.reasons.append(
                _reason(
                    "grouping_sets",
                    "不支持 ROLLUP、CUBE 和 GROUPING SETS。",
                    "ROLLUP, CUBE and GROUPING SETS are not supported.",
                )
            )
        keys = tuple(group.expressions) if group is not None else ()
        aggregating = bool(keys) or self._has_aggregate(expression)
        if aggregating:
            self.aggregating.append(expression)
            if self.policy.min_group_size > 1 and any(
                isinstance(source, Scope) and self._repeats_rows(source) for source in scope.sources.values()
            ):
                self.reasons.append(
                    _reason(
                        "set_operation_rows",
                        "聚合不能读取集合运算（UNION、INTERSECT、EXCEPT）的明细行：其中同一人的行可以重复出现，"
                        "组的人数无从核实。请在各分支内先聚合，再合并结果。",
                        "An aggregate cannot read the rows of a set operation (UNION, INTERSECT, EXCEPT): one "
                        "person's rows may repeat in it, so the size of a group cannot be verified. Aggregate in "
                        "each branch, then combine the results.",
                        clause="FROM",
                    )
                )
        plain = _Context(scope, "GROUP BY")
        for key in keys:
            self._sink(Sink.GROUP_KEY, self._eval(key, plain), "GROUP BY")
        context = _Context(scope, "SELECT", aggregating=aggregating, group_keys=keys)
        where = expression.args.get("where")
        if where is not None:
            self._filter(where.this, replace(plain, clause="WHERE"))
        for join in expression.args.get("joins") or []:
            self._join(join, replace(plain, clause="JOIN ON"))
        having = expression.args.get("having")
        if having is not None:
            self._filter(having.this, replace(context, clause="HAVING"))
        qualify_ = expression.args.get("qualify")
        if qualify_ is not None:
            self._filter(qualify_.this, replace(context, clause="QUALIFY"))
        outputs = []
        projections: dict[str, exp.Expression] = {}
        for projection in expression.selects:
            name = projection.alias_or_name
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            projections[name] = inner
            outputs.append((name, self._eval(inner, context)))
        if expression.args.get("distinct"):  # duplicates removed: a grouping by every output
            for _, flows in outputs:
                self._sink(Sink.GROUP_KEY, flows, "DISTINCT")
        self._order(expression, replace(context, clause="ORDER BY", projections=projections), dict(outputs))
        return outputs

    def _order(self, expression: exp.Expression, context: _Context, outputs: dict[str, Flows]) -> None:
        order = expression.args.get("order")
        if order is None:
            return
        for ordered in order.expressions:
            key = ordered.this
            if isinstance(key, exp.Column) and not key.table and key.name in outputs:
                flows = outputs[key.name]
            else:
                flows = self._eval(key, context)
            self._sink(Sink.OUTPUT, flows, "ORDER BY")

    def _sources(self, scope: Scope) -> None:
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table):
                table = self.policy.table(source.name)
                if table is not None:
                    self.table_aliases[alias] = table

    def _repeats_rows(self, scope: Scope) -> bool:
        """Whether ``scope``'s rows may repeat a row of its tables where the rewriter cannot count whose it is: a set
        operation of row-level branches (UNION ALL of one person's row six times; or made distinct by a literal),
        read directly or through derived tables (the rewriter carries join columns up through plain SELECTs only).
        A branch that aggregates yields groups already suppressed."""
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            return any(
                (isinstance(b.expression, exp.SetOperation) and self._repeats_rows(b))
                or (
                    isinstance(b.expression, exp.Select)
                    and not (b.expression.args.get("group") or self._has_aggregate(b.expression))
                )
                for b in scope.set_operation_scopes
            )
        if isinstance(expression, exp.Select) and not (expression.args.get("group") or self._has_aggregate(expression)):
            return any(isinstance(s, Scope) and self._repeats_rows(s) for s in scope.sources.values())
        return False

    def _has_aggregate(self, select: exp.Select) -> bool:
        roots: list[exp.Expression] = list(select.selects)
        for part in ("having", "order", "qualify"):
            if select.args.get(part) is not None:
                roots.append(select.args[part])
        for root in roots:
            for node in nodes_in_scope(root):
                if isinstance(node, SAFE_AGGREGATES + REVEALING_AGGREGATES) and not isinstance(node.parent, exp.Window):
                    return True
        return False

    # --- joins and filters ---

    def _join(self, join: exp.Join, context: _Context) -> None:
        method = (join.args.get("method") or "").upper()
        kind = (join.args.get("kind") or "").upper()
        on = join.args.get("on")
        if method in JOIN_METHODS_REFUSED or kind == "CROSS" or isinstance(join.this, exp.Lateral):
            self.reasons.append(_join_kind(method or kind or "LATERAL"))
            return
        if on is None or not any(self._join_key(c, context.scope) for c in _conjuncts(on)):
            self.reasons.append(
                _reason(
                    "cross_join",
                    "连接须有两张表的列之间的等值条件（不允许笛卡尔积）。",
                    "A join needs an equality between columns of the two tables (no cross products).",
                    clause="JOIN ON",
                )
            )
        if on is not None:
            self._filter(on, context)

    def _join_key(self, node: exp.Expression, scope: Scope) -> bool:
        """Whether ``node`` equates two tables' columns, each a copy of authorized columns: a literal, or anything
        computed, on one side would make the equality a comparison of the other side with a value of the operator's
        choosing (a join column's with an ID number), and a join column is joined only with another one."""
        if not (
            isinstance(node, exp.EQ)
            and isinstance(node.left, exp.Column)
            and isinstance(node.right, exp.Column)
            and bool(node.left.table)
            and bool(node.right.table)
            and node.left.table != node.right.table
        ):
            return False
        if not self._joinable(self._origins(node.left, scope), self._origins(node.right, scope)):
            return False
        node.meta[JOIN_KEY] = True
        return True

    def _joinable(self, left: frozenset[Ref] | None, right: frozenset[Ref] | None) -> bool:
        if not left or not right:
            return False
        columns = [c for c in map(self._policy_column, left | right) if c is not None]
        controls = {c.control for c in columns}
        kinds = {TYPE_KINDS.get(c.sql_type, c.sql_type) for c in columns}
        return len(kinds) == 1 and (Control.JOIN not in controls or controls == {Control.JOIN})

    def _filter(self, condition: exp.Expression, context: _Context) -> None:
        for conjunct in _conjuncts(condition):
            if self._join_key(conjunct, context.scope):
                keyed = replace(context, join_key=True)
                for side in (conjunct.left, conjunct.right):
                    self._sink(Sink.JOIN_KEY, self._eval(side, keyed), context.clause)
                continue
            query = conjunct.args.get("query") if isinstance(conjunct, exp.In) else None
            scope = self._subquery_scope(query) if query is not None else None
            if scope is not None and self._semi_join(conjunct.this, scope, context.scope):
                # x IN (SELECT y …): a semi-join on x = y
                self._sink(Sink.JOIN_KEY, self._eval(conjunct.this, replace(context, join_key=True)), context.clause)
                for _, flows in self._scope_outputs(scope):
                    self._sink(Sink.JOIN_KEY, flows, context.clause)
                self._sink(Sink.FILTER, self._correlation(scope), context.clause)
                continue
            self._sink(Sink.FILTER, self._eval(conjunct, context), context.clause)

    def _semi_join(self, this: exp.Expression, query: Scope, scope: Scope) -> bool:
        return len(query.expression.selects) == 1 and self._joinable(
            self._origins(this, scope), self._output_origins(query, 0)
        )

    # --- where a value comes from, for join keys ---

    def _source(self, column: exp.Column, scope: Scope | None) -> tuple[exp.Expression | Scope | None, list[Scope]]:
        """The table or scope ``column`` reads, and the scopes between (outer ones are read by a correlated
        subquery)."""
        inner = []
        while scope is not None:
            source = scope.sources.get(column.table)
            if source is not None:
                return source, inner
            inner.append(scope)
            scope = scope.parent
        return None, inner

    def _origins(self, column: exp.Expression, scope: Scope) -> frozenset[Ref] | None:
        """The authorized columns ``column`` is a copy of, through derived tables, CTEs and set operations (None if
        anything is computed on the way)."""
        if not isinstance(column, exp.Column) or not column.table:
            return None
        source, _ = self._source(column, scope)
        if isinstance(source, Scope):
            names = [p.alias_or_name for p in source.expression.selects]
            return self._output_origins(source, names.index(column.name)) if column.name in names else None
        table = self.policy.table(source.name) if isinstance(source, exp.Table) else None
        policy = table.column(column.name) if table is not None else None
        return frozenset({Ref(table.table, policy.name)}) if table is not None and policy is not None else None

    def _output_origins(self, scope: Scope, index: int) -> frozenset[Ref] | None:
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            found: set[Ref] = set()
            for branch in scope.set_operation_scopes:
                origins = self._output_origins(branch, index)
                if origins is None:
                    return None
                found |= origins
            return frozenset(found)
        if not isinstance(expression, exp.Select) or index >= len(expression.selects):
            return None
        projection = expression.selects[index]
        return self._origins(projection.this if isinstance(projection, exp.Alias) else projection, scope)

    # --- values ---

    def _subquery_scope(self, node: exp.Expression) -> Scope | None:
        query = node.this if isinstance(node, exp.Subquery) else node
        scope = self._scopes.get(id(query))
        if scope is None:
            self.reasons.append(_reason("unresolved", "无法分析子查询。", "A subquery cannot be analysed."))
        return scope

    def _query_outputs(self, node: exp.Expression) -> list[tuple[str, Flows]]:
        """A subquery's outputs, each carrying the outer columns it is correlated on."""
        scope = self._subquery_scope(node)
        if scope is None:
            return []
        correlation = self._correlation(scope)
        return [(name, flows | correlation) for name, flows in self._scope_outputs(scope)]

    def _correlation(self, scope: Scope, *, semi_join: bool = False) -> Flows:
        key = id(scope.expression)
        keyed = set() if semi_join else self._keyed.get(key, set())
        return frozenset(self._correlated.get(key, set()) | keyed)

    def _plain(self, query: exp.Expression) -> bool:
        """Whether a subquery's rows are its tables' rows as filtered, so that its existence is a semi-join's: no
        grouping, aggregate, limit or offset (an EXISTS … OFFSET 4 would count a person's rows)."""
        return (
            isinstance(query, exp.Select)
            and not query.args.get("group")
            and not self._has_aggregate(query)
            and not any(query.args.get(part) for part in ("limit", "offset", "qualify"))
        )

    def _eval(self, node: exp.Expression, context: _Context) -> Flows:
        flows = self._value(node, context)
        if not _linear(node):
            self._no_row_values(flows, context.clause)
        return flows

    def _no_row_values(self, flows: Flows, clause: str) -> None:
        """Refuses row values of aggregate-only columns (where they are combined otherwise than linearly)."""
        for flow in sorted(flows):
            column = self._policy_column(flow.ref)
            if flow.level is Level.ROW and column is not None and column.control is Control.AGGREGATE:
                self._refuse(flow.ref, Control.AGGREGATE, clause, "aggregate_only")

    def _policy_column(self, ref: Ref) -> ColumnPolicy | None:
        table = self.policy.table(ref.table)
        return table.column(ref.column) if table is not None else None

    def _value(self, node: exp.Expression, context: _Context) -> Flows:
        if context.aggregating and not context.in_aggregate and any(node == key for key in context.group_keys):
            return _lifted(self._eval(node, replace(context, aggregating=False)), Level.GROUPED)
        if isinstance(node, exp.Column):
            return self._column(node, context)
        if isinstance(node, exp.Literal | exp.Null | exp.Boolean | exp.Star | exp.Var | exp.DataType | exp.Interval):
            return NO_FLOWS
        if isinstance(node, exp.Subquery | exp.Query):
            return _union(flows for _, flows in self._query_outputs(node))
        if isinstance(node, exp.Exists):  # its own filters are checked in its scope; it is true or false by them
            scope = self._subquery_scope(node.this)
            return _compared(self._correlation(scope, semi_join=self._plain(scope.expression))) if scope else NO_FLOWS
        if isinstance(node, exp.Window):
            return self._window(node, context)
        if isinstance(node, exp.Filter):  # COUNT(*) FILTER (WHERE …)
            condition = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
            inside = replace(context, in_aggregate=True)
            return _union(
                [self._eval(node.this, context), _lifted(_compared(self._eval(condition, inside)), Level.AGGREGATED)]
            )
        if isinstance(node, SAFE_AGGREGATES):
            inside = replace(context, in_aggregate=True)
            return _lifted(self._children(node, inside), Level.AGGREGATED)
        if isinstance(node, REVEALING_AGGREGATES):
            return self._children(node, replace(context, in_aggregate=True))
        if isinstance(node, exp.Case):
            parts = [self._eval(node.args["default"], context)] if node.args.get("default") is not None else []
            for branch in node.args.get("ifs") or []:
                parts.append(_compared(self._eval(branch.this, context)))
                parts.append(self._eval(branch.args["true"], context))
            if node.this is not None:  # CASE x WHEN …: x is compared
                parts.append(_compared(self._eval(node.this, context)))
            return _union(parts)
        if isinstance(node, exp.If):
            return _union(
                [
                    _compared(self._eval(node.this, context)),
                    self._eval(node.args["true"], context),
                    self._eval(node.args["false"], context) if node.args.get("false") is not None else NO_FLOWS,
                ]
            )
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            inner = _union(flows for _, flows in self._query_outputs(node.args["query"]))
            return _compared(_union([self._eval(node.this, context), inner]))
        if isinstance(node, PREDICATES):
            return _compared(self._children(node, context))
        return self._children(node, context)

    def _children(self, node: exp.Expression, context: _Context) -> Flows:
        return _union(self._eval(child, context) for child in node.iter_expressions())

    def _window(self, node: exp.Window, context: _Context) -> Flows:
        """A window function keeps every row: its inputs are not reduced, whatever function it runs."""
        function = node.this
        while isinstance(function, exp.IgnoreNulls | exp.RespectNulls):
            function = function.this
        parts = [self._children(function, context) if isinstance(function, exp.Expression) else NO_FLOWS]
        for partition in node.args.get("partition_by") or []:
            parts.append(self._eval(partition, context))
        order = node.args.get("order")
        if order is not None:
            parts.extend(self._eval(o.this, context) for o in order.expressions)
        return _union(parts)

    def _column(self, column: exp.Column, context: _Context) -> Flows:
        if not column.table:
            if context.projections is not None and column.name in context.projections:
                return self._eval(context.projections[column.name], context)
            self.reasons.append(
                _reason(
                    "unresolved_column",
                    f"无法确定 {column.name} 所属的表（整行引用或未知的列不被允许）。",
                    f"Cannot tell which table {column.name} belongs to"
                    " (whole-row references and unknown columns are refused).",
                    clause=context.clause,
                    column=column.name,
                )
            )
            return NO_FLOWS
        source, inner = self._source(column, context.scope)
        flows = self._read(column, source, context)
        if inner and flows:
            self._correlate(column, inner, flows, context)
        return flows

    def _correlate(self, column: exp.Column, inner: list[Scope], flows: Flows, context: _Context) -> None:
        """A subquery reads an outer column: only in its WHERE or ON (elsewhere, an aggregate of it would be the outer
        query's, unsuppressed), and its value then depends on the column (as a comparison's outcome)."""
        if context.clause not in ("WHERE", "JOIN ON"):
            self.reasons.append(
                _reason(
                    "correlated",
                    f"子查询只能在 WHERE 或 ON 中引用外层查询的列（{context.clause} 中引用了 {column.sql()}）。",
                    f"A subquery may refer to the outer query's columns only in its WHERE or ON"
                    f" ({column.sql()} in {context.clause}).",
                    clause=context.clause,
                )
            )
            return
        target = self._keyed if context.join_key and len(inner) == 1 else self._correlated
        for scope in inner:
            target.setdefault(id(scope.expression), set()).update(_compared(flows))

    def _read(self, column: exp.Column, source: exp.Expression | Scope | None, context: _Context) -> Flows:
        if isinstance(source, Scope):
            outputs = dict(self._scope_outputs(source))
            if column.name not in outputs:
                self.reasons.append(
                    _reason(
                        "unresolved_column",
                        f"子查询 {column.table} 中没有列 {column.name}。",
                        f"The subquery {column.table} has no column {column.name}.",
                        clause=context.clause,
                    )
                )
                return NO_FLOWS
            return outputs[column.name]
        table = self.policy.table(source.name) if isinstance(source, exp.Table) else None
        policy = table.column(column.name) if table is not None else None
        if table is None or policy is None:
            self.reasons.append(
                _reason(
                    "unresolved_column",
                    f"无法解析列 {column.sql()}。",
                    f"The column {column.sql()} cannot be resolved.",
                    clause=context.clause,
                )
            )
            return NO_FLOWS
        ref = Ref(table.table, policy.name)
        self.columns_used.add(ref)
        if policy.control is Control.HIDDEN:
            self._refuse(ref, Control.HIDDEN, context.clause, "hidden")
            return NO_FLOWS
        return frozenset({Flow(ref, Level.ROW, False)})

    # --- sinks ---

    def _sink(self, sink: Sink, flows: Flows, clause: str, *, output: str | None = None) -> None:
        for flow in sorted(flows):
            table = self.policy.table(flow.ref.table)
            column = table.column(flow.ref.column) if table is not None else None
            if column is None:
                continue
            problem = _refusal_code(sink, column.control, flow)
            if problem:
                self._refuse(flow.ref, column.control, clause, problem)

    def _refuse(self, ref: Ref, control: Control, clause: str, problem: str) -> None:
        zh, en = PROBLEMS[problem]
        control_zh, control_en = CONTROL_LABELS[control]
        self.reasons.append(
            Reason(
                code=problem,
                message_zh=f"列 {ref.table}.{ref.column}（{control_zh}）{zh}（{clause}）。",
                message_en=f"Column {ref.table}.{ref.column} ({control_en}) {en} (in {clause}).",
                clause=clause,
                table=ref.table,
                column=ref.column,
                control=control.value,
            )
        )


PROBLEMS: dict[str, tuple[str, str]] = {
    "hidden": ("不可引用", "may not be referenced"),
    "group_by_output": ("只能作为分组键输出或在聚合中使用", "may be output only as a group key or inside an aggregate"),
    "aggregate_only": (
        "只能在 COUNT、SUM、AVG、STDDEV、VAR 聚合中使用",
        "may be used only inside COUNT, SUM, AVG, STDDEV or VAR",
    ),
    "compare_only": ("只能用于比较条件，不能输出", "may be used only in comparisons, never output"),
    "join_only": ("只能作为表之间的等值连接键", "may be used only as an equality join key between tables"),
}


def _refusal_code(sink: Sink, control: Control, flow: Flow) -> str | None:
    """Why ``flow`` may not end up in ``sink`` under ``control`` (None: it may)."""
    if control in (Control.PLAIN, Control.MASKED):
        return None
    if control is Control.HIDDEN:
        return "hidden"
    if control is Control.JOIN:
        return None if sink is Sink.JOIN_KEY else "join_only"
    if control is Control.AGGREGATE:
        return None if flow.level is Level.AGGREGATED else "aggregate_only"
    if control is Control.GROUP_BY:
        if sink is Sink.OUTPUT and flow.level is Level.ROW:
            return "group_by_output"
        return None
    # compare
    if sink in (Sink.FILTER, Sink.JOIN_KEY):
        return None
    if sink is Sink.GROUP_KEY:
        return None if flow.cond else "compare_only"
    return None if flow.cond and flow.level >= Level.GROUPED else "compare_only"
