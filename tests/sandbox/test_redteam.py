"""Red-team attacks on the sandbox (沙箱): queries an operator might write to see data they may use but never see.

Each attack is either refused by the checker, the refusal naming the column, control and clause to blame and no
message carrying a data value, or it is a query that must run, and then runs (checked, rewritten and executed as the
service does) with nothing protected in its result. The policy is the small city's (tests/sandbox/city.py), built in
code as ``service.policy_of`` builds it; the attacks that must execute run on its data in a lake of this module's
own, and a few run through the real service.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from shengjing.catalog.schemas import FieldIn
from shengjing.sandbox import checker
from shengjing.sandbox.checker import QueryRefused
from shengjing.sandbox.engines import DuckDBEngine, Engine, EngineFailure, Limits, QueryTimeout, SparkEngine
from shengjing.sandbox.models import QueryRun
from shengjing.sandbox.policy import SQL_TYPES, ColumnPolicy, Control, Policy, Privacy, TablePolicy, parse_row_filter
from shengjing.sandbox.rewriter import rewrite, source_name
from shengjing.sandbox.schemas import ResourceGrant
from shengjing.store.db import unit_of_work
from tests.sandbox.city import INSURANCE_CONTROLS, INSURANCE_FIELDS, PERSON_CONTROLS, PERSON_FIELDS, City, persons

ROW_LIMIT = 100
K = 5


def table_policy(
    table: str, resource: str, fields: list[FieldIn], controls: dict[str, Any], row_filter: str = ""
) -> TablePolicy:
    """A table's policy from an authorization's column rules, as the service builds it (unnamed fields: hidden)."""
    rules = ResourceGrant(resource=resource, table=table, columns=controls).rules()
    columns = {}
    for f in fields:
        rule = rules.get(f.name)
        columns[f.name] = ColumnPolicy(
            name=f.name,
            control=rule.control if rule else Control.HIDDEN,
            sql_type=SQL_TYPES[f.data_type],
            mask=rule.mask if rule else None,
            bounds=rule.bounds if rule else None,
        )
    plain = TablePolicy(table, resource, columns)
    return TablePolicy(table, resource, columns, parse_row_filter(row_filter, plain)) if row_filter else plain


def city_policy(**overrides: Any) -> Policy:
    """The city's default authorization (``City.document``): adults only, k = 5, 100 rows; a person's ID number is
    identifying, as the city's quality rules prove (so a query of person alone is counted by its rows)."""
    person = table_policy("person", "GA-PERSON", PERSON_FIELDS, PERSON_CONTROLS, "nl >= 18")
    tables = {
        "person": replace(person, identifying=frozenset({"gmsfhm"})),
        "insurance": table_policy("insurance", "RS-INSURANCE", INSURANCE_FIELDS, INSURANCE_CONTROLS),
    }
    return Policy(tables=tables, min_group_size=K, row_limit=ROW_LIMIT, salt="redteam-salt", **overrides)


POLICY = city_policy()
PEOPLE = persons(400)


def insurance_rows(seed: int = 7) -> list[dict[str, Any]]:
    """Payments by the city's persons: two per person on average, amounts as distinctive as incomes."""
    rng = random.Random(seed)
    return [
        {
            "gmsfhm": rng.choice(PEOPLE.rows)["gmsfhm"],
            "jfje": round(rng.uniform(100, 5000) + 0.13, 2),
            "xz": rng.choice(["养老", "医疗", "失业"]),
        }
        for _ in range(2 * len(PEOPLE.rows))
    ]


INSURANCE = insurance_rows()
SECRETS = PEOPLE.secrets() | {f"{r['jfje']:.2f}" for r in INSURANCE}
AMOUNTS = {r["sr"] for r in PEOPLE.rows} | {r["jfje"] for r in INSURANCE}
ADULTS = [r for r in PEOPLE.rows if r["nl"] >= 18]


def _alone() -> dict[str, Any]:
    """An adult who is the only one of their district, sex, occupation and age (a WHERE on those isolates them), with
    at least two payments (joins can repeat their row past k)."""
    seen: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in ADULTS:
        seen.setdefault((row["qx"], row["xb"], row["zy"], row["nl"]), []).append(row)
    payments: dict[str, int] = {}
    for payment in INSURANCE:
        payments[payment["gmsfhm"]] = payments.get(payment["gmsfhm"], 0) + 1
    return next(rows[0] for rows in seen.values() if len(rows) == 1 and payments.get(rows[0]["gmsfhm"], 0) >= 2)


ALONE = _alone()
ISOLATE = f"qx = '{ALONE['qx']}' AND xb = '{ALONE['xb']}' AND zy = '{ALONE['zy']}' AND nl = {ALONE['nl']}"
ID = ALONE["gmsfhm"]  # a real ID number: any attack may know one


def q(template: str, **values: object) -> str:
    """An attack's SQL: ``$ID`` is a real ID number (an attacker may know one), ``$ISOLATE`` a condition only one adult
    meets."""
    return Template(template).substitute(ID=ID, ISOLATE=ISOLATE, **values)


def joins(n: int) -> str:
    """``n`` more readings of person after ``p0``, each joined on the occupation (four values: the rows explode)."""
    return " ".join(f"JOIN person p{i} ON p{i}.zy = p0.zy" for i in range(1, n + 1))


def leaks(values: Any) -> list[str]:
    """The protected values in ``values`` (cells, messages): a number exactly (a MIN, a MAX or a group of one gives
    it back as it is stored), text whole or within."""
    found = []
    for value in values:
        if isinstance(value, float) and value in AMOUNTS:
            found.append(f"{value:.2f}")
        elif isinstance(value, str):
            found += [s for s in SECRETS if s in value]
    return found


def refusal_texts(exc: QueryRefused) -> list[str]:
    return [exc.message_zh, exc.message_en, json.dumps(exc.details, ensure_ascii=False)]


# --- refused by the checker --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """What a refusal must say: its code (one of them), and the column and clause to blame where there is one."""

    codes: tuple[str, ...]
    column: str | None = None
    clause: str | None = None

    def matches(self, reason: checker.Reason) -> bool:
        if reason.code not in self.codes:
            return False
        if self.column is not None:
            table = POLICY.table(reason.table or "")
            column = table.column(self.column) if table else None
            if reason.column != self.column or column is None or reason.control != column.control.value:
                return False
        return self.clause is None or reason.clause == self.clause


