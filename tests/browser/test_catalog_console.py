"""The catalog console in a real browser: search with facets through htmx, a department filing a resource,
uploading a GBK file and reading its quality report, and what another department may not do."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from shengjing.catalog.schemas import ShareType
from shengjing.demo import shenyang
from tests.browser.conftest import BrowserLog
from tests.browser.test_console import Logins, log_in
from tests.catalog.test_catalog_pages import BAD_ID, GOOD_IDS, gbk_csv
from tests.conftest import World

pytestmark = pytest.mark.browser

POLICE, HRSS, HEALTH = (shenyang.DEPARTMENTS[i].code for i in (0, 2, 3))
DEPARTMENT_NAMES = {d.code: d.name for d in shenyang.DEPARTMENTS}  # the demo's 公安局 admin is "gongan"


@pytest.fixture
def resources(world: World, demo_logins: Logins) -> World:
    world.resource("RS-0001", "社会保险缴费记录", HRSS, themes=["社会保障"])
    world.resource("RS-0002", "医疗保险缴费记录", HEALTH, share_type=ShareType.UNCONDITIONAL, themes=["医疗卫生"])
    world.resource("RS-0003", "养老保险待遇发放", HRSS, share_type=ShareType.NONE, themes=["社会保障"])
    return world


def is_htmx_catalog_query(response: Response) -> bool:
    return urlsplit(response.url).path == "/catalog" and response.request.headers.get("hx-request") == "true"


def result_codes(page: Page) -> list[str]:
    return [
        row.get_attribute("data-code") or "" for row in page.get_by_test_id("catalog-table").locator("tbody tr").all()
    ]


def test_analyst_searches_in_chinese_and_narrows_by_a_facet(
    page: Page, live_server: str, demo_logins: Logins, resources: World
) -> None:
    log_in(page, live_server, "analyst", demo_logins["analyst"][1])
    with page.expect_navigation():
        page.locator("nav .nav-link[href='/catalog']").click()
    page.evaluate("window.sjSamePage = true")  # survives an htmx swap, not a page load
    expect(page.get_by_test_id("catalog-total")).to_have_text("共 2 条")  # RS-0003 is not shared

    with page.expect_response(is_htmx_catalog_query) as swap:
        page.fill("#q", "缴费")
    assert swap.value.ok
    expect(page.get_by_test_id("catalog-total")).to_have_text("共 2 条")
    department = page.locator(f"[data-facet='department'] a[data-value='{HRSS}']")
    expect(department).to_contain_text("1")
    expect(department).to_contain_text(DEPARTMENT_NAMES[HRSS])  # shown by name, filtered by code
    with page.expect_response(is_htmx_catalog_query):
        department.click()
    expect(page.get_by_test_id("catalog-total")).to_have_text("共 1 条")
    assert result_codes(page) == ["RS-0001"]
    expect(page).to_have_url(re.compile(r"/catalog\?.*department="))
    assert parse_qs(urlsplit(page.url).query)["q"] == ["缴费"]  # the query stays with the facet

    with page.expect_response(is_htmx_catalog_query):
        page.fill("#q", "社保 缴费")  # the abbreviation finds 社会保险; the facet stays on
    expect(page.get_by_test_id("catalog-total")).to_have_text("共 1 条")
    with page.expect_response(is_htmx_catalog_query):
        page.fill("#q", "医保 缴费")
    expect(page.get_by_test_id("catalog-total")).to_have_text("共 0 条")
    assert page.evaluate("window.sjSamePage") is True, "a search reloaded the whole page"


QUALITY_RULES = "rules:\n  - {kind: required, field: xm}\n  - {kind: id_number, field: sfzh}\n"


def test_department_files_a_resource_uploads_gbk_and_reads_the_quality_report(
    page: Page, live_server: str, demo_logins: Logins, world: World
) -> None:
    log_in(page, live_server, "gongan", demo_logins["gongan"][1])
    page.goto("/catalog")
    with page.expect_navigation():
        page.get_by_test_id("new-resource").click()
    page.fill("#f-code", "GA-0100")
    page.fill("#f-name", "流动人口登记")
    page.fill("#f-themes", "人口")
    rows = page.locator("#field-rows tr")
    rows.nth(0).locator("[name=field_name]").fill("xm")
    rows.nth(0).locator("[name=field_label]").fill("姓名")
    page.get_by_test_id("add-field").click()
    page.get_by_test_id("add-field").click()
    expect(rows).to_have_count(3)
    rows.nth(2).get_by_role("button").click()  # a row can be removed again
    expect(rows).to_have_count(2)
    rows.nth(1).locator("[name=field_name]").fill("sfzh")
    rows.nth(1).locator("[name=field_label]").fill("公民身份号码")
    page.fill("#f-quality_rules", QUALITY_RULES)
    with page.expect_navigation():
        page.get_by_test_id("save-resource").click()
    expect(page).to_have_url(f"{live_server}/catalog/GA-0100?done=saved")
    expect(page.get_by_test_id("field-table").locator("tbody tr")).to_have_count(2)

    with page.expect_navigation():
        page.get_by_test_id("upload-link").click()
    body = gbk_csv([("张三", GOOD_IDS[0]), ("李四", BAD_ID), ("王五", GOOD_IDS[1])])
    page.set_input_files("#f-file", files=[{"name": "流动人口.csv", "mimeType": "text/csv", "buffer": body}])
    with page.expect_navigation():
        page.get_by_test_id("upload-submit").click()
    expect(page.get_by_test_id("rows-in")).to_have_text("3")
    expect(page.get_by_test_id("rows-quarantined")).to_have_text("1")
    expect(page.get_by_test_id("encoding")).to_have_text("gb18030")

    with page.expect_navigation():
        page.get_by_test_id("report-quality-link").click()
    chart = page.locator("#chart-field-scores[data-rendered='true']")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(page.locator("#chart-rule-pass[data-rendered='true'] canvas")).to_have_count(1)
    expect(page.get_by_test_id("rows-quarantined")).to_have_text("1")
    # What the chart draws is what the table says.
    bars = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-field-scores')).getOption().series[0].data"
    )
    table = page.get_by_test_id("field-score-table").locator("tbody td:nth-child(2)").all_inner_texts()
    assert [f"{b:.1f}" if b is not None else "—" for b in bars] == table
    expect(page.get_by_test_id("quarantine-table")).to_contain_text("李四")

    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    content = download.value.path().read_bytes()
    assert content.startswith(b"\xef\xbb\xbf") and "李四" in content.decode("utf-8-sig")
    assert "id_number:sfzh" in content.decode("utf-8-sig")


def test_a_department_cannot_manage_another_departments_resource(
    page: Page, live_server: str, demo_logins: Logins, resources: World, browser_log: BrowserLog
) -> None:
    browser_log.expect_status(403, 404)
    log_in(page, live_server, "gongan", demo_logins["gongan"][1])
    page.goto("/catalog/RS-0001")  # another department's, shared with conditions: readable
    expect(page.get_by_test_id("resource-meta")).to_contain_text("沈阳市人力资源和社会保障局")
    expect(page.get_by_test_id("edit-link")).to_have_count(0)
    expect(page.get_by_test_id("upload-link")).to_have_count(0)
    for path in ("/catalog/RS-0001/edit", "/catalog/RS-0001/upload"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_test_id("error")).to_contain_text("permission_denied")
    response = page.goto("/catalog/RS-0003/edit")  # not shared at all: not even its existence
    assert response is not None and response.status == 404
