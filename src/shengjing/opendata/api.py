"""Open-data API: the DCAT export under /api/v1, and CKAN's read-only action API (anonymous, open resources only).

CKAN clients (ckanapi, harvesters) call ``/api/action/<name>`` or ``/api/3/action/<name>``, by GET with query
parameters or by POST with a JSON body, and read CKAN's envelope: ``{"help", "success", "result"}`` or
``{"help", "success": false, "error": {"__type", "message"}}`` with CKAN's status codes. Those routes are CKAN's
interface, documented by CKAN, so they stay out of Shengjing's OpenAPI description.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from shengjing.catalog import permissions as perms
from shengjing.identity.principal import Principal
from shengjing.logs import get_logger
from shengjing.opendata import ckan, dcat, service
from shengjing.web.deps import DB, GuardedRoute, api_router, public, requires

router = api_router("opendata")
log = get_logger("shengjing.opendata")

RDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "DCAT v3: Turtle or JSON-LD",
        "content": {
            "text/turtle": {"schema": {"type": "string"}},
            "application/ld+json": {"schema": {"type": "object"}},
        },
    }
}


def rdf_format(request: Request, requested: str | None) -> dcat.Format:
    """The ``format`` parameter if given, else JSON-LD when the Accept header asks for it, else Turtle."""
    if requested in ("turtle", "jsonld"):
        return requested  # type: ignore[return-value]
    accept = request.headers.get("accept", "")
    return "jsonld" if "application/ld+json" in accept else "turtle"


def rdf_response(text: str, fmt: dcat.Format, filename: str) -> Response:
    return Response(
        text,
        media_type=f"{dcat.MEDIA_TYPES[fmt]}; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Vary": "Accept"},
    )


@router.get("/dcat", response_class=Response, responses=RDF_RESPONSES)
def export_dcat(
    request: Request,
    db: DB,
    fmt: Annotated[Literal["turtle", "jsonld"] | None, Query(alias="format")] = None,
    public_only: Annotated[bool, Query(alias="public", description="只含开放资源 / open resources only")] = False,
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> Response:
    """The catalog the caller sees as DCAT v3 (rules included unless public=true)."""
    chosen = rdf_format(request, fmt)
    graph = service.export_catalog(db, actor, public_only=public_only, base_url=str(request.base_url))
    return rdf_response(dcat.serialize(graph, chosen), chosen, f"catalog.{'jsonld' if chosen == 'jsonld' else 'ttl'}")


# --- CKAN ----------------------------------------------------------------------------------------------------

ckan_router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


async def _params(request: Request) -> dict[str, Any]:
    """CKAN's request data: query parameters for GET (a repeated one becomes a list), a JSON object for POST."""
    if request.method == "GET":
        return {key: (values[0] if len(values) == 1 else values) for key, values in _multi(request).items()}
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _BadRequest(f"JSON Error: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise _BadRequest("Bad request data: Request data JSON decoded to a non-dictionary")
    return data


def _multi(request: Request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        found.setdefault(key, []).append(value)
    return found


class _BadRequest(Exception):
    pass


@ckan_router.api_route("/api/action/{action}", methods=["GET", "POST"])
@ckan_router.api_route("/api/3/action/{action}", methods=["GET", "POST"])
async def ckan_action(action: str, request: Request, db: DB, viewer: Principal | None = public()) -> Response:
    base_url = str(request.base_url).rstrip("/")
    if action not in service.CKAN_ACTIONS:
        return JSONResponse(f"Bad request - Action name not known: {action}", status_code=400)
    answer: dict[str, Any] = {"help": f"{base_url}/api/3/action/help_show?name={action}"}
    try:
        params = await _params(request)
        result = await run_in_threadpool(service.ckan_action, db, action, params, base_url)
    except _BadRequest as exc:
        return JSONResponse(f"Bad request - {exc}", status_code=400)
    except ckan.CkanError as exc:
        return JSONResponse({**answer, "success": False, "error": exc.body()}, status_code=exc.status)
    except Exception:
        log.exception("CKAN action failed", action=action)
        error = {"__type": "Internal Server Error", "message": "Internal Server Error"}
        return JSONResponse({**answer, "success": False, "error": error}, status_code=500)
    return JSONResponse({**answer, "success": True, "result": result})


# The app collects each domain's ``api.router``: the CKAN routes ride along with their own prefix.
router.routes.extend(ckan_router.routes)
