"""`shengjing ingest FILE_OR_URL --resource CODE` (with a progress bar), `shengjing snapshot list|diff|rollback`
and `shengjing quality`: thin doors into ingest.service."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pa_csv
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from shengjing.clikit import console, context, emit
from shengjing.ingest import service


def ingest(
    ctx: typer.Context,
    location: str = typer.Argument(..., help="A file (CSV/TSV/XLSX/JSONL/Parquet) or a SQLAlchemy URL"),
    resource: str = typer.Option(..., "--resource", help="Catalog resource code 数据资源代码"),
    mode: str = typer.Option("replace", "--mode", help="replace | append"),
    encoding: str | None = typer.Option(None, "--encoding", help="Override the detected encoding, e.g. gb18030"),
    format: str | None = typer.Option(None, "--format", help="Override the detected format"),
    table: str | None = typer.Option(None, "--table", help="Table to read, with a database URL"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Ingest a file or a database table into a resource as a new snapshot (bad rows go to quarantine)."""
    cli = context(ctx)
    with Progress(
        TextColumn(f"[bold]{resource}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
    ) as bar:
        task = bar.add_task("ingest", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        report = service.ingest(
            cli.sessions,
            cli.actor,
            resource,
            location,
            mode=mode,
            encoding=encoding,
            format=format,
            table=table,
            progress=progress,
        )
    emit(
        report,
        as_json=as_json,
        columns=["resource", "version", "rows_in", "rows_accepted", "rows_quarantined", "encoding", "seconds"],
    )


snapshot_app = typer.Typer(help="Versions of a resource's data 数据版本: list, diff, roll back", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
SNAPSHOT_COLUMNS = ["version", "current", "mode", "rows_in", "rows_accepted", "rows_quarantined", "created_at"]


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context, resource: str, as_json: bool = JSON) -> None:
    """List a resource's versions, newest first."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.list_snapshots(db, cli.actor, resource), as_json=as_json, columns=SNAPSHOT_COLUMNS)


@snapshot_app.command("diff")
def snapshot_diff(ctx: typer.Context, resource: str, from_version: int, to_version: int, as_json: bool = JSON) -> None:
    """Compare two versions: row counts and schema (never data values)."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.diff_snapshots(db, cli.actor, resource, from_version, to_version), as_json=as_json)


@snapshot_app.command("rollback")
def snapshot_rollback(ctx: typer.Context, resource: str, version: int, as_json: bool = JSON) -> None:
    """Make an earlier version current again (audited; later versions are kept)."""
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.rollback(db, cli.actor, resource, version)
    emit(out, as_json=as_json, columns=["code", "name", "current_version"])


def quality_report(
    ctx: typer.Context,
    resource: str,
    version: int | None = typer.Option(None, "--version", help="Default: the current version"),
    quarantine: Path | None = typer.Option(None, "--quarantine", help="Also write the quarantined rows to this CSV"),
    as_json: bool = JSON,
) -> None:
    """A resource's quality report: score, per-field scores, per-rule tallies, timeliness."""
    cli = context(ctx)
    with cli.transaction() as db:
        report = service.quality_report(db, cli.actor, resource, version)
    if quarantine is not None:
        table = service.read_quarantine(cli.sessions, cli.actor, resource, report.version)
        pa_csv.write_csv(table, quarantine)
    if as_json:
        emit(report, as_json=True)
        return
    console.print(
        f"[bold]{resource}[/bold] v{report.version}: score {report.score}, "
        f"{report.rows_in} in = {report.rows_accepted} accepted + {report.rows_quarantined} quarantined"
    )
    emit(report.rules, as_json=False, columns=["rule_id", "field", "blocking", "checked", "failed", "pass_rate"])


COMMANDS = {"ingest": ingest, "snapshot": snapshot_app, "quality": quality_report}
