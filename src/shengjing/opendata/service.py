"""Every rule of open data: what is public, DCAT export and import, and the CKAN-compatible read API.

The catalog is read and changed only through ``catalog.service``: an import creates and updates resources with
``create_resource``/``update_resource``, so their permissions and audit events apply to each one. Anonymous
callers see only resources whose open type (开放类型) is not "none" (不予开放).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rdflib import Graph
from sqlalchemy.orm import Session

from shengjing.audit.service import record, state_change
from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import ResourceIn, ResourceOut, SearchResult
from shengjing.errors import InvalidInput, ShengjingError
from shengjing.identity.principal import Principal
from shengjing.opendata import ckan, dcat
from shengjing.opendata.schemas import ImportReport, PublicResource

# Who an anonymous visitor is to the catalog's public search: no permissions at all.
PUBLIC_VIEWER = Principal(username="public", permissions=frozenset(), via="public")


# --- DCAT ----------------------------------------------------------------------------------------------------


def export_catalog(db: Session, actor: Principal | None, *, public_only: bool, base_url: str) -> Graph:
    """The catalog as DCAT: what the actor sees, or only the open resources (for anyone) when public_only.
    Standardization and quality rules go only into a non-public export (they are not published)."""
    resources = catalog.export_resources(db, actor, public_only=public_only)
    return dcat.to_graph(resources, base_url, include_rules=not public_only)


@state_change("opendata.catalog.import", "catalog")
def import_catalog(db: Session, actor: Principal, graph: Graph, department: str | None = None) -> ImportReport:
    """Create or update a resource per ``dcat:Dataset``, all or nothing (one transaction).

    A dataset's publisher is the department whose code is its ``dct:identifier``; a dataset whose publisher is
    not a department here goes to ``department`` if given, else the import stops naming the dataset. Rules the
    file does not state (a public export has none) are kept. Every dataset is checked before anything is saved.
    """
    planned: list[tuple[str, ResourceIn]] = []
    seen: dict[str, str] = {}
    for dataset in dcat.from_graph(graph):
        publisher = dataset.publisher if dataset.publisher and catalog.is_department(db, dataset.publisher) else None
        chosen = publisher or department
        if not chosen:
            raise InvalidInput(
                f"DCAT 数据集 <{dataset.iri}> 的发布者不是本平台的数据提供单位，请用 --department 指定。",
                f"The DCAT dataset <{dataset.iri}> has no publisher known here as a department: "
                "name one with --department.",
                dataset=dataset.iri,
            )
        current = (
            catalog.get_resource(db, actor, code)
            if (code := str(dataset.data["code"])) and catalog.resource_code_taken(db, code)
            else None
        )
        rules = {"standardization": current.standardization, "quality_rules": current.quality_rules} if current else {}
        resource = dataset.resource(chosen, rules)
        if resource.code in seen:
            raise InvalidInput(
                f"DCAT 数据集 <{dataset.iri}> 与 <{seen[resource.code]}> 的资源代码“{resource.code}”重复。",
                f"The DCAT datasets <{dataset.iri}> and <{seen[resource.code]}> share the code '{resource.code}'.",
                dataset=dataset.iri,
            )
        seen[resource.code] = dataset.iri
        planned.append((dataset.iri, resource))

    report = ImportReport(created=[], updated=[])
    for iri, resource in planned:
        try:
            if catalog.resource_code_taken(db, resource.code):
                catalog.update_resource(db, actor, resource.code, resource)
                report.updated.append(resource.code)
            else:
                catalog.create_resource(db, actor, resource)
                report.created.append(resource.code)
        except ShengjingError as exc:
            exc.details.setdefault("dataset", iri)  # which dataset of the file it was
            raise
    record(
        db,
        actor,
        "opendata.catalog.import",
        target_type="catalog",
        details={"created": len(report.created), "updated": len(report.updated), "department": department},
    )
    return report


# --- the public catalog ----------------------------------------------------------------------------------------


def public_search(
    db: Session, query: str = "", *, department: str | None = None, theme: str | None = None, limit: int, offset: int
) -> SearchResult:
    return catalog.search(
        db, PUBLIC_VIEWER, query, department=department, theme=theme, limit=limit, offset=offset, public_only=True
    )


def _public(resource: ResourceOut) -> PublicResource:
    current = next((v for v in resource.versions if v.version == resource.current_version), None)
    # PublicResource and PublicField name what may be published; the rest (rules, sources, history) is dropped.
    return PublicResource.model_validate(
        {
            **resource.model_dump(include=set(PublicResource.model_fields)),
            "version_date": current.created_at if current else None,
            "row_count": current.rows_accepted if current else None,
        }
    )


def public_departments(db: Session) -> dict[str, str]:
    return catalog.public_department_names(db)


def public_resource(db: Session, code: str) -> PublicResource:
    """An open resource's public description; NotFound for one that does not exist or is not open."""
    return _public(catalog.public_resource(db, code))


