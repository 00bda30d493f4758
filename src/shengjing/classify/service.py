"""Every rule of classification and grading (数据分类分级): who runs it on which resource, how a run's detections
become proposals, how the owning department confirms or overrides them, how the data bureau audits and reopens
them, the rule set's versions, the city-wide overview and the grading catalogue (分类分级清单).

A run reads in one short transaction, scans the lake outside any transaction (a full scan must not hold
SQLite's write lock), and records in another, like an ingest.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shengjing.audit.service import record, state_change
from shengjing.catalog import service as catalog
from shengjing.classify import grading
from shengjing.classify import permissions as perms
from shengjing.classify.classifier import FieldSpec, Mode, SnapshotDetection, classify_files
from shengjing.classify.detectors import InfoType
from shengjing.classify.models import (
    ClassificationRun,
    FieldGrading,
    GradingAlert,
    GradingEvent,
    GradingRuleSet,
    ResourceGrading,
)
from shengjing.classify.scan import IDENTIFYING
from shengjing.classify.schemas import (
    AlertOut,
    AwaitingAudit,
    DepartmentCount,
    EventOut,
    FieldGradingOut,
    LevelCount,
    OverviewOut,
    ResourceGradingOut,
    ReviewIn,
    ReviewStatus,
    RuleSetOut,
    RunOut,
)
from shengjing.config import Settings
from shengjing.errors import InvalidInput, NotFound, PermissionDenied
from shengjing.identity.principal import Principal, system_principal
from shengjing.store.db import unit_of_work, utcnow
from shengjing.store.lake import Lake

log = logging.getLogger(__name__)


# --- the rule set ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RuleSetInForce:
    version: int
    rules: grading.RuleSet


def _ruleset_row(db: Session, version: int | None) -> GradingRuleSet | None:
    """A saved version of the rule set, or the newest (None when none was ever saved)."""
    stmt = select(GradingRuleSet).order_by(GradingRuleSet.version.desc()).limit(1)
    if version is not None:
        stmt = select(GradingRuleSet).where(GradingRuleSet.version == version)
    return db.scalar(stmt)


def _ruleset(db: Session, version: int | None = None) -> _RuleSetInForce:
    """The rule set in force (the newest saved, or the built-in default as version 0), or a given version."""
    row = _ruleset_row(db, version)
    if row is None:
        return _RuleSetInForce(0, grading.parse_ruleset(grading.default_ruleset_text()))
    return _RuleSetInForce(row.version, grading.parse_ruleset(row.text))


def get_ruleset(db: Session, actor: Principal, version: int | None = None) -> RuleSetOut:
    actor.require(perms.GRADING_VIEW)
    row = _ruleset_row(db, version)
    if row is None:
        if version not in (None, 0):
            raise NotFound.of("分类分级规则集版本", "rule set version", version)
        text = grading.default_ruleset_text()
        return RuleSetOut(
            version=0, name=grading.parse_ruleset(text).name, text=text, comment="", created_by=None, created_at=None
        )
    return _ruleset_out(row)


def _ruleset_out(row: GradingRuleSet) -> RuleSetOut:
    return RuleSetOut(
        version=row.version,
        name=row.name,
        text=row.text,
        comment=row.comment,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def list_rulesets(db: Session, actor: Principal) -> list[RuleSetOut]:
    actor.require(perms.GRADING_VIEW)
    return [_ruleset_out(r) for r in db.scalars(select(GradingRuleSet).order_by(GradingRuleSet.version.desc()))]


@state_change("classify.ruleset.change", "grading_ruleset")
def save_ruleset(db: Session, actor: Principal, text: str, comment: str = "") -> RuleSetOut:
    """Save a new version of the rule set; it applies to runs from now on (reviewed decisions stay as they are)."""
    actor.require(perms.RULESET_CHANGE)
    rules = grading.parse_ruleset(text)
    newest = _ruleset_row(db, None)
    row = GradingRuleSet(
        version=(newest.version if newest else 0) + 1,
        name=rules.name,
        text=text,
        comment=comment,
        created_by=actor.username,
    )
    db.add(row)
    db.flush()
    record(
        db,
        actor,
        "classify.ruleset.change",
        target_type="grading_ruleset",
        target_id=row.version,
        details={"name": rules.name, "comment": comment},
    )
    return _ruleset_out(row)


# --- runs -----------------------------------------------------------------------------------------------------


def _subject(db: Session, actor: Principal, code: str) -> catalog.ClassificationSubject:
    return catalog.classification_subjects(db, actor, code)[0]


def _may_run(actor: Principal, subject: catalog.ClassificationSubject) -> bool:
    return actor.has(perms.GRADING_RUN) and subject.managed


def _owns(actor: Principal, subject: catalog.ClassificationSubject) -> bool:
    """The owning department reviews its own resources' gradings; the local system may act for it."""
    return actor.via == "system" or actor.org_id == subject.department_id


