"""The public, login-free open-data catalog (数据开放目录) and its DCAT files. Thin door into opendata.service.

Anyone may read these pages: they list only resources whose open type allows it, and show a resource's
description (fields, formats, update frequency, current version), never its data or its rules.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from shengjing.catalog.schemas import ShareType
from shengjing.identity import permissions as perms
from shengjing.identity.principal import Principal
from shengjing.opendata import dcat, service
from shengjing.opendata.api import rdf_response
from shengjing.web.deps import DB, page_router, public
from shengjing.web.i18n import N_
from shengjing.web.labels import FIELD_TYPE_LABELS, FREQUENCY_LABELS
from shengjing.web.nav import NavItem, register
from shengjing.web.templating import render

router = page_router()
# Signed-in users find it in the menu; anonymous visitors through the link on the login page.
register(NavItem("/opendata", N_("开放目录"), perms.CONSOLE_HOME, order=48))
PAGE_SIZE = 20
Short = Annotated[str | None, Query(max_length=64)]

OPEN_TYPE_LABELS = {ShareType.UNCONDITIONAL: N_("无条件开放"), ShareType.CONDITIONAL: N_("有条件开放")}
LABELS = {"open_types": OPEN_TYPE_LABELS, "frequencies": FREQUENCY_LABELS, "field_types": FIELD_TYPE_LABELS}


# The catalog files come first: "catalog.ttl" must not be taken for a resource code (codes have no dot anyway).
@router.get("/opendata/catalog.ttl")
def catalog_turtle(request: Request, db: DB, viewer: Principal | None = public()) -> Response:
    graph = service.export_catalog(db, None, public_only=True, base_url=str(request.base_url))
    return rdf_response(dcat.serialize(graph, "turtle"), "turtle", "catalog.ttl")


@router.get("/opendata/catalog.jsonld")
def catalog_jsonld(request: Request, db: DB, viewer: Principal | None = public()) -> Response:
    graph = service.export_catalog(db, None, public_only=True, base_url=str(request.base_url))
    return rdf_response(dcat.serialize(graph, "jsonld"), "jsonld", "catalog.jsonld")


@router.get("/opendata")
def open_catalog(
    request: Request,
    db: DB,
    q: Annotated[str, Query(max_length=200)] = "",
    department: Short = None,
    theme: Short = None,
    page: Annotated[int, Query(ge=1, le=10**6)] = 1,
    viewer: Principal | None = public(),
) -> Response:
    result = service.public_search(
        db, q, department=department or None, theme=theme or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    query = {"q": q, "department": department or "", "theme": theme or ""}
    return render(
        request,
        "opendata/index.html",
        {
            "result": result,
            "query": query,
            "query_params": {k: v for k, v in query.items() if v},
            "departments": service.public_departments(db),
            "page": page,
            "pages": max(1, -(-result.total // PAGE_SIZE)),
            **LABELS,
        },
    )


@router.get("/opendata/{code}")
def open_resource(request: Request, code: str, db: DB, viewer: Principal | None = public()) -> Response:
    return render(request, "opendata/resource.html", {"resource": service.public_resource(db, code), **LABELS})
