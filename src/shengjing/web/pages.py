"""Pages and routes of the shared web layer: the home dashboard, the language switch, health and metrics."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from shengjing.audit import service as audit
from shengjing.identity import permissions as perms
from shengjing.identity import service as identity
from shengjing.identity.principal import Principal
from shengjing.web import i18n
from shengjing.web.deps import DB, page_router, public, requires
from shengjing.web.i18n import N_
from shengjing.web.nav import NavItem, register
from shengjing.web.templating import org_type_label, render

router = page_router()
register(NavItem("/", N_("首页"), perms.CONSOLE_HOME, order=0))


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or scheme-relative URL (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/")
def home(request: Request, db: DB, actor: Principal = requires(perms.CONSOLE_HOME)) -> Response:
    counts = identity.counts(db, actor)
    can_audit = actor.has(perms.AUDIT_VIEW)
    if can_audit:
        counts["audit_events"] = audit.count_events(db, actor)
    by_type = identity.organizations_by_type(db, actor)
    chart = {
        "orgTypes": [{"name": org_type_label(t), "value": n} for t, n in sorted(by_type.items())],
        "auditDaily": audit.daily_counts(db, actor) if can_audit else [],
        "labels": {"orgs": i18n.gettext("组织类型分布"), "audit": i18n.gettext("近14天审计事件")},
    }
    return render(request, "home.html", {"counts": counts, "chart_json": json.dumps(chart, ensure_ascii=False)})


@router.get("/lang/{code}")
def switch_language(
    request: Request, code: str, next: Annotated[str | None, Query()] = None, viewer: Principal | None = public()
) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in i18n.LOCALES:
        response.set_cookie(
            i18n.LOCALE_COOKIE,
            code,
            max_age=365 * 86400,
            samesite="lax",
            httponly=True,
            secure=request.app.state.settings.cookie_secure,
        )
    return response


@router.get("/healthz")
def healthz(request: Request, db: DB, viewer: Principal | None = public()) -> Response:
    checks: dict[str, str] = {}
    try:
        db.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised: health answers what is wrong
        checks["database"] = f"error: {type(exc).__name__}"
    lake = request.app.state.settings.lake_path
    checks["lake"] = "ok" if lake.is_dir() else "missing"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks}, status_code=200 if healthy else 503
    )


@router.get("/metrics")
def metrics(request: Request, viewer: Principal | None = public()) -> Response:
    return PlainTextResponse(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
