"""Authorized operation API: authorizations and every step of their workflow, the sandbox's queries, saved
analyses, the egress queue and result downloads. Thin door into sandbox.service."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from shengjing.identity.principal import Principal
from shengjing.sandbox import permissions as perms
from shengjing.sandbox import service
from shengjing.sandbox.schemas import (
    AnalysisIn,
    AnalysisOut,
    AuthorizationOut,
    AuthorizationSummary,
    ConsentIn,
    DecisionIn,
    QueryIn,
    RunOut,
    ScenarioOut,
    Status,
    TableSchemaOut,
)
from shengjing.web.deps import DB, api_router, requires

router = api_router("sandbox")
Code = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9-]+$")]
RunId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: Annotated[str, Field(min_length=1, max_length=200_000, description="YAML or JSON 授权文档")]


class DocumentOut(BaseModel):
    document: str


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: Annotated[str, Field(max_length=64)]
    scenario: Annotated[str, Field(max_length=32)]
    resources: Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=20)]
    title: Annotated[str, Field(max_length=200, pattern=r"^[^\x00]*$")] = ""
    purpose: Annotated[str, Field(max_length=4000, pattern=r"^[^\x00]*$")] = ""
    days: Annotated[int, Field(ge=1, le=3650)] = 365


class EgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    note: Annotated[str, Field(max_length=2000, pattern=r"^[^\x00]*$")] = ""


@router.get("/sandbox/scenarios")
def scenarios(actor: Principal = requires(perms.AUTHORIZATION_VIEW)) -> list[ScenarioOut]:
    return list(service.scenarios())


STATUSES = "^(" + "|".join(s.value for s in Status) + ")$"


@router.get("/authorizations")
def list_authorizations(
    db: DB,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
    actor: Principal = requires(perms.AUTHORIZATION_VIEW),
) -> list[AuthorizationSummary]:
    return service.list_authorizations(db, actor, status=status)


@router.post("/authorizations/draft")
def draft(body: DraftIn, db: DB, actor: Principal = requires(perms.AUTHORIZATION_ADD)) -> DocumentOut:
    """A document to start from: controls offered by the confirmed grading, to be edited and saved."""
    text = service.draft_document(
        db,
        actor,
        operator=body.operator,
        scenario=body.scenario,
        resources_=body.resources,
        title=body.title,
        purpose=body.purpose,
        days=body.days,
    )
    return DocumentOut(document=text)


@router.post("/authorizations")
def create(body: DocumentIn, db: DB, actor: Principal = requires(perms.AUTHORIZATION_ADD)) -> AuthorizationOut:
    return service.create_authorization(db, actor, body.document)


@router.get("/authorizations/{code}")
def show(code: Code, db: DB, actor: Principal = requires(perms.AUTHORIZATION_VIEW)) -> AuthorizationOut:
    return service.get_authorization(db, actor, code)


@router.put("/authorizations/{code}")
def update(
    code: Code, body: DocumentIn, db: DB, actor: Principal = requires(perms.AUTHORIZATION_ADD)
) -> AuthorizationOut:
    return service.update_authorization(db, actor, code, body.document)


@router.get("/authorizations/{code}/schema")
def schema(code: Code, db: DB, actor: Principal = requires(perms.AUTHORIZATION_VIEW)) -> list[TableSchemaOut]:
    """The tables an operator may query and each column's control (the workbench's schema browser)."""
    return service.schema(db, actor, code)


@router.post("/authorizations/{code}/apply")
def apply(
    code: Code, body: DecisionIn, db: DB, actor: Principal = requires(perms.AUTHORIZATION_ADD)
) -> AuthorizationOut:
    return service.apply(db, actor, code, body.note)


@router.post("/authorizations/{code}/consent")
def consent(
    code: Code, body: ConsentIn, db: DB, actor: Principal = requires(perms.AUTHORIZATION_REVIEW)
) -> AuthorizationOut:
    return service.consent(db, actor, code, body.resource, body.decision, body.note)


def _bureau_route(name: str) -> None:
    step = getattr(service, name)

    def route(
        code: Code, body: DecisionIn, db: DB, actor: Principal = requires(perms.AUTHORIZATION_AUDIT)
    ) -> AuthorizationOut:
        return step(db, actor, code, body.note)  # type: ignore[no-any-return]

    route.__name__ = name
    router.post(f"/authorizations/{{code}}/{name}", summary=f"{name.capitalize()} an authorization")(route)


for _step in ("approve", "reject", "suspend", "resume", "revoke"):
    _bureau_route(_step)


@router.post("/authorizations/{code}/queries")
async def run_query(
    code: Code, body: QueryIn, request: Request, db: DB, actor: Principal = requires(perms.QUERY_RUN)
) -> RunOut:
    """Run a query in the sandbox. A refusal answers 422 with its reasons (column, control, clause). The run opens
    its own short transactions, so the request's own is closed first."""
    await run_in_threadpool(db.commit)
    return await run_in_threadpool(
        service.run_query, request.app.state.sessions, actor, code, body.sql, engine=body.engine
    )