@dataclass(frozen=True)
class _Planned:
    subject: catalog.ClassificationSubject
    version: int
    files: list[Any]
    rows: int
    settings: Settings


def _plan_run(db: Session, actor: Principal, code: str, version: int | None) -> _Planned:
    actor.require(perms.GRADING_RUN)
    subject = _subject(db, actor, code)
    if not subject.managed:
        raise PermissionDenied(perms.GRADING_RUN.name)
    wanted = version or subject.current_version
    if wanted is None:
        raise InvalidInput(
            "该数据资源还没有数据，无法分类分级。", "The resource holds no data to classify yet.", resource=code
        )
    settings: Settings = db.info["settings"]
    snapshot = Lake(settings.lake_path).dataset("resource", code).snapshot(wanted)
    return _Planned(subject, wanted, list(snapshot.files), snapshot.row_count, settings)


def classify_resource(
    sessions: sessionmaker[Session],
    actor: Principal,
    code: str,
    *,
    mode: Mode = Mode.SAMPLE,
    engine: str | None = None,
    version: int | None = None,
) -> ResourceGradingOut:
    """Classify a snapshot of the resource (its current one by default) and record the proposals.

    Sample mode looks at a bounded sample and runs on every new snapshot; full mode counts every row in DuckDB or
    Spark. Confirmed and overridden decisions survive the run; a field whose detected type changed raises an
    alert for the owning department.
    """
    try:
        with unit_of_work(sessions) as db:
            planned = _plan_run(db, actor, code, version)
    except Exception as exc:
        with unit_of_work(sessions) as db:
            _record_refusal(db, actor, code, exc)
        raise
    engine = engine or planned.settings.classify_engine
    detection = classify_files(
        planned.files,
        [FieldSpec(name, label, element) for name, label, element in planned.subject.fields],
        rows_total=planned.rows,
        mode=mode,
        engine=engine,
        sample_rows=planned.settings.classify_sample_rows,
        spark_master=planned.settings.spark_master,
    )
    with unit_of_work(sessions) as db:
        _record_run(db, actor, code, planned.version, detection)
        return get_grading(db, actor, code)


def _record_refusal(db: Session, actor: Principal, code: str, exc: Exception) -> None:
    record(
        db,
        actor,
        "classify.grading.run",
        target_type="resource",
        target_id=code,
        outcome="denied" if isinstance(exc, PermissionDenied) else "failed",
        details={"error": getattr(exc, "code", type(exc).__name__)},
    )


def classify_new_snapshot(sessions: sessionmaker[Session], actor: Principal, code: str, version: int) -> None:
    """The hook every new snapshot runs (``domains.SNAPSHOT_HOOKS``): a sample-mode run. Its failure is recorded
    and logged, never raised: the snapshot is committed whatever its classification does."""
    try:
        classify_resource(sessions, actor, code, mode=Mode.SAMPLE, version=version)
    except Exception:
        log.exception("classification of %s v%s failed", code, version)


def _people(detection: SnapshotDetection, types: dict[str, InfoType]) -> tuple[int | None, str]:
    """How many people a resource holds: the largest distinct count of an identifying field (full mode: of its
    document numbers, or of its mobiles when it holds none), else at most its rows (sample mode: an upper bound that
    a full scan refines)."""
    identifying = [name for name, kind in types.items() if kind in IDENTIFYING]
    if not identifying:
        return None, "no identifying field"
    counted = [detection.distinct[name] for name in identifying if name in detection.distinct]
    if counted:
        return max(counted), "distinct values of identifying fields (approximate, full scan)"
    return detection.rows_total, "rows of the snapshot (upper bound; a full scan counts distinct persons)"


