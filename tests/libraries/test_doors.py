"""The libraries' doors: the console pages (the ER diagram's data, builds, comparison, conflicts, a golden record)
and the API, each with its permission; the build button runs a build."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from shengjing.identity import service as identity
from shengjing.store.db import unit_of_work
from tests.conftest import PASSWORD, csrf_of, login
from tests.libraries.conftest import LibraryCity

POPULATION = "SY-LIB-POPULATION"


def _passwords(city: LibraryCity, *usernames: str) -> None:
    with unit_of_work(city.world.sessions) as db:
        for username in usernames:
            identity.set_password(db, city.world.system, username, PASSWORD)


def test_the_console_shows_models_libraries_conflicts_and_lineage(city: LibraryCity, client: TestClient) -> None:
    _passwords(city, "admin", "gongan", "analyst")
    login(client, "admin")
    index = client.get("/libraries")
    assert index.status_code == 200 and POPULATION in index.text and "SY-THEME-HOUSING-SECURITY" in index.text
    model = client.get("/libraries/models/population")
    diagram = json.loads(re.search(r'id="model-diagram">(.*?)</script>', model.text, re.S).group(1))  # type: ignore[union-attr]
    assert {n["id"] for n in diagram["nodes"]} == {"population.person", "legal_person.enterprise"}
    assert diagram["links"][0]["name"] == "法定代表人"
    page = client.get(f"/libraries/{POPULATION}?compare_from=1&compare_to=1")
    assert page.status_code == 200 and 'data-testid="conflict-table"' in page.text
    assert re.search(r'data-testid="changed">0<', page.text)
    key = re.search(rf"/libraries/{POPULATION}/records/([0-9a-f]{{32}})", page.text).group(1)  # type: ignore[union-attr]
    record = client.get(f"/libraries/{POPULATION}/records/{key}")
    assert record.status_code == 200 and 'data-testid="lineage-table"' in record.text
    built = client.post(f"/libraries/{POPULATION}/build", data={"csrf_token": csrf_of(client), "full": "true"})
    assert built.status_code == 200 and "已完成构建" in built.text  # followed the redirect to the library's page
    assert re.search(r'data-testid="current-version">2<', built.text)
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    login(client, "gongan")  # a department: sees the library and its own conflicts, not the records, cannot build
    assert client.get(f"/libraries/{POPULATION}").status_code == 200
    assert client.get(f"/libraries/{POPULATION}/records/{key}").status_code == 403
    assert client.post(f"/libraries/{POPULATION}/build", data={"csrf_token": csrf_of(client)}).status_code == 403


def test_the_api_files_declares_builds_and_reads(city: LibraryCity, client: TestClient) -> None:
    admin = {"Authorization": f"Bearer {city.world.token('admin')}"}
    analyst = {"Authorization": f"Bearer {city.world.token('analyst')}"}
    models = client.get("/api/v1/models", headers=admin).json()
    assert {m["code"] for m in models} >= {"population", "legal_person", "housing_security"}
    model = client.get("/api/v1/models/population", headers=admin).json()
    revised = model["declaration"].replace("name: 人口数据模型", "name: 人口数据模型（二）", 1)
    filed = client.post("/api/v1/models", json={"declaration": revised}, headers=admin)
    assert filed.status_code == 201 and filed.json()["version"] == model["version"] + 1
    assert client.post("/api/v1/models", json={"declaration": revised}, headers=analyst).status_code == 403
    library = client.get(f"/api/v1/libraries/{POPULATION}", headers=admin).json()
    assert library["current_version"] == 1 and library["builds"][0]["status"] == "succeeded"
    built = client.post(f"/api/v1/libraries/{POPULATION}/builds", json={"full": False}, headers=admin)
    assert built.status_code == 201 and built.json()["mode"] == "refresh" and built.json()["stats"]["kept"] >= 0
    comparison = client.get(f"/api/v1/libraries/{POPULATION}/compare?from_version=1&to_version=2", headers=admin)
    assert comparison.json()["changed"] == 0 and comparison.json()["added"] == 0  # nothing changed in the sources
    conflicts = client.get(f"/api/v1/libraries/{POPULATION}/conflicts?limit=5", headers=admin).json()
    assert conflicts["total"] > 0 and len(conflicts["items"]) == 5
    bad = client.post("/api/v1/libraries", json={"declaration": "code: X\n name: [unclosed"}, headers=admin)
    assert bad.status_code == 422 and "line 2" in bad.json()["error"]["message_en"]
    assert client.post(f"/api/v1/libraries/{POPULATION}/builds", json={}, headers=analyst).status_code == 403
