"""The installed domains, bottom floor first. The app, the CLI and the migrations assemble what each one
registers (models, ``api.router``, ``pages.router``, ``cli.app``) from this list; nothing is hand-wired."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from sqlalchemy import MetaData

DOMAINS: tuple[str, ...] = (
    "identity",
    "audit",
    "catalog",
    "opendata",
    "ingest",
    "classify",
    "libraries",
    "sandbox",
    "registry",
    "demo",
)

# The top-level commands each domain's ``cli`` module adds (its ``COMMANDS``). Knowing them without importing
# lets ``shengjing ingest`` load only the ingest domain's code: importing every domain costs a second of
# start-up. tests/test_architecture.py checks that this agrees with each module's ``COMMANDS``.
CLI_COMMANDS: dict[str, tuple[str, ...]] = {
    "identity": ("org", "user", "token", "role"),
    "audit": ("audit",),
    "catalog": ("resource", "element"),
    "opendata": ("dcat",),
    "ingest": ("ingest", "snapshot", "quality"),
    "classify": ("classify", "grading"),
    "libraries": ("model", "library"),
    "sandbox": ("authorization", "query", "runs", "egress", "analysis"),
    "registry": ("registration", "certificate", "verify", "log"),
    "demo": ("demo",),
}


# What runs after a new snapshot of a resource is recorded, as "module:function(sessions, actor, code, version)".
# The ingest (a lower floor) names no domain above it; it runs whatever is listed here, loaded when needed.
SNAPSHOT_HOOKS: tuple[str, ...] = (
    "shengjing.classify.service:classify_new_snapshot",
    "shengjing.libraries.service:refresh_dependents",  # a library's own new snapshot refreshes the themes reading it
)


def run_snapshot_hooks(sessions: Any, actor: Any, code: str, version: int) -> None:
    """Run every snapshot hook in turn (each records and logs its own failures)."""
    for hook in SNAPSHOT_HOOKS:
        module, _, name = hook.partition(":")
        getattr(importlib.import_module(module), name)(sessions, actor, code, version)


def door_modules(door: str) -> list[ModuleType]:
    """Each domain's ``api``, ``pages`` or ``cli`` module, for the domains that have one."""
    found = []
    for domain in DOMAINS:
        try:
            found.append(importlib.import_module(f"shengjing.{domain}.{door}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"shengjing.{domain}.{door}":
                raise
    return found


def metadata() -> MetaData:
    """The metadata of every domain's tables (importing ``models`` registers them on the shared Base).

    Each domain's ``permissions`` module is loaded too, so its grants to built-in roles are known.
    """
    from shengjing.store.db import Base

    door_modules("models")
    door_modules("permissions")
    return Base.metadata