@state_change("classify.grading.run", "resource")
def _record_run(db: Session, actor: Principal, code: str, version: int, detection: SnapshotDetection) -> None:
    subject = _subject(db, actor, code)
    in_force = _ruleset(db)
    rules = in_force.rules
    kinds = {f.field: f.detection.type for f in detection.fields}
    people, estimate = _people(detection, kinds)
    facts = grading.ResourceFacts(subject.text, frozenset(kinds.values()), people, estimate)
    result = grading.grade_resource(rules, facts, {n: (k, grading.grade_type(rules, k)) for n, k in kinds.items()})
    run = ClassificationRun(
        resource_id=subject.id,
        resource_version=version,
        mode=detection.mode.value,
        engine=detection.engine,
        ruleset_version=in_force.version,
        rows_total=detection.rows_total,
        rows_scanned=detection.rows_scanned,
        seconds=detection.seconds,
        level=result.level,
        level_rule=result.rule,
        details={
            "rules_applied": [{"id": r, "level": _rule_level(rules, r)} for r in result.applied],
            "people": people,
            "people_estimate": estimate,
        },
        created_by=actor.username,
    )
    db.add(run)
    db.flush()
    existing = {g.field_name: g for g in _field_gradings(db, [subject.id])}
    changed = []
    for found in detection.fields:
        grade = result.fields[found.field]
        row = existing.pop(found.field, None)
        if row is None:
            row = FieldGrading(resource_id=subject.id, field_name=found.field, status=ReviewStatus.PROPOSED.value)
            db.add(row)
        elif row.detected_type != found.detection.type.value:
            changed.append(found.field)
            db.add(
                GradingAlert(
                    resource_id=subject.id,
                    field_name=found.field,
                    run_id=run.id,
                    old_type=row.detected_type,
                    new_type=found.detection.type.value,
                    status_kept=row.status,
                )
            )
            _event(
                db,
                actor,
                subject.id,
                found.field,
                "type_changed",
                row.detected_type,
                found.detection.type.value,
                row.proposed_level,
                grade.level,
                run_id=run.id,
            )
        row.detected_type = found.detection.type.value
        row.confidence = found.detection.confidence
        row.decided_by = found.detection.decided_by
        row.evidence = found.detection.evidence
        row.proposed_category, row.proposed_level, row.proposed_rule = grade.category, grade.level, grade.rule
        row.sensitive = grade.sensitive
        row.run_id, row.updated_at = run.id, utcnow()
    for gone in existing.values():  # fields the resource no longer has
        _event(
            db, actor, subject.id, gone.field_name, "removed", gone.detected_type, None, gone.level, None, run_id=run.id
        )
        db.delete(gone)
    _event(db, actor, subject.id, None, f"run_{detection.mode.value}", None, None, None, result.level, run_id=run.id)
    db.flush()
    state = db.get(ResourceGrading, subject.id)
    if state is None:
        state = ResourceGrading(resource_id=subject.id, level=result.level, level_rule=result.rule, last_run_id=run.id)
        db.add(state)
    state.rules_applied = run.details["rules_applied"]
    state.people = people
    state.last_run_id = run.id
    if detection.mode is Mode.FULL:
        state.last_full_run_id = run.id
    _settle_level(db, state, rules)
    record(
        db,
        actor,
        "classify.grading.run",
        target_type="resource",
        target_id=code,
        details={
            "run": run.id,
            "version": version,
            "mode": detection.mode.value,
            "engine": detection.engine,
            "ruleset_version": in_force.version,
            "level": state.level,
            "level_rule": state.level_rule,
            "type_changed": changed,
        },
    )


def _rule_level(rules: grading.RuleSet, rule_id: str) -> str:
    return next(r.level for r in rules.resource_rules if r.id == rule_id)


def _event(
    db: Session,
    actor: Principal,
    resource_id: int,
    field: str | None,
    action: str,
    from_type: str | None,
    to_type: str | None,
    from_level: str | None,
    to_level: str | None,
    *,
    reason: str = "",
    run_id: int | None = None,
) -> None:
    db.add(
        GradingEvent(
            resource_id=resource_id,
            field_name=field,
            action=action,
            from_type=from_type,
            to_type=to_type,
            from_level=from_level,
            to_level=to_level,
            reason=reason,
            run_id=run_id,
            actor=actor.username,
        )
    )


