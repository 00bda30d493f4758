"""Data path API: upload to ingest, versions (list, diff, roll back), quality report and quarantine.
Thin door into ingest.service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import anyio.from_thread
import pyarrow as pa
import pyarrow.csv as pa_csv
from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shengjing.catalog import permissions as perms
from shengjing.catalog.schemas import ResourceOut
from shengjing.identity.principal import Principal
from shengjing.ingest import service
from shengjing.ingest.schemas import IngestReport, QualityReportOut, SnapshotDiff, SnapshotOut
from shengjing.web.deps import DB, api_router, requires

router = api_router("ingest")
Version = Annotated[int, Query(ge=1, le=10**9)]
Choice = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post(
    "/resources/{code}/ingest",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file's bytes 文件内容 (CSV/TSV/XLSX/JSONL/Parquet)",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def ingest_upload(
    code: str,
    request: Request,
    db: DB,
    filename: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00/\\]+$")],
    mode: Annotated[str, Query(pattern="^(replace|append)$")] = "replace",
    encoding: Choice = None,
    format: Choice = None,
    actor: Principal = requires(perms.RESOURCE_INGEST),
) -> IngestReport:
    """Stream the request body into a new version of the resource. The ingest opens its own short
    transactions, so the request's own is closed first (on SQLite, two open writers would wait on each other)."""
    await run_in_threadpool(db.commit)
    return await run_in_threadpool(
        service.ingest_upload,
        request.app.state.sessions,
        actor,
        code,
        _body_chunks(request),
        filename,
        mode=mode,
        encoding=encoding,
        format=format,
    )


def _body_chunks(request: Request) -> Iterator[bytes]:
    """The request body as a plain iterator, for the worker thread that spools it (pulled from the event loop)."""
    stream = request.stream()
    while True:
        try:
            chunk = anyio.from_thread.run(stream.__anext__)
        except StopAsyncIteration:
            return
        if chunk:
            yield chunk


@router.get("/resources/{code}/versions")
def list_versions(code: str, db: DB, actor: Principal = requires(perms.RESOURCE_VIEW)) -> list[SnapshotOut]:
    return service.list_snapshots(db, actor, code)


@router.get("/resources/{code}/versions/diff")
def diff_versions(
    code: str,
    db: DB,
    from_version: Annotated[int, Query(alias="from", ge=1, le=10**9)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=10**9)],
    actor: Principal = requires(perms.RESOURCE_VIEW),
) -> SnapshotDiff:
    return service.diff_snapshots(db, actor, code, from_version, to_version)


class RollbackIn(BaseModel):
    version: int = Field(ge=1, le=10**9)


@router.post("/resources/{code}/rollback")
def rollback(code: str, body: RollbackIn, db: DB, actor: Principal = requires(perms.RESOURCE_INGEST)) -> ResourceOut:
    return service.rollback(db, actor, code, body.version)


@router.get("/resources/{code}/quality")
def quality_report(
    code: str, db: DB, version: Version | None = None, actor: Principal = requires(perms.RESOURCE_VIEW)
) -> QualityReportOut:
    return service.quality_report(db, actor, code, version)


@router.get(
    "/resources/{code}/quarantine",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "Quarantined rows 隔离的记录 (UTF-8 CSV)"}},
)
def quarantine(
    code: str,
    request: Request,
    db: DB,
    version: Version | None = None,
    limit: Annotated[int | None, Query(ge=1, le=10**7)] = None,
    actor: Principal = requires(perms.RESOURCE_INGEST),
) -> Response:
    """The rows an ingest quarantined, with their row numbers, rules and reasons, as CSV."""
    db.commit()  # read_quarantine opens its own transaction
    table = service.read_quarantine(request.app.state.sessions, actor, code, version, limit)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink)
    return Response(
        sink.getvalue().to_pybytes(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{code}-quarantine.csv"'},
    )
