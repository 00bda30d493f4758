"""`shengjing classify RESOURCE [--full] [--json]` and `shengjing grading …` (review, audit, alerts, history, rule
set, city overview, the grading catalogue as XLSX, scheduled full scans): thin doors into classify.service."""

from __future__ import annotations

from pathlib import Path

import typer

from shengjing.classify import service
from shengjing.classify.classifier import Mode
from shengjing.classify.detectors import InfoType
from shengjing.classify.schemas import ResourceGradingOut, ReviewIn
from shengjing.clikit import console, context, emit
from shengjing.errors import DataFormatError
from shengjing.exports import xlsx_bytes

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
FIELD_COLUMNS = ["field", "label", "info_type", "level", "confidence", "decided_by", "status", "column_control"]


def _show(out: ResourceGradingOut, as_json: bool) -> None:
    if as_json:
        emit(out, as_json=True)
        return
    console.print(
        f"[bold]{out.resource}[/bold] {out.resource_name} · v{out.classified_version} · "
        f"级别 level [bold]{out.level}[/bold] {out.level_name or ''} (rule {out.level_rule}) · "
        f"{out.reviewed} reviewed, {out.proposed} proposed"
    )
    emit(out.fields, as_json=False, columns=FIELD_COLUMNS)


def classify(
    ctx: typer.Context,
    resource: str = typer.Argument(..., help="Catalog resource code 数据资源代码"),
    full: bool = typer.Option(False, "--full", help="Count every row (default: a bounded sample)"),
    engine: str | None = typer.Option(None, "--engine", help="duckdb | spark (full scans; default from settings)"),
    version: int | None = typer.Option(None, "--version", help="Snapshot to classify (default: the current one)"),
    as_json: bool = JSON,
) -> None:
    """Classify and grade every field of a resource's snapshot (数据分类分级) and record the proposals."""
    cli = context(ctx)
    if engine not in (None, "duckdb", "spark"):
        raise typer.BadParameter("duckdb | spark", param_hint="--engine")
    out = service.classify_resource(
        cli.sessions, cli.actor, resource, mode=Mode.FULL if full else Mode.SAMPLE, engine=engine, version=version
    )
    _show(out, as_json)


grading_app = typer.Typer(help="Review and audit classification and grading 分类分级审核", no_args_is_help=True)


@grading_app.command("show")
def show(ctx: typer.Context, resource: str, as_json: bool = JSON) -> None:
    """A resource's grading: each field's type, level, confidence, status and column control."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.get_grading(db, cli.actor, resource), as_json)


@grading_app.command("confirm")
def confirm(
    ctx: typer.Context,
    resource: str,
    fields: list[str] = typer.Argument(None, help="Fields to confirm (default: every proposed field)"),
    reason: str = typer.Option("", "--reason"),
    as_json: bool = JSON,
) -> None:
    """Confirm proposals as the owning department."""
    cli = context(ctx)
    with cli.transaction() as db:
        names = fields or [
            f.field for f in service.get_grading(db, cli.actor, resource).fields if f.status == "proposed"
        ]
        decisions = [ReviewIn(field=name, action="confirm", reason=reason) for name in names]
        out = service.review_fields(db, cli.actor, resource, decisions)
    _show(out, as_json)


@grading_app.command("override")
def override(
    ctx: typer.Context,
    resource: str,
    field: str,
    reason: str = typer.Option(..., "--reason", help="Why the proposal is wrong 修正理由"),
    info_type: InfoType | None = typer.Option(None, "--type", help="The type in force"),
    level: str | None = typer.Option(None, "--level", help="The level in force, e.g. L4"),
    as_json: bool = JSON,
) -> None:
    """Override a field's proposed type and/or level, with a reason."""
    cli = context(ctx)
    decision = ReviewIn(field=field, action="override", info_type=info_type, level=level, reason=reason)
    with cli.transaction() as db:
        _show(service.review_field(db, cli.actor, resource, decision), as_json)


@grading_app.command("reopen")
def reopen(
    ctx: typer.Context,
    resource: str,
    field: str | None = typer.Argument(None, help="One field (default: every reviewed field)"),
    reason: str = typer.Option(..., "--reason"),
    as_json: bool = JSON,
) -> None:
    """Send reviewed fields back to the department (data bureau)."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.reopen(db, cli.actor, resource, field, reason), as_json)


@grading_app.command("audit")
def audit(ctx: typer.Context, resource: str, note: str = typer.Option("", "--note"), as_json: bool = JSON) -> None:
    """Sign off a fully reviewed grading (data bureau)."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.audit(db, cli.actor, resource, note), as_json)


