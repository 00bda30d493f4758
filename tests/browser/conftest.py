"""End-to-end fixtures: a real server process (uvicorn) and Debian's chromium driven by Playwright.

Every test gets a fresh browser context; anything the browser reports as wrong (a console error, which is how a
CSP violation shows, an uncaught page error, a failed request) fails the test unless the test expected it.
Without /usr/bin/chromium the tests skip loudly, or fail when SHENGJING_TEST_BROWSER=required.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from shengjing.config import Settings
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
STARTUP_SECONDS = 20.0
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
    if _skipped_for_missing_chromium:
        terminalreporter.write_line(f"NOTE: {MISSING_CHROMIUM}", red=True, bold=True)


# --- the server --------------------------------------------------------------------------------------------


@pytest.fixture
def demo_logins(world: World) -> dict[str, tuple[DemoUser, str]]:
    """The demo city's organizations and one user per built-in role: username -> (demo user, password)."""
    with unit_of_work(world.sessions) as db:
        logins = set_up_organizations_and_users(db, world.system)
    return {demo.username: (demo, password) for demo, password in logins}


def _settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the SHENGJING_* environment variables the server process reads them from."""
    env = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is not None:
            env[f"SHENGJING_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - our own http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def live_server(
    settings: Settings,
    demo_logins: dict[str, tuple[DemoUser, str]],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """The app served by uvicorn in a process of its own, on the test's database; yields the base URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # Exactly this test's settings (database, var dir, JSON logs, cheap password hashing, …): no SHENGJING_* from
    # the caller's environment, and no .env from the working tree (the server runs in the test's directory).
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHENGJING_")}
    env |= _settings_env(settings)
    env["PYTHONUNBUFFERED"] = "1"
    log_path = request.node.server_log = tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "shengjing.app:app_from_environment", "--factory",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-4000:]
                state = f"exited with {process.returncode}" if process.poll() is not None else "not healthy"
                pytest.fail(f"server on {url} {state} (waited up to {STARTUP_SECONDS:.0f} s); its log:\n{tail}")
            time.sleep(0.1)
        yield url
    finally:
        _stop(process)


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
