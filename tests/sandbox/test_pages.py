"""The authorized-operation console through the app's real routes (TestClient): an operator drafts, saves, edits
and applies; the departments consent; the data bureau approves, suspends and resumes; the workbench shows each
column's control, runs an allowed query, lists a refusal's column, control and clause, keeps the budget and saves
analyses; the egress queue releases a held result, which is then downloaded; and who may see and do what."""

from __future__ import annotations

import io
import re

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from shengjing.sandbox import service
from shengjing.store.db import unit_of_work
from tests.conftest import login
from tests.sandbox.city import City

ALLOWED = "SELECT qx, COUNT(*) AS n, AVG(sr) AS avg_income FROM person GROUP BY qx ORDER BY qx"
FORBIDDEN = "SELECT xm, sr FROM person"
STEP_BUTTONS = r'data-testid="bureau-(approve|reject|suspend|resume|revoke)"'


def switch(client: TestClient, csrf: str | None, username: str) -> str:
    """Log the client out (if it was in) and in again as ``username``; the new session's CSRF token."""
    if csrf:
        client.post("/logout", data={"csrf_token": csrf})
    return login(client, username)


def status_of(city: City, code: str) -> str:
    with unit_of_work(city.sessions) as db:
        return service.get_authorization(db, city.world.system, code).status


def applied(city: City, text: str | None = None) -> str:
    """An authorization saved and applied for by the operator, waiting for the departments."""
    with unit_of_work(city.sessions) as db:
        code = service.create_authorization(db, city.actor("analyst"), text or city.document()).code
    with unit_of_work(city.sessions) as db:
        service.apply(db, city.actor("analyst"), code)
    return code


