"""Authorized operation console (授权运营): the authorizations and their workflow, the operator's SQL workbench, the
egress review queue, query runs and their downloads. Thin door into sandbox.service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

from fastapi import Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from shengjing.catalog import permissions as catalog_perms
from shengjing.catalog import service as catalog
from shengjing.errors import InvalidInput, ShengjingError
from shengjing.identity import service as identity
from shengjing.identity.principal import OrgType, Principal
from shengjing.sandbox import permissions as perms
from shengjing.sandbox import service
from shengjing.sandbox.masks import MASKS
from shengjing.sandbox.policy import CONTROL_LABELS, Control
from shengjing.sandbox.schemas import AnalysisIn, RunOut, Status
from shengjing.web import i18n
from shengjing.web.deps import DB, page_router, requires
from shengjing.web.forms import act
from shengjing.web.i18n import N_
from shengjing.web.labels import FIELD_TYPE_LABELS
from shengjing.web.nav import NavItem, register
from shengjing.web.templating import render

router = page_router()
register(
    NavItem("/sandbox", N_("授权运营"), perms.AUTHORIZATION_VIEW, order=60),
    NavItem("/sandbox/egress", N_("出域审核"), perms.EGRESS_REVIEW, order=65),
)

T = TypeVar("T")
Code = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9-]+$")]
RunId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Note = Annotated[str, Form(max_length=2000)]
Sql = Annotated[str, Form(max_length=50_000)]
Document = Annotated[str, Form(max_length=200_000)]
Engine = Annotated[Literal["", "duckdb", "spark"], Form()]
ENGINES = ("duckdb", "spark")
RESOURCE_CHOICES = 30  # catalog resources offered at once in the new-authorization form (a search narrows them)
ROWS_SHOWN = 200  # result rows drawn in a page; the downloads hold them all

STATUS_LABELS = {
    Status.DRAFT.value: N_("草稿"),
    Status.APPLIED.value: N_("待数据提供单位同意"),
    Status.CONSENTED.value: N_("待数据主管部门批准"),
    Status.ACTIVE.value: N_("生效中"),
    Status.REJECTED.value: N_("被退回"),
    Status.SUSPENDED.value: N_("已暂停"),
    Status.REVOKED.value: N_("已撤销"),
    Status.EXPIRED.value: N_("已过期"),
}
STATUS_STYLES = {
    Status.DRAFT.value: "secondary",
    Status.APPLIED.value: "info",
    Status.CONSENTED.value: "primary",
    Status.ACTIVE.value: "success",
    Status.REJECTED.value: "warning",
    Status.SUSPENDED.value: "warning",
    Status.REVOKED.value: "danger",
    Status.EXPIRED.value: "dark",
}
CONSENT_LABELS = {"pending": N_("待同意"), "consented": N_("已同意"), "refused": N_("已拒绝")}
EVENT_LABELS = {
    "add": N_("创建草稿"),
    "change": N_("修改文档"),
    "apply": N_("申请已提交"),
    "consent": N_("数据提供单位意见"),
    "approve": N_("已批准"),
    "reject": N_("被退回"),
    "suspend": N_("已暂停"),
    "resume": N_("已恢复"),
    "revoke": N_("已撤销"),
}
RUN_STATUS_LABELS = {
    "running": N_("运行中"),
    "refused": N_("已拒绝"),
    "failed": N_("运行失败"),
    "released": N_("已出域"),
    "pending_review": N_("待出域审核"),
    "approved": N_("审核后出域"),
    "rejected": N_("不予出域"),
}
RUN_STATUS_STYLES = {
    "running": "info",
    "refused": "danger",
    "failed": "danger",
    "released": "success",
    "pending_review": "warning",
    "approved": "success",
    "rejected": "secondary",
}
EGRESS_LABELS = {"automatic": N_("自动出域"), "reviewed": N_("经数据主管部门审核后出域")}
PERIOD_LABELS = {
    "day": N_("每日"),
    "week": N_("每周"),
    "month": N_("每月"),
    "quarter": N_("每季度"),
    "year": N_("每年"),
    "total": N_("整个有效期"),
}
CONTROL_HINTS = {
    Control.PLAIN.value: N_("可原样输出"),
    Control.MASKED.value: N_("只能读到脱敏后的值"),
    Control.GROUP_BY.value: N_("只能作为分组键输出"),
    Control.AGGREGATE.value: N_("只能在 COUNT、SUM、AVG、STDDEV、VAR 中使用"),
    Control.COMPARE.value: N_("只能用于比较条件，不能输出"),
    Control.JOIN.value: N_("只能作为等值关联键"),
    Control.HIDDEN.value: N_("不可引用"),
}
CONTROL_STYLES = {
    Control.PLAIN.value: "success",
    Control.MASKED.value: "info",
    Control.GROUP_BY.value: "primary",
    Control.AGGREGATE.value: "warning",
    Control.COMPARE.value: "secondary",
    Control.JOIN.value: "dark",
    Control.HIDDEN.value: "danger",
}
# The data bureau's steps as the console names them; which are open, and which need a reason, the service says.
BUREAU_STEP_LABELS: dict[str, str] = {
    "approve": N_("批准"),
    "reject": N_("退回申请"),
    "suspend": N_("暂停"),
    "resume": N_("恢复"),
    "revoke": N_("撤销"),
}
BureauStep = Literal["approve", "reject", "suspend", "resume", "revoke"]
EDITABLE = (Status.DRAFT.value, Status.REJECTED.value)
RELEASED = ("released", "approved")
DONE_MESSAGES = {
    "created": N_("已保存为草稿，可继续修改，确认无误后提交申请。"),
    "changed": N_("已保存授权文档"),
    "apply": N_("已提交申请，等待数据提供单位同意"),
    "consent": N_("已记录本单位意见"),
    "approve": N_("已批准，授权生效"),
    "reject": N_("已退回运营机构"),
    "suspend": N_("已暂停"),
    "resume": N_("已恢复"),
    "revoke": N_("已撤销"),
    "saved": N_("已保存分析"),
    "approved": N_("已准予出域"),
    "rejected": N_("已不予出域"),
}


# --- shared helpers ---------------------------------------------------------------------------------------------


def _act(call: Callable[[], T]) -> tuple[T | None, str | None, ShengjingError | None]:
    return act(call, page_kinds=("authorization", "query run"))


def _status_of(refusal: ShengjingError | None) -> int:
    return refusal.http_status if refusal else 422


def _viewer_or_raise(actor: Principal, error: str, refusal: ShengjingError | None) -> None:
    """A role made to act without viewing authorizations gets the error page: there is no page to show it on."""
    if not actor.has(perms.AUTHORIZATION_VIEW):
        raise refusal or InvalidInput(error, error)


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return i18n.gettext(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None


def _scenario_names() -> dict[str, str]:
    return {s.code: i18n.pick(s.name_zh, s.name_en) for s in service.scenarios()}


def _vocabulary() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "status_styles": STATUS_STYLES,
        "consent_labels": CONSENT_LABELS,
        "event_labels": EVENT_LABELS,
        "run_status_labels": RUN_STATUS_LABELS,
        "run_status_styles": RUN_STATUS_STYLES,
        "egress_labels": EGRESS_LABELS,
        "period_labels": PERIOD_LABELS,
        "control_names": {c.value: i18n.pick(zh, en) for c, (zh, en) in CONTROL_LABELS.items()},
        "control_hints": CONTROL_HINTS,
        "control_styles": CONTROL_STYLES,
        "mask_names": {name: i18n.pick(m.label_zh, m.label_en) for name, m in MASKS.items()},
        "field_types": {t.value: label for t, label in FIELD_TYPE_LABELS.items()},
        "scenario_names": _scenario_names(),
        "released": RELEASED,
        "rows_shown": ROWS_SHOWN,
    }


def _own_org(db: Session, actor: Principal) -> str | None:
    return identity.organization_code(db, actor)


def _pct(left: float, total: float) -> float:
    return round(100 * left / total, 1) if total > 0 else 0.0


# --- the list, and a new authorization ---------------------------------------------------------------------------


def _list_page(
    request: Request,
    db: Session,
    actor: Principal,
    *,
    status: str = "",
    rq: str = "",
    draft: dict[str, Any] | None = None,
    document: str = "",
    draft_error: str | None = None,
    save_error: str | None = None,
    status_code: int = 200,
) -> Response:
    can_add = actor.has(perms.AUTHORIZATION_ADD)
    draft = draft or {}
    context: dict[str, Any] = {
        **_vocabulary(),
        "authorizations": service.list_authorizations(db, actor, status=status or None)
        if actor.has(perms.AUTHORIZATION_VIEW)
        else [],
        "status": status,
        "statuses": [s.value for s in Status],
        "can_add": can_add,
        "rq": rq,
        "draft": draft,
        "document": document,
        "draft_error": draft_error,
        "save_error": save_error,
        "done": _done(request),
    }
    if can_add:
        own = _own_org(db, actor)
        chosen = list(dict.fromkeys(draft.get("resources", [])))
        hits = (
            catalog.search(db, actor, rq, limit=RESOURCE_CHOICES).resources
            if actor.has(catalog_perms.RESOURCE_VIEW)
            else []
        )
        found = {r.code: (r.name, r.department_name) for r in hits}
        # Those ticked first (kept through a search that no longer finds them), then the rest of what was found.
        choices = [(code, *found.get(code, ("", "")), True) for code in chosen]
        choices += [(r.code, r.name, r.department_name, False) for r in hits if r.code not in chosen]
        context |= {
            "scenarios": service.scenarios(),
            "default_operator": draft.get("operator") or (own if actor.org_type == OrgType.OPERATOR else ""),
            "choices": choices,
        }
    return render(request, "sandbox/list.html", context, status_code=status_code)


@router.get("/sandbox")
def list_page(
    request: Request,
    db: DB,
    status: Annotated[Status | Literal[""], Query()] = "",
    rq: Annotated[str, Query(max_length=200)] = "",
    resource: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006 - FastAPI copies query defaults
    actor: Principal = requires(perms.AUTHORIZATION_VIEW),
) -> Response:
    """The authorizations the viewer may see; ``rq`` and ``resource`` keep the new-authorization form's search."""
    return _list_page(request, db, actor, status=status, rq=rq, draft={"resources": resource})


