"""Named masks (脱敏规则): how a ``masked`` column reads in the sandbox.

A mask is written once in SQL over the placeholder column ``x`` and applied where the column is read (the
rewriter puts it in the column's place), so comparisons, groupings and outputs all see masked values. A mask's
spelling is ``name`` or ``name:arguments`` (``keep_first:6``, ``keep_ends:3,4``, ``round:1000``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from shengjing.errors import InvalidInput

_TEXT = "CAST(x AS VARCHAR)"
_LENGTH = f"LENGTH({_TEXT})"


@dataclass(frozen=True)
class Mask:
    name: str
    label_zh: str
    label_en: str
    arguments: int  # how many integer arguments it takes
    template: Callable[[list[int], str, str], str]  # (arguments, column SQL type, salt) → SQL over x
    types: frozenset[str] | None = None  # the SQL types it applies to (None: any)


def _keep_first(args: list[int], _type: str, _salt: str) -> str:
    (n,) = args
    return f"LEFT({_TEXT}, {n}) || REPEAT('*', GREATEST({_LENGTH} - {n}, 0))"


def _keep_last(args: list[int], _type: str, _salt: str) -> str:
    (n,) = args
    return f"REPEAT('*', GREATEST({_LENGTH} - {n}, 0)) || RIGHT({_TEXT}, {n})"


def _keep_ends(args: list[int], _type: str, _salt: str) -> str:
    first, last = args
    middle = f"GREATEST({_LENGTH} - {first + last}, 0)"
    return f"LEFT({_TEXT}, {first}) || REPEAT('*', {middle}) || RIGHT({_TEXT}, {last})"


def _year(_args: list[int], sql_type: str, _salt: str) -> str:
    if sql_type in ("DATE", "TIMESTAMP"):
        return "YEAR(x)"
    return f"TRY_CAST(LEFT({_TEXT}, 4) AS INTEGER)"


def _year_month(_args: list[int], sql_type: str, _salt: str) -> str:
    if sql_type in ("DATE", "TIMESTAMP"):
        return "STRFTIME(x, '%Y-%m')"
    return f"LEFT(REPLACE(REPLACE({_TEXT}, '/', '-'), '.', '-'), 7)"


def _round(args: list[int], _type: str, _salt: str) -> str:
    (step,) = args
    return f"ROUND(x / {step}) * {step}"


def _band(args: list[int], _type: str, _salt: str) -> str:
    (width,) = args
    return f"FLOOR(x / {width}) * {width}"


def _pseudonym(_args: list[int], _type: str, salt: str) -> str:
    quoted = salt.replace("'", "''")
    return f"SHA256('{quoted}' || {_TEXT})"


_NUMBERS = frozenset({"BIGINT", "DOUBLE"})
MASKS: dict[str, Mask] = {
    m.name: m
    for m in (
        Mask("keep_first", "保留前 N 位", "keep the first N characters", 1, _keep_first),
        Mask("keep_last", "保留后 N 位", "keep the last N characters", 1, _keep_last),
        Mask("keep_ends", "保留前 A 位和后 B 位", "keep the first A and last B characters", 2, _keep_ends),
        Mask("surname", "仅保留姓氏", "keep the surname only", 0, lambda _a, t, s: _keep_first([1], t, s)),
        Mask("year", "仅保留年份", "year only", 0, _year),
        Mask("year_month", "仅保留年月", "year and month only", 0, _year_month),
        Mask("round", "取整到 N", "rounded to N", 1, _round, _NUMBERS),
        Mask("band", "按 N 分段", "in bands of N", 1, _band, _NUMBERS),
        Mask("pseudonym", "假名化（加盐哈希）", "pseudonym (salted hash)", 0, _pseudonym),
    )
}


def parse_spelling(spelling: str) -> tuple[Mask, list[int]]:
    name, _, rest = spelling.strip().partition(":")
    mask = MASKS.get(name)
    if mask is None:
        raise InvalidInput(
            f"没有名为“{name}”的脱敏规则（可用：{'、'.join(MASKS)}）。",
            f"No mask named '{name}' (available: {', '.join(MASKS)}).",
            mask=name,
        )
    try:
        args = [int(a) for a in rest.split(",")] if rest else []
    except ValueError:
        args = []
        rest = "?"
    if len(args) != mask.arguments or any(not 0 < a <= 1_000_000 for a in args):
        raise InvalidInput(
            f"脱敏规则“{name}”需要 {mask.arguments} 个正整数参数，例如 {name}{':6' if mask.arguments else ''}。",
            f"Mask '{name}' takes {mask.arguments} positive integer argument(s).",
            mask=spelling,
        )
    return mask, args


@functools.lru_cache(maxsize=1024)
def _parsed(sql: str) -> exp.Expression:
    """A mask's SQL parsed once (a parse costs more than the rest of a rewrite; callers transform a copy)."""
    return sqlglot.parse_one(sql, read="duckdb")


def mask_expression(spelling: str, column: exp.Expression, sql_type: str, salt: str) -> exp.Expression:
    """The mask applied to ``column`` (a tree), as a tree."""
    mask, args = parse_spelling(spelling)
    if mask.types is not None and sql_type not in mask.types:
        raise InvalidInput(
            f"脱敏规则“{mask.name}”只适用于数值型数据项。",
            f"Mask '{mask.name}' applies to numeric fields only.",
            mask=spelling,
        )
    tree = _parsed(mask.template(args, sql_type, salt))

    def place(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name == "x":
            return column.copy()
        return node

    return tree.transform(place)