def textarea(html: str, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, f"no textarea {name}"
    return found.group(1)


def leaks(city: City, html: str) -> set[str]:
    """Protected values of the city's persons found in a page (there must be none)."""
    return {secret for secret in city.people.secrets() if secret in html}


# --- drafting and the operator's side of the workflow ----------------------------------------------------------


def test_the_operator_drafts_saves_edits_and_applies(client: TestClient, city: City) -> None:
    csrf = login(client, "analyst")
    page = client.get("/sandbox")
    assert page.status_code == 200
    assert 'data-testid="new-authorization"' in page.text and 'data-testid="draft-form"' in page.text
    assert 'value="GA-PERSON"' in page.text and 'value="RS-INSURANCE"' in page.text  # the catalog's choices
    assert re.search(r'id="f-operator" name="operator" value="YY"', page.text)  # the operator's own code
    # A search narrows the choices, keeping those already ticked.
    narrowed = client.get("/sandbox", params={"rq": "社会保险", "resource": "GA-PERSON"})
    assert 'value="RS-INSURANCE"' in narrowed.text and re.search(r'value="GA-PERSON"[^>]*checked', narrowed.text)

    drafted = client.post(
        "/sandbox/draft",
        data={"csrf_token": csrf, "operator": "YY", "scenario": "finance_credit", "resource": ["GA-PERSON"]},
    )
    assert drafted.status_code == 200
    document = textarea(drafted.text, "document")
    assert "operator: YY" in document and "resource: GA-PERSON" in document
    assert "gmsfhm: hidden" in document  # unconfirmed grading: hidden until the department confirms it
    # A resource that does not exist: told beside the form.
    missing = client.post(
        "/sandbox/draft",
        data={"csrf_token": csrf, "operator": "YY", "scenario": "finance_credit", "resource": ["NO-SUCH"]},
    )
    assert missing.status_code == 404 and 'data-testid="draft-error"' in missing.text and "NO-SUCH" in missing.text

    # Broken YAML is refused beside the editor, which keeps what was typed.
    broken = client.post("/sandbox", data={"csrf_token": csrf, "document": "operator: YY\n  title: [oops"})
    assert broken.status_code == 422 and 'data-testid="save-error"' in broken.text and "YAML" in broken.text
    assert "title: [oops" in textarea(broken.text, "document")
    unknown_field = city.document().replace("xb: group_by", "xingbie: group_by")
    refused = client.post("/sandbox", data={"csrf_token": csrf, "document": unknown_field})
    assert refused.status_code == 422 and "xingbie" in refused.text

    saved = client.post("/sandbox", data={"csrf_token": csrf, "document": city.document()}, follow_redirects=False)
    assert saved.status_code == 303
    code = saved.headers["location"].split("/")[2].split("?")[0]
    assert saved.headers["location"] == f"/sandbox/{code}?done=created"
    detail = client.get(saved.headers["location"])
    assert "已保存为草稿" in detail.text and 'data-status="draft"' in detail.text
    assert 'data-testid="edit-form"' in detail.text and 'data-testid="apply-form"' in detail.text
    assert 'data-testid="bureau-actions"' not in detail.text  # the bureau decides, not the operator
    assert re.search(r'data-testid="control-GA-PERSON-xm">\s*<span[^>]*data-control="hidden"', detail.text)
    assert "keep_first:2" in detail.text and "[0, 100000]" in detail.text  # a mask and a bound, readable
    assert re.search(r'data-testid="row-filter-GA-PERSON">nl &gt;= 18<', detail.text)

    # Editing: an error beside the editor (which keeps the text), then a saved revision.
    bad_edit = client.post(f"/sandbox/{code}/document", data={"csrf_token": csrf, "document": "- just a list"})
    assert bad_edit.status_code == 422 and 'data-testid="notice"' in bad_edit.text
    assert "- just a list" in textarea(bad_edit.text, "document")
    edited = city.document(title="沈阳普惠金融征信分析（修订）")
    changed = client.post(
        f"/sandbox/{code}/document", data={"csrf_token": csrf, "document": edited}, follow_redirects=False
    )
    assert changed.headers["location"] == f"/sandbox/{code}?done=changed"
    assert "第 2 版" in client.get(changed.headers["location"]).text and status_of(city, code) == "draft"
    done = client.post(f"/sandbox/{code}/apply", data={"csrf_token": csrf, "note": "请审批"}, follow_redirects=False)
    assert done.headers["location"] == f"/sandbox/{code}?done=apply"
    page = client.get(done.headers["location"])
    assert 'data-status="applied"' in page.text and "（修订）" in page.text
    assert 'data-testid="edit-form"' not in page.text and 'data-testid="apply-form"' not in page.text
    assert re.search(r'data-action="apply">.*?请审批', page.text, re.S)  # in the history
    # An applied document can no longer be edited: the service refuses, the page says why.
    late = client.post(f"/sandbox/{code}/document", data={"csrf_token": csrf, "document": edited})
    assert late.status_code == 409 and "只有草稿或被退回的授权可以修改" in late.text


def test_refusals_follow_the_viewers_language(client: TestClient, city: City) -> None:
    csrf = login(client, "analyst")
    client.cookies.set("sj_lang", "en")
    broken = client.post("/sandbox", data={"csrf_token": csrf, "document": "operator: YY\n  title: [oops"})
    assert broken.status_code == 422 and "not valid YAML" in broken.text and "YAML 格式错误" not in broken.text
    page = client.get("/sandbox")
    assert "New authorization request" in page.text and "新建授权申请" not in page.text


# --- departments and the data bureau ------------------------------------------------------------------------------


def test_departments_consent_and_the_bureau_approves_suspends_and_resumes(client: TestClient, city: City) -> None:
    code = applied(city)
    csrf = login(client, "gongan")
    listing = client.get("/sandbox")
    assert re.search(rf'<tr data-code="{code}" class="table-warning">', listing.text)  # awaiting this department
    assert f'data-testid="awaiting-{code}"' in listing.text
    assert 'data-testid="new-authorization"' not in listing.text  # departments do not apply
    page = client.get(f"/sandbox/{code}")
    assert 'data-testid="consent-form-GA-PERSON"' in page.text
    assert 'data-testid="consent-form-RS-INSURANCE"' not in page.text  # another department's resource
    no_reason = {"csrf_token": csrf, "resource": "GA-PERSON", "decision": "refuse"}
    refused = client.post(f"/sandbox/{code}/consent", data=no_reason)
    assert refused.status_code == 422 and "拒绝时须写明理由" in refused.text and 'data-testid="notice"' in refused.text
    consent = {"csrf_token": csrf, "resource": "GA-PERSON", "decision": "consent", "note": "同意按授权使用"}
    assert client.post(f"/sandbox/{code}/consent", data=consent, follow_redirects=False).status_code == 303
    other = {"csrf_token": csrf, "resource": "RS-INSURANCE", "decision": "consent"}
    assert client.post(f"/sandbox/{code}/consent", data=other).status_code == 403
    assert client.post(f"/sandbox/{code}/bureau/approve", data={"csrf_token": csrf}).status_code == 403
    page = client.get(f"/sandbox/{code}?done=consent")
    assert "已记录本单位意见" in page.text
    assert re.search(r'data-testid="consent-GA-PERSON">.*?已同意.*?同意按授权使用', page.text, re.S)

    csrf = switch(client, csrf, "renshe")
    consent = {"csrf_token": csrf, "resource": "RS-INSURANCE", "decision": "consent"}
    assert client.post(f"/sandbox/{code}/consent", data=consent, follow_redirects=False).status_code == 303
    assert status_of(city, code) == "consented"

    csrf = switch(client, csrf, "admin")
    assert f'data-testid="awaiting-{code}"' in client.get("/sandbox").text  # now the bureau's turn
    page = client.get(f"/sandbox/{code}")
    assert re.findall(STEP_BUTTONS, page.text) == ["approve", "reject", "revoke"]
    rejected = client.post(f"/sandbox/{code}/bureau/reject", data={"csrf_token": csrf})
    assert rejected.status_code == 422 and "须写明理由" in rejected.text
    approved = client.post(f"/sandbox/{code}/bureau/approve", data={"csrf_token": csrf}, follow_redirects=False)
    assert approved.headers["location"] == f"/sandbox/{code}?done=approve"
    assert status_of(city, code) == "active"
    page = client.get(approved.headers["location"])
    assert "已批准，授权生效" in page.text
    assert re.findall(STEP_BUTTONS, page.text) == ["suspend", "revoke"]
    # Not a step of this state: the service refuses it beside the actions.
    again = client.post(f"/sandbox/{code}/bureau/approve", data={"csrf_token": csrf})
    assert again.status_code == 409 and 'data-testid="notice"' in again.text
    assert client.post(f"/sandbox/{code}/bureau/suspend", data={"csrf_token": csrf}).status_code == 422
    held = {"csrf_token": csrf, "note": "核查数据使用情况"}
    assert client.post(f"/sandbox/{code}/bureau/suspend", data=held, follow_redirects=False).status_code == 303
    page = client.get(f"/sandbox/{code}")
    assert 'data-testid="status-note"' in page.text and "核查数据使用情况" in page.text
    resumed = client.post(f"/sandbox/{code}/bureau/resume", data={"csrf_token": csrf}, follow_redirects=False)
    assert resumed.status_code == 303 and status_of(city, code) == "active"
    history = re.findall(r'<tr data-action="(\w+)">', client.get(f"/sandbox/{code}").text)
    assert history == ["add", "apply", "consent", "consent", "approve", "suspend", "resume"]
    assert client.post(f"/sandbox/{code}/bureau/unknown", data={"csrf_token": csrf}).status_code == 422


def test_the_status_filter(client: TestClient, city: City) -> None:
    active = city.authorize()
    pending = applied(city)
    login(client, "admin")
    codes = lambda html: re.findall(r'<tr data-code="([^"]+)"', html)  # noqa: E731
    assert set(codes(client.get("/sandbox").text)) == {active, pending}
    assert codes(client.get("/sandbox?status=active").text) == [active]
    assert codes(client.get("/sandbox?status=applied").text) == [pending]
    assert codes(client.get("/sandbox?status=revoked").text) == []
    assert client.get("/sandbox?status=nonsense").status_code == 422


# --- the workbench --------------------------------------------------------------------------------------------


def test_the_workbench_shows_controls_runs_queries_and_lists_refusals(client: TestClient, city: City) -> None:
    code = city.authorize()
    csrf = login(client, "analyst")
    page = client.get(f"/sandbox/{code}/workbench")
    assert page.status_code == 200 and 'data-testid="query-form"' in page.text
    controls = [
        ("person", "xm", "hidden"),
        ("person", "sr", "aggregate"),
        ("person", "bz", "masked"),
        ("person", "qx", "group_by"),
        ("insurance", "gmsfhm", "join"),
    ]
    for table, column, control in controls:
        assert re.search(rf'data-testid="schema-{table}-{column}">.*?data-control="{control}"', page.text, re.S), (
            table,
            column,
        )
    assert "keep_first:2" in page.text and "nl &gt;= 18" in page.text

    ran = client.post(f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": ALLOWED, "engine": "duckdb"})
    assert ran.status_code == 200
    assert 'data-testid="result-table"' in ran.text and "<th>avg_income</th>" in ran.text
    assert "<td>210102</td>" in ran.text and 'data-run-status="released"' in ran.text
    assert ALLOWED.replace(">", "&gt;") in textarea(ran.text, "sql")  # the editor keeps the query
    run_id = int(re.search(r'data-testid="run-(\d+)"', ran.text).group(1))  # type: ignore[union-attr]
    assert f'href="/sandbox/runs/{run_id}/result.csv"' in ran.text
    assert not leaks(city, ran.text)

    # A forbidden query: refused with its column, control and clause, and nothing of the data.
    refused = client.post(f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": FORBIDDEN})
    assert refused.status_code == 422 and 'data-testid="query-error"' in refused.text
    reasons = re.findall(r'<tr data-code="(\w+)" data-column="(\w+)">(.*?)</tr>', refused.text, re.S)
    assert [(c, col) for c, col, _ in reasons] == [("hidden", "xm"), ("aggregate_only", "sr")]
    assert "person.xm" in reasons[0][2] and 'data-control="hidden"' in reasons[0][2] and "SELECT" in reasons[0][2]
    assert not leaks(city, refused.text)

    # Both are on the record, newest first, with their states.
    runs = client.get(f"/sandbox/{code}/workbench").text
    assert re.findall(r'<tr data-run="(\d+)">.*?data-run-status="(\w+)"', runs, re.S) == [
        (str(run_id + 1), "refused"),
        (str(run_id), "released"),
    ]
    # htmx asks for the same page (it swaps the workbench's main part in place).
    partial = client.post(
        f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": ALLOWED}, headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200 and 'id="workbench-main" data-swap-errors' in partial.text

    # The run's own page.
    detail = client.get(f"/sandbox/runs/{run_id}")
    assert detail.status_code == 200 and 'data-testid="run-rewritten"' in detail.text
    assert re.search(r'data-testid="run-snapshots"><code>GA-PERSON</code> v1', detail.text)
    assert 'data-testid="download-xlsx-' in detail.text and 'data-testid="result-table"' in detail.text
    refused_page = client.get(f"/sandbox/runs/{run_id + 1}")
    assert 'data-run-status="refused"' in refused_page.text and 'data-column="xm"' in refused_page.text
    assert 'data-testid="downloads-' not in refused_page.text
    assert client.get(f"/sandbox/runs/{run_id + 1}/result.csv").status_code == 409


def test_saved_analyses_and_the_budget(client: TestClient, city: City) -> None:
    privacy = {"epsilon_per_query": 1.0, "budget": 2.0, "period": "month"}
    code = city.authorize(city.document(privacy=privacy))
    csrf = login(client, "analyst")
    page = client.get(f"/sandbox/{code}/workbench")
    assert re.search(r'data-testid="budget-left-GA-PERSON">剩余 ε 2 / 2<', page.text)
    assert 'data-progress="100.0"' in page.text

    sql = "SELECT qx, COUNT(*) AS n FROM person GROUP BY qx"
    unnamed = client.post(f"/sandbox/{code}/analyses", data={"csrf_token": csrf, "sql": sql, "name": " "})
    assert unnamed.status_code == 422 and "请填写分析名称" in unnamed.text
    forbidden = client.post(f"/sandbox/{code}/analyses", data={"csrf_token": csrf, "sql": FORBIDDEN, "name": "x"})
    assert forbidden.status_code == 422 and 'data-column="xm"' in forbidden.text  # checked as a query would be
    saved = client.post(
        f"/sandbox/{code}/analyses", data={"csrf_token": csrf, "sql": sql, "name": "区县人数"}, follow_redirects=False
    )
    assert saved.status_code == 303 and "done=saved" in saved.headers["location"]
    loaded = client.get(saved.headers["location"])
    assert "已保存分析" in loaded.text and '<tr data-analysis="区县人数">' in loaded.text
    assert textarea(loaded.text, "sql") == sql  # the saved analysis is in the editor

    rerun = client.post(f"/sandbox/{code}/analyses/run", data={"csrf_token": csrf, "name": "区县人数"})
    assert rerun.status_code == 200 and 'data-run-status="released"' in rerun.text
    assert re.search(r'data-testid="budget-left-GA-PERSON">剩余 ε 1 / 2<', rerun.text)
    assert 'data-progress="50.0"' in rerun.text
    assert client.post(f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": sql}).status_code == 200
    spent = client.post(f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": sql})
    assert spent.status_code == 422 and "隐私预算" in spent.text and 'data-testid="query-error"' in spent.text
    assert re.search(r'data-testid="budget-left-GA-PERSON">剩余 ε 0 / 2<', spent.text)
    gone = client.post(f"/sandbox/{code}/analyses/run", data={"csrf_token": csrf, "name": "没有这个"})
    assert gone.status_code == 404 and 'data-testid="query-error"' in gone.text


def test_reviewed_egress_holds_results_until_the_bureau_releases_them(client: TestClient, city: City) -> None:
    code = city.authorize(city.document(egress="reviewed"))
    csrf = login(client, "analyst")
    ran = client.post(f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": ALLOWED})
    assert ran.status_code == 200 and 'data-testid="pending-review"' in ran.text
    assert 'data-testid="result-table"' not in ran.text and "<td>210102</td>" not in ran.text
    run_id = int(re.search(r'data-testid="run-(\d+)"', ran.text).group(1))  # type: ignore[union-attr]
    assert 'data-testid="downloads-' not in ran.text
    assert client.get(f"/sandbox/runs/{run_id}/result.csv").status_code == 409  # not before it may leave
    assert 'data-testid="pending-review"' in client.get(f"/sandbox/runs/{run_id}").text
    assert client.get("/sandbox/egress").status_code == 403  # operators do not review

    csrf = switch(client, csrf, "reviewer")
    queue = client.get("/sandbox/egress")
    assert queue.status_code == 200 and f'data-testid="pending-{run_id}"' in queue.text
    assert "<td>210102</td>" in queue.text  # the reviewer sees the rows
    assert "沈阳数字产业发展有限公司" in queue.text and "__sj_src_person" in queue.text  # operator, rewritten SQL
    assert not leaks(city, queue.text)
    no_reason = client.post(f"/sandbox/runs/{run_id}/review", data={"csrf_token": csrf, "decision": "reject"})
    assert no_reason.status_code == 422 and "不予出域时须写明理由" in no_reason.text
    approved = client.post(
        f"/sandbox/runs/{run_id}/review", data={"csrf_token": csrf, "decision": "approve"}, follow_redirects=False
    )
    assert approved.headers["location"] == "/sandbox/egress?done=approved"
    after = client.get(approved.headers["location"])
    assert "已准予出域" in after.text and 'data-testid="queue-empty"' in after.text
    assert client.get(f"/sandbox/runs/{run_id}/result.csv").status_code == 403  # only the operator downloads
    again = client.post(f"/sandbox/runs/{run_id}/review", data={"csrf_token": csrf, "decision": "approve"})
    assert again.status_code == 409

    csrf = switch(client, csrf, "analyst")
    page = client.get(f"/sandbox/runs/{run_id}")
    assert 'data-run-status="approved"' in page.text and 'data-testid="run-review"' in page.text
    csv = client.get(f"/sandbox/runs/{run_id}/result.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith("\ufeff".encode()) and "210102" in csv.content.decode("utf-8-sig")
    assert f'filename="run-{run_id}.csv"' in csv.headers["content-disposition"]
    xlsx = client.get(f"/sandbox/runs/{run_id}/result.xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == ("qx", "n", "avg_income") and rows[1][0] == "210102"
    parquet = pq.read_table(io.BytesIO(client.get(f"/sandbox/runs/{run_id}/result.parquet").content))
    assert parquet.column_names == ["qx", "n", "avg_income"] and parquet.num_rows == len(rows) - 1
    assert client.get(f"/sandbox/runs/{run_id}/result.json").status_code == 422

    # A held-back result: its reason on the run's page, and still no download.
    ran = client.post(f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": ALLOWED})
    second = int(re.search(r'data-testid="run-(\d+)"', ran.text).group(1))  # type: ignore[union-attr]
    csrf = switch(client, csrf, "reviewer")
    page = client.get(f"/sandbox/runs/{second}")
    assert f'data-testid="review-form-{second}"' in page.text  # a reviewer may decide from the run's page too
    held = {"csrf_token": csrf, "decision": "reject", "note": "分组过细", "return_to": "run"}
    assert client.post(f"/sandbox/runs/{second}/review", data=held, follow_redirects=False).status_code == 303
    csrf = switch(client, csrf, "analyst")
    page = client.get(f"/sandbox/runs/{second}")
    assert 'data-run-status="rejected"' in page.text and "分组过细" in page.text
    assert 'data-testid="result-table"' not in page.text
    assert client.get(f"/sandbox/runs/{second}/result.csv").status_code == 409


# --- who may see and do what ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "listing", "detail", "workbench", "egress"),
    [
        ("admin", True, 200, 200, 200),
        ("auditor", True, 200, 200, 403),
        ("reviewer", True, 200, 200, 200),
        ("gongan", True, 200, 200, 403),
        ("analyst", True, 200, 200, 403),
        ("other", False, 404, 404, 403),
    ],
)
def test_who_sees_which_pages(
    client: TestClient, city: City, username: str, listing: bool, detail: int, workbench: int, egress: int
) -> None:
    code = city.authorize()
    login(client, username)
    page = client.get("/sandbox")
    assert page.status_code == 200 and (f'<tr data-code="{code}"' in page.text) is listing
    assert client.get(f"/sandbox/{code}").status_code == detail
    bench = client.get(f"/sandbox/{code}/workbench")
    assert bench.status_code == workbench
    if workbench == 200:
        # Only the operator's analysts get the editor; the others read the tables, the controls and the runs.
        assert ('data-testid="query-form"' in bench.text) is (username == "analyst")
        assert ('data-testid="run-table"' in bench.text) is (username != "gongan")  # departments see no runs
    assert client.get("/sandbox/egress").status_code == egress
    nav = re.findall(r'class="nav-link[^"]*" href="(/sandbox[^"]*)"', page.text)
    assert nav == (["/sandbox", "/sandbox/egress"] if egress == 200 else ["/sandbox"])


def test_wrong_roles_are_refused_and_learn_nothing(client: TestClient, city: City) -> None:
    code = city.authorize()
    run = city.query(code, ALLOWED)
    csrf = login(client, "other")  # another operator
    assert client.get(f"/sandbox/runs/{run.id}").status_code == 404
    assert client.get(f"/sandbox/runs/{run.id}/result.csv").status_code == 404
    refused = client.post(f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": ALLOWED})
    assert refused.status_code == 404 and "<td>210102</td>" not in refused.text
    assert client.post(f"/sandbox/{code}/document", data={"csrf_token": csrf, "document": "x: 1"}).status_code == 404

    csrf = switch(client, csrf, "auditor")  # may look, not act
    assert client.get(f"/sandbox/runs/{run.id}").status_code == 200
    assert client.get(f"/sandbox/runs/{run.id}/result.csv").status_code == 403
    assert client.post(f"/sandbox/{code}/workbench", data={"csrf_token": csrf, "sql": ALLOWED}).status_code == 403
    assert client.post(f"/sandbox/{code}/bureau/suspend", data={"csrf_token": csrf, "note": "x"}).status_code == 403
    assert client.post("/sandbox", data={"csrf_token": csrf, "document": "x: 1"}).status_code == 403
    page = client.get(f"/sandbox/{code}")
    assert 'data-testid="bureau-actions"' not in page.text and 'data-testid="apply-form"' not in page.text

    csrf = switch(client, csrf, "analyst")
    # Every change needs the session's CSRF token.
    assert client.post(f"/sandbox/{code}/workbench", data={"sql": ALLOWED}).status_code == 403
    assert client.post(f"/sandbox/{code}/bureau/suspend", data={"csrf_token": csrf, "note": "x"}).status_code == 403
    # An authorization naming only another department's resource is not the police's to see.
    with unit_of_work(city.sessions) as db:
        text = city.document(resources=[{"resource": "RS-INSURANCE", "columns": {"xz": "plain"}}])
        own = service.create_authorization(db, city.actor("analyst"), text).code
    switch(client, csrf, "gongan")
    assert client.get(f"/sandbox/{own}").status_code == 404
    assert f'<tr data-code="{own}"' not in client.get("/sandbox").text
