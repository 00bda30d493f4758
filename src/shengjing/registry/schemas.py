"""Shapes the registry takes and gives: the application document (YAML or JSON) with the fields national practice
asks of a data property registration, and what the services answer."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shengjing.registry.bundle import ObjectKind, Right

Text = Annotated[str, Field(max_length=4000, pattern=r"^[^\x00]*$")]
Short = Annotated[str, Field(max_length=200, pattern=r"^[^\x00\r\n]*$")]
Note = Annotated[str, Field(max_length=2000, pattern=r"^[^\x00]*$")]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")]


class Kind(StrEnum):
    INITIAL = "initial"  # 首次登记
    CHANGE = "change"  # 变更登记
    CORRECTION = "correction"  # 更正登记
    CANCELLATION = "cancellation"  # 注销登记
    LICENSE = "license"  # 许可登记：权利人将加工使用权或产品经营权许可他人

    @property
    def label_zh(self) -> str:
        return KIND_LABELS[self][0]

    @property
    def publicized(self) -> bool:
        """Corrections of a clerical error and cancellations change no one's rights: they skip publicity."""
        return self in (Kind.INITIAL, Kind.CHANGE, Kind.LICENSE)


KIND_LABELS = {
    Kind.INITIAL: ("首次登记", "initial"),
    Kind.CHANGE: ("变更登记", "change"),
    Kind.CORRECTION: ("更正登记", "correction"),
    Kind.CANCELLATION: ("注销登记", "cancellation"),
    Kind.LICENSE: ("许可登记", "license"),
}


class Status(StrEnum):
    APPLIED = "applied"  # 已申请，待受理（形式审查）
    RETURNED = "returned"  # 退回补正：申请人修改后重新提交
    ACCEPTED = "accepted"  # 已受理，审查中
    PUBLICITY = "publicity"  # 公示中
    PAUSED = "paused"  # 公示中止：有未处理的异议
    APPROVED = "approved"  # 公示期满无异议（或无需公示），待发证
    ISSUED = "issued"  # 已发证 / 已办结（注销登记）
    REFUSED = "refused"  # 不予登记
    WITHDRAWN = "withdrawn"  # 申请人撤回


class RefusalGround(StrEnum):
    """The grounds national practice names for refusing a registration (不予登记情形)."""

    CORE_DATA = "core_data"  # 涉及核心数据
    UNLAWFUL_SOURCE = "unlawful_source"  # 数据来源不合法或无合法来源承诺
    RIGHTS_IN_DISPUTE = "rights_in_dispute"  # 权属存在争议
    INCOMPLETE = "incomplete"  # 申请材料不齐全且逾期未补正
    OTHER = "other"  # 其他违反法律法规的情形

    @property
    def label_zh(self) -> str:
        return REFUSAL_LABELS[self][0]