def no(code: str, column: str | None = None, clause: str | None = None, *more: str) -> Refusal:
    return Refusal((code, *more), column, clause)


FUNCTION = ("function", "source")  # a table function is refused as a function or as a source, whichever sees it first
NOT_A_QUERY = no("not_a_query")
HIDDEN = no("hidden", "xm")

FILES_AND_CATALOG = [
    pytest.param("SELECT * FROM read_csv('/etc/passwd')", Refusal(FUNCTION), id="read_csv"),
    pytest.param("SELECT * FROM read_csv_auto('/etc/passwd')", Refusal(FUNCTION), id="read_csv_auto"),
    pytest.param(
        "SELECT * FROM read_parquet('/var/lake/resource/*/*/*.parquet')", Refusal(FUNCTION), id="read_parquet"
    ),
    pytest.param("SELECT * FROM read_text('/etc/passwd')", Refusal(FUNCTION), id="read_text"),
    pytest.param("SELECT * FROM read_json('/etc/hosts')", Refusal(FUNCTION), id="read_json"),
    pytest.param("SELECT * FROM 'person.csv'", no("not_authorized"), id="file-as-table"),
    pytest.param("SELECT * FROM '/var/lake/**/*.parquet'", no("not_authorized"), id="glob-as-table"),
    pytest.param("SELECT * FROM glob('/var/lake/*')", Refusal(FUNCTION), id="glob"),
    pytest.param(
        "SELECT zy FROM person p JOIN read_csv('/etc/passwd') f ON p.zy = f.a", Refusal(FUNCTION), id="join-a-file"
    ),
    pytest.param("ATTACH '/var/meta.db' AS meta", NOT_A_QUERY, id="attach"),
    pytest.param("COPY person TO '/tmp/out.csv'", NOT_A_QUERY, id="copy-to"),
    pytest.param("COPY (SELECT zy FROM person) TO '/tmp/out.parquet' (FORMAT parquet)", NOT_A_QUERY, id="copy-query"),
    pytest.param("EXPORT DATABASE '/tmp/dump'", no("not_a_query", None, None, "syntax"), id="export"),
    pytest.param("INSTALL httpfs", NOT_A_QUERY, id="install"),
    pytest.param("LOAD httpfs", NOT_A_QUERY, id="load"),
    pytest.param("PRAGMA database_list", NOT_A_QUERY, id="pragma"),
    pytest.param("SET enable_external_access = true", NOT_A_QUERY, id="set"),
    pytest.param("RESET lock_configuration", NOT_A_QUERY, id="reset"),
    pytest.param("SELECT * FROM duckdb_tables()", Refusal(FUNCTION), id="duckdb_tables"),
    pytest.param("SELECT * FROM duckdb_settings()", Refusal(FUNCTION), id="duckdb_settings"),
    pytest.param("SELECT sql FROM duckdb_views()", Refusal(FUNCTION), id="duckdb_views"),
    pytest.param("SELECT * FROM duckdb_secrets()", Refusal(FUNCTION), id="duckdb_secrets"),
    pytest.param("SELECT * FROM information_schema.tables", no("source"), id="information_schema"),
    pytest.param("SELECT * FROM pragma_table_info('person')", Refusal(FUNCTION), id="pragma_table_info"),
    pytest.param("SELECT * FROM query('SELECT * FROM __sj_src_person')", Refusal(FUNCTION), id="query"),
    pytest.param("SELECT * FROM query_table('__sj_src_person')", Refusal(FUNCTION), id="query_table"),
    pytest.param("SELECT getvariable('salt')", no("function"), id="getvariable"),
    pytest.param("SELECT current_setting('allowed_paths')", no("function"), id="current_setting"),
    pytest.param("SELECT zy FROM memory.main.person", no("source"), id="catalog-qualified"),
]

WRITING = [
    pytest.param("INSERT INTO person (zy) VALUES ('x')", NOT_A_QUERY, id="insert"),
    pytest.param("UPDATE person SET zy = 'x'", NOT_A_QUERY, id="update"),
    pytest.param("DELETE FROM person", NOT_A_QUERY, id="delete"),
    pytest.param("CREATE TABLE t AS SELECT zy FROM person", NOT_A_QUERY, id="create-table"),
    pytest.param("CREATE VIEW v AS SELECT * FROM __sj_src_person", NOT_A_QUERY, id="create-view"),
    pytest.param("CREATE MACRO leak(x) AS x", NOT_A_QUERY, id="create-macro"),
    pytest.param("DROP TABLE person", NOT_A_QUERY, id="drop"),
    pytest.param("SELECT zy FROM person; DROP TABLE person", no("statements"), id="two-statements"),
    pytest.param("SELECT 1; SELECT gmsfhm FROM person", no("statements"), id="second-select"),
]

