"""Authorized operation tables: authorizations (授权) with their resources, column controls and consents, the
workflow's history, the privacy-budget ledger, every query run, and saved analyses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shengjing.store.db import Base, UTCDateTime, utcnow


class Authorization(Base):
    """An operator's authorization to use resources for a scenario and purpose, within a validity window."""

    __tablename__ = "sandbox_authorization"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # SQ-2026-0001
    operator_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    scenario: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    egress: Mapped[str] = mapped_column(String(16))  # automatic | reviewed
    row_limit: Mapped[int]
    min_group_size: Mapped[int]
    privacy: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # differential privacy, or none
    document: Mapped[str] = mapped_column(Text)  # the YAML document as last saved
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_note: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(default=1)
    salt: Mapped[str] = mapped_column(String(64))  # of the pseudonym mask: secret, never shown
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    resources: Mapped[list[AuthorizedResource]] = relationship(
        cascade="all, delete-orphan", order_by="AuthorizedResource.position", lazy="selectin"
    )


class AuthorizedResource(Base):
    """One resource of an authorization: its SQL name, row filter, column controls and its department's consent."""

    __tablename__ = "authorized_resource"
    __table_args__ = (UniqueConstraint("authorization_id", "resource_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_authorization.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    position: Mapped[int]
    table_name: Mapped[str] = mapped_column(String(64))
    row_filter: Mapped[str] = mapped_column(Text, default="")
    # field name → {"control": …, "mask": …, "bounds": [low, high]}; a field not listed is hidden
    columns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    consent: Mapped[str] = mapped_column(String(16), default="pending")  # pending | consented | refused
    consent_by: Mapped[str | None] = mapped_column(String(200))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent_note: Mapped[str] = mapped_column(Text, default="")


class AuthorizationEvent(Base):
    """One step of an authorization's workflow, for its history (the audit chain holds the same, hash-linked)."""

    __tablename__ = "authorization_event"
    __table_args__ = (Index("ix_authorization_event_authorization", "authorization_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("sandbox_authorization.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BudgetLedger(Base):
    """What an authorization has spent of its privacy budget on one resource in one period (ε)."""

    __tablename__ = "privacy_budget"
    __table_args__ = (UniqueConstraint("authorization_id", "resource_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("sandbox_authorization.id", ondelete="CASCADE"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    period_start: Mapped[date] = mapped_column(Date)
    total: Mapped[float] = mapped_column(Float)
    spent: Mapped[float] = mapped_column(Float, default=0.0)


class QueryRun(Base):
    """One query of an operator in the sandbox: what was asked, what ran, what came out, and its egress."""

    __tablename__ = "query_run"
    __table_args__ = (
        Index("ix_query_run_authorization", "authorization_id", "id"),
        Index("ix_query_run_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("sandbox_authorization.id", ondelete="CASCADE"))
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("saved_analysis.id", ondelete="SET NULL"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    actor: Mapped[str] = mapped_column(String(200))
    sql: Mapped[str] = mapped_column(Text)
    rewritten_sql: Mapped[str] = mapped_column(Text, default="")
    engine: Mapped[str] = mapped_column(String(16))
    # refused | running | failed | released | pending_review | approved | rejected
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    snapshots: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # resource code → version read
    rows_out: Mapped[int | None]
    truncated: Mapped[bool] = mapped_column(default=False)
    suppressed: Mapped[int] = mapped_column(default=0)  # groups held back (below k, or the noisy threshold)
    epsilon: Mapped[float] = mapped_column(Float, default=0.0)
    duration_ms: Mapped[int | None]
    result_version: Mapped[int | None]  # the lake snapshot of ("result", run id)
    result_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str] = mapped_column(Text, default="")


class SavedAnalysis(Base):
    """An operator's saved query under an authorization, re-run on the newest snapshots when asked."""

    __tablename__ = "saved_analysis"
    __table_args__ = (UniqueConstraint("authorization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_authorization.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    sql: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(16), default="duckdb")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
