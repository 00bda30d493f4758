"""The registration workflow through the service: apply, accept, publicity on working days, objections that
pause it, refusal on a named ground, issue, change and cancellation; every step audited and logged."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
import yaml
from sqlalchemy import select

from shengjing.audit.models import AuditEvent
from shengjing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shengjing.registry import calendar, log, service
from shengjing.registry.models import RegistrationEvent
from shengjing.sandbox.models import QueryRun
from shengjing.store.db import unit_of_work
from tests.registry.conftest import application, issued, step
from tests.sandbox.city import City

pytestmark = pytest.mark.usefixtures("clock")


def test_an_application_goes_through_publicity_to_a_certificate(city: City, clock: time_machine.Traveller) -> None:
    applied = step(city, "gongan", service.apply, application(city))
    assert applied.status == "applied"
    assert applied.number.startswith("2101000120260000001")
    assert applied.accept_due == calendar.add_working_days(dt.date(2026, 9, 1), 5)
    assert applied.holder_name == "沈阳市公安局"
    assert applied.particulars["catalogue"][0]["name"] == "gmsfhm"
    assert len(applied.fingerprint) == 64

    accepted = step(city, "admin", service.accept, applied.number)
    assert accepted.status == "accepted" and accepted.review_due is not None
    publicized = step(city, "admin", service.publicize, applied.number, "审查通过")
    assert publicized.status == "publicity"
    assert publicized.publicity_end == dt.date(2026, 9, 15)
    with pytest.raises(Conflict):
        step(city, "admin", service.issue, applied.number)

    clock.move_to(dt.datetime(2026, 9, 16, 2, tzinfo=dt.UTC))
    done = step(city, "admin", service.issue, applied.number)
    assert done.status == "issued"
    assert done.certificate_number == "SJDJ-2026-09-210100-01-000001"
    assert [e.action for e in done.events] == ["apply", "accept", "publicize", "issue"]

    auditor = city.actor("auditor")
    with unit_of_work(city.sessions) as db:
        found = service.certificate_status(db, done.certificate_number)
        audited = db.execute(
            select(AuditEvent.action, AuditEvent.outcome).where(AuditEvent.target_type == "registration")
        ).all()
        assert service.verify_register(db, auditor).ok
    assert found.status == "valid" and found.holder_name == "沈阳市公安局"
    assert found.fingerprint == applied.fingerprint
    # the early attempt to issue is on the record too
    steps = [(action.rsplit(".", 1)[1], outcome) for action, outcome in audited]
    assert steps == [
        ("apply", "success"),
        ("accept", "success"),
        ("publicize", "success"),
        ("issue", "failed"),
        ("issue", "success"),
    ]


def test_an_objection_pauses_publicity_and_its_clock(city: City, clock: time_machine.Traveller) -> None:
    number = step(city, "gongan", service.apply, application(city)).number
    step(city, "admin", service.accept, number)
    step(city, "admin", service.publicize, number)  # ends 15 September
    clock.move_to(dt.datetime(2026, 9, 3, 2, tzinfo=dt.UTC))  # Thursday: 8 working days left
    paused = step(city, "renshe", service.raise_objection, number, "该数据部分由本局采集，权属有争议")
    assert paused.status == "paused"
    objection = paused.objections[0]
    assert objection.objector == "沈阳市人力资源和社会保障局"
    with pytest.raises(Conflict):
        step(city, "admin", service.issue, number)

    clock.move_to(dt.datetime(2026, 9, 10, 2, tzinfo=dt.UTC))  # a week later the objection is dismissed
    resumed = step(
        city, "admin", service.resolve_objection, number, objection.id, "dismiss", "经核实，数据由公安局采集"
    )
    assert resumed.status == "publicity"
    assert resumed.publicity_end == calendar.add_working_days(dt.date(2026, 9, 10), 8)
    assert [e.action for e in resumed.events][-2:] == ["object", "resolve"]


def test_an_upheld_objection_refuses_for_rights_in_dispute(city: City) -> None:
    number = step(city, "gongan", service.apply, application(city)).number
    step(city, "admin", service.accept, number)
    step(city, "admin", service.publicize, number)
    objection = step(city, "renshe", service.raise_objection, number, "权属争议").objections[0]
    refused = step(city, "admin", service.resolve_objection, number, objection.id, "uphold", "双方共同采集，权属待定")
    assert refused.status == "refused" and refused.refusal_ground == "rights_in_dispute"


def test_refusal_needs_a_named_ground_and_reasons(city: City) -> None:
    number = step(city, "gongan", service.apply, application(city)).number
    with pytest.raises(InvalidInput):
        step(city, "admin", service.refuse, number, "dislike", "不喜欢")
    with pytest.raises(InvalidInput):
        step(city, "admin", service.refuse, number, "unlawful_source", " ")
    refused = step(city, "admin", service.refuse, number, "unlawful_source", "来源材料不能证明合法取得")
    assert refused.status == "refused" and refused.refusal_ground == "unlawful_source"
    with pytest.raises(Conflict):
        step(city, "admin", service.accept, number)


def test_no_publicity_without_a_lawful_source_commitment(city: City) -> None:
    text = application(city)
    text = text.replace("commitment: true", "commitment: false")
    number = step(city, "gongan", service.apply, text).number
    step(city, "admin", service.accept, number)
    with pytest.raises(Conflict) as refused:
        step(city, "admin", service.publicize, number)
    assert "lawful_source" in refused.value.details["checks"]


def test_returned_for_correction_then_amended(city: City) -> None:
    number = step(city, "gongan", service.apply, application(city)).number
    with pytest.raises(InvalidInput):
        step(city, "admin", service.return_for_correction, number, "")
    returned = step(city, "admin", service.return_for_correction, number, "请补充存储地点")
    assert returned.status == "returned"
    amended = step(city, "gongan", service.amend, number, application(city))
    assert amended.status == "applied" and amended.revision == 2


def test_only_the_holding_department_registers_its_resource(city: City) -> None:
    with pytest.raises(PermissionDenied):
        step(city, "renshe", service.apply, application(city, "admin", "GA-PERSON").replace("沈阳市公安局", "x"))
    with pytest.raises(InvalidInput):  # the bureau reviews, it does not apply
        step(city, "admin", service.apply, application(city, "admin"))


def test_a_second_initial_registration_of_the_same_resource_is_refused(city: City) -> None:
    step(city, "gongan", service.apply, application(city))
    with pytest.raises(Conflict):
        step(city, "gongan", service.apply, application(city))


def test_others_do_not_see_a_case_before_publicity(city: City) -> None:
    number = step(city, "gongan", service.apply, application(city)).number
    renshe, admin = city.actor("renshe"), city.actor("admin")
    with unit_of_work(city.sessions) as db, pytest.raises(NotFound):
        service.get_registration(db, renshe, number)
    with unit_of_work(city.sessions) as db:
        assert service.list_registrations(db, renshe) == []
        assert [r.number for r in service.list_registrations(db, admin)] == [number]


def test_overdue_cases_are_reminded(city: City, clock: time_machine.Traveller) -> None:
    number = step(city, "gongan", service.apply, application(city)).number
    admin, gongan = city.actor("admin"), city.actor("gongan")
    with unit_of_work(city.sessions) as db:
        assert service.reminders(db, admin) == []
    clock.move_to(dt.datetime(2026, 9, 10, 2, tzinfo=dt.UTC))  # accept was due on 8 September
    with unit_of_work(city.sessions) as db:
        (late,) = service.reminders(db, admin)
        assert late.number == number and late.working_days_overdue == 2
        assert service.list_registrations(db, gongan, overdue=True)[0].number == number


def test_a_change_supersedes_and_a_cancellation_ends_the_certificate(city: City, clock: time_machine.Traveller) -> None:
    first = issued(city, clock)
    change = f"kind: change\nprevious_certificate: {first.certificate_number}\nreason: 有效期延长\n"
    change += "term: {start: 2026-09-01, end: 2035-12-31}\n"
    changed = step(city, "gongan", service.apply, change)
    assert changed.term_end == dt.date(2035, 12, 31) and changed.object_code == "GA-PERSON"
    step(city, "admin", service.accept, changed.number)
    publicized = step(city, "admin", service.publicize, changed.number)
    assert publicized.publicity_end is not None
    clock.move_to(dt.datetime.combine(publicized.publicity_end + dt.timedelta(days=1), dt.time(2), dt.UTC))
    new = step(city, "admin", service.issue, changed.number)
    with unit_of_work(city.sessions) as db:
        old = service.certificate_status(db, first.certificate_number or "")
    assert old.status == "superseded" and old.superseded_by == new.certificate_number

    cancel = f"kind: cancellation\nprevious_certificate: {new.certificate_number}\nreason: 数据停止采集\n"
    cancelling = step(city, "gongan", service.apply, cancel)
    step(city, "admin", service.accept, cancelling.number)
    approved = step(city, "admin", service.publicize, cancelling.number)
    assert approved.status == "approved"  # a cancellation is not publicized
    done = step(city, "admin", service.issue, cancelling.number)
    assert done.status == "issued" and done.certificate_number is None
    auditor = city.actor("auditor")
    with unit_of_work(city.sessions) as db:
        assert service.certificate_status(db, new.certificate_number or "").status == "cancelled"
        assert service.verify_register(db, auditor).ok


def test_every_step_is_an_entry_in_the_log(city: City, clock: time_machine.Traveller) -> None:
    done = issued(city, clock)
    with unit_of_work(city.sessions) as db:
        events = db.scalars(select(RegistrationEvent).order_by(RegistrationEvent.seq)).all()
        entries = [log.entry(db, e.log_index) for e in events]
        assert log.size(db) == len(events) + 1  # and the certificate's own entry
    assert all(done.number.encode() in entry for entry in entries)
    assert all(b"gongan" not in entry and b"admin" not in entry for entry in entries)  # no one's name


def _product_application(city: City, run_id: int, **changes: object) -> str:
    actor = city.actor("analyst")
    with unit_of_work(city.sessions) as db:
        text = service.draft_document(
            db, actor, object_kind="product", code="CP-INCOME-2026", version=run_id, name="区县收入分布数据产品"
        )
    data = yaml.safe_load(text)
    data["scope"] = "普惠金融产品设计"
    data["particulars"]["scenarios"] = ["普惠金融"]
    data["particulars"]["lawful_source"] = {"sources": ["授权运营"], "commitment": True}
    data["particulars"]["compliance"] = {
        "agency": "辽宁某数据合规评估中心",
        "report_number": "LNHG-2026-0901",
        "report_date": "2026-09-01",
        "conclusion": "合规",
    }
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_an_operator_registers_a_product_made_in_the_sandbox_and_licenses_it(
    city: City, clock: time_machine.Traveller
) -> None:
    code = city.authorize()
    run = city.query(code, "SELECT qx, COUNT(*) AS n FROM person GROUP BY qx")
    assert run.status == "released"
    with unit_of_work(city.sessions) as db:
        fingerprint = db.get(QueryRun, run.id).result_fingerprint
    with pytest.raises(NotFound):  # another operator's run
        step(city, "other", service.apply, _product_application(city, run.id))
    product = issued(city, clock, _product_application(city, run.id), "analyst")
    assert product.object_kind == "product" and product.fingerprint == fingerprint
    assert product.rights == ["processing", "operating"]

    license_text = yaml.safe_dump(
        {
            "kind": "license",
            "previous_certificate": product.certificate_number,
            "reason": "许可数商经营该产品",
            "holder": {"name": "沈阳某数商有限公司"},
            "rights": ["operating"],
            "term": {"start": "2026-10-01", "end": "2027-09-30"},
            "scope": "辽宁省内销售",
        },
        allow_unicode=True,
    )
    with pytest.raises(InvalidInput):  # holding cannot be licensed
        step(city, "analyst", service.apply, license_text.replace("- operating", "- holding"))
    licensed = step(city, "analyst", service.apply, license_text)
    assert licensed.holder_name == "沈阳某数商有限公司" and licensed.object_code == "CP-INCOME-2026"
    step(city, "admin", service.accept, licensed.number)
    publicized = step(city, "admin", service.publicize, licensed.number)
    assert publicized.status == "publicity"  # a license changes who may use the data: it is publicized
    clock.move_to(dt.datetime.combine(publicized.publicity_end + dt.timedelta(days=1), dt.time(2), dt.UTC))
    done = step(city, "admin", service.issue, licensed.number)
    with unit_of_work(city.sessions) as db:
        assert service.certificate_status(db, product.certificate_number or "").status == "valid"  # the licensor's
        assert service.certificate_status(db, done.certificate_number or "").scope == "辽宁省内销售"


def test_resources_in_authorized_operation_must_be_registered(city: City) -> None:
    admin, gongan = city.actor("admin"), city.actor("gongan")
    with unit_of_work(city.sessions) as db:
        assert service.unregistered_in_scope(db, admin) == []
    city.authorize()
    with unit_of_work(city.sessions) as db:
        assert [u.resource for u in service.unregistered_in_scope(db, admin)] == ["GA-PERSON", "RS-INSURANCE"]
        assert [u.resource for u in service.unregistered_in_scope(db, gongan)] == ["GA-PERSON"]  # its own
    step(city, "gongan", service.apply, application(city))
    with unit_of_work(city.sessions) as db:
        assert [u.resource for u in service.unregistered_in_scope(db, admin)] == ["RS-INSURANCE"]
