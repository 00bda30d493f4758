"""The `shengjing` command as an operator uses it: a real subprocess, real exit codes, bilingual errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from shengjing.audit.models import AuditEvent
from shengjing.config import Settings
from shengjing.store.db import make_engine


def run(settings: Settings, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SHENGJING_DATABASE_URL": settings.database_url,
        "SHENGJING_VAR_DIR": str(settings.var_dir),
        "SHENGJING_LOG_LEVEL": "WARNING",
        "SHENGJING_PASSWORD_HASH_MEMORY_KIB": "1024",
        "SHENGJING_PASSWORD_HASH_TIME_COST": "1",
        "COLUMNS": "200",
    }
    if password is not None:
        env["SHENGJING_NEW_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "shengjing", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_set_up_a_deployment_without_the_console(settings: Settings) -> None:
    assert run(settings, "init").returncode == 0
    assert run(settings, "org", "add", "SYSJJ", "--name", "沈阳市数据局", "--type", "data_bureau").returncode == 0
    added = run(
        settings,
        "user",
        "add",
        "admin",
        "--org",
        "SYSJJ",
        "--name",
        "管理员",
        "--role",
        "platform_admin",
        "--json",
        password="Shenyang-2026!",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["roles"] == ["platform_admin"]
    token = run(settings, "token", "create", "--user", "admin", "--name", "ci", "--json")
    secret = json.loads(token.stdout)["token"]
    assert secret.startswith("sjt_")
    listed = run(settings, "token", "list", "--json")
    assert secret not in listed.stdout and json.loads(listed.stdout)[0]["name"] == "ci"
    verified = run(settings, "audit", "verify")
    assert verified.returncode == 0 and "4 events" in verified.stdout  # roles, org, user, token


def test_errors_are_bilingual_with_their_exit_code(settings: Settings) -> None:
    run(settings, "init")
    missing = run(settings, "user", "add", "bob", "--org", "NOPE", "--name", "Bob", password="Shenyang-2026!")
    assert missing.returncode == 5
    assert "找不到组织" in missing.stderr and "No organization 'NOPE'" in missing.stderr
    bad = run(settings, "org", "add", "X1", "--name", "某单位", "--type", "department", "--credit-code", "123")
    assert bad.returncode == 2 and "credit" in bad.stderr


def test_audit_verify_names_the_tampered_event(settings: Settings) -> None:
    run(settings, "init")
    run(settings, "org", "add", "SYSJJ", "--name", "沈阳市数据局", "--type", "data_bureau")
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(outcome="failed"))
    engine.dispose()
    broken = run(settings, "audit", "verify")
    assert broken.returncode == 8
    assert "#2" in broken.stderr and "第 2 号" in broken.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_writes_the_city_and_its_users(settings: Settings) -> None:
    run(settings, "init")
    result = run(settings, "demo", "--persons", "300", "--seed", "7")
    assert result.returncode == 0, result.stderr
    for username in ("admin", "auditor", "gongan", "analyst", "merchant", "assessor"):
        assert username in result.stdout
    files = sorted(p.name for p in Path(settings.var_dir, "demo").glob("*.parquet"))
    assert "person.parquet" in files and "enterprise.parquet" in files
    again = run(settings, "demo", "--persons", "300", "--seed", "7")  # idempotent: fresh passwords, no duplicates
    assert again.returncode == 0, again.stderr
    assert run(settings, "audit", "verify").returncode == 0
