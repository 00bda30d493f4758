"""Catalog tables: data elements (数据元), resources (数据资源), their fields and their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shengjing.store.db import Base, UTCDateTime, utcnow


class DataElement(Base):
    """A standard definition that fields point to (数据元), e.g. 公民身份号码 per GB 11643."""

    __tablename__ = "data_element"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(Text, default="")
    data_type: Mapped[str] = mapped_column(String(32))
    format: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(32))
    code_list: Mapped[str | None] = mapped_column(String(100))
    standard: Mapped[str | None] = mapped_column(String(100))


class Resource(Base):
    __tablename__ = "resource"
    __table_args__ = (Index("ix_resource_department_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    share_type: Mapped[str] = mapped_column(String(16))  # unconditional | conditional | none
    open_type: Mapped[str] = mapped_column(String(16))
    update_frequency: Mapped[str] = mapped_column(String(16))
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    formats: Mapped[list[str]] = mapped_column(JSON, default=list)
    contact: Mapped[str | None] = mapped_column(String(200))
    current_version: Mapped[int | None]
    # Standardization and quality rules for ingest, as YAML documents (shengjing.ingest.standardize / quality).
    standardization: Mapped[str] = mapped_column(Text, default="")
    quality_rules: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Lower-cased name, summary, tags, themes and field labels: what catalog search matches against.
    search_text: Mapped[str] = mapped_column(Text, default="")

    fields: Mapped[list[ResourceField]] = relationship(
        cascade="all, delete-orphan", order_by="ResourceField.position", lazy="selectin"
    )
    versions: Mapped[list[ResourceVersion]] = relationship(
        cascade="all, delete-orphan", order_by="ResourceVersion.version", lazy="selectin"
    )


class ResourceField(Base):
    __tablename__ = "resource_field"
    __table_args__ = (UniqueConstraint("resource_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(200))
    data_type: Mapped[str] = mapped_column(String(32))
    data_element_id: Mapped[int | None] = mapped_column(ForeignKey("data_element.id"))
    unit: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")


class ResourceVersion(Base):
    """One committed lake snapshot of a resource, with what its ingest counted."""

    __tablename__ = "resource_version"
    __table_args__ = (UniqueConstraint("resource_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    mode: Mapped[str] = mapped_column(String(16))  # replace | append
    rows_in: Mapped[int]
    rows_accepted: Mapped[int]
    rows_quarantined: Mapped[int]
    quarantine_version: Mapped[int | None]
    fingerprint: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
