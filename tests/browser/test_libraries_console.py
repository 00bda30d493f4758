"""Base and theme libraries in a real browser: the list, a model's ER diagram drawn by ECharts, a library's builds,
a build from the console, version comparison, the conflicts and a golden record's lineage."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_console import Logins, log_in
from tests.conftest import World
from tests.libraries.conftest import build_library_city

pytestmark = pytest.mark.browser


def test_the_bureau_reads_a_model_builds_a_library_and_follows_a_record(
    page: Page, live_server: str, demo_logins: Logins, world: World, tmp_path: Path
) -> None:
    build_library_city(world, tmp_path, persons=400, users=False)
    log_in(page, live_server, "admin", demo_logins["admin"][1])
    page.goto("/libraries")
    expect(page.locator("[data-library='SY-LIB-POPULATION']")).to_contain_text("人口基础库")
    expect(page.locator("[data-library='SY-THEME-HOUSING-SECURITY']")).to_contain_text("最新")

    with page.expect_navigation():
        page.locator("[data-model='population'] a").first.click()
    expect(page.locator("#chart-model[data-rendered='true'] canvas")).to_have_count(1)
    expect(page.get_by_test_id("attributes-person")).to_contain_text("公民身份号码")
    expect(page.get_by_test_id("relations")).to_contain_text("legal_person.enterprise")

    page.goto("/libraries/SY-LIB-POPULATION")
    expect(page.get_by_test_id("current-version")).to_have_text("1")
    with page.expect_navigation():
        page.get_by_test_id("build").click()
    expect(page.get_by_test_id("notice")).to_have_text("已完成构建")
    expect(page.get_by_test_id("current-version")).to_have_text("2")
    expect(page.get_by_test_id("build-table")).to_contain_text("增量刷新")

    page.locator("[name=compare_from]").fill("1")
    page.locator("[name=compare_to]").fill("2")
    with page.expect_navigation():
        page.get_by_test_id("compare-form").locator("button").click()
    expect(page.get_by_test_id("changed")).to_have_text("0")  # nothing changed in the sources between builds

    with page.expect_navigation():
        page.get_by_test_id("conflict-table").locator("a").first.click()
    expect(page.get_by_test_id("lineage-table")).to_contain_text("SY-GA-PERSON")
    expect(page.get_by_test_id("member-table")).to_contain_text("按标识精确关联")
