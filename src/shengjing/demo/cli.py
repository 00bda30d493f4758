"""`shengjing demo`: generate the synthetic Shenyang and set up its organizations and demo users."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shengjing.clikit import console, context, err_console
from shengjing.demo import service
from shengjing.demo.delivery import write_deliveries
from shengjing.demo.generator import generate_city
from shengjing.ingest.service import IngestReport
from shengjing.libraries.schemas import BuildOut
from shengjing.registry.calendar import CalendarNotCovered

DELIVERED_DIR = "delivered"  # inside the city directory: what the departments send, in their formats


def demo(
    ctx: typer.Context,
    persons: int = typer.Option(20_000, "--persons", min=100, help="Residents to generate 生成人口数"),
    seed: int = typer.Option(2024, "--seed", help="Same seed, same city 随机种子"),
    out: Path | None = typer.Option(None, "--out", help="Where the files go (default var/demo)"),
    files_only: bool = typer.Option(
        False, "--files-only", help="Only the files: no organizations, users, catalog or ingest"
    ),
) -> None:
    """Generate a deterministic synthetic Shenyang, its organizations and one user per role, its catalog
    (data elements and one resource per table), and ingest each department's delivery into its resource."""
    cli = context(ctx)
    target = out or cli.settings.demo_path
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("persons 人口", total=persons)

        def report(phase: str, done: int, total: int) -> None:
            progress.update(task, description=phase, completed=done, total=total)

        manifest = generate_city(target, persons=persons, seed=seed, progress=report)
        files = write_deliveries(manifest, target / DELIVERED_DIR)
    console.print(f"synthetic Shenyang written to {target} in {time.perf_counter() - started:.1f}s")
    summary = Table("table 表", "department 数据提供单位", "title 名称", "rows 行数")
    for table_file in manifest.tables:
        summary.add_row(table_file.name, table_file.department, table_file.title, f"{table_file.rows:,}")
    console.print(summary)
    if files_only:
        return
    with cli.transaction() as db:
        logins = service.set_up_organizations_and_users(db, cli.actor)
    table = Table(title="demo users 演示用户")
    for header in ("username 用户名", "password 密码", "role 角色", "organization 组织"):
        # Fold, never truncate: a password cut short with an ellipsis is useless.
        table.add_column(header, overflow="fold", no_wrap=header.startswith("password"))
    for demo_user, password in logins:
        table.add_row(demo_user.username, password, demo_user.role, demo_user.org.name)
    console.print(table)
    with cli.transaction() as db:
        codes = service.set_up_catalog(db, cli.actor)
    console.print(f"catalog 目录: data-element library loaded, {len(codes)} resources filed")

    def ingested(table: str, report: IngestReport) -> None:
        score = "-" if report.quality_score is None else f"{report.quality_score:.3f}"
        console.print(
            f"ingested 已导入 {table:<17} → {report.resource} v{report.version}: {report.rows_in:,} rows, "
            f"{report.rows_accepted:,} accepted, {report.rows_quarantined:,} quarantined 隔离, "
            f"quality 质量 {score} ({report.format}, {report.encoding or '-'}, {report.seconds:.1f}s)"
        )

    service.ingest_city(cli.sessions, cli.actor, files, progress=ingested)
    codes = service.set_up_authorizations(cli.sessions, cli.actor)
    console.print(f"authorizations 授权运营: {', '.join(codes)} active; the analyst can query them in the sandbox")
    try:
        numbers = service.set_up_registrations(cli.sessions, cli.actor)
    except CalendarNotCovered as exc:  # deadlines cannot be counted: the rest of the demo stands
        err_console.print(f"[yellow]registrations skipped 未建立登记演示[/yellow]: {exc.message_zh} / {exc.message_en}")
    else:
        console.print(f"registrations 数据产权登记: {', '.join(numbers)} (in publicity, under review, applied)")

    def built(out: BuildOut) -> None:
        console.print(
            f"library 库 {out.library} v{out.version}: {out.stats['rows']['golden']:,} records 条记录 "
            f"({out.mode}, {out.engine}, {out.stats['seconds_total']:.1f}s)"
        )

    codes = service.set_up_libraries(cli.sessions, cli.actor, progress=built)
    console.print(f"libraries 基础库与主题库: {', '.join(codes)}")
    console.print(f"log in at http://{cli.settings.host}:{cli.settings.port}/login")


COMMANDS = {"demo": demo}
