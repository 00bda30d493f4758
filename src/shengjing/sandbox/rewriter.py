"""The rewriter: an accepted query becomes the query the engine runs.

Each authorized table is read through its policy view, written into the query in the table's place: the row
filter applied, hidden columns left out, masked columns replaced by their masks. Every SELECT that aggregates
suppresses its groups of fewer than k rows (``HAVING COUNT(*) >= k``). On DuckDB, expressions over protected
columns are wrapped in ``TRY(…)``, so no value can make the query fail and the failure tell something about it.
The row limit is enforced at the root (one row more is fetched, to say that the result was cut). Under differential
privacy the root is rewritten by ``privacy.plan``. The tree is rendered for DuckDB or Spark at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from shengjing.sandbox import privacy
from shengjing.sandbox.checker import CheckedQuery
from shengjing.sandbox.masks import mask_expression
from shengjing.sandbox.policy import Control, Policy, TablePolicy

AGGREGATING = "sj_aggregating"
SOURCE_ROW = "__sj_row"


def source_name(table: str) -> str:
    """The engine's name of an authorized table's snapshot (never writable by an operator: the prefix is reserved)."""
    return f"__sj_src_{table}"


@dataclass
class Rewritten:
    tree: exp.Query
    sources: dict[str, str]  # engine source name → resource code
    row_limit: int  # rows the result may hold
    fetch: int  # rows to fetch: one more than may be shown, unless the query's own LIMIT is lower
    dp: privacy.DpPlan | None

    def sql(self, dialect: str) -> str:
        tree = self.tree
        if dialect != "duckdb":  # TRY is DuckDB's; Spark's own semantics (spark.sql.ansi.enabled=false) never raise
            tree = tree.copy().transform(lambda n: n.this if isinstance(n, exp.Try) else n)
        return tree.sql(dialect=dialect)


def rewrite(checked: CheckedQuery, policy: Policy) -> Rewritten:
    for select in checked.aggregating:
        select.meta[AGGREGATING] = True
    tree = checked.tree.copy()
    for select in checked.aggregating:
        select.meta.pop(AGGREGATING, None)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    sources: dict[str, str] = {}
    _guard_values(tree, policy)
    dp = privacy.plan(tree, policy) if policy.privacy is not None else None
    if dp is not None:
        tree = dp.root
    for table in list(tree.find_all(exp.Table)):
        if table.name in ctes:
            continue
        authorized = policy.table(table.name)
        if authorized is None:  # the checker let no other table through
            raise RuntimeError(f"unauthorized table {table.name} reached the rewriter")
        sources[source_name(authorized.table)] = authorized.resource
        table.replace(_policy_view(authorized, policy, table.alias_or_name))
    k = policy.min_group_size
    for select in tree.find_all(exp.Select):
        if select.meta.get(AGGREGATING) and k > 1 and not (dp is not None and select is dp.root):
            select.having(exp.GTE(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(k)), copy=False)
    row_limit = policy.row_limit
    fetch = row_limit + 1
    if dp is None:
        limit = tree.args.get("limit")
        asked = int(limit.expression.this) if limit is not None else None
        if asked is not None and asked <= row_limit:
            fetch = asked
        tree = tree.limit(fetch, copy=False)
    return Rewritten(tree=tree, sources=sources, row_limit=row_limit, fetch=fetch, dp=dp)


def _policy_view(table: TablePolicy, policy: Policy, alias: str) -> exp.Subquery:
    """``(SELECT <visible columns, masked where masked> FROM <snapshot> WHERE <row filter>) AS alias``."""
    columns = []
    for column in table.columns.values():
        if column.control is Control.HIDDEN:
            continue
        source = exp.column(column.name, table=SOURCE_ROW, quoted=True)
        value: exp.Expression = source
        if column.control is Control.MASKED and column.mask:
            value = mask_expression(column.mask, source, column.sql_type, policy.salt)
        columns.append(exp.alias_(value, column.name, quoted=True))
    view = exp.select(*columns).from_(exp.to_table(source_name(table.table), alias=SOURCE_ROW, quoted=True))
    if table.row_filter is not None:

        def qualified(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and not node.table:
                return exp.column(node.name, table=SOURCE_ROW, quoted=True)
            return node

        view = view.where(table.row_filter.copy().transform(qualified), copy=False)
    return view.subquery(alias=exp.to_identifier(alias, quoted=True), copy=False)


# --- errors cannot leak: expressions over protected columns never fail ----------------------------------------


def _protected_columns(node: exp.Expression, policy: Policy, aliases: dict[str, TablePolicy]) -> bool:
    """Whether ``node`` reads a column that is not plain (conservatively: any column not proven plain)."""
    for column in node.find_all(exp.Column):
        table = aliases.get(column.table)
        policy_column = table.column(column.name) if table is not None else None
        if policy_column is None or policy_column.control not in (Control.PLAIN, Control.MASKED):
            return True
    return False


def _guard(node: exp.Expression, policy: Policy, aliases: dict[str, TablePolicy]) -> None:
    if isinstance(node, exp.Column | exp.Literal | exp.Star | exp.Try) or not _protected_columns(node, policy, aliases):
        return
    if any(isinstance(n, exp.Query | exp.Window) for n in node.walk()):
        return  # subqueries guard their own expressions; a window cannot sit inside TRY
    node.replace(exp.Try(this=node.copy()))


def _guard_values(tree: exp.Query, policy: Policy) -> None:
    """Wrap in TRY the expressions over protected columns that a value could make fail: aggregate arguments,
    filter conditions (but not the column equalities a join is planned on), and row-level outputs."""
    aliases = {
        t.alias_or_name: policy.table(t.name) for t in tree.find_all(exp.Table) if policy.table(t.name) is not None
    }
    aliases = {alias: table for alias, table in aliases.items() if table is not None}
    for node in list(tree.walk()):
        if isinstance(node, privacy.GUARDED_AGGREGATES):
            for argument in list(node.iter_expressions()):
                if not isinstance(argument, exp.Distinct):
                    _guard(argument, policy, aliases)
        elif isinstance(node, exp.Where | exp.Having | exp.Qualify):
            _guard_conjuncts(node.this, policy, aliases)
        elif isinstance(node, exp.Join) and node.args.get("on") is not None:
            _guard_conjuncts(node.args["on"], policy, aliases)
        elif isinstance(node, exp.Select) and not node.args.get("group") and not node.meta.get(AGGREGATING):
            for projection in node.selects:
                target = projection.this if isinstance(projection, exp.Alias) else projection
                _guard(target, policy, aliases)


def _guard_conjuncts(condition: exp.Expression, policy: Policy, aliases: dict[str, TablePolicy]) -> None:
    parts = [condition]
    while parts:
        part = parts.pop()
        if isinstance(part, exp.And):
            parts.extend([part.left, part.right])
        elif isinstance(part, exp.Paren):
            parts.append(part.this)
        elif isinstance(part, exp.EQ) and isinstance(part.left, exp.Column) and isinstance(part.right, exp.Column):
            continue  # a join key: left alone, so the engine can plan a hash join
        else:
            _guard(part, policy, aliases)
