"""Every rule of authorized operation (授权运营): authorizations and their workflow, queries in the sandbox, the
privacy budget, egress review and saved analyses.

The workflow: an operator drafts an authorization (its column controls start from the confirmed grading) and
applies; each providing department consents for its resources; the data bureau approves, and the authorization is
active within its validity window; the bureau may suspend, resume or revoke it. Every step is audited.

A query is checked and rewritten with no database transaction open, spends its privacy budget in a short one
(atomically: concurrent queries cannot overspend), runs on the engine outside any transaction, and is recorded in
another with its result, which is kept as a lake snapshot of its own. A refused, failed or over-budget query is on
the record too.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker
from sqlglot import exp

from shengjing.audit.service import record, state_change
from shengjing.catalog import service as catalog
from shengjing.classify import service as classify
from shengjing.config import Settings
from shengjing.documents import parse_yaml_document
from shengjing.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ShengjingError
from shengjing.identity.models import Organization
from shengjing.identity.permissions import Permission
from shengjing.identity.principal import OrgType, Principal
from shengjing.sandbox import checker, privacy
from shengjing.sandbox import permissions as perms
from shengjing.sandbox.engines import EngineFailure, Limits, open_engine
from shengjing.sandbox.masks import mask_expression
from shengjing.sandbox.models import (
    Authorization,
    AuthorizationEvent,
    AuthorizedResource,
    BudgetLedger,
    QueryRun,
    SavedAnalysis,
)
from shengjing.sandbox.policy import (
    RESERVED_PREFIX,
    SQL_TYPES,
    ColumnPolicy,
    Control,
    Policy,
    Privacy,
    TablePolicy,
    parse_row_filter,
    table_name_for,
)
from shengjing.sandbox.rewriter import Rewritten, rewrite, source_name
from shengjing.sandbox.schemas import (
    AnalysisIn,
    AnalysisOut,
    AuthorizationDoc,
    AuthorizationOut,
    AuthorizationSummary,
    BudgetOut,
    ColumnRule,
    EventOut,
    Period,
    ResourceGrantOut,
    RunOut,
    ScenarioOut,
    Status,
    TableSchemaOut,
)
from shengjing.store.db import unit_of_work, utcnow
from shengjing.store.lake import Lake

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The states in which a document may still be edited, and those past which nothing changes any more.
EDITABLE = (Status.DRAFT.value, Status.REJECTED.value)
TERMINAL = (Status.REVOKED.value,)


class BudgetExhausted(ShengjingError):
    code = "budget_exhausted"
    http_status = 422
    exit_code = 2


# --- scenarios and documents ---------------------------------------------------------------------------------


@cache
def scenarios() -> tuple[ScenarioOut, ...]:
    text = resources.files("shengjing.sandbox").joinpath("scenarios.yaml").read_text(encoding="utf-8")
    return tuple(ScenarioOut(**item) for item in yaml.safe_load(text))


def _scenario(code: str) -> ScenarioOut:
    found = next((s for s in scenarios() if s.code == code), None)
    if found is None:
        raise InvalidInput(
            f"没有应用场景“{code}”（可用：{'、'.join(s.code for s in scenarios())}）。",
            f"No scenario '{code}' (available: {', '.join(s.code for s in scenarios())}).",
            field="scenario",
        )
    return found


def parse_document(text: str, *, file: str = "authorization") -> AuthorizationDoc:
    """An authorization document in YAML (or JSON), with errors that say where."""
    return parse_yaml_document(
        text, AuthorizationDoc, file=file, kind_zh="授权文档", kind_en="an authorization document"
    )


def document_text(doc: AuthorizationDoc) -> str:
    data = doc.model_dump(mode="json", exclude_none=True)
    for grant in data["resources"]:
        grant["columns"] = {
            name: rule["control"] if set(rule) == {"control"} else rule for name, rule in grant["columns"].items()
        }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# --- who may see and do what ---------------------------------------------------------------------------------


def _today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def _effective_status(authorization: Authorization) -> str:
    if authorization.status == Status.ACTIVE.value and _today() > authorization.valid_until:
        return Status.EXPIRED.value
    return authorization.status


def _departments(authorization: Authorization, subjects: dict[int, catalog.SandboxSubject]) -> set[int]:
    return {subjects[r.resource_id].department_id for r in authorization.resources}


def _visible(authorization: Authorization, actor: Principal, departments: set[int]) -> bool:
    """The data bureau sees every authorization; an operator its own; a department those naming its resources."""
    return actor.sees_all_orgs or authorization.operator_id == actor.org_id or actor.org_id in departments


def _subjects(db: Session, authorizations: Iterable[Authorization]) -> dict[int, catalog.SandboxSubject]:
    ids = {r.resource_id for a in authorizations for r in a.resources}
    return {s.id: s for s in catalog.sandbox_subjects(db, ids=ids)} if ids else {}


def _get(
    db: Session, actor: Principal, code: str, permission: Permission = perms.AUTHORIZATION_VIEW
) -> tuple[Authorization, dict[int, catalog.SandboxSubject]]:
    """The authorization ``code`` as ``actor`` may see it, once ``actor`` holds ``permission`` (the one the step
    needs: a department consenting needs its review permission, not more); NotFound for one it may not see."""
    actor.require(permission)
    authorization = db.scalar(select(Authorization).where(Authorization.code == code))
    if authorization is None:
        raise NotFound.of("授权", "authorization", code)
    subjects = _subjects(db, [authorization])
    if not _visible(authorization, actor, _departments(authorization, subjects)):
        raise NotFound.of("授权", "authorization", code)
    return authorization, subjects


def _require_operator(actor: Principal, authorization: Authorization, permission: Any) -> None:
    """Only the operator's own users (or the local system, or the bureau on its behalf where allowed)."""
    actor.require(permission)
    if actor.via != "system" and actor.org_id != authorization.operator_id:
        raise PermissionDenied(permission.name)


def _require_bureau(actor: Principal, permission: Any) -> None:
    actor.require(permission)
    if not actor.sees_all_orgs:
        raise PermissionDenied(permission.name)


