"""The console as its users meet it: chromium against a real server, one journey per test.

Expectations are computed from the code's own tables (built-in roles, navigation, catalogs), never typed in twice.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, Response, expect
from sqlalchemy import ColumnElement, Select, func, select

from shengjing import domains
from shengjing.audit.models import AuditEvent
from shengjing.audit.pages import PAGE_SIZE
from shengjing.config import Settings
from shengjing.demo import shenyang
from shengjing.demo.service import DEMO_USERS, DemoUser
from shengjing.errors import InvalidCredentials
from shengjing.identity import permissions as perms
from shengjing.identity.models import ApiToken, Organization, User
from shengjing.identity.principal import ORG_TYPE_LABELS, OrgType
from shengjing.identity.roles import builtin_roles
from shengjing.store.db import Base
from shengjing.web import i18n
from shengjing.web.nav import NAV, NavItem
from tests.browser.conftest import BrowserLog
from tests.conftest import World

pytestmark = pytest.mark.browser

domains.door_modules("pages")  # each domain's pages module registers its navigation entries on import

Logins = dict[str, tuple[DemoUser, str]]
domains.metadata()  # loads every domain's grants to the built-in roles
ROLE_PERMISSIONS = {spec.name: spec.permissions for spec in builtin_roles()}
# Every guarded console page: the navigation's, and the chain check the audit viewer calls.
GUARDED_PAGES = [(item.path, item.permission) for item in NAV] + [("/audit/verify", perms.AUDIT_VERIFY)]
NAV_LINKS = "nav .navbar-nav .nav-link"


def expected_nav(role: str) -> list[NavItem]:
    return [item for item in NAV if item.permission in ROLE_PERMISSIONS[role]]


def forbidden_pages(role: str) -> list[str]:
    return [path for path, permission in GUARDED_PAGES if permission not in ROLE_PERMISSIONS[role]]


def english(msgid: str) -> str:
    return i18n.translations("en").gettext(msgid)


T = TypeVar("T")


def scalar(world: World, stmt: Select[tuple[T]]) -> T | None:
    """One value from the test's database, in a transaction of its own (the server shares the database)."""
    with world.db() as db:
        return db.scalar(stmt)


def count(world: World, model: type[Base], *where: ColumnElement[bool]) -> int:
    return scalar(world, select(func.count()).select_from(model).where(*where)) or 0


def submit_login(page: Page, username: str, password: str) -> None:
    if urlsplit(page.url).path != "/login":  # after a logout or a refused attempt the form is already there
        page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")


def log_in(page: Page, base: str, username: str, password: str) -> None:
    submit_login(page, username, password)
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_test_id("account-link")).to_be_visible()


def log_out(page: Page, base: str) -> None:
    with page.expect_navigation():
        page.click("form[action='/logout'] button[type=submit]")
    expect(page).to_have_url(f"{base}/login")
    home = page.request.get("/", max_redirects=0)  # the session is over: the console sends one to log in
    assert home.status == 303 and home.headers["location"] == "/login?next=/"


# --- roles and navigation ----------------------------------------------------------------------------------


def test_expectations_are_not_vacuous() -> None:
    assert "/audit" in forbidden_pages("operator_analyst")
    assert "/users" in forbidden_pages("merchant_member")
    assert {demo.role for demo in DEMO_USERS} == set(ROLE_PERMISSIONS), "one demo user per built-in role"


def test_each_role_sees_its_navigation_and_nothing_more(
    page: Page, live_server: str, demo_logins: Logins, browser_log: BrowserLog
) -> None:
    browser_log.expect_status(403)
    for demo in DEMO_USERS:
        log_in(page, live_server, demo.username, demo_logins[demo.username][1])
        allowed = expected_nav(demo.role)
        links = page.locator(NAV_LINKS)
        assert [link.get_attribute("href") for link in links.all()] == [item.path for item in allowed], demo
        expect(links).to_have_text([item.label for item in allowed])
        for item in allowed:  # every page the navigation offers opens for the user
            assert page.request.get(item.path, max_redirects=0).status == 200, (demo.username, item.path)
        forbidden = forbidden_pages(demo.role)
        for path in forbidden[1:]:
            assert page.request.get(path, max_redirects=0).status == 403, (demo.username, path)
        if forbidden:  # and the first one it does not offer answers with the error page
            response = page.goto(forbidden[0])
            assert response is not None and response.status == 403, (demo.username, forbidden[0])
            expect(page.get_by_test_id("error")).to_contain_text("permission_denied")
        log_out(page, live_server)


