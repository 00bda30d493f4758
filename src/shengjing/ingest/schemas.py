"""Shapes the data path gives: ingest reports, snapshots and their differences, quality reports."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class IngestReport(BaseModel):
    resource: str
    version: int
    quarantine_version: int
    mode: str
    source: str
    format: str
    encoding: str | None
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    fingerprint: str
    seconds: float
    quality_score: float | None
    standardized_values: dict[str, int]


class SnapshotOut(BaseModel):
    """A committed version of a resource: what its ingest counted, and what the snapshot holds."""

    version: int
    current: bool
    mode: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    snapshot_rows: int | None  # with append, this ingest's rows plus the previous version's
    quality_score: float | None
    fingerprint: str
    source: str
    created_by: str
    created_at: datetime


class ColumnChange(BaseModel):
    name: str
    from_type: str
    to_type: str


class SnapshotDiff(BaseModel):
    """What changed between two versions: rows and schema. Never data values."""

    resource: str
    from_version: int
    to_version: int
    from_rows: int
    to_rows: int
    row_change: int
    columns_added: list[str]
    columns_removed: list[str]
    columns_retyped: list[ColumnChange]
    same_content: bool  # identical files (same fingerprint)


class RuleTally(BaseModel):
    rule_id: str
    kind: str
    field: str
    blocking: bool
    checked: int
    failed: int
    pass_rate: float | None


class ScorePoint(BaseModel):
    version: int
    created_at: datetime
    score: float | None
    rows_in: int
    rows_quarantined: int


class Timeliness(BaseModel):
    """Is the resource updated as often as its catalog entry promises?"""

    update_frequency: str
    last_update: datetime
    due: datetime
    on_time: bool
    overdue_seconds: int


class QualityReportOut(BaseModel):
    resource: str
    version: int
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    score: float | None
    field_scores: dict[str, float | None]
    rules: list[RuleTally]
    history: list[ScorePoint]
    timeliness: Timeliness | None  # None for irregular updates
