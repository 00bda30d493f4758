"""Queries in the sandbox through the service: what comes out, what is recorded, egress review and downloads,
differential privacy and its budget (spent atomically, also by queries in parallel), limits, saved analyses, and
the same results from DuckDB and Spark."""

from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from shengjing.audit.models import AuditEvent
from shengjing.errors import Conflict, InvalidInput
from shengjing.ingest import service as ingest
from shengjing.sandbox import service
from shengjing.sandbox.checker import QueryRefused
from shengjing.sandbox.engines import EngineFailure, QueryTimeout
from shengjing.sandbox.models import QueryRun
from shengjing.sandbox.schemas import AnalysisIn
from shengjing.store.db import unit_of_work
from tests.sandbox.city import PERSON_FIELDS, City, persons, write_csv

AGGREGATE = "SELECT qx, COUNT(*) AS n, AVG(sr) AS income FROM person GROUP BY qx ORDER BY qx"
JOIN = (
    "SELECT p.qx, i.xz, COUNT(*) AS n, SUM(i.jfje) AS paid FROM person p JOIN insurance i ON p.gmsfhm = i.gmsfhm "
    "GROUP BY p.qx, i.xz ORDER BY p.qx, i.xz"
)
PRIVATE = {"epsilon_per_query": 1.0, "budget": 3.0, "period": "month", "unit": "person.gmsfhm", "max_contributions": 2}


def _rows_by_hand(city: City) -> dict[str, tuple[int, float]]:
    """The aggregate computed from the city's own rows, as the row filter (age ≥ 18) and k = 5 say."""
    groups: dict[str, list[float]] = {}
    for row in city.people.rows:
        if row["nl"] >= 18:
            groups.setdefault(row["qx"], []).append(row["sr"])
    return {qx: (len(v), sum(v) / len(v)) for qx, v in groups.items() if len(v) >= 5}


def test_an_aggregate_comes_out_as_the_policy_says(city: City) -> None:
    code = city.authorize()
    out = city.query(code, AGGREGATE)
    assert out.status == "released" and out.columns == ["qx", "n", "income"]
    expected = _rows_by_hand(city)
    assert {r[0]: (r[1], pytest.approx(r[2])) for r in out.rows} == expected
    assert out.snapshots == {"GA-PERSON": 1} and out.epsilon == 0
    assert "HAVING" in out.rewritten_sql and "__sj_src_person" in out.rewritten_sql
    with unit_of_work(city.sessions) as db:
        run = db.get(QueryRun, out.id)
        assert run is not None and run.result_fingerprint and run.sql == AGGREGATE
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "sandbox.query.run")).all()
    assert [e.outcome for e in events] == ["success", "success"]  # accepted, then done


def test_masks_and_the_row_limit(city: City) -> None:
    code = city.authorize()
    out = city.query(code, "SELECT bz, zy FROM person")
    assert out.rows_out == 100 and out.truncated  # the authorization's row limit
    assert all(bz.startswith("备注") and set(bz[2:]) == {"*"} for bz, _ in out.rows)  # keep_first:2
    small = city.query(code, "SELECT zy FROM person LIMIT 7")
    assert small.rows_out == 7 and not small.truncated


def test_a_refusal_is_recorded_and_names_column_control_and_clause(city: City) -> None:
    code = city.authorize()
    with pytest.raises(QueryRefused) as refused:
        city.query(code, "SELECT qx, sr FROM person")
    reasons = {(r.column, r.control, r.clause) for r in refused.value.reasons}
    assert ("sr", "aggregate", "SELECT") in reasons and ("qx", "group_by", "SELECT") in reasons
    with unit_of_work(city.sessions) as db:
        run = db.scalar(select(QueryRun).order_by(QueryRun.id.desc()))
        assert run is not None and run.status == "refused" and run.reasons[0]["code"]
        outcome = db.scalar(select(AuditEvent.outcome).where(AuditEvent.action == "sandbox.query.run"))
    assert outcome == "denied"


def test_a_small_group_is_suppressed(city: City) -> None:
    code = city.authorize()
    one = city.people.rows[0]
    # one person, singled out by age, district and occupation: fewer than k rows, so no row at all
    where = f"p.nl = {one['nl']} AND p.qx = '{one['qx']}' AND p.zy = '{one['zy']}'"
    out = city.query(code, f"SELECT COUNT(*) AS n, AVG(p.sr) FROM person p WHERE {where}")
    assert out.rows == [] or all(row[0] >= 5 for row in out.rows)
    assert one["gmsfhm"] not in str(out.rows) and f"{one['sr']:.2f}" not in str(out.rows)