REACHED_INDIRECTLY = [
    pytest.param("SELECT p.xm AS name FROM person p", HIDDEN, id="alias-of-hidden"),
    pytest.param("SELECT t.a FROM (SELECT sr AS a FROM person) t", no("aggregate_only", "sr", "SELECT"), id="derived"),
    pytest.param(
        "WITH t AS (SELECT gmsfhm AS g FROM person), u AS (SELECT g AS zy FROM t) SELECT zy FROM u",
        no("join_only", "gmsfhm", "SELECT"),
        id="cte-chain",
    ),
    pytest.param(
        "WITH person AS (SELECT nl AS zy FROM person) SELECT zy FROM person", no("compare_only", "nl"), id="cte-shadow"
    ),
    pytest.param("SELECT (SELECT nl FROM person LIMIT 1)", no("compare_only", "nl", "SELECT"), id="scalar-subquery"),
    pytest.param("SELECT zy, (SELECT MAX(sr) FROM person) FROM person", no("aggregate_only", "sr"), id="scalar-max"),
    pytest.param(
        q("SELECT zy FROM person WHERE gmsfhm IN (SELECT '$ID')"), no("join_only", "gmsfhm", "WHERE"), id="in-literal"
    ),
    pytest.param(
        "SELECT zy FROM person WHERE zy IN (SELECT gmsfhm FROM insurance)", no("join_only", "gmsfhm"), id="in-plain"
    ),
    pytest.param(
        q("SELECT zy FROM person WHERE EXISTS (SELECT 1 FROM person q WHERE q.gmsfhm = '$ID')"),
        no("join_only", "gmsfhm", "WHERE"),
        id="exists-literal",
    ),
    pytest.param(
        q("SELECT zy FROM person WHERE EXISTS (SELECT q.gmsfhm FROM person q INTERSECT SELECT '$ID')"),
        no("join_only", "gmsfhm", "INTERSECT"),
        id="exists-intersect",
    ),
    pytest.param(
        q("SELECT COUNT(*) FROM (SELECT 1 AS one FROM person q WHERE q.gmsfhm = '$ID') t"),
        no("join_only", "gmsfhm", "WHERE"),
        id="unread-derived-table",
    ),
    pytest.param(
        q("WITH t AS (SELECT 1 AS one FROM person WHERE gmsfhm = '$ID') SELECT COUNT(*) FROM t"),
        no("join_only", "gmsfhm", "WHERE"),
        id="unread-cte",
    ),
    pytest.param(
        "SELECT p.zy, (SELECT COUNT(*) FROM person q WHERE q.nl < p.nl) AS age_rank FROM person p",
        no("compare_only", "nl", "SELECT"),
        id="correlated-rank",
    ),
    pytest.param(
        "SELECT p.zy, (SELECT SUM(i.jfje) FROM insurance i WHERE i.gmsfhm = p.gmsfhm) FROM person p",
        no("join_only", "gmsfhm", "SELECT"),
        id="correlated-per-person-sum",
    ),
    pytest.param(
        q("SELECT (SELECT SUM(p.sr) FROM insurance i LIMIT 1) FROM person p WHERE $ISOLATE"),
        no("correlated", None, "SELECT"),
        id="correlated-outer-aggregate",
    ),
    pytest.param(
        "SELECT p.zy, (SELECT COUNT(*) FROM person q WHERE q.qx = p.qx) FROM person p",
        no("group_by_output", "qx", "SELECT"),
        id="correlated-district-size",
    ),
    pytest.param(
        "SELECT p.zy FROM person p WHERE EXISTS (SELECT 1 FROM insurance i WHERE i.gmsfhm = p.gmsfhm OFFSET 4)",
        no("join_only", "gmsfhm", "WHERE"),
        id="exists-offset-counts-a-person",
    ),
    pytest.param(
        "SELECT p.zy FROM person p WHERE EXISTS "
        "(SELECT 1 FROM insurance i WHERE i.gmsfhm = p.gmsfhm HAVING SUM(i.jfje) > 1000)",
        no("join_only", "gmsfhm", "WHERE"),
        id="exists-per-person-aggregate",
    ),
]

# The isolated person's row k times: as many rows as a group needs, all of one person.
COPIES = " UNION ALL ".join([q("SELECT zy FROM person WHERE $ISOLATE")] * K)
DISTINCT_COPIES = " UNION ".join(q("SELECT zy, $n AS copy FROM person WHERE $ISOLATE", n=n) for n in range(K))

SET_OPERATIONS = [
    pytest.param("SELECT zy FROM person UNION SELECT xm FROM person", HIDDEN, id="union-hidden"),
    pytest.param(
        "SELECT zy FROM person UNION ALL SELECT gmsfhm FROM insurance", no("join_only", "gmsfhm"), id="union-all"
    ),
    pytest.param(
        q("SELECT '$ID' INTERSECT SELECT gmsfhm FROM person"), no("join_only", "gmsfhm", "INTERSECT"), id="intersect"
    ),
    pytest.param(q("SELECT '$ID' EXCEPT SELECT gmsfhm FROM person"), no("join_only", "gmsfhm", "EXCEPT"), id="except"),
    pytest.param(
        q("SELECT COUNT(*) FROM (SELECT gmsfhm FROM person UNION SELECT '$ID') t"),
        no("join_only", "gmsfhm", "UNION"),
        id="union-dedupe-counts-membership",
    ),
    pytest.param(
        q("SELECT SUM(t.v) FROM (SELECT sr AS v FROM person WHERE $ISOLATE UNION ALL SELECT sr * 0 FROM person) t"),
        no("aggregate_only", "sr", "UNION"),
        id="union-all-pads-past-k",
    ),
    pytest.param("SELECT zy FROM person UNION BY NAME SELECT zy FROM person", no("by_name"), id="union-by-name"),
    pytest.param(
        q("SELECT t.zy, COUNT(*) FROM ($COPIES) t GROUP BY t.zy", COPIES=COPIES),
        no("set_operation_rows", None, "FROM"),
        id="union-all-repeats-one-person-k-times",
    ),
    pytest.param(
        q("SELECT COUNT(*) FROM ($COPIES) t", COPIES=DISTINCT_COPIES),
        no("set_operation_rows", None, "FROM"),
        id="union-made-distinct-by-a-literal",
    ),
    pytest.param(
        q("WITH copies AS ($COPIES) SELECT zy, COUNT(*) FROM copies GROUP BY zy", COPIES=COPIES),
        no("set_operation_rows", None, "FROM"),
        id="union-all-repeats-through-a-cte",
    ),
    pytest.param(
        q("SELECT COUNT(*) FROM (SELECT u.zy FROM ($COPIES) u WHERE u.zy IS NOT NULL) t", COPIES=COPIES),
        no("set_operation_rows", None, "FROM"),
        id="union-all-repeats-through-a-derived-table",
    ),
]

WHOLE_ROWS = [
    pytest.param("SELECT p FROM person p", no("whole_row"), id="table-as-column"),
    pytest.param("SELECT p.* FROM person p", HIDDEN, id="alias-star"),
    pytest.param("SELECT * FROM person", HIDDEN, id="star"),
    pytest.param("SELECT * EXCLUDE (xm) FROM person", no("join_only", "gmsfhm"), id="star-exclude"),
    pytest.param("SELECT struct_pack(id := gmsfhm) FROM person", no("function"), id="struct_pack"),
    pytest.param("SELECT {'v': sr} FROM person", no("function"), id="struct-literal"),
    pytest.param("SELECT [gmsfhm, xm] FROM person", no("function"), id="list-literal"),
    pytest.param("SELECT to_json(p) FROM person p", no("function", None, None, "whole_row"), id="to_json"),
    pytest.param("SELECT COLUMNS(*) FROM person", no("function"), id="columns-star"),
    pytest.param("SELECT COLUMNS('x.*') FROM person", no("function"), id="columns-regex"),
    pytest.param("SELECT (gmsfhm, zy) FROM person", no("join_only", "gmsfhm"), id="row-tuple"),
]

