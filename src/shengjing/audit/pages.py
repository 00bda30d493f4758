"""The audit viewer: filters, paging, and a chain check, in the console. Thin door into audit.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from shengjing.audit import service
from shengjing.audit.api import event_query
from shengjing.audit.schemas import SHANGHAI, EventFilter
from shengjing.identity import permissions as perms
from shengjing.identity.principal import Principal
from shengjing.web.deps import DB, page_router, requires
from shengjing.web.i18n import N_
from shengjing.web.nav import NavItem, register
from shengjing.web.templating import render

router = page_router()
register(NavItem("/audit", N_("审计日志"), perms.AUDIT_VIEW, order=90))
PAGE_SIZE = 50


def _page_context(db: DB, actor: Principal, query: EventFilter, page: int) -> dict[str, object]:
    events, total = service.list_events(db, actor, query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return {
        "events": events,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        # The form shows times as the console does: Shenyang local time, minutes.
        "query": {
            **query.model_dump(mode="json"),
            **{
                key: value.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
                for key, value in (("since", query.since), ("until", query.until))
                if value is not None
            },
        },
        "query_params": query.model_dump(mode="json", exclude_none=True),
    }


@router.get("/audit")
def audit_viewer(
    request: Request,
    db: DB,
    query: Annotated[EventFilter, Depends(event_query)],
    page: Annotated[int, Query(ge=1, le=10**6)] = 1,
    actor: Principal = requires(perms.AUDIT_VIEW),
) -> Response:
    context = _page_context(db, actor, query, page)
    # htmx asks for the table alone when a filter changes; a plain request gets the whole page.
    template = "audit/_events_table.html" if request.headers.get("hx-request") else "audit/events.html"
    return render(request, template, {**context, "can_verify": actor.has(perms.AUDIT_VERIFY)})


@router.get("/audit/verify")
def audit_verify(request: Request, db: DB, actor: Principal = requires(perms.AUDIT_VERIFY)) -> Response:
    return render(request, "audit/_verify.html", {"report": service.verify_chain(db, actor)})