@router.post("/sandbox/draft")
def draft(
    request: Request,
    db: DB,
    operator: Annotated[str, Form(max_length=64)],
    scenario: Annotated[str, Form(max_length=32)],
    resource: Annotated[list[str], Form(max_length=20)],
    title: Annotated[str, Form(max_length=200)] = "",
    purpose: Annotated[str, Form(max_length=4000)] = "",
    days: Annotated[int, Form(ge=1, le=3650)] = 365,
    actor: Principal = requires(perms.AUTHORIZATION_ADD),
) -> Response:
    """A document to start from (controls offered by the confirmed grading), put into the editor to be saved."""
    given = {"operator": operator.strip(), "scenario": scenario, "resources": resource}
    given |= {"title": title, "purpose": purpose, "days": days}
    text, error, refusal = _act(
        lambda: service.draft_document(
            db,
            actor,
            operator=operator.strip(),
            scenario=scenario,
            resources_=resource,
            title=title.strip(),
            purpose=purpose.strip(),
            days=days,
        )
    )
    return _list_page(
        request,
        db,
        actor,
        draft=given,
        document=text or "",
        draft_error=error,
        status_code=_status_of(refusal) if error else 200,
    )


@router.post("/sandbox")
def create(
    request: Request, db: DB, document: Document, actor: Principal = requires(perms.AUTHORIZATION_ADD)
) -> Response:
    saved, error, refusal = _act(lambda: service.create_authorization(db, actor, document))
    if saved is None:
        return _list_page(request, db, actor, document=document, save_error=error, status_code=_status_of(refusal))
    return RedirectResponse(f"/sandbox/{saved.code}?done=created", status_code=303)


