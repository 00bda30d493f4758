"""End-to-end fixtures: a real server process (uvicorn) and Debian's chromium driven by Playwright.

Every test gets a fresh browser context; anything the browser reports as wrong (a console error, which is how a
CSP violation shows, an uncaught page error, a failed request) fails the test unless the test expected it.
Without /usr/bin/chromium the tests skip loudly, or fail when SHENGJING_TEST_BROWSER=required.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from shengjing.demo.service import DemoUser, set_up_organizations_and_users
from shengjing.store.db import unit_of_work
from tests.conftest import World

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM = "chromium not installed: browser tests SKIPPED; apt-get install chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HERE = Path(__file__).resolve().parent
ACTION_TIMEOUT_MS = 10_000

_skipped_for_missing_chromium = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test, whatever its module declares."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the item, so the page fixture knows at teardown whether the test failed;
    a failure's report carries the end of the server's log."""
    report: pytest.TestReport = yield
    setattr(item, f"report_{report.when}", report)
    server_log: Path | None = getattr(item, "server_log", None)
    if report.failed and server_log is not None and server_log.exists():
        report.sections.append(("server log (last lines)", server_log.read_text(errors="replace")[-6000:]))
    return report


def _failed(item: pytest.Item) -> bool:
    return any(getattr(getattr(item, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Under pytest-xdist the skips happen in the workers: the controller sees them only as skipped reports.
    skipped = terminalreporter.stats.get("skipped", [])
    if _skipped_for_missing_chromium or any(MISSING_CHROMIUM in str(report.longrepr) for report in skipped):
        terminalreporter.write_line(f"NOTE: {MISSING_CHROMIUM}", red=True, bold=True)


# --- the server --------------------------------------------------------------------------------------------


@pytest.fixture
def demo_logins(world: World) -> dict[str, tuple[DemoUser, str]]:
    """The demo city's organizations and one user per built-in role: username -> (demo user, password)."""
    with unit_of_work(world.sessions) as db:
        logins = set_up_organizations_and_users(db, world.system)
    return {demo.username: (demo, password) for demo, password in logins}


@pytest.fixture
def live_server(demo_logins: dict[str, tuple[DemoUser, str]], server_url: str) -> str:
    """The app served by uvicorn (tests/conftest.py), with the demo city's organizations and users in its database."""
    return server_url


# --- the browser -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    global _skipped_for_missing_chromium
    if not CHROMIUM.exists():
        if os.environ.get("SHENGJING_TEST_BROWSER") == "required":
            pytest.fail(f"SHENGJING_TEST_BROWSER=required but {CHROMIUM} is missing: apt-get install chromium")
        _skipped_for_missing_chromium = True
        pytest.skip(MISSING_CHROMIUM)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


# Chromium reports a response with an error status as a console error; tests say which ones they expect.
_HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")


@dataclass
class BrowserLog:
    """What went wrong in the browser during a test, besides the HTTP error statuses the test expects."""

    expected_statuses: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def expect_status(self, *statuses: int) -> None:
        """The test provokes these HTTP error statuses on purpose (a 403 page, a refused form)."""
        self.expected_statuses.update(statuses)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        status = _HTTP_ERROR.search(message.text)
        if status and int(status.group(1)) in self.expected_statuses:
            return
        self.problems.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Exception) -> None:
        self.problems.append(f"page error: {error}")

    def on_request_failed(self, request: Request) -> None:
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[-150:]


@pytest.fixture
def page(browser: Browser, live_server: str, browser_log: BrowserLog, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context (no cookies), in Chinese, watched for console errors and failed requests."""
    context = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    page.on("console", browser_log.on_console)
    page.on("pageerror", browser_log.on_page_error)
    page.on("requestfailed", browser_log.on_request_failed)
    try:
        yield page
        if _failed(request.node) or browser_log.problems:
            ARTIFACTS.mkdir(exist_ok=True)
            with contextlib.suppress(PlaywrightError):  # a page that cannot be pictured must not hide the failure
                page.screenshot(path=ARTIFACTS / f"{_artifact_name(request.node.nodeid)}.png", full_page=True)
        assert not browser_log.problems, "the browser reported problems:\n" + "\n".join(browser_log.problems)
    finally:
        context.close()
