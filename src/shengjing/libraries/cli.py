"""`shengjing model …` (file, list, show data models) and `shengjing library …` (declare, build, refresh, compare,
conflicts, record): thin doors into libraries.service."""

from __future__ import annotations

from pathlib import Path

import typer

from shengjing.clikit import console, context, emit
from shengjing.libraries import service

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")

model_app = typer.Typer(help="Data models 数据模型", no_args_is_help=True)
library_app = typer.Typer(help="Base and theme libraries 基础库 · 主题库", no_args_is_help=True)


@model_app.command("file")
def file_model(ctx: typer.Context, path: Path, as_json: bool = JSON) -> None:
    """File a data model's YAML declaration (a changed declaration becomes a new version)."""
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.file_model(db, cli.actor, path.read_text("utf-8"), file=path.name)
    emit(out, as_json=as_json, columns=["code", "version", "name", "kind"])


@model_app.command("list")
def list_models(ctx: typer.Context, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_models(db, cli.actor),
            as_json=as_json,
            columns=["code", "version", "name", "kind", "libraries"],
        )


@model_app.command("show")
def show_model(ctx: typer.Context, code: str, version: int | None = None, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.get_model(db, cli.actor, code, version)
    if as_json:
        emit(out, as_json=True)
        return
    console.print(f"[bold]{out.code}[/bold] v{out.version} {out.name} ({out.kind}) · versions {out.versions}")
    for entity in out.entities:
        console.print(f"  {entity['name']} {entity['title']} (key {entity['key']})")
        for attribute in entity["attributes"]:
            element = f" ← {attribute['data_element']}" if attribute.get("data_element") else ""
            console.print(f"    {attribute['name']:<24} {attribute['type']:<10} {attribute['title']}{element}")
    for relation in out.relations:
        console.print(
            f"  {relation['source']}.{relation['attribute']} → {relation['target']} "
            f"({relation['cardinality']}, {relation['name']})"
        )


@library_app.command("declare")
def declare(ctx: typer.Context, path: Path, as_json: bool = JSON) -> None:
    """Declare a library (or change its declaration) from its YAML; its catalog resource is filed with it."""
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.declare_library(db, cli.actor, path.read_text("utf-8"), file=path.name)
    emit(out, as_json=as_json, columns=["code", "name", "kind", "model", "model_version", "inputs"])


@library_app.command("list")
def list_libraries(ctx: typer.Context, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.list_libraries(db, cli.actor),
            as_json=as_json,
            columns=["code", "name", "kind", "model", "current_version", "stale_inputs"],
        )


@library_app.command("build")
def build(
    ctx: typer.Context,
    code: str,
    engine: str | None = typer.Option(None, "--engine", help="duckdb | spark (default from settings)"),
    full: bool = typer.Option(False, "--full", help="Relink every record, even if a refresh would do"),
    as_json: bool = JSON,
) -> None:
    """Build a library from its sources' current versions (a refresh when the last build can be reused)."""
    cli = context(ctx)
    if engine not in (None, "duckdb", "spark"):
        raise typer.BadParameter("duckdb | spark", param_hint="--engine")
    with console.status(f"building {code} 构建中 …"):
        out = service.build_library(cli.sessions, cli.actor, code, engine=engine, full=full)
    if as_json:
        emit(out, as_json=True)
        return
    stats = out.stats
    console.print(
        f"[bold]{code}[/bold] v{out.version} ({out.mode}, {out.engine}) in {stats.get('seconds_total', 0):.1f}s: "
        f"{stats.get('rows', {}).get('golden', 0):,} records 条记录"
    )
    if "records" in stats:
        console.print(
            f"  {stats['records']:,} source records 来源记录 · {stats['linked_exactly']:,} by identifier 按标识 · "
            f"{stats['linked_probabilistically']:,} probabilistic 概率匹配 · {stats['grouped_without_identifier']:,} "
            f"grouped 无标识归并 · {stats['unmatched']:,} unmatched 未匹配 · {stats['kept']:,} kept 沿用 · "
            f"{stats['conflicts']:,} conflicting values 冲突值"
        )


@library_app.command("show")
def show(ctx: typer.Context, code: str, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.get_library(db, cli.actor, code)
    if as_json:
        emit(out, as_json=True)
        return
    console.print(f"[bold]{out.code}[/bold] {out.name} ({out.kind}, model {out.model} v{out.model_version})")
    console.print(f"  inputs 来源: {', '.join(out.inputs)}; current version 当前版本: {out.current_version}")
    if out.stale_inputs:
        console.print(f"  [yellow]stale 待刷新[/yellow]: {out.stale_inputs}")
    emit(out.builds, as_json=False, columns=["id", "version", "mode", "engine", "status", "trigger", "finished_at"])


@library_app.command("compare")
def compare(ctx: typer.Context, code: str, from_version: int, to_version: int, as_json: bool = JSON) -> None:
    """What changed between two versions of a library 版本比较."""
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.compare_versions(db, cli.actor, code, from_version, to_version)
    if as_json:
        emit(out, as_json=True)
        return
    console.print(
        f"{code} v{from_version} → v{to_version}: {out.records_before:,} → {out.records_after:,} records; "
        f"+{out.added:,} added, -{out.removed:,} removed, {out.changed:,} changed, {out.unchanged:,} unchanged"
    )
    emit(out.attributes, as_json=False)


@library_app.command("conflicts")
def conflicts(
    ctx: typer.Context,
    code: str,
    attribute: str | None = typer.Option(None, "--attribute"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JSON,
) -> None:
    """Values the sources disagree on 来源冲突 (a department sees the clusters its own records are in)."""
    cli = context(ctx)
    with cli.transaction() as db:
        page = service.list_conflicts(db, cli.actor, code, attribute=attribute, limit=limit, offset=offset)
    if as_json:
        emit(page, as_json=True)
        return
    console.print(f"{page.total:,} conflicting values in v{page.version}")
    emit(page.items, as_json=False)


@library_app.command("record")
def golden_record(ctx: typer.Context, code: str, key: str, as_json: bool = JSON) -> None:
    """One golden record, each attribute's lineage and the source records merged into it 可信记录与血缘."""
    cli = context(ctx)
    with cli.transaction() as db:
        out = service.golden_record(db, cli.actor, code, key)
    if as_json:
        emit(out, as_json=True)
        return
    console.print(f"[bold]{code}[/bold] v{out.version} {key}")
    emit(out.lineage, as_json=False)
    emit(out.members, as_json=False)


COMMANDS = {"model": model_app, "library": library_app}