FUNCTIONS_OF_PROTECTED = [
    pytest.param("SELECT md5(gmsfhm) FROM person", no("join_only", "gmsfhm", "SELECT"), id="md5"),
    pytest.param("SELECT sha256(gmsfhm) FROM person", no("join_only", "gmsfhm", "SELECT"), id="sha256"),
    pytest.param("SELECT lower(xm) FROM person", HIDDEN, id="lower-hidden"),
    pytest.param("SELECT length(gmsfhm) FROM person", no("join_only", "gmsfhm", "SELECT"), id="length"),
    pytest.param("SELECT substr(gmsfhm, 7, 8) AS birthday FROM person", no("join_only", "gmsfhm"), id="substr"),
    pytest.param(
        "SELECT regexp_extract(gmsfhm, '[0-9]{6}') FROM person", no("join_only", "gmsfhm"), id="regexp_extract"
    ),
    pytest.param("SELECT left(qx, 4) FROM person", no("group_by_output", "qx", "SELECT"), id="left-of-group-key"),
    pytest.param("SELECT nl + 0 FROM person", no("compare_only", "nl", "SELECT"), id="arithmetic-on-compare"),
    pytest.param("SELECT CASE WHEN nl > 30 THEN 'old' END FROM person", no("compare_only", "nl"), id="case-row-level"),
    pytest.param("SELECT sr * 1 FROM person", no("aggregate_only", "sr", "SELECT"), id="arithmetic-on-aggregate"),
    pytest.param("SELECT coalesce(gmsfhm, zy) FROM person", no("join_only", "gmsfhm"), id="coalesce"),
]

ORDER_AND_LIMIT = [
    pytest.param(
        "SELECT zy FROM person ORDER BY sr DESC LIMIT 1", no("aggregate_only", "sr", "ORDER BY"), id="order-sr"
    ),
    pytest.param("SELECT zy FROM person ORDER BY nl", no("compare_only", "nl", "ORDER BY"), id="order-compare"),
    pytest.param("SELECT zy FROM person ORDER BY gmsfhm", no("join_only", "gmsfhm", "ORDER BY"), id="order-join"),
    pytest.param(
        "SELECT COUNT(*) FROM (SELECT zy FROM person ORDER BY sr DESC LIMIT 1) t",
        no("aggregate_only", "sr", "ORDER BY"),
        id="order-in-unread-derived",
    ),
    pytest.param(
        "SELECT zy FROM person LIMIT (SELECT COUNT(*) FROM person WHERE nl > 90)", no("limit"), id="limit-query"
    ),
    pytest.param("SELECT zy FROM person LIMIT 1e9", no("limit"), id="limit-float"),
    pytest.param("SELECT zy FROM person LIMIT 10 OFFSET nl", no("limit"), id="offset-column"),
]

REVEALING_AGGREGATES = [
    pytest.param(q("SELECT qx, $AGG FROM person GROUP BY qx", AGG=agg), no("aggregate_only", "sr", "SELECT"), id=name)
    for name, agg in [
        ("min", "MIN(sr)"),
        ("max", "MAX(sr)"),
        ("any_value", "ANY_VALUE(sr)"),
        ("first", "FIRST(sr)"),
        ("last", "LAST(sr)"),
        ("arg_max", "ARG_MAX(zy, sr)"),
        ("arg_min", "ARG_MIN(sr, zy)"),
        ("list", "LIST(sr)"),
        ("array_agg", "ARRAY_AGG(sr)"),
        ("string_agg", "STRING_AGG(sr, ',')"),
        ("median", "MEDIAN(sr)"),
        ("quantile", "QUANTILE_CONT(sr, 0.999)"),
        ("quantile_disc", "QUANTILE_DISC(sr, 0)"),
        ("mode", "MODE(sr)"),
    ]
] + [
    pytest.param(
        "SELECT qx, STRING_AGG(gmsfhm, ',') FROM person GROUP BY qx", no("join_only", "gmsfhm"), id="string_agg-ids"
    ),
    pytest.param("SELECT COUNT(DISTINCT gmsfhm) FROM person", no("join_only", "gmsfhm"), id="count-distinct-ids"),
    pytest.param("SELECT SUM(nl) FROM person", no("compare_only", "nl"), id="sum-of-compare"),
    pytest.param(
        "SELECT zy FROM person GROUP BY zy HAVING MAX(sr) > 89000",
        no("aggregate_only", "sr", "HAVING"),
        id="having-max",
    ),
]

CONDITIONAL_AGGREGATES = [  # a group in disguise: the condition isolates a person inside a group large enough
    pytest.param(q("SELECT SUM(CASE WHEN $ISOLATE THEN sr END) FROM person"), no("aggregate_only", "sr"), id="case"),
    pytest.param(q("SELECT AVG(IF($ISOLATE, sr, NULL)) FROM person"), no("aggregate_only", "sr"), id="avg-if"),
    pytest.param(
        q("SELECT SUM(sr * TRY_CAST($ISOLATE AS INTEGER)) FROM person"),
        no("aggregate_only", "sr"),
        id="sum-times-indicator",
    ),
    pytest.param(
        "SELECT qx, LN(SUM(EXP(sr / 1000))) FROM person GROUP BY qx", no("aggregate_only", "sr"), id="soft-max"
    ),
    pytest.param("SELECT SUM(ROUND(sr / 180000)) FROM person", no("aggregate_only", "sr"), id="sum-of-threshold"),
    pytest.param(
        "SELECT COUNT(*) FILTER (WHERE sr > 89000) FROM person", no("aggregate_only", "sr"), id="filter-on-income"
    ),
    pytest.param(
        q("SELECT SUM((SELECT q.sr FROM person q WHERE $ISOLATE LIMIT 1)) FROM person"),
        no("aggregate_only", "sr"),
        id="sum-of-a-scalar-subquery",
    ),
    pytest.param(
        q("SELECT SUM(t.v) FROM (SELECT CASE WHEN $ISOLATE THEN sr END AS v FROM person) t"),
        no("aggregate_only", "sr"),
        id="case-in-derived-table",
    ),
    pytest.param(
        "SELECT qx, SUM(p.sr * i.jfje) FROM person p JOIN insurance i ON p.gmsfhm = i.gmsfhm GROUP BY qx",
        no("aggregate_only", "sr"),
        id="product-of-columns",
    ),
]

