"""`shengjing registration …`, `shengjing certificate …`, `shengjing verify` and `shengjing log …`: every step of
data property registration as a command, the offline check of a certificate bundle, and the transparency log's
checkpoint, verification, keys and monitor. Thin doors into registry.service, registry.verify and registry.monitor.

`shengjing verify` opens no database and reads no settings: it is what a holder or a counterparty runs, anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from shengjing.clikit import console, context, emit, err_console, read_text_file
from shengjing.errors import IntegrityBroken
from shengjing.registry import log as transparency_log
from shengjing.registry import service
from shengjing.registry.schemas import RegistrationOut

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
NOTE = typer.Option("", "--note", help="A note or reason 说明或理由")
SUMMARY_COLUMNS = ["number", "kind", "status", "object_code", "holder_name", "rights", "due", "overdue"]


def _show(out: RegistrationOut, as_json: bool) -> None:
    if as_json:
        emit(out, as_json=True)
        return
    console.print(
        f"[bold]{out.number}[/bold] {out.kind} · {out.object_name} ({out.object_code}) · [bold]{out.status}[/bold]"
    )
    console.print(
        f"holder 权利人 {out.holder_name} · rights {', '.join(out.rights)} · "
        f"{out.term_start} – {out.term_end or '长期'}"
    )
    if out.publicity_end:
        console.print(f"publicity 公示 {out.publicity_start} – {out.publicity_end}")
    if out.certificate_number:
        console.print(f"certificate 证书 {out.certificate_number}")
    for check in out.checks:
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        console.print(f"  {mark} {check.message_zh} / {check.message_en}")
    for objection in out.objections:
        console.print(f"  objection #{objection.id} ({objection.status}) {objection.objector}: {objection.reason}")


registration_app = typer.Typer(help="Registrations 数据产权登记 and their workflow", no_args_is_help=True)


@registration_app.command("draft")
def draft(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="Resource code, or the product's own code"),
    product: bool = typer.Option(False, "--product", help="Register a data product (default: a resource)"),
    version: int | None = typer.Option(None, "--version", help="Resource snapshot, or the product's sandbox run"),
    name: str = typer.Option("", "--name", help="The product's name"),
    out: Path | None = typer.Option(None, "--out", help="Write the application here (default: print it)"),
) -> None:
    """An application to start from, filled in from the catalog (or the product's released run)."""
    cli = context(ctx)
    kind = "product" if product else "resource"
    with cli.transaction() as db:
        text = service.draft_document(db, cli.actor, object_kind=kind, code=code, version=version, name=name)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


@registration_app.command("apply")
def apply(
    ctx: typer.Context,
    path: Path,
    applicant: str = typer.Option(..., "--applicant", help="The applying organization's code 申请单位"),
    as_json: bool = JSON,
) -> None:
    """File an application (YAML or JSON) for an organization, as the authority's counter does with a paper one."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.apply(db, cli.actor, read_text_file(path), file=path.name, applicant=applicant), as_json)


@registration_app.command("amend")
def amend(ctx: typer.Context, number: str, path: Path, note: str = NOTE, as_json: bool = JSON) -> None:
    """Resubmit an application returned for correction."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.amend(db, cli.actor, number, read_text_file(path), note), as_json)


@registration_app.command("list")
def list_(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status"),
    overdue: bool = typer.Option(False, "--overdue", help="Only the cases past the authority's deadline"),
    as_json: bool = JSON,
) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        rows = service.list_registrations(db, cli.actor, status=status, overdue=overdue)
        emit(rows, as_json=as_json, columns=SUMMARY_COLUMNS)


@registration_app.command("show")
def show(ctx: typer.Context, number: str, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.get_registration(db, cli.actor, number), as_json)


@registration_app.command("unregistered")
def unregistered(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Resources authorized operation uses that have no registration in force or under way. Exits 1 when any."""
    cli = context(ctx)
    with cli.transaction() as db:
        missing = service.unregistered_in_scope(db, cli.actor)
    emit(missing, as_json=as_json, columns=["resource", "name", "department_name", "authorizations"])
    if missing:
        raise typer.Exit(1)


@registration_app.command("overdue")
def overdue(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Reminders: the cases the authority is late on. Exits 1 when there is any (for a daily cron job)."""
    cli = context(ctx)
    with cli.transaction() as db:
        late = service.reminders(db, cli.actor)
    emit(late, as_json=as_json, columns=["number", "status", "due", "working_days_overdue"])
    if late:
        raise typer.Exit(1)


def _authority_command(name: str, step: str, help_text: str) -> None:
    fn = getattr(service, name)

    def command(ctx: typer.Context, number: str, note: str = NOTE, as_json: bool = JSON) -> None:
        cli = context(ctx)
        with cli.transaction() as db:
            _show(fn(db, cli.actor, number, note), as_json)

    command.__doc__ = help_text
    registration_app.command(step)(command)


for _name, _step, _help in (
    ("accept", "accept", "Accept an application (formal check passed) 受理."),
    ("return_for_correction", "return", "Return an application for correction 退回补正 (--note says what)."),
    ("publicize", "publicize", "Review passed: publicize it 公示 (or approve a correction or cancellation)."),
    ("issue", "issue", "Issue the certificate 发证 once publicity is over."),
    ("withdraw", "withdraw", "Withdraw an application 撤回 (the applicant)."),
):
    _authority_command(_name, _step, _help)


@registration_app.command("refuse")
def refuse(
    ctx: typer.Context,
    number: str,
    ground: str = typer.Option(
        ..., "--ground", help="core_data | unlawful_source | rights_in_dispute | incomplete | other"
    ),
    note: str = typer.Option(..., "--note", help="The reasons 不予登记的理由"),
    as_json: bool = JSON,
) -> None:
    """Refuse a registration 不予登记, on a named ground."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.refuse(db, cli.actor, number, ground, note), as_json)


@registration_app.command("object")
def object_(
    ctx: typer.Context,
    number: str,
    reason: str = typer.Option(..., "--reason", help="Why 异议理由"),
    objector: str = typer.Option("", "--objector", help="Who objects (an objection received in writing)"),
    contact: str = typer.Option("", "--contact"),
    as_json: bool = JSON,
) -> None:
    """Record an objection 异议 during publicity: the case pauses until it is resolved."""
    cli = context(ctx)
    with cli.transaction() as db:
        _show(service.raise_objection(db, cli.actor, number, reason, objector=objector, contact=contact), as_json)


@registration_app.command("resolve")
def resolve(
    ctx: typer.Context,
    number: str,
    objection: int,
    uphold: bool = typer.Option(False, "--uphold", help="The objection holds (default: dismiss it)"),
    note: str = typer.Option(..., "--note", help="The reasons"),
    as_json: bool = JSON,
) -> None:
    """Resolve an objection: dismiss it (publicity resumes) or uphold it (refused: rights in dispute)."""
    cli = context(ctx)
    decision = "uphold" if uphold else "dismiss"
    with cli.transaction() as db:
        _show(service.resolve_objection(db, cli.actor, number, objection, decision, note), as_json)


certificate_app = typer.Typer(help="Certificates 登记证书: status, bundle, PDF", no_args_is_help=True)


@certificate_app.command("show")
def certificate_show(ctx: typer.Context, number: str, as_json: bool = JSON) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.certificate_status(db, number), as_json=as_json)


@certificate_app.command("bundle")
def certificate_bundle(
    ctx: typer.Context, number: str, out: Path = typer.Option(..., "--out", help="Where to write the bundle")
) -> None:
    """The signed bundle with its inclusion proof to the latest checkpoint, for `shengjing verify`."""
    from shengjing.registry.bundle import dumps_bundle

    cli = context(ctx)
    with cli.transaction() as db:
        out.write_text(dumps_bundle(service.certificate_bundle(db, number)), encoding="utf-8")
    console.print(f"wrote {out}")


@certificate_app.command("pdf")
def certificate_pdf(
    ctx: typer.Context, number: str, out: Path = typer.Option(..., "--out", help="Where to write the PDF")
) -> None:
    cli = context(ctx)
    with cli.transaction() as db:
        out.write_bytes(service.certificate_pdf(db, number))
    console.print(f"wrote {out}")


def verify(
    path: Path = typer.Argument(..., help="The certificate bundle (JSON)"),
    keys: list[Path] = typer.Option(..., "--key", help="The authority's public keys (PEM; repeat for several)"),
    as_json: bool = JSON,
) -> None:
    """Verify a certificate bundle offline: its signature, its checkpoint and its inclusion proof. No database."""
    from shengjing.registry.verify import load_keys, verify_certificate

    verified = verify_certificate(read_text_file(path), load_keys(keys))
    c = verified.certificate
    if as_json:
        result = {
            "ok": True,
            "certificate": str(c.number),
            "registration_number": str(c.registration_number),
            "leaf_index": verified.leaf_index,
            "tree_size": verified.checkpoint.size,
            "origin": verified.checkpoint.origin,
        }
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    console.print(f"[green]✓ 证书有效 verified[/green] {c.number} · {c.holder.name} · {c.object.name}")
    console.print(
        f"  signed by the authority; entry {verified.leaf_index} of {verified.checkpoint.size} "
        f"in {verified.checkpoint.origin}"
    )


log_app = typer.Typer(help="The transparency log 透明日志", no_args_is_help=True)


@log_app.command("checkpoint")
def log_checkpoint(ctx: typer.Context) -> None:
    """Sign and print a checkpoint of the log as it is now."""
    cli = context(ctx)
    with cli.transaction() as db:
        typer.echo(transparency_log.sign_checkpoint(db).note, nl=False)


@log_app.command("anchor")
def log_anchor(ctx: typer.Context) -> None:
    """Anchor the audit chain's head in the log (registration steps do it too; run it daily from cron)."""
    cli = context(ctx)
    with cli.transaction() as db:
        index = service.anchor_audit(db, cli.actor)
    console.print(f"anchored the audit chain's head in log entry {index}")


@log_app.command("keys")
def log_keys(ctx: typer.Context, out: Path | None = typer.Option(None, "--out")) -> None:
    """The public keys verifiers need (certificate key and log key), in one PEM file."""
    pem = service.public_keys_pem(context(ctx).settings)
    if out is None:
        typer.echo(pem.decode(), nl=False)
    else:
        out.write_bytes(pem)
        console.print(f"wrote {out}")


@log_app.command("verify")
def log_verify(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Recompute the whole log and check every registration, step and certificate row against it."""
    cli = context(ctx)
    with cli.transaction() as db:
        report = service.verify_register(db, cli.actor)
    problems = report.findings
    if as_json:
        typer.echo(json.dumps({"ok": report.ok, "size": report.log_report.size, "problems": problems}))
    elif report.ok:
        console.print(
            f"[green]✓[/green] log of {report.log_report.size} entries, {report.registrations} registrations, "
            f"{report.certificates} certificates: all verify"
        )
    for problem in problems if not as_json else []:
        err_console.print(f"[red]✗[/red] {problem}")
    if not report.ok:
        raise IntegrityBroken("登记簿与透明日志不一致。", "The register does not match the transparency log.")


@log_app.command("monitor")
def log_monitor(
    url: str = typer.Argument(..., help="The log's base URL, e.g. https://data.example.gov.cn/api/v1/registry/log"),
    key: Path = typer.Option(..., "--key", help="The log's public key (PEM; the keys file works)"),
    state: Path = typer.Option(Path("log-monitor.json"), "--state", help="Where the last verified checkpoint is kept"),
    interval: float = typer.Option(60.0, "--interval", help="Seconds between polls"),
    once: bool = typer.Option(False, "--once", help="Check once and exit"),
) -> None:
    """Follow a log's checkpoints, prove each new one consistent with the last, and report a fork or a rewrite
    (exit 8). Keeps the last good checkpoint in --state so a restart carries on."""
    from shengjing.registry import monitor
    from shengjing.registry.verify import load_keys

    monitor.follow(url, load_keys([key]), state, interval=interval, once=once, report=console.print)


COMMANDS = {
    "registration": registration_app,
    "certificate": certificate_app,
    "verify": verify,
    "log": log_app,
}
