"""Data elements (数据元): the bureau keeps the library, departments reference it, changes are audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from shengjing.audit.models import AuditEvent
from shengjing.catalog import service as catalog
from shengjing.catalog.models import DataElement, Resource, ResourceField
from shengjing.catalog.schemas import DataElementIn, FieldIn, FieldType, ShareType
from shengjing.errors import Conflict, DataFormatError, InvalidInput, NotFound, PermissionDenied
from shengjing.store.db import unit_of_work
from tests.conftest import World
from tests.test_cli import run

ID = DataElementIn(
    code="GMSFHM", name="公民身份号码", data_type=FieldType.STRING, format="18位", standard="GB 11643-1999"
)


@pytest.fixture
def city(people: World) -> World:
    return people


def _referencing_resource(world: World) -> None:
    """HRSS files a resource whose ID field points to the GMSFHM data element."""
    fields = [FieldIn(name="sfzh", label="身份号码", data_element="GMSFHM")]
    world.resource("SB-1", "社保", "HRSS", by="hrss", open_type=ShareType.NONE, fields=fields)


def _events(world: World, action: str) -> list[AuditEvent]:
    with world.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def test_the_bureau_adds_changes_and_lists_data_elements(city: World) -> None:
    admin = city.principal("admin")
    with unit_of_work(city.sessions) as db:
        created = catalog.create_data_element(db, admin, ID)
        catalog.create_data_element(db, admin, DataElementIn(code="XM", name="姓名", data_type=FieldType.STRING))
    assert created.used_by == 0 and created.standard == "GB 11643-1999"
    with unit_of_work(city.sessions) as db:
        changed = catalog.update_data_element(db, admin, "GMSFHM", ID.model_copy(update={"name_en": "Citizen ID"}))
    assert changed.name_en == "Citizen ID"
    with city.db() as db:
        assert [e.code for e in catalog.list_data_elements(db, admin)] == ["GMSFHM", "XM"]
        assert [e.code for e in catalog.list_data_elements(db, admin, "11643")] == ["GMSFHM"]
        assert [e.code for e in catalog.list_data_elements(db, admin, "姓")] == ["XM"]
        assert catalog.get_data_element(db, admin, "GMSFHM").name_en == "Citizen ID"
    assert [e.target_id for e in _events(city, "catalog.element.add")] == ["GMSFHM", "XM"]
    [change] = _events(city, "catalog.element.change")
    assert change.outcome == "success" and change.details["changed"] == ["name_en"]


def test_a_department_may_reference_but_not_change_the_library(city: World) -> None:
    admin, hrss = city.principal("admin"), city.principal("hrss")
    with unit_of_work(city.sessions) as db:
        catalog.create_data_element(db, admin, ID)
    with pytest.raises(PermissionDenied), unit_of_work(city.sessions) as db:
        catalog.create_data_element(db, hrss, DataElementIn(code="XM", name="姓名", data_type=FieldType.STRING))
    with pytest.raises(PermissionDenied), unit_of_work(city.sessions) as db:
        catalog.update_data_element(db, hrss, "GMSFHM", ID.model_copy(update={"name": "改名"}))
    assert [e.outcome for e in _events(city, "catalog.element.add")] == ["success", "denied"]
    assert [e.outcome for e in _events(city, "catalog.element.change")] == ["denied"]
    with city.db() as db:  # viewing and referencing is open to departments
        assert catalog.get_data_element(db, hrss, "GMSFHM").name == "公民身份号码"
    _referencing_resource(city)
    with city.db() as db:
        assert catalog.get_data_element(db, hrss, "GMSFHM").used_by == 1


def test_bad_changes_are_refused(city: World) -> None:
    admin = city.principal("admin")
    with unit_of_work(city.sessions) as db:
        catalog.create_data_element(db, admin, ID)
    _referencing_resource(city)
    with pytest.raises(Conflict), unit_of_work(city.sessions) as db:
        catalog.create_data_element(db, admin, ID)
    with pytest.raises(InvalidInput, match="code cannot change"), unit_of_work(city.sessions) as db:
        catalog.update_data_element(db, admin, "GMSFHM", ID.model_copy(update={"code": "SFZH"}))
    with pytest.raises(NotFound), unit_of_work(city.sessions) as db:
        catalog.update_data_element(db, admin, "NOPE", ID.model_copy(update={"code": "NOPE"}))
    integer = ID.model_copy(update={"data_type": FieldType.INTEGER})
    with unit_of_work(city.sessions) as db:  # no data yet: the type may still change
        assert catalog.update_data_element(db, admin, "GMSFHM", integer).data_type == FieldType.INTEGER
    with unit_of_work(city.sessions) as db:
        db.scalar(select(Resource).where(Resource.code == "SB-1")).current_version = 1  # as if ingested
    with pytest.raises(Conflict) as refused, unit_of_work(city.sessions) as db:
        catalog.update_data_element(db, admin, "GMSFHM", ID)
    assert "SB-1" in refused.value.message_en and refused.value.details["field"] == "data_type"
    assert [e.outcome for e in _events(city, "catalog.element.change")] == ["failed", "failed", "success", "failed"]
    with pytest.raises(ValidationError):
        DataElementIn(code="bad code!", name="x", data_type=FieldType.STRING)
    with pytest.raises(ValidationError):
        DataElementIn.model_validate({"code": "X1", "name": "", "data_type": "text"})


def test_load_upserts_in_one_transaction(city: World, tmp_path: Path) -> None:
    admin = city.principal("admin")
    library = catalog.standard_data_elements()
    assert len(library) >= 25 and {"GMSFHM", "TYSHXYDM", "XZQHDM", "XBDM"} <= {e.code for e in library}
    with unit_of_work(city.sessions) as db:
        assert catalog.load_data_elements(db, admin, library) == (len(library), 0, 0)
    changed = [library[0].model_copy(update={"definition": "新定义"}), *library[1:]]
    with unit_of_work(city.sessions) as db:
        assert catalog.load_data_elements(db, admin, changed) == (0, 1, len(library) - 1)
    with pytest.raises(InvalidInput, match="Duplicate"), unit_of_work(city.sessions) as db:
        catalog.load_data_elements(db, admin, [library[0], library[0]])
    # A failure half way (the type of an element that data depends on) keeps nothing of the load.
    with unit_of_work(city.sessions) as db:
        db.add(
            Resource(
                code="R1",
                name="r",
                department_id=1,
                share_type="none",
                open_type="none",
                update_frequency="daily",
                current_version=1,
            )
        )
    with unit_of_work(city.sessions) as db:
        resource = db.scalar(select(Resource).where(Resource.code == "R1"))
        resource.fields = [
            ResourceField(
                position=0,
                name="xm",
                label="姓名",
                data_type="string",
                data_element_id=db.scalar(select(DataElement.id).where(DataElement.code == "XM")),
            )
        ]
    xm = next(e for e in library if e.code == "XM")
    broken = [
        DataElementIn(code="NEW1", name="新", data_type=FieldType.STRING),
        xm.model_copy(update={"data_type": FieldType.INTEGER}),
    ]
    with pytest.raises(Conflict), unit_of_work(city.sessions) as db:
        catalog.load_data_elements(db, admin, broken)
    with city.db() as db:
        assert "NEW1" not in {e.code for e in catalog.list_data_elements(db, admin)}
    with pytest.raises(DataFormatError, match=r"not valid YAML \(line \d"):
        catalog.parse_data_elements("elements:\n  - code: [\n", file="x.yaml")
    with pytest.raises(DataFormatError, match="list of data elements"):
        catalog.parse_data_elements("code: X", file="x.yaml")


def test_api(client, city: World) -> None:  # type: ignore[no-untyped-def]
    admin = {"Authorization": f"Bearer {city.token('admin')}"}
    hrss = {"Authorization": f"Bearer {city.token('hrss')}"}
    body = ID.model_dump(mode="json")
    assert client.post("/api/v1/data-elements", json=body, headers=hrss).status_code == 403
    created = client.post("/api/v1/data-elements", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["used_by"] == 0
    assert client.post("/api/v1/data-elements", json=body, headers=admin).status_code == 409
    assert client.get("/api/v1/data-elements", params={"q": "身份"}, headers=hrss).json()[0]["code"] == "GMSFHM"
    assert client.get("/api/v1/data-elements/NOPE", headers=hrss).status_code == 404
    body["unit"] = "个"
    assert client.put("/api/v1/data-elements/GMSFHM", json=body, headers=admin).json()["unit"] == "个"
    bad = client.post("/api/v1/data-elements", json={**body, "code": "X2", "data_type": "text"}, headers=admin)
    assert bad.status_code == 422 and "data_type" in json.dumps(bad.json())


def test_cli(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run(settings, "init").returncode == 0
    listed = run(settings, "element", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []  # init does not load the library
    loaded = run(settings, "element", "load", str(catalog.STANDARD_ELEMENTS_FILE))
    assert loaded.returncode == 0, loaded.stderr
    again = run(settings, "element", "load", str(catalog.STANDARD_ELEMENTS_FILE))
    assert "0 added" in again.stdout and "0 changed" in again.stdout
    shown = json.loads(run(settings, "element", "show", "XBDM").stdout)
    assert shown["code_list"] == "GB/T 2261.1-2003"
    (tmp_path / "e.yaml").write_text("code: XBDM\nname: 性别代码\ndata_type: string\nstandard: GB/T 2261.1-2003\n")
    updated = run(settings, "element", "update", str(tmp_path / "e.yaml"), "--json")
    assert updated.returncode == 0 and json.loads(updated.stdout)["code_list"] is None
    (tmp_path / "bad.yaml").write_text("- code: Z1\n  name: 坏\n  data_type: text\n")
    refused = run(settings, "element", "load", str(tmp_path / "bad.yaml"))
    assert refused.returncode == 2 and "0.data_type" in refused.stderr
    missing = run(settings, "element", "show", "NOPE")
    assert missing.returncode == 5 and "找不到数据元" in missing.stderr and "No data element" in missing.stderr