# --- the egress queue and query runs (before /sandbox/{code}, which would take their paths) -------------------


def _egress_page(
    request: Request, db: Session, actor: Principal, *, error: str | None = None, status_code: int = 200
) -> Response:
    pending = service.awaiting_review(db, actor)
    summaries = (
        {a.code: a for a in service.list_authorizations(db, actor)} if actor.has(perms.AUTHORIZATION_VIEW) else {}
    )
    context = {
        **_vocabulary(),
        "pending": pending,
        "summaries": summaries,
        "error": error,
        "done": None if error else _done(request),
    }
    return render(request, "sandbox/egress.html", context, status_code=status_code)


@router.get("/sandbox/egress")
def egress_queue(request: Request, db: DB, actor: Principal = requires(perms.EGRESS_REVIEW)) -> Response:
    """Results waiting for a reviewer of the data bureau (出域审核), oldest first, with their rows."""
    return _egress_page(request, db, actor)


def _run_page(
    request: Request, db: Session, actor: Principal, run_id: int, *, error: str | None = None, status_code: int = 200
) -> Response:
    run = service.get_run(db, actor, run_id)
    context = {
        **_vocabulary(),
        "run": run,
        "may_download": run.may_download,
        "may_review": run.status == "pending_review" and actor.has(perms.EGRESS_REVIEW) and actor.sees_all_orgs,
        "error": error,
        "done": None if error else _done(request),
    }
    return render(request, "sandbox/run.html", context, status_code=status_code)


