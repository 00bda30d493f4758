"""Base and theme libraries console (基础库 · 主题库 · 数据模型): the models with their ER diagrams and versions, each
library with its builds, version comparison and source conflicts, and a golden record's lineage. Thin door into
libraries.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from shengjing.identity.principal import Principal
from shengjing.libraries import permissions as perms
from shengjing.libraries import service
from shengjing.libraries.schemas import BuildOut
from shengjing.web import i18n
from shengjing.web.deps import DB, page_router, requires
from shengjing.web.forms import act
from shengjing.web.i18n import N_
from shengjing.web.nav import NavItem, register
from shengjing.web.templating import render

router = page_router()
register(NavItem("/libraries", N_("基础库与主题库"), perms.LIBRARY_VIEW, order=55))

Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
PAGE = 50
MODE_LABELS = {"full": N_("全量构建"), "refresh": N_("增量刷新")}
METHOD_LABELS = {
    "identifier": N_("按标识精确关联"),
    "probabilistic": N_("概率匹配"),
    "grouped": N_("无标识归并"),
    "unmatched": N_("未匹配"),
}
RULE_LABELS = {"most_trusted": N_("最可信来源"), "most_recent": N_("最近更新"), "most_complete": N_("最完整")}


@router.get("/libraries")
def libraries_page(request: Request, db: DB, actor: Principal = requires(perms.LIBRARY_VIEW)) -> Response:
    models = service.list_models(db, actor) if actor.has(perms.MODEL_VIEW) else []
    return render(
        request,
        "libraries/index.html",
        {
            "models": models,
            "libraries": service.list_libraries(db, actor),
            "can_run": actor.has(perms.LIBRARY_RUN),
            "mode_labels": MODE_LABELS,
        },
    )


@router.get("/libraries/models/{code}")
def model_page(
    request: Request, db: DB, code: Code, version: Version = None, actor: Principal = requires(perms.MODEL_VIEW)
) -> Response:
    model = service.get_model(db, actor, code, version)
    diagram = service.model_diagram(db, actor, code, model.version)
    return render(request, "libraries/model.html", {"model": model, "diagram": diagram.model_dump()})


def _library_page(
    request: Request,
    db: Session,
    actor: Principal,
    code: str,
    *,
    compare: tuple[int, int] | None = None,
    attribute: str | None = None,
    page: int | None = 1,
    done: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """A library's page; ``page`` None leaves its conflicts out (the page a failed build is told on)."""
    library = service.get_library(db, actor, code)
    comparison = service.compare_versions(db, actor, code, *compare) if compare else None
    conflicts = None
    if page is not None and library.kind == "base" and library.current_version and actor.has(perms.CONFLICT_VIEW):
        conflicts = service.list_conflicts(db, actor, code, attribute=attribute, limit=PAGE, offset=(page - 1) * PAGE)
    return render(
        request,
        "libraries/library.html",
        {
            "library": library,
            "comparison": comparison,
            "conflicts": conflicts,
            "attribute": attribute or "",
            "page": page or 1,
            "pages": max(1, -(-conflicts.total // PAGE)) if conflicts else 1,
            "can_run": actor.has(perms.LIBRARY_RUN),
            "can_read_records": actor.has(perms.RECORD_VIEW),
            "mode_labels": MODE_LABELS,
            "done": done,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/libraries/{code}")
def library_page(
    request: Request,
    db: DB,
    code: Code,
    compare_from: Version = None,
    compare_to: Version = None,
    attribute: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str | None, Query(max_length=16)] = None,
    actor: Principal = requires(perms.LIBRARY_VIEW),
) -> Response:
    return _library_page(
        request,
        db,
        actor,
        code,
        compare=(compare_from, compare_to) if compare_from and compare_to else None,
        attribute=attribute or None,
        page=page,
        done=i18n.gettext(N_("已完成构建")) if done == "built" else None,
    )


@router.post("/libraries/{code}/build")
def build(
    request: Request,
    db: DB,
    code: Code,
    full: Annotated[bool, Form()] = False,
    actor: Principal = requires(perms.LIBRARY_RUN),
) -> Response:
    db.commit()  # the build opens transactions of its own (SQLite has one writer)

    def call() -> BuildOut:
        return service.build_library(request.app.state.sessions, actor, code, full=full)

    built, error, refusal = act(call, page_kinds=("library",))
    if built is None:
        status_code = refusal.http_status if refusal else 422
        return _library_page(request, db, actor, code, page=None, error=error, status_code=status_code)
    return RedirectResponse(f"/libraries/{code}?done=built", status_code=303)


@router.get("/libraries/{code}/records/{key}")
def record_page(
    request: Request,
    db: DB,
    code: Code,
    key: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    actor: Principal = requires(perms.RECORD_VIEW),
) -> Response:
    golden = service.golden_record(db, actor, code, key)
    return render(
        request,
        "libraries/record.html",
        {"record": golden, "method_labels": METHOD_LABELS, "rule_labels": RULE_LABELS},
    )
