"""Libraries API: data models (file, list, read, ER diagram), libraries (declare, list, read, build), and what a
build made (version comparison, source conflicts, a golden record with its lineage). Thin door into
libraries.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from shengjing.identity.principal import Principal
from shengjing.libraries import permissions as perms
from shengjing.libraries import service
from shengjing.libraries.schemas import (
    BuildOut,
    ConflictPage,
    DataModelOut,
    DiagramOut,
    GoldenRecordOut,
    LibraryOut,
    VersionComparison,
)
from shengjing.web.deps import DB, api_router, requires

router = api_router("libraries")
Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Version = Annotated[int, Query(ge=1, le=2**31 - 1)]


class DeclarationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    declaration: Annotated[str, Field(min_length=1, max_length=200_000, description="YAML declaration 声明")]


class BuildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: Annotated[str | None, Field(pattern="^(duckdb|spark)$")] = None
    full: bool = False


@router.get("/models")
def list_models(db: DB, actor: Principal = requires(perms.MODEL_VIEW)) -> list[DataModelOut]:
    return service.list_models(db, actor)


@router.post("/models", status_code=201)
def file_model(body: DeclarationIn, db: DB, actor: Principal = requires(perms.MODEL_CHANGE)) -> DataModelOut:
    return service.file_model(db, actor, body.declaration)


@router.get("/models/{code}")
def get_model(
    code: Code, db: DB, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    actor: Principal = requires(perms.MODEL_VIEW),
) -> DataModelOut:  # fmt: skip
    return service.get_model(db, actor, code, version)


@router.get("/models/{code}/diagram")
def model_diagram(
    code: Code, db: DB, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    actor: Principal = requires(perms.MODEL_VIEW),
) -> DiagramOut:  # fmt: skip
    return service.model_diagram(db, actor, code, version)


@router.get("/libraries")
def list_libraries(db: DB, actor: Principal = requires(perms.LIBRARY_VIEW)) -> list[LibraryOut]:
    return service.list_libraries(db, actor)


@router.post("/libraries", status_code=201)
def declare_library(body: DeclarationIn, db: DB, actor: Principal = requires(perms.LIBRARY_CHANGE)) -> LibraryOut:
    return service.declare_library(db, actor, body.declaration)


@router.get("/libraries/{code}")
def get_library(code: Code, db: DB, actor: Principal = requires(perms.LIBRARY_VIEW)) -> LibraryOut:
    return service.get_library(db, actor, code)


@router.post("/libraries/{code}/builds", status_code=201)
async def build_library(
    code: Code, body: BuildIn, request: Request, db: DB, actor: Principal = requires(perms.LIBRARY_RUN)
) -> BuildOut:
    """Build or refresh the library. The build opens its own transactions, so the request's is closed first."""
    await run_in_threadpool(db.commit)
    return await run_in_threadpool(
        service.build_library, request.app.state.sessions, actor, code, engine=body.engine, full=body.full
    )


@router.get("/libraries/{code}/compare")
def compare_versions(
    code: Code, from_version: Version, to_version: Version, db: DB, actor: Principal = requires(perms.LIBRARY_VIEW)
) -> VersionComparison:
    return service.compare_versions(db, actor, code, from_version, to_version)


@router.get("/libraries/{code}/conflicts")
def list_conflicts(
    code: Code,
    db: DB,
    attribute: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    actor: Principal = requires(perms.CONFLICT_VIEW),
) -> ConflictPage:
    return service.list_conflicts(db, actor, code, attribute=attribute, version=version, limit=limit, offset=offset)


@router.get("/libraries/{code}/records/{key}")
def golden_record(
    code: Code,
    key: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    db: DB,
    actor: Principal = requires(perms.RECORD_VIEW),
) -> GoldenRecordOut:
    return service.golden_record(db, actor, code, key)