@grading_app.command("alerts")
def alerts(ctx: typer.Context, all_alerts: bool = typer.Option(False, "--all"), as_json: bool = JSON) -> None:
    """Fields whose detected type changed in a re-scan (open ones by default)."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_alerts(db, cli.actor, open_only=not all_alerts),
            as_json=as_json,
            columns=["id", "resource", "field_name", "old_type", "new_type", "status_kept", "created_at"],
        )


@grading_app.command("ack")
def acknowledge(ctx: typer.Context, alert_id: int, as_json: bool = JSON) -> None:
    """Acknowledge a type-change alert."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.acknowledge_alert(db, cli.actor, alert_id), as_json=as_json)


@grading_app.command("history")
def history(ctx: typer.Context, resource: str, as_json: bool = JSON) -> None:
    """Every detection, review, reopening, audit and type change of a resource, newest first."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.history(db, cli.actor, resource),
            as_json=as_json,
            columns=["created_at", "field_name", "action", "from_type", "to_type", "from_level", "to_level", "actor"],
        )


@grading_app.command("overview")
def overview(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The city-wide view: resources, fields and rows at each level; departments; alerts."""
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.overview(db, cli.actor)
    if as_json:
        emit(out, as_json=True)
        return
    emit(out.levels, as_json=False)
    console.print(
        f"unclassified {out.unclassified} · open alerts {out.open_alerts} · awaiting audit {len(out.awaiting_audit)}"
    )


@grading_app.command("export")
def export(ctx: typer.Context, path: Path = typer.Argument(..., help="The .xlsx file to write")) -> None:
    """Write the grading catalogue (分类分级清单) as XLSX."""
    cli = context(ctx)
    with cli.transaction() as db:
        sheets = service.grading_catalogue(db, cli.actor)
    path.write_bytes(xlsx_bytes((s.title, s.header, s.rows) for s in sheets))
    console.print(f"{path}: {sum(len(s.rows) for s in sheets)} rows")


@grading_app.command("scan-due")
def scan_due(
    ctx: typer.Context,
    older_than_days: int = typer.Option(30, "--older-than-days", min=0),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the resources"),
) -> None:
    """Full-scan every resource whose current snapshot has no recent full scan (run it from cron or a timer)."""
    cli = context(ctx)
    with cli.transaction() as db:
        due = service.due_full_scans(db, cli.actor, older_than_days=older_than_days)
    for code in due:
        if dry_run:
            console.print(code)
            continue
        out = service.classify_resource(cli.sessions, cli.actor, code, mode=Mode.FULL)
        console.print(f"{code}: {out.level} ({out.level_rule})")


rules_app = typer.Typer(help="The grading rule set 分类分级规则集 (YAML, versioned)", no_args_is_help=True)
grading_app.add_typer(rules_app, name="rules")


@rules_app.command("show")
def rules_show(ctx: typer.Context, version: int | None = typer.Option(None, "--version")) -> None:
    """Print the rule set in force (or a given version) as YAML."""
    cli = context(ctx)
    with cli.transaction() as db:
        typer.echo(service.get_ruleset(db, cli.actor, version).text)


@rules_app.command("list")
def rules_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every saved version of the rule set, newest first."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_rulesets(db, cli.actor),
            as_json=as_json,
            columns=["version", "name", "comment", "created_by", "created_at"],
        )


@rules_app.command("load")
def rules_load(ctx: typer.Context, path: Path, comment: str = typer.Option("", "--comment")) -> None:
    """Check a YAML rule set and save it as the new version in force."""
    cli = context(ctx)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(
            f"无法读取规则集文件 {path}：{type(exc).__name__}。",
            f"Cannot read the rule set file {path}: {type(exc).__name__}.",
            file=str(path),
        ) from exc
    with cli.transaction() as db:
        out = service.save_ruleset(db, cli.actor, text, comment)
    console.print(f"rule set version {out.version}: {out.name}")


COMMANDS = {"classify": classify, "grading": grading_app}
