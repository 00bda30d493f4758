"""Catalog API: thin door into catalog.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from shengjing.catalog import permissions as perms
from shengjing.catalog import service
from shengjing.catalog.schemas import (
    DataElementIn,
    DataElementOut,
    ResourceIn,
    ResourceOut,
    SearchResult,
    ShareType,
)
from shengjing.identity.principal import Principal
from shengjing.web.deps import DB, api_router, requires

router = api_router("catalog")
Short = Annotated[str | None, Query(max_length=64)]


@router.get("/resources")
def search_resources(
    db: DB,
    q: Annotated[str, Query(max_length=200, description="搜索词，空格分隔 / terms, space-separated")] = "",
    department: Short = None,
    theme: Short = None,
    share_type: Annotated[ShareType | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> SearchResult:
    return service.search(
        db, actor, q, department=department, theme=theme, share_type=share_type, limit=limit, offset=offset
    )


@router.post("/resources", status_code=status.HTTP_201_CREATED)
def create_resource(body: ResourceIn, db: DB, actor: Principal = requires(perms.RESOURCE_ADD)) -> ResourceOut:
    return service.create_resource(db, actor, body)


@router.get("/resources/{code}")
def get_resource(code: str, db: DB, actor: Principal = requires(perms.RESOURCE_VIEW)) -> ResourceOut:
    return service.get_resource(db, actor, code)


@router.put("/resources/{code}")
def update_resource(
    code: str, body: ResourceIn, db: DB, actor: Principal = requires(perms.RESOURCE_CHANGE)
) -> ResourceOut:
    return service.update_resource(db, actor, code, body)


@router.get("/data-elements")
def list_data_elements(
    db: DB,
    q: Annotated[str, Query(max_length=200, description="代码、名称或标准 / code, name or standard")] = "",
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> list[DataElementOut]:
    return service.list_data_elements(db, actor, q)


@router.post("/data-elements", status_code=status.HTTP_201_CREATED)
def create_data_element(body: DataElementIn, db: DB, actor: Principal = requires(perms.ELEMENT_ADD)) -> DataElementOut:
    return service.create_data_element(db, actor, body)


@router.get("/data-elements/{code}")
def get_data_element(code: str, db: DB, actor: Principal = requires(perms.RESOURCE_VIEW)) -> DataElementOut:
    return service.get_data_element(db, actor, code)


@router.put("/data-elements/{code}")
def update_data_element(
    code: str, body: DataElementIn, db: DB, actor: Principal = requires(perms.ELEMENT_CHANGE)
) -> DataElementOut:
    return service.update_data_element(db, actor, code, body)