def _event(
    db: Session, authorization: Authorization, actor: Principal, action: str, note: str = "", **more: Any
) -> None:
    db.add(
        AuthorizationEvent(
            authorization_id=authorization.id,
            action=action,
            resource=more.get("resource"),
            note=note,
            actor=actor.username,
        )
    )
    record(
        db,
        actor,
        f"sandbox.authorization.{action}",
        target_type="authorization",
        target_id=authorization.code,
        details={"status": authorization.status, **({"note": note} if note else {}), **more},
    )


# --- authorizations: drafting, saving, the workflow ----------------------------------------------------------


def draft_document(
    db: Session,
    actor: Principal,
    *,
    operator: str,
    scenario: str,
    resources_: list[str],
    title: str = "",
    purpose: str = "",
    days: int = 365,
) -> str:
    """A document to start from: each field's control offered by its confirmed grading (L4 hidden, L3 aggregate,
    L1/L2 plain; unreviewed fields hidden), differential privacy switched on when a field is aggregate-only."""
    actor.require(perms.AUTHORIZATION_ADD)
    _scenario(scenario)
    subjects = catalog.sandbox_subjects(db, resources_, visible_to=None if actor.sees_all_orgs else actor)
    grants = []
    any_aggregate = False
    for subject in subjects:
        offered = classify.draft_controls(db, subject.code)
        columns: dict[str, Any] = {}
        for name, _label, _type in subject.fields:
            control = offered.get(name, ("hidden", None))[0]
            columns[name] = control
            any_aggregate |= control == Control.AGGREGATE.value
        grants.append({"resource": subject.code, "table": table_name_for(subject.code), "columns": columns})
    start = _today()
    data: dict[str, Any] = {
        "operator": operator,
        "title": title or f"{_scenario(scenario).name_zh}数据授权运营",
        "scenario": scenario,
        "purpose": purpose or "（请填写使用目的）",
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=days)).isoformat(),
        "egress": "reviewed",
        "row_limit": 10_000,
        "min_group_size": 10,
        "resources": grants,
    }
    if any_aggregate:
        data["privacy"] = {"epsilon_per_query": 0.5, "budget": 10.0, "period": "month", "max_contributions": 1}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _validated(db: Session, actor: Principal, doc: AuthorizationDoc) -> tuple[Organization, list[AuthorizedResource]]:
    """The document checked against the catalog: the operator exists and is one, every resource exists (and, for
    an operator drafting, is one it can see in the catalog), every column, mask, bound and row filter holds."""
    operator = db.scalar(select(Organization).where(Organization.code == doc.operator))
    if operator is None or operator.org_type != OrgType.OPERATOR.value:
        raise InvalidInput(
            f"“{doc.operator}”不是平台上的运营机构。", f"'{doc.operator}' is not an operator here.", field="operator"
        )
    if not actor.sees_all_orgs and actor.org_id != operator.id:
        raise PermissionDenied(perms.AUTHORIZATION_ADD.name)
    _scenario(doc.scenario)
    subjects = catalog.sandbox_subjects(
        db, [g.resource for g in doc.resources], visible_to=None if actor.sees_all_orgs else actor
    )
    rows = []
    tables: set[str] = set()
    for position, (grant, subject) in enumerate(zip(doc.resources, subjects, strict=True)):
        table = grant.table or table_name_for(subject.code)
        if table in tables or table.startswith(RESERVED_PREFIX):
            raise InvalidInput(
                f"表名“{table}”重复或为保留名。", f"The table name '{table}' is repeated or reserved.", field="table"
            )
        tables.add(table)
        types = {name: data_type for name, _label, data_type in subject.fields}
        rules = grant.rules()
        for name, rule in rules.items():
            if name not in types:
                raise InvalidInput(
                    f"数据资源 {subject.code} 没有数据项“{name}”。",
                    f"Resource {subject.code} has no field '{name}'.",
                    resource=subject.code,
                    field=name,
                )
            sql_type = SQL_TYPES.get(types[name], "VARCHAR")
            if rule.mask is not None:
                mask_expression(rule.mask, exp.column(name), sql_type, "")
            if rule.bounds is not None and sql_type not in ("BIGINT", "DOUBLE"):
                raise InvalidInput(
                    f"数据项 {subject.code}.{name} 不是数值，不能声明取值范围。",
                    f"Field {subject.code}.{name} is not numeric: it takes no bounds.",
                    field=name,
                )
        row = AuthorizedResource(
            resource_id=subject.id,
            position=position,
            table_name=table,
            row_filter=grant.row_filter.strip(),
            columns={n: r.model_dump(mode="json", exclude_none=True) for n, r in rules.items()},
        )
        table_policy = _table_policy(row, subject)
        if row.row_filter:
            filter_tree = parse_row_filter(row.row_filter, table_policy)
            try:
                checker.check_row_filter(filter_tree, table_policy, Policy({table: table_policy}))
            except checker.QueryRefused as exc:
                first = exc.reasons[0]
                raise InvalidInput(
                    f"数据资源 {subject.code} 的行过滤条件有误：{first.message_zh}",
                    f"The row filter of resource {subject.code} does not hold: {first.message_en}",
                    resource=subject.code,
                    field="row_filter",
                ) from None
        rows.append(row)
    if doc.privacy is not None and doc.privacy.unit is not None:
        unit_table, _, unit_column = doc.privacy.unit.partition(".")
        matching = [(r, s) for r, s in zip(rows, subjects, strict=True) if r.table_name == unit_table]
        if not matching or unit_column not in {f for f, _l, _t in matching[0][1].fields}:
            raise InvalidInput(
                f"差分隐私的个人标识列 {doc.privacy.unit} 不在本授权的表中。",
                f"The privacy unit {doc.privacy.unit} is not a column of this authorization's tables.",
                field="privacy.unit",
            )
    return operator, rows


def _next_code(db: Session) -> str:
    year = _today().year
    prefix = f"SQ-{year}-"
    last = db.scalar(select(func.max(Authorization.code)).where(Authorization.code.startswith(prefix)))
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


def _apply_document(authorization: Authorization, doc: AuthorizationDoc, text: str) -> None:
    authorization.title = doc.title
    authorization.scenario = doc.scenario
    authorization.purpose = doc.purpose
    authorization.valid_from = doc.valid_from
    authorization.valid_until = doc.valid_until
    authorization.egress = doc.egress.value
    authorization.row_limit = doc.row_limit
    authorization.min_group_size = doc.min_group_size
    authorization.privacy = doc.privacy.model_dump(mode="json") if doc.privacy is not None else None
    authorization.document = text
    authorization.updated_at = utcnow()


