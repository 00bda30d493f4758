"""`shengjing ingest FILE_OR_URL --resource CODE`: thin door into ingest.service, with a progress bar."""

from __future__ import annotations

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


COMMANDS = {"ingest": ingest}
