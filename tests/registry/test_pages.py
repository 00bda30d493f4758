"""The registry's console: an applicant drafts and submits, the authority accepts, publicizes and issues through
the forms; the public looks the certificate up by number, without signing in, and downloads its PDF and bundle."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.registry.conftest import application
from tests.sandbox.city import City

pytestmark = pytest.mark.usefixtures("clock")


def test_apply_review_issue_and_look_up(client: TestClient, city: City, clock: time_machine.Traveller) -> None:
    csrf = login(client, "gongan")
    page = client.get("/registry")
    assert page.status_code == 200 and 'data-testid="new-registration"' in page.text
    drafted = client.post("/registry/draft", data={"csrf_token": csrf, "code": "GA-PERSON", "object_kind": "resource"})
    assert drafted.status_code == 200 and "GA-PERSON" in drafted.text
    bad = client.post("/registry", data={"csrf_token": csrf, "document": "kind: initial\n"})
    assert bad.status_code == 422 and 'data-testid="form-error"' in bad.text
    applied = client.post("/registry", data={"csrf_token": csrf, "document": application(city)}, follow_redirects=False)
    assert applied.status_code == 303, applied.text
    number = re.search(r"/registry/([0-9X]{20})", applied.headers["location"]).group(1)  # type: ignore[union-attr]
    assert 'data-status="applied"' in client.get(f"/registry/{number}").text
    assert client.post(f"/registry/{number}/steps/accept", data={"csrf_token": csrf}).status_code == 403

    client.post("/logout", data={"csrf_token": csrf})
    csrf = login(client, "admin")
    assert number in client.get("/registry").text
    for step in ("accept", "publicize"):
        done = client.post(f"/registry/{number}/steps/{step}", data={"csrf_token": csrf}, follow_redirects=False)
        assert done.status_code == 303, done.text
    early = client.post(f"/registry/{number}/steps/issue", data={"csrf_token": csrf})
    assert early.status_code == 409 and "公示期" in early.text
    clock.move_to(dt.datetime(2026, 9, 16, 2, tzinfo=dt.UTC))
    csrf = login(client, "admin")  # two weeks on, the session has long ended
    issued = client.post(f"/registry/{number}/steps/issue", data={"csrf_token": csrf}, follow_redirects=False)
    assert issued.status_code == 303
    detail = client.get(f"/registry/{number}").text
    certificate = re.search(r"SJDJ-[0-9-]+[0-9]", detail).group(0)  # type: ignore[union-attr]
    client.post("/logout", data={"csrf_token": csrf})

    found = client.get("/registry/lookup", params={"number": certificate.lower()}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/registry/certificates/{certificate}"
    public = client.get(f"/registry/certificates/{certificate}")
    assert public.status_code == 200 and 'data-status="valid"' in public.text and "沈阳市公安局" in public.text
    pdf = client.get(f"/registry/certificates/{certificate}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    bundle = client.get(f"/registry/certificates/{certificate}/bundle.json")
    assert bundle.json()["certificate"]["number"] == certificate
    wrong = client.get("/registry/lookup", params={"number": "SJDJ-2026"})
    assert wrong.status_code == 422 and "SJDJ-" in wrong.text
    missing = client.get("/registry/certificates/SJDJ-2026-09-210100-01-000099")
    assert missing.status_code == 404


def test_an_objection_and_its_resolution_through_the_forms(client: TestClient, city: City) -> None:
    from shengjing.registry import service
    from tests.registry.conftest import step

    number = step(city, "gongan", service.apply, application(city)).number
    step(city, "admin", service.accept, number)
    step(city, "admin", service.publicize, number)
    assert number in client.get("/registry/publicity").text  # public
    csrf = login(client, "renshe")
    objected = client.post(
        f"/registry/{number}/objections", data={"csrf_token": csrf, "reason": "权属争议"}, follow_redirects=False
    )
    assert objected.status_code == 303
    client.post("/logout", data={"csrf_token": csrf})
    csrf = login(client, "admin")
    page = client.get(f"/registry/{number}").text
    objection = re.search(r'data-objection="([0-9]+)"', page).group(1)  # type: ignore[union-attr]
    resolved = client.post(
        f"/registry/{number}/objections/{objection}/resolve",
        data={"csrf_token": csrf, "decision": "uphold", "note": "权属确有争议"},
        follow_redirects=False,
    )
    assert resolved.status_code == 303
    assert 'data-status="refused"' in client.get(f"/registry/{number}").text


def test_the_auditor_verifies_the_register_in_the_console(client: TestClient, city: City) -> None:
    city.authorize()
    login(client, "auditor")
    listing = client.get("/registry").text
    assert 'data-testid="verify-link"' in listing and 'data-resource="GA-PERSON"' in listing  # not yet registered
    page = client.get("/registry/verify")
    assert page.status_code == 200 and 'data-ok="true"' in page.text