def test_reviewed_egress_holds_results_until_a_reviewer_lets_them_leave(city: City) -> None:
    code = city.authorize(city.document(egress="reviewed"))
    analyst, reviewer = city.actor("analyst"), city.actor("reviewer")
    out = city.query(code, AGGREGATE)
    assert out.status == "pending_review" and out.rows is None
    with unit_of_work(city.sessions) as db:
        with pytest.raises(Conflict):  # not before review
            service.result_bytes(db, analyst, out.id, "csv")
        queue = service.awaiting_review(db, reviewer)
    assert [r.id for r in queue] == [out.id] and queue[0].rows  # the reviewer sees what would leave
    with unit_of_work(city.sessions) as db, pytest.raises(InvalidInput):
        service.review_egress(db, reviewer, out.id, "reject", "")
    with unit_of_work(city.sessions) as db:
        approved = service.review_egress(db, reviewer, out.id, "approve", "统计结果，可出域")
    assert approved.status == "approved" and approved.reviewed_by == "reviewer"
    with unit_of_work(city.sessions) as db:
        csv, media = service.result_bytes(db, analyst, out.id, "csv")
        xlsx, _ = service.result_bytes(db, analyst, out.id, "xlsx")
        parquet, _ = service.result_bytes(db, analyst, out.id, "parquet")
    assert media.startswith("text/csv") and csv.decode("utf-8-sig").splitlines()[0] == '"qx","n","income"'
    assert load_workbook(io.BytesIO(xlsx)).active.max_row == len(approved.rows or []) + 1
    assert pq.read_table(io.BytesIO(parquet)).num_rows == len(approved.rows or [])
    second = city.query(code, AGGREGATE)
    with unit_of_work(city.sessions) as db:
        rejected = service.review_egress(db, reviewer, second.id, "reject", "口径不符")
        assert rejected.status == "rejected"
        with pytest.raises(Conflict):
            service.result_bytes(db, analyst, second.id, "csv")


def test_differential_privacy_spends_the_budget_until_it_is_gone(city: City) -> None:
    code = city.authorize(city.document(privacy=PRIVATE))
    truth = _rows_by_hand(city)
    first = city.query(code, "SELECT qx, COUNT(*) AS n, AVG(sr) AS income FROM person GROUP BY qx")
    assert first.epsilon == 1.0
    # noisy, yet near: counts within a few times the noise's scale, averages within the income bounds
    for qx, n, income in first.rows or []:
        assert abs(n - truth[qx][0]) < 40 and 0 <= income <= 100_000
    city.query(code, JOIN.replace("COUNT(*) AS n, ", "").replace(" ORDER BY p.qx, i.xz", ""))
    city.query(code, "SELECT COUNT(*) FROM person")
    with pytest.raises(service.BudgetExhausted):
        city.query(code, "SELECT COUNT(*) FROM person")
    with unit_of_work(city.sessions) as db:
        budgets = {b.resource: b for b in service.get_authorization(db, city.actor("analyst"), code).budgets}
    assert budgets["GA-PERSON"].spent == 3.0 and budgets["GA-PERSON"].left == 0.0
    assert budgets["RS-INSURANCE"].spent == 1.0  # only the join read it


def test_concurrent_queries_cannot_overspend_the_budget(city: City) -> None:
    """Eight queries at once against a budget for three: exactly three run, on SQLite and on PostgreSQL."""
    code = city.authorize(city.document(privacy=PRIVATE))
    outcomes: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            city.query(code, "SELECT COUNT(*) FROM person")
            outcome = "ran"
        except service.BudgetExhausted:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ran"] * 3 + ["refused"] * 5
    with unit_of_work(city.sessions) as db:
        spent = service.get_authorization(db, city.actor("analyst"), code).budgets[0].spent
    assert spent == 3.0


def test_differential_privacy_refuses_what_it_cannot_bound(city: City) -> None:
    code = city.authorize(city.document(privacy=PRIVATE))
    for sql, word in (
        ("SELECT zy FROM person", "group key"),
        ("SELECT qx, MAX(zy) FROM person GROUP BY qx", "group key"),
        ("SELECT SUM(x) FROM (SELECT COUNT(*) AS x FROM person GROUP BY qx)", "outermost"),
        ("SELECT qx, COUNT(*) FROM person GROUP BY qx HAVING COUNT(*) > 3", "HAVING"),
        ("SELECT qx, COUNT(*) n FROM person GROUP BY qx ORDER BY n", "ordered by group keys"),
    ):
        with pytest.raises(QueryRefused) as refused:
            city.query(code, sql)
        assert word in refused.value.message_en, sql


def test_an_engine_error_is_told_without_the_engines_message(city: City) -> None:
    code = city.authorize()
    with pytest.raises(EngineFailure) as failed:
        city.query(code, "SELECT COUNT(*) FROM person WHERE regexp_matches(zy, '(')")
    assert failed.value.code == "query_failed" and "regex" not in failed.value.message_en.lower()
    assert "Invalid Input Error" not in failed.value.message_en
    with unit_of_work(city.sessions) as db:
        run = db.scalar(select(QueryRun).order_by(QueryRun.id.desc()))
        assert run is not None and run.status == "failed"


