"""`shengjing authorization …`, `shengjing query`, `shengjing runs …`, `shengjing egress …` and
`shengjing analysis …`: every step of authorized operation as a command, so a deployment can be scripted end to
end. Thin doors into sandbox.service."""

from __future__ import annotations

from pathlib import Path

import typer

from shengjing.clikit import console, context, emit, err_console, read_text_file
from shengjing.sandbox import service
from shengjing.sandbox.schemas import AnalysisIn, AuthorizationOut, RunOut

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
NOTE = typer.Option("", "--note", help="A note or reason 说明或理由")
SUMMARY_COLUMNS = ["code", "title", "operator", "scenario", "status", "valid_from", "valid_until", "resources"]
RUN_COLUMNS = ["id", "authorization", "actor", "status", "rows_out", "epsilon", "duration_ms", "created_at"]


def _show(out: AuthorizationOut, as_json: bool) -> None:
    if as_json:
        emit(out, as_json=True)
        return
    console.print(
        f"[bold]{out.code}[/bold] {out.title} · {out.operator_name} · {out.scenario_name} · [bold]{out.status}[/bold]"
    )
    console.print(
        f"{out.valid_from} – {out.valid_until} · egress {out.egress} · k={out.min_group_size} · rows ≤ {out.row_limit}"
    )
    for grant in out.resources:
        controls = ", ".join(f"{name}:{c['control']}" for name, c in grant.columns.items())
        console.print(f"  {grant.resource} as [bold]{grant.table}[/bold] ({grant.consent}) {controls}")
    for budget in out.budgets:
        console.print(f"  ε {budget.resource}: {budget.left:g} of {budget.total:g} left since {budget.period_start}")


def _run(out: RunOut, as_json: bool) -> None:
    if as_json:
        emit(out, as_json=True)
        return
    console.print(f"run #{out.id} · {out.status} · {out.rows_out} rows · ε {out.epsilon:g} · {out.duration_ms} ms")
    if out.rows is not None:
        from rich.table import Table

        table = Table(*out.columns)
        for row in out.rows:
            table.add_row(*["" if v is None else str(v) for v in row])
        console.print(table)
        if out.truncated:
            console.print("[yellow]truncated to the authorization's row limit 结果已按行数上限截断[/yellow]")
    elif out.status == "pending_review":
        console.print("the result waits for egress review 结果待出域审核")


authorization_app = typer.Typer(help="Authorizations 授权运营授权 and their workflow", no_args_is_help=True)


@authorization_app.command("draft")
def draft(
    ctx: typer.Context,
    operator: str = typer.Option(..., "--operator", help="Operator organization code 运营机构"),
    scenario: str = typer.Option(..., "--scenario", help="Scenario code 应用场景"),
    resources: list[str] = typer.Option(..., "--resource", help="Resource code (repeat for several)"),
    title: str = typer.Option("", "--title"),
    purpose: str = typer.Option("", "--purpose"),
    days: int = typer.Option(365, "--days", help="Validity in days"),
    out: Path | None = typer.Option(None, "--out", help="Write the document here (default: print it)"),
) -> None:
    """A document to start from, its column controls offered by the confirmed grading."""
    cli = context(ctx)
    with cli.transaction() as db:
        text = service.draft_document(
            db,
            cli.actor,
            operator=operator,
            scenario=scenario,
            resources_=resources,
            title=title,
            purpose=purpose,
            days=days,
        )
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


@authorization_app.command("create")
def create(ctx: typer.Context, path: Path, as_json: bool = JSON) -> None:
    """Save an authorization from its document (YAML or JSON) as a draft."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.create_authorization(db, cli.actor, read_text_file(path), file=path.name), as_json)


@authorization_app.command("update")
def update(ctx: typer.Context, code: str, path: Path, as_json: bool = JSON) -> None:
    """Replace a draft's (or a rejected authorization's) document."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.update_authorization(db, cli.actor, code, read_text_file(path)), as_json)


@authorization_app.command("list")
def list_(ctx: typer.Context, status: str | None = typer.Option(None, "--status"), as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.list_authorizations(db, cli.actor, status=status), as_json=as_json, columns=SUMMARY_COLUMNS)


@authorization_app.command("show")
def show(ctx: typer.Context, code: str, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.get_authorization(db, cli.actor, code), as_json)


@authorization_app.command("schema")
def schema(ctx: typer.Context, code: str, as_json: bool = JSON) -> None:
    """The tables the operator may query, and each column's control."""
    cli = context(ctx)
    with cli.transaction() as db:
        tables = service.schema(db, cli.actor, code)
    if as_json:
        emit(tables, as_json=True)
        return
    for table in tables:
        console.print(f"[bold]{table.table}[/bold] ({table.resource} {table.resource_name}) {table.row_filter}")
        for column in table.columns:
            console.print(f"  {column['name']:<24} {column['control']:<10} {column['data_type']:<10} {column['label']}")


@authorization_app.command("apply")
def apply(ctx: typer.Context, code: str, note: str = NOTE, as_json: bool = JSON) -> None:
    """Apply (the operator): the providing departments are asked to consent."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.apply(db, cli.actor, code, note), as_json)


@authorization_app.command("consent")
def consent(
    ctx: typer.Context,
    code: str,
    resource: str = typer.Option(..., "--resource", help="The department's resource"),
    refuse: bool = typer.Option(False, "--refuse", help="Refuse instead of consenting (needs --note)"),
    note: str = NOTE,
    as_json: bool = JSON,
) -> None:
    """Consent (or refuse) as the resource's department."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.consent(db, cli.actor, code, resource, "refuse" if refuse else "consent", note), as_json)