@router.get("/queries")
def list_runs(
    db: DB,
    authorization: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=16, pattern="^[a-z_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Principal = requires(perms.QUERY_VIEW),
) -> list[RunOut]:
    return service.list_runs(db, actor, authorization=authorization, status=status, limit=limit)


@router.get("/queries/{run_id}")
def show_run(run_id: RunId, db: DB, actor: Principal = requires(perms.QUERY_VIEW)) -> RunOut:
    return service.get_run(db, actor, run_id)


@router.get(
    "/queries/{run_id}/result",
    response_class=Response,
    responses={200: {"description": "The result 查询结果 (CSV, XLSX or Parquet), once it may leave"}},
)
def download(
    run_id: RunId,
    db: DB,
    format: Annotated[str, Query(pattern="^(csv|xlsx|parquet)$")] = "csv",
    actor: Principal = requires(perms.QUERY_VIEW),
) -> Response:
    data, media_type = service.result_bytes(db, actor, run_id, format)
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="run-{run_id}.{format}"'}
    )


@router.get("/egress")
def egress_queue(db: DB, actor: Principal = requires(perms.EGRESS_REVIEW)) -> list[RunOut]:
    """Results waiting for a reviewer of the data bureau (出域审核), oldest first."""
    return service.awaiting_review(db, actor)


@router.post("/queries/{run_id}/egress")
def review_egress(run_id: RunId, body: EgressIn, db: DB, actor: Principal = requires(perms.EGRESS_REVIEW)) -> RunOut:
    return service.review_egress(db, actor, run_id, body.decision, body.note)


@router.get("/authorizations/{code}/analyses")
def analyses(code: Code, db: DB, actor: Principal = requires(perms.QUERY_VIEW)) -> list[AnalysisOut]:
    return service.list_analyses(db, actor, code)


@router.post("/authorizations/{code}/analyses")
def save_analysis(code: Code, body: AnalysisIn, db: DB, actor: Principal = requires(perms.ANALYSIS_ADD)) -> AnalysisOut:
    return service.save_analysis(db, actor, code, body)


@router.post("/authorizations/{code}/analyses/{name}/run")
async def run_analysis(
    code: Code,
    name: Annotated[str, Path(max_length=200, pattern=r"^[^\x00/]+$")],
    request: Request,
    db: DB,
    engine: Annotated[str | None, Query(pattern="^(duckdb|spark)$")] = None,
    actor: Principal = requires(perms.QUERY_RUN),
) -> RunOut:
    """Run a saved analysis again, on the newest snapshots."""
    await run_in_threadpool(db.commit)
    return await run_in_threadpool(service.run_analysis, request.app.state.sessions, actor, code, name, engine=engine)
