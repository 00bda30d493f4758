"""`shengjing audit verify|list`: thin door into audit.service."""

from __future__ import annotations

import typer

from shengjing.audit import service
from shengjing.audit.schemas import EventFilter
from shengjing.clikit import console, context, err_console
from shengjing.errors import IntegrityBroken

audit_app = typer.Typer(help="Audit trail 审计", no_args_is_help=True)
COMMANDS = {"audit": audit_app}


@audit_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check the whole hash chain; name the first broken event."""
    cli = context(ctx)
    with cli.transaction() as db:
        report = service.verify_chain(db, cli.actor)
    if report.first_break is None:
        console.print(f"audit chain OK / 审计链完整: {report.checked} events, head {report.head_hash}")
        return
    broken = report.first_break
    err_console.print(f"[red]audit chain broken at event #{broken.seq} / 审计链在第 {broken.seq} 号事件处断开[/red]")
    raise IntegrityBroken(
        f"第 {broken.seq} 号审计事件校验失败：{broken.reason_zh}。前 {report.checked} 个事件完好。",
        f"Audit event #{broken.seq} does not verify: {broken.reason_en}. "
        f"The {report.checked} events before it are intact.",
        seq=broken.seq,
    )


@audit_app.command("list")
def list_events(
    ctx: typer.Context,
    action: str | None = typer.Option(None, "--action", help="Action prefix, e.g. identity."),
    actor: str | None = typer.Option(None, "--actor"),
    outcome: str | None = typer.Option(None, "--outcome"),
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """Show recent audit events, newest first."""
    cli = context(ctx)
    with cli.transaction() as db:
        events, total = service.list_events(
            db, cli.actor, EventFilter(actor=actor, action=action, outcome=outcome), limit=limit
        )
    for e in events:
        console.print(
            f"#{e.seq} {e.occurred_at.isoformat(timespec='seconds')} {e.actor_name} {e.action} "
            f"{e.target_type}:{e.target_id or '-'} {e.outcome} req={e.request_id}"
        )
    console.print(f"[dim]{len(events)} of {total}[/dim]")