@state_change("sandbox.authorization.add", "authorization")
def create_authorization(db: Session, actor: Principal, text: str, *, file: str = "authorization") -> AuthorizationOut:
    """Save a new authorization from its document, as a draft of the operator it names."""
    actor.require(perms.AUTHORIZATION_ADD)
    doc = parse_document(text, file=file)
    operator, rows = _validated(db, actor, doc)
    authorization = Authorization(
        code=_next_code(db),
        operator_id=operator.id,
        status=Status.DRAFT.value,
        salt=secrets.token_hex(16),
        created_by=actor.username,
    )
    _apply_document(authorization, doc, document_text(doc))
    authorization.resources = rows
    db.add(authorization)
    db.flush()
    _event(db, authorization, actor, "add")
    return _authorization_out(db, authorization, _subjects(db, [authorization]))


@state_change("sandbox.authorization.change", "authorization")
def update_authorization(db: Session, actor: Principal, code: str, text: str) -> AuthorizationOut:
    """Replace a draft's (or a rejected authorization's) document; an applied one must be rejected first."""
    authorization, _ = _get(db, actor, code, perms.AUTHORIZATION_ADD)
    _require_operator(actor, authorization, perms.AUTHORIZATION_ADD)
    if authorization.status not in EDITABLE:
        raise Conflict(
            "只有草稿或被退回的授权可以修改。", "Only a draft or a rejected authorization can be edited.", code=code
        )
    doc = parse_document(text)
    operator, rows = _validated(db, actor, doc)
    if operator.id != authorization.operator_id:
        raise InvalidInput(
            "不能更改授权的运营机构。", "The operator of an authorization cannot change.", field="operator"
        )
    _apply_document(authorization, doc, document_text(doc))
    _replace_resources(db, authorization, rows)
    authorization.revision += 1
    db.flush()
    _event(db, authorization, actor, "change", revision=authorization.revision)
    return _authorization_out(db, authorization, _subjects(db, [authorization]))


def _replace_resources(db: Session, authorization: Authorization, rows: list[AuthorizedResource]) -> None:
    """The document's resources in place of the old ones: a kept resource keeps its row (one per authorization and
    resource), updated; a dropped one is deleted before a new one is added."""
    kept = {row.resource_id: row for row in authorization.resources}
    wanted = {row.resource_id for row in rows}
    for resource_id, row in list(kept.items()):
        if resource_id not in wanted:
            authorization.resources.remove(row)
    db.flush()
    for new in rows:
        old = kept.get(new.resource_id)
        if old is None:
            authorization.resources.append(new)
            continue
        old.position, old.table_name = new.position, new.table_name
        old.row_filter, old.columns = new.row_filter, new.columns


@state_change("sandbox.authorization.apply", "authorization")
def apply(db: Session, actor: Principal, code: str, note: str = "") -> AuthorizationOut:
    """The operator applies: every providing department is asked to consent (again, after a rejection)."""
    authorization, subjects = _get(db, actor, code, perms.AUTHORIZATION_ADD)
    _require_operator(actor, authorization, perms.AUTHORIZATION_ADD)
    _move(authorization, EDITABLE, Status.APPLIED)
    for row in authorization.resources:
        row.consent, row.consent_by, row.consent_at, row.consent_note = "pending", None, None, ""
    _event(db, authorization, actor, "apply", note)
    return _authorization_out(db, authorization, subjects)


def _move(authorization: Authorization, allowed_from: Iterable[str], to: Status, note: str = "") -> None:
    allowed = tuple(allowed_from)
    if authorization.status not in allowed:
        raise Conflict(
            f"授权当前状态为“{authorization.status}”，不能执行此操作（需为 {'/'.join(allowed)}）。",
            f"The authorization is {authorization.status}; this step needs {'/'.join(allowed)}.",
            status=authorization.status,
        )
    authorization.status = to.value
    authorization.status_note = note
    authorization.updated_at = utcnow()


@state_change("sandbox.authorization.consent", "authorization")
def consent(db: Session, actor: Principal, code: str, resource: str, decision: str, note: str = "") -> AuthorizationOut:
    """A providing department consents (or refuses, with a reason) for its own resource. When every department has
    consented, the authorization waits for the data bureau; a refusal sends it back to the operator."""
    authorization, subjects = _get(db, actor, code, perms.AUTHORIZATION_REVIEW)
    row = next((r for r in authorization.resources if subjects[r.resource_id].code == resource), None)
    if row is None:
        raise NotFound.of("授权中的数据资源", "resource of the authorization", resource)
    if actor.via != "system" and actor.org_id != subjects[row.resource_id].department_id:
        raise PermissionDenied(perms.AUTHORIZATION_REVIEW.name)
    if authorization.status != Status.APPLIED.value:
        raise Conflict(
            "只有已申请的授权需要数据提供单位同意。",
            "Only an applied authorization awaits consent.",
            status=authorization.status,
        )
    if decision == "refuse" and not note.strip():
        raise InvalidInput("拒绝时须写明理由。", "A refusal needs a reason.", field="note")
    row.consent = "consented" if decision == "consent" else "refused"
    row.consent_by, row.consent_at, row.consent_note = actor.username, utcnow(), note
    if row.consent == "refused":
        _move(authorization, [Status.APPLIED.value], Status.REJECTED, f"{resource}: {note}")
    elif all(r.consent == "consented" for r in authorization.resources):
        _move(authorization, [Status.APPLIED.value], Status.CONSENTED)
    _event(db, authorization, actor, "consent", note, resource=resource, decision=decision)
    return _authorization_out(db, authorization, subjects)


@dataclass(frozen=True)
class BureauStep:
    """A step the data bureau takes on an authorization: from which states, to which, whether it needs a reason."""

    allowed_from: tuple[str, ...]
    to: Status
    reason_required: bool


BUREAU_STEPS: dict[str, BureauStep] = {
    "approve": BureauStep((Status.CONSENTED.value,), Status.ACTIVE, False),
    "reject": BureauStep((Status.APPLIED.value, Status.CONSENTED.value), Status.REJECTED, True),
    "suspend": BureauStep((Status.ACTIVE.value,), Status.SUSPENDED, True),
    "resume": BureauStep((Status.SUSPENDED.value,), Status.ACTIVE, False),
    "revoke": BureauStep(
        tuple(s.value for s in Status if s.value not in TERMINAL and s is not Status.EXPIRED), Status.REVOKED, True
    ),
}


