"""Shapes the open-data domain gives: an import's report and a resource's public description."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shengjing.catalog.schemas import ShareType, UpdateFrequency


class ImportReport(BaseModel):
    created: list[str]
    updated: list[str]


class PublicField(BaseModel):
    name: str
    label: str
    data_type: str
    unit: str | None
    description: str


class PublicResource(BaseModel):
    """What anyone may read of an open resource: its description, never its data, rules or sources."""

    code: str
    name: str
    summary: str
    department: str
    department_name: str
    open_type: ShareType
    update_frequency: UpdateFrequency
    themes: list[str]
    tags: list[str]
    formats: list[str]
    contact: str | None
    fields: list[PublicField]
    current_version: int | None
    version_date: datetime | None
    row_count: int | None
    updated_at: datetime
