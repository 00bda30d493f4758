"""The catalog: departments file their own resources, the bureau sees all, search works in Chinese."""

from __future__ import annotations

import pytest

from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shengjing.store.db import unit_of_work
from tests.conftest import World


def _resource(code: str, name: str, department: str, share: ShareType = ShareType.CONDITIONAL, **extra) -> ResourceIn:  # type: ignore[no-untyped-def]
    return ResourceIn(
        code=code,
        name=name,
        department=department,
        share_type=share,
        open_type=extra.pop("open_type", share),
        update_frequency=UpdateFrequency.MONTHLY,
        fields=[
            FieldIn(name="sfzh", label="公民身份号码"),
            FieldIn(name="jfje", label="缴费金额", data_type="decimal"),
        ],
        **extra,
    )


@pytest.fixture
def city(people: World) -> World:
    world = people
    hrss, police = world.principal("hrss"), world.principal("police")
    with unit_of_work(world.sessions) as db:
        catalog.create_resource(
            db,
            hrss,
            _resource(
                "SB-0001",
                "社会保险缴费记录",
                "HRSS",
                themes=["社会保障"],
                tags=["缴费"],
                open_type=ShareType.UNCONDITIONAL,
            ),
        )
        catalog.create_resource(db, hrss, _resource("SB-0002", "养老保险待遇发放", "HRSS", ShareType.NONE))
        catalog.create_resource(db, police, _resource("GA-0001", "户籍人口基本信息", "POLICE", themes=["人口"]))
    return world


def test_chinese_search_understands_abbreviations_and_needs_every_term(city: World) -> None:
    with city.db() as db:
        found = catalog.search(db, city.system, "社保 缴费")
        assert [r.code for r in found.resources] == ["SB-0001"]
        assert [r.code for r in catalog.search(db, city.system, "户籍").resources] == ["GA-0001"]
        assert catalog.search(db, city.system, "社保 户籍").total == 0
        assert catalog.search(db, city.system, "公民身份号码").total == 3  # field labels are searched too
        assert catalog.search(db, city.system, "100%_").total == 0  # LIKE wildcards are literal
        facets = catalog.search(db, city.system, "").facets
        assert {f.value: f.count for f in facets["department"]} == {"HRSS": 2, "POLICE": 1}
        assert {f.value: f.label for f in facets["department"]} == {
            "HRSS": "沈阳市人力资源和社会保障局",
            "POLICE": "沈阳市公安局",
        }
        assert [r.code for r in catalog.search(db, city.system, "", theme="人口").resources] == ["GA-0001"]


def test_visibility_follows_share_type_and_ownership(city: World) -> None:
    analyst, police, hrss = city.principal("analyst"), city.principal("police"), city.principal("hrss")
    with city.db() as db:
        assert [r.code for r in catalog.search(db, analyst).resources] == ["GA-0001", "SB-0001"]
        with pytest.raises(NotFound):
            catalog.get_resource(db, police, "SB-0002")  # 不予共享: only its department and the bureau
        assert catalog.get_resource(db, hrss, "SB-0002").share_type == ShareType.NONE
        assert catalog.search(db, city.system, "").total == 3
        public = catalog.search(db, analyst, "", public_only=True)
        assert [r.code for r in public.resources] == ["GA-0001", "SB-0001"]


def test_departments_manage_only_their_own(city: World) -> None:
    police, analyst = city.principal("police"), city.principal("analyst")
    with pytest.raises(NotFound), unit_of_work(city.sessions) as db:
        catalog.create_resource(db, police, _resource("GA-0009", "冒名资源", "HRSS"))
    with pytest.raises(PermissionDenied), unit_of_work(city.sessions) as db:
        catalog.update_resource(db, police, "SB-0001", _resource("SB-0001", "改名", "HRSS"))
    with pytest.raises(PermissionDenied), unit_of_work(city.sessions) as db:
        catalog.create_resource(db, analyst, _resource("OP-0001", "运营数据", "OPERATOR"))


def test_codes_and_fields_are_checked(city: World) -> None:
    hrss = city.principal("hrss")
    with pytest.raises(Conflict), unit_of_work(city.sessions) as db:
        catalog.create_resource(db, hrss, _resource("SB-0001", "重复", "HRSS"))
    duplicate = _resource("SB-0003", "重复字段", "HRSS")
    duplicate.fields.append(FieldIn(name="sfzh", label="又一个"))
    with pytest.raises(InvalidInput), unit_of_work(city.sessions) as db:
        catalog.create_resource(db, hrss, duplicate)
    with pytest.raises(InvalidInput), unit_of_work(city.sessions) as db:
        catalog.create_resource(db, city.system, _resource("OP-0002", "非部门", "OPERATOR"))


def test_api_search_and_create(client, city: World) -> None:  # type: ignore[no-untyped-def]
    token = city.token("hrss")
    auth = {"Authorization": f"Bearer {token}"}
    found = client.get("/api/v1/resources", params={"q": "社保 缴费"}, headers=auth).json()
    assert [r["code"] for r in found["resources"]] == ["SB-0001"] and found["total"] == 1
    body = _resource("SB-0004", "失业保险金领取", "HRSS").model_dump(mode="json")
    created = client.post("/api/v1/resources", json=body, headers=auth)
    assert created.status_code == 201 and created.json()["department_name"] == "沈阳市人力资源和社会保障局"
    assert client.get("/api/v1/resources/SB-0004", headers=auth).json()["fields"][0]["label"] == "公民身份号码"
    events = client.get("/api/v1/audit/events", params={"action": "catalog."}, headers=auth).json()["events"]
    assert [e["target_id"] for e in events] == ["SB-0004", "SB-0002", "SB-0001"]  # its own department's events
