"""Registry console (数据产权登记): applications and their workflow for applicants and the authority's reviewers,
and the public, login-free pages: certificate lookup by number or QR code, and the cases in publicity. Thin door
into registry.service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from shengjing.errors import InvalidInput, ShengjingError
from shengjing.identity.principal import Principal
from shengjing.registry import permissions as perms
from shengjing.registry import service
from shengjing.registry.bundle import Right
from shengjing.registry.numbers import parse_certificate_number
from shengjing.registry.schemas import KIND_LABELS, REFUSAL_LABELS, Kind, RefusalGround, Status
from shengjing.web import i18n
from shengjing.web.deps import DB, page_router, public, requires
from shengjing.web.forms import act
from shengjing.web.i18n import N_
from shengjing.web.nav import NavItem, register
from shengjing.web.templating import render

router = page_router()
register(NavItem("/registry", N_("数据产权登记"), perms.REGISTRATION_VIEW, order=70))

T = TypeVar("T")
Number = Annotated[str, Path(pattern=r"^[0-9]{19}[0-9Xx]$")]
CertificateNo = Annotated[str, Path(pattern=r"^SJDJ-[0-9]{4}-[0-9]{2}-[0-9]{6}-[0-9]{2}-[0-9]{6}$")]
Note = Annotated[str, Form(max_length=2000)]
Document = Annotated[str, Form(max_length=200_000)]
Step = Literal["accept", "return", "publicize", "issue", "withdraw"]
STEP_FUNCTIONS = {
    "accept": service.accept,
    "return": service.return_for_correction,
    "publicize": service.publicize,
    "issue": service.issue,
    "withdraw": service.withdraw,
}
STEP_LABELS = {
    "accept": N_("受理"),
    "return": N_("退回补正"),
    "publicize": N_("审查通过，公示"),
    "issue": N_("发证"),
    "withdraw": N_("撤回申请"),
    "refuse": N_("不予登记"),
    "amend": N_("修改后重新提交"),
}
STATUS_LABELS = {
    Status.APPLIED.value: N_("待受理"),
    Status.RETURNED.value: N_("退回补正"),
    Status.ACCEPTED.value: N_("审查中"),
    Status.PUBLICITY.value: N_("公示中"),
    Status.PAUSED.value: N_("公示中止（有异议）"),
    Status.APPROVED.value: N_("待发证"),
    Status.ISSUED.value: N_("已办结"),
    Status.REFUSED.value: N_("不予登记"),
    Status.WITHDRAWN.value: N_("已撤回"),
}
STATUS_STYLES = {
    Status.APPLIED.value: "info",
    Status.RETURNED.value: "warning",
    Status.ACCEPTED.value: "primary",
    Status.PUBLICITY.value: "primary",
    Status.PAUSED.value: "warning",
    Status.APPROVED.value: "primary",
    Status.ISSUED.value: "success",
    Status.REFUSED.value: "danger",
    Status.WITHDRAWN.value: "secondary",
}
KIND_NAMES = {kind.value: N_(zh) for kind, (zh, _en) in KIND_LABELS.items()}
GROUND_NAMES = {ground.value: N_(zh) for ground, (zh, _en) in REFUSAL_LABELS.items()}
RIGHT_NAMES = {"holding": N_("持有权"), "processing": N_("加工使用权"), "operating": N_("产品经营权")}
CERTIFICATE_STATUS = {"valid": N_("有效"), "superseded": N_("已被取代"), "cancelled": N_("已注销")}
EVENT_LABELS = {
    "apply": N_("提交申请"),
    "amend": N_("补正后重新提交"),
    "accept": N_("受理"),
    "return": N_("退回补正"),
    "publicize": N_("审查通过"),
    "object": N_("提出异议"),
    "resolve": N_("处理异议"),
    "refuse": N_("不予登记"),
    "issue": N_("办结"),
    "withdraw": N_("撤回"),
}
DONE_MESSAGES = {
    "applied": N_("申请已提交，等待登记机构受理。"),
    "accept": N_("已受理"),
    "return": N_("已退回申请人补正"),
    "publicize": N_("已进入公示（或无需公示，待发证）"),
    "issue": N_("已办结"),
    "withdraw": N_("已撤回申请"),
    "refuse": N_("已决定不予登记"),
    "amend": N_("已重新提交"),
    "object": N_("已记录异议，公示中止"),
    "resolve": N_("已处理异议"),
}


def _vocabulary() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "status_styles": STATUS_STYLES,
        "kind_names": KIND_NAMES,
        "ground_names": GROUND_NAMES,
        "right_names": RIGHT_NAMES,
        "step_labels": STEP_LABELS,
        "event_labels": EVENT_LABELS,
        "certificate_status": CERTIFICATE_STATUS,
    }


def _act(call: Callable[[], T]) -> tuple[T | None, str | None, ShengjingError | None]:
    return act(call, page_kinds=("registration",))


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return i18n.gettext(DONE_MESSAGES[done]) if done in DONE_MESSAGES else None


# --- applicants and reviewers ------------------------------------------------------------------------------------


def _list_page(
    request: Request,
    db: Session,
    actor: Principal,
    *,
    status: str = "",
    draft: dict[str, Any] | None = None,
    document: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    authority = actor.has(perms.REGISTRATION_REVIEW) and actor.sees_all_orgs
    context = {
        **_vocabulary(),
        "registrations": service.list_registrations(db, actor, status=status or None),
        "reminders": service.reminders(db, actor) if authority else [],
        "unregistered": service.unregistered_in_scope(db, actor),
        "may_verify": actor.has(perms.REGISTRY_VERIFY),
        "status": status,
        "statuses": [s.value for s in Status],
        "can_apply": actor.has(perms.REGISTRATION_ADD) and not actor.sees_all_orgs,
        "draft": draft or {},
        "document": document,
        "error": error,
        "done": _done(request),
    }
    return render(request, "registry/list.html", context, status_code=status_code)


@router.get("/registry")
def list_page(
    request: Request,
    db: DB,
    status: Annotated[Status | Literal[""], Query()] = "",
    actor: Principal = requires(perms.REGISTRATION_VIEW),
) -> Response:
    """The viewer's registrations (every one for the authority), the overdue cases, and a new application."""
    return _list_page(request, db, actor, status=status)


