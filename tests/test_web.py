"""The web layer's promises: JSON errors with both messages, no echo of input, security headers, request ids,
health, metrics, structured logs, and a console that speaks Chinese first and English on request."""

from __future__ import annotations

import json
import logging

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from shengjing.web.i18n import LOCALE_DIR
from tests.conftest import PASSWORD, World, login


def _admin(world: World) -> str:
    world.org("BUREAU")
    world.user("admin", "BUREAU", "platform_admin", "auditor")
    return world.token("admin")


def test_api_errors_are_json_with_both_messages(client, world: World) -> None:  # type: ignore[no-untyped-def]
    token = _admin(world)
    auth = {"Authorization": f"Bearer {token}"}
    missing = client.get("/api/v1/users/ghost", headers=auth)
    assert missing.status_code == 404
    body = missing.json()
    assert body["error"]["code"] == "not_found" and body["request_id"] == missing.headers["x-request-id"]
    assert "找不到用户" in body["error"]["message_zh"] and "No user" in body["error"]["message_en"]
    secret = "Super-Secret-Value-123"
    invalid = client.post("/api/v1/users", headers=auth, json={"username": secret, "password": 5})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_input"
    assert secret not in invalid.text  # the rejected value is named by field, never echoed
    assert client.delete("/api/v1/me", headers=auth).json()["error"]["code"] == "method_not_allowed"
    denied = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {world.token('admin')}"})
    assert denied.status_code == 200


def test_security_headers_and_request_ids(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login", headers={"X-Request-ID": "trace-abc-12345"})
    assert response.headers["x-request-id"] == "trace-abc-12345"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text and " style=" not in response.text
    generated = client.get("/login", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert len(generated) == 32


def test_the_request_id_reaches_the_audit_event_and_the_log(client, world: World, caplog) -> None:  # type: ignore[no-untyped-def]
    token = _admin(world)
    with caplog.at_level(logging.INFO, logger="shengjing.http"):
        client.post(
            "/api/v1/organizations",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-0000001"},
            json={"code": "POLICE", "name": "沈阳市公安局", "org_type": "department"},
        )
    events = client.get("/api/v1/audit/events?request_id=req-0000001", headers={"Authorization": f"Bearer {token}"})
    assert [e["action"] for e in events.json()["events"]] == ["identity.organization.add"]
    # Format the captured records with the app's own log formatter: each is one JSON line.
    formatter = logging.getLogger().handlers[0].formatter
    assert formatter is not None
    lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == "shengjing.http"]
    access = [line for line in lines if line.get("request_id") == "req-0000001"]
    assert access and access[0]["status"] == 201 and access[0]["user"] == "admin"
    assert access[0]["route"] == "/api/v1/organizations" and access[0]["level"] == "info"


def test_health_and_metrics_are_public(client, world: World) -> None:  # type: ignore[no-untyped-def]
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["checks"] == {"database": "ok", "lake": "ok"}
    client.get("/login")
    metrics = client.get("/metrics").text
    assert 'shengjing_http_requests_total{method="GET",route="/login",status="200"}' in metrics
    assert "shengjing_http_request_duration_seconds_bucket" in metrics


def test_console_is_chinese_first_with_an_english_switch(client, world: World) -> None:  # type: ignore[no-untyped-def]
    _admin(world)
    login(client, "admin")
    assert "审计日志" in client.get("/").text
    client.get("/lang/en?next=/users")
    page = client.get("/users").text
    assert "Audit log" in page and "Add a user" in page and "审计日志" not in page
    assert client.get("/lang/en?next=https://evil.example/", follow_redirects=False).headers["location"] == "/"


def test_every_console_string_has_an_english_translation() -> None:
    with open(LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    root = LOCALE_DIR.parent.parent  # src/shengjing
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    used = {
        msg[2]
        for msg in extract_from_dir(str(root), method_map, options, keywords={"_": None, "gettext": None, "N_": None})
    }
    used = {m if isinstance(m, str) else m[0] for m in used}
    assert used - translated == set(), "untranslated: run `make extract-messages` and translate the .po file"


def test_login_failure_message_follows_the_language(client, world: World) -> None:  # type: ignore[no-untyped-def]
    _admin(world)
    client.get("/login")
    zh = client.post(
        "/login",
        data={"username": "admin", "password": "nope", "csrf_token": client.cookies.get("sj_login_csrf")},
    )
    assert zh.status_code == 401 and "用户名或密码错误" in zh.text
    client.cookies.set("sj_lang", "en")
    client.get("/login")
    en = client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD + "x",
            "csrf_token": client.cookies.get("sj_login_csrf"),
        },
    )
    assert "Wrong username or password" in en.text


def test_blank_time_bounds_mean_none_and_naive_times_are_shenyang_time(client, world: World) -> None:  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {_admin(world)}"}
    assert client.get("/api/v1/audit/events?since=&until=", headers=auth).status_code == 200
    # 08:00 in Shenyang is midnight UTC: an event recorded now is after both spellings of the same instant.
    naive = client.get("/api/v1/audit/events?since=2000-01-01T08:00", headers=auth).json()
    aware = client.get("/api/v1/audit/events?since=2000-01-01T00:00Z", headers=auth).json()
    assert naive["total"] == aware["total"] > 0
    out_of_range = client.get("/api/v1/audit/events?since=0001-01-01T00:00", headers=auth)
    assert out_of_range.status_code == 422 and out_of_range.json()["error"]["code"] == "invalid_input"
    assert client.get("/", headers=auth).headers["cache-control"] == "no-store"