WINDOWS = [
    pytest.param("SELECT zy, SUM(sr) OVER () FROM person", no("aggregate_only", "sr", "SELECT"), id="sum-over"),
    pytest.param(
        "SELECT zy, AVG(sr) OVER (PARTITION BY qx) FROM person", no("aggregate_only", "sr"), id="avg-partition"
    ),
    pytest.param(
        "SELECT ROW_NUMBER() OVER (PARTITION BY gmsfhm) FROM person", no("join_only", "gmsfhm"), id="partition-ids"
    ),
    pytest.param("SELECT zy, RANK() OVER (ORDER BY sr) FROM person", no("aggregate_only", "sr"), id="rank-by-income"),
    pytest.param("SELECT LAG(sr) OVER (ORDER BY zy) FROM person", no("aggregate_only", "sr"), id="lag"),
    pytest.param("SELECT FIRST_VALUE(nl) OVER (ORDER BY nl) FROM person", no("compare_only", "nl"), id="first_value"),
    pytest.param(
        "SELECT zy FROM person QUALIFY ROW_NUMBER() OVER (ORDER BY sr DESC) = 1",
        no("aggregate_only", "sr", "QUALIFY"),
        id="qualify-richest",
    ),
]

GROUPING = [
    pytest.param("SELECT COUNT(*) FROM person GROUP BY gmsfhm", no("join_only", "gmsfhm", "GROUP BY"), id="group-ids"),
    pytest.param(
        "SELECT COUNT(*) FROM insurance GROUP BY gmsfhm HAVING COUNT(*) > 3",
        no("join_only", "gmsfhm", "GROUP BY"),
        id="group-ids-having",
    ),
    pytest.param("SELECT COUNT(*) FROM person GROUP BY nl", no("compare_only", "nl", "GROUP BY"), id="group-compare"),
    pytest.param(
        "SELECT COUNT(*) FROM person GROUP BY sr", no("aggregate_only", "sr", "GROUP BY"), id="group-aggregate"
    ),
    pytest.param("SELECT COUNT(*) FROM person GROUP BY xm", HIDDEN, id="group-hidden"),
    pytest.param("SELECT qx FROM person", no("group_by_output", "qx", "SELECT"), id="group-key-row-level"),
    pytest.param("SELECT COUNT(*) FROM person GROUP BY ROLLUP (qx, xb)", no("syntax_element"), id="rollup"),
    pytest.param("SELECT COUNT(*) FROM person GROUP BY CUBE (qx)", no("syntax_element"), id="cube"),
    pytest.param(
        "SELECT COUNT(*) FROM person GROUP BY GROUPING SETS ((qx), ())", no("syntax_element"), id="grouping-sets"
    ),
    pytest.param("SELECT qx, COUNT(*) FROM person GROUP BY ALL", no("group_by_all"), id="group-by-all"),
    pytest.param("SELECT DISTINCT ON (nl) zy FROM person", no("distinct_on"), id="distinct-on"),
    pytest.param(
        "SELECT COUNT(*) FROM (SELECT DISTINCT gmsfhm FROM person) t",
        no("join_only", "gmsfhm", "DISTINCT"),
        id="distinct-ids",
    ),
]

JOIN_ONLY_COMPARED = [
    pytest.param(q("SELECT zy FROM person WHERE gmsfhm = '$ID'"), no("join_only", "gmsfhm", "WHERE"), id="where-id"),
    pytest.param(
        "SELECT COUNT(*) FROM person WHERE gmsfhm LIKE '210102%'", no("join_only", "gmsfhm", "WHERE"), id="like"
    ),
    pytest.param(
        q("SELECT p.zy FROM person p JOIN insurance i ON p.gmsfhm = i.gmsfhm AND p.gmsfhm = '$ID'"),
        no("join_only", "gmsfhm", "JOIN ON"),
        id="on-literal",
    ),
    pytest.param(
        "SELECT COUNT(*) FROM person p JOIN insurance i ON p.gmsfhm < i.gmsfhm",
        no("join_only", "gmsfhm", "JOIN ON"),
        id="on-inequality",
    ),
    pytest.param(
        q("SELECT CASE WHEN gmsfhm = '$ID' THEN 1 END, COUNT(*) FROM person GROUP BY 1"),
        no("join_only", "gmsfhm"),
        id="case-when",
    ),
    pytest.param(
        q("SELECT p.zy FROM person p JOIN (SELECT '$ID' AS g) t ON p.gmsfhm = t.g"),
        no("join_only", "gmsfhm", "JOIN ON"),
        id="join-a-literal",
    ),
    pytest.param(
        q("SELECT p.zy FROM person p ANTI JOIN (SELECT '$ID' AS g) t ON p.gmsfhm = t.g"),
        no("join_only", "gmsfhm", "JOIN ON"),
        id="anti-join-a-literal",
    ),
    pytest.param(
        "SELECT p.zy, q.zy FROM person p JOIN person q ON p.gmsfhm = q.zy",
        no("join_only", "gmsfhm", "JOIN ON"),
        id="join-id-with-plain",
    ),
    pytest.param(
        "SELECT COUNT(*) FROM person p JOIN person q ON p.zy = q.nl", no("cross_join"), id="join-keys-of-two-kinds"
    ),
    pytest.param(
        "SELECT COUNT(*) FROM person p JOIN (SELECT LEFT(gmsfhm, 6) AS g FROM insurance) t ON p.gmsfhm = t.g",
        no("join_only", "gmsfhm", "JOIN ON"),
        id="join-on-a-prefix",
    ),
    pytest.param(
        q(
            "SELECT COUNT(*) FROM person p JOIN (SELECT CASE WHEN xz = '养老' THEN '$ID' ELSE gmsfhm END AS g "
            "FROM insurance) t ON p.gmsfhm = t.g"
        ),
        no("join_only", "gmsfhm", "JOIN ON"),
        id="join-on-an-injected-literal",
    ),
    pytest.param(
        "SELECT zy, COUNT(*) FROM person GROUP BY zy HAVING MIN(gmsfhm) = 'x'",
        no("join_only", "gmsfhm", "HAVING"),
        id="having-min-id",
    ),
    pytest.param(
        q("SELECT COUNT(*) FILTER (WHERE gmsfhm = '$ID') FROM person"), no("join_only", "gmsfhm"), id="filter-on-id"
    ),
]

