"""The libraries' tables: data models (each version kept), libraries (each the declaration of a catalog
resource that a pipeline builds) and builds (each one snapshot of that resource, with what went into it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shengjing.store.db import Base, UTCDateTime, utcnow


class DataModel(Base):
    """One version of a logical data model (数据模型). A changed declaration is a new version; old ones stay."""

    __tablename__ = "data_model"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # base | theme
    declaration: Mapped[str] = mapped_column(Text)  # the YAML as filed
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # the same, parsed and normalized
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Library(Base):
    """A base or theme library: its declaration, the model version it instantiates, and its catalog resource."""

    __tablename__ = "library"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # also the code of its catalog resource
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # base | theme
    model_id: Mapped[int] = mapped_column(ForeignKey("data_model.id"))
    declaration: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[list[str]] = mapped_column(JSON)  # the resource (or library) codes it reads
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LibraryBuild(Base):
    """One run of a library's pipeline. A succeeded build is one version of the library's resource; its
    members, lineage and conflicts are snapshots of their own lake datasets, named in ``outputs``."""

    __tablename__ = "library_build"

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("library.id", ondelete="CASCADE"), index=True)
    version: Mapped[int | None]  # the resource version it made; None if it failed
    mode: Mapped[str] = mapped_column(String(16))  # full | refresh
    engine: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed
    trigger: Mapped[str] = mapped_column(String(200))  # who or what asked: a user, or a source's new snapshot
    inputs: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # resource code → version read
    outputs: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # output table → lake snapshot version
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