def _in_force(row: FieldGrading) -> tuple[str, str, str]:
    """(type, category, level) in force: the decision once reviewed, the proposal before."""
    if row.status == ReviewStatus.PROPOSED.value or row.info_type is None:
        return row.detected_type, row.proposed_category, row.proposed_level
    return row.info_type, row.category or row.proposed_category, row.level or row.proposed_level


def _settle_level(db: Session, state: ResourceGrading, rules: grading.RuleSet) -> None:
    """The resource's level: the highest of its fields' levels in force and of the resource rules that applied."""
    candidates = [(_in_force(r)[2], f"field:{r.field_name}") for r in _field_gradings(db, [state.resource_id])]
    deciding = rules.deciding(candidates + [(rule["level"], f"resource:{rule['id']}") for rule in state.rules_applied])
    if deciding:
        state.level, state.level_rule = deciding
    state.updated_at = utcnow()


# --- reading ----------------------------------------------------------------------------------------------------


def _state(db: Session, subject: catalog.ClassificationSubject) -> ResourceGrading:
    state = db.get(ResourceGrading, subject.id)
    if state is None:
        raise NotFound.of("分类分级结果", "grading", subject.code)
    return state


def _visible_subject(db: Session, actor: Principal, code: str) -> catalog.ClassificationSubject:
    """A resource whose grading the actor sees: its department's own, or any for the data bureau."""
    actor.require(perms.GRADING_VIEW)
    subject = _subject(db, actor, code)
    if not (subject.managed or actor.sees_all_orgs):
        raise NotFound.of("数据资源", "resource", code)
    return subject


def _field_gradings(db: Session, resource_ids: Iterable[int]) -> list[FieldGrading]:
    return list(db.scalars(select(FieldGrading).where(FieldGrading.resource_id.in_(set(resource_ids)))))


def _fields_out(
    subject: catalog.ClassificationSubject, rows: list[FieldGrading], rules: grading.RuleSet
) -> list[FieldGradingOut]:
    """The gradings of the subject's fields, in the catalog's field order."""
    by_name = {g.field_name: g for g in rows if g.resource_id == subject.id}
    return [_field_out(by_name[name], label, rules) for name, label, _ in subject.fields if name in by_name]


def get_grading(db: Session, actor: Principal, code: str) -> ResourceGradingOut:
    """A resource's grading: each field's type, level, confidence, evidence and review status, its runs and
    alerts. Departments see their own resources; the data bureau every one."""
    subject = _visible_subject(db, actor, code)
    rules = _ruleset(db).rules
    state = db.get(ResourceGrading, subject.id)
    runs = list(
        db.scalars(
            select(ClassificationRun)
            .where(ClassificationRun.resource_id == subject.id)
            .order_by(ClassificationRun.id.desc())
            .limit(20)
        )
    )
    fields = _fields_out(subject, _field_gradings(db, [subject.id]), rules)
    reviewed = sum(f.status is not ReviewStatus.PROPOSED for f in fields)
    return ResourceGradingOut(
        resource=subject.code,
        resource_name=subject.name,
        department=subject.department,
        department_name=subject.department_name,
        current_version=subject.current_version,
        classified_version=runs[0].resource_version if runs else None,
        level=state.level if state else None,
        level_name=_level_name(rules, state.level) if state else None,
        level_rule=state.level_rule if state else None,
        rules_applied=[r["id"] for r in state.rules_applied] if state else [],
        people=state.people if state else None,
        reviewed=reviewed,
        proposed=len(fields) - reviewed,
        audited_by=state.audited_by if state else None,
        audited_at=state.audited_at if state else None,
        audit_note=state.audit_note if state else "",
        fields=fields,
        runs=[RunOut.model_validate(r) for r in runs],
        alerts=_alerts(db, [subject], open_only=False),
        may_run=_may_run(actor, subject),
        may_review=actor.has(perms.GRADING_REVIEW) and _owns(actor, subject),
        may_audit=actor.has(perms.GRADING_AUDIT) and actor.sees_all_orgs,
    )


def _level_name(rules: grading.RuleSet, code: str) -> str:
    known = {lv.code: lv.name_zh for lv in rules.levels}
    return known.get(code, code)


