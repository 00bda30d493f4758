"""Classification and grading console (数据分类分级): the city-wide view with its charts and the grading catalogue
(分类分级清单) as XLSX, a resource's grading with its review, audit and history, and the rule set's editor.
Thin door into classify.service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from shengjing.classify import grading, service
from shengjing.classify import permissions as perms
from shengjing.classify.classifier import Mode
from shengjing.classify.detectors import InfoType, detector_labels
from shengjing.classify.schemas import ResourceGradingOut, ReviewIn, ReviewStatus
from shengjing.errors import InvalidInput, ShengjingError
from shengjing.exports import XLSX_MEDIA_TYPE, xlsx_bytes
from shengjing.identity.principal import Principal
from shengjing.web import i18n
from shengjing.web.deps import DB, page_router, requires
from shengjing.web.forms import act
from shengjing.web.i18n import N_
from shengjing.web.nav import NavItem, register
from shengjing.web.templating import render

router = page_router()
register(NavItem("/classification", N_("分类分级"), perms.GRADING_VIEW, order=50))

T = TypeVar("T")
SHANGHAI = ZoneInfo("Asia/Shanghai")
Reason = Annotated[str, Form(max_length=2000)]

STATUS_LABELS = {
    ReviewStatus.PROPOSED.value: N_("待确认"),
    ReviewStatus.CONFIRMED.value: N_("已确认"),
    ReviewStatus.OVERRIDDEN.value: N_("已修正"),
}
DECIDED_BY_LABELS = {
    "values": N_("数据值"),
    "name": N_("名称"),
    "values+name": N_("数据值与名称"),
    "none": N_("未识别"),
}
COLUMN_CONTROL_LABELS = {
    "plain": N_("明文"),
    "group_by": N_("可分组"),
    "aggregate": N_("仅聚合"),
    "compare": N_("仅比较"),
    "join": N_("仅关联"),
    "masked": N_("脱敏"),
    "hidden": N_("隐藏"),
}
EVIDENCE_SOURCE_LABELS = {"label": N_("中文名称"), "code": N_("字段代码"), "element": N_("数据元")}
MODE_LABELS = {Mode.SAMPLE.value: N_("抽样"), Mode.FULL.value: N_("全量")}
EVENT_LABELS = {
    "run_sample": N_("抽样识别"),
    "run_full": N_("全量识别"),
    "type_changed": N_("识别类型变化"),
    "removed": N_("数据项已删除"),
    "confirmed": N_("确认"),
    "overridden": N_("修正"),
    "reopened": N_("退回"),
    "audited": N_("审核通过"),
}
DONE_MESSAGES = {
    "run": N_("已完成分类分级识别"),
    "reviewed": N_("已保存确认结果"),
    "confirmed": N_("已确认全部待确认数据项"),
    "reopened": N_("已退回"),
    "audited": N_("已审核"),
    "acknowledged": N_("已处理预警"),
}


# --- shared helpers ---------------------------------------------------------------------------------------------


def _act(call: Callable[[], T]) -> tuple[T | None, str | None, ShengjingError | None]:
    """A form's service call (``web.forms.act``): a resource that is gone gets the error page; a field or grading
    the form named and that is gone (a run since removed it) is told beside the form."""
    return act(call, page_kinds=("resource",))


def _rules(db: Session, actor: Principal) -> grading.RuleSet:
    """The rule set in force, for the names of its levels and rules in the viewer's language."""
    return grading.parse_ruleset(service.get_ruleset(db, actor).text)