ERRORS_THAT_ECHO = [
    pytest.param("SELECT CAST(xm AS INTEGER) FROM person", no("cast"), id="cast-hidden"),
    pytest.param("SELECT COUNT(*) FROM person WHERE CAST(bz AS INTEGER) > 0", no("cast"), id="cast-masked"),
    pytest.param("SELECT gmsfhm::BIGINT FROM person", no("cast"), id="double-colon"),
    pytest.param("SELECT TRY_CAST(zy AS BLOB) FROM person", no("type"), id="try_cast-blob"),
    pytest.param("SELECT TRY(error(xm)) FROM person", no("function"), id="try-error"),
    pytest.param("SELECT error(zy) FROM person", no("function"), id="error"),
]

EXHAUSTION = [
    pytest.param("SELECT COUNT(*) FROM person a CROSS JOIN person b", no("join_kind"), id="cross-join"),
    pytest.param("SELECT COUNT(*) FROM person a, person b", no("cross_join"), id="comma-join"),
    pytest.param(
        "SELECT COUNT(*) FROM person p, insurance i WHERE p.gmsfhm = i.gmsfhm", no("cross_join"), id="comma-join-where"
    ),
    pytest.param("SELECT COUNT(*) FROM person a JOIN person b ON TRUE", no("cross_join"), id="on-true"),
    pytest.param(
        "SELECT COUNT(*) FROM person a JOIN person b ON a.zy = b.zy OR a.xb = b.xb", no("cross_join"), id="on-or"
    ),
    pytest.param(
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r",
        no("recursive"),
        id="recursive-cte",
    ),
    pytest.param("SELECT COUNT(*) FROM range(1000000000000)", Refusal(FUNCTION), id="range"),
    pytest.param("SELECT * FROM generate_series(1, 1000000000000)", Refusal(FUNCTION), id="generate_series"),
    pytest.param("SELECT repeat(zy, 1000000000) FROM person", no("function"), id="repeat"),
    pytest.param("SELECT lpad(zy, 1000000000, 'x') FROM person", no("function"), id="lpad"),
    pytest.param(
        q("SELECT COUNT(*) FROM person p0 $JOINS", JOINS=joins(8)),
        no("too_many_tables"),
        id="nine-tables",
    ),
    pytest.param("SELECT zy FROM person WHERE zy = '" + "x" * 60_000 + "'", no("too_long"), id="too-long"),
    pytest.param("SELECT " + " + ".join(["1"] * 12_000), no("too_large"), id="too-many-nodes"),
]

RESERVED_AND_SYNTAX = [
    pytest.param("SELECT * FROM __sj_src_person", no("reserved"), id="snapshot-by-name"),
    pytest.param('SELECT zy FROM "__SJ_SRC_PERSON"', no("reserved"), id="snapshot-quoted-upper"),
    pytest.param("SELECT __sj_row.zy FROM person AS __sj_row", no("reserved"), id="reserved-alias"),
    pytest.param(
        "WITH __sj_src_person AS (SELECT 1 AS x) SELECT x FROM __sj_src_person", no("reserved"), id="reserved-cte"
    ),
    pytest.param("FROM person", HIDDEN, id="from-first"),
    pytest.param("FROM person SELECT gmsfhm", no("join_only", "gmsfhm", "SELECT"), id="from-first-select"),
    pytest.param("FROM person p SELECT p.sr WHERE p.nl > 30", no("aggregate_only", "sr"), id="from-first-alias"),
    pytest.param("SELECT a.zy FROM person a POSITIONAL JOIN insurance b", no("join_kind"), id="positional-join"),
    pytest.param(
        "SELECT a.zy FROM person a ASOF JOIN insurance b ON a.gmsfhm = b.gmsfhm", no("join_kind"), id="asof-join"
    ),
    pytest.param("SELECT a.zy FROM person a NATURAL JOIN insurance b", no("join_kind"), id="natural-join"),
    pytest.param(
        "SELECT zy FROM person p, LATERAL (SELECT p.nl) t", no("syntax_element", None, None, "join_kind"), id="lateral"
    ),
    pytest.param(
        "SELECT p.zy FROM person p JOIN (SELECT p.nl AS n) t ON t.n = p.nl", no("unresolved"), id="implicit-lateral"
    ),
    pytest.param("SELECT zy FROM person WHERE nl = ?", no("syntax_element"), id="placeholder"),
    pytest.param("SELECT zy FROM person USING SAMPLE 1", no("syntax_element"), id="sample"),
    pytest.param("SUMMARIZE person", NOT_A_QUERY, id="summarize"),
    pytest.param("DESCRIBE person", NOT_A_QUERY, id="describe"),
    pytest.param("EXPLAIN SELECT zy FROM person", NOT_A_QUERY, id="explain"),
    pytest.param("PIVOT person ON qx USING SUM(sr)", NOT_A_QUERY, id="pivot"),
    pytest.param("SELECT unnest([1, 2])", no("function"), id="unnest"),
    pytest.param("SELECT list_transform([1], x -> x + 1)", no("function"), id="lambda"),
    pytest.param("SELECT zy FROM person WHERE random() < 0.5", no("function"), id="random"),
    pytest.param("SELECT xm FROM person", HIDDEN, id="hidden"),
    pytest.param('SELECT "XM" FROM PERSON', HIDDEN, id="hidden-in-capitals"),
]

ATTACKS = (
    FILES_AND_CATALOG
    + WRITING
    + REACHED_INDIRECTLY
    + SET_OPERATIONS
    + WHOLE_ROWS
    + FUNCTIONS_OF_PROTECTED
    + ORDER_AND_LIMIT
    + REVEALING_AGGREGATES
    + CONDITIONAL_AGGREGATES
    + WINDOWS
    + GROUPING
    + JOIN_ONLY_COMPARED
    + ERRORS_THAT_ECHO
    + EXHAUSTION
    + RESERVED_AND_SYNTAX
)


@pytest.mark.parametrize(("sql", "expected"), ATTACKS)
def test_the_attack_is_refused(sql: str, expected: Refusal) -> None:
    with pytest.raises(QueryRefused) as refused:
        checker.check(sql, POLICY)
    reasons = refused.value.reasons
    assert any(expected.matches(r) for r in reasons), [r.as_dict() for r in reasons]
    assert not leaks(refusal_texts(refused.value))


