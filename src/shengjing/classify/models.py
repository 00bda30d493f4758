"""Classification tables: rule-set versions, classification runs, each field's grading (its current decision),
the history of every decision, and the alerts raised when a re-scan finds a field's type changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shengjing.store.db import Base, UTCDateTime, utcnow


class GradingRuleSet(Base):
    """One saved version of the grading rule set (YAML). The newest is in force; old ones stay for the record."""

    __tablename__ = "grading_ruleset"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClassificationRun(Base):
    """One classification of one snapshot of a resource, in sample or full mode."""

    __tablename__ = "classification_run"
    __table_args__ = (Index("ix_classification_run_resource", "resource_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    resource_version: Mapped[int]
    mode: Mapped[str] = mapped_column(String(16))  # sample | full
    engine: Mapped[str] = mapped_column(String(16))  # duckdb | spark
    ruleset_version: Mapped[int]
    rows_total: Mapped[int]
    rows_scanned: Mapped[int]
    seconds: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(32))
    level_rule: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # resource rules applied, people estimate
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FieldGrading(Base):
    """A field's classification and grading as it stands: the latest detection (proposal) and, once the owning
    department has reviewed it, the decision (confirmed as proposed, or overridden with a reason)."""

    __tablename__ = "field_grading"
    __table_args__ = (UniqueConstraint("resource_id", "field_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"), index=True)
    field_name: Mapped[str] = mapped_column(String(128))
    # The latest detection and the grade the rule set gives it.
    detected_type: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    decided_by: Mapped[str] = mapped_column(String(16))  # values | name | values+name | none
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    proposed_category: Mapped[str] = mapped_column(String(100))
    proposed_level: Mapped[str] = mapped_column(String(32))
    proposed_rule: Mapped[str] = mapped_column(String(100))
    sensitive: Mapped[str | None] = mapped_column(String(32))
    run_id: Mapped[int] = mapped_column(ForeignKey("classification_run.id"))
    # The review: proposed → confirmed | overridden; the data bureau may reopen (back to proposed).
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    info_type: Mapped[str | None] = mapped_column(String(32))  # the decided type (None while proposed)
    category: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GradingEvent(Base):
    """The history of a resource's grading: detections, reviews, reopenings, audits, type changes."""

    __tablename__ = "grading_event"
    __table_args__ = (Index("ix_grading_event_resource", "resource_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    field_name: Mapped[str | None] = mapped_column(String(128))  # None: the resource as a whole
    action: Mapped[str] = mapped_column(String(32))
    from_type: Mapped[str | None] = mapped_column(String(32))
    to_type: Mapped[str | None] = mapped_column(String(32))
    from_level: Mapped[str | None] = mapped_column(String(32))
    to_level: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("classification_run.id"))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GradingAlert(Base):
    """Raised when a re-scan detects a different type in a field than before; open until acknowledged."""

    __tablename__ = "grading_alert"
    __table_args__ = (Index("ix_grading_alert_open", "resource_id", "acknowledged_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    field_name: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[int] = mapped_column(ForeignKey("classification_run.id"))
    old_type: Mapped[str] = mapped_column(String(32))
    new_type: Mapped[str] = mapped_column(String(32))
    status_kept: Mapped[str] = mapped_column(String(16))  # the review status the field kept
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ResourceGrading(Base):
    """A resource's grading as it stands: its level, the rule that decided it, and the data bureau's audit."""

    __tablename__ = "resource_grading"

    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[str] = mapped_column(String(32))
    level_rule: Mapped[str] = mapped_column(String(100))
    rules_applied: Mapped[list[str]] = mapped_column(JSON, default=list)
    people: Mapped[int | None]
    last_run_id: Mapped[int] = mapped_column(ForeignKey("classification_run.id"))
    last_full_run_id: Mapped[int | None] = mapped_column(ForeignKey("classification_run.id"))
    audited_by: Mapped[str | None] = mapped_column(String(200))
    audited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    audit_note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
