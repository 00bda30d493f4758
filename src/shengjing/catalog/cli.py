"""`shengjing resource add|update|show|search`: thin door into catalog.service."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml

from shengjing.catalog import service
from shengjing.catalog.schemas import ResourceIn
from shengjing.clikit import console, context, emit
from shengjing.errors import DataFormatError

resource_app = typer.Typer(help="Catalog resources 数据资源目录", no_args_is_help=True)
COMMANDS = {"resource": resource_app}
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")


def _read(path: Path) -> ResourceIn:
    """A resource description from a YAML or JSON file (JSON is YAML too)."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataFormatError(
            f"无法读取资源描述文件 {path}：{type(exc).__name__}。",
            f"Cannot read the resource description {path}: {type(exc).__name__}.",
            file=str(path),
        ) from None
    return ResourceIn.model_validate(data)


@resource_app.command("add")
def add(ctx: typer.Context, file: Path, as_json: bool = JSON) -> None:
    """Add a resource described in a YAML or JSON file."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.create_resource(db, cli.actor, _read(file)),
            as_json=as_json,
            columns=["code", "name", "department_name", "share_type", "open_type"],
        )


@resource_app.command("update")
def update(ctx: typer.Context, file: Path, as_json: bool = JSON) -> None:
    """Replace a resource's description with the one in the file (same code)."""
    cli = context(ctx)
    data = _read(file)
    with cli.transaction() as db:
        emit(
            service.update_resource(db, cli.actor, data.code, data),
            as_json=as_json,
            columns=["code", "name", "department_name", "share_type", "open_type"],
        )


@resource_app.command("show")
def show(ctx: typer.Context, code: str) -> None:
    """Print a resource as JSON."""
    cli = context(ctx)
    with cli.transaction() as db:
        typer.echo(
            json.dumps(service.get_resource(db, cli.actor, code).model_dump(mode="json"), ensure_ascii=False, indent=2)
        )


@resource_app.command("search")
def search(ctx: typer.Context, query: str = typer.Argument(""), as_json: bool = JSON) -> None:
    """Search the catalog (Chinese terms, space-separated)."""
    cli = context(ctx)
    with cli.transaction() as db:
        result = service.search(db, cli.actor, query, limit=200)
    emit(
        result.resources, as_json=as_json, columns=["code", "name", "department_name", "share_type", "update_frequency"]
    )
    console.print(f"[dim]{result.total} match(es)[/dim]")