def _field_out(row: FieldGrading, label: str, rules: grading.RuleSet) -> FieldGradingOut:
    info_type, category, level = _in_force(row)
    reviewed = row.status != ReviewStatus.PROPOSED.value
    return FieldGradingOut(
        field=row.field_name,
        label=label,
        detected_type=InfoType(row.detected_type),
        confidence=row.confidence,
        decided_by=row.decided_by,
        evidence=row.evidence,
        proposed_category=row.proposed_category,
        proposed_level=row.proposed_level,
        proposed_rule=row.proposed_rule,
        sensitive=row.sensitive,
        status=ReviewStatus(row.status),
        info_type=InfoType(info_type),
        category=category,
        level=level,
        reason=row.reason,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        # Deny by default: until the department has confirmed a level, the field is offered hidden.
        column_control=rules.column_controls.get(level, "hidden") if reviewed else "hidden",
    )


def _alerts(db: Session, subjects: list[catalog.ClassificationSubject], *, open_only: bool) -> list[AlertOut]:
    codes = {s.id: s.code for s in subjects}
    stmt = select(GradingAlert).where(GradingAlert.resource_id.in_(codes)).order_by(GradingAlert.id.desc())
    if open_only:
        stmt = stmt.where(GradingAlert.acknowledged_at.is_(None))
    return [
        AlertOut(
            id=a.id,
            resource=codes[a.resource_id],
            field_name=a.field_name,
            old_type=InfoType(a.old_type),
            new_type=InfoType(a.new_type),
            status_kept=ReviewStatus(a.status_kept),
            run_id=a.run_id,
            created_at=a.created_at,
            acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
        )
        for a in db.scalars(stmt.limit(500))
    ]


def _graded_subjects(db: Session, actor: Principal) -> list[catalog.ClassificationSubject]:
    """The resources whose grading the actor sees: every one for the data bureau, its own for a department."""
    actor.require(perms.GRADING_VIEW)
    return [s for s in catalog.classification_subjects(db, actor) if s.managed or actor.sees_all_orgs]


def list_alerts(db: Session, actor: Principal, *, open_only: bool = True) -> list[AlertOut]:
    return _alerts(db, _graded_subjects(db, actor), open_only=open_only)


def history(db: Session, actor: Principal, code: str) -> list[EventOut]:
    subject = _visible_subject(db, actor, code)
    events = db.scalars(
        select(GradingEvent).where(GradingEvent.resource_id == subject.id).order_by(GradingEvent.id.desc()).limit(1000)
    )
    return [EventOut.model_validate(e) for e in events]


# --- review by the owning department, audit and reopening by the data bureau ---------------------------------------


def _field_row(db: Session, subject: catalog.ClassificationSubject, field: str) -> FieldGrading:
    row = db.scalar(
        select(FieldGrading).where(FieldGrading.resource_id == subject.id, FieldGrading.field_name == field)
    )
    if row is None:
        raise NotFound.of("数据项分类分级结果", "field grading", f"{subject.code}.{field}")
    return row


def review_field(db: Session, actor: Principal, code: str, decision: ReviewIn) -> ResourceGradingOut:
    """The owning department confirms a field's proposal or overrides it (type and/or level) with a reason."""
    return review_fields(db, actor, code, [decision])


def review_fields(db: Session, actor: Principal, code: str, decisions: list[ReviewIn]) -> ResourceGradingOut:
    """Several decisions of the owning department at once (confirm-all in the console and the CLI): all or none,
    one audit event and one history event per field, and the resource's level settled once."""
    if not decisions:
        return get_grading(db, actor, code)
    return _review_fields(db, actor, code, decisions)


@state_change("classify.grading.review", "resource")
def _review_fields(db: Session, actor: Principal, code: str, decisions: list[ReviewIn]) -> ResourceGradingOut:
    actor.require(perms.GRADING_REVIEW)
    subject = _subject(db, actor, code)
    if not _owns(actor, subject):
        raise PermissionDenied(perms.GRADING_REVIEW.name)
    state = _state(db, subject)
    rules = _ruleset(db).rules
    for decision in decisions:
        _review(db, actor, subject, rules, decision)
    state.audited_by = state.audited_at = None  # a changed grading needs the bureau's audit again
    db.flush()
    _settle_level(db, state, rules)
    return get_grading(db, actor, code)