def test_a_runaway_query_is_stopped_and_the_next_one_runs(city: City) -> None:
    code = city.authorize()
    city.world.settings.sandbox_time_limit_seconds = 1.0
    runaway = (
        "SELECT COUNT(*) FROM person a JOIN person b ON a.zy = b.zy JOIN person c ON b.zy = c.zy "
        "JOIN person d ON c.zy = d.zy"
    )
    with pytest.raises(QueryTimeout):
        city.query(code, runaway)
    assert city.query(code, AGGREGATE).status == "released"


def test_a_saved_analysis_runs_again_on_the_newest_snapshot(city: City, tmp_path: Path) -> None:
    code = city.authorize()
    with unit_of_work(city.sessions) as db:
        saved = service.save_analysis(db, city.actor("analyst"), code, AnalysisIn(name="区县收入", sql=AGGREGATE))
    with unit_of_work(city.sessions) as db, pytest.raises(QueryRefused):  # checked as a query would be
        service.save_analysis(db, city.actor("analyst"), code, AnalysisIn(name="bad", sql="SELECT sr FROM person"))
    first = service.run_analysis(city.sessions, city.actor("analyst"), code, saved.name)
    more = persons(600, seed=99)
    ingest.ingest(
        city.sessions, city.actor("gongan"), "GA-PERSON", str(write_csv(tmp_path / "p2.csv", more.rows, PERSON_FIELDS))
    )
    second = service.run_analysis(city.sessions, city.actor("analyst"), code, saved.name)
    assert first.snapshots == {"GA-PERSON": 1} and second.snapshots == {"GA-PERSON": 2}
    assert sum(r[1] for r in second.rows or []) > sum(r[1] for r in first.rows or [])
    with unit_of_work(city.sessions) as db:
        listed = service.list_analyses(db, city.actor("analyst"), code)
    assert [a.name for a in listed] == ["区县收入"] and listed[0].last_run and listed[0].last_run.id == second.id


def test_a_key_its_quality_rules_prove_identifying_is_counted_by_the_rows(city: City, tmp_path: Path) -> None:
    """The person ID is unique and required (city.PERSON_QUALITY): a query of person alone needs no distinct count, a
    join one per inner join's class; appended rows may repeat a key, so after an append it is counted again."""
    code = city.authorize()
    alone, joined = city.query(code, AGGREGATE), city.query(code, JOIN)
    assert "COUNT(*)" in alone.rewritten_sql and "COUNT(DISTINCT" not in alone.rewritten_sql
    assert joined.rewritten_sql.count("COUNT(DISTINCT") == 1
    again = persons(10, seed=5)
    ingest.ingest(
        city.sessions,
        city.actor("gongan"),
        "GA-PERSON",
        str(write_csv(tmp_path / "more.csv", again.rows, PERSON_FIELDS)),
        mode="append",
    )
    appended = city.query(code, AGGREGATE)
    assert appended.snapshots == {"GA-PERSON": 2} and "COUNT(DISTINCT" in appended.rewritten_sql


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime")
def test_spark_gives_the_results_duckdb_gives(city: City) -> None:
    pytest.importorskip("pyspark")
    code = city.authorize()
    queries = [
        AGGREGATE,
        JOIN,
        "SELECT zy, COUNT(*) AS n FROM person WHERE nl BETWEEN 30 AND 60 GROUP BY zy ORDER BY zy",
        "WITH t AS (SELECT qx, xb, COUNT(*) AS n FROM person GROUP BY qx, xb) "
        "SELECT xb, SUM(n) FROM t GROUP BY xb ORDER BY xb",
        "SELECT nl > 60 AS old, COUNT(*) FROM person GROUP BY nl > 60 ORDER BY old",
        "SELECT bz, zy FROM person ORDER BY zy, bz LIMIT 5",
        "SELECT COUNT(*) FROM person WHERE gmsfhm IN (SELECT gmsfhm FROM insurance WHERE xz = '医疗')",
    ]
    for sql in queries:
        duck = city.query(code, sql, engine="duckdb")
        spark = city.query(code, sql, engine="spark")
        assert duck.columns == spark.columns, sql
        assert _rounded(duck.rows) == _rounded(spark.rows), sql


def _rounded(rows: list[list] | None) -> list[list]:
    """Rows to compare across engines: numbers as rounded floats (DuckDB sums integers into HUGEINT, Spark into
    BIGINT), the rest as text."""
    return [
        [round(float(v), 6) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in row]
        for row in rows or []
    ]
