"""Authorized operation in a real browser: the operator drafts, saves and applies for an authorization, the two
departments consent and the data bureau approves; in the workbench the operator sees each column's control, runs
an allowed aggregate and reads its result, runs a forbidden query and reads the refusal (column, control, clause);
with reviewed egress a reviewer releases a held result and the operator downloads it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shengjing.sandbox import service
from shengjing.store.db import unit_of_work
from tests.browser.conftest import ARTIFACTS, BrowserLog
from tests.browser.test_console import log_in, log_out
from tests.conftest import PASSWORD, World
from tests.sandbox.city import City, build_city

pytestmark = pytest.mark.browser

ALLOWED = "SELECT qx, COUNT(*) AS n, AVG(sr) AS avg_income FROM person GROUP BY qx ORDER BY qx"
FORBIDDEN = "SELECT xm, sr FROM person"


@pytest.fixture
def city(world: World, tmp_path: Path) -> City:
    return build_city(world, tmp_path)


@pytest.fixture
def live_server(city: City, server_url: str) -> str:
    """The app served by uvicorn on the small city's database (its users, not the demo's)."""
    return server_url


def status_of(city: City, code: str) -> str:
    with unit_of_work(city.sessions) as db:
        return service.get_authorization(db, city.world.system, code).status


def open_authorization(page: Page, code: str) -> None:
    page.goto("/sandbox")
    with page.expect_navigation():
        page.get_by_test_id("authorization-table").get_by_role("link", name=code).click()


def test_operator_applies_departments_consent_bureau_approves_and_the_operator_queries(
    page: Page, live_server: str, city: City, browser_log: BrowserLog
) -> None:
    log_in(page, live_server, "analyst", PASSWORD)
    with page.expect_navigation():
        page.locator("nav .nav-link[href='/sandbox']").click()
    page.locator("[data-testid='new-authorization'] summary").click()
    form = page.get_by_test_id("draft-form")
    expect(form).to_be_visible()
    form.locator("input[name=resource][value='GA-PERSON']").check()
    # A search narrows the resources offered (htmx swaps the list in place) and keeps those already ticked.
    choices = page.get_by_test_id("resource-choices").locator("input[name=resource]")
    page.locator("#f-rq").fill("没有这样的资源")
    expect(choices).to_have_count(1)
    expect(form.locator("input[name=resource][value='GA-PERSON']")).to_be_checked()
    page.locator("#f-rq").fill("社会保险")
    expect(choices).to_have_count(2)
    expect(choices.nth(1)).to_have_value("RS-INSURANCE")
    form.locator("input[name=resource][value='RS-INSURANCE']").check()
    form.locator("select[name=scenario]").select_option("finance_credit")
    expect(form.locator("input[name=operator]")).to_have_value("YY")
    with page.expect_navigation():
        page.get_by_test_id("draft-submit").click()
    editor = page.locator("#f-document")
    expect(editor).to_contain_text("operator: YY")
    expect(editor).to_contain_text("resource: RS-INSURANCE")
    editor.fill(city.document())  # the controls the operator asks for, the row filter, the window
    with page.expect_navigation():
        page.get_by_test_id("create-submit").click()
    expect(page).to_have_url(re.compile(r"/sandbox/SQ-\d{4}-\d{4}\?done=created$"))
    code = page.url.split("/sandbox/")[1].split("?")[0]
    expect(page.get_by_test_id("authorization-status")).to_have_text("草稿")
    expect(page.get_by_test_id("control-GA-PERSON-sr")).to_have_text("仅聚合")
    page.locator("#f-apply-note").fill("用于普惠金融产品设计")
    with page.expect_navigation():
        page.get_by_test_id("apply-submit").click()
    expect(page.get_by_test_id("notice")).to_contain_text("已提交申请")
    expect(page.get_by_test_id("authorization-status")).to_have_text("待数据提供单位同意")
    log_out(page, live_server)

    for username, resource in (("gongan", "GA-PERSON"), ("renshe", "RS-INSURANCE")):
        log_in(page, live_server, username, PASSWORD)
        page.goto("/sandbox")
        expect(page.get_by_test_id(f"awaiting-{code}")).to_be_visible()  # highlighted: this department's turn
        open_authorization(page, code)
        with page.expect_navigation():
            page.get_by_test_id(f"consent-{resource}-consent").click()
        expect(page.get_by_test_id("notice")).to_have_text("已记录本单位意见")
        expect(page.get_by_test_id(f"consent-{resource}")).to_contain_text("已同意")
        log_out(page, live_server)
    assert status_of(city, code) == "consented"

    log_in(page, live_server, "admin", PASSWORD)
    open_authorization(page, code)
    expect(page.get_by_test_id("authorization-status")).to_have_text("待数据主管部门批准")
    page.locator("#f-bureau-note").fill("同意")
    with page.expect_navigation():
        page.get_by_test_id("bureau-approve").click()
    expect(page.get_by_test_id("authorization-status")).to_have_text("生效中")
    log_out(page, live_server)
    assert status_of(city, code) == "active"

    log_in(page, live_server, "analyst", PASSWORD)
    open_authorization(page, code)
    with page.expect_navigation():
        page.get_by_test_id("workbench-link").click()
    schema = page.get_by_test_id("schema-browser")
    expect(schema.get_by_test_id("schema-person-xm")).to_contain_text("隐藏")
    expect(schema.get_by_test_id("schema-person-sr")).to_contain_text("仅聚合")
    expect(schema.get_by_test_id("schema-person-qx")).to_contain_text("可分组")
    expect(schema.get_by_test_id("schema-person-bz")).to_contain_text("keep_first:2")
    expect(schema.get_by_test_id("schema-insurance-gmsfhm")).to_contain_text("仅关联")
    # A column clicked in the schema browser goes into the editor.
    editor = page.locator("#sql")
    editor.fill("SELECT ")
    schema.get_by_test_id("schema-person-qx").locator("[data-insert]").click()
    expect(editor).to_have_value("SELECT qx")

    # While the query runs the button is disabled and the indicator shows.
    editor.fill(ALLOWED)
    busy = page.evaluate(
        """() => {
            document.getElementById('run-submit').click();
            return [document.getElementById('run-submit').disabled,
                    document.getElementById('run-indicator').classList.contains('htmx-request')];
        }"""
    )
    assert busy == [True, True]
    result = page.get_by_test_id("result-table")
    expect(result).to_be_visible()
    expect(result.locator("thead th")).to_have_text(["qx", "n", "avg_income"])
    expect(result.locator("tbody tr").first.locator("td").first).to_have_text("210102")
    expect(page.get_by_test_id("run-status")).to_have_text("已出域")
    expect(page.get_by_test_id("run-submit")).to_be_enabled()
    expect(page.get_by_test_id("run-table").locator("tbody tr")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # the progress indicator fades out (app.css), for a picture without it
    # The caret left alone: hiding it leaves style="" on the inputs, which htmx copies on its next swap (a CSP
    # violation the browser reports).
    page.screenshot(path=ARTIFACTS / "sandbox-workbench.png", full_page=True, caret="initial")

    # Saved as an analysis (htmx follows the redirect and swaps the workbench in place), and run again.
    page.locator("#f-name").fill("区县收入")
    page.get_by_test_id("save-submit").click()
    expect(page.get_by_test_id("notice")).to_have_text("已保存分析")
    expect(page.get_by_test_id("analysis-table").locator("tr[data-analysis='区县收入']")).to_contain_text("AVG(sr)")
    page.get_by_test_id("rerun-区县收入").click()
    expect(page.get_by_test_id("run-table").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("result-table")).to_be_visible()

    browser_log.expect_status(422)  # the refusal answers 422, shown in place
    editor.fill(FORBIDDEN)
    page.get_by_test_id("run-submit").click()
    reasons = page.get_by_test_id("refusal-reasons")
    expect(reasons).to_be_visible()
    hidden = reasons.locator("tr[data-column='xm']")
    expect(hidden).to_contain_text("person.xm")
    expect(hidden).to_contain_text("隐藏")
    expect(hidden).to_contain_text("SELECT")
    expect(reasons.locator("tr[data-column='sr']")).to_contain_text("仅聚合")
    expect(editor).to_have_value(FORBIDDEN)
    expect(page.get_by_test_id("run-table").locator("tbody tr").first).to_contain_text("已拒绝")
    page.wait_for_timeout(300)  # the progress indicator fades out (app.css), for a picture without it
    page.screenshot(path=ARTIFACTS / "sandbox-workbench-refusal.png", full_page=True)


def test_a_reviewer_releases_a_held_result_and_the_operator_downloads_it(
    page: Page, live_server: str, city: City
) -> None:
    code = city.authorize(city.document(egress="reviewed"))
    log_in(page, live_server, "analyst", PASSWORD)
    page.goto(f"/sandbox/{code}/workbench")
    page.locator("#sql").fill(ALLOWED)
    page.get_by_test_id("run-submit").click()
    expect(page.get_by_test_id("pending-review")).to_contain_text("待出域审核")
    expect(page.get_by_test_id("result-table")).to_have_count(0)
    run_id = page.get_by_test_id("run-table").locator("tbody tr").first.get_attribute("data-run")
    log_out(page, live_server)

    log_in(page, live_server, "reviewer", PASSWORD)
    with page.expect_navigation():
        page.locator("nav .nav-link[href='/sandbox/egress']").click()
    card = page.get_by_test_id(f"pending-{run_id}")
    expect(card.get_by_test_id(f"sql-{run_id}")).to_have_text(ALLOWED)
    expect(card.get_by_test_id(f"rewritten-{run_id}")).to_contain_text("HAVING COUNT(*) >= 5")
    expect(card.get_by_test_id("result-table").locator("tbody tr").first.locator("td").first).to_have_text("210102")
    with page.expect_navigation():
        card.get_by_test_id(f"approve-{run_id}").click()
    expect(page.get_by_test_id("notice")).to_have_text("已准予出域")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    log_out(page, live_server)

    log_in(page, live_server, "analyst", PASSWORD)
    page.goto(f"/sandbox/runs/{run_id}")
    expect(page.get_by_test_id("run-status")).to_have_text("审核后出域")
    expect(page.get_by_test_id("run-review")).to_contain_text("reviewer")
    with page.expect_download() as download:
        page.get_by_test_id(f"download-csv-{run_id}").first.click()
    assert download.value.suggested_filename == f"run-{run_id}.csv"
    text = download.value.path().read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == '"qx","n","avg_income"' and '"210102"' in text
