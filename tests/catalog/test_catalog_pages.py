"""The catalog console through the app's real routes (TestClient): search with facets, the resource form with its
rule editors, permissions by department, the data-element library, upload and the quality report's exports."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from stdnum.cn import ric

from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import ShareType
from tests.conftest import World, login

QUALITY = "rules:\n  - {kind: required, field: xm}\n  - {kind: id_number, field: sfzh}\n"


@pytest.fixture
def city(people: World) -> World:
    people.resource("SB-0001", "社会保险缴费记录", "HRSS", by="hrss", themes=["社会保障"])
    people.resource("SB-0002", "养老保险待遇发放", "HRSS", by="hrss", share_type=ShareType.NONE, themes=["社会保障"])
    people.resource(
        "GA-0001", "户籍人口基本信息", "POLICE", by="police", share_type=ShareType.UNCONDITIONAL, themes=["人口"]
    )
    return people


def codes_in(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)"', html)


def test_search_in_chinese_with_facets_and_htmx_partials(client: TestClient, city: World) -> None:
    login(client, "analyst")
    page = client.get("/catalog", params={"q": "社保 缴费"})
    assert page.status_code == 200 and "<html" in page.text
    assert codes_in(page.text) == ["SB-0001"]
    everything = client.get("/catalog")
    assert codes_in(everything.text) == ["GA-0001", "SB-0001"]  # SB-0002 is not shared: the analyst never sees it
    assert re.search(r'data-value="HRSS".*?<span class="badge[^"]*">1</span>', everything.text, re.S)
    # htmx asks for the results alone, and a facet narrows them.
    # htmx sends every filter of the form, the unset ones empty.
    blank = {"q": "", "department": "", "theme": "", "share_type": ""}
    partial = client.get("/catalog", params=blank | {"theme": "人口"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.text and codes_in(partial.text) == ["GA-0001"]
    assert codes_in(client.get("/catalog", params={"share_type": "conditional"}).text) == ["SB-0001"]


def resource_form(csrf: str, code: str, **overrides: object) -> dict[str, object]:
    form: dict[str, object] = {
        "csrf_token": csrf,
        "code": code,
        "name": "职工参保登记",
        "summary": "企业职工社会保险参保登记信息",
        "department": "HRSS",
        "share_type": "conditional",
        "open_type": "none",
        "update_frequency": "monthly",
        "themes": "社会保障，就业",
        "tags": "参保、登记",
        "formats": "CSV",
        "contact": "024-12345678",
        # Two fields and a blank row, as the form posts them.
        "field_name": ["xm", "sfzh", ""],
        "field_label": ["姓名", "公民身份号码", ""],
        "field_type": ["string", "string", "string"],
        "field_element": ["", "", ""],
        "field_unit": ["", "", ""],
        "standardization": "version: 1\nfields:\n  sfzh: [trim, upper]\n",
        "quality_rules": QUALITY,
    }
    return form | overrides


def test_a_department_files_a_resource_through_the_form_and_rule_errors_show_beside_their_editor(
    client: TestClient, city: World
) -> None:
    csrf = login(client, "hrss")
    form = client.get("/catalog/new")
    assert form.status_code == 200
    assert '<option value="HRSS" selected>沈阳市人力资源和社会保障局</option>' in form.text  # its own, by name

    bad = client.post(
        "/catalog/new", data=resource_form(csrf, "SB-0100", quality_rules="rules:\n  - {kind: nonsense}\n")
    )
    assert bad.status_code == 422
    editor_error = re.search(r'data-testid="error-quality_rules">([^<]*)<', bad.text)
    assert editor_error and "质量规则无效" in editor_error.group(1)
    assert 'data-testid="error-standardization"' not in bad.text
    assert "rules:\n  - {kind: nonsense}" in bad.text and 'value="公民身份号码"' in bad.text  # the form keeps its input
    bad_yaml = client.post("/catalog/new", data=resource_form(csrf, "SB-0100", standardization="fields: [unclosed"))
    assert bad_yaml.status_code == 422 and 'data-testid="error-standardization"' in bad_yaml.text
    # A path is not a rule set: the server must never read rules from its own files.
    as_path = client.post("/catalog/new", data=resource_form(csrf, "SB-0100", standardization="/etc/rules.yaml"))
    assert as_path.status_code == 422 and 'data-testid="error-standardization"' in as_path.text

    no_csrf = client.post("/catalog/new", data=resource_form("forged", "SB-0100"), follow_redirects=False)
    assert no_csrf.status_code == 403
    with city.db() as db:
        assert catalog.search(db, city.system, "职工参保").total == 0

    saved = client.post("/catalog/new", data=resource_form(csrf, "SB-0100"), follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/catalog/SB-0100?done=saved"
    with city.db() as db:
        resource = catalog.get_resource(db, city.system, "SB-0100")
    assert [(f.name, f.label) for f in resource.fields] == [("xm", "姓名"), ("sfzh", "公民身份号码")]
    assert resource.themes == ["社会保障", "就业"] and resource.tags == ["参保", "登记"]
    assert resource.quality_rules == QUALITY

    detail = client.get("/catalog/SB-0100")
    assert 'data-testid="edit-link"' in detail.text and 'data-testid="upload-link"' in detail.text
    edit = client.get("/catalog/SB-0100/edit")
    assert edit.status_code == 200 and "公民身份号码" in edit.text
    renamed = client.post(
        "/catalog/SB-0100/edit", data=resource_form(csrf, "SB-0100", name="职工参保登记信息"), follow_redirects=False
    )
    assert renamed.status_code == 303
    with city.db() as db:
        assert catalog.get_resource(db, city.system, "SB-0100").name == "职工参保登记信息"


def test_a_department_cannot_edit_or_upload_to_another_departments_resource(client: TestClient, city: World) -> None:
    csrf = login(client, "police")
    detail = client.get("/catalog/SB-0001")  # shared with conditions: visible, not manageable
    assert detail.status_code == 200
    assert 'data-testid="edit-link"' not in detail.text and 'data-testid="upload-link"' not in detail.text
    assert client.get("/catalog/SB-0001/edit").status_code == 403
    assert client.get("/catalog/SB-0001/upload").status_code == 403
    assert client.post("/catalog/SB-0001/edit", data=resource_form(csrf, "SB-0001")).status_code == 403
    upload = client.post(
        "/catalog/SB-0001/upload", data={"csrf_token": csrf}, files={"file": ("a.csv", b"xm,sfzh\n", "text/csv")}
    )
    assert upload.status_code == 403
    assert client.get("/catalog/SB-0002").status_code == 404  # not shared at all: not even its existence
    assert client.get("/catalog/SB-0002/edit").status_code == 404
    # The bureau manages every department's resources.
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "admin")
    assert 'data-testid="edit-link"' in client.get("/catalog/SB-0002").text
    assert client.get("/catalog/SB-0002/edit").status_code == 200


def test_the_bureau_keeps_the_data_element_library(client: TestClient, city: World) -> None:
    csrf = login(client, "admin")
    element = {
        "csrf_token": csrf,
        "code": "DE00001",
        "name": "公民身份号码",
        "name_en": "Citizen ID number",
        "data_type": "string",
        "format": "c18",
        "standard": "GB 11643",
        "definition": "",
    }
    saved = client.post("/catalog/elements/new", data=element, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/catalog/elements?done=DE00001"
    taken = client.post("/catalog/elements/new", data=element)
    assert taken.status_code == 422 and "已被使用" in taken.text
    changed = client.post("/catalog/elements/DE00001/edit", data=element | {"unit": "无"}, follow_redirects=False)
    assert changed.status_code == 303
    listing = client.get("/catalog/elements", params={"q": "gb 11643"}, headers={"HX-Request": "true"})
    assert codes_in(listing.text) == ["DE00001"] and "<html" not in listing.text
    assert codes_in(client.get("/catalog/elements", params={"q": "邮政编码"}).text) == []
    client.post("/logout", data={"csrf_token": csrf})

    csrf = login(client, "hrss")  # departments use the standards, the bureau keeps them
    assert codes_in(client.get("/catalog/elements").text) == ["DE00001"]
    assert client.get("/catalog/elements/new").status_code == 403
    assert client.post("/catalog/elements/DE00001/edit", data=element | {"csrf_token": csrf}).status_code == 403
    # A field points to the element by its code.
    form = resource_form(csrf, "SB-0200", field_element=["", "DE00001", ""])
    assert client.post("/catalog/new", data=form, follow_redirects=False).status_code == 303
    with city.db() as db:
        assert [f.data_element for f in catalog.get_resource(db, city.system, "SB-0200").fields] == [None, "DE00001"]


def gbk_csv(rows: list[tuple[str, str]]) -> bytes:
    return ("xm,sfzh\n" + "".join(f"{name},{number}\n" for name, number in rows)).encode("gbk")


def valid_id(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")  # stdnum reads the first 17 of 18 characters


GOOD_IDS = [valid_id("21010219800101123"), valid_id("21011219750615002")]
BAD_ID = GOOD_IDS[1][:-1] + ("0" if GOOD_IDS[1][-1] != "0" else "1")  # wrong check digit


def upload(client: TestClient, csrf: str, code: str, body: bytes, name: str = "社保.csv", **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/catalog/{code}/upload", data={"csrf_token": csrf, **form}, files={"file": (name, body, "text/csv")}
    )


def test_upload_reports_the_ingest_and_the_quality_report_exports_what_it_shows(
    client: TestClient, city: World
) -> None:
    csrf = login(client, "hrss")
    form = resource_form(csrf, "SB-0300", standardization="")
    assert client.post("/catalog/new", data=form, follow_redirects=False).status_code == 303
    assert client.get("/catalog/SB-0300/upload").status_code == 200

    done = upload(client, csrf, "SB-0300", gbk_csv([("张三", GOOD_IDS[0]), ("李四", BAD_ID), ("王五", GOOD_IDS[1])]))
    assert done.status_code == 200, done.text
    shown = dict(re.findall(r'data-testid="(rows-in|rows-accepted|rows-quarantined|encoding)">([^<]*)<', done.text))
    assert shown == {"rows-in": "3", "rows-accepted": "2", "rows-quarantined": "1", "encoding": "gb18030"}

    # A broken file: the error names the file and the line, in the viewer's language; nothing new is recorded.
    broken = upload(client, csrf, "SB-0300", "xm,sfzh\n张三,1,多余\n".encode("gbk"), mode="append")
    assert broken.status_code == 422 and 'data-testid="upload-error"' in broken.text
    assert "社保.csv" in broken.text and "第 2 行" in broken.text and "/uploads/" not in broken.text
    with city.db() as db:
        assert [v.version for v in catalog.get_resource(db, city.system, "SB-0300").versions] == [1]

    report = client.get("/catalog/SB-0300/quality")
    assert report.status_code == 200 and 'id="quality-data"' in report.text
    assert re.search(r'data-rule="id_number:sfzh">.*?<td>3</td><td>1</td>', report.text, re.S)
    assert 'data-testid="quarantine-table"' in report.text and "李四" in report.text

    exported = client.get("/catalog/SB-0300/quality.csv")
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert ["id_number:sfzh", "id_number", "sfzh", "True", "3", "1", str(2 / 3)] in lines
    assert any(row[:2] == ["2", "李四"] or "李四" in row for row in lines)  # the quarantined row, as sent
    workbook = load_workbook(io.BytesIO(client.get("/catalog/SB-0300/quality.xlsx").content), read_only=True)
    assert workbook.sheetnames == ["质量规则", "数据项得分", "隔离行"]
    assert sum(1 for _ in workbook["隔离行"].iter_rows()) == 2  # header and the one bad row

    # Another department may read the report of a shared resource, but not the quarantined rows themselves.
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "police")
    assert client.get("/catalog/SB-0300/quality").status_code == 200
    assert "李四" not in client.get("/catalog/SB-0300/quality").text
    assert "李四" not in client.get("/catalog/SB-0300/quality.csv").content.decode("utf-8-sig")
