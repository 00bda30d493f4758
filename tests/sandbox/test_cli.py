"""Authorized operation scripted end to end with the `shengjing` command, as a deployment would: draft, create,
apply, consent, approve, query (refused and accepted), egress review, download, saved analyses."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from tests.sandbox.city import City
from tests.test_cli import run


def _ok(city: City, *args: str) -> str:
    done = run(city.world.settings, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_a_deployment_scripts_the_whole_workflow(city: City, tmp_path: Path) -> None:
    draft = tmp_path / "auth.yaml"
    _ok(city, "authorization", "draft", "--operator", "YY", "--scenario", "finance_credit",
        "--resource", "GA-PERSON", "--resource", "RS-INSURANCE", "--out", str(draft))  # fmt: skip
    document = yaml.safe_load(draft.read_text("utf-8"))
    assert {r["resource"] for r in document["resources"]} == {"GA-PERSON", "RS-INSURANCE"}
    # the document a data bureau would edit: here, the city's own controls and reviewed egress
    draft.write_text(city.document(egress="reviewed"), encoding="utf-8")
    created = json.loads(_ok(city, "authorization", "create", str(draft), "--json"))
    code = created["code"]
    assert created["status"] == "draft"
    _ok(city, "authorization", "apply", code)
    _ok(city, "authorization", "consent", code, "--resource", "GA-PERSON")
    _ok(city, "authorization", "consent", code, "--resource", "RS-INSURANCE", "--note", "同意")
    approved = json.loads(_ok(city, "authorization", "approve", code, "--json"))
    assert approved["status"] == "active"
    assert "compare" in _ok(city, "authorization", "schema", code)

    refused = run(city.world.settings, "query", "--authorization", code, "--sql", "SELECT sr FROM person")
    assert refused.returncode == 2
    assert "person.sr" in refused.stderr + refused.stdout and "aggregate" in refused.stderr + refused.stdout

    sql = "SELECT qx, COUNT(*) AS n FROM person GROUP BY qx ORDER BY qx"
    ran = json.loads(_ok(city, "query", "--authorization", code, "--sql", sql, "--json"))
    assert ran["status"] == "pending_review"  # (the local system sees the rows, as a reviewer would)
    queue = json.loads(_ok(city, "egress", "list", "--json"))
    assert [r["id"] for r in queue] == [ran["id"]]
    _ok(city, "egress", "approve", str(ran["id"]), "--note", "可以出域")
    out = tmp_path / "result.csv"
    _ok(city, "egress", "download", str(ran["id"]), "--out", str(out))
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["qx"] for r in rows] == sorted(r["qx"] for r in rows) and all(int(r["n"]) >= 5 for r in rows)

    _ok(city, "analysis", "save", code, "区县人数", "--sql", sql)
    assert "区县人数" in _ok(city, "analysis", "list", code)
    again = json.loads(_ok(city, "analysis", "run", code, "区县人数", "--json"))
    assert again["analysis"] == "区县人数" and again["status"] == "pending_review"
    runs = json.loads(_ok(city, "runs", "list", "--authorization", code, "--json"))
    assert [r["status"] for r in runs] == ["pending_review", "approved", "refused"]
    _ok(city, "authorization", "suspend", code, "--note", "核查")
    suspended = run(city.world.settings, "query", "--authorization", code, "--sql", sql)
    assert suspended.returncode != 0 and "suspended" in suspended.stderr + suspended.stdout
