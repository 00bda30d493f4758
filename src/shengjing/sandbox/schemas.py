"""Shapes the sandbox takes and gives: the authorization document (YAML or JSON), and what the services answer."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shengjing.sandbox.policy import Control

Text = Annotated[str, Field(max_length=4000, pattern=r"^[^\x00]*$")]
Note = Annotated[str, Field(max_length=2000, pattern=r"^[^\x00]*$")]
ResourceCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")]
TableName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Sql = Annotated[str, Field(min_length=1, max_length=50_000, pattern=r"^[^\x00]*$")]


class Egress(StrEnum):
    AUTOMATIC = "automatic"  # results leave as soon as the query runs
    REVIEWED = "reviewed"  # results wait for a reviewer of the data bureau (出域审核)


class Status(StrEnum):
    DRAFT = "draft"  # 草稿
    APPLIED = "applied"  # 已申请，待数据提供单位同意
    CONSENTED = "consented"  # 各数据提供单位已同意，待数据主管部门批准
    ACTIVE = "active"  # 已批准，生效
    REJECTED = "rejected"  # 被退回（可修改后重新申请）
    SUSPENDED = "suspended"  # 暂停
    REVOKED = "revoked"  # 已撤销（终止）
    EXPIRED = "expired"  # 已过期（有效期届满）


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    TOTAL = "total"  # one budget for the authorization's whole validity


class ColumnRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    control: Control
    mask: Annotated[str | None, Field(max_length=64)] = None
    bounds: tuple[float, float] | None = None  # the clamp of a summed value under differential privacy

    @model_validator(mode="after")
    def _consistent(self) -> ColumnRule:
        if (self.control is Control.MASKED) != (self.mask is not None):
            raise ValueError("a masked column names its mask (mask: keep_first:6), and only a masked one does")
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:
            raise ValueError("bounds are [low, high] with low < high")
        return self


class ResourceGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource: ResourceCode
    table: TableName | None = None  # the SQL name (default: the code, lower-cased, with _ for -)
    row_filter: Annotated[str, Field(max_length=4000, pattern=r"^[^\x00]*$")] = ""
    columns: dict[Annotated[str, Field(max_length=128)], Control | ColumnRule] = Field(default_factory=dict)

    def rules(self) -> dict[str, ColumnRule]:
        return {
            name: rule if isinstance(rule, ColumnRule) else ColumnRule(control=rule)
            for name, rule in self.columns.items()
        }


class PrivacyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epsilon_per_query: Annotated[float, Field(gt=0, le=10)]
    budget: Annotated[float, Field(gt=0, le=1000)]
    period: Period = Period.MONTH
    delta: Annotated[float, Field(gt=0, lt=0.01)] = 1e-6
    # The column identifying a person, as TABLE.COLUMN (the table's SQL name); without it each row is one person.
    unit: Annotated[str | None, Field(pattern=r"^[a-z][a-z0-9_]*\.[^.\s]+$")] = None
    max_contributions: Annotated[int, Field(ge=1, le=1000)] = 1

    @model_validator(mode="after")
    def _budget_covers_a_query(self) -> PrivacyIn:
        if self.budget < self.epsilon_per_query:
            raise ValueError("the budget must allow at least one query (budget ≥ epsilon_per_query)")
        return self


class AuthorizationDoc(BaseModel):
    """An authorization as a readable document (``shengjing authorization create FILE``)."""

    model_config = ConfigDict(extra="forbid")
    operator: Annotated[str, Field(max_length=64, description="the operator's organization code 运营机构代码")]
    title: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
    scenario: Annotated[str, Field(max_length=32, description="应用场景 code, e.g. finance_credit")]
    purpose: Annotated[str, Field(min_length=1, max_length=4000, pattern=r"^[^\x00]*$")]
    valid_from: date
    valid_until: date
    egress: Egress = Egress.REVIEWED
    row_limit: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    min_group_size: Annotated[int, Field(ge=1, le=10_000)] = 10
    privacy: PrivacyIn | None = None
    resources: list[ResourceGrant] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _window(self) -> AuthorizationDoc:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self

    @field_validator("resources")
    @classmethod
    def _distinct(cls, value: list[ResourceGrant]) -> list[ResourceGrant]:
        codes = [r.resource for r in value]
        if len(set(codes)) != len(codes):
            raise ValueError("a resource is listed twice")
        return value


class ResourceGrantOut(BaseModel):
    resource: str
    resource_name: str
    department: str
    department_name: str
    table: str
    row_filter: str
    columns: dict[str, dict[str, Any]]  # field → {control, mask, bounds, label, data_type}
    consent: str
    consent_by: str | None
    consent_at: datetime | None
    consent_note: str
    current_version: int | None


class EventOut(BaseModel):
    action: str
    resource: str | None
    note: str
    actor: str
    at: datetime


class BudgetOut(BaseModel):
    resource: str
    period_start: date
    period: str
    total: float
    spent: float
    left: float


class AuthorizationOut(BaseModel):
    code: str
    title: str
    operator: str
    operator_name: str
    scenario: str
    scenario_name: str
    purpose: str
    valid_from: date
    valid_until: date
    egress: str
    row_limit: int
    min_group_size: int
    privacy: dict[str, Any] | None
    status: str  # as it stands today: an active authorization past its window reads "expired"
    status_note: str
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    resources: list[ResourceGrantOut]
    document: str
    budgets: list[BudgetOut] = Field(default_factory=list)
    events: list[EventOut] = Field(default_factory=list)


class AuthorizationSummary(BaseModel):
    code: str
    title: str
    operator: str
    operator_name: str
    scenario: str
    status: str
    valid_from: date
    valid_until: date
    resources: list[str]
    awaiting_me: bool  # a step of the workflow waits for the viewer's organization


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note = ""


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource: ResourceCode
    decision: Literal["consent", "refuse"]
    note: Note = ""


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sql: Sql
    engine: Literal["duckdb", "spark"] | None = None


class RunOut(BaseModel):
    id: int
    authorization: str
    analysis: str | None
    actor: str
    sql: str
    rewritten_sql: str
    engine: str
    status: str
    reasons: list[dict[str, Any]]
    snapshots: dict[str, int]
    rows_out: int | None
    truncated: bool
    suppressed: int
    epsilon: float
    duration_ms: int | None
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] | None = None  # only once the result may leave: released or approved
    may_download: bool = False  # the result may leave and the viewer is of the operator that ran it


class AnalysisIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
    description: Text = ""
    sql: Sql
    engine: Literal["duckdb", "spark"] = "duckdb"


class AnalysisOut(BaseModel):
    id: int
    authorization: str
    name: str
    description: str
    sql: str
    engine: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_run: RunOut | None = None


class ScenarioOut(BaseModel):
    code: str
    name_zh: str
    name_en: str


class TableSchemaOut(BaseModel):
    """What the workbench's schema browser shows: each authorized table's columns with their controls."""

    table: str
    resource: str
    resource_name: str
    row_filter: str
    columns: list[dict[str, Any]]  # name, label, data_type, control, mask