@router.post("/registry/draft")
def draft(
    request: Request,
    db: DB,
    code: Annotated[str, Form(max_length=64)],
    object_kind: Annotated[Literal["resource", "product"], Form()] = "resource",
    version: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    name: Annotated[str, Form(max_length=200)] = "",
    actor: Principal = requires(perms.REGISTRATION_ADD),
) -> Response:
    """An application filled in from the catalog (or the released run), put into the editor to be submitted."""
    given = {"code": code.strip(), "object_kind": object_kind, "version": version, "name": name.strip()}
    text, error, refusal = _act(
        lambda: service.draft_document(
            db, actor, object_kind=object_kind, code=code.strip(), version=version, name=name.strip()
        )
    )
    return _list_page(
        request,
        db,
        actor,
        draft=given,
        document=text or "",
        error=error,
        status_code=(refusal.http_status if refusal else 422) if error else 200,
    )


@router.post("/registry")
def apply(
    request: Request, db: DB, document: Document, actor: Principal = requires(perms.REGISTRATION_ADD)
) -> Response:
    saved, error, refusal = _act(lambda: service.apply(db, actor, document))
    if saved is None:
        status_code = refusal.http_status if refusal else 422
        return _list_page(request, db, actor, document=document, error=error, status_code=status_code)
    return RedirectResponse(f"/registry/{saved.number}?done=applied", status_code=303)


@router.get("/registry/verify")
def verify(request: Request, db: DB, actor: Principal = requires(perms.REGISTRY_VERIFY)) -> Response:
    """The auditor's check: the whole log recomputed, every registration, step and certificate held against it."""
    report = service.verify_register(db, actor)
    broken = report.log_report.first_break
    context = {
        "report": report,
        "log_break": None if broken is None else (broken.where, i18n.pick(broken.reason_zh, broken.reason_en)),
    }
    return render(request, "registry/verify.html", context)


# --- public: publicity, certificate lookup (before /registry/{number}, which would take their paths) -------------


@router.get("/registry/publicity")
def publicity(request: Request, db: DB, viewer: Principal | None = public()) -> Response:
    """The cases in publicity now (公示): anyone may read them, and object in time."""
    return render(request, "registry/publicity.html", {**_vocabulary(), "cases": service.publicity_list(db)})


@router.get("/registry/lookup")
def lookup(
    request: Request,
    db: DB,
    number: Annotated[str, Query(max_length=64)] = "",
    viewer: Principal | None = public(),
) -> Response:
    """Look a certificate up by its number (as printed, in either case, with spaces around it)."""
    error = None
    if number.strip():
        try:
            canonical = str(parse_certificate_number(number))
        except InvalidInput as exc:
            error = exc.message(i18n.locale_var.get())
        else:
            return RedirectResponse(f"/registry/certificates/{canonical}", status_code=303)
    context = {"number": number, "error": error}
    return render(request, "registry/lookup.html", context, status_code=422 if error else 200)


@router.get("/registry/certificates/{number}")
def certificate(request: Request, number: CertificateNo, db: DB, viewer: Principal | None = public()) -> Response:
    """A certificate and its status now: the page the certificate's QR code opens."""
    found, error, refusal = _act(lambda: service.certificate_status(db, number))
    if found is None:
        context = {"number": number, "error": error}
        return render(request, "registry/lookup.html", context, status_code=refusal.http_status if refusal else 404)
    return render(request, "registry/certificate.html", {**_vocabulary(), "c": found})