REFUSAL_LABELS = {
    RefusalGround.CORE_DATA: ("涉及核心数据", "involves core data"),
    RefusalGround.UNLAWFUL_SOURCE: ("数据来源不合法", "unlawful source"),
    RefusalGround.RIGHTS_IN_DISPUTE: ("权属存在争议", "rights in dispute"),
    RefusalGround.INCOMPLETE: ("材料不齐全且逾期未补正", "incomplete and not completed in time"),
    RefusalGround.OTHER: ("其他违反法律法规的情形", "other unlawful circumstances"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectIn(_Strict):
    kind: ObjectKind
    code: Code  # a catalog resource's code, or the product's own code
    name: Short = ""  # a resource's name comes from the catalog; a product names itself
    version: Annotated[int | None, Field(ge=1)] = None  # resource: its snapshot (default: current); product: the run


class PartyIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00\r\n]*$")]
    credit_code: Annotated[str | None, Field(pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")] = None


class TermIn(_Strict):
    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TermIn:
        if self.end is not None and self.end < self.start:
            raise ValueError("the term ends before it starts")
        return self


class AgentIn(_Strict):
    name: Short
    phone: Short = ""
    authorization_letter: Short = ""  # 授权委托书 number or file reference


class StorageIn(_Strict):
    location: Short  # 存储地点：e.g. 沈阳市政务云
    method: Short = ""  # 存储方式：数据库、文件、区块链 …
    security_level: Short = ""  # 等级保护级别


class SharingIn(_Strict):
    share_type: Short = ""  # 共享属性
    open_type: Short = ""  # 开放属性
    description: Text = ""


class CoOwnedIn(_Strict):
    co_owned: bool = False  # 是否为共有数据
    co_owners: list[PartyIn] = Field(default_factory=list, max_length=20)
    agreement: Short = ""  # the co-owners' agreement on registration

    @model_validator(mode="after")
    def _named(self) -> CoOwnedIn:
        if self.co_owned and not self.co_owners:
            raise ValueError("co-owned data names its co-owners")
        return self


class LawfulSourceIn(_Strict):
    sources: list[Short] = Field(min_length=1, max_length=50)  # 数据来源：采集、生产、交易、授权 …
    commitment: bool  # 合法合规来源承诺：the applicant commits that the data was obtained lawfully
    statement: Text = ""


class ComplianceIn(_Strict):
    agency: Short  # 第三方服务机构
    report_number: Short
    report_date: date
    conclusion: Text


class Particulars(_Strict):
    """What national practice asks a registration to state (the fields of the application form)."""

    summary: Text  # 基本信息：数据的内容、规模、更新频率 …
    industry: Short = ""
    data_scale: Short = ""
    agent: AgentIn | None = None  # 经办人 / 代理人
    storage: StorageIn
    scenarios: list[Short] = Field(min_length=1, max_length=50)  # 应用场景
    sharing: SharingIn = Field(default_factory=SharingIn)
    co_owned: CoOwnedIn = Field(default_factory=CoOwnedIn)
    lawful_source: LawfulSourceIn
    catalogue: list[dict[str, Any]] = Field(
        default_factory=list, max_length=2000
    )  # 数据目录：filled in from the catalog
    compliance: ComplianceIn | None = None  # 合规评估报告


class ApplicationDoc(_Strict):
    """An application for registration, as the applicant writes it."""

    kind: Kind = Kind.INITIAL
    object: ObjectIn | None = None  # the registered object (initial); taken from the certificate otherwise
    rights: list[Right] = Field(default_factory=list, max_length=3)
    # 权利范围: what the rights cover (uses, scenarios, area); kept from the certificate when not given
    scope: Annotated[str | None, Field(max_length=500, pattern=r"^[^\x00]*$")] = None
    holder: PartyIn | None = None  # default: the applicant organization; for a license: the licensee
    term: TermIn | None = None
    previous_certificate: Annotated[str | None, Field(max_length=40)] = None
    reason: Text = ""  # why a change, correction, cancellation or license
    particulars: Particulars | None = None  # for an initial registration; kept from the certificate otherwise

    @model_validator(mode="after")
    def _complete(self) -> ApplicationDoc:
        if self.kind is Kind.INITIAL:
            missing = [n for n in ("object", "term", "particulars") if getattr(self, n) is None]
            if missing or not self.rights:
                raise ValueError(f"an initial registration states {', '.join(missing or ['rights'])}")
            if self.previous_certificate is not None:
                raise ValueError("an initial registration names no previous certificate")
        else:
            if self.previous_certificate is None:
                raise ValueError(f"a {self.kind.value} registration names the certificate it concerns")
            if not self.reason.strip():
                raise ValueError(f"a {self.kind.value} registration states its reason")
            if self.object is not None and self.kind is not Kind.CHANGE:
                raise ValueError("only a change registers a new snapshot of the object")
        if self.kind is Kind.LICENSE and (self.holder is None or not self.rights or self.term is None):
            raise ValueError("a license names the licensee (holder), the rights licensed and their term")
        if len(set(self.rights)) != len(self.rights):
            raise ValueError("each right is named once")
        return self


class EventOut(BaseModel):
    seq: int
    action: str
    status: str
    note: str
    actor: str
    at: datetime
    log_index: int


class ObjectionOut(BaseModel):
    id: int
    objector: str
    contact: str
    reason: str
    status: str
    filed_by: str
    filed_at: datetime
    resolution: str
    resolved_by: str | None
    resolved_at: datetime | None


class CheckOut(BaseModel):
    """One thing the formal check or the review looks at, with what it found."""

    name: str
    ok: bool
    message_zh: str
    message_en: str


class RegistrationSummary(BaseModel):
    number: str
    kind: Kind
    status: Status
    object_kind: ObjectKind
    object_code: str
    object_name: str
    holder_name: str
    applicant: str
    rights: list[Right]
    scope: str
    due: date | None  # the next deadline of the authority, while the case waits on it
    overdue: bool
    updated_at: datetime


class RegistrationOut(RegistrationSummary):
    applicant_name: str
    holder_credit_code: str | None
    object_version: int | None
    fingerprint: str
    term_start: date
    term_end: date | None
    particulars: dict[str, Any]
    document: str
    previous_certificate: str | None
    revision: int
    accept_due: date | None
    review_due: date | None
    publicity_start: date | None
    publicity_end: date | None
    refusal_ground: RefusalGround | None
    status_note: str
    certificate_number: str | None
    created_by: str
    created_at: datetime
    events: list[EventOut]
    objections: list[ObjectionOut]
    checks: list[CheckOut]
    steps: list[str]  # what the viewer may do now
    may_object: bool


class CertificateStatus(StrEnum):
    VALID = "valid"  # 有效
    SUPERSEDED = "superseded"  # 已被变更或更正登记取代
    CANCELLED = "cancelled"  # 已注销


class CertificateOut(BaseModel):
    """A certificate as the public lookup shows it: what it says, and its status now."""

    number: str
    registration_number: str
    status: CertificateStatus
    status_note: str
    status_changed_at: datetime | None
    holder_name: str
    holder_credit_code: str | None
    object_kind: ObjectKind
    object_code: str
    object_name: str
    rights: list[Right]
    scope: str
    term_start: date
    term_end: date | None
    issued_on: date
    authority: str
    fingerprint: str
    leaf_index: int
    superseded_by: str | None


class Unregistered(BaseModel):
    """A resource in the authorized-operation scope (an authorization in force may use it) with no registration
    in force or under way: its department must register it."""

    resource: str
    name: str
    department: str
    department_name: str
    authorizations: list[str]


class Reminder(BaseModel):
    """An overdue case, for the authority's reviewers."""

    number: str
    status: Status
    due: date
    working_days_overdue: int
