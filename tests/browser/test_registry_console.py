"""The registry's public side in a real browser, without logging in: from the login page to the certificate
lookup, a certificate found by its number and by the QR code printed on its PDF, and its status shown as it is
now (valid, then superseded once a change is issued)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from urllib.parse import urlsplit

import pypdfium2
import pytest
import time_machine
import zxingcpp
from playwright.sync_api import Page, expect

from shengjing.demo import shenyang
from shengjing.ingest import service as ingest
from shengjing.registry import service
from tests.browser.conftest import BrowserLog
from tests.conftest import World
from tests.registry.conftest import START, issued, step
from tests.sandbox.city import PERSON_FIELDS, PERSON_QUALITY, City, persons, write_csv

pytestmark = pytest.mark.browser


def test_the_public_looks_a_certificate_up_by_number_and_by_qr(
    page: Page, live_server: str, world: World, tmp_path: Path, browser_log: BrowserLog
) -> None:
    server_url = live_server
    police = shenyang.DEPARTMENTS[0]
    with time_machine.travel(START, tick=True) as clock:
        people = persons(30)
        world.resource("GA-PERSON", "人口基本信息", police.code, fields=PERSON_FIELDS, quality_rules=PERSON_QUALITY)
        csv = write_csv(tmp_path / "p.csv", people.rows, PERSON_FIELDS)
        ingest.ingest(world.sessions, world.principal("gongan"), "GA-PERSON", str(csv))
        city = City(world, people)
        first = issued(city, clock)
        number = first.certificate_number or ""

    page.goto(f"{server_url}/login")
    page.get_by_test_id("registry-lookup-link").click()
    page.get_by_label("证书编号").fill(f"  {number.lower()} ")
    page.get_by_test_id("lookup-submit").click()
    expect(page).to_have_url(f"{server_url}/registry/certificates/{number}")
    expect(page.get_by_test_id("certificate-status")).to_have_text("有效")
    expect(page.get_by_test_id("holder")).to_contain_text(police.name)
    expect(page.get_by_test_id("holder")).to_contain_text(police.credit_code or "")

    pdf = page.request.get(f"{server_url}/registry/certificates/{number}/certificate.pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    image = pypdfium2.PdfDocument(io.BytesIO(pdf.body()))[0].render(scale=3).to_pil()
    (scanned,) = zxingcpp.read_barcodes(image)
    path = urlsplit(scanned.text).path
    assert path == f"/registry/certificates/{number}"
    page.goto(f"{server_url}{path}")  # the phone that scanned it opens the same page
    expect(page.get_by_test_id("certificate-number")).to_have_text(number)

    with time_machine.travel(dt.datetime(2026, 9, 20, 2, tzinfo=dt.UTC), tick=True) as clock:
        change = f"kind: correction\nprevious_certificate: {number}\nreason: 名称有误\n"
        change += f"holder: {{name: {police.name}（更正）, credit_code: {police.credit_code}}}\n"
        corrected = step(city, "gongan", service.apply, change).number
        step(city, "admin", service.accept, corrected)
        step(city, "admin", service.publicize, corrected)
        successor = step(city, "admin", service.issue, corrected).certificate_number
    page.reload()
    expect(page.get_by_test_id("certificate-status")).to_have_text("已被取代")
    page.get_by_test_id("status-note").get_by_role("link").click()
    expect(page.get_by_test_id("certificate-number")).to_have_text(successor or "")

    browser_log.expect_status(422)
    page.goto(f"{server_url}/registry/lookup?number=SJDJ-2026")
    expect(page.get_by_test_id("notice")).to_contain_text("SJDJ-")