def _review(
    db: Session, actor: Principal, subject: catalog.ClassificationSubject, rules: grading.RuleSet, decision: ReviewIn
) -> None:
    row = _field_row(db, subject, decision.field)
    before_type, _, before_level = _in_force(row)
    if decision.action == "confirm":
        row.status = ReviewStatus.CONFIRMED.value
        row.info_type, row.category, row.level = row.detected_type, row.proposed_category, row.proposed_level
    else:
        if not decision.reason.strip():
            raise InvalidInput("修正分类分级结果须说明理由。", "An override needs a reason.", field="reason")
        kind = decision.info_type or InfoType(row.detected_type)
        level = decision.level or grading.grade_type(rules, kind).level
        if level not in {lv.code for lv in rules.levels}:
            raise InvalidInput(
                f"级别“{level}”不在规则集中。", f"Level '{level}' is not in the rule set.", field="level"
            )
        row.status = ReviewStatus.OVERRIDDEN.value
        row.info_type, row.category, row.level = kind.value, rules.types[kind].category, level
    row.reason = decision.reason.strip()
    row.reviewed_by, row.reviewed_at, row.updated_at = actor.username, utcnow(), utcnow()
    _event(
        db,
        actor,
        subject.id,
        row.field_name,
        row.status,
        before_type,
        row.info_type,
        before_level,
        row.level,
        reason=row.reason,
    )
    record(
        db,
        actor,
        "classify.grading.review",
        target_type="resource",
        target_id=subject.code,
        details={
            "field": row.field_name,
            "action": decision.action,
            "type": row.info_type,
            "level": row.level,
            "reason": row.reason,
        },
    )


def _require_bureau_audit(actor: Principal) -> None:
    """Auditing and reopening are the data bureau's (or the local system's), whoever else holds the permission."""
    actor.require(perms.GRADING_AUDIT)
    if not actor.sees_all_orgs:
        raise PermissionDenied(perms.GRADING_AUDIT.name)


@state_change("classify.grading.reopen", "resource")
def reopen(db: Session, actor: Principal, code: str, field: str | None, reason: str) -> ResourceGradingOut:
    """The data bureau sends reviewed fields (one, or all) back to the department as proposals, with a reason."""
    _require_bureau_audit(actor)
    if not reason.strip():
        raise InvalidInput("退回须说明理由。", "Reopening needs a reason.", field="reason")
    subject = _subject(db, actor, code)
    state = _state(db, subject)
    rows = [_field_row(db, subject, field)] if field else _field_gradings(db, [subject.id])
    reopened = []
    for row in rows:
        if row.status == ReviewStatus.PROPOSED.value:
            continue
        _event(
            db,
            actor,
            subject.id,
            row.field_name,
            "reopened",
            row.info_type,
            row.detected_type,
            row.level,
            row.proposed_level,
            reason=reason.strip(),
        )
        row.status, row.info_type, row.category, row.level = ReviewStatus.PROPOSED.value, None, None, None
        row.reviewed_by = row.reviewed_at = None
        row.reason, row.updated_at = "", utcnow()
        reopened.append(row.field_name)
    state.audited_by = state.audited_at = None
    db.flush()
    _settle_level(db, state, _ruleset(db).rules)
    record(
        db,
        actor,
        "classify.grading.reopen",
        target_type="resource",
        target_id=code,
        details={"fields": reopened, "reason": reason.strip()},
    )
    return get_grading(db, actor, code)


@state_change("classify.grading.audit", "resource")
def audit(db: Session, actor: Principal, code: str, note: str = "") -> ResourceGradingOut:
    """The data bureau signs off a resource's grading once every field has been reviewed by its department."""
    _require_bureau_audit(actor)
    subject = _subject(db, actor, code)
    state = _state(db, subject)
    pending = db.scalars(
        select(FieldGrading.field_name).where(
            FieldGrading.resource_id == subject.id, FieldGrading.status == ReviewStatus.PROPOSED.value
        )
    ).all()
    if pending:
        raise InvalidInput(
            f"还有 {len(pending)} 个数据项未经数据提供单位确认，暂不能审核。",
            f"{len(pending)} fields are not yet reviewed by the department; they cannot be audited.",
            fields=list(pending),
        )
    state.audited_by, state.audited_at, state.audit_note = actor.username, utcnow(), note.strip()
    _event(db, actor, subject.id, None, "audited", None, None, None, state.level, reason=note.strip())
    record(
        db,
        actor,
        "classify.grading.audit",
        target_type="resource",
        target_id=code,
        details={"level": state.level, "note": note.strip()},
    )
    return get_grading(db, actor, code)