@router.get("/sandbox/runs/{run_id}")
def run_page(request: Request, run_id: RunId, db: DB, actor: Principal = requires(perms.QUERY_VIEW)) -> Response:
    return _run_page(request, db, actor, run_id)


@router.get("/sandbox/runs/{run_id}/result.{fmt}")
def download(
    run_id: RunId, fmt: Literal["csv", "xlsx", "parquet"], db: DB, actor: Principal = requires(perms.QUERY_VIEW)
) -> Response:
    """The result file, only once it may leave and only to the operator that ran it (the service decides)."""
    data, media_type = service.result_bytes(db, actor, run_id, fmt)
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="run-{run_id}.{fmt}"'}
    )


@router.post("/sandbox/runs/{run_id}/review")
def review(
    request: Request,
    run_id: RunId,
    db: DB,
    decision: Annotated[Literal["approve", "reject"], Form()],
    note: Note = "",
    return_to: Annotated[Literal["egress", "run"], Form()] = "egress",
    actor: Principal = requires(perms.EGRESS_REVIEW),
) -> Response:
    _, error, refusal = _act(lambda: service.review_egress(db, actor, run_id, decision, note.strip()))
    if error:
        if return_to == "run":
            return _run_page(request, db, actor, run_id, error=error, status_code=_status_of(refusal))
        return _egress_page(request, db, actor, error=error, status_code=_status_of(refusal))
    done = "approved" if decision == "approve" else "rejected"
    target = f"/sandbox/runs/{run_id}" if return_to == "run" else "/sandbox/egress"
    return RedirectResponse(f"{target}?done={done}", status_code=303)


# --- one authorization: its document, consents, history and workflow ---------------------------------------------


def _detail_page(
    request: Request,
    db: Session,
    actor: Principal,
    code: str,
    *,
    error: str | None = None,
    document: str | None = None,
    status_code: int = 200,
) -> Response:
    a = service.get_authorization(db, actor, code)
    own = _own_org(db, actor)
    is_operator = own == a.operator
    context = {
        **_vocabulary(),
        "a": a,
        "budgets": {b.resource: (b, _pct(b.left, b.total)) for b in a.budgets},
        "may_edit": is_operator and actor.has(perms.AUTHORIZATION_ADD) and a.status in EDITABLE,
        "may_consent": [
            r.resource
            for r in a.resources
            if a.status == Status.APPLIED.value and actor.has(perms.AUTHORIZATION_REVIEW) and r.department == own
        ],
        "bureau_steps": [
            (step, BUREAU_STEP_LABELS[step], service.BUREAU_STEPS[step].reason_required)
            for step in service.bureau_steps(actor, a.status)
        ],
        "may_query": is_operator and actor.has(perms.QUERY_RUN),
        "document": a.document if document is None else document,
        "error": error,
        "done": None if error else _done(request),
    }
    return render(request, "sandbox/detail.html", context, status_code=status_code)