def bureau_steps(actor: Principal, status: str) -> list[str]:
    """The data bureau's steps ``actor`` may take on an authorization in ``status`` (none for anyone else)."""
    if not (actor.has(perms.AUTHORIZATION_AUDIT) and actor.sees_all_orgs):
        return []
    stored = Status.ACTIVE.value if status == Status.EXPIRED.value else status
    return [name for name, step in BUREAU_STEPS.items() if stored in step.allowed_from]


def _bureau_step(action: str) -> Any:
    rule = BUREAU_STEPS[action]

    @state_change(f"sandbox.authorization.{action}", "authorization")
    def step(db: Session, actor: Principal, code: str, note: str = "") -> AuthorizationOut:
        authorization, subjects = _get(db, actor, code, perms.AUTHORIZATION_AUDIT)
        _require_bureau(actor, perms.AUTHORIZATION_AUDIT)
        if rule.reason_required and not note.strip():
            raise InvalidInput("须写明理由。", "A reason is required.", field="note")
        _move(authorization, rule.allowed_from, rule.to, note)
        if action == "approve":
            authorization.approved_by, authorization.approved_at = actor.username, utcnow()
        _event(db, authorization, actor, action, note)
        return _authorization_out(db, authorization, subjects)

    step.__name__ = step.__qualname__ = action
    return step


approve, reject, suspend, resume, revoke = (_bureau_step(name) for name in BUREAU_STEPS)


# --- reading authorizations -----------------------------------------------------------------------------------


def _column_out(rule: dict[str, Any] | None, label: str, data_type: str) -> dict[str, Any]:
    rule = rule or {"control": Control.HIDDEN.value}
    return {"label": label, "data_type": data_type, **rule}


def _authorization_out(
    db: Session, authorization: Authorization, subjects: dict[int, catalog.SandboxSubject]
) -> AuthorizationOut:
    operator = db.get(Organization, authorization.operator_id)
    assert operator is not None  # noqa: S101 - a foreign key
    grants = []
    for row in authorization.resources:
        subject = subjects[row.resource_id]
        grants.append(
            ResourceGrantOut(
                resource=subject.code,
                resource_name=subject.name,
                department=subject.department,
                department_name=subject.department_name,
                table=row.table_name,
                row_filter=row.row_filter,
                columns={name: _column_out(row.columns.get(name), label, t) for name, label, t in subject.fields},
                consent=row.consent,
                consent_by=row.consent_by,
                consent_at=row.consent_at,
                consent_note=row.consent_note,
                current_version=subject.current_version,
            )
        )
    events = db.scalars(
        select(AuthorizationEvent)
        .where(AuthorizationEvent.authorization_id == authorization.id)
        .order_by(AuthorizationEvent.id)
    )
    return AuthorizationOut(
        code=authorization.code,
        title=authorization.title,
        operator=operator.code,
        operator_name=operator.name,
        scenario=authorization.scenario,
        scenario_name=_scenario(authorization.scenario).name_zh,
        purpose=authorization.purpose,
        valid_from=authorization.valid_from,
        valid_until=authorization.valid_until,
        egress=authorization.egress,
        row_limit=authorization.row_limit,
        min_group_size=authorization.min_group_size,
        privacy=authorization.privacy,
        status=_effective_status(authorization),
        status_note=authorization.status_note,
        revision=authorization.revision,
        created_by=authorization.created_by,
        created_at=authorization.created_at,
        updated_at=authorization.updated_at,
        approved_by=authorization.approved_by,
        approved_at=authorization.approved_at,
        resources=grants,
        document=authorization.document,
        budgets=_budgets(db, authorization, subjects),
        events=[EventOut(action=e.action, resource=e.resource, note=e.note, actor=e.actor, at=e.at) for e in events],
    )


def get_authorization(db: Session, actor: Principal, code: str) -> AuthorizationOut:
    authorization, subjects = _get(db, actor, code)
    return _authorization_out(db, authorization, subjects)


def list_authorizations(db: Session, actor: Principal, *, status: str | None = None) -> list[AuthorizationSummary]:
    """The authorizations the actor may see, newest first, with those awaiting the actor's organization marked."""
    actor.require(perms.AUTHORIZATION_VIEW)
    found = list(db.scalars(select(Authorization).order_by(Authorization.id.desc())))
    subjects = _subjects(db, found)
    operators = {
        o.id: o for o in db.scalars(select(Organization).where(Organization.id.in_({a.operator_id for a in found})))
    }
    out = []
    for authorization in found:
        departments = _departments(authorization, subjects)
        if not _visible(authorization, actor, departments):
            continue
        effective = _effective_status(authorization)
        if status and effective != status:
            continue
        out.append(
            AuthorizationSummary(
                code=authorization.code,
                title=authorization.title,
                operator=operators[authorization.operator_id].code,
                operator_name=operators[authorization.operator_id].name,
                scenario=authorization.scenario,
                status=effective,
                valid_from=authorization.valid_from,
                valid_until=authorization.valid_until,
                resources=[subjects[r.resource_id].code for r in authorization.resources],
                awaiting_me=_awaits(authorization, actor, subjects),
            )
        )
    return out


def _awaits(authorization: Authorization, actor: Principal, subjects: dict[int, catalog.SandboxSubject]) -> bool:
    if authorization.status == Status.APPLIED.value and actor.has(perms.AUTHORIZATION_REVIEW):
        return any(
            r.consent == "pending" and subjects[r.resource_id].department_id == actor.org_id
            for r in authorization.resources
        )
    if authorization.status == Status.CONSENTED.value:
        return actor.has(perms.AUTHORIZATION_AUDIT) and actor.sees_all_orgs and actor.via != "system"
    if authorization.status == Status.REJECTED.value:
        return actor.org_id == authorization.operator_id
    return False


# --- the policy an authorization puts in force ------------------------------------------------------------------


