"""After an ingest: versions listed, diffed and rolled back; the quality report and the quarantine; rules that
reference another resource; uploads through the API; two ingests racing; no password in the records."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from shengjing.audit.models import AuditEvent
from shengjing.catalog import service as catalog
from shengjing.catalog.models import ResourceVersion
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shengjing.identity.principal import Principal
from shengjing.ingest import service as ingest
from shengjing.store.db import unit_of_work
from tests.conftest import World
from tests.ingest.conftest import GOOD, csv_file

ROW_A = ("张三", GOOD[0], "男", "2024-01-05", "1")
ROW_B = ("李四", GOOD[1], "女", "2024-02-05", "2")
BAD_ID = ("王五", GOOD[2][:-1] + ("0" if GOOD[2][-1] != "0" else "1"), "男", "2024-03-05", "3")


def _events(world: World, action: str) -> list[AuditEvent]:
    with world.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def test_versions_list_diff_and_roll_back(hrss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = hrss
    ingest.ingest(world.sessions, actor, "SB-0001", str(csv_file(tmp_path / "a.csv", [ROW_A, ROW_B])))
    ingest.ingest(world.sessions, actor, "SB-0001", str(csv_file(tmp_path / "b.csv", [ROW_A])), mode="append")
    with world.db() as db:
        listed = ingest.list_snapshots(db, actor, "SB-0001")
        assert [(s.version, s.current, s.snapshot_rows) for s in listed] == [(2, True, 3), (1, False, 2)]
        diff = ingest.diff_snapshots(db, actor, "SB-0001", 1, 2)
        assert (diff.from_rows, diff.to_rows, diff.row_change, diff.same_content) == (2, 3, 1, False)
        assert diff.columns_added == diff.columns_removed == [] and diff.columns_retyped == []
        with pytest.raises(NotFound):
            ingest.diff_snapshots(db, actor, "SB-0001", 1, 9)
    with unit_of_work(world.sessions) as db:
        assert ingest.rollback(db, actor, "SB-0001", 1).current_version == 1
    assert ingest.read_current(world.sessions, actor, "SB-0001").num_rows == 2
    assert _events(world, "catalog.resource.rollback")[-1].details == {"from_version": 2, "to_version": 1}
    # Appending after a rollback builds on the version that is current, not on the newest.
    report = ingest.ingest(world.sessions, actor, "SB-0001", str(csv_file(tmp_path / "c.csv", [ROW_B])), mode="append")
    assert report.version == 3 and ingest.read_current(world.sessions, actor, "SB-0001").num_rows == 3
    police = world.principal("police")
    with unit_of_work(world.sessions) as db, pytest.raises(PermissionDenied):
        ingest.rollback(db, police, "SB-0001", 2)
    assert _events(world, "catalog.resource.rollback")[-1].outcome == "denied"


def test_quality_report_and_quarantine(hrss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = hrss
    ingest.ingest(world.sessions, actor, "SB-0001", str(csv_file(tmp_path / "a.csv", [ROW_A, ROW_B, BAD_ID])))
    with world.db() as db:
        report = ingest.quality_report(db, actor, "SB-0001")
    assert (report.rows_in, report.rows_accepted, report.rows_quarantined) == (3, 2, 1)
    tallies = {r.rule_id: (r.checked, r.failed) for r in report.rules}
    assert tallies == {"required:xm": (3, 0), "id_number:sfzh": (3, 1), "unique:sfzh+jfrq": (3, 0)}
    assert report.field_scores["sfzh"] == pytest.approx(2 / 3) and report.field_scores["xm"] == 1.0
    assert report.score == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert report.timeliness is not None and report.timeliness.on_time  # monthly, ingested just now
    assert [p.version for p in report.history] == [1]
    held = ingest.read_quarantine(world.sessions, actor, "SB-0001").to_pydict()
    assert held["_row"] == [3] and held["_rule"] == ["id_number:sfzh"] and held["_reason_en"] == ["wrong check digit"]
    # Quarantined rows are the department's own data: another department cannot read them.
    with pytest.raises(PermissionDenied):
        ingest.read_quarantine(world.sessions, world.principal("police"), "SB-0001")


def _person_resource(world: World, actor: Principal) -> None:
    with unit_of_work(world.sessions) as db:
        catalog.create_resource(
            db,
            actor,
            ResourceIn(
                code="SB-PERSON",
                name="参保人员",
                department="HRSS",
                share_type=ShareType.CONDITIONAL,
                open_type=ShareType.NONE,
                update_frequency=UpdateFrequency.IRREGULAR,
                fields=[FieldIn(name="sfzh", label="公民身份号码")],
            ),
        )
        rules = catalog.get_resource(db, actor, "SB-0001").model_dump()
        rules["quality_rules"] += "  - {kind: reference, field: sfzh, resource: SB-PERSON, key: sfzh}\n"
        keep = {k: rules[k] for k in ResourceIn.model_fields if k in rules}
        keep["fields"] = [{k: f[k] for k in FieldIn.model_fields} for f in rules["fields"]]
        catalog.update_resource(db, actor, "SB-0001", ResourceIn.model_validate(keep))


def test_a_reference_rule_quarantines_rows_pointing_at_nothing(hrss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = hrss
    _person_resource(world, actor)
    rows = [ROW_A, ROW_B]
    with pytest.raises(InvalidInput, match="holds no data yet"):  # the referenced resource must be ingested first
        ingest.ingest(world.sessions, actor, "SB-0001", str(csv_file(tmp_path / "a.csv", rows)))
    persons = tmp_path / "persons.csv"
    persons.write_text(f"sfzh\n{GOOD[0]}\n", "utf-8")
    ingest.ingest(world.sessions, actor, "SB-PERSON", str(persons))
    report = ingest.ingest(world.sessions, actor, "SB-0001", str(csv_file(tmp_path / "a.csv", rows)))
    assert (report.rows_accepted, report.rows_quarantined) == (1, 1)
    held = ingest.read_quarantine(world.sessions, actor, "SB-0001").to_pydict()
    assert held["_rule"] == ["reference:sfzh"] and held["_reason_zh"] == ["在被引用的数据资源中不存在"]


def test_the_second_of_two_racing_ingests_is_refused(hrss, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, actor = hrss
    with world.db() as db:
        started_from = catalog.ingest_target(db, actor, "SB-0001").current_version  # a run starts …
    ingest.ingest(world.sessions, actor, "SB-0001", str(csv_file(tmp_path / "a.csv", [ROW_A])))  # … another finishes
    with unit_of_work(world.sessions) as db, pytest.raises(Conflict):  # the first may not silently replace it
        catalog.record_version(db, actor, "SB-0001", ResourceVersion(), [], expected_current=started_from)


def test_upload_through_the_api(hrss, tmp_path: Path, client) -> None:  # type: ignore[no-untyped-def]
    world, _ = hrss
    token = world.token("hrss")
    body = csv_file(tmp_path / "a.csv", [ROW_A, BAD_ID]).read_bytes()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    answer = client.post("/api/v1/resources/SB-0001/ingest?filename=缴费.csv", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows_quarantined"] == 1 and answer.json()["source"] == "缴费.csv"
    assert client.get("/api/v1/resources/SB-0001/versions", headers=headers).json()[0]["version"] == 1
    quality = client.get("/api/v1/resources/SB-0001/quality", headers=headers).json()
    assert quality["rows_quarantined"] == 1
    held = client.get("/api/v1/resources/SB-0001/quarantine", headers=headers)
    assert held.headers["content-type"].startswith("text/csv") and "wrong check digit" in held.text
    assert not list((world.settings.var_dir / "uploads").iterdir())  # spooled uploads never stay behind


def test_a_database_password_is_never_recorded(hrss) -> None:  # type: ignore[no-untyped-def]
    world, actor = hrss
    with pytest.raises(Exception):  # noqa: B017 - nothing listens on port 1; the error: test_bad_input.py
        ingest.ingest(world.sessions, actor, "SB-0001", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x", table="t")
    event = _events(world, "catalog.resource.ingest")[-1]
    assert event.outcome == "failed" and "s3cret" not in str(event.details)
