"""Shapes the libraries domain gives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class DataModelOut(BaseModel):
    code: str
    version: int
    versions: list[int]
    name: str
    kind: str
    description: str
    entities: list[dict[str, Any]]
    relations: list[dict[str, Any]]
    declaration: str
    created_by: str
    created_at: datetime
    libraries: list[str]  # codes of the libraries that instantiate this model (any version)


class DiagramOut(BaseModel):
    """An ER diagram as the console's chart draws it: entities as nodes, relations as links."""

    nodes: list[dict[str, Any]]
    links: list[dict[str, Any]]


class BuildOut(BaseModel):
    library: str
    id: int
    version: int | None
    mode: str
    engine: str
    status: str
    trigger: str
    inputs: dict[str, int]
    outputs: dict[str, int]
    stats: dict[str, Any]
    error: str | None
    created_by: str
    started_at: datetime
    finished_at: datetime | None


class LibraryOut(BaseModel):
    code: str
    name: str
    kind: str
    model: str
    model_version: int
    entity: str
    summary: str
    inputs: list[str]
    declaration: str
    current_version: int | None
    stale_inputs: dict[str, tuple[int | None, int | None]]  # input → (version built from, current version)
    builds: list[BuildOut]


class AttributeChange(BaseModel):
    attribute: str
    changed: int


class VersionComparison(BaseModel):
    """Two snapshots of a library, compared by their records' keys."""

    library: str
    from_version: int
    to_version: int
    records_before: int
    records_after: int
    added: int
    removed: int
    changed: int
    unchanged: int
    attributes: list[AttributeChange]


class ConflictOut(BaseModel):
    key: str
    attribute: str
    value: str | None
    source: str
    snapshot: int
    record_key: str
    chosen: bool


class ConflictPage(BaseModel):
    library: str
    version: int
    total: int
    items: list[ConflictOut]


class LineageOut(BaseModel):
    attribute: str
    value: Any
    source: str
    snapshot: int
    record_key: str
    rule: str


class MemberOut(BaseModel):
    source: str
    snapshot: int
    record_key: str
    method: str
    probability: float | None


class GoldenRecordOut(BaseModel):
    library: str
    version: int
    key: str
    attributes: dict[str, Any]
    lineage: list[LineageOut]
    members: list[MemberOut]