def _refused(
    request: Request,
    db: Session,
    actor: Principal,
    code: str,
    error: str,
    refusal: ShengjingError | None,
    *,
    document: str | None = None,
) -> Response:
    """The authorization's page again, with why the form was refused beside it."""
    _viewer_or_raise(actor, error, refusal)
    return _detail_page(request, db, actor, code, error=error, document=document, status_code=_status_of(refusal))


def _back(code: str, done: str) -> Response:
    return RedirectResponse(f"/sandbox/{code}?done={done}", status_code=303)


@router.get("/sandbox/{code}")
def detail(request: Request, code: Code, db: DB, actor: Principal = requires(perms.AUTHORIZATION_VIEW)) -> Response:
    return _detail_page(request, db, actor, code)


@router.post("/sandbox/{code}/document")
def edit(
    request: Request, code: Code, db: DB, document: Document, actor: Principal = requires(perms.AUTHORIZATION_ADD)
) -> Response:
    """The operator replaces a draft's (or a rejected authorization's) document."""
    _, error, refusal = _act(lambda: service.update_authorization(db, actor, code, document))
    if error:
        return _refused(request, db, actor, code, error, refusal, document=document)
    return _back(code, "changed")


@router.post("/sandbox/{code}/apply")
def apply(
    request: Request, code: Code, db: DB, note: Note = "", actor: Principal = requires(perms.AUTHORIZATION_ADD)
) -> Response:
    """The operator applies: every providing department is asked to consent."""
    _, error, refusal = _act(lambda: service.apply(db, actor, code, note.strip()))
    if error:
        return _refused(request, db, actor, code, error, refusal)
    return _back(code, "apply")


@router.post("/sandbox/{code}/consent")
def consent(
    request: Request,
    code: Code,
    db: DB,
    resource: Annotated[str, Form(max_length=64)],
    decision: Annotated[Literal["consent", "refuse"], Form()],
    note: Note = "",
    actor: Principal = requires(perms.AUTHORIZATION_REVIEW),
) -> Response:
    """A providing department consents to (or refuses, with a reason) the use of its own resource."""
    _, error, refusal = _act(lambda: service.consent(db, actor, code, resource, decision, note.strip()))
    if error:
        return _refused(request, db, actor, code, error, refusal)
    return _back(code, "consent")


@router.post("/sandbox/{code}/bureau/{step}")
def bureau_step(
    request: Request,
    code: Code,
    step: BureauStep,
    db: DB,
    note: Note = "",
    actor: Principal = requires(perms.AUTHORIZATION_AUDIT),
) -> Response:
    """The data bureau approves, rejects, suspends, resumes or revokes (with a reason where the service needs one)."""
    action = getattr(service, step)
    _, error, refusal = _act(lambda: action(db, actor, code, note.strip()))
    if error:
        return _refused(request, db, actor, code, error, refusal)
    return _back(code, step)


# --- the operator's SQL workbench ---------------------------------------------------------------------------------


def _workbench_page(
    request: Request,
    db: Session,
    actor: Principal,
    code: str,
    *,
    sql: str | None = None,
    engine: str = "",
    analysis: str | None = None,
    run: RunOut | None = None,
    error: str | None = None,
    refusal: ShengjingError | None = None,
    status_code: int = 200,
) -> Response:
    a = service.get_authorization(db, actor, code)
    tables = service.schema(db, actor, code)
    may_view_runs = actor.has(perms.QUERY_VIEW)
    analyses = service.list_analyses(db, actor, code) if may_view_runs else []
    runs = service.list_runs(db, actor, authorization=code, limit=50) if may_view_runs else []
    is_operator = _own_org(db, actor) == a.operator
    wanted = analysis if analysis is not None else request.query_params.get("analysis")
    loaded = next((x for x in analyses if x.name == wanted), None)
    if sql is None:
        sql = loaded.sql if loaded else ""
    context = {
        **_vocabulary(),
        "a": a,
        "tables": tables,
        "budgets": [(b, _pct(b.left, b.total)) for b in a.budgets],
        "analyses": analyses,
        "runs": runs,
        "may_view_runs": may_view_runs,
        "may_run": is_operator and actor.has(perms.QUERY_RUN),
        "may_save": is_operator and actor.has(perms.ANALYSIS_ADD),
        "active": a.status == Status.ACTIVE.value,
        "sql": sql,
        "engine": engine or (loaded.engine if loaded else request.app.state.settings.sandbox_engine),
        "engines": ENGINES,
        "name": loaded.name if loaded else "",
        "run": run,
        "error": error,
        "reasons": refusal.details.get("reasons") or [] if refusal else [],
        "done": None if error else _done(request),
    }
    return render(request, "sandbox/workbench.html", context, status_code=status_code)


