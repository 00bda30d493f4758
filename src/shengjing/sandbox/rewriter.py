"""The rewriter: an accepted query becomes the query the engine runs.

Each authorized table is read through its policy view, written into the query in the table's place: the row
filter applied, hidden columns left out, masked columns replaced by their masks. Every SELECT that aggregates
suppresses its groups of fewer than k rows (``HAVING COUNT(*) >= k``) or of fewer than k distinct values of any join
column it reads (join columns identify people: five payments of one person are one person), and so does each
aggregate's FILTER (WHERE …) with the subgroup it picks. A distinct count is left out where it cannot differ from
another: a column the quality rules prove identifying (unique and required) read with no join counts as many values
as rows, and the two sides of an inner join's ``a.x = b.y`` as many as each other. On DuckDB, expressions over protected
columns are wrapped in ``TRY(…)``, so no value can make the query fail and the failure tell something about it.
The row limit is enforced at the root (one row more is fetched, to say that the result was cut). Under differential
privacy the root is rewritten by ``privacy.plan``. The tree is rendered for DuckDB or Spark at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from shengjing.sandbox import privacy
from shengjing.sandbox.checker import JOIN_KEY, CheckedQuery, nodes_in_scope
from shengjing.sandbox.masks import mask_expression
from shengjing.sandbox.policy import Control, Policy, TablePolicy

AGGREGATING = "sj_aggregating"
SOURCE_ROW = "__sj_row"
IDENTITY = "__sj_id"  # an identifier carried up from a derived table to the aggregate that counts it


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
    k = policy.min_group_size
    named = {cte.alias_or_name: cte.this for cte in tree.find_all(exp.CTE)}
    carried: dict[int, list[_Identity]] = {}
    for select in list(tree.find_all(exp.Select)):
        if select.meta.get(AGGREGATING) and k > 1 and not (dp is not None and select is dp.root):
            identities = _to_count(select, _identities(select, policy, named, carried))
            _suppress_groups(select, k, identities)
            _suppress_filters(select, k, identities)
    for table in list(tree.find_all(exp.Table)):
        if table.name in ctes:
            continue
        authorized = policy.table(table.name)
        if authorized is None:  # the checker let no other table through
            raise RuntimeError(f"unauthorized table {table.name} reached the rewriter")
        sources[source_name(authorized.table)] = authorized.resource
        table.replace(_policy_view(authorized, policy, table.alias_or_name))
    row_limit = policy.row_limit
    fetch = row_limit + 1
    if dp is None:
        limit = tree.args.get("limit")
        asked = int(limit.expression.this) if limit is not None else None
        if asked is not None and asked <= row_limit:
            fetch = asked
        tree = tree.limit(fetch, copy=False)
    return Rewritten(tree=tree, sources=sources, row_limit=row_limit, fetch=fetch, dp=dp)


@dataclass(frozen=True)
class _Identity:
    """A join column as a source of a SELECT gives it: ``column`` (qualified by the source's alias), the source's
    output ``names`` that hold the same value (its own name, or a carried one and the columns it was projected as),
    and whether no two of the source's rows share it (``unique``: an identifying column, read by no join)."""

    column: exp.Column
    names: frozenset[str]
    unique: bool


def _identities(
    select: exp.Select, policy: Policy, named: dict[str, exp.Expression], carried: dict[int, list[_Identity]]
) -> list[_Identity]:
    """The join columns of the rows ``select`` reads, as columns of its sources: an authorized table's own, or those
    a derived table or CTE carries up from its sources (a plain one: an aggregating one's rows are groups already
    suppressed, and DISTINCT or a set operation would change with an extra column; aggregate-only values reach an
    aggregate through neither, as the checker sees to)."""
    joins = select.args.get("joins") or []
    found = []
    for source in [select.args.get("from_"), *joins]:
        if source is None:
            continue
        item, alias = source.this, source.this.alias_or_name
        if isinstance(item, exp.Table) and item.name not in named:
            table = policy.table(item.name)
            for column in table.columns.values() if table is not None else []:
                if column.control is Control.JOIN:
                    unique = not joins and column.name.lower() in table.identifying
                    found.append(
                        _Identity(exp.column(column.name, table=alias, quoted=True), frozenset({column.name}), unique)
                    )
            continue
        inner = named.get(item.name) if isinstance(item, exp.Table) else item.this
        if isinstance(inner, exp.Select) and not inner.meta.get(AGGREGATING) and not inner.args.get("distinct"):
            if id(inner) not in carried:
                carried[id(inner)] = _carry(inner, _identities(inner, policy, named, carried))
            found += [
                _Identity(exp.column(i.column.name, table=alias, quoted=True), i.names, i.unique and not joins)
                for i in carried[id(inner)]
            ]
    return found


def _carry(inner: exp.Select, identities: list[_Identity]) -> list[_Identity]:
    """Project each of ``inner``'s identities as a column of its own, for the SELECT that reads it to count."""
    outputs = [(e.alias_or_name, e.unalias()) for e in inner.expressions]
    carried = []
    for n, identity in enumerate(identities):
        name = f"{IDENTITY}{n}"
        inner.select(exp.alias_(identity.column, name, quoted=True), copy=False)
        same = {
            output
            for output, value in outputs
            if isinstance(value, exp.Column) and value.table == identity.column.table and value.name in identity.names
        }
        carried.append(_Identity(exp.column(name, quoted=True), frozenset({name, *same}), identity.unique))
    return carried


def _to_count(select: exp.Select, identities: list[_Identity]) -> list[exp.Column]:
    """The identities whose distinct values must be counted: COUNT(*) already counts a unique one, and an inner
    join's ``a.x = b.y`` makes the two one (counting one of each such class is enough; an outer join's are not)."""
    classes = {n: n for n in range(len(identities))}

    def root(n: int) -> int:
        while classes[n] != n:
            n = classes[n]
        return n

    def find(column: exp.Expression) -> int | None:
        if not isinstance(column, exp.Column):
            return None
        matches = [n for n, i in enumerate(identities) if i.column.table == column.table and column.name in i.names]
        return matches[0] if matches else None

    for join in select.args.get("joins") or []:
        if join.side or join.kind.upper() not in ("", "INNER") or join.args.get("on") is None:
            continue
        for condition in join.args["on"].flatten() if isinstance(join.args["on"], exp.And) else [join.args["on"]]:
            if isinstance(condition, exp.EQ):
                left, right = find(condition.this), find(condition.expression)
                if left is not None and right is not None:
                    classes[root(right)] = root(left)
    counted: set[int] = set()
    kept = []
    for n, identity in enumerate(identities):
        if identity.unique or root(n) in counted:
            continue
        counted.add(root(n))
        kept.append(identity.column)
    return kept


def _enough(k: int, identities: list[exp.Column], where: exp.Expression | None = None) -> exp.Expression:
    """``COUNT(*) >= k AND COUNT(DISTINCT id) >= k …``, each count FILTER (``where``) if given."""
    counts: list[exp.Expression] = [exp.Count(this=exp.Star())]
    counts += [exp.Count(this=exp.Distinct(expressions=[i.copy()])) for i in identities]
    if where is not None:
        counts = [exp.Filter(this=c, expression=where.copy()) for c in counts]
    return exp.and_(*(exp.GTE(this=c, expression=exp.Literal.number(k)) for c in counts))


def _suppress_groups(select: exp.Select, k: int, identities: list[exp.Column]) -> None:
    """``HAVING COUNT(*) >= k …``, and the operator's own HAVING only then (``CASE`` evaluates it for no other
    group): aggregates cannot sit inside TRY, so a HAVING that fails on some group must fail on none suppressed."""
    enough = _enough(k, identities)
    having = select.args.get("having")
    if having is not None:
        enough = exp.Case(ifs=[exp.If(this=enough, true=having.this)])
    select.set("having", exp.Having(this=enough))


def _suppress_filters(select: exp.Select, k: int, identities: list[exp.Column]) -> None:
    """``agg FILTER (WHERE c)`` becomes ``CASE WHEN COUNT(*) FILTER (WHERE c) >= k … THEN agg FILTER (WHERE c) END``:
    a FILTER is a group of its own, and a condition isolating one person would otherwise sum that person's values
    inside a group large enough to pass."""
    for node in list(nodes_in_scope(select)):
        if isinstance(node, exp.Filter) and not isinstance(node.parent, exp.Window):
            enough = _enough(k, identities, node.expression)
            node.replace(exp.Case(ifs=[exp.If(this=enough, true=node.copy())]))


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
        columns.append(exp.alias_(value, exp.to_identifier(column.name, quoted=True), copy=False))
    # Built from nodes, not strings: parsing names and copying fresh nodes were half the cost of a rewrite.
    snapshot = exp.Table(
        this=exp.to_identifier(source_name(table.table), quoted=True),
        alias=exp.TableAlias(this=exp.to_identifier(SOURCE_ROW, quoted=True)),
    )
    view = exp.Select(expressions=columns).from_(snapshot, copy=False)
    if table.row_filter is not None:

        def qualified(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and not node.table:
                return exp.column(node.name, table=SOURCE_ROW, quoted=True)
            return node

        view = view.where(table.row_filter.transform(qualified), copy=False)  # transform copies
    return view.subquery(alias=exp.to_identifier(alias, quoted=True), copy=False)


# --- errors cannot leak: expressions over protected columns never fail ----------------------------------------


# An alias → every source it names somewhere in the query: an authorized table, or None (a CTE, a derived table).
Aliases = dict[str, list[TablePolicy | None]]


def _protected_columns(node: exp.Expression, policy: Policy, aliases: Aliases) -> bool:
    """Whether ``node`` reads a column that is not plain (conservatively: any column not proven plain in every source
    its alias names)."""
    for column in node.find_all(exp.Column):
        tables = aliases.get(column.table) or [None]
        for table in tables:
            policy_column = table.column(column.name) if table is not None else None
            if policy_column is None or policy_column.control not in (Control.PLAIN, Control.MASKED):
                return True
    return False


_NUMERIC = frozenset({"BIGINT", "DOUBLE"})
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In, exp.Is)


def _cannot_fail(node: exp.Expression, aliases: Aliases) -> bool:
    """A comparison of one column of a known type with constants of a matching kind: the engine casts the constants
    once, when it plans the query, and no value can make it fail. Left bare, such a filter is pushed down into the
    Parquet scan (within TRY it is not, which costs a filtered scan a large share of its time)."""
    if not isinstance(node, _COMPARISONS) or node.args.get("query") is not None:
        return False
    columns = [n for n in node.iter_expressions() if isinstance(n, exp.Column)]
    constants = [n for n in node.iter_expressions() if not isinstance(n, exp.Column)]
    for item in list(constants):
        if isinstance(item, exp.Tuple):  # IN (…, …) holds its constants in a tuple, or directly
            constants.remove(item)
            constants.extend(item.expressions)
    if len(columns) != 1 or not all(isinstance(c, exp.Literal | exp.Null | exp.Boolean) for c in constants):
        return False
    tables = aliases.get(columns[0].table) or [None]
    types = {
        t.column(columns[0].name).sql_type if t is not None and t.column(columns[0].name) else None for t in tables
    }
    if len(types) != 1 or None in types:
        return False
    (sql_type,) = types
    numbers = [c for c in constants if isinstance(c, exp.Literal) and not c.is_string]
    texts = [c for c in constants if isinstance(c, exp.Literal) and c.is_string]
    if sql_type in _NUMERIC:
        return not texts  # a number column against '12a' would fail on the constant only, but keep it simple
    return not numbers  # a text, date or time column against text; a number would cast every value


def _guarded(node: exp.Expression, policy: Policy, aliases: Aliases) -> exp.Expression:
    if isinstance(node, exp.Column | exp.Literal | exp.Star | exp.Try) or not _protected_columns(node, policy, aliases):
        return node
    if _cannot_fail(node, aliases):
        return node
    if any(isinstance(n, exp.Query | exp.Window | exp.AggFunc) for n in node.walk()):
        return node  # subqueries guard their own expressions; a window or an aggregate cannot sit inside TRY
    return exp.Try(this=node.copy())


def _guard(node: exp.Expression, policy: Policy, aliases: Aliases) -> None:
    guarded = _guarded(node, policy, aliases)
    if guarded is not node:
        node.replace(guarded)


def _guard_keys(select: exp.Select, policy: Policy, aliases: Aliases) -> None:
    """Group keys over protected columns are wrapped too, and every use of one in the SELECT with it (the engine
    tells a key's uses by their equality to it)."""
    keys = [(key, _guarded(key, policy, aliases)) for key in select.args["group"].expressions]
    keys = [(key, guarded) for key, guarded in keys if guarded is not key]
    if not keys:
        return

    def swap(node: exp.Expression) -> exp.Expression:
        return next((guarded.copy() for key, guarded in keys if node == key), node)

    for part in ("expressions", "group", "having", "order", "qualify"):
        value = select.args.get(part)
        if isinstance(value, list):
            select.set(part, [v.transform(swap, copy=False) for v in value])
        elif value is not None:
            select.set(part, value.transform(swap, copy=False))


def _guard_values(tree: exp.Query, policy: Policy) -> None:
    """Wrap in TRY the expressions over protected columns that a value could make fail: aggregate arguments,
    group keys, filter conditions (but not the column equalities the checker proved to be join keys, which a join
    is planned on), and row-level outputs."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    aliases: Aliases = {}
    for source in (*tree.find_all(exp.Table), *tree.find_all(exp.Subquery)):
        named = isinstance(source, exp.Table) and source.name not in ctes
        if source.alias_or_name:
            aliases.setdefault(source.alias_or_name, []).append(policy.table(source.name) if named else None)
    for select in list(tree.find_all(exp.Select)):
        if select.args.get("group"):
            _guard_keys(select, policy, aliases)
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


def _guard_conjuncts(condition: exp.Expression, policy: Policy, aliases: Aliases) -> None:
    parts = [condition]
    while parts:
        part = parts.pop()
        if isinstance(part, exp.And):
            parts.extend([part.left, part.right])
        elif isinstance(part, exp.Paren):
            parts.append(part.this)
        elif part.meta.get(JOIN_KEY):
            continue  # a join key: left alone, so the engine can plan a hash join
        else:
            _guard(part, policy, aliases)
