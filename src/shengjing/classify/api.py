"""Classification and grading API: runs, a resource's grading, review, audit, alerts, history, the column
controls an authorization draft starts from, the rule set, the city-wide overview. Thin door into
classify.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request
from starlette.concurrency import run_in_threadpool

from shengjing.classify import permissions as perms
from shengjing.classify import service
from shengjing.classify.classifier import Mode
from shengjing.classify.schemas import (
    AlertOut,
    AuditIn,
    EventOut,
    OverviewOut,
    ReopenIn,
    ResourceGradingOut,
    ReviewIn,
    RuleSetIn,
    RuleSetOut,
)
from shengjing.identity.principal import Principal
from shengjing.web.deps import DB, api_router, requires

router = api_router("classify")


@router.post("/resources/{code}/classification/runs")
async def run_classification(
    code: str,
    request: Request,
    db: DB,
    mode: Mode = Mode.SAMPLE,
    engine: Annotated[str | None, Query(pattern="^(duckdb|spark)$")] = None,
    actor: Principal = requires(perms.GRADING_RUN),
) -> ResourceGradingOut:
    """Classify the resource's current snapshot. The run opens its own short transactions, so the request's own
    is closed first (on SQLite, two open writers would wait on each other)."""
    await run_in_threadpool(db.commit)
    return await run_in_threadpool(
        service.classify_resource, request.app.state.sessions, actor, code, mode=mode, engine=engine
    )


@router.get("/resources/{code}/classification")
def get_grading(code: str, db: DB, actor: Principal = requires(perms.GRADING_VIEW)) -> ResourceGradingOut:
    return service.get_grading(db, actor, code)


@router.post("/resources/{code}/classification/review")
def review(
    code: str, decision: ReviewIn, db: DB, actor: Principal = requires(perms.GRADING_REVIEW)
) -> ResourceGradingOut:
    return service.review_field(db, actor, code, decision)


@router.post("/resources/{code}/classification/reopen")
def reopen(code: str, body: ReopenIn, db: DB, actor: Principal = requires(perms.GRADING_AUDIT)) -> ResourceGradingOut:
    return service.reopen(db, actor, code, body.field, body.reason)


@router.post("/resources/{code}/classification/audit")
def audit(code: str, body: AuditIn, db: DB, actor: Principal = requires(perms.GRADING_AUDIT)) -> ResourceGradingOut:
    return service.audit(db, actor, code, body.note)


@router.get("/resources/{code}/classification/history")
def history(code: str, db: DB, actor: Principal = requires(perms.GRADING_VIEW)) -> list[EventOut]:
    return service.history(db, actor, code)


@router.get("/resources/{code}/classification/column-controls")
def column_controls(code: str, db: DB, actor: Principal = requires(perms.GRADING_VIEW)) -> dict[str, str]:
    """The column control an authorization draft offers per field (hidden until the department confirms)."""
    return service.column_controls(db, actor, code)


@router.get("/classification/alerts")
def alerts(db: DB, all: bool = False, actor: Principal = requires(perms.GRADING_VIEW)) -> list[AlertOut]:
    return service.list_alerts(db, actor, open_only=not all)


@router.post("/classification/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)], db: DB, actor: Principal = requires(perms.GRADING_VIEW)
) -> AlertOut:
    return service.acknowledge_alert(db, actor, alert_id)


@router.get("/classification/overview")
def overview(db: DB, actor: Principal = requires(perms.GRADING_VIEW)) -> OverviewOut:
    return service.overview(db, actor)


@router.get("/classification/ruleset")
def ruleset(
    db: DB,
    version: Annotated[int | None, Query(ge=0, le=10**9)] = None,
    actor: Principal = requires(perms.GRADING_VIEW),
) -> RuleSetOut:
    return service.get_ruleset(db, actor, version)


@router.get("/classification/rulesets")
def rulesets(db: DB, actor: Principal = requires(perms.GRADING_VIEW)) -> list[RuleSetOut]:
    return service.list_rulesets(db, actor)


@router.post("/classification/rulesets")
def save_ruleset(body: RuleSetIn, db: DB, actor: Principal = requires(perms.RULESET_CHANGE)) -> RuleSetOut:
    return service.save_ruleset(db, actor, body.text, body.comment)
