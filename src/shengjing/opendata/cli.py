"""`shengjing dcat export|import`: the catalog as DCAT v3 (Turtle or JSON-LD). Thin door into opendata.service."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from shengjing.clikit import console, context
from shengjing.errors import DataFormatError
from shengjing.opendata import dcat, service

dcat_app = typer.Typer(help="DCAT v3 export and import 数据目录交换", no_args_is_help=True)
COMMANDS = {"dcat": dcat_app}


@dcat_app.command("export")
def export(
    ctx: typer.Context,
    fmt: str = typer.Option("turtle", "--format", help="turtle | jsonld"),
    out: Path | None = typer.Option(None, "--out", help="Write to this file instead of standard output."),
    public_only: bool = typer.Option(False, "--public", help="Only resources open to the public (no rules)."),
    base_url: str | None = typer.Option(None, "--base-url", help="Where the platform is served (for the IRIs)."),
) -> None:
    """Export the catalog as DCAT v3."""
    if fmt not in dcat.MEDIA_TYPES:
        raise typer.BadParameter("turtle or jsonld", param_hint="--format")
    chosen: Literal["turtle", "jsonld"] = "jsonld" if fmt == "jsonld" else "turtle"
    cli = context(ctx)
    base = base_url or f"http://{cli.settings.host}:{cli.settings.port}"
    with cli.transaction() as db:
        graph = service.export_catalog(db, cli.actor, public_only=public_only, base_url=base)
    text = dcat.serialize(graph, chosen)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, "utf-8")
        console.print(f"[dim]{dcat.dataset_count(graph)} dataset(s) → {out}[/dim]")


@dcat_app.command("import")
def import_(
    ctx: typer.Context,
    file: Path,
    department: str | None = typer.Option(
        None, "--department", help="Department code for datasets whose publisher is not a department here."
    ),
) -> None:
    """Create or update resources from a DCAT file (Turtle or JSON-LD), all or nothing."""
    cli = context(ctx)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DataFormatError(
            f"无法读取 DCAT 文件 {file}：{type(exc).__name__}。",
            f"Cannot read the DCAT file {file}: {type(exc).__name__}.",
            file=str(file),
        ) from None
    graph = dcat.parse(data, dcat.guess_format(file.name, data), source=str(file))
    with cli.transaction() as db:
        report = service.import_catalog(db, cli.actor, graph, department)
    console.print(f"{len(report.created)} created 新增, {len(report.updated)} updated 更新")