@state_change("classify.alert.acknowledge", "grading_alert")
def acknowledge_alert(db: Session, actor: Principal, alert_id: int) -> AlertOut:
    """The owning department (or the data bureau) has seen a type change and acted on it."""
    alert = db.get(GradingAlert, alert_id)
    subjects = {s.id: s for s in _graded_subjects(db, actor)}
    if alert is None or alert.resource_id not in subjects:
        raise NotFound.of("分类分级预警", "alert", alert_id)
    subject = subjects[alert.resource_id]
    if not ((actor.has(perms.GRADING_REVIEW) and _owns(actor, subject)) or actor.has(perms.GRADING_AUDIT)):
        raise PermissionDenied(perms.GRADING_REVIEW.name)
    if alert.acknowledged_at is None:
        alert.acknowledged_by, alert.acknowledged_at = actor.username, utcnow()
    record(
        db,
        actor,
        "classify.alert.acknowledge",
        target_type="grading_alert",
        target_id=alert_id,
        details={"resource": subject.code, "field": alert.field_name},
    )
    return next(a for a in _alerts(db, [subject], open_only=False) if a.id == alert_id)


# --- what other steps read: column controls, the city-wide view, the grading catalogue ------------------------------


def column_controls(db: Session, actor: Principal, code: str) -> dict[str, str]:
    """The column control an authorization draft offers per field: the rule set's control for the confirmed level
    (e.g. L4 → hidden), and hidden for every field not yet reviewed."""
    return {f.field: f.column_control for f in get_grading(db, actor, code).fields}


def draft_controls(db: Session, code: str) -> dict[str, tuple[str, str | None]]:
    """For the sandbox drafting an authorization: each field's offered control and its reviewed level (None while
    unreviewed, and then hidden). Only controls and levels, no evidence: the drafter need not see the grading."""
    return {
        f.field: (f.column_control, f.level if f.status != ReviewStatus.PROPOSED.value else None)
        for f in get_grading(db, system_principal("sandbox-draft"), code).fields
    }


def grade_of(db: Session, code: str) -> tuple[str, str] | None:
    """For the registry: the resource's level and its grade (general, important or core) under the rule set in
    force, or None while it has not been classified. Only the level, none of the grading's evidence."""
    grading_out = get_grading(db, system_principal("registry-check"), code)
    if grading_out.level is None:
        return None
    grades = {lv.code: lv.grade for lv in _ruleset(db).rules.levels}
    return grading_out.level, grades.get(grading_out.level, "general")


def overview(db: Session, actor: Principal) -> OverviewOut:
    """The city-wide view: how much data at each level, per department, by type; alerts and audits pending."""
    subjects = _graded_subjects(db, actor)
    in_force = _ruleset(db)
    rules = in_force.rules
    ids = {s.id: s for s in subjects}
    states = _states(db, ids)
    fields = _field_gradings(db, ids)
    rows_of = dict(
        db.execute(
            select(ClassificationRun.id, ClassificationRun.rows_total).where(
                ClassificationRun.id.in_({s.last_run_id for s in states.values()})
            )
        ).all()
    )
    by_level = {
        lv.code: LevelCount(level=lv.code, name=lv.name_zh, resources=0, fields=0, rows=0) for lv in rules.levels
    }
    for state in states.values():
        if state.level in by_level:
            by_level[state.level].resources += 1
            by_level[state.level].rows += rows_of.get(state.last_run_id, 0)
    types: Counter[str] = Counter()
    departments: dict[str, DepartmentCount] = {}
    for row in fields:
        kind, _, level = _in_force(row)
        types[kind] += 1
        if level in by_level:
            by_level[level].fields += 1
        subject = ids[row.resource_id]
        count = _department_count(departments, subject)
        if row.status == ReviewStatus.PROPOSED.value:
            count.fields_proposed += 1
        else:
            count.fields_reviewed += 1
    for resource_id, state in states.items():
        subject = ids[resource_id]
        count = _department_count(departments, subject)
        count.levels[state.level] = count.levels.get(state.level, 0) + 1
    proposed_resources = {row.resource_id for row in fields if row.status == ReviewStatus.PROPOSED.value}
    return OverviewOut(
        ruleset_version=in_force.version,
        levels=list(by_level.values()),
        departments=sorted(departments.values(), key=lambda d: d.department),
        unclassified=sum(1 for s in subjects if s.current_version is not None and s.id not in states),
        types=dict(types.most_common()),
        open_alerts=len(_alerts(db, subjects, open_only=True)),
        awaiting_audit=[
            AwaitingAudit(
                code=ids[rid].code, name=ids[rid].name, department_name=ids[rid].department_name, level=st.level
            )
            for rid, st in states.items()
            if st.audited_at is None and rid not in proposed_resources
        ],
    )