PRIVATE = Privacy(epsilon=1.0, budget=3.0, period="month", unit=("person", "gmsfhm"), max_contributions=2)


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        pytest.param("SELECT zy FROM person", "dp_shape", id="no-aggregate"),  # a row-level output at the root
        pytest.param("SELECT qx, SUM(sr * 1000) FROM person GROUP BY qx", "dp_bounds", id="unbounded-sum"),
        pytest.param("SELECT qx, COUNT(*) FROM person GROUP BY qx HAVING COUNT(*) = 1", "dp_shape", id="having"),
        pytest.param(
            "SELECT qx, SUM(sr) AS s FROM person GROUP BY qx ORDER BY s DESC", "dp_order", id="order-by-exact"
        ),
        pytest.param(
            "SELECT SUM(s) FROM (SELECT qx, SUM(sr) AS s FROM person GROUP BY qx) t", "dp_nested", id="nested"
        ),
        pytest.param("SELECT xz, COUNT(*) FROM insurance GROUP BY xz", "dp_unit", id="without-the-unit"),
    ],
)
def test_under_differential_privacy_what_would_spend_nothing_for_a_value_is_refused(sql: str, code: str) -> None:
    policy = city_policy(privacy=PRIVATE)
    with pytest.raises(QueryRefused) as refused:
        rewrite(checker.check(sql, policy), policy)
    assert {r.code for r in refused.value.reasons} <= {code, "dp_aggregate"}
    assert not leaks(refusal_texts(refused.value))


def test_there_are_enough_attacks() -> None:
    assert len(ATTACKS) >= 80
    assert len({p.id for p in ATTACKS}) == len(ATTACKS)


# --- the attacks that run -------------------------------------------------------------------------------------------


def write_lake(root: Path) -> dict[str, list[Path]]:
    """The city's snapshots as the engine reads them: the rewriter's source name → files."""
    files = {}
    for table, rows in (("person", PEOPLE.rows), ("insurance", INSURANCE)):
        path = root / f"{table}.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
        files[source_name(table)] = [path]
    return files


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return write_lake(tmp_path_factory.mktemp("redteam-lake"))


def execute(sql: str, lake: dict[str, list[Path]], *, engine: Engine | None = None, seconds: float = 30.0) -> pa.Table:
    """Check, rewrite and run ``sql`` as the service does."""
    rewritten = rewrite(checker.check(sql, POLICY), POLICY)
    engine = engine or DuckDBEngine()
    sources = {name: lake[name] for name in rewritten.sources}
    table = engine.run(rewritten.sql(engine.dialect), sources, fetch=rewritten.fetch, limits=Limits(seconds=seconds))
    assert table.num_rows <= min(rewritten.fetch, ROW_LIMIT + 1)
    return table


def cells(table: pa.Table) -> list[Any]:
    return [value for column in table.to_pydict().values() for value in column]


def suppressed(table: pa.Table) -> bool:
    """No group came out, or only an empty aggregate (NULL) of one."""
    return all(value is None for value in cells(table))


SMALL_GROUPS = [
    pytest.param(q("SELECT COUNT(*), SUM(sr), AVG(sr) FROM person WHERE $ISOLATE"), id="where-isolates"),
    pytest.param(q("SELECT zy, AVG(sr) FROM person WHERE $ISOLATE GROUP BY zy"), id="group-of-one"),
    pytest.param(q("SELECT SUM(sr) FILTER (WHERE $ISOLATE) FROM person"), id="filter-isolates"),
    pytest.param(
        q("SELECT qx FROM person GROUP BY qx HAVING SUM(sr) FILTER (WHERE $ISOLATE) > 0"),
        id="having-filter-isolates",
    ),
    pytest.param(
        q("SELECT SUM(i.jfje) FROM person p JOIN insurance i ON p.gmsfhm = i.gmsfhm WHERE $ISOLATE"),
        id="join-isolates",
    ),
    pytest.param(
        q("SELECT zy FROM person WHERE (SELECT SUM(q.sr) FROM person q WHERE $ISOLATE) > 0"),
        id="subquery-isolates",
    ),
    pytest.param(
        q(
            "SELECT SUM(t.v), COUNT(*) FROM (SELECT i.jfje AS v FROM person p JOIN insurance i ON p.gmsfhm = i.gmsfhm "
            "WHERE $ISOLATE) t"
        ),
        id="join-isolates-in-a-derived-table",
    ),
    pytest.param(
        q("SELECT SUM(i.jfje) FROM insurance i WHERE i.gmsfhm IN (SELECT gmsfhm FROM person WHERE $ISOLATE)"),
        id="semi-join-isolates",
    ),
    pytest.param(  # two payments → eight rows, past k, of one person: one distinct ID across the inner joins' class
        q(
            "SELECT COUNT(*), SUM(i.jfje) FROM person p JOIN insurance i ON p.gmsfhm = i.gmsfhm "
            "JOIN insurance j ON i.gmsfhm = j.gmsfhm JOIN insurance l ON l.gmsfhm = p.gmsfhm WHERE $ISOLATE"
        ),
        id="inner-joins-repeat-one-person-past-k",
    ),
    pytest.param(
        q(
            "SELECT COUNT(*), SUM(i.jfje) FROM person p LEFT JOIN insurance i ON p.gmsfhm = i.gmsfhm "
            "LEFT JOIN insurance j ON i.gmsfhm = j.gmsfhm RIGHT JOIN insurance l ON l.gmsfhm = p.gmsfhm WHERE $ISOLATE"
        ),
        id="outer-joins-repeat-one-person-past-k",
    ),
    pytest.param(
        q("WITH one AS (SELECT sr FROM person WHERE $ISOLATE) SELECT SUM(sr) FROM one"),
        id="cte-isolates",
    ),
    pytest.param("SELECT COUNT(*), AVG(sr) FROM person WHERE nl < 18", id="the-row-filter-holds"),
]


@pytest.mark.parametrize("sql", SMALL_GROUPS)
def test_a_group_of_one_person_comes_back_suppressed(sql: str, lake: dict[str, list[Path]]) -> None:
    table = execute(sql, lake)
    assert suppressed(table), table.to_pylist()
    assert not leaks(cells(table))


