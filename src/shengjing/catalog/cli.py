"""`shengjing resource add|update|show|search` and `shengjing element add|update|show|list|load`: thin doors
into catalog.service."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml

from shengjing.catalog import service
from shengjing.catalog.schemas import DataElementIn, ResourceIn
from shengjing.clikit import console, context, emit
from shengjing.errors import DataFormatError

resource_app = typer.Typer(help="Catalog resources 数据资源目录", no_args_is_help=True)
COMMANDS = {"resource": resource_app}
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
RESOURCE_COLUMNS = ["code", "name", "department_name", "share_type", "open_type"]


def _unreadable(path: Path, what_zh: str, what_en: str, exc: Exception) -> DataFormatError:
    return DataFormatError(
        f"无法读取{what_zh} {path}：{type(exc).__name__}。",
        f"Cannot read the {what_en} {path}: {type(exc).__name__}.",
        file=str(path),
    )


def _read_text(path: Path, what_zh: str, what_en: str) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, what_zh, what_en, exc) from None


def _read_yaml(path: Path, what_zh: str, what_en: str) -> object:
    """A description from a YAML or JSON file (JSON is YAML too)."""
    try:
        return yaml.safe_load(_read_text(path, what_zh, what_en))
    except yaml.YAMLError as exc:
        raise _unreadable(path, what_zh, what_en, exc) from None


def _read(path: Path) -> ResourceIn:
    return ResourceIn.model_validate(_read_yaml(path, "资源描述文件", "resource description"))


@resource_app.command("add")
def add(ctx: typer.Context, file: Path, as_json: bool = JSON) -> None:
    """Add a resource described in a YAML or JSON file."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(
            service.create_resource(db, cli.actor, _read(file)),
            as_json=as_json,
            columns=RESOURCE_COLUMNS,
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
            columns=RESOURCE_COLUMNS,
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


element_app = typer.Typer(help="Data elements 数据元", no_args_is_help=True)
COMMANDS["element"] = element_app
ELEMENT_COLUMNS = ["code", "name", "data_type", "unit", "standard", "used_by"]


def _read_element(path: Path) -> DataElementIn:
    return DataElementIn.model_validate(_read_yaml(path, "数据元描述文件", "data element description"))


@element_app.command("add")
def element_add(ctx: typer.Context, file: Path, as_json: bool = JSON) -> None:
    """Add a data element described in a YAML or JSON file."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.create_data_element(db, cli.actor, _read_element(file)), as_json=as_json, columns=ELEMENT_COLUMNS)


@element_app.command("update")
def element_update(ctx: typer.Context, file: Path, as_json: bool = JSON) -> None:
    """Replace a data element's definition with the one in the file (same code)."""
    cli = context(ctx)
    data = _read_element(file)
    with cli.transaction() as db:
        emit(service.update_data_element(db, cli.actor, data.code, data), as_json=as_json, columns=ELEMENT_COLUMNS)


@element_app.command("show")
def element_show(ctx: typer.Context, code: str) -> None:
    """Print a data element as JSON."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.get_data_element(db, cli.actor, code), as_json=True)


@element_app.command("list")
def element_list(ctx: typer.Context, query: str = typer.Argument(""), as_json: bool = JSON) -> None:
    """List data elements, optionally those matching a code, name or standard."""
    cli = context(ctx)
    with cli.transaction() as db:
        emit(service.list_data_elements(db, cli.actor, query), as_json=as_json, columns=ELEMENT_COLUMNS)


@element_app.command("load")
def element_load(ctx: typer.Context, file: Path) -> None:
    """Add or update every data element in a YAML or JSON file, all in one transaction."""
    cli = context(ctx)
    elements = service.parse_data_elements(_read_text(file, "数据元文件", "data element file"), file=str(file))
    with cli.transaction() as db:
        added, changed, unchanged = service.load_data_elements(db, cli.actor, elements)
    console.print(f"{added} added 新增, {changed} changed 修改, {unchanged} unchanged 未变")
