"""Classification and grading as the departments and the data bureau use it: a new snapshot is classified on its
own, the owning department confirms or overrides, the bureau audits and reopens, re-scans keep decisions and
raise alerts, rule sets are versioned data, and every step is audited."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from faker import Faker
from openpyxl import load_workbook
from sqlalchemy import select
from stdnum.cn import ric

from shengjing.audit.models import AuditEvent
from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import FieldIn
from shengjing.classify import grading, service
from shengjing.classify.classifier import Mode
from shengjing.classify.detectors import InfoType
from shengjing.classify.schemas import ReviewIn, ReviewStatus
from shengjing.errors import InvalidInput, NotFound, PermissionDenied
from shengjing.identity.principal import OrgType
from shengjing.ingest import service as ingest
from shengjing.store.db import unit_of_work
from tests.conftest import World
from tests.test_cli import run

FIELDS = [
    FieldIn(name="gmsfhm", label="公民身份号码", data_element="GMSFHM"),
    FieldIn(name="xm", label="姓名"),
    FieldIn(name="sjhm", label="手机号码"),
    FieldIn(name="csrq", label="出生日期", data_type="date"),
    FieldIn(name="c7", label="c7"),
    FieldIn(name="phone", label="phone"),
    FieldIn(name="bz", label="备注"),
]


def _id(rng: random.Random) -> tuple[str, str]:
    """A valid 18-digit ID number of a Shenyang resident and the birth date inside it."""
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = f"2101{rng.choice(['02', '03', '04', '05', '06'])}{birth}{rng.randint(0, 999):03d}"
    return body + ric.calc_check_digit(body + "0"), f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"


def population_csv(path: Path, rows: int = 300, *, seed: int = 7, mobiles_are_emails: bool = False) -> Path:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    lines = ["gmsfhm,xm,sjhm,csrq,c7,phone,bz"]
    for _ in range(rows):
        id_number, birth = _id(rng)
        other, _ = _id(rng)
        contact = fake.email() if mobiles_are_emails else fake.phone_number()
        order = f"DD{rng.randint(10**15, 10**16 - 1)}"  # a column named phone full of order numbers
        lines.append(f"{id_number},{fake.name()},{contact},{birth},{other},{order},{fake.word()}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def police(world: World, tmp_path: Path) -> World:
    world.org("BUREAU")
    world.org("POLICE", OrgType.DEPARTMENT, "沈阳市公安局")
    world.org("HRSS", OrgType.DEPARTMENT, "沈阳市人力资源和社会保障局")
    world.user("admin", "BUREAU", "platform_admin")
    world.user("auditor", "BUREAU", "auditor")
    world.user("police", "POLICE", "department_admin")
    world.user("hrss", "HRSS", "department_admin")
    with unit_of_work(world.sessions) as db:
        catalog.load_data_elements(db, world.system, catalog.standard_data_elements())
    world.resource("RK-0001", "户籍人口基本信息", "POLICE", fields=FIELDS)
    ingest.ingest(world.sessions, world.principal("police"), "RK-0001", str(population_csv(tmp_path / "rk.csv")))
    return world


def _grading(world: World, who: str, code: str = "RK-0001"):  # type: ignore[no-untyped-def]
    with unit_of_work(world.sessions) as db:
        return service.get_grading(db, world.principal(who), code)


def _review(world: World, who: str, decision: ReviewIn, code: str = "RK-0001"):  # type: ignore[no-untyped-def]
    with unit_of_work(world.sessions) as db:
        return service.review_field(db, world.principal(who), code, decision)


def test_a_new_snapshot_is_classified_and_graded_as_proposals(police: World) -> None:
    out = _grading(police, "police")
    types = {f.field: f.detected_type for f in out.fields}
    assert types == {
        "gmsfhm": InfoType.ID_NUMBER,
        "xm": InfoType.PERSON_NAME,
        "sjhm": InfoType.MOBILE,
        "csrq": InfoType.BIRTH_DATE,
        "c7": InfoType.ID_NUMBER,  # an opaque name full of valid ID numbers
        "phone": InfoType.NONE,  # a phone-named column full of order numbers
        "bz": InfoType.NONE,
    }
    by_field = {f.field: f for f in out.fields}
    assert by_field["c7"].decided_by == "values"
    assert any(e.get("contradicts_name") for e in by_field["phone"].evidence)
    assert by_field["gmsfhm"].level == "L4" and by_field["gmsfhm"].sensitive == "特定身份"
    assert by_field["bz"].level == "L1"
    assert out.level == "L4" and out.level_rule.startswith("field:")
    assert all(f.status is ReviewStatus.PROPOSED for f in out.fields)
    assert {f.column_control for f in out.fields} == {"hidden"}  # deny until the department confirms
    assert out.classified_version == out.current_version == 1
    assert out.runs[0].mode is Mode.SAMPLE


def test_the_owning_department_confirms_and_overrides_with_a_reason(police: World) -> None:
    _review(police, "police", ReviewIn(field="gmsfhm", action="confirm"))
    with pytest.raises(InvalidInput):
        _review(police, "police", ReviewIn(field="bz", action="override", level="L2"))
    out = _review(police, "police", ReviewIn(field="bz", action="override", level="L2", reason="含住址片段"))
    by_field = {f.field: f for f in out.fields}
    assert by_field["gmsfhm"].status is ReviewStatus.CONFIRMED and by_field["gmsfhm"].column_control == "hidden"
    assert by_field["bz"].status is ReviewStatus.OVERRIDDEN and by_field["bz"].level == "L2"
    assert by_field["bz"].column_control == "plain"
    _review(police, "police", ReviewIn(field="xm", action="confirm"))
    with unit_of_work(police.sessions) as db:
        controls = service.column_controls(db, police.principal("police"), "RK-0001")
    assert controls["xm"] == "aggregate" and controls["sjhm"] == "hidden"  # L3 confirmed; not yet reviewed
    for other in ("hrss", "admin"):  # another department, and the bureau: only the owner confirms
        with pytest.raises((PermissionDenied, NotFound)):
            _review(police, other, ReviewIn(field="xm", action="confirm"))
    with police.db() as db:
        outcomes = db.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "classify.grading.review")).all()
    assert sorted(outcomes) == ["denied", "denied", "failed", "success", "success", "success"]


def test_the_bureau_audits_only_reviewed_gradings_and_reopens_them(police: World) -> None:
    with unit_of_work(police.sessions) as db, pytest.raises(InvalidInput):
        service.audit(db, police.principal("admin"), "RK-0001")
    for f in _grading(police, "police").fields:
        _review(police, "police", ReviewIn(field=f.field, action="confirm"))
    with unit_of_work(police.sessions) as db, pytest.raises(PermissionDenied):
        service.audit(db, police.principal("police"), "RK-0001")
    with unit_of_work(police.sessions) as db:
        out = service.audit(db, police.principal("auditor"), "RK-0001", "抽查无误")
    assert out.audited_by == "auditor"
    with unit_of_work(police.sessions) as db:
        out = service.reopen(db, police.principal("admin"), "RK-0001", "xm", "姓名应按敏感处理")
    assert {f.field: f.status for f in out.fields}["xm"] is ReviewStatus.PROPOSED
    assert out.audited_by is None
    with unit_of_work(police.sessions) as db:
        events = service.history(db, police.principal("auditor"), "RK-0001")
    assert [e.action for e in events][:2] == ["reopened", "audited"]


def test_a_rescan_keeps_decisions_and_alerts_on_a_changed_type(police: World, tmp_path: Path) -> None:
    _review(police, "police", ReviewIn(field="sjhm", action="confirm"))
    changed = population_csv(tmp_path / "rk2.csv", seed=8, mobiles_are_emails=True)
    ingest.ingest(police.sessions, police.principal("police"), "RK-0001", str(changed))
    out = _grading(police, "police")
    sjhm = {f.field: f for f in out.fields}["sjhm"]
    assert sjhm.detected_type is InfoType.EMAIL
    assert sjhm.status is ReviewStatus.CONFIRMED and sjhm.info_type is InfoType.MOBILE  # the decision stays
    [alert] = [a for a in out.alerts if a.field_name == "sjhm"]
    assert (alert.old_type, alert.new_type, alert.status_kept) == (InfoType.MOBILE, InfoType.EMAIL, "confirmed")
    with unit_of_work(police.sessions) as db:
        assert service.acknowledge_alert(db, police.principal("police"), alert.id).acknowledged_by == "police"
    with unit_of_work(police.sessions) as db:
        assert service.list_alerts(db, police.principal("admin")) == []


def test_scale_and_minors_rules_lift_the_resource(police: World, tmp_path: Path) -> None:
    text = grading.default_ruleset_text().replace("people_at_least: 1000000", "people_at_least: 250")
    with unit_of_work(police.sessions) as db:
        assert service.save_ruleset(db, police.principal("admin"), text, "试行").version == 1
    out = service.classify_resource(police.sessions, police.principal("police"), "RK-0001", mode=Mode.FULL)
    assert out.level == "important" and out.level_rule == "resource:scale-personal-information"
    assert out.people is not None and 250 <= out.people <= 330  # distinct ID numbers, approximately 300
    assert out.runs[0].ruleset_version == 1 and out.runs[0].rows_scanned == 300

    police.resource("XJ-0001", "中小学学籍信息", "POLICE", fields=FIELDS)
    ingest.ingest(police.sessions, police.principal("police"), "XJ-0001", str(population_csv(tmp_path / "x.csv", 50)))
    minors = _grading(police, "police", "XJ-0001")
    assert "minors" in minors.rules_applied
    assert {f.field: f.level for f in minors.fields}["xm"] == "L4"  # personal fields lifted (PIPL art. 28)
    assert {f.field: f.proposed_rule for f in minors.fields}["xm"] == "resource:minors"


def test_rule_sets_are_checked_and_versioned(police: World) -> None:
    admin = police.principal("admin")
    with unit_of_work(police.sessions) as db, pytest.raises(InvalidInput) as bad_yaml:
        service.save_ruleset(db, admin, "name: x\nlevels: [\n")
    assert bad_yaml.value.details["line"] is not None
    broken = grading.default_ruleset_text().replace(
        "id_number: {category: 个人信息/个人身份信息, level: L4",
        "id_number: {category: 个人信息/个人身份信息, level: L9",
    )
    with unit_of_work(police.sessions) as db, pytest.raises(InvalidInput) as unknown:
        service.save_ruleset(db, admin, broken)
    assert "types.id_number" in unknown.value.message_en and "L9" in unknown.value.message_en
    with unit_of_work(police.sessions) as db, pytest.raises(PermissionDenied):
        service.save_ruleset(db, police.principal("police"), grading.default_ruleset_text())
    with unit_of_work(police.sessions) as db:
        assert service.get_ruleset(db, admin).version == 0  # nothing saved: the built-in default


def test_departments_see_only_their_own_gradings(police: World) -> None:
    with pytest.raises(NotFound):
        _grading(police, "hrss")
    hrss, admin = police.principal("hrss"), police.principal("admin")
    with unit_of_work(police.sessions) as db:
        assert service.overview(db, hrss).levels[3].resources == 0
        overview = service.overview(db, admin)
    assert {lv.level: lv.resources for lv in overview.levels}["L4"] == 1
    assert overview.departments[0].department == "POLICE" and overview.departments[0].fields_proposed == 7


def test_classify_and_export_from_the_command_line(police: World, tmp_path: Path) -> None:
    done = run(police.settings, "classify", "RK-0001", "--full", "--json")
    assert done.returncode == 0, done.stderr
    assert '"mode": "full"' in done.stdout
    target = tmp_path / "清单.xlsx"
    done = run(police.settings, "grading", "export", str(target))
    assert done.returncode == 0, done.stderr
    book = load_workbook(target, read_only=True)
    assert book.sheetnames == ["数据项分类分级清单", "数据资源分级清单"]
    rows = list(book["数据项分类分级清单"].iter_rows(values_only=True))
    assert rows[0][:4] == ("数据提供单位", "数据资源代码", "数据资源名称", "数据项") and len(rows) == 1 + len(FIELDS)
    missing = run(police.settings, "classify", "NOPE")
    assert missing.returncode != 0 and "NOPE" in missing.stderr
