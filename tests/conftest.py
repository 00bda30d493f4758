"""Shared fixtures. Every database test runs on SQLite and, when SHENGJING_TEST_POSTGRES_URL is set, on
PostgreSQL too; a URL that is set but unreachable stops the run at once instead of skipping quietly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from shengjing import domains
from shengjing.app import create_app
from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import FieldIn, ResourceIn, ResourceOut, ShareType, UpdateFrequency
from shengjing.config import Settings
from shengjing.identity import service as identity
from shengjing.identity.models import Role, RolePermission
from shengjing.identity.principal import OrgType, Principal, system_principal
from shengjing.identity.schemas import OrganizationCreate, TokenCreate, UserCreate
from shengjing.logs import configure as configure_logging
from shengjing.store import migrate
from shengjing.store.db import make_engine, make_session_factory, unit_of_work

POSTGRES_URL = os.environ.get("SHENGJING_TEST_POSTGRES_URL", "")
PASSWORD = "Test-password-2026"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not POSTGRES_URL:
        return
    try:
        with create_engine(POSTGRES_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.exit(f"SHENGJING_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {exc}", returncode=3)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not POSTGRES_URL:
        terminalreporter.write_line(
            "NOTE: SHENGJING_TEST_POSTGRES_URL is not set: the PostgreSQL half of the suite was SKIPPED.",
            red=True,
        )


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "meta.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine, domains.metadata())
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test session, migrated once; tests truncate it. Under pytest-xdist each
    worker is a session of its own, so each creates (and drops) its own database, named after the worker."""
    if not POSTGRES_URL:
        pytest.skip("SHENGJING_TEST_POSTGRES_URL is not set")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"shengjing_test_{worker}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine, domains.metadata())
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "meta.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in domains.metadata().sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    var = tmp_path / "var"
    (var / "lake").mkdir(parents=True)
    # Cheap Argon2 parameters keep the suite fast; production uses the RFC 9106 defaults.
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        var_dir=var,
        database_url=database_url,
        log_json=True,
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
    )


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine, settings)
    with unit_of_work(factory) as db:
        identity.sync_builtin_roles(db, system_principal("test"))
    yield factory
    engine.dispose()


@pytest.fixture
def system() -> Principal:
    return system_principal("test")


@dataclass
class World:
    """Helpers to populate a test's database through the services, as the CLI and API do."""

    sessions: sessionmaker[Session]
    system: Principal

    def org(self, code: str, org_type: OrgType = OrgType.DATA_BUREAU, name: str | None = None) -> None:
        with unit_of_work(self.sessions) as db:
            identity.create_organization(
                db, self.system, OrganizationCreate(code=code, name=name or f"组织{code}", org_type=org_type)
            )

    def user(self, username: str, org: str, *roles: str, password: str = PASSWORD) -> None:
        with unit_of_work(self.sessions) as db:
            identity.create_user(
                db,
                self.system,
                UserCreate(
                    username=username,
                    display_name=username,
                    org_code=org,
                    password=password,
                    roles=list(roles),
                ),
            )

    def role(self, name: str, *permissions: str) -> None:
        """A role holding exactly these permissions, open to every organization type."""
        with unit_of_work(self.sessions) as db:
            db.add(
                Role(
                    name=name,
                    label_zh=name,
                    label_en=name,
                    org_types=",".join(OrgType),
                    builtin=False,
                    permissions=[RolePermission(permission=p) for p in permissions],
                )
            )

    def token(self, username: str) -> str:
        with unit_of_work(self.sessions) as db:
            return identity.create_token(
                db, self.system, TokenCreate(name=f"t-{uuid.uuid4().hex[:8]}"), for_username=username
            ).token

    def db(self) -> Session:
        return self.sessions()

    def principal(self, username: str) -> Principal:
        """The user as the services see them when signed in to the console."""
        with unit_of_work(self.sessions) as db:
            return identity.principal_for(identity._find_user(db, self.system, username), "session")

    def resource(self, code: str, name: str, department: str, *, by: str | None = None, **given: Any) -> ResourceOut:
        """A resource filed through catalog.service, by the system or by the user ``by``. Unless given: shared on
        conditions, open as shared, monthly, with two text fields (姓名, 公民身份号码)."""
        given.setdefault("share_type", ShareType.CONDITIONAL)
        given.setdefault("open_type", given["share_type"])
        given.setdefault("update_frequency", UpdateFrequency.MONTHLY)
        given.setdefault("fields", [FieldIn(name="xm", label="姓名"), FieldIn(name="sfzh", label="公民身份号码")])
        actor = self.principal(by) if by else self.system
        with unit_of_work(self.sessions) as db:
            return catalog.create_resource(db, actor, ResourceIn(code=code, name=name, department=department, **given))

    @property
    def settings(self) -> Settings:
        return self.sessions.kw["info"]["settings"]  # type: ignore[no-any-return]


@pytest.fixture
def world(sessions: sessionmaker[Session], system: Principal) -> World:
    return World(sessions, system)


@pytest.fixture
def app(settings: Settings, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log a test client in through the real login form; returns the session's CSRF token."""
    client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": client.cookies.get("sj_login_csrf", ""),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    """The CSRF token of the client's console session, as its pages embed it."""
    page = client.get("/account")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


# Logs as JSON lines, captured by pytest and shown with a failing test.
configure_logging("INFO", json=True)


# --- a live server (uvicorn in a process of its own), for the browser and for HTTP clients such as ckanapi ---

STARTUP_SECONDS = 20.0


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
def server_url(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """The app served by uvicorn in a process of its own, on the test's database; yields the base URL.
    The server's log is kept as ``request.node.server_log`` (tests/browser shows its end with a failure)."""
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