# --- CKAN action API (read-only, anonymous, open resources only) -----------------------------------------------


def _integer(params: dict[str, Any], name: str, default: int, maximum: int) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ckan.CkanValidationError(**{name: ["Invalid integer"]}) from None
    if number < 0:
        raise ckan.CkanValidationError(**{name: ["Must be a natural number"]})
    return min(number, maximum)


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name, "")
    if not isinstance(value, str) or "\x00" in value:
        raise ckan.CkanValidationError(**{name: ["Must be a string"]})
    return value


def _package(resource: ResourceOut, base_url: str) -> dict[str, Any]:
    return ckan.package(resource, base_url, _public(resource).version_date)


def _find_public(db: Session, name_or_id: str) -> ResourceOut:
    """By code, by CKAN name (the code lower-cased) or by CKAN id."""
    codes = catalog.public_codes(db)
    code = next(
        (c for c in codes if c == name_or_id),
        next(
            (
                c
                for c in codes
                if ckan.package_name(c) == name_or_id.lower() or ckan.ckan_id("package", c) == name_or_id
            ),
            None,
        ),
    )
    if code is None:
        raise ckan.CkanNotFound(name_or_id)
    return catalog.public_resource(db, code)


def _package_list(db: Session, params: dict[str, Any], base_url: str) -> list[str]:
    names = [ckan.package_name(c) for c in catalog.public_codes(db)]
    offset = _integer(params, "offset", 0, 10**9)
    limit = _integer(params, "limit", len(names), 10**9)
    return names[offset : offset + limit]


def _package_show(db: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    name_or_id = _text(params, "id") or _text(params, "name_or_id")
    if not name_or_id:
        raise ckan.CkanValidationError(name_or_id=["Missing value"])
    return _package(_find_public(db, name_or_id), base_url)


def _facet_fields(params: dict[str, Any]) -> list[str]:
    raw = params.get("facet.field")
    if raw is None:
        return []
    try:
        wanted = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        wanted = [raw]
    if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
        raise ckan.CkanValidationError(**{"facet.field": ["Must be a list of field names"]})
    unknown = [w for w in wanted if w not in ckan.FACET_FIELDS]
    if unknown:
        raise ckan.CkanSearchQueryError(f"unsupported facet field {unknown[0]}")
    return wanted


def _package_search(db: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    q = _text(params, "q").strip()
    if q in {"*:*", "*"}:
        q = ""
    filters = ckan.parse_fq(_text(params, "fq"))
    rows = _integer(params, "rows", ckan.DEFAULT_ROWS, ckan.MAX_ROWS)
    start = _integer(params, "start", 0, 10**9)
    wanted = _facet_fields(params)
    facet_limit = _integer(params, "facet.limit", 50, 1000)
    # Chinese search is the catalog's; the fq filters apply to the packages it finds.
    found = catalog.search(db, PUBLIC_VIEWER, q, limit=10**9, public_only=True).resources
    packages = [p for p in (_package(r, base_url) for r in found) if filters.matches(p)]
    flat, detailed = ckan.facets(packages, wanted, facet_limit)
    return {
        "count": len(packages),
        "results": packages[start : start + rows],
        "sort": "score desc, metadata_modified desc",
        "facets": flat,
        "search_facets": detailed,
    }


def _organization_list(db: Session, params: dict[str, Any], base_url: str) -> list[Any]:
    """The departments that publish open resources, by name; ``all_fields`` gives their dicts."""
    orgs = [ckan.organization(code, title) for code, title in catalog.public_department_names(db).items()]
    orgs.sort(key=lambda o: o["name"])
    all_fields = str(params.get("all_fields", "false")).lower() in {"true", "1", "yes"}
    return orgs if all_fields else [o["name"] for o in orgs]


def _status_show(db: Session, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {
        "site_title": "盛京公共数据开放目录",
        "site_description": "Shengjing public data catalog (CKAN-compatible read API)",
        "site_url": base_url.rstrip("/"),
        # Clients gate features on this: the read actions served here behave as CKAN 2.10's do.
        "ckan_version": "2.10.0",
        "locale_default": "zh_CN",
        "error_emails_to": None,
        "extensions": [],
    }


CKAN_ACTIONS: dict[str, Callable[[Session, dict[str, Any], str], Any]] = {
    "package_list": _package_list,
    "package_show": _package_show,
    "package_search": _package_search,
    "organization_list": _organization_list,
    "status_show": _status_show,
}


def ckan_action(db: Session, action: str, params: dict[str, Any], base_url: str) -> Any:
    """Run one read action of the CKAN API for an anonymous caller; raises ``ckan.CkanError`` kinds."""
    handler = CKAN_ACTIONS.get(action)
    if handler is None:
        raise KeyError(action)
    return handler(db, params, base_url)
