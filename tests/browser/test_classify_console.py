"""Classification and grading in a real browser: the owning department reads its resource's grading, confirms a
field and overrides another with a reason; the data bureau sees the city-wide charts drawn, downloads the grading
catalogue and reopens the department's decisions."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from shengjing.classify import service
from shengjing.classify.schemas import ReviewStatus
from shengjing.demo import shenyang
from shengjing.ingest import service as ingest
from shengjing.store.db import unit_of_work
from tests.browser.test_console import Logins, log_in, log_out
from tests.classify.test_pages import FIELDS, people_csv
from tests.conftest import World

pytestmark = pytest.mark.browser

POLICE = shenyang.DEPARTMENTS[0]  # the demo's 公安局, whose data administrator is "gongan"


@pytest.fixture
def classified(world: World, demo_logins: Logins, tmp_path: Path) -> World:
    """A police resource with data: the ingest classified it (a sample run) and left every field proposed."""
    world.resource("GA-0200", "户籍人口联系信息", POLICE.code, fields=FIELDS)
    ingest.ingest(world.sessions, world.principal("gongan"), "GA-0200", str(people_csv(tmp_path / "ga.csv")))
    return world


def statuses(world: World) -> dict[str, ReviewStatus]:
    with unit_of_work(world.sessions) as db:
        return {f.field: f.status for f in service.get_grading(db, world.system, "GA-0200").fields}


def test_department_reviews_and_the_bureau_charts_exports_and_reopens(
    page: Page, live_server: str, demo_logins: Logins, classified: World
) -> None:
    log_in(page, live_server, "gongan", demo_logins["gongan"][1])
    page.goto("/catalog/GA-0200")
    with page.expect_navigation():
        page.get_by_test_id("classification-link").click()
    expect(page).to_have_url(f"{live_server}/catalog/GA-0200/classification")
    expect(page.get_by_test_id("resource-level")).to_contain_text("L4")
    expect(page.get_by_test_id("type-sfzh")).to_contain_text("居民身份证号码")
    expect(page.get_by_test_id("status-sfzh")).to_contain_text("待确认")
    expect(page.get_by_test_id("control-sfzh")).to_have_text("隐藏")  # hidden until the department confirms

    with page.expect_navigation():
        page.get_by_test_id("confirm-sfzh").click()
    expect(page.get_by_test_id("notice")).to_have_text("已保存确认结果")
    expect(page.get_by_test_id("status-sfzh")).to_contain_text("已确认")
    expect(page.get_by_test_id("confirm-sfzh")).to_have_count(0)

    # Override the remarks: the form opens in place, the reason is required, the level chosen by hand.
    page.locator("[data-testid='override-bz'] summary").click()
    form = page.get_by_test_id("override-form-bz")
    expect(form).to_be_visible()
    form.locator("select[name=level]").select_option("L2")
    form.locator("input[name=reason]").fill("备注可能含住址片段")
    with page.expect_navigation():
        page.get_by_test_id("override-submit-bz").click()
    expect(page.get_by_test_id("status-bz")).to_contain_text("已修正")
    expect(page.get_by_test_id("level-bz")).to_contain_text("L2")
    expect(page.get_by_test_id("reason-bz")).to_have_text("备注可能含住址片段")
    expect(page.get_by_test_id("history-table").locator("tr[data-action='overridden']")).to_contain_text(
        "备注可能含住址片段"
    )
    assert statuses(classified) == {
        "sfzh": ReviewStatus.CONFIRMED,
        "xm": ReviewStatus.PROPOSED,
        "lxfs": ReviewStatus.PROPOSED,
        "bz": ReviewStatus.OVERRIDDEN,
    }
    # The rest in one go; the button asks first.
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_test_id("confirm-all").click()
    expect(page.get_by_test_id("review-progress")).to_contain_text("待确认 0 项")
    log_out(page, live_server)

    log_in(page, live_server, "admin", demo_logins["admin"][1])
    with page.expect_navigation():
        page.locator("nav .nav-link[href='/classification']").click()
    for chart in ("levels", "departments", "types"):
        expect(page.locator(f"#chart-grading-{chart}[data-rendered='true'] canvas")).to_have_count(1)
    # What the chart draws is what the table says.
    drawn = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-grading-levels')).getOption().series[0].data"
    )
    table = page.get_by_test_id("level-table").locator("tbody td:nth-child(3)").all_inner_texts()
    assert [str(n) for n in drawn] == table
    expect(page.get_by_test_id("level-table").locator("tr[data-level='L4'] td").nth(2)).to_have_text("1")
    expect(page.get_by_test_id("awaiting-table")).to_contain_text("GA-0200")

    with page.expect_download() as download:
        page.get_by_test_id("export-xlsx").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(download.value.path().read_bytes()), read_only=True)
    assert workbook.sheetnames == ["数据项分类分级清单", "数据资源分级清单"]
    rows = [list(r) for r in workbook["数据项分类分级清单"].iter_rows(values_only=True)]
    assert ["GA-0200", "bz", "L2"] in [[r[1], r[3], r[6]] for r in rows[1:]]

    with page.expect_navigation():
        page.get_by_test_id("awaiting-table").get_by_role("link", name="GA-0200").click()
    expect(page.get_by_test_id("confirm-all")).to_have_count(0)  # the bureau audits; the department reviews
    page.get_by_test_id("reopen-form").locator("select[name=field]").select_option("bz")
    page.get_by_test_id("reopen-form").locator("input[name=reason]").fill("请说明备注为何定为2级")
    with page.expect_navigation():
        page.get_by_test_id("reopen-submit").click()
    expect(page.get_by_test_id("notice")).to_have_text("已退回")
    expect(page.get_by_test_id("status-bz")).to_contain_text("待确认")
    expect(page.get_by_test_id("status-sfzh")).to_contain_text("已确认")  # only the one field went back
    expect(page.get_by_test_id("history-table").locator("tr[data-action='reopened']")).to_contain_text(
        "请说明备注为何定为2级"
    )
    assert statuses(classified)["bz"] is ReviewStatus.PROPOSED
