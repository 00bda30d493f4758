"""A theme library's pipeline: one declared SELECT over base libraries and resources, written once in DuckDB's
dialect and rendered for Spark by the runner. It may read only its declared inputs, and it must give exactly the
attributes of its model's entity: the model is the contract that the theme's users rely on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import sqlglot
from sqlglot import exp

from shengjing.errors import InvalidInput
from shengjing.libraries.engines import Runner
from shengjing.libraries.spec import ThemeLibrarySpec


def check_query(spec: ThemeLibrarySpec) -> exp.Select:
    """The declared query, parsed: one SELECT that reads no table but the declared inputs (CTEs aside)."""
    try:
        statements = sqlglot.parse(spec.sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise InvalidInput(
            f"主题库“{spec.code}”的查询无法解析：{exc}", f"Theme library {spec.code}: the query does not parse: {exc}"
        ) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Select | exp.Union):
        raise InvalidInput(
            f"主题库“{spec.code}”的查询必须是一条 SELECT 语句。",
            f"Theme library {spec.code}: the query must be one SELECT.",
        )
    query = statements[0]
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        if table.name not in spec.inputs and table.name not in ctes:
            raise InvalidInput(
                f"主题库“{spec.code}”的查询读取了未声明的表“{table.sql()}”。",
                f"Theme library {spec.code}: the query reads {table.sql()}, which is not a declared input.",
                table=table.sql(),
            )
        if table.args.get("db") or isinstance(table.this, exp.Anonymous):
            raise InvalidInput(
                f"主题库“{spec.code}”的查询只能按名称读取声明的输入。",
                f"Theme library {spec.code}: the query may read its inputs by name only.",
                table=table.sql(),
            )
    return query  # type: ignore[return-value]


def build_theme(
    spec: ThemeLibrarySpec,
    attributes: Sequence[str],
    inputs: Mapping[str, Sequence[Path]],
    runner: Runner,
    staging: Path,
) -> int:
    """Run the theme's query into ``staging``; its columns must be the entity's attributes."""
    query = check_query(spec)
    for name, files in inputs.items():
        runner.register(name, files)
    sql = query.sql(dialect="duckdb")
    columns = [f.name for f in runner.fetch(f"SELECT * FROM ({sql}) AS theme LIMIT 0").schema]  # noqa: S608
    if sorted(columns) != sorted(attributes):
        missing, extra = sorted(set(attributes) - set(columns)), sorted(set(columns) - set(attributes))
        raise InvalidInput(
            f"主题库“{spec.code}”的查询结果与数据模型不符：缺少 {missing or '无'}，多出 {extra or '无'}。",
            f"Theme library {spec.code}: the query's columns do not match its model: missing {missing}, extra {extra}.",
            missing=missing,
            extra=extra,
        )
    ordered = ", ".join(f'"{a}"' for a in attributes)
    return runner.write(f"SELECT {ordered} FROM ({sql}) AS theme", staging, "theme")  # noqa: S608