def _bureau_command(name: str, help_text: str) -> None:
    step = getattr(service, name)

    def command(ctx: typer.Context, code: str, note: str = NOTE, as_json: bool = JSON) -> None:
        cli = context(ctx)
        with cli.transaction() as db:
            _show(step(db, cli.actor, code, note), as_json)

    command.__doc__ = help_text
    authorization_app.command(name)(command)


for _name, _help in (
    ("approve", "Approve (the data bureau): the authorization becomes active."),
    ("reject", "Send back to the operator, with a reason (--note)."),
    ("suspend", "Suspend an active authorization, with a reason (--note)."),
    ("resume", "Resume a suspended authorization."),
    ("revoke", "Revoke for good, with a reason (--note)."),
):
    _bureau_command(_name, _help)


def query(
    ctx: typer.Context,
    authorization: str = typer.Option(..., "--authorization", help="Authorization code 授权编号"),
    sql: str | None = typer.Option(None, "--sql", help="The query"),
    file: Path | None = typer.Option(None, "--file", help="A file holding the query"),
    engine: str | None = typer.Option(None, "--engine", help="duckdb | spark (default from settings)"),
    as_json: bool = JSON,
) -> None:
    """Run a query in the sandbox under an authorization (数据可用不可见)."""
    if (sql is None) == (file is None):
        raise typer.BadParameter("give exactly one of --sql and --file")
    if engine not in (None, "duckdb", "spark"):
        raise typer.BadParameter("duckdb | spark", param_hint="--engine")
    cli = context(ctx)
    text = sql if sql is not None else read_text_file(file)  # type: ignore[arg-type]
    with err_console.status("checking and running the query 正在检查并执行查询…"):
        out = service.run_query(cli.sessions, cli.actor, authorization, text, engine=engine)
    _run(out, as_json)


runs_app = typer.Typer(help="Sandbox query runs 查询记录", no_args_is_help=True)


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    authorization: str | None = typer.Option(None, "--authorization"),
    status: str | None = typer.Option(None, "--status"),
    as_json: bool = JSON,
) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_runs(db, cli.actor, authorization=authorization, status=status),
            as_json=as_json,
            columns=RUN_COLUMNS,
        )


@runs_app.command("show")
def runs_show(ctx: typer.Context, run_id: int, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.get_run(db, cli.actor, run_id)
    if not as_json:
        console.print(out.sql)
        console.print(f"[dim]{out.rewritten_sql}[/dim]")
    _run(out, as_json)


egress_app = typer.Typer(help="Egress review 出域审核", no_args_is_help=True)


@egress_app.command("list")
def egress_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Results waiting for review."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.awaiting_review(db, cli.actor), as_json=as_json, columns=RUN_COLUMNS)


@egress_app.command("approve")
def egress_approve(ctx: typer.Context, run_id: int, note: str = NOTE, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        _run(service.review_egress(db, cli.actor, run_id, "approve", note), as_json)


@egress_app.command("reject")
def egress_reject(ctx: typer.Context, run_id: int, note: str = NOTE, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        _run(service.review_egress(db, cli.actor, run_id, "reject", note), as_json)


@egress_app.command("download")
def egress_download(
    ctx: typer.Context,
    run_id: int,
    out: Path = typer.Option(..., "--out", help="The file to write"),
    fmt: str = typer.Option("csv", "--format", help="csv | xlsx | parquet"),
) -> None:
    """Download a result that may leave."""
    if fmt not in ("csv", "xlsx", "parquet"):
        raise typer.BadParameter("csv | xlsx | parquet", param_hint="--format")
    cli = context(ctx)
    with cli.transaction() as db:
        data, _ = service.result_bytes(db, cli.actor, run_id, fmt)
    out.write_bytes(data)
    console.print(f"wrote {out} ({len(data):,} bytes)")


analysis_app = typer.Typer(help="Saved analyses 分析", no_args_is_help=True)


@analysis_app.command("save")
def analysis_save(
    ctx: typer.Context,
    authorization: str,
    name: str,
    sql: str | None = typer.Option(None, "--sql"),
    file: Path | None = typer.Option(None, "--file"),
    description: str = typer.Option("", "--description"),
    engine: str = typer.Option("duckdb", "--engine"),
    as_json: bool = JSON,
) -> None:
    if (sql is None) == (file is None):
        raise typer.BadParameter("give exactly one of --sql and --file")
    cli = context(ctx)
    text = sql if sql is not None else read_text_file(file)  # type: ignore[arg-type]
    data = AnalysisIn(name=name, description=description, sql=text, engine=engine)  # type: ignore[arg-type]
    with cli.transaction() as db:
        emit(service.save_analysis(db, cli.actor, authorization, data), as_json=as_json)


@analysis_app.command("list")
def analysis_list(ctx: typer.Context, authorization: str, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_analyses(db, cli.actor, authorization),
            as_json=as_json,
            columns=["id", "name", "engine", "updated_at", "description"],
        )


@analysis_app.command("run")
def analysis_run(
    ctx: typer.Context,
    authorization: str,
    name: str,
    engine: str | None = typer.Option(None, "--engine"),
    as_json: bool = JSON,
) -> None:
    """Run a saved analysis on the newest snapshots."""
    cli = context(ctx)
    _run(service.run_analysis(cli.sessions, cli.actor, authorization, name, engine=engine), as_json)


COMMANDS = {
    "authorization": authorization_app,
    "query": query,
    "runs": runs_app,
    "egress": egress_app,
    "analysis": analysis_app,
}