RUNS_CLEAN = [
    pytest.param("SELECT zy FROM person WHERE nl // (nl - 37) = 1", id="division-by-zero-in-where"),
    pytest.param("SELECT zy, COUNT(*) FROM person GROUP BY zy, nl % (nl - 40) > 0", id="modulo-by-zero-in-group-key"),
    pytest.param(
        "SELECT nl * 9223372036854775807 > 0 AS big, COUNT(*) FROM person GROUP BY nl * 9223372036854775807 > 0 "
        "HAVING (nl * 9223372036854775807 > 0) IS NOT NULL ORDER BY big",
        id="overflow-in-group-key-having-and-order",
    ),
    pytest.param("SELECT zy FROM person WHERE nl + 9223372036854775800 > 0", id="overflow-in-where"),
    pytest.param("SELECT COUNT(*) FROM person p JOIN person q ON p.zy = q.zy AND p.nl // (q.nl - 30) > 0", id="in-on"),
    pytest.param("SELECT zy FROM person WHERE qx = 5", id="implicit-cast-of-a-group-key"),
    pytest.param(
        "WITH insurance AS (SELECT nl AS xz FROM person) SELECT COUNT(*) FROM insurance WHERE xz // (xz - 37) = 1",
        id="cte-named-like-a-table",
    ),
    pytest.param(
        "SELECT COUNT(*) FROM person p WHERE EXISTS (SELECT 1 FROM (SELECT nl AS zy FROM person) p "
        "WHERE p.zy // (p.zy - 37) = 1)",
        id="alias-of-a-table-reused",
    ),
    pytest.param("SELECT zy FROM person WHERE strptime(qx, '%Y-%m') IS NULL", id="failed-parse"),
    pytest.param("SELECT qx, SUM(sr / 0), AVG(sr * 1e308 * 10) FROM person GROUP BY qx", id="infinite-aggregates"),
    pytest.param(
        "SELECT qx, COUNT(*) FROM person GROUP BY qx HAVING COUNT(*) // (COUNT(*) - 1) = 1", id="having-count-1"
    ),
    pytest.param("SELECT bz, LOWER(bz), regexp_extract(bz, '[0-9]+') FROM person", id="a-mask-shows-no-digits"),
    pytest.param("WITH m AS (SELECT bz AS b FROM person) SELECT b, COUNT(*) FROM m GROUP BY b", id="mask-through-cte"),
    pytest.param(
        "SELECT p.zy, i.xz FROM person p JOIN insurance i ON p.gmsfhm = i.gmsfhm WHERE i.xz = '医疗'", id="plain-join"
    ),
    pytest.param(
        "SELECT p.qx, COUNT(*) FROM person p WHERE EXISTS "
        "(SELECT 1 FROM insurance i WHERE i.gmsfhm = p.gmsfhm AND i.xz = '养老') GROUP BY p.qx",
        id="exists-semi-join",
    ),
    pytest.param("SELECT zy FROM person LIMIT 100000", id="limit-above-the-row-limit"),
    pytest.param("SELECT COUNT(*) FROM person a JOIN person b ON a.qx = b.qx", id="self-join-counted"),
]


@pytest.mark.parametrize("sql", RUNS_CLEAN)
def test_an_accepted_attack_runs_without_failing_and_shows_nothing_protected(
    sql: str, lake: dict[str, list[Path]]
) -> None:
    table = execute(sql, lake)
    assert not leaks(cells(table))


def test_a_failed_implicit_cast_of_a_text_column_says_nothing_of_its_values(lake: dict[str, list[Path]]) -> None:
    texts = {r["zy"] for r in PEOPLE.rows} | {r["qx"] for r in PEOPLE.rows}
    for sql in (
        "SELECT zy FROM person WHERE zy = 5",
        "SELECT zy FROM person WHERE zy IN (1, 2)",
    ):
        with pytest.raises(EngineFailure) as failed:
            execute(sql, lake)
        said = [failed.value.message_zh, failed.value.message_en, json.dumps(failed.value.details, ensure_ascii=False)]
        assert not leaks(said) and not [t for t in texts if any(t in s for s in said)]
        assert failed.value.details == {"engine_error": "ConversionException"}


def test_an_exploding_join_is_stopped_by_the_time_limit_and_the_engine_answers_next(
    lake: dict[str, list[Path]],
) -> None:
    # Accepted: each join is an equality on a plain column, but it has four values: 10^8 rows, seconds of work in
    # short steps (more joins would fill the memory limit first, or make steps too long to interrupt in between).
    exploding = q("SELECT COUNT(*) FROM person p0 $JOINS", JOINS=joins(3))
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        execute(exploding, lake, seconds=2)
    assert time.monotonic() - started < 20
    assert execute("SELECT zy, COUNT(*) FROM person GROUP BY zy", lake).num_rows == 4


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime")
def test_on_spark_too_the_attacks_that_run_show_nothing_protected(lake: dict[str, list[Path]]) -> None:
    pytest.importorskip("pyspark")
    spark = SparkEngine()
    for sql in [p.values[0] for p in SMALL_GROUPS[:3]]:
        assert suppressed(execute(sql, lake, engine=spark)), sql
    for sql in [p.values[0] for p in RUNS_CLEAN[:6]]:  # what TRY keeps from failing on DuckDB, Spark's semantics do
        assert not leaks(cells(execute(sql, lake, engine=spark))), sql


# --- through the service ------------------------------------------------------------------------------------------


def test_through_the_service_a_group_of_one_is_suppressed_and_failures_tell_no_value(city: City) -> None:
    code = city.authorize()
    assert city.people.rows == PEOPLE.rows  # the same persons: the one alone here is alone there
    out = city.query(code, q("SELECT COUNT(*) AS n, AVG(sr) AS income FROM person WHERE $ISOLATE"))
    assert out.status == "released" and out.rows == []
    with pytest.raises(EngineFailure):
        city.query(code, "SELECT zy FROM person WHERE zy = 5")
    with pytest.raises(QueryRefused):
        city.query(code, q("SELECT zy FROM person WHERE gmsfhm = '$ID'"))
    secrets = city.people.secrets()
    with unit_of_work(city.sessions) as db:
        runs = db.scalars(select(QueryRun).order_by(QueryRun.id)).all()
        recorded = [json.dumps(run.reasons, ensure_ascii=False) for run in runs]
    assert [run.status for run in runs] == ["released", "failed", "refused"]
    assert not any(s in text for text in recorded for s in secrets)
    assert not any(value in text for text in recorded for value in {r["zy"] for r in PEOPLE.rows})
