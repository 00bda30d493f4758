"""The classification console through the app's real routes (TestClient): a department reviews its resource's
grading, the data bureau reads the city-wide view, exports the grading catalogue, audits and reopens, alerts are
acknowledged, the rule set is edited with its errors beside the editor, and who may see what."""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from stdnum.cn import ric

from shengjing.catalog.schemas import FieldIn
from shengjing.classify import service
from shengjing.classify.schemas import ReviewStatus
from shengjing.identity.principal import OrgType
from shengjing.ingest import service as ingest
from shengjing.store.db import unit_of_work
from tests.conftest import World, login

FIELDS = [
    FieldIn(name="sfzh", label="公民身份号码"),
    FieldIn(name="xm", label="姓名"),
    FieldIn(name="lxfs", label="联系方式"),
    FieldIn(name="bz", label="备注"),
]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴刚"]


def people_csv(path: Path, rows: int = 60, *, emails: bool = False, seed: int = 3) -> Path:
    """Valid ID numbers, names, mobiles (or e-mail addresses) and free remarks."""
    rng = random.Random(seed)
    lines = ["sfzh,xm,lxfs,bz"]
    for i in range(rows):
        body = (
            f"210102{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        )
        contact = f"user{i}@example.com" if emails else f"13{rng.randint(0, 9)}{rng.randint(10**7, 10**8 - 1)}"
        lines.append(f"{body + ric.calc_check_digit(body + '0')},{rng.choice(NAMES)},{contact},备注{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def city(world: World, tmp_path: Path) -> World:
    """The bureau, two departments and an operator; the police's resource holds data (classified on ingest)."""
    world.org("BUREAU")
    world.org("POLICE", OrgType.DEPARTMENT, "沈阳市公安局")
    world.org("HRSS", OrgType.DEPARTMENT, "沈阳市人力资源和社会保障局")
    world.org("OPERATOR", OrgType.OPERATOR, "沈阳数字产业发展有限公司")
    world.user("admin", "BUREAU", "platform_admin")
    world.user("police", "POLICE", "department_admin")
    world.user("hrss", "HRSS", "department_admin")
    world.user("analyst", "OPERATOR", "operator_analyst")
    world.resource("RK-0001", "户籍人口基本信息", "POLICE", fields=FIELDS)
    ingest.ingest(world.sessions, world.principal("police"), "RK-0001", str(people_csv(tmp_path / "rk.csv")))
    return world


def statuses(world: World, code: str = "RK-0001") -> dict[str, ReviewStatus]:
    with unit_of_work(world.sessions) as db:
        return {f.field: f.status for f in service.get_grading(db, world.system, code).fields}


def logout(client: TestClient, csrf: str) -> None:
    client.post("/logout", data={"csrf_token": csrf})


def chart_data(html: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r'<script type="application/json" id="grading-data">(.*?)</script>', html, re.S)
    assert found, "the overview hands its chart data to app.js"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_the_owning_department_confirms_and_overrides_on_the_resources_page(client: TestClient, city: World) -> None:
    csrf = login(client, "police")
    detail = client.get("/catalog/RK-0001")
    assert 'href="/catalog/RK-0001/classification"' in detail.text
    page = client.get("/catalog/RK-0001/classification")
    assert page.status_code == 200
    assert re.search(r'data-testid="type-sfzh">\s*居民身份证号码', page.text)
    assert re.search(r'data-testid="resource-level">.*?L4', page.text, re.S)
    assert 'data-testid="run-sample"' in page.text and 'data-testid="confirm-all"' in page.text
    assert 'data-testid="audit-form"' not in page.text  # the bureau audits, not the department
    assert re.search(r"中文名称 “[^”]*身份[^”]*” → 居民身份证号码", page.text)  # the name's evidence, readable
    assert re.search(r"数据值: 100.0% 符合 居民身份证号码", page.text)  # and the values'
    assert re.search(r'data-testid="control-sfzh">隐藏<', page.text)  # hidden until confirmed

    confirmed = client.post(
        "/catalog/RK-0001/classification/review",
        data={"csrf_token": csrf, "field": "sfzh", "action": "confirm"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/catalog/RK-0001/classification?done=reviewed"
    # An override needs a reason: refused beside the table, nothing changed.
    no_reason = {"csrf_token": csrf, "field": "bz", "action": "override", "level": "L2"}
    refused = client.post("/catalog/RK-0001/classification/review", data=no_reason)
    assert refused.status_code == 422 and "须说明理由" in refused.text and 'data-testid="notice"' in refused.text
    overridden = client.post(
        "/catalog/RK-0001/classification/review",
        data=no_reason | {"reason": "备注中含住址片段"},
        follow_redirects=False,
    )
    assert overridden.status_code == 303
    # A field a run has removed since the page was shown: told beside the table, not an error page.
    gone = client.post("/catalog/RK-0001/classification/review", data={**no_reason, "field": "gone", "reason": "x"})
    assert gone.status_code == 404 and 'data-testid="notice"' in gone.text and "RK-0001.gone" in gone.text
    assert statuses(city) == {
        "sfzh": ReviewStatus.CONFIRMED,
        "xm": ReviewStatus.PROPOSED,
        "lxfs": ReviewStatus.PROPOSED,
        "bz": ReviewStatus.OVERRIDDEN,
    }
    page = client.get("/catalog/RK-0001/classification?done=reviewed")
    assert "已保存确认结果" in page.text
    assert re.search(r'data-testid="level-bz">\s*<span[^>]*>L2<', page.text)
    assert 'data-testid="reason-bz">备注中含住址片段<' in page.text
    assert re.search(r'data-action="overridden">.*?备注中含住址片段', page.text, re.S)  # in the history

    # Confirm all confirms what the page showed as proposed.
    assert (
        client.post(
            "/catalog/RK-0001/classification/confirm-all",
            data={"csrf_token": csrf, "field": ["xm", "lxfs"]},
            follow_redirects=False,
        )
        .headers["location"]
        .endswith("done=confirmed")
    )
    assert set(statuses(city).values()) == {ReviewStatus.CONFIRMED, ReviewStatus.OVERRIDDEN}

    # A sample run again, then a full one: the decisions stay.
    for mode in ("sample", "full"):
        ran = client.post(
            "/catalog/RK-0001/classification/run", data={"csrf_token": csrf, "mode": mode}, follow_redirects=False
        )
        assert ran.status_code == 303, ran.text
    page = client.get("/catalog/RK-0001/classification")
    assert re.search(r'data-testid="run-table">.*?<td>全量</td>', page.text, re.S)
    assert statuses(city)["bz"] is ReviewStatus.OVERRIDDEN
    # Departments may not audit, reopen, or touch the rule set.
    assert client.post("/catalog/RK-0001/classification/audit", data={"csrf_token": csrf}).status_code == 403
    reopen = {"csrf_token": csrf, "reason": "x"}
    assert client.post("/catalog/RK-0001/classification/reopen", data=reopen).status_code == 403
    assert client.post("/classification/ruleset", data={"csrf_token": csrf, "text": "x"}).status_code == 403
    forged = client.post(
        "/catalog/RK-0001/classification/review", data={"csrf_token": "forged", "field": "xm", "action": "confirm"}
    )
    assert forged.status_code == 403


def test_who_sees_a_grading(client: TestClient, city: World) -> None:
    anonymous = client.get("/catalog/RK-0001/classification", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert client.get("/classification", follow_redirects=False).status_code == 303

    csrf = login(client, "hrss")  # another department: not even the grading's existence
    assert client.get("/catalog/RK-0001/classification").status_code == 404
    assert client.get("/classification").status_code == 200
    review = {"csrf_token": csrf, "field": "xm", "action": "confirm"}
    # It sees the resource in the catalog (shared on conditions), but may not review or classify it.
    assert client.post("/catalog/RK-0001/classification/review", data=review).status_code == 403
    run = client.post("/catalog/RK-0001/classification/run", data={"csrf_token": csrf, "mode": "sample"})
    assert run.status_code == 403
    assert statuses(city)["xm"] is ReviewStatus.PROPOSED
    # The city-wide view of a department counts its own resources only.
    assert chart_data(client.get("/classification").text)["departments"] == []
    logout(client, csrf)

    login(client, "analyst")  # an operator holds no classification permission
    assert client.get("/classification").status_code == 403
    assert client.get("/classification/export.xlsx").status_code == 403
    assert client.get("/catalog/RK-0001/classification").status_code == 403
    assert 'href="/classification"' not in client.get("/").text  # nor the menu entry


def test_the_bureau_reads_the_city_exports_the_catalogue_audits_and_reopens(client: TestClient, city: World) -> None:
    csrf = login(client, "police")
    client.post(
        "/catalog/RK-0001/classification/confirm-all",
        data={"csrf_token": csrf, "field": [f for f, s in statuses(city).items() if s is ReviewStatus.PROPOSED]},
    )
    logout(client, csrf)

    csrf = login(client, "admin")
    assert 'href="/classification"' in client.get("/").text
    overview = client.get("/classification")
    assert overview.status_code == 200
    data = chart_data(overview.text)
    by_level = {level[0]: level for level in data["levels"]}
    assert by_level["L4"][2] == 1 and by_level["L4"][4] == 60  # one resource at L4, its 60 rows
    assert sum(level[3] for level in data["levels"]) == 4  # four fields
    assert data["departments"] == ["沈阳市公安局"]
    assert [s["data"] for s in data["departmentLevels"] if s["name"] == "L4"] == [[1]]
    assert ["居民身份证号码", 1] in data["types"]
    assert re.search(r'data-testid="count-awaiting">1<', overview.text)
    assert re.search(r'data-testid="awaiting-table">.*?data-code="RK-0001"', overview.text, re.S)
    assert 'href="/classification/export.xlsx"' in overview.text and 'href="/classification/ruleset"' in overview.text

    exported = client.get("/classification/export.xlsx")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert exported.headers["content-disposition"].startswith('attachment; filename="grading-catalogue-')
    workbook = load_workbook(io.BytesIO(exported.content), read_only=True)
    assert workbook.sheetnames == ["数据项分类分级清单", "数据资源分级清单"]
    fields = [list(row) for row in workbook["数据项分类分级清单"].iter_rows(values_only=True)]
    assert fields[0][:7] == ["数据提供单位", "数据资源代码", "数据资源名称", "数据项", "数据项名称", "类别", "级别"]
    assert {row[3] for row in fields[1:]} == {"sfzh", "xm", "lxfs", "bz"}
    resources = [list(row) for row in workbook["数据资源分级清单"].iter_rows(values_only=True)]
    assert resources[0][:4] == ["数据提供单位", "数据资源代码", "数据资源名称", "级别"]
    assert resources[1][1:4] == ["RK-0001", "户籍人口基本信息", "L4"]

    page = client.get("/catalog/RK-0001/classification")
    assert 'data-testid="audit-form"' in page.text and 'data-testid="reopen-form"' in page.text
    assert 'data-testid="confirm-all"' not in page.text  # the bureau audits; the department reviews
    audited = client.post(
        "/catalog/RK-0001/classification/audit", data={"csrf_token": csrf, "note": "分级合理"}, follow_redirects=False
    )
    assert audited.status_code == 303
    assert re.search(
        r'data-testid="audit-state">.*?已审核.*?分级合理', client.get(audited.headers["location"]).text, re.S
    )
    assert re.search(r'data-testid="count-awaiting">0<', client.get("/classification").text)

    no_reason = client.post("/catalog/RK-0001/classification/reopen", data={"csrf_token": csrf, "field": "xm"})
    assert no_reason.status_code == 422 and "退回须说明理由" in no_reason.text
    reopened = client.post(
        "/catalog/RK-0001/classification/reopen",
        data={"csrf_token": csrf, "field": "", "reason": "请复核联系方式"},
        follow_redirects=False,
    )
    assert reopened.status_code == 303
    assert set(statuses(city).values()) == {ReviewStatus.PROPOSED}
    # Audit needs every field reviewed again: refused with the department's count beside it.
    refused = client.post("/catalog/RK-0001/classification/audit", data={"csrf_token": csrf})
    assert refused.status_code == 422 and "未经数据提供单位确认" in refused.text


def test_a_type_change_raises_an_alert_the_department_acknowledges(
    client: TestClient, city: World, tmp_path: Path
) -> None:
    path = people_csv(tmp_path / "rk2.csv", emails=True)
    ingest.ingest(city.sessions, city.principal("police"), "RK-0001", str(path))  # 联系方式 now holds e-mail
    csrf = login(client, "police")
    overview = client.get("/classification")
    assert re.search(r'data-testid="count-alerts">1<', overview.text)
    alert = re.search(r'<tr data-alert="(\d+)">.*?<code>lxfs</code>.*?手机号码.*?电子邮箱', overview.text, re.S)
    assert alert, overview.text
    page = client.get("/catalog/RK-0001/classification")
    assert f'data-testid="acknowledge-{alert.group(1)}"' in page.text
    done = client.post(
        f"/classification/alerts/{alert.group(1)}/acknowledge",
        data={"csrf_token": csrf, "return_to": "resource"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/catalog/RK-0001/classification?done=acknowledged#alerts"
    assert re.search(r'data-testid="count-alerts">0<', client.get("/classification").text)
    assert client.post("/classification/alerts/999999/acknowledge", data={"csrf_token": csrf}).status_code == 404


def test_a_rolled_back_resource_warns_that_its_grading_is_stale(
    client: TestClient, city: World, tmp_path: Path
) -> None:
    ingest.ingest(city.sessions, city.principal("police"), "RK-0001", str(people_csv(tmp_path / "v2.csv", seed=9)))
    csrf = login(client, "police")
    assert 'data-testid="stale"' not in client.get("/catalog/RK-0001/classification").text
    assert client.post("/catalog/RK-0001/rollback", data={"csrf_token": csrf, "version": 1}).status_code == 200
    page = client.get("/catalog/RK-0001/classification")
    assert re.search(r'data-testid="stale">[^<]*版本 2[^<]*版本为 1', page.text)


def test_the_bureau_edits_the_rule_set_and_its_errors_show_beside_the_editor(client: TestClient, city: World) -> None:
    csrf = login(client, "admin")
    page = client.get("/classification/ruleset")
    assert page.status_code == 200 and 'data-testid="ruleset-form"' in page.text
    with unit_of_work(city.sessions) as db:
        default = service.get_ruleset(db, city.system).text
    assert "column_controls:" in page.text and 'data-version="0"' in page.text

    broken = client.post("/classification/ruleset", data={"csrf_token": csrf, "text": "levels: [unclosed"})
    assert broken.status_code == 422
    error = re.search(r'data-testid="error-text">([^<]*)<', broken.text)
    assert error and "分类分级规则集无效" in error.group(1) and "行" in error.group(1)
    assert "levels: [unclosed" in broken.text  # the editor keeps what was typed
    invalid = client.post(
        "/classification/ruleset", data={"csrf_token": csrf, "text": default.replace("level: L4", "level: L9", 1)}
    )
    assert invalid.status_code == 422 and "L9" in invalid.text

    saved = client.post(
        "/classification/ruleset",
        data={"csrf_token": csrf, "text": default, "comment": "首个版本"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/classification/ruleset?done=saved"
    page = client.get(saved.headers["location"])
    assert re.search(r'<tr data-version="1"[^>]*>.*?生效.*?首个版本', page.text, re.S)
    old = client.get("/classification/ruleset", params={"version": 0})
    assert 'data-testid="old-version"' in old.text
    assert client.get("/classification/ruleset", params={"version": 7}).status_code == 404

    client.cookies.set("sj_lang", "en")  # in English, the bureau's messages too
    english = client.post("/classification/ruleset", data={"csrf_token": csrf, "text": "levels: [unclosed"})
    assert "Invalid classification rule set" in english.text and "Classification and grading" in english.text
    logout(client, csrf)

    login(client, "police")  # departments read the rule set, the bureau keeps it
    page = client.get("/classification/ruleset")
    assert page.status_code == 200 and 'data-testid="ruleset-form"' not in page.text and "readonly" in page.text


def test_the_pages_speak_english(client: TestClient, city: World) -> None:
    login(client, "police")
    client.cookies.set("sj_lang", "en")
    page = client.get("/catalog/RK-0001/classification").text
    assert "Confirm all proposed fields" in page and "Resident ID number" in page
    assert "公民身份号码" in page  # the field's own label stays as the department wrote it
    overview = client.get("/classification").text
    data = chart_data(overview)
    assert data["labels"]["resources"] == "Resources"
    assert "Export the grading catalogue" in overview