# --- dashboard ---------------------------------------------------------------------------------------------


def test_dashboard_charts_render_and_counts_match_the_database(
    page: Page, live_server: str, demo_logins: Logins, world: World
) -> None:
    log_in(page, live_server, "admin", demo_logins["admin"][1])
    org_chart = page.locator("#chart-org-types[data-rendered='true']")
    audit_chart = page.locator("#chart-audit-daily[data-rendered='true']")
    expect(org_chart.locator("canvas")).to_have_count(1)
    expect(audit_chart.locator("canvas")).to_have_count(1)

    organizations, users, events = count(world, Organization), count(world, User), count(world, AuditEvent)
    assert organizations == len(shenyang.ORGANIZATIONS) and users == len(DEMO_USERS)
    expect(page.get_by_test_id("count-organizations")).to_have_text(str(organizations))
    expect(page.get_by_test_id("count-users")).to_have_text(str(users))
    expect(page.get_by_test_id("count-audit")).to_have_text(str(events))

    # What the charts draw is what the database holds.
    with world.db() as db:
        by_type = dict(db.execute(select(Organization.org_type, func.count()).group_by(Organization.org_type)).all())
    pie = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-org-types')).getOption().series[0].data"
    )
    assert {d["name"]: d["value"] for d in pie} == {ORG_TYPE_LABELS[OrgType(t)][0]: n for t, n in by_type.items()}
    bars = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-audit-daily')).getOption().series[0].data"
    )
    assert len(bars) == 14 and sum(bars) == events  # every event of the test is in the last 14 days
    log_out(page, live_server)

    # A data merchant sees its own organization and people, and no audit figures.
    log_in(page, live_server, "merchant", demo_logins["merchant"][1])
    expect(page.locator("#chart-org-types[data-rendered='true'] canvas")).to_have_count(1)
    merchant_org = select(Organization.id).where(Organization.code == shenyang.DATA_MERCHANT.code)
    own_users = count(world, User, User.org_id == merchant_org.scalar_subquery())
    expect(page.get_by_test_id("count-organizations")).to_have_text("1")
    expect(page.get_by_test_id("count-users")).to_have_text(str(own_users))
    expect(page.get_by_test_id("count-audit")).to_have_count(0)
    expect(page.locator("#chart-audit-daily")).to_have_count(0)


# --- language ----------------------------------------------------------------------------------------------


def test_language_switch_turns_the_console_to_english_and_back(
    page: Page, live_server: str, demo_logins: Logins
) -> None:
    log_in(page, live_server, "admin", demo_logins["admin"][1])
    labels = [item.label for item in expected_nav("platform_admin")]
    page.goto("/organizations")
    links = page.locator(NAV_LINKS)
    expect(links).to_have_text(labels)

    with page.expect_navigation():
        page.get_by_role("link", name="English", exact=True).click()
    expect(page).to_have_url(f"{live_server}/organizations")  # the switch keeps one's place
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(links).to_have_text([english(label) for label in labels])
    expect(links).to_contain_text(["Organizations", "Audit log"])
    expect(page.locator("h1")).to_have_text(english("组织"))

    with page.expect_navigation():
        page.get_by_role("link", name="中文", exact=True).click()
    expect(page).to_have_url(f"{live_server}/organizations")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(links).to_have_text(labels)
    expect(links).to_contain_text(["组织", "审计日志"])


# --- organizations and users -------------------------------------------------------------------------------

NEW_ORG = "bt_merchant"
NEW_CREDIT_CODE = shenyang.credit_code(shenyang.ENTERPRISE, shenyang.CITY_CODE, "MA0BRW71")
BAD_CREDIT_CODE = NEW_CREDIT_CODE[:-1] + ("0" if NEW_CREDIT_CODE[-1] != "0" else "1")  # wrong check character
NEW_USER, NEW_PASSWORD = "bt.member", "Browser-test-2026"


def fill_organization(page: Page, credit_code: str) -> None:
    page.fill("#f-code", NEW_ORG)
    page.fill("#f-name", "浏览器测试数商")
    page.fill("#f-name_en", "Browser Test Merchant")
    page.select_option("#f-org_type", OrgType.DATA_MERCHANT.value)
    page.fill("#f-credit_code", credit_code)
    with page.expect_navigation():
        page.click("form[action='/organizations'] button[type=submit]")


