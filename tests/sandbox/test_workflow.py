"""Authorizations as the operator, the departments and the data bureau use them: a document drafted from the
grading, saved, applied for, consented to by each providing department, approved, suspended, resumed, revoked;
who may take each step; what each can see; every step audited."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from shengjing.audit.models import AuditEvent
from shengjing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shengjing.sandbox import service
from shengjing.sandbox.schemas import Status
from shengjing.store.db import unit_of_work
from tests.sandbox.city import City


def _as(city: City, username: str, step, *args, **kwargs):  # type: ignore[no-untyped-def]
    with unit_of_work(city.sessions) as db:
        return step(db, city.actor(username), *args, **kwargs)


def test_the_whole_workflow_to_active_and_back(city: City) -> None:
    created = _as(city, "analyst", service.create_authorization, city.document())
    assert created.status == Status.DRAFT and created.code.startswith("SQ-") and created.operator == "YY"
    code = created.code
    # a department is not asked before the operator applies, and the bureau cannot approve a draft
    with pytest.raises(Conflict):
        _as(city, "gongan", service.consent, code, "GA-PERSON", "consent")
    with pytest.raises(Conflict):
        _as(city, "admin", service.approve, code)
    applied = _as(city, "analyst", service.apply, code, "请审批")
    assert applied.status == Status.APPLIED and {r.consent for r in applied.resources} == {"pending"}
    # each department for its own resource only
    with pytest.raises(PermissionDenied):
        _as(city, "gongan", service.consent, code, "RS-INSURANCE", "consent")
    half = _as(city, "gongan", service.consent, code, "GA-PERSON", "consent", "同意，限统计分析")
    assert half.status == Status.APPLIED
    both = _as(city, "renshe", service.consent, code, "RS-INSURANCE", "consent")
    assert both.status == Status.CONSENTED
    with pytest.raises(PermissionDenied):  # only the data bureau approves
        _as(city, "gongan", service.approve, code)
    active = _as(city, "admin", service.approve, code, "同意")
    assert active.status == Status.ACTIVE and active.approved_by == "admin"
    with pytest.raises(InvalidInput):  # a suspension needs its reason
        _as(city, "admin", service.suspend, code, "")
    assert _as(city, "admin", service.suspend, code, "核查使用情况").status == Status.SUSPENDED
    assert _as(city, "admin", service.resume, code).status == Status.ACTIVE
    revoked = _as(city, "admin", service.revoke, code, "场景终止")
    assert revoked.status == Status.REVOKED
    with pytest.raises(Conflict):  # nothing after a revocation
        _as(city, "admin", service.resume, code)
    history = [e.action for e in revoked.events]
    assert history == ["add", "apply", "consent", "consent", "approve", "suspend", "resume", "revoke"]
    with unit_of_work(city.sessions) as db:
        actions = [
            (e.action, e.outcome)
            for e in db.scalars(select(AuditEvent).where(AuditEvent.action.startswith("sandbox.authorization")))
        ]
    assert ("sandbox.authorization.approve", "success") in actions
    assert ("sandbox.authorization.consent", "denied") in actions  # the refused attempts are on the record too
    assert ("sandbox.authorization.suspend", "failed") in actions


def test_a_refusal_sends_it_back_to_the_operator_who_edits_and_applies_again(city: City) -> None:
    code = _as(city, "analyst", service.create_authorization, city.document()).code
    _as(city, "analyst", service.apply, code)
    with pytest.raises(InvalidInput):
        _as(city, "gongan", service.consent, code, "GA-PERSON", "refuse", "")
    refused = _as(city, "gongan", service.consent, code, "GA-PERSON", "refuse", "收入字段不得聚合以外使用")
    assert refused.status == Status.REJECTED and "GA-PERSON" in refused.status_note
    edited = _as(city, "analyst", service.update_authorization, code, city.document(min_group_size=20))
    assert edited.revision == 2 and edited.min_group_size == 20
    again = _as(city, "analyst", service.apply, code)
    assert again.status == Status.APPLIED and {r.consent for r in again.resources} == {"pending"}
    with pytest.raises(Conflict):  # an applied authorization is not edited
        _as(city, "analyst", service.update_authorization, code, city.document())


def test_who_sees_which_authorization(city: City) -> None:
    code = city.authorize()
    assert [a.code for a in _as(city, "analyst", service.list_authorizations)] == [code]
    assert [a.code for a in _as(city, "gongan", service.list_authorizations)] == [code]  # its resource is in it
    assert [a.code for a in _as(city, "auditor", service.list_authorizations)] == [code]
    assert _as(city, "other", service.list_authorizations) == []  # another operator sees nothing of it
    with pytest.raises(NotFound):
        _as(city, "other", service.get_authorization, code)
    with pytest.raises(NotFound):  # nor may it query under it
        service.run_query(city.sessions, city.actor("other"), code, "SELECT COUNT(*) FROM person")


def test_another_operators_document_cannot_be_filed(city: City) -> None:
    with pytest.raises(PermissionDenied):
        _as(city, "other", service.create_authorization, city.document())  # names YY as its operator


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"operator": "GA"}, "not an operator"),
        ({"scenario": "gambling"}, "No scenario"),
        ({"valid_until": "2020-01-01"}, "valid_until"),
        (
            {"resources": [{"resource": "GA-PERSON", "columns": {"nosuch": "plain"}}]},
            "has no field 'nosuch'",
        ),
        (
            {"resources": [{"resource": "GA-PERSON", "columns": {"bz": {"control": "masked", "mask": "shred"}}}]},
            "No mask named 'shred'",
        ),
        ({"resources": [{"resource": "GA-PERSON", "row_filter": "xm IN (SELECT 1)"}]}, "subquery"),
        ({"resources": [{"resource": "GA-PERSON", "row_filter": "qq > 1"}]}, "not a column"),
        ({"resources": [{"resource": "NO-SUCH"}]}, "No resource"),
        (
            {"privacy": {"epsilon_per_query": 1, "budget": 0.5}},
            "budget",
        ),
    ],
)
def test_a_document_that_does_not_hold_is_refused_saying_where(city: City, change: dict, message: str) -> None:
    with pytest.raises((InvalidInput, NotFound)) as caught:
        _as(city, "analyst", service.create_authorization, city.document(**change))
    assert message in caught.value.message_en


def test_a_yaml_error_names_its_line(city: City) -> None:
    with pytest.raises(InvalidInput) as caught:
        _as(city, "analyst", service.create_authorization, "operator: YY\ntitle: [unclosed\n", file="auth.yaml")
    assert caught.value.details["line"] == 3 and "auth.yaml" in caught.value.message_en


def test_a_draft_starts_from_the_confirmed_grading(city: City) -> None:
    from shengjing.classify import service as classify
    from shengjing.classify.schemas import ReviewIn

    classify.classify_resource(city.sessions, city.actor("gongan"), "GA-PERSON")
    with unit_of_work(city.sessions) as db:
        classify.review_fields(
            db,
            city.actor("gongan"),
            "GA-PERSON",
            [
                ReviewIn(field="xb", action="override", level="L1", reason="性别代码"),
                ReviewIn(field="sr", action="override", level="L3", reason="收入"),
            ],
        )
    text = _as(
        city, "analyst", service.draft_document, operator="YY", scenario="finance_credit", resources_=["GA-PERSON"]
    )
    draft = yaml.safe_load(text)
    columns = draft["resources"][0]["columns"]
    assert columns["xb"] == "plain" and columns["sr"] == "aggregate"  # L1 → plain, L3 → aggregate
    assert columns["gmsfhm"] == "hidden"  # still unreviewed: hidden by default
    assert draft["privacy"]["epsilon_per_query"] > 0  # an aggregate-only column: differential privacy on
    saved = _as(city, "analyst", service.create_authorization, text)
    assert saved.status == Status.DRAFT


def test_an_expired_authorization_answers_no_more_queries(city: City) -> None:
    code = city.authorize(city.document(valid_from="2020-01-01", valid_until="2020-12-31"))
    assert _as(city, "analyst", service.get_authorization, code).status == Status.EXPIRED
    with pytest.raises(Conflict):
        city.query(code, "SELECT COUNT(*) FROM person")
    with unit_of_work(city.sessions) as db:
        refused = db.scalars(
            select(AuditEvent).where(AuditEvent.action == "sandbox.query.run", AuditEvent.outcome == "failed")
        ).all()
    assert refused, "a query that could not run is on the record"
