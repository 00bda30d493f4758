"""What an authorization lets an operator do with each column, as the checker and the rewriter read it.

No database here: a ``Policy`` is built from an authorization's document and the catalog's fields, so the checker,
the rewriter, the red-team tests and the benchmark all run exactly what a query in the service runs.

Column controls (列控制), from the most to the least an operator may see of a column:

- ``plain``: may be output as it is;
- ``masked``: output only through its named mask (``masks.py``): the mask is applied where the column is read,
  so every use of it sees masked values only;
- ``group_by``: a grouping key, output only as the key of a group (or inside an aggregate);
- ``aggregate``: only inside COUNT, SUM, AVG, STDDEV or VAR;
- ``compare``: only in comparisons (WHERE, HAVING, CASE WHEN, a grouping by a comparison), never output;
- ``join``: only as an equality join key between authorized resources;
- ``hidden``: never referenced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from shengjing.errors import InvalidInput


class Control(StrEnum):
    PLAIN = "plain"
    MASKED = "masked"
    GROUP_BY = "group_by"
    AGGREGATE = "aggregate"
    COMPARE = "compare"
    JOIN = "join"
    HIDDEN = "hidden"


CONTROL_LABELS: dict[Control, tuple[str, str]] = {
    Control.PLAIN: ("明文", "plain"),
    Control.MASKED: ("脱敏", "masked"),
    Control.GROUP_BY: ("可分组", "group by"),
    Control.AGGREGATE: ("仅聚合", "aggregate only"),
    Control.COMPARE: ("仅比较", "compare only"),
    Control.JOIN: ("仅关联", "join only"),
    Control.HIDDEN: ("隐藏", "hidden"),
}

# The catalog's field types as SQL types of the engines (what the checker's schema and the masks see).
SQL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}

# A table name an operator writes: letters, digits and underscores, not starting with our own prefix.
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED_PREFIX = "__sj"


def table_name_for(resource_code: str) -> str:
    """The SQL name a resource gets unless its authorization names it: SY-GA-PERSON → sy_ga_person."""
    name = re.sub(r"[^a-z0-9]+", "_", resource_code.lower()).strip("_")
    return name if name and name[0].isalpha() else f"t_{name}"


@dataclass(frozen=True)
class ColumnPolicy:
    name: str  # as in the snapshot (and in SQL, lower-cased by the checker's normalization)
    control: Control
    sql_type: str
    label: str = ""
    mask: str | None = None  # the mask's spelling, e.g. keep_first:6 (``Control.MASKED`` only)
    bounds: tuple[float, float] | None = None  # clamp of a summed value under differential privacy


@dataclass(frozen=True)
class TablePolicy:
    table: str  # the SQL name operators write
    resource: str  # the catalog resource code
    columns: dict[str, ColumnPolicy]  # by lower-cased name
    row_filter: exp.Expression | None = None  # over this table's columns, applied before anything else
    # Lower-cased names of the columns that hold a value of their own in every row (the snapshot's quality rules
    # prove it): counting rows of this table alone counts the people such a join column identifies.
    identifying: frozenset[str] = frozenset()

    def column(self, name: str) -> ColumnPolicy | None:
        return self.columns.get(name.lower())


@dataclass(frozen=True)
class Privacy:
    """Differential privacy (差分隐私) of an authorization's queries."""

    epsilon: float  # spent by each query
    budget: float  # per resource and period
    period: str  # day | week | month | quarter | year | total
    delta: float = 1e-6
    unit: tuple[str, str] | None = None  # (table, column) that identifies a person; None: each row is one
    max_contributions: int = 1  # rows a person may contribute to one query, after joins


@dataclass(frozen=True)
class Policy:
    tables: dict[str, TablePolicy]  # by SQL name
    min_group_size: int = 10  # k: smaller groups are suppressed
    row_limit: int = 10_000
    privacy: Privacy | None = None
    salt: str = ""  # of the pseudonym mask: per authorization, secret
    functions: frozenset[str] = field(default_factory=frozenset)  # extra allowed functions (none by default)

    def table(self, name: str) -> TablePolicy | None:
        return self.tables.get(name.lower())


def parse_row_filter(text: str, table: TablePolicy) -> exp.Expression:
    """A row filter written by the data bureau: a boolean SQL expression over the table's own columns, checked as
    strictly as a query (``checker.check_row_filter``) when the authorization is saved."""
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except ParseError as exc:
        raise InvalidInput(
            f"数据资源 {table.resource} 的行过滤条件无法解析：{exc.errors[0]['description'] if exc.errors else exc}",
            f"The row filter of resource {table.resource} does not parse: "
            f"{exc.errors[0]['description'] if exc.errors else exc}",
            resource=table.resource,
        ) from None
    if isinstance(tree, exp.Query) or tree is None:
        raise InvalidInput(
            f"数据资源 {table.resource} 的行过滤条件应为条件表达式，而不是查询。",
            f"The row filter of resource {table.resource} must be a condition, not a query.",
            resource=table.resource,
        )
    return tree
