"""The shapes classification takes and gives (API, CLI --json, console)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shengjing.classify.classifier import Mode
from shengjing.classify.detectors import InfoType


class ReviewStatus(StrEnum):
    PROPOSED = "proposed"  # detected, not yet reviewed by the owning department
    CONFIRMED = "confirmed"  # the department accepted the proposal
    OVERRIDDEN = "overridden"  # the department set another type or level, with a reason


class FieldGradingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    field: str
    label: str
    detected_type: InfoType
    confidence: float
    decided_by: str
    evidence: list[dict[str, Any]]
    proposed_category: str
    proposed_level: str
    proposed_rule: str
    sensitive: str | None
    status: ReviewStatus
    info_type: InfoType  # in force: the decision once reviewed, the proposal before
    category: str
    level: str
    reason: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    column_control: str  # what an authorization draft offers for this field (hidden until reviewed)


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    resource_version: int
    mode: Mode
    engine: str
    ruleset_version: int
    rows_total: int
    rows_scanned: int
    seconds: float
    level: str
    level_rule: str
    details: dict[str, Any]
    created_by: str
    created_at: datetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    resource: str
    field_name: str
    old_type: InfoType
    new_type: InfoType
    status_kept: ReviewStatus
    run_id: int
    created_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    field_name: str | None
    action: str
    from_type: str | None
    to_type: str | None
    from_level: str | None
    to_level: str | None
    reason: str
    run_id: int | None
    actor: str
    created_at: datetime


class ResourceGradingOut(BaseModel):
    resource: str
    resource_name: str
    department: str
    department_name: str
    current_version: int | None
    classified_version: int | None  # the snapshot of the last run; differs from current_version when stale
    level: str | None
    level_name: str | None
    level_rule: str | None
    rules_applied: list[str]
    people: int | None
    reviewed: int
    proposed: int
    audited_by: str | None
    audited_at: datetime | None
    audit_note: str
    fields: list[FieldGradingOut]
    runs: list[RunOut]
    alerts: list[AlertOut]
    may_run: bool
    may_review: bool
    may_audit: bool


class ReviewIn(BaseModel):
    """A department's decision on one field: confirm the proposal, or override it with a reason."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=128)
    action: str = Field(pattern="^(confirm|override)$")
    info_type: InfoType | None = None  # override: the type in force
    level: str | None = Field(default=None, max_length=32)  # override: the level in force
    reason: str = Field(default="", max_length=2000)


class ReopenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str | None = Field(default=None, max_length=128)  # None: every reviewed field of the resource
    reason: str = Field(min_length=1, max_length=2000)


class AuditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class RuleSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=200_000)
    comment: str = Field(default="", max_length=500)


class RuleSetOut(BaseModel):
    version: int  # 0: the built-in default, never saved
    name: str
    text: str
    comment: str
    created_by: str | None
    created_at: datetime | None


class LevelCount(BaseModel):
    level: str
    name: str
    resources: int
    fields: int
    rows: int


class DepartmentCount(BaseModel):
    department: str
    department_name: str
    levels: dict[str, int]  # resources per level
    fields_proposed: int
    fields_reviewed: int


class AwaitingAudit(BaseModel):
    code: str
    name: str
    department_name: str
    level: str


class OverviewOut(BaseModel):
    ruleset_version: int
    levels: list[LevelCount]
    departments: list[DepartmentCount]
    unclassified: int  # visible resources with data and no classification yet
    types: dict[str, int]  # fields per type in force
    open_alerts: int
    awaiting_audit: list[AwaitingAudit]  # fully reviewed resources the data bureau has not audited
