"""Differential privacy (差分隐私) for the sandbox's aggregate queries.

Under an authorization with differential privacy, a query's outermost SELECT must group and aggregate, each of its
outputs a group key or one of COUNT, SUM and AVG. ``plan`` rewrites it so the engine computes, per group, exact
statistics of *bounded* data: each person contributes at most ``max_contributions`` rows (rows beyond that are
dropped at random, after joins: SmartNoise's reservoir per key), and each summed value is clamped to the bounds the
authorization declares for its column. ``release`` then adds Laplace noise to those statistics with OpenDP's
samplers, the query's ε split evenly among them (basic composition), and releases a group only if its noisy count
reaches a threshold that makes the existence of a one-person group as unlikely as δ (Wilson et al., "Differentially
private SQL with bounded user contribution", 2020). Post-processing (averages, rounding, order, limit) follows.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from shengjing.sandbox.checker import SAFE_AGGREGATES, QueryRefused, Reason
from shengjing.sandbox.policy import Policy

GUARDED_AGGREGATES: tuple[type[exp.Expression], ...] = (*SAFE_AGGREGATES, exp.Min, exp.Max)
ROWS = "__sj_n"  # every group's row count, the threshold's measure
BOUNDED = "__sj_bounded"
RANK = "__sj_rank"


@dataclass(frozen=True)
class DpOutput:
    name: str
    kind: str  # key | count_rows | count | sum | avg
    measures: tuple[str, ...] = ()  # the engine's result columns it is made from
    bounds: tuple[float, float] | None = None


@dataclass
class DpPlan:
    root: exp.Select
    outputs: list[DpOutput]
    sensitivities: dict[str, float]  # per measure: how much one person can change it (L1)
    grouped: bool
    epsilon: float
    delta: float
    contributions: int
    min_group_size: int
    order: list[tuple[str, bool]] = field(default_factory=list)  # (output name, descending)
    limit: int | None = None

    @property
    def measures(self) -> list[str]:
        return list(self.sensitivities)

    def threshold(self) -> float:
        """The noisy row count a group needs to be released: its existence alone is then (ε, δ)-private."""
        share = self.epsilon / len(self.sensitivities)
        c = self.contributions
        return max(float(self.min_group_size), c + (c / share) * math.log(c / (2 * self.delta)))


def _refuse(code: str, zh: str, en: str) -> QueryRefused:
    return QueryRefused([Reason(code, f"差分隐私：{zh}", f"Differential privacy: {en}", clause="SELECT")])


def plan(tree: exp.Query, policy: Policy) -> DpPlan:
    """Rewrite ``tree``'s root (in place) into bounded exact statistics, and say how to release them."""
    privacy = policy.privacy
    if privacy is None:
        raise ValueError("the policy has no differential privacy")
    if not isinstance(tree, exp.Select):
        raise _refuse(
            "dp_shape", "查询的最外层须为 SELECT（不能是集合运算）。", "the outermost query must be a SELECT."
        )
    root = tree
    group = root.args.get("group")
    keys = list(group.expressions) if group is not None else []
    if root.args.get("having") is not None or root.args.get("qualify") is not None or root.args.get("distinct"):
        raise _refuse(
            "dp_shape",
            "最外层不能有 HAVING、QUALIFY 或 DISTINCT。",
            "the outermost SELECT cannot have HAVING, QUALIFY or DISTINCT.",
        )
    for select in root.find_all(exp.Select):
        if select is not root and (select.args.get("group") or any(select.find_all(*GUARDED_AGGREGATES))):
            raise _refuse(
                "dp_nested", "聚合只能出现在最外层的 SELECT 中。", "aggregates may appear only in the outermost SELECT."
            )
    aliases = {t.alias_or_name: policy.table(t.name) for t in root.find_all(exp.Table)}
    if root.args.get("joins") and privacy.unit is None:
        raise _refuse(
            "dp_join",
            "关联查询需要授权指定个人标识列（privacy unit）以限定每人的贡献。",
            "a join needs the authorization's privacy unit to bound each person's contribution.",
        )
    c = privacy.max_contributions if privacy.unit is not None else 1
    outputs: list[DpOutput] = []
    selects: list[exp.Expression] = []
    sensitivities: dict[str, float] = {ROWS: float(c)}
    for index, projection in enumerate(root.selects):
        name = projection.alias_or_name
        value = projection.this if isinstance(projection, exp.Alias) else projection
        if any(value == key for key in keys):
            measure = f"__sj_k{index}"
            selects.append(exp.alias_(value.copy(), measure, quoted=True))
            outputs.append(DpOutput(name, "key", (measure,)))
            continue
        if isinstance(value, exp.Count) and isinstance(value.this, exp.Star):
            outputs.append(DpOutput(name, "count_rows", (ROWS,)))
            continue
        if not isinstance(value, exp.Count | exp.Sum | exp.Avg) or isinstance(value.this, exp.Distinct):
            raise _refuse(
                "dp_aggregate",
                f"输出 {name} 须为分组键或 COUNT、SUM、AVG 之一（不含 DISTINCT）。",
                f"the output {name} must be a group key or one of COUNT, SUM and AVG (without DISTINCT).",
            )
        argument = value.this
        if isinstance(value, exp.Count):
            measure = f"__sj_a{index}"
            selects.append(exp.alias_(exp.Count(this=argument.copy()), measure, quoted=True))
            sensitivities[measure] = float(c)
            outputs.append(DpOutput(name, "count", (measure,)))
            continue
        bounds = _bounds(argument, aliases, name)
        clamped = exp.func(
            "LEAST",
            exp.func(
                "GREATEST", exp.TryCast(this=argument.copy(), to=exp.DataType.build("DOUBLE")), _number(bounds[0])
            ),
            _number(bounds[1]),
        )
        total = f"__sj_a{index}_sum"
        selects.append(exp.alias_(exp.Sum(this=clamped), total, quoted=True))
        sensitivities[total] = c * max(abs(bounds[0]), abs(bounds[1]))
        if isinstance(value, exp.Sum):
            outputs.append(DpOutput(name, "sum", (total,), bounds))
            continue
        count = f"__sj_a{index}_n"
        selects.append(exp.alias_(exp.Count(this=clamped.copy()), count, quoted=True))
        sensitivities[count] = float(c)
        outputs.append(DpOutput(name, "avg", (total, count), bounds))
    order = _order(root, outputs)
    limit = root.args.get("limit")
    measured = exp.select(*selects, exp.alias_(exp.Count(this=exp.Star()), ROWS, quoted=True))
    for part in ("with_", "from_", "joins", "where", "group"):
        if root.args.get(part) is not None:
            measured.set(part, root.args[part])
    if privacy.unit is not None and c >= 1:
        _bound_contributions(measured, privacy.unit, aliases, c)
    return DpPlan(
        root=measured,
        outputs=outputs,
        sensitivities=sensitivities,
        grouped=bool(keys),
        epsilon=privacy.epsilon,
        delta=privacy.delta,
        contributions=c,
        min_group_size=policy.min_group_size,
        order=order,
        limit=int(limit.expression.this) if limit is not None else None,
    )