def _department_count(
    departments: dict[str, DepartmentCount], subject: catalog.ClassificationSubject
) -> DepartmentCount:
    return departments.setdefault(
        subject.department,
        DepartmentCount(
            department=subject.department,
            department_name=subject.department_name,
            levels={},
            fields_proposed=0,
            fields_reviewed=0,
        ),
    )


@dataclass(frozen=True)
class CatalogueSheet:
    title: str
    header: list[str]
    rows: list[list[Any]]


def _states(db: Session, resource_ids: Iterable[int]) -> dict[int, ResourceGrading]:
    stmt = select(ResourceGrading).where(ResourceGrading.resource_id.in_(set(resource_ids)))
    return {g.resource_id: g for g in db.scalars(stmt)}


def grading_catalogue(db: Session, actor: Principal) -> list[CatalogueSheet]:
    """The grading catalogue (分类分级清单): one row per field, one per resource, as the bureau files it."""
    subjects = _graded_subjects(db, actor)
    rules = _ruleset(db).rules
    states = _states(db, (s.id for s in subjects))
    gradings = _field_gradings(db, states)
    field_rows: list[list[Any]] = []
    resource_rows: list[list[Any]] = []
    for subject in subjects:
        state = states.get(subject.id)
        if state is None:
            continue
        resource_rows.append(
            [
                subject.department_name,
                subject.code,
                subject.name,
                state.level,
                _level_name(rules, state.level),
                state.level_rule,
                ", ".join(r["id"] for r in state.rules_applied),
                state.people,
                state.audited_by or "",
                state.audited_at.isoformat() if state.audited_at else "",
            ]
        )
        for f in _fields_out(subject, gradings, rules):
            field_rows.append(
                [
                    subject.department_name,
                    subject.code,
                    subject.name,
                    f.field,
                    f.label,
                    f.category,
                    f.level,
                    _level_name(rules, f.level),
                    f.sensitive or "",
                    f.info_type.value,
                    f.confidence,
                    f.status.value,
                    f.proposed_rule,
                    f.column_control,
                    f.reviewed_by or "",
                    f.reason,
                ]
            )
    return [
        CatalogueSheet(
            "数据项分类分级清单",
            [
                "数据提供单位",
                "数据资源代码",
                "数据资源名称",
                "数据项",
                "数据项名称",
                "类别",
                "级别",
                "级别名称",
                "敏感个人信息",
                "识别类型",
                "置信度",
                "状态",
                "依据规则",
                "默认列控制",
                "确认人",
                "理由",
            ],
            field_rows,
        ),
        CatalogueSheet(
            "数据资源分级清单",
            [
                "数据提供单位",
                "数据资源代码",
                "数据资源名称",
                "级别",
                "级别名称",
                "决定规则",
                "适用资源规则",
                "估计人数",
                "审核人",
                "审核时间",
            ],
            resource_rows,
        ),
    ]


def due_full_scans(db: Session, actor: Principal, *, older_than_days: int) -> list[str]:
    """Resources a scheduled full scan should cover: those with data whose current snapshot has no full run, or
    whose last full run is older than ``older_than_days``."""
    actor.require(perms.GRADING_RUN)
    subjects = [s for s in catalog.classification_subjects(db, actor) if s.managed and s.current_version is not None]
    states = _states(db, (s.id for s in subjects))
    full_runs = {
        r.id: r
        for r in db.scalars(
            select(ClassificationRun).where(
                ClassificationRun.id.in_({st.last_full_run_id for st in states.values() if st.last_full_run_id})
            )
        )
    }
    cutoff = utcnow() - timedelta(days=older_than_days)
    due = []
    for subject in subjects:
        state = states.get(subject.id)
        run = full_runs.get(state.last_full_run_id) if state and state.last_full_run_id else None
        if run is None or run.resource_version != subject.current_version or run.created_at < cutoff:
            due.append(subject.code)
    return due