def _table_policy(row: AuthorizedResource, subject: catalog.SandboxSubject) -> TablePolicy:
    columns = {}
    for name, label, data_type in subject.fields:
        rule = ColumnRule.model_validate(row.columns.get(name, {"control": Control.HIDDEN.value}))
        columns[name.lower()] = ColumnPolicy(
            name=name,
            control=rule.control,
            sql_type=SQL_TYPES.get(data_type, "VARCHAR"),
            label=label,
            mask=rule.mask,
            bounds=rule.bounds,
        )
    identifying = frozenset(name.lower() for name in subject.identifying_fields)
    table = TablePolicy(row.table_name, subject.code, columns, identifying=identifying)
    if row.row_filter:
        return replace(table, row_filter=parse_row_filter(row.row_filter, table))
    return table


def policy_of(authorization: Authorization, subjects: dict[int, catalog.SandboxSubject]) -> Policy:
    tables = {row.table_name: _table_policy(row, subjects[row.resource_id]) for row in authorization.resources}
    dp = None
    if authorization.privacy:
        settings = authorization.privacy
        unit = None
        if settings.get("unit"):
            table, _, column = settings["unit"].partition(".")
            unit = (table, column)
        dp = Privacy(
            epsilon=float(settings["epsilon_per_query"]),
            budget=float(settings["budget"]),
            period=settings.get("period", "month"),
            delta=float(settings.get("delta", 1e-6)),
            unit=unit,
            max_contributions=int(settings.get("max_contributions", 1)),
        )
    return Policy(
        tables=tables,
        min_group_size=authorization.min_group_size,
        row_limit=authorization.row_limit,
        privacy=dp,
        salt=authorization.salt,
    )


def schema(db: Session, actor: Principal, code: str) -> list[TableSchemaOut]:
    """What the workbench's schema browser shows: the tables an operator may query and each column's control."""
    authorization, subjects = _get(db, actor, code)
    policy = policy_of(authorization, subjects)
    out = []
    for row in authorization.resources:
        subject = subjects[row.resource_id]
        table = policy.tables[row.table_name]
        out.append(
            TableSchemaOut(
                table=row.table_name,
                resource=subject.code,
                resource_name=subject.name,
                row_filter=row.row_filter,
                columns=[
                    {
                        "name": c.name,
                        "label": c.label,
                        "data_type": c.sql_type,
                        "control": c.control.value,
                        "mask": c.mask,
                        "bounds": list(c.bounds) if c.bounds else None,
                    }
                    for c in table.columns.values()
                ],
            )
        )
    return out


# --- the privacy budget -------------------------------------------------------------------------------------------


def _period_start(period: str, today: date, valid_from: date) -> date:
    match period:
        case Period.DAY.value:
            return today
        case Period.WEEK.value:
            return today - timedelta(days=today.weekday())
        case Period.MONTH.value:
            return today.replace(day=1)
        case Period.QUARTER.value:
            return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
        case Period.YEAR.value:
            return today.replace(month=1, day=1)
    return valid_from


def _budgets(db: Session, authorization: Authorization, subjects: dict[int, catalog.SandboxSubject]) -> list[BudgetOut]:
    """What is left of each resource's budget in the current period (untouched periods are shown whole)."""
    if not authorization.privacy:
        return []
    settings = authorization.privacy
    start = _period_start(settings.get("period", "month"), _today(), authorization.valid_from)
    spent = {
        row.resource_id: row
        for row in db.scalars(
            select(BudgetLedger).where(
                BudgetLedger.authorization_id == authorization.id, BudgetLedger.period_start == start
            )
        )
    }
    total = float(settings["budget"])
    out = []
    for row in authorization.resources:
        used = spent[row.resource_id].spent if row.resource_id in spent else 0.0
        out.append(
            BudgetOut(
                resource=subjects[row.resource_id].code,
                period_start=start,
                period=settings.get("period", "month"),
                total=total,
                spent=round(used, 6),
                left=round(max(total - used, 0.0), 6),
            )
        )
    return out