@router.get("/sandbox/{code}/workbench")
def workbench(request: Request, code: Code, db: DB, actor: Principal = requires(perms.AUTHORIZATION_VIEW)) -> Response:
    """The schema browser (each column with its control), the editor, the runs and the saved analyses. Anyone
    who may see the authorization may look; only its operator's analysts may run."""
    return _workbench_page(request, db, actor, code)


def _ran(
    request: Request,
    db: Session,
    actor: Principal,
    code: str,
    call: Callable[[], RunOut],
    *,
    sql: str | None = None,
    engine: str = "",
    analysis: str | None = None,
) -> Response:
    # The run opens its own short transactions; on SQLite the request's open one (BEGIN IMMEDIATE) would block
    # them until it timed out. End it here: nothing was changed in it, and the session reopens one if asked.
    db.commit()
    run, error, refusal = _act(call)
    if error:
        _viewer_or_raise(actor, error, refusal)
    status_code = _status_of(refusal) if error else 200
    return _workbench_page(
        request, db, actor, code, sql=sql, engine=engine, analysis=analysis, run=run, error=error, refusal=refusal,
        status_code=status_code,
    )  # fmt: skip


@router.post("/sandbox/{code}/workbench")
def run_query(
    request: Request, code: Code, db: DB, sql: Sql, engine: Engine = "", actor: Principal = requires(perms.QUERY_RUN)
) -> Response:
    """Check, rewrite, spend, run, record (sandbox.service.run_query); the refusal's reasons are listed."""

    def call() -> RunOut:
        return service.run_query(request.app.state.sessions, actor, code, sql, engine=engine or None)

    return _ran(request, db, actor, code, call, sql=sql, engine=engine)


@router.post("/sandbox/{code}/analyses")
def save_analysis(
    request: Request,
    code: Code,
    db: DB,
    sql: Sql,
    name: Annotated[str, Form(max_length=200)] = "",
    engine: Engine = "",
    actor: Principal = requires(perms.ANALYSIS_ADD),
) -> Response:
    def save() -> Any:
        if not name.strip():
            raise InvalidInput("请填写分析名称。", "Name the analysis.", field="name")
        data = AnalysisIn(name=name.strip(), sql=sql, engine=engine or request.app.state.settings.sandbox_engine)
        return service.save_analysis(db, actor, code, data)

    saved, error, refusal = _act(save)
    if error:
        _viewer_or_raise(actor, error, refusal)
        return _workbench_page(
            request, db, actor, code, sql=sql, engine=engine, error=error, refusal=refusal,
            status_code=_status_of(refusal),
        )  # fmt: skip
    return RedirectResponse(f"/sandbox/{code}/workbench?done=saved&analysis={quote(saved.name)}", status_code=303)


@router.post("/sandbox/{code}/analyses/run")
def run_analysis(
    request: Request,
    code: Code,
    db: DB,
    name: Annotated[str, Form(max_length=200)],
    engine: Engine = "",
    actor: Principal = requires(perms.QUERY_RUN),
) -> Response:
    """Run a saved analysis again, on the newest snapshots."""

    def call() -> RunOut:
        return service.run_analysis(request.app.state.sessions, actor, code, name, engine=engine or None)

    return _ran(request, db, actor, code, call, engine=engine, analysis=name)