def _number(value: float) -> exp.Literal:
    return exp.Literal.number(repr(float(value)))


def _bounds(argument: exp.Expression, aliases: dict[str, Any], name: str) -> tuple[float, float]:
    if isinstance(argument, exp.Column):
        table = aliases.get(argument.table)
        column = table.column(argument.name) if table is not None else None
        if column is not None and column.bounds is not None:
            return column.bounds
    raise _refuse(
        "dp_bounds",
        f"输出 {name} 所求和的列须在授权中声明取值范围（bounds）。",
        f"the column summed in {name} needs bounds declared in the authorization.",
    )


def _order(root: exp.Select, outputs: list[DpOutput]) -> list[tuple[str, bool]]:
    """ORDER BY under differential privacy: by group keys only (an order by exact aggregates would tell them)."""
    order = root.args.get("order")
    if order is None:
        return []
    keys = {o.name for o in outputs if o.kind == "key"}
    found = []
    for ordered in order.expressions:
        target = ordered.this
        name = target.alias_or_name if isinstance(target, exp.Column) else None
        matches = [
            o.name
            for o, projection in zip(outputs, root.selects, strict=False)
            if o.kind == "key"
            and (
                projection == target or (projection.this if isinstance(projection, exp.Alias) else projection) == target
            )
        ]
        if name in keys:
            found.append((name, bool(ordered.args.get("desc"))))
        elif matches:
            found.append((matches[0], bool(ordered.args.get("desc"))))
        else:
            raise _refuse("dp_order", "只能按分组键排序。", "the result may be ordered by group keys only.")
    return found