def _vocabulary(rules: grading.RuleSet) -> dict[str, Any]:
    """Names in the viewer's language: types, levels and resource rules; and the Chinese msgids of the rest."""
    return {
        "type_names": {kind: i18n.pick(zh, en) for kind, (zh, en) in detector_labels().items()},
        "level_names": {lv.code: i18n.pick(lv.name_zh, lv.name_en) for lv in rules.levels},
        "levels": [lv.code for lv in rules.levels],
        "rule_names": {r.id: i18n.pick(r.name_zh, r.name_en) for r in rules.resource_rules},
        "status_labels": STATUS_LABELS,
        "decided_by_labels": DECIDED_BY_LABELS,
        "column_control_labels": COLUMN_CONTROL_LABELS,
        "source_labels": EVIDENCE_SOURCE_LABELS,
        "mode_labels": MODE_LABELS,
        "event_labels": EVENT_LABELS,
    }


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return i18n.gettext(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None


# --- the city-wide view ----------------------------------------------------------------------------------------------


@router.get("/classification")
def overview_page(request: Request, db: DB, actor: Principal = requires(perms.GRADING_VIEW)) -> Response:
    overview = service.overview(db, actor)
    rules = _rules(db, actor)
    vocabulary = _vocabulary(rules)
    level_names, type_names = vocabulary["level_names"], vocabulary["type_names"]
    chart = {
        "levels": [
            [lv.level, level_names.get(lv.level, lv.name), lv.resources, lv.fields, lv.rows] for lv in overview.levels
        ],
        "departments": [d.department_name for d in overview.departments],
        "departmentLevels": [
            {"name": lv.level, "data": [d.levels.get(lv.level, 0) for d in overview.departments]}
            for lv in overview.levels
        ],
        "types": [[type_names.get(kind, kind), count] for kind, count in overview.types.items()],
        "labels": {
            "levels": i18n.gettext("各级别数据量"),
            "departments": i18n.gettext("各单位数据资源级别分布"),
            "types": i18n.gettext("各识别类型数据项数"),
            "resources": i18n.gettext("数据资源"),
            "fields": i18n.gettext("数据项"),
            "rows": i18n.gettext("数据行数"),
        },
    }
    context = {
        **vocabulary,
        "overview": overview,
        "chart": chart,
        "alerts": service.list_alerts(db, actor, open_only=True),
        "awaiting": overview.awaiting_audit,
        "can_change_rules": actor.has(perms.RULESET_CHANGE),
        "done": _done(request),
    }
    return render(request, "classify/overview.html", context)


@router.get("/classification/export.xlsx")
def catalogue_xlsx(db: DB, actor: Principal = requires(perms.GRADING_VIEW)) -> Response:
    """The grading catalogue (分类分级清单): one sheet of fields, one of resources, as the bureau files it."""
    sheets = service.grading_catalogue(db, actor)
    day = datetime.now(SHANGHAI).strftime("%Y%m%d")
    # An ASCII name for every client, and the Chinese one (RFC 6266) for those that read it.
    names = f"filename=\"grading-catalogue-{day}.xlsx\"; filename*=UTF-8''{quote(f'分类分级清单-{day}.xlsx')}"
    return Response(
        xlsx_bytes((sheet.title, sheet.header, sheet.rows) for sheet in sheets),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; {names}"},
    )


@router.post("/classification/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    db: DB,
    return_to: Annotated[Literal["overview", "resource"], Form()] = "overview",
    actor: Principal = requires(perms.GRADING_VIEW),
) -> Response:
    alert = service.acknowledge_alert(db, actor, alert_id)  # only refusals (no permission, no such alert) fail it
    if return_to == "resource":
        return RedirectResponse(f"/catalog/{alert.resource}/classification?done=acknowledged#alerts", status_code=303)
    return RedirectResponse("/classification?done=acknowledged", status_code=303)


# --- the rule set ----------------------------------------------------------------------------------------------------


def _ruleset_page(
    request: Request,
    db: Session,
    actor: Principal,
    version: int | None,
    *,
    text: str | None = None,
    comment: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    # One who may change the rule set but not view gradings (a role made so) still gets the editor back.
    viewer = actor.has(perms.GRADING_VIEW)
    shown = service.get_ruleset(db, actor, version) if viewer else None
    versions = service.list_rulesets(db, actor) if viewer else []
    context = {
        "shown": shown,
        "in_force": versions[0].version if versions else 0,
        "versions": versions,
        "text": text if text is not None else (shown.text if shown else ""),
        "comment": comment,
        "can_change": actor.has(perms.RULESET_CHANGE),
        "error": error,
        "saved": request.query_params.get("done") == "saved",
    }
    return render(request, "classify/ruleset.html", context, status_code=status)


@router.get("/classification/ruleset")
def ruleset_page(
    request: Request,
    db: DB,
    version: Annotated[int | None, Query(ge=0, le=10**9)] = None,
    actor: Principal = requires(perms.GRADING_VIEW),
) -> Response:
    return _ruleset_page(request, db, actor, version)


@router.post("/classification/ruleset")
def ruleset_save(
    request: Request,
    db: DB,
    text: Annotated[str, Form(max_length=200_000)] = "",
    comment: Annotated[str, Form(max_length=500)] = "",
    actor: Principal = requires(perms.RULESET_CHANGE),
) -> Response:
    saved, error, refusal = _act(lambda: service.save_ruleset(db, actor, text, comment.strip()))
    if saved is None:
        status = refusal.http_status if refusal else 422
        return _ruleset_page(request, db, actor, None, text=text, comment=comment, error=error, status=status)
    return RedirectResponse("/classification/ruleset?done=saved", status_code=303)


# --- one resource's grading ------------------------------------------------------------------------------------------


def _resource_page(
    request: Request,
    db: Session,
    actor: Principal,
    code: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    out = service.get_grading(db, actor, code)
    rules = _rules(db, actor)
    latest = out.runs[0] if out.runs else None
    context = {
        **_vocabulary(rules),
        "g": out,
        "latest": latest,
        "stale": out.classified_version is not None and out.classified_version != out.current_version,
        "proposed_fields": [f.field for f in out.fields if f.status is ReviewStatus.PROPOSED],
        "reviewed_fields": [f.field for f in out.fields if f.status is not ReviewStatus.PROPOSED],
        "events": service.history(db, actor, code),
        "info_types": [kind.value for kind in InfoType],
        "pct": lambda value: round(value * 100, 1),
        "done": None if error else _done(request),
        "error": error,
    }
    return render(request, "classify/resource.html", context, status_code=status)


def _refused(
    request: Request, db: Session, actor: Principal, code: str, error: str, refusal: ShengjingError | None
) -> Response:
    """The resource's page again, with why the form was refused beside it."""
    if not actor.has(perms.GRADING_VIEW):  # a role made to act without viewing: the error page says why
        raise refusal or InvalidInput(error, error)
    return _resource_page(request, db, actor, code, error=error, status=refusal.http_status if refusal else 422)


def _back(code: str, done: str) -> Response:
    return RedirectResponse(f"/catalog/{code}/classification?done={done}", status_code=303)


@router.get("/catalog/{code}/classification")
def resource_page(request: Request, code: str, db: DB, actor: Principal = requires(perms.GRADING_VIEW)) -> Response:
    return _resource_page(request, db, actor, code)


@router.post("/catalog/{code}/classification/run")
def run(
    request: Request,
    code: str,
    db: DB,
    mode: Annotated[Mode, Form()] = Mode.SAMPLE,
    actor: Principal = requires(perms.GRADING_RUN),
) -> Response:
    # The run opens its own short transactions; on SQLite the request's open one (BEGIN IMMEDIATE) would block
    # them until it timed out. End it here: nothing was changed in it, and the session reopens one if asked.
    db.commit()
    _, error, refusal = _act(lambda: service.classify_resource(request.app.state.sessions, actor, code, mode=mode))
    if error:
        return _refused(request, db, actor, code, error, refusal)
    return _back(code, "run")


@router.post("/catalog/{code}/classification/review")
def review(
    request: Request,
    code: str,
    db: DB,
    field: Annotated[str, Form(max_length=128)],
    action: Annotated[str, Form(max_length=16)],
    info_type: Annotated[str, Form(max_length=32)] = "",
    level: Annotated[str, Form(max_length=32)] = "",
    reason: Reason = "",
    actor: Principal = requires(perms.GRADING_REVIEW),
) -> Response:
    def decide() -> ResourceGradingOut:
        decision = ReviewIn(field=field, action=action, info_type=info_type or None, level=level or None, reason=reason)
        return service.review_field(db, actor, code, decision)

    _, error, refusal = _act(decide)
    if error:
        return _refused(request, db, actor, code, error, refusal)
    return _back(code, "reviewed")


@router.post("/catalog/{code}/classification/confirm-all")
def confirm_all(
    request: Request,
    code: str,
    db: DB,
    field: Annotated[list[str], Form(max_length=2000)] = [],  # noqa: B006 - FastAPI copies form defaults
    actor: Principal = requires(perms.GRADING_REVIEW),
) -> Response:
    """Confirm the proposals the page showed (not any that a run added since), in one transaction: all or none."""

    def confirm() -> None:
        if field:
            service.review_fields(db, actor, code, [ReviewIn(field=name, action="confirm") for name in field])

    _, error, refusal = _act(confirm)
    if error:
        return _refused(request, db, actor, code, error, refusal)
    return _back(code, "confirmed")


@router.post("/catalog/{code}/classification/reopen")
def reopen(
    request: Request,
    code: str,
    db: DB,
    field: Annotated[str, Form(max_length=128)] = "",
    reason: Reason = "",
    actor: Principal = requires(perms.GRADING_AUDIT),
) -> Response:
    _, error, refusal = _act(lambda: service.reopen(db, actor, code, field or None, reason))
    if error:
        return _refused(request, db, actor, code, error, refusal)
    return _back(code, "reopened")


@router.post("/catalog/{code}/classification/audit")
def audit(
    request: Request,
    code: str,
    db: DB,
    note: Reason = "",
    actor: Principal = requires(perms.GRADING_AUDIT),
) -> Response:
    _, error, refusal = _act(lambda: service.audit(db, actor, code, note))
    if error:
        return _refused(request, db, actor, code, error, refusal)
    return _back(code, "audited")
