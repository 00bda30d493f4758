"""Shapes the catalog takes and gives."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class ShareType(StrEnum):
    """共享类型 / 开放类型: 无条件 / 有条件 / 不予."""

    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NONE = "none"


class UpdateFrequency(StrEnum):
    REALTIME = "realtime"  # 实时
    DAILY = "daily"  # 每日
    WEEKLY = "weekly"  # 每周
    MONTHLY = "monthly"  # 每月
    QUARTERLY = "quarterly"  # 每季度
    YEARLY = "yearly"  # 每年
    IRREGULAR = "irregular"  # 不定期


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"


ResourceCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")]
Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[^\x00]*$")]
LongText = Annotated[str, Field(max_length=4000, pattern=r"^[^\x00]*$")]


class FieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Column names as departments write them, Chinese included; no spaces or control characters.
    name: Annotated[str, Field(pattern=r"^[^\x00-\x20\x7f]{1,128}$")]
    label: Label
    data_type: FieldType = FieldType.STRING
    data_element: Annotated[str | None, Field(max_length=64)] = None
    unit: Annotated[str | None, Field(max_length=32, pattern=r"^[^\x00]*$")] = None
    description: LongText = ""


class ResourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: ResourceCode
    name: Label
    summary: LongText = ""
    department: Annotated[str, Field(max_length=64, description="code of the providing department")]
    share_type: ShareType
    open_type: ShareType
    update_frequency: UpdateFrequency
    themes: list[Tag] = Field(default_factory=list, max_length=20)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    formats: list[Tag] = Field(default_factory=list, max_length=10)
    contact: Annotated[str | None, Field(max_length=200, pattern=r"^[^\x00]*$")] = None
    fields: list[FieldIn] = Field(default_factory=list, max_length=500)
    standardization: Annotated[str, Field(max_length=100_000, description="YAML standardization rules")] = ""
    quality_rules: Annotated[str, Field(max_length=100_000, description="YAML quality rules")] = ""


class FieldOut(BaseModel):
    name: str
    label: str
    data_type: str
    data_element: str | None
    unit: str | None
    description: str


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: int
    mode: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    quarantine_version: int | None
    fingerprint: str
    source: str
    created_by: str
    created_at: datetime
    # What the ingest measured: format, encoding, quality score, per-field scores, per-rule tallies, seconds.
    details: dict[str, Any] = Field(default_factory=dict)


class ResourceOut(BaseModel):
    code: str
    name: str
    summary: str
    department: str
    department_name: str
    share_type: ShareType
    open_type: ShareType
    update_frequency: UpdateFrequency
    themes: list[str]
    tags: list[str]
    formats: list[str]
    contact: str | None
    current_version: int | None
    created_at: datetime
    updated_at: datetime
    standardization: str
    quality_rules: str
    fields: list[FieldOut]
    versions: list[VersionOut]


class Facet(BaseModel):
    value: str
    count: int
    label: str | None = None  # what the value names, where it is a code (departments)
    label_en: str | None = None


class SearchResult(BaseModel):
    total: int
    resources: list[ResourceOut]
    facets: dict[str, list[Facet]]


ElementCode = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
ShortText = Annotated[str | None, Field(max_length=100, pattern=r"^[^\x00]*$")]


class DataElementIn(BaseModel):
    """A data element (数据元): the standard definition a resource's fields point to."""

    model_config = ConfigDict(extra="forbid")
    code: ElementCode
    name: Label
    name_en: Annotated[str | None, Field(max_length=200, pattern=r"^[^\x00]*$")] = None
    definition: LongText = ""
    data_type: FieldType
    format: ShortText = None
    unit: Annotated[str | None, Field(max_length=32, pattern=r"^[^\x00]*$")] = None
    code_list: ShortText = None
    standard: ShortText = None


class DataElementOut(BaseModel):
    code: str
    name: str
    name_en: str | None
    definition: str
    data_type: FieldType
    format: str | None
    unit: str | None
    code_list: str | None
    standard: str | None
    used_by: int = Field(description="how many resource fields reference it / 引用它的数据项数")