def test_admin_adds_an_organization_and_a_user_who_then_logs_in(
    page: Page, live_server: str, demo_logins: Logins, world: World, browser_log: BrowserLog
) -> None:
    browser_log.expect_status(422)
    log_in(page, live_server, "admin", demo_logins["admin"][1])
    organizations_before = count(world, Organization)

    # A bad credit code is refused in the viewer's language, naming the field, and creates nothing.
    page.goto("/organizations")
    fill_organization(page, BAD_CREDIT_CODE)
    notice = page.get_by_test_id("notice")
    expect(notice).to_contain_text(re.compile(r"^输入有误：.*credit_code.*统一社会信用代码"))
    with page.expect_navigation():
        page.get_by_role("link", name="English", exact=True).click()
    fill_organization(page, BAD_CREDIT_CODE)
    expect(notice).to_contain_text(re.compile(r"^Invalid input: .*credit_code.*unified social credit code"))
    assert count(world, Organization) == organizations_before
    expect(page.get_by_test_id("org-table")).not_to_contain_text(NEW_ORG)
    with page.expect_navigation():
        page.get_by_role("link", name="中文", exact=True).click()

    fill_organization(page, NEW_CREDIT_CODE)
    expect(page).to_have_url(f"{live_server}/organizations?done={NEW_ORG}")
    expect(page.get_by_test_id("notice")).to_contain_text(NEW_ORG)
    row = page.get_by_test_id("org-table").locator("tr", has_text=NEW_ORG)
    expect(row).to_contain_text(NEW_CREDIT_CODE)
    expect(row).to_contain_text(ORG_TYPE_LABELS[OrgType.DATA_MERCHANT][0])

    page.goto("/users")
    page.fill("#f-username", NEW_USER)
    page.fill("#f-display_name", "浏览器测试业务员")
    page.fill("#f-email", "member@example.com")
    page.select_option("#f-org_code", NEW_ORG)
    page.fill("#f-password", NEW_PASSWORD)
    page.check("input[name=roles][value=merchant_member]")
    with page.expect_navigation():
        page.click("form[action='/users'] button[type=submit]")
    expect(page).to_have_url(f"{live_server}/users?done={NEW_USER}")
    expect(page.locator(f"tr[data-username='{NEW_USER}']")).to_contain_text("merchant_member")
    log_out(page, live_server)

    log_in(page, live_server, NEW_USER, NEW_PASSWORD)
    expect(page.get_by_test_id("account-link")).to_have_text("浏览器测试业务员 · 浏览器测试数商")
    expect(page.locator(NAV_LINKS)).to_have_text([item.label for item in expected_nav("merchant_member")])
    expect(page.get_by_test_id("count-organizations")).to_have_text("1")


# --- API tokens --------------------------------------------------------------------------------------------


def test_api_token_secret_is_shown_once_and_revoking_ends_it(
    page: Page, live_server: str, demo_logins: Logins, world: World, browser_log: BrowserLog
) -> None:
    log_in(page, live_server, "analyst", demo_logins["analyst"][1])
    page.goto("/tokens")
    page.fill("#f-name", "notebook")
    page.fill("#f-days", "30")
    with page.expect_navigation() as created:
        page.click("form[action='/tokens'] button[type=submit]")
    assert created.value is not None and created.value.status == 201
    secret = page.get_by_test_id("new-token").inner_text().strip()
    assert re.fullmatch(r"sjt_[0-9a-f]{12}_\S{20,}", secret), secret
    public_id = secret.split("_")[1]
    row = page.get_by_test_id("token-table").locator("tr", has_text=public_id)
    expect(row).to_contain_text("有效")
    me = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.ok and me.json()["username"] == "analyst"

    # Reloading re-sends the form, which is refused as a duplicate name: the secret is not shown again.
    browser_log.expect_status(422)
    page.reload()
    assert secret not in page.content()
    page.goto("/tokens")
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert secret not in page.content()
    assert count(world, ApiToken) == 1

    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    with page.expect_navigation():
        row.get_by_role("button").click()
    assert dialogs == ["确定吊销该令牌？"]
    expect(page).to_have_url(f"{live_server}/tokens")
    expect(row).to_contain_text("已吊销")
    expect(row.get_by_role("button")).to_have_count(0)
    assert page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status == 401


# --- lock-out ----------------------------------------------------------------------------------------------


LOCKED = "账号已临时锁定"


