"""The public open-data catalog in a real browser, without logging in: search, facets, a resource's page, and
a resource that is not open (不予开放) staying out of sight."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from shengjing.catalog.schemas import FieldIn, ShareType
from shengjing.demo import shenyang
from tests.browser.conftest import BrowserLog
from tests.browser.test_console import Logins
from tests.conftest import World

pytestmark = pytest.mark.browser

HRSS = shenyang.DEPARTMENTS[2]


def _add(world: World, code: str, name: str, open_type: ShareType) -> None:
    world.resource(
        code,
        name,
        HRSS.code,
        summary="按月汇总。",
        open_type=open_type,
        themes=["社会保障"],
        formats=["CSV"],
        fields=[FieldIn(name="jfje", label="缴费金额", data_type="decimal", unit="元")],
        quality_rules="rules:\n  - {kind: required, field: jfje}\n",
    )


def test_an_anonymous_visitor_searches_and_opens_an_open_resource(
    page: Page, live_server: str, demo_logins: Logins, world: World, browser_log: BrowserLog
) -> None:
    _add(world, "SB-0101", "社会保险缴费汇总", ShareType.UNCONDITIONAL)
    _add(world, "SB-0102", "社会保险内部台账", ShareType.NONE)

    page.goto("/login")
    page.get_by_test_id("opendata-link").click()
    expect(page).to_have_url(f"{live_server}/opendata")
    page.get_by_label("搜索").fill("社保")
    page.get_by_role("button", name="搜索").click()
    results = page.get_by_test_id("opendata-results")
    expect(results.locator("[data-code]")).to_have_count(1)  # the closed one is not listed
    expect(results).to_contain_text("社会保险缴费汇总")
    expect(page.get_by_test_id("opendata-facets")).to_contain_text(HRSS.name)

    results.get_by_role("link", name="社会保险缴费汇总").click()
    expect(page).to_have_url(f"{live_server}/opendata/SB-0101")
    expect(page.get_by_test_id("resource-name")).to_have_text("社会保险缴费汇总")
    expect(page.get_by_test_id("resource-fields")).to_contain_text("缴费金额")
    expect(page.get_by_test_id("resource-metadata")).to_contain_text("每月")
    expect(page.get_by_test_id("resource-version")).to_contain_text("尚无数据")
    assert "required" not in page.content()  # never the rules

    browser_log.expect_status(404)
    closed = page.goto("/opendata/SB-0102")
    assert closed is not None and closed.status == 404
    expect(page.get_by_test_id("error")).to_be_visible()