def _spend(db: Session, authorization: Authorization, resource_ids: list[int], epsilon: float) -> None:
    """Spend ``epsilon`` of each resource's budget for this period, all or none. The conditional UPDATE is atomic
    on both databases (PostgreSQL re-checks the condition on the locked row), so concurrent queries cannot
    overspend; resources are locked in one order, so two queries never wait on each other."""
    settings = authorization.privacy or {}
    start = _period_start(settings.get("period", "month"), _today(), authorization.valid_from)
    total = float(settings["budget"])
    insert = postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    for resource_id in sorted(resource_ids):
        db.execute(
            insert(BudgetLedger)
            .values(
                authorization_id=authorization.id, resource_id=resource_id, period_start=start, total=total, spent=0.0
            )
            .on_conflict_do_nothing(index_elements=["authorization_id", "resource_id", "period_start"])
        )
        spent = db.execute(
            update(BudgetLedger)
            .where(
                BudgetLedger.authorization_id == authorization.id,
                BudgetLedger.resource_id == resource_id,
                BudgetLedger.period_start == start,
                BudgetLedger.spent + epsilon <= BudgetLedger.total + 1e-9,
            )
            .values(spent=BudgetLedger.spent + epsilon)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise BudgetExhausted(
                f"本期隐私预算已不足以再运行一次查询（每次 ε = {epsilon:g}）。",
                f"The privacy budget of this period cannot pay for another query (ε = {epsilon:g} each).",
                resource_id=resource_id,
            )


# --- queries ------------------------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    authorization_id: int
    code: str
    org_id: int | None
    egress: str
    policy: Policy
    files: dict[str, list[Path]]  # engine source → snapshot files
    versions: dict[str, int]  # resource → version
    resource_ids: dict[str, int]
    settings: Settings


def _prepare(db: Session, actor: Principal, code: str) -> _Prepared:
    authorization, subjects = _get(db, actor, code, perms.QUERY_RUN)
    _require_operator(actor, authorization, perms.QUERY_RUN)
    effective = _effective_status(authorization)
    if effective != Status.ACTIVE.value:
        raise Conflict(
            f"授权 {code} 当前为“{effective}”，不能查询。",
            f"Authorization {code} is {effective}: no queries.",
            status=effective,
        )
    if _today() < authorization.valid_from:
        raise Conflict(
            f"授权 {code} 自 {authorization.valid_from} 起生效。",
            f"Authorization {code} is valid from {authorization.valid_from}.",
            status="not_yet_valid",
        )
    settings: Settings = db.info["settings"]
    lake = Lake(settings.lake_path)
    files: dict[str, list[Path]] = {}
    versions: dict[str, int] = {}
    for row in authorization.resources:
        subject = subjects[row.resource_id]
        if subject.current_version is None:
            continue
        snapshot = lake.dataset("resource", subject.code).snapshot(subject.current_version)
        files[source_name(row.table_name)] = list(snapshot.files)
        versions[subject.code] = subject.current_version
    return _Prepared(
        authorization_id=authorization.id,
        code=code,
        org_id=actor.org_id,
        egress=authorization.egress,
        policy=policy_of(authorization, subjects),
        files=files,
        versions=versions,
        resource_ids={subjects[r.resource_id].code: r.resource_id for r in authorization.resources},
        settings=settings,
    )


def _record_run(db: Session, actor: Principal, run: QueryRun, outcome: str) -> None:
    db.add(run)
    db.flush()
    record(
        db,
        actor,
        "sandbox.query.run",
        target_type="query_run",
        target_id=run.id,
        outcome=outcome,
        details={
            "authorization_id": run.authorization_id,
            "status": run.status,
            "engine": run.engine,
            "epsilon": run.epsilon,
            **({"reasons": [r["code"] for r in run.reasons]} if run.reasons else {}),
        },
    )


def run_query(
    sessions: sessionmaker[Session],
    actor: Principal,
    code: str,
    sql: str,
    *,
    engine: str | None = None,
    analysis_id: int | None = None,
) -> RunOut:
    """Check, rewrite, spend, run, record: see the module's docstring. A refusal is recorded, then raised."""
    started = time.perf_counter()
    try:
        with unit_of_work(sessions) as db:
            prepared = _prepare(db, actor, code)
    except Exception as exc:  # not allowed to query at all: on the record, though no run was made
        with unit_of_work(sessions) as db:
            record(
                db,
                actor,
                "sandbox.query.run",
                target_type="authorization",
                target_id=code,
                outcome="denied" if isinstance(exc, PermissionDenied | NotFound) else "failed",
                details={"error": getattr(exc, "code", type(exc).__name__)},
            )
        raise
    engine_name = engine or prepared.settings.sandbox_engine

    def refused(status: str, reasons: list[dict[str, Any]], rewritten: str = "") -> QueryRun:
        return QueryRun(
            authorization_id=prepared.authorization_id,
            analysis_id=analysis_id,
            org_id=prepared.org_id,
            actor=actor.username,
            sql=sql,
            rewritten_sql=rewritten,
            engine=engine_name,
            status=status,
            reasons=reasons,
            snapshots=prepared.versions,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )

    try:
        checked = checker.check(sql, prepared.policy)
        missing = [r for r in checked.resources if r not in prepared.versions]
        if missing:
            raise InvalidInput(
                f"数据资源 {missing[0]} 还没有数据。", f"Resource {missing[0]} holds no data yet.", resource=missing[0]
            )
        rewritten = rewrite(checked, prepared.policy)
    except (checker.QueryRefused, InvalidInput) as exc:
        reasons = exc.details.get("reasons") or [
            {"code": exc.code, "message_zh": exc.message_zh, "message_en": exc.message_en}
        ]
        with unit_of_work(sessions) as db:
            recorded = refused("refused", reasons)
            _record_run(db, actor, recorded, "denied")
        exc.details["run_id"] = recorded.id
        raise
    epsilon = prepared.policy.privacy.epsilon if rewritten.dp is not None and prepared.policy.privacy else 0.0
    run = refused("running", [], rewritten.sql(open_engine(engine_name).dialect))
    run.epsilon = epsilon
    run.snapshots = {r: prepared.versions[r] for r in checked.resources}
    try:
        with unit_of_work(sessions) as db:
            if epsilon:
                authorization = db.get(Authorization, prepared.authorization_id)
                assert authorization is not None  # noqa: S101 - read just before
                _spend(db, authorization, [prepared.resource_ids[r] for r in checked.resources], epsilon)
            _record_run(db, actor, run, "success")
            run_id = run.id
    except BudgetExhausted as exc:
        with unit_of_work(sessions) as db:
            over = refused("refused", [{"code": exc.code, "message_zh": exc.message_zh, "message_en": exc.message_en}])
            _record_run(db, actor, over, "denied")
        exc.details["run_id"] = over.id
        raise
    try:
        table, suppressed = _execute(prepared, rewritten, engine_name)
    except EngineFailure as exc:
        # The budget stays spent: a failure, too, answers a question about the data.
        with unit_of_work(sessions) as db:
            failed = db.get(QueryRun, run_id)
            assert failed is not None  # noqa: S101
            failed.status = "failed"
            failed.reasons = [{"code": exc.code, "message_zh": exc.message_zh, "message_en": exc.message_en}]
            failed.duration_ms = round((time.perf_counter() - started) * 1000)
            record(
                db,
                actor,
                "sandbox.query.run",
                target_type="query_run",
                target_id=run_id,
                outcome="failed",
                details={"error": exc.code},
            )
        exc.details["run_id"] = run_id
        raise
    truncated = rewritten.dp is None and table.num_rows > rewritten.row_limit
    table = table.slice(0, rewritten.row_limit)
    snapshot = _store_result(prepared.settings, run_id, table, prepared.code)
    with unit_of_work(sessions) as db:
        done = db.get(QueryRun, run_id)
        assert done is not None  # noqa: S101
        done.status = "released" if prepared.egress == "automatic" else "pending_review"
        done.rows_out, done.truncated, done.suppressed = table.num_rows, truncated, suppressed
        done.result_version, done.result_fingerprint = snapshot.version, snapshot.fingerprint
        done.duration_ms = round((time.perf_counter() - started) * 1000)
        record(
            db,
            actor,
            "sandbox.query.run",
            target_type="query_run",
            target_id=run_id,
            details={"status": done.status, "rows": table.num_rows, "epsilon": epsilon},
        )
        return _run_out(db, actor, done, with_rows=True)


def _execute(prepared: _Prepared, rewritten: Rewritten, engine_name: str) -> tuple[pa.Table, int]:
    engine = open_engine(engine_name, spark_master=prepared.settings.spark_master)
    sources = {name: prepared.files[name] for name in rewritten.sources}
    limits = Limits(
        seconds=prepared.settings.sandbox_time_limit_seconds,
        memory=prepared.settings.sandbox_memory_limit,
        threads=prepared.settings.sandbox_threads,
    )
    table = engine.run(rewritten.sql(engine.dialect), sources, fetch=rewritten.fetch, limits=limits)
    if rewritten.dp is None:
        return table, 0
    released = privacy.release(rewritten.dp, table.to_pydict())
    columns = {name: [row[i] for row in released.rows] for i, name in enumerate(released.columns)}
    return pa.table(columns) if released.columns else pa.table({}), released.suppressed


def _store_result(settings: Settings, run_id: int, table: pa.Table, code: str) -> Any:
    """The result, kept as a lake snapshot of its own: what an egress reviewer sees, what is downloaded, and what a
    data product later registers by its fingerprint."""
    dataset = Lake(settings.lake_path).dataset("result", str(run_id))
    with dataset.write_snapshot(authorization=code, run=run_id) as staging:
        pq.write_table(table, staging.path / "part-0.parquet")
    assert staging.snapshot is not None  # noqa: S101 - committed by the block
    return staging.snapshot


def _result(settings: Settings, run: QueryRun) -> pa.Table:
    if run.result_version is None:
        return pa.table({})
    snapshot = Lake(settings.lake_path).dataset("result", str(run.id)).snapshot(run.result_version)
    return pq.read_table(snapshot.files)


def _json_value(value: Any) -> Any:
    """A result's value as JSON gives it: decimals as numbers (downloads keep them exact), no NaN or infinity."""
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _released(run: QueryRun) -> bool:
    return run.status in ("released", "approved")


def _run_out(db: Session, actor: Principal, run: QueryRun, *, with_rows: bool = False) -> RunOut:
    """A run as its viewer may see it: the rows only once they may leave (or to an egress reviewer)."""
    authorization = db.get(Authorization, run.authorization_id)
    analysis = db.get(SavedAnalysis, run.analysis_id) if run.analysis_id else None
    columns: list[str] = []
    rows = None
    may_see = _released(run) or (actor.has(perms.EGRESS_REVIEW) and actor.sees_all_orgs)
    if with_rows and may_see and run.result_version is not None:
        table = _result(db.info["settings"], run)
        columns = table.column_names
        rows = [[_json_value(v) for v in row.values()] for row in table.to_pylist()]
    return RunOut(
        id=run.id,
        authorization=authorization.code if authorization else "",
        analysis=analysis.name if analysis else None,
        actor=run.actor,
        sql=run.sql,
        rewritten_sql=run.rewritten_sql,
        engine=run.engine,
        status=run.status,
        reasons=run.reasons,
        snapshots=run.snapshots,
        rows_out=run.rows_out,
        truncated=run.truncated,
        suppressed=run.suppressed,
        epsilon=run.epsilon,
        duration_ms=run.duration_ms,
        created_at=run.created_at,
        reviewed_by=run.reviewed_by,
        reviewed_at=run.reviewed_at,
        review_note=run.review_note,
        columns=columns,
        rows=rows,
        may_download=_released(run) and (actor.via == "system" or actor.org_id == run.org_id),
    )


def _visible_run(db: Session, actor: Principal, run_id: int) -> QueryRun:
    actor.require(perms.QUERY_VIEW)
    run = db.get(QueryRun, run_id)
    if run is None or not (actor.sees_all_orgs or run.org_id == actor.org_id):
        raise NotFound.of("查询记录", "query run", run_id)
    return run


def authorized_resources(db: Session) -> dict[int, list[str]]:
    """For the registry: the resources (by id) that authorizations in force may use, each with their codes. The
    resources in the authorized-operation scope must be registered."""
    found: dict[int, list[str]] = {}
    for authorization in db.scalars(select(Authorization).where(Authorization.status == Status.ACTIVE.value)):
        if _effective_status(authorization) == Status.ACTIVE.value:
            for row in authorization.resources:
                found.setdefault(row.resource_id, []).append(authorization.code)
    return found


def released_result(db: Session, actor: Principal, run_id: int) -> tuple[int, str]:
    """For registering a data product: the lake snapshot (version, fingerprint) of a run's result once it may
    leave the sandbox, and only for the operator whose run it is."""
    run = _visible_run(db, actor, run_id)
    if actor.via != "system" and actor.org_id != run.org_id:
        raise NotFound.of("查询记录", "query run", run_id)
    if not _released(run) or run.result_version is None or run.result_fingerprint is None:
        raise Conflict(
            f"查询记录 #{run_id} 的结果尚未获准出域，不能作为数据产品登记。",
            f"The result of run #{run_id} has not been released from the sandbox: it cannot be registered.",
            run=run_id,
        )
    return run.result_version, run.result_fingerprint


def get_run(db: Session, actor: Principal, run_id: int) -> RunOut:
    return _run_out(db, actor, _visible_run(db, actor, run_id), with_rows=True)


def list_runs(
    db: Session, actor: Principal, *, authorization: str | None = None, status: str | None = None, limit: int = 100
) -> list[RunOut]:
    """Runs newest first: an operator's own organization's, or (the data bureau) everyone's."""
    actor.require(perms.QUERY_VIEW)
    stmt = select(QueryRun).order_by(QueryRun.id.desc()).limit(limit)
    if not actor.sees_all_orgs:
        stmt = stmt.where(QueryRun.org_id == actor.org_id)
    if authorization:
        found = db.scalar(select(Authorization.id).where(Authorization.code == authorization))
        stmt = stmt.where(QueryRun.authorization_id == (found or -1))
    if status:
        stmt = stmt.where(QueryRun.status == status)
    return [_run_out(db, actor, run) for run in db.scalars(stmt)]


# --- egress review (出域审核) and downloads ------------------------------------------------------------------


@state_change("sandbox.egress.review", "query_run")
def review_egress(db: Session, actor: Principal, run_id: int, decision: str, note: str = "") -> RunOut:
    """A reviewer of the data bureau lets a result leave, or holds it back with a reason."""
    _require_bureau(actor, perms.EGRESS_REVIEW)
    run = db.get(QueryRun, run_id)  # the data bureau's reviewer sees every organization's runs
    if run is None:
        raise NotFound.of("查询记录", "query run", run_id)
    if run.status != "pending_review":
        raise Conflict("该结果不在待审核状态。", "This result is not waiting for review.", status=run.status)
    if decision == "reject" and not note.strip():
        raise InvalidInput("不予出域时须写明理由。", "Holding a result back needs a reason.", field="note")
    run.status = "approved" if decision == "approve" else "rejected"
    run.reviewed_by, run.reviewed_at, run.review_note = actor.username, utcnow(), note
    record(
        db,
        actor,
        "sandbox.egress.review",
        target_type="query_run",
        target_id=run.id,
        details={"decision": decision, **({"note": note} if note else {})},
    )
    return _run_out(db, actor, run, with_rows=True)


def result_table(db: Session, actor: Principal, run_id: int) -> pa.Table:
    """The result to download: only once it may leave, and only to the operator that ran it."""
    run = _visible_run(db, actor, run_id)
    if not _released(run):
        raise Conflict(
            "该结果尚未获准出域，不能下载。",
            "This result has not been allowed to leave: it cannot be downloaded.",
            status=run.status,
        )
    if actor.via != "system" and actor.org_id != run.org_id:
        raise PermissionDenied(perms.QUERY_RUN.name)
    record(db, actor, "sandbox.result.download", target_type="query_run", target_id=run.id)
    return _result(db.info["settings"], run)


def result_bytes(db: Session, actor: Principal, run_id: int, fmt: str) -> tuple[bytes, str]:
    """The downloadable file (CSV in UTF-8 with a BOM for Excel, XLSX or Parquet) and its media type."""
    import io

    table = result_table(db, actor, run_id)
    if fmt == "parquet":
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue(), "application/vnd.apache.parquet"
    if fmt == "xlsx":
        from shengjing.exports import XLSX_MEDIA_TYPE, xlsx_bytes

        rows = [[_json_value(v) for v in row.values()] for row in table.to_pylist()]
        return xlsx_bytes([(f"结果{run_id}", table.column_names, rows)]), XLSX_MEDIA_TYPE
    import pyarrow.csv as pacsv

    sink = io.BytesIO()
    sink.write("\ufeff".encode())
    pacsv.write_csv(table, sink)
    return sink.getvalue(), "text/csv; charset=utf-8"


# --- saved analyses ------------------------------------------------------------------------------------------


@state_change("sandbox.analysis.add", "saved_analysis")
def save_analysis(db: Session, actor: Principal, code: str, data: AnalysisIn) -> AnalysisOut:
    """Save (or replace, by name) an analysis under an authorization; its SQL is checked as a query would be."""
    authorization, subjects = _get(db, actor, code, perms.ANALYSIS_ADD)
    _require_operator(actor, authorization, perms.ANALYSIS_ADD)
    checker.check(data.sql, policy_of(authorization, subjects))
    analysis = db.scalar(
        select(SavedAnalysis).where(SavedAnalysis.authorization_id == authorization.id, SavedAnalysis.name == data.name)
    )
    if analysis is None:
        analysis = SavedAnalysis(authorization_id=authorization.id, name=data.name, created_by=actor.username, sql="")
        db.add(analysis)
    analysis.description, analysis.sql, analysis.engine, analysis.updated_at = (
        data.description,
        data.sql,
        data.engine,
        utcnow(),
    )
    db.flush()
    record(
        db,
        actor,
        "sandbox.analysis.add",
        target_type="saved_analysis",
        target_id=analysis.id,
        details={"authorization": code, "name": data.name},
    )
    return _analysis_out(db, actor, analysis)


def _analysis_out(db: Session, actor: Principal, analysis: SavedAnalysis) -> AnalysisOut:
    authorization = db.get(Authorization, analysis.authorization_id)
    last = db.scalar(select(QueryRun).where(QueryRun.analysis_id == analysis.id).order_by(QueryRun.id.desc()).limit(1))
    return AnalysisOut(
        id=analysis.id,
        authorization=authorization.code if authorization else "",
        name=analysis.name,
        description=analysis.description,
        sql=analysis.sql,
        engine=analysis.engine,
        created_by=analysis.created_by,
        created_at=analysis.created_at,
        updated_at=analysis.updated_at,
        last_run=_run_out(db, actor, last) if last is not None else None,
    )


def list_analyses(db: Session, actor: Principal, code: str) -> list[AnalysisOut]:
    authorization, _ = _get(db, actor, code, perms.QUERY_VIEW)
    if not actor.sees_all_orgs and actor.org_id != authorization.operator_id:
        return []
    found = db.scalars(
        select(SavedAnalysis).where(SavedAnalysis.authorization_id == authorization.id).order_by(SavedAnalysis.name)
    )
    return [_analysis_out(db, actor, a) for a in found]


def _analysis(db: Session, actor: Principal, code: str, name: str) -> SavedAnalysis:
    authorization, _ = _get(db, actor, code, perms.QUERY_RUN)
    analysis = db.scalar(
        select(SavedAnalysis).where(SavedAnalysis.authorization_id == authorization.id, SavedAnalysis.name == name)
    )
    if analysis is None or not (actor.sees_all_orgs or actor.org_id == authorization.operator_id):
        raise NotFound.of("分析", "analysis", name)
    return analysis


def run_analysis(
    sessions: sessionmaker[Session], actor: Principal, code: str, name: str, *, engine: str | None = None
) -> RunOut:
    """Run a saved analysis again, on the newest snapshots of its resources."""
    with unit_of_work(sessions) as db:
        analysis = _analysis(db, actor, code, name)
        sql, saved_engine, analysis_id = analysis.sql, analysis.engine, analysis.id
    return run_query(sessions, actor, code, sql, engine=engine or saved_engine, analysis_id=analysis_id)


def awaiting_review(db: Session, actor: Principal) -> list[RunOut]:
    """The egress queue: results waiting for a reviewer, oldest first."""
    _require_bureau(actor, perms.EGRESS_REVIEW)
    found = db.scalars(select(QueryRun).where(QueryRun.status == "pending_review").order_by(QueryRun.id))
    return [_run_out(db, actor, run, with_rows=True) for run in found]


def overview_counts(db: Session, actor: Principal) -> dict[str, int]:
    """For the dashboard: authorizations by state and results waiting for review."""
    counts: dict[str, int] = {}
    for summary in list_authorizations(db, actor):
        counts[summary.status] = counts.get(summary.status, 0) + 1
    if actor.has(perms.EGRESS_REVIEW) and actor.sees_all_orgs:
        counts["pending_review"] = db.scalar(select(func.count()).where(QueryRun.status == "pending_review")) or 0
    return counts
