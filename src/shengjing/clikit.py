"""What every domain's CLI shares: the settings, a transaction acting as the local system, and output."""

from __future__ import annotations

import contextlib
import getpass
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shengjing.audit.service import new_request_id, request_id_var
from shengjing.config import Settings
from shengjing.errors import InvalidInput
from shengjing.identity.principal import Principal, system_principal
from shengjing.store.db import make_engine, make_session_factory, unit_of_work

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliContext:
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine, self.settings)

    @property
    def actor(self) -> Principal:
        """The CLI acts as the local system: whoever runs it has the store's files and credentials anyway."""
        return system_principal(_os_user())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        request_id_var.set(new_request_id("cli-"))
        with unit_of_work(self.sessions) as db:
            yield db


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        raise RuntimeError("the shengjing CLI context is missing")
    return obj


def read_text_file(path: Path) -> str:
    """A document the user names on the command line, as UTF-8 text; InvalidInput naming the file otherwise."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"无法读取文件 {path}。", f"Cannot read {path}: {exc}", file=str(path)) from None


def emit(rows: Sequence[BaseModel] | BaseModel, *, as_json: bool, columns: Sequence[str] | None = None) -> None:
    """Print models as JSON (for scripts) or as a table (for people)."""
    items = [rows] if isinstance(rows, BaseModel) else list(rows)
    if as_json:
        payload: Any = [r.model_dump(mode="json") for r in items]
        typer.echo(json.dumps(payload[0] if isinstance(rows, BaseModel) else payload, ensure_ascii=False, indent=2))
        return
    if not items:
        console.print("[dim](none / 无)[/dim]")
        return
    names = list(columns or items[0].model_dump().keys())
    table = Table(*names)
    for item in items:
        data = item.model_dump(mode="json")
        table.add_row(*[_cell(data.get(name)) for name in names])
    console.print(table)


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)