def _bound_contributions(measured: exp.Select, unit: tuple[str, str], aliases: dict[str, Any], c: int) -> None:
    """Keep at most ``c`` rows per person, chosen at random, after the joins and filters: the FROM, JOINs and
    WHERE move into a derived table that numbers each person's rows; the statistics read it."""
    table, column = unit
    alias = next((a for a, t in aliases.items() if t is not None and t.table == table), None)
    if alias is None:
        raise _refuse(
            "dp_unit",
            f"查询须读取个人标识列所在的表 {table}，以限定每人的贡献。",
            f"the query must read {table}, whose column {column} identifies a person.",
        )
    used: dict[tuple[str, str], str] = {}
    for node in list(measured.find_all(exp.Column)):
        if node.find_ancestor(exp.From, exp.Join, exp.Where) is not None:
            continue
        key = (node.table, node.name)
        name = used.setdefault(key, f"__sj_c{len(used)}")
        node.replace(exp.column(name, table=BOUNDED, quoted=True))
    hashed: list[exp.Expression] = [exp.Literal.number(secrets.randbits(31))]
    hashed += [exp.column(col, table=tab, quoted=True) for tab, col in used]
    inner = exp.select(
        *[exp.alias_(exp.column(col, table=tab, quoted=True), name, quoted=True) for (tab, col), name in used.items()],
        exp.alias_(
            exp.Window(
                this=exp.RowNumber(),
                partition_by=[exp.column(column, table=alias, quoted=True)],
                # Which of a person's rows are kept matters for accuracy only, not for privacy (any c of them bound
                # what one person changes); the engines refuse a random order here, so rows are ordered by a hash
                # of their values seeded anew for every query.
                order=exp.Order(expressions=[exp.Ordered(this=exp.Anonymous(this="HASH", expressions=hashed))]),
            ),
            RANK,
            quoted=True,
        ),
    )
    for part in ("from_", "joins", "where"):
        if measured.args.get(part) is not None:
            inner.set(part, measured.args[part])
            measured.set(part, None)
    measured.from_(inner.subquery(BOUNDED, copy=False), copy=False)
    measured.where(
        exp.LTE(this=exp.column(RANK, table=BOUNDED, quoted=True), expression=exp.Literal.number(c)), copy=False
    )
    for group in measured.args["group"].expressions if measured.args.get("group") else []:
        for node in list(group.find_all(exp.Column)):
            if node.table != BOUNDED:
                name = used.setdefault((node.table, node.name), f"__sj_c{len(used)}")
                node.replace(exp.column(name, table=BOUNDED, quoted=True))


# --- releasing --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    columns: list[str]
    rows: list[list[Any]]
    suppressed: int  # groups whose noisy count fell below the threshold
    threshold: float | None


def release(plan_: DpPlan, exact: dict[str, list[Any]]) -> Release:
    """Noisy statistics from exact ones (``exact``: the engine's result columns), with OpenDP's Laplace samplers."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    share = plan_.epsilon / len(plan_.sensitivities)
    noisy: dict[str, list[float]] = {}
    for measure, sensitivity in plan_.sensitivities.items():
        values = exact[measure]
        if not values:
            noisy[measure] = []
            continue
        if not measure.endswith("_sum"):  # counts: the discrete Laplace (geometric) mechanism
            space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
            mechanism = dp.m.make_laplace(*space, scale=sensitivity / share)
            noisy[measure] = [float(v) for v in mechanism([int(v or 0) for v in values])]
            spent = mechanism.map(int(sensitivity))
        else:
            space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float)
            mechanism = dp.m.make_laplace(*space, scale=sensitivity / share)
            noisy[measure] = list(mechanism([float(v or 0.0) for v in values]))
            spent = mechanism.map(float(sensitivity))
        if spent > share * (1 + 1e-9):  # OpenDP's own accounting agrees with ours
            raise RuntimeError(f"differential privacy: {measure} would spend more than its share of ε")
    groups = len(exact[ROWS])
    threshold = plan_.threshold() if plan_.grouped else None
    rows = []
    suppressed = 0
    for g in range(groups):
        if threshold is not None and noisy[ROWS][g] < threshold:
            suppressed += 1
            continue
        row = []
        for output in plan_.outputs:
            if output.kind == "key":
                row.append(exact[output.measures[0]][g])
            elif output.kind in ("count_rows", "count"):
                row.append(max(0, round(noisy[output.measures[0]][g])))
            elif output.kind == "sum":
                row.append(noisy[output.measures[0]][g])
            else:
                total, count = (noisy[m][g] for m in output.measures)
                low, high = output.bounds or (-math.inf, math.inf)
                row.append(min(high, max(low, total / max(count, 1.0))))
        rows.append(row)
    columns = [o.name for o in plan_.outputs]
    for name, descending in reversed(plan_.order):
        i = columns.index(name)
        rows.sort(key=lambda r: (r[i] is None, r[i]), reverse=descending)
    if plan_.limit is not None:
        rows = rows[: plan_.limit]
    return Release(columns=columns, rows=rows, suppressed=suppressed, threshold=threshold)
