"""The ``shengjing`` command. Each domain's ``cli`` module contributes its sub-commands through ``COMMANDS``."""

from __future__ import annotations

import gc
import importlib
import os
import sys

import click
import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from shengjing import __version__, domains
from shengjing.clikit import CliContext, console, context, err_console
from shengjing.config import Settings
from shengjing.errors import InvalidInput, ShengjingError
from shengjing.identity import service as identity
from shengjing.logs import configure as configure_logging
from shengjing.store.lake import Lake

# Migrations (alembic) and the web server (uvicorn) are imported by the commands that use them, and each
# domain's commands only when they are called (see _DomainCommands): start-up time is paid by every command.


class _DomainCommands(TyperGroup):
    """The root command group: a domain's sub-commands are imported the first time one of them is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        loaded = super().list_commands(ctx)
        lazy = [name for names in domains.CLI_COMMANDS.values() for name in names if name not in loaded]
        return [*loaded, *lazy]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            for domain, names in domains.CLI_COMMANDS.items():
                if cmd_name in names:
                    self._load(domain)
        return super().get_command(ctx, cmd_name)

    def _load(self, domain: str) -> None:
        module = importlib.import_module(f"shengjing.{domain}.cli")
        for name, command in module.COMMANDS.items():
            holder = typer.Typer()
            if isinstance(command, typer.Typer):
                holder.add_typer(command, name=name)
            else:
                holder.command(name)(command)
            holder.callback()(lambda: None)  # a callback makes typer build a group, even for one command
            built = typer.main.get_group(holder).commands[name]
            self.add_command(built, name)
        # What is imported now lives until the process ends, so the collector need not walk it again: a full
        # collection over it took ~50 ms of an ingest, with the GIL held, and another as the process exits.
        gc.freeze()


app = typer.Typer(
    cls=_DomainCommands,
    help="盛京 Shengjing — 公共数据授权运营平台 / public-data authorized-operation platform",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Metadata database migrations 元数据库迁移", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def _root(ctx: typer.Context) -> None:
    if ctx.obj is None:
        # Built-in roles hold permissions of every domain, whichever domain's command runs.
        domains.door_modules("permissions")
        settings = Settings()
        configure_logging(settings.log_level, json=settings.log_json)
        ctx.obj = CliContext(settings)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the store (var dir, lake), upgrade the database to the latest migration, write built-in roles."""
    from shengjing.store import migrate

    cli = context(ctx)
    cli.settings.var_dir.mkdir(parents=True, exist_ok=True)
    Lake(cli.settings.lake_path).init()
    migrate.upgrade(cli.engine, domains.metadata())
    with cli.transaction() as db:
        changed = identity.sync_builtin_roles(db, cli.actor)
    console.print(
        f"store ready / 存储已就绪: {cli.settings.database_url} · lake {cli.settings.lake_path}"
        f" · roles updated: {', '.join(changed) or 'none'}"
    )


@db_app.command("revision")
def db_revision(ctx: typer.Context, message: str = typer.Option(..., "-m", "--message")) -> None:
    """Autogenerate a migration from the models (for developers)."""
    from shengjing.store import migrate

    migrate.revision(context(ctx).engine, domains.metadata(), message)


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Fail if the models and the migrated database disagree."""
    from shengjing.store import migrate

    cli = context(ctx)
    differences = migrate.pending_differences(cli.engine, domains.metadata())
    if differences:
        err_console.print(differences)
        raise typer.Exit(1)
    console.print(f"models and migrations agree at {migrate.current_revision(cli.engine)}")


@app.command()
def settings(ctx: typer.Context) -> None:
    """Print the effective settings."""
    for name, value in context(ctx).settings.model_dump().items():
        typer.echo(f"SHENGJING_{name.upper()}={value}")


@app.command()
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Listen address (SHENGJING_HOST)"),
    port: int | None = typer.Option(None, help="Port (SHENGJING_PORT)"),
    workers: int | None = typer.Option(None, help="Worker processes (SHENGJING_WORKERS)"),
    reload: bool = typer.Option(False, help="Reload on code changes (development)"),
) -> None:
    """Run the web server (console and API)."""
    import uvicorn

    cli = context(ctx)
    # Workers re-read the settings from the environment, so options are passed on through it.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"SHENGJING_{name}"] = str(value)
    settings = Settings()
    console.print(f"盛京 Shengjing on http://{settings.host}:{settings.port} ({settings.workers} worker(s))")
    del cli
    uvicorn.run(
        "shengjing.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        reload=reload,
        log_config=None,
        proxy_headers=True,
    )


def main() -> None:
    try:
        app(standalone_mode=True)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err_console.print(f"[red]错误 invalid_input[/red]: 输入有误 / invalid input: {problems}")
        sys.exit(InvalidInput.exit_code)
    except ShengjingError as exc:
        err_console.print(f"[red]错误 {exc.code}[/red]: {exc.message_zh}")
        err_console.print(f"[red]error {exc.code}[/red]: {exc.message_en}")
        sys.exit(exc.exit_code)