@router.get("/registry/certificates/{number}/bundle.json")
def certificate_bundle(number: CertificateNo, db: DB, viewer: Principal | None = public()) -> Response:
    bundle = service.certificate_bundle(db, number)
    headers = {"Content-Disposition": f'attachment; filename="{number}.json"'}
    return JSONResponse(bundle, headers=headers)


@router.get("/registry/certificates/{number}/certificate.pdf")
def certificate_pdf(number: CertificateNo, db: DB, viewer: Principal | None = public()) -> Response:
    headers = {"Content-Disposition": f'inline; filename="{number}.pdf"'}
    return Response(service.certificate_pdf(db, number), media_type="application/pdf", headers=headers)


# --- one registration --------------------------------------------------------------------------------------------


def _detail_page(
    request: Request,
    db: Session,
    actor: Principal,
    number: str,
    *,
    error: str | None = None,
    document: str | None = None,
    status_code: int = 200,
) -> Response:
    r = service.get_registration(db, actor, number)
    context = {
        **_vocabulary(),
        "r": r,
        "step_forms": [s for s in r.steps if s in STEP_FUNCTIONS],
        "may_refuse": "refuse" in r.steps,
        "may_amend": "amend" in r.steps,
        "may_resolve": actor.has(perms.REGISTRATION_REVIEW) and actor.sees_all_orgs and r.status == Status.PAUSED,
        "records_for_others": actor.sees_all_orgs,
        "grounds": [g.value for g in RefusalGround],
        "document": r.document if document is None else document,
        "error": error,
        "done": None if error else _done(request),
        "rights_order": [right.value for right in Right],
        "kind_publicized": Kind(r.kind).publicized,
    }
    return render(request, "registry/detail.html", context, status_code=status_code)


def _after(
    request: Request,
    db: Session,
    actor: Principal,
    number: str,
    done: str,
    call: Callable[[], object],
    document: str | None = None,
) -> Response:
    """Run a form's step: back to the registration with what was done, or the page again with why not."""
    _, error, refusal = _act(call)
    if error:
        status_code = refusal.http_status if refusal else 422
        return _detail_page(request, db, actor, number, error=error, document=document, status_code=status_code)
    return RedirectResponse(f"/registry/{number.upper()}?done={done}", status_code=303)


@router.get("/registry/{number}")
def detail(request: Request, number: Number, db: DB, actor: Principal = requires(perms.REGISTRATION_VIEW)) -> Response:
    return _detail_page(request, db, actor, number)


@router.post("/registry/{number}/steps/{step}")
def take_step(
    request: Request,
    number: Number,
    step: Step,
    db: DB,
    note: Note = "",
    actor: Principal = requires(perms.REGISTRATION_VIEW),
) -> Response:
    """The authority accepts, returns, publicizes or issues; the applicant withdraws. The service checks who."""
    fn = STEP_FUNCTIONS[step]
    return _after(request, db, actor, number, step, lambda: fn(db, actor, number, note.strip()))


@router.post("/registry/{number}/refuse")
def refuse(
    request: Request,
    number: Number,
    db: DB,
    ground: Annotated[str, Form(max_length=32)],
    note: Note = "",
    actor: Principal = requires(perms.REGISTRATION_REVIEW),
) -> Response:
    return _after(request, db, actor, number, "refuse", lambda: service.refuse(db, actor, number, ground, note.strip()))


@router.post("/registry/{number}/document")
def amend(
    request: Request,
    number: Number,
    db: DB,
    document: Document,
    note: Note = "",
    actor: Principal = requires(perms.REGISTRATION_ADD),
) -> Response:
    def call() -> object:
        return service.amend(db, actor, number, document, note.strip())

    return _after(request, db, actor, number, "amend", call, document=document)


@router.post("/registry/{number}/objections")
def raise_objection(
    request: Request,
    number: Number,
    db: DB,
    reason: Annotated[str, Form(max_length=4000)],
    objector: Annotated[str, Form(max_length=200)] = "",
    contact: Annotated[str, Form(max_length=200)] = "",
    actor: Principal = requires(perms.OBJECTION_ADD),
) -> Response:
    def call() -> object:
        return service.raise_objection(db, actor, number, reason, objector=objector, contact=contact)

    return _after(request, db, actor, number, "object", call)


@router.post("/registry/{number}/objections/{objection_id}/resolve")
def resolve_objection(
    request: Request,
    number: Number,
    objection_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    db: DB,
    decision: Annotated[Literal["dismiss", "uphold"], Form()],
    note: Note = "",
    actor: Principal = requires(perms.REGISTRATION_REVIEW),
) -> Response:
    def call() -> object:
        return service.resolve_objection(db, actor, number, objection_id, decision, note.strip())

    return _after(request, db, actor, number, "resolve", call)
