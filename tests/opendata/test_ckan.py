"""The CKAN-compatible read API, driven by the real ``ckanapi`` client against a live server, and its envelope."""

from __future__ import annotations

import ckanapi
import pytest

from tests.conftest import World


@pytest.fixture
def remote(city: World, server_url: str):  # type: ignore[no-untyped-def]
    """ckanapi as harvesters use it: POSTs JSON to /api/action/<name>."""
    with ckanapi.RemoteCKAN(server_url, user_agent="shengjing-tests") as client:
        yield client


def test_ckanapi_lists_shows_and_searches_open_resources(remote) -> None:  # type: ignore[no-untyped-def]
    assert remote.action.package_list() == ["ga-0001", "sb-0001"]  # SB-0002 is not open (不予开放)
    package = remote.action.package_show(id="sb-0001")
    assert package["title"] == "社会保险缴费记录" and package["name"] == "sb-0001"
    assert package["organization"]["name"] == "hrss"
    assert package["organization"]["title"] == "沈阳市人力资源和社会保障局"
    assert sorted(t["name"] for t in package["tags"]) == ["社保", "缴费"]
    assert sorted(g["title"] for g in package["groups"]) == ["社会保障", "经济"]
    assert [r["format"] for r in package["resources"]] == ["CSV", "XLSX"]
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras["open_type"] == "unconditional" and extras["update_frequency"] == "monthly"
    assert remote.action.package_show(id="SB-0001")["id"] == package["id"]  # the code works too
    assert remote.action.package_show(id=package["id"])["name"] == "sb-0001"  # and the CKAN id

    found = remote.action.package_search(q="社保")  # the short form finds 社会保险…
    assert found["count"] == 1 and [p["name"] for p in found["results"]] == ["sb-0001"]
    assert remote.action.package_search(q="*:*", rows=1)["count"] == 2
    assert [p["name"] for p in remote.action.package_search(rows=1, start=1)["results"]] == ["sb-0001"]
    assert remote.action.package_search(fq="organization:police")["count"] == 1
    by_tag = remote.action.package_search(fq='tags:"缴费" +organization:hrss', **{"facet.field": '["groups"]'})
    assert by_tag["count"] == 1 and {i["display_name"] for i in by_tag["search_facets"]["groups"]["items"]} == {
        "社会保障",
        "经济",
    }
    assert remote.action.package_search(fq="-organization:hrss")["count"] == 1
    assert remote.action.organization_list() == ["hrss", "police"]
    assert remote.action.status_show()["ckan_version"].startswith("2.")

    with pytest.raises(ckanapi.NotFound):
        remote.action.package_show(id="no-such-resource")
    with pytest.raises(ckanapi.NotFound):
        remote.action.package_show(id="sb-0002")  # exists, but is not open
    with pytest.raises(ckanapi.ValidationError):
        remote.action.package_search(rows="many")
    with pytest.raises(ckanapi.SearchQueryError):
        remote.action.package_search(fq="secret_field:x")

    # The same by GET on /api/3/action, as CKAN's documentation shows it.
    with ckanapi.RemoteCKAN(remote.address, get_only=True) as by_get:
        by_get.base_url = "api/3/action/"
        assert by_get.action.package_list() == ["ga-0001", "sb-0001"]
        assert by_get.action.package_search(q="户籍")["results"][0]["name"] == "ga-0001"
        with pytest.raises(ckanapi.NotFound):
            by_get.action.package_show(id="sb-0002")


def test_the_envelope_is_ckans(client, city: World) -> None:  # type: ignore[no-untyped-def]
    ok = client.get("/api/3/action/package_list")
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"help", "success", "result"} and body["success"] is True
    assert body["help"].endswith("/api/3/action/help_show?name=package_list")

    missing = client.get("/api/3/action/package_show", params={"id": "nope"})
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    assert missing.json()["error"] == {"__type": "Not Found Error", "message": "Not found: nope"}

    invalid = client.post("/api/3/action/package_search", json={"rows": "x"})
    assert invalid.status_code == 409
    assert invalid.json()["error"] == {"__type": "Validation Error", "rows": ["Invalid integer"]}

    unknown = client.get("/api/3/action/package_create")
    assert unknown.status_code == 400 and unknown.json() == "Bad request - Action name not known: package_create"
    assert client.post("/api/3/action/package_search", content=b"{not json").status_code == 400
    assert client.get("/api/3/action/package_show").status_code == 409