def test_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(
    page: Page, live_server: str, demo_logins: Logins, world: World, settings: Settings, browser_log: BrowserLog
) -> None:
    browser_log.expect_status(401, 423)
    assert settings.lockout_threshold == 5
    password = demo_logins["merchant"][1]
    error = page.get_by_test_id("login-error")
    for _ in range(settings.lockout_threshold - 1):
        submit_login(page, "merchant", "Wrong-password-1")
        expect(error).to_have_text(InvalidCredentials().message("zh_CN"))
    submit_login(page, "merchant", "Wrong-password-1")
    expect(error).to_contain_text(LOCKED)
    submit_login(page, "merchant", password)  # the right password does not open a locked account
    expect(error).to_contain_text(LOCKED)
    assert scalar(world, select(User.locked_until).where(User.username == "merchant")) is not None

    log_in(page, live_server, "admin", demo_logins["admin"][1])
    page.goto("/users")
    row = page.locator("tr[data-username='merchant']")
    expect(row).to_contain_text("已锁定")
    with page.expect_navigation():
        row.get_by_role("button", name="解锁").click()
    expect(page).to_have_url(f"{live_server}/users?done=unlock")
    expect(row).to_contain_text("启用")
    expect(row.get_by_role("button", name="解锁")).to_have_count(0)
    log_out(page, live_server)

    log_in(page, live_server, "merchant", password)


# --- audit viewer ------------------------------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def is_htmx_audit_query(response: Response) -> bool:
    return "/audit?" in response.url and response.request.headers.get("hx-request") == "true"


def open_audit_viewer_as_auditor(page: Page, base: str, logins: Logins) -> None:
    submit_login(page, "analyst", "Wrong-password-1")  # failed logins, to find again
    submit_login(page, "nobody", "Wrong-password-1")
    log_in(page, base, "auditor", logins["auditor"][1])
    with page.expect_navigation():
        page.locator(f"{NAV_LINKS}[href='/audit']").click()
    page.evaluate("window.sjSamePage = true")  # survives an htmx swap, not a page load


def test_auditor_filters_events_through_htmx_and_verifies_the_chain(
    page: Page, live_server: str, demo_logins: Logins, world: World, browser_log: BrowserLog
) -> None:
    browser_log.expect_status(401)
    open_audit_viewer_as_auditor(page, live_server, demo_logins)
    total, failed = count(world, AuditEvent), count(world, AuditEvent, AuditEvent.outcome == "failed")
    assert 2 <= failed < total
    rows = page.get_by_test_id("audit-table").locator("tbody tr")
    expect(page.get_by_test_id("audit-total")).to_have_text(f"共 {total} 条")
    expect(rows).to_have_count(min(total, PAGE_SIZE))

    # Failed events of the last day: a time window and an outcome together.
    now = datetime.now(SHANGHAI)
    page.fill("#q-since", (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#q-until", (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    with page.expect_response(is_htmx_audit_query) as swap:
        page.select_option("#q-outcome", "failed")
    assert swap.value.ok, swap.value.status
    expect(page.get_by_test_id("audit-total")).to_have_text(f"共 {failed} 条")
    expect(rows).to_have_count(min(failed, PAGE_SIZE))
    for row in rows.all():
        expect(row).to_have_attribute("data-outcome", "failed")
        expect(row.locator(".badge")).to_have_text("failed")
    assert page.evaluate("window.sjSamePage") is True, "the filter reloaded the whole page"
    expect(page).to_have_url(re.compile(r"/audit\?.*outcome=failed"))  # the filter is in the address bar

    page.get_by_test_id("verify-button").click()
    expect(page.get_by_test_id("verify-ok")).to_have_text(f"审计链完整：{total} 个事件")
    expect(page.get_by_test_id("verify-broken")).to_have_count(0)
    assert page.evaluate("window.sjSamePage") is True


def test_filtering_by_outcome_alone_works(
    page: Page, live_server: str, demo_logins: Logins, world: World, browser_log: BrowserLog
) -> None:
    browser_log.expect_status(401)
    open_audit_viewer_as_auditor(page, live_server, demo_logins)
    failed = count(world, AuditEvent, AuditEvent.outcome == "failed")
    with page.expect_response(is_htmx_audit_query) as swap:
        page.select_option("#q-outcome", "failed")
    assert swap.value.ok, f"/audit answered {swap.value.status}"
    expect(page.get_by_test_id("audit-total")).to_have_text(f"共 {failed} 条")
    assert page.evaluate("window.sjSamePage") is True
