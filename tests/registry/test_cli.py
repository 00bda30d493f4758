"""The registry scripted with the `shengjing` command, at today's date: an application taken to its certificate,
the bundle verified offline by a process that has no database and no settings, the register verified, and
`shengjing log monitor` following a live server's log until the log is rewritten."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import delete

from shengjing.config import Settings
from shengjing.registry import calendar, log
from shengjing.registry.models import LogCheckpoint, LogEntry, LogHead, LogNode
from shengjing.store.db import unit_of_work
from tests.conftest import World
from tests.registry.conftest import application
from tests.sandbox.city import City, build_city
from tests.test_cli import run


@pytest.fixture
def live_city(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> City:
    """The city at today's date, for commands run in processes of their own. Publicity is configured off, so the
    whole workflow runs today; a year the calendar package does not cover yet gets a supplement of its weekdays,
    as a bureau would enter the State Council's notice."""
    monkeypatch.setenv("SHENGJING_REGISTRY_PUBLICITY_WORKING_DAYS", "0")
    year = dt.date.today().year
    if year not in calendar.COVERED_YEARS or year + 1 not in calendar.COVERED_YEARS:
        path = tmp_path / "calendar.yaml"
        path.write_text(
            yaml.safe_dump({y: {"holidays": [], "workdays": []} for y in (year, year + 1)}), encoding="utf-8"
        )
        monkeypatch.setenv("SHENGJING_REGISTRY_CALENDAR_PATH", str(path))
    return build_city(world, tmp_path, people=40)


def _ok(settings: Settings, *args: str) -> str:
    done = run(settings, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_a_registration_scripted_to_an_offline_verified_certificate(live_city: City, tmp_path: Path) -> None:
    settings = live_city.world.settings
    draft = tmp_path / "draft.yaml"
    _ok(settings, "registration", "draft", "GA-PERSON", "--out", str(draft))
    assert yaml.safe_load(draft.read_text("utf-8"))["object"]["code"] == "GA-PERSON"
    filed = tmp_path / "application.yaml"
    filed.write_text(application(live_city), encoding="utf-8")
    # the authority's counter files a paper application, for the department that holds the data only
    refused = run(settings, "registration", "apply", str(filed), "--applicant", "RS")
    assert refused.returncode != 0 and "registry.registration.add" in refused.stderr
    number = json.loads(_ok(settings, "registration", "apply", str(filed), "--applicant", "GA", "--json"))["number"]
    assert json.loads(_ok(settings, "registration", "list", "--json"))[0]["number"] == number
    _ok(settings, "registration", "accept", number, "--note", "材料齐全")
    approved = json.loads(_ok(settings, "registration", "publicize", number, "--json"))
    assert approved["status"] == "approved"  # publicity configured off
    issued = json.loads(_ok(settings, "registration", "issue", number, "--json"))
    certificate = issued["certificate_number"]

    bundle, keys, pdf = tmp_path / "bundle.json", tmp_path / "keys.pem", tmp_path / "certificate.pdf"
    _ok(settings, "certificate", "bundle", certificate, "--out", str(bundle))
    _ok(settings, "certificate", "pdf", certificate, "--out", str(pdf))
    _ok(settings, "log", "keys", "--out", str(keys))
    assert pdf.read_bytes().startswith(b"%PDF")
    assert json.loads(_ok(settings, "certificate", "show", certificate, "--json"))["status"] == "valid"
    assert "all verify" in _ok(settings, "log", "verify")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    verified = _offline(elsewhere, "verify", str(bundle), "--key", str(keys), "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["certificate"] == certificate
    assert not list(elsewhere.iterdir())  # it made no database, no var directory

    forged = json.loads(bundle.read_text("utf-8"))
    forged["certificate"]["term"]["end"] = "2099-12-31"
    (tmp_path / "forged.json").write_text(json.dumps(forged), encoding="utf-8")
    refused = _offline(elsewhere, "verify", str(tmp_path / "forged.json"), "--key", str(keys))
    assert refused.returncode == 8 and "altered" in refused.stderr


def _offline(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command with no SHENGJING_* setting at all, in an empty directory: what a holder runs anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHENGJING_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "shengjing", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _append(settings_sessions, events: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(settings_sessions) as db:
        log.append(db, events)
        log.sign_checkpoint(db)


def test_the_monitor_follows_a_log_and_reports_a_rewrite(world: World, server_url: str, tmp_path: Path) -> None:
    settings = world.settings
    keys = tmp_path / "keys.pem"
    _ok(settings, "log", "keys", "--out", str(keys))
    state = tmp_path / "monitor.json"
    monitor = ("log", "monitor", f"{server_url}/api/v1/registry/log", "--key", str(keys), "--state", str(state))

    _append(world.sessions, [{"type": "test", "n": n} for n in range(5)])
    first = _offline(tmp_path, *monitor, "--once")
    assert first.returncode == 0, first.stderr
    assert "size 5" in first.stdout and json.loads(state.read_text())["size"] == 5

    _append(world.sessions, [{"type": "test", "n": n} for n in range(5, 12)])
    grown = _offline(tmp_path, *monitor, "--once")
    assert grown.returncode == 0 and "size 12" in grown.stdout and "consistent with 5" in grown.stdout

    # An administrator with the database rewrites history: the same key signs a log whose start differs.
    with unit_of_work(world.sessions) as db:
        for table in (LogCheckpoint, LogNode, LogEntry, LogHead):
            db.execute(delete(table))
    _append(world.sessions, [{"type": "test", "n": -n} for n in range(15)])
    rewritten = _offline(tmp_path, *monitor, "--once")
    assert rewritten.returncode == 8, rewritten.stdout + rewritten.stderr
    assert "rewritten" in rewritten.stderr
    assert json.loads(state.read_text())["size"] == 12  # the last good checkpoint is kept
