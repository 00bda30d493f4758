"""Every rule of data property registration (数据产权登记): applications and their workflow, objections,
certificates, the public lookup, and the verification of the whole register against the transparency log.

The workflow (登记流程)::

    apply ─► applied ──accept──► accepted ──publicize──► publicity ──(period over)──issue──► issued
                │  ▲                 │                    │    ▲
          return│  │amend            │ refuse       object│    │dismiss (the clock runs on)
                ▼  │                 ▼                    ▼    │
              returned            refused ◄──uphold──── paused ┘

A correction or a cancellation changes no one's rights and skips publicity (accepted → approved → issued), as
does every kind when the publicity period is configured as 0. Refusal names one of the grounds national practice
gives (core data, unlawful source, rights in dispute, …). The applicant may withdraw until the case ends.

Every step is audited and is an entry in the transparency log carrying the SHA-256 of the registration's state
after it (``registration_state``); the row keeps the same hash. Issuing appends a second entry, the certificate's
own (``bundle.log_entry``), and signs a checkpoint, so the holder's bundle carries an inclusion proof that checks
offline. ``verify_register`` recomputes every row against the log: an edited, deleted, inserted or reordered
registration row, event, or certificate no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shengjing.audit.models import AuditEvent
from shengjing.audit.service import GENESIS, record, state_change
from shengjing.catalog import service as catalog
from shengjing.classify import service as classify
from shengjing.config import Settings
from shengjing.documents import parse_yaml_document
from shengjing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shengjing.identity.models import Organization
from shengjing.identity.principal import OrgType, Principal
from shengjing.registry import bundle as bundles
from shengjing.registry import calendar, checkpoint, log
from shengjing.registry import permissions as perms
from shengjing.registry.bundle import Certificate, Holder, ObjectKind, RegisteredObject, Right
from shengjing.registry.models import IssuedCertificate, LogEntry, Objection, Registration, RegistrationEvent
from shengjing.registry.numbers import Authority, CertificateNumber, RegistrationNumber, parse_certificate_number
from shengjing.registry.schemas import (
    ApplicationDoc,
    CertificateOut,
    CertificateStatus,
    CheckOut,
    EventOut,
    Kind,
    ObjectionOut,
    RefusalGround,
    RegistrationOut,
    RegistrationSummary,
    Reminder,
    Status,
    Unregistered,
)
from shengjing.registry.verify import pem_blocks
from shengjing.sandbox import service as sandbox
from shengjing.store.db import utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN = (Status.APPLIED, Status.RETURNED, Status.ACCEPTED, Status.PUBLICITY, Status.PAUSED, Status.APPROVED)
ENDED = (Status.ISSUED, Status.REFUSED, Status.WITHDRAWN)


def _settings(db: Session) -> Settings:
    return db.info["settings"]  # type: ignore[no-any-return]


def today() -> date:
    """The calendar day in Shenyang: deadlines and publicity are counted in its working days."""
    return utcnow().astimezone(SHANGHAI).date()


def _authority(settings: Settings) -> Authority:
    return Authority(settings.registry_authority_division, settings.registry_authority_unit)


# --- the application document ----------------------------------------------------------------------------------


def parse_document(text: str, *, file: str = "application") -> ApplicationDoc:
    return parse_yaml_document(
        text, ApplicationDoc, file=file, kind_zh="登记申请书", kind_en="a registration application"
    )


def document_text(doc: ApplicationDoc) -> str:
    return yaml.safe_dump(doc.model_dump(mode="json", exclude_none=True), allow_unicode=True, sort_keys=False)


def draft_document(
    db: Session, actor: Principal, *, object_kind: str, code: str, version: int | None = None, name: str = ""
) -> str:
    """An application to start from: the object, its catalogue and sharing taken from the catalog (or the run),
    the applicant as holder, the rights its kind of organization holds, and a term of five years."""
    actor.require(perms.REGISTRATION_ADD)
    kind = ObjectKind(object_kind)
    snapshot = _object_snapshot(db, actor, kind, code, version, name)
    start = today()
    particulars: dict[str, Any] = {
        "summary": snapshot.summary or "（请填写数据的内容、规模和更新频率）",
        "storage": {"location": "沈阳市政务云", "method": "数据库"},
        "scenarios": ["（请填写应用场景）"],
        "sharing": snapshot.sharing,
        "lawful_source": {"sources": ["履职采集"], "commitment": False, "statement": ""},
        "catalogue": snapshot.catalogue,
    }
    rights = [Right.HOLDING, Right.PROCESSING] if kind is ObjectKind.RESOURCE else [Right.PROCESSING, Right.OPERATING]
    data = {
        "kind": Kind.INITIAL.value,
        "object": {"kind": kind.value, "code": code, "name": snapshot.name, "version": snapshot.version},
        "rights": [r.value for r in rights],
        "scope": "（请填写权利范围：用途、应用场景、地域等）",
        "term": {"start": start.isoformat(), "end": _years_later(start, 5).isoformat()},
        "particulars": particulars,
    }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class _Snapshot:
    """What is registered, as the catalog (or the sandbox) knows it."""

    name: str
    version: int
    fingerprint: str
    department_id: int | None  # a resource's holding department
    summary: str = ""
    sharing: dict[str, str] = field(default_factory=dict)
    catalogue: list[dict[str, Any]] = field(default_factory=list)


def _object_snapshot(
    db: Session, actor: Principal, kind: ObjectKind, code: str, version: int | None, name: str
) -> _Snapshot:
    """The registered snapshot: a resource's version (its current one by default), or a product's released run."""
    if kind is ObjectKind.PRODUCT:
        if version is None:
            raise InvalidInput(
                "数据产品须以 object.version 指明其数据来自的沙箱查询记录编号。",
                "A data product names the sandbox run its data comes from as object.version.",
                field="object.version",
            )
        if not name.strip():
            raise InvalidInput("数据产品须有名称。", "A data product needs a name.", field="object.name")
        _, fingerprint = sandbox.released_result(db, actor, version)
        return _Snapshot(name=name.strip(), version=version, fingerprint=fingerprint, department_id=None)
    resource = catalog.get_resource(db, actor, code)
    wanted = version or resource.current_version
    found = next((v for v in resource.versions if v.version == wanted), None)
    if found is None:
        raise InvalidInput(
            f"数据资源 {code} 没有版本 {wanted}：登记的是一个已入湖的数据快照。",
            f"Resource {code} has no version {wanted}: a registration is of a snapshot in the lake.",
            field="object.version",
        )
    department = db.scalar(select(Organization).where(Organization.code == resource.department))
    return _Snapshot(
        name=resource.name,
        version=found.version,
        fingerprint=found.fingerprint,
        department_id=department.id if department else None,
        summary=resource.summary,
        sharing={"share_type": resource.share_type.value, "open_type": resource.open_type.value},
        catalogue=[{"name": f.name, "label": f.label, "data_type": f.data_type} for f in resource.fields],
    )


# --- state, the log and the audit trail --------------------------------------------------------------------------


def registration_state(row: Registration) -> dict[str, Any]:
    """Every field of a registration that a step may change, as the log's hash covers it."""

    def day(value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": row.id,
        "number": row.number,
        "kind": row.kind,
        "status": row.status,
        "applicant_id": row.applicant_id,
        "object": [row.object_kind, row.object_code, row.object_name, row.object_version, row.fingerprint],
        "holder": [row.holder_name, row.holder_credit_code],
        "rights": list(row.rights),
        "scope": row.scope,
        "term": [day(row.term_start), day(row.term_end)],
        "particulars": row.particulars,
        "document": row.document,
        "previous_certificate": row.previous_certificate,
        "revision": row.revision,
        "deadlines": [day(row.accept_due), day(row.review_due), day(row.publicity_start), day(row.publicity_end)],
        "refusal": [row.refusal_ground, row.status_note],
        "certificate_number": row.certificate_number,
        "created": [row.created_by, row.created_at.isoformat(timespec="microseconds")],
    }


def state_hash(row: Registration) -> str:
    return hashlib.sha256(log.canonical_json(registration_state(row))).hexdigest()


def _audit_head(db: Session) -> list[Any]:
    """The audit chain's newest event, as [seq, hash]: each log entry anchors it, so a later truncation or rewrite
    of the audit trail (which its own hash chain cannot show at the end) no longer matches the public log."""
    head = db.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    return [head.seq, head.hash] if head else [0, GENESIS]


def _event_entry(db: Session, row: Registration, seq: int, action: str, at: str) -> dict[str, Any]:
    """A step's log entry: public, so it names the registration and its status, never a person."""
    return {
        "type": "registration",
        "registration": row.number,
        "seq": seq,
        "action": action,
        "status": row.status,
        "at": at,
        "state": row.state_hash,
        "audit": _audit_head(db),
    }


def _step(db: Session, actor: Principal, row: Registration, action: str, note: str = "", **details: Any) -> int:
    """Record a step: the row's new state hash, its log entry, its event, and the audit event, all in the
    caller's transaction. Returns the entry's log index."""
    row.updated_at = utcnow()
    db.flush()  # the row has its id before its state is hashed
    row.state_hash = state_hash(row)
    seq = (
        db.scalar(select(func.max(RegistrationEvent.seq)).where(RegistrationEvent.registration_id == row.id)) or 0
    ) + 1
    at = row.updated_at.isoformat(timespec="microseconds")
    (index,) = log.append(db, [_event_entry(db, row, seq, action, at)])
    db.add(
        RegistrationEvent(
            registration_id=row.id,
            seq=seq,
            action=action,
            status=row.status,
            note=note,
            actor=actor.username,
            at=row.updated_at,
            log_index=index,
        )
    )
    record(
        db,
        actor,
        f"registry.registration.{action}",
        target_type="registration",
        target_id=row.number,
        details={"status": row.status, "log_index": index, **({"note": note} if note else {}), **details},
    )
    log.sign_checkpoint(db)
    return index


# --- who may see and do what -----------------------------------------------------------------------------------


def _get(db: Session, actor: Principal, number: str) -> Registration:
    """The registration ``number`` as ``actor`` may see it: the bureau every one, others their own organization's
    and those in publicity (which are public anyway); NotFound otherwise."""
    actor.require(perms.REGISTRATION_VIEW)
    row = db.scalar(select(Registration).where(Registration.number == number.strip().upper()))
    if row is None or not (
        actor.sees_all_orgs or row.applicant_id == actor.org_id or row.status in (Status.PUBLICITY, Status.PAUSED)
    ):
        raise NotFound.of("登记", "registration", number)
    return row


def _require_applicant(actor: Principal, row: Registration) -> None:
    actor.require(perms.REGISTRATION_ADD)
    if actor.via != "system" and actor.org_id != row.applicant_id:
        raise PermissionDenied(perms.REGISTRATION_ADD.name)


def _require_authority(actor: Principal) -> None:
    actor.require(perms.REGISTRATION_REVIEW)
    if not actor.sees_all_orgs:
        raise PermissionDenied(perms.REGISTRATION_REVIEW.name)


def _move(row: Registration, allowed: Iterable[Status], to: Status, note: str = "") -> None:
    allowed = tuple(allowed)
    if row.status not in allowed:
        raise Conflict(
            f"登记 {row.number} 当前为“{row.status}”，不能执行此操作（需为 {'/'.join(allowed)}）。",
            f"Registration {row.number} is {row.status}; this step needs {'/'.join(allowed)}.",
            status=row.status,
        )
    row.status = to.value
    row.status_note = note


# --- applying ----------------------------------------------------------------------------------------------------


def _applicant(db: Session, actor: Principal, on_behalf_of: str | None) -> Organization:
    """The organization applying: the actor's own, or the one the authority's counter (or the local system)
    files a paper application for."""
    if on_behalf_of is not None:
        if not actor.sees_all_orgs:
            raise PermissionDenied(perms.REGISTRATION_ADD.name)
        org = db.scalar(select(Organization).where(Organization.code == on_behalf_of))
        if org is None:
            raise NotFound.of("组织", "organization", on_behalf_of)
    else:
        org = db.get(Organization, actor.org_id) if actor.org_id is not None else None
    if org is None or org.org_type not in (OrgType.DEPARTMENT, OrgType.OPERATOR, OrgType.DATA_MERCHANT):
        raise InvalidInput(
            "登记由持有数据的单位申请：数据资源由数据提供单位、数据产品由运营机构或数商申请。",
            "Registrations are applied for by the organization that holds the data: a department for its resources, "
            "an operator or data merchant for its products.",
        )
    return org


def _certificate_row(db: Session, number: str) -> tuple[IssuedCertificate, Registration]:
    canonical = str(parse_certificate_number(number))
    cert = db.get(IssuedCertificate, canonical)
    if cert is None:
        raise NotFound.of("登记证书", "certificate", number)
    registration = db.get(Registration, cert.registration_id)
    assert registration is not None  # noqa: S101 - a foreign key
    return cert, registration


def _rights_check(rights: list[Right], kind: ObjectKind) -> None:
    if kind is ObjectKind.RESOURCE and Right.OPERATING in rights:
        raise InvalidInput(
            "产品经营权登记于数据产品，不登记于数据资源。",
            "The product operation right is registered on a data product, not on a resource.",
            field="rights",
        )


def _ordered(rights: Iterable[Right | str]) -> list[str]:
    wanted = {Right(r) for r in rights}
    return [r.value for r in Right if r in wanted]


def _next_number(db: Session, settings: Settings) -> str:
    authority = _authority(settings)
    year = today().year
    prefix = f"{authority.code}{year:04d}"
    last = db.scalar(select(func.max(Registration.number)).where(Registration.number.startswith(prefix)))
    serial = int(last[12:19]) + 1 if last else 1
    return str(RegistrationNumber(authority, year, serial))


def _fill(db: Session, actor: Principal, row: Registration, doc: ApplicationDoc, applicant: Organization) -> None:
    """The row's object, holder, rights, term and particulars from the document, checked against the catalog
    (initial) or the certificate the application concerns (every other kind)."""
    row.kind = doc.kind.value
    if doc.kind is Kind.INITIAL:
        assert doc.object is not None and doc.term is not None and doc.particulars is not None  # noqa: S101
        kind = doc.object.kind
        snapshot = _object_snapshot(db, actor, kind, doc.object.code, doc.object.version, doc.object.name)
        if kind is ObjectKind.RESOURCE and snapshot.department_id != applicant.id:
            raise PermissionDenied(perms.REGISTRATION_ADD.name)
        _rights_check(doc.rights, kind)
        particulars = doc.particulars.model_dump(mode="json")
        if not particulars["catalogue"]:
            particulars["catalogue"] = snapshot.catalogue
        holder = _holder(doc.holder.name, doc.holder.credit_code) if doc.holder else _party(applicant)
        row.object_kind, row.object_code, row.object_name = kind.value, doc.object.code, snapshot.name
        row.object_version, row.fingerprint = snapshot.version, snapshot.fingerprint
        row.holder_name, row.holder_credit_code = holder.name, holder.credit_code
        row.rights, row.term_start, row.term_end = _ordered(doc.rights), doc.term.start, doc.term.end
        row.scope = (doc.scope or "").strip()
        row.particulars, row.previous_certificate = particulars, None
        _no_rival(db, row)
        return
    cert, previous = _certificate_row(db, doc.previous_certificate or "")
    if previous.applicant_id != applicant.id:
        raise PermissionDenied(perms.REGISTRATION_ADD.name)
    if cert.status != CertificateStatus.VALID:
        raise Conflict(
            f"证书 {cert.number} 已{cert.status}，不能再为其办理登记。",
            f"Certificate {cert.number} is {cert.status}: no registration can concern it now.",
            certificate=cert.number,
        )
    row.previous_certificate = cert.number
    row.object_kind, row.object_code, row.object_name = previous.object_kind, previous.object_code, previous.object_name
    row.object_version, row.fingerprint = previous.object_version, previous.fingerprint
    row.holder_name, row.holder_credit_code = previous.holder_name, previous.holder_credit_code
    row.rights, row.term_start, row.term_end = list(previous.rights), previous.term_start, previous.term_end
    row.scope = previous.scope
    row.particulars = {**previous.particulars, "reason": doc.reason}
    if doc.kind is Kind.CHANGE and doc.object is not None:
        snapshot = _object_snapshot(
            db, actor, ObjectKind(previous.object_kind), previous.object_code, doc.object.version, previous.object_name
        )
        row.object_version, row.fingerprint = snapshot.version, snapshot.fingerprint
    if doc.kind in (Kind.CHANGE, Kind.CORRECTION, Kind.LICENSE):
        if doc.holder is not None:
            holder = _holder(doc.holder.name, doc.holder.credit_code)
            row.holder_name, row.holder_credit_code = holder.name, holder.credit_code
        if doc.rights:
            _rights_check(doc.rights, ObjectKind(previous.object_kind))
            row.rights = _ordered(doc.rights)
        if doc.term is not None:
            row.term_start, row.term_end = doc.term.start, doc.term.end
        if doc.scope is not None:
            row.scope = doc.scope.strip()
        if doc.particulars is not None:
            row.particulars = {**doc.particulars.model_dump(mode="json"), "reason": doc.reason}
    if doc.kind is Kind.LICENSE:
        _license_check(previous, row, applicant)


def _party(org: Organization) -> Holder:
    return _holder(org.name, org.credit_code)


def _holder(name: str, credit_code: str | None) -> Holder:
    """The holder as the certificate will print it, checked now rather than when the certificate is issued."""
    try:
        return Holder(name, credit_code)
    except InvalidInput as exc:
        raise InvalidInput(exc.message_zh, exc.message_en, field="holder") from None


def _license_check(parent: Registration, row: Registration, applicant: Organization) -> None:
    """A license grants some of the licensor's processing or operation rights, within its term, to another."""
    if Right.HOLDING.value in row.rights or not set(row.rights) <= set(parent.rights):
        raise InvalidInput(
            "许可登记只能许可原证书载明的加工使用权或产品经营权，持有权不可许可。",
            "A license grants only processing or operation rights the certificate records; holding cannot be licensed.",
            field="rights",
        )
    if row.holder_name == parent.holder_name:
        raise InvalidInput("被许可方不能是权利人本身。", "The licensee cannot be the holder itself.", field="holder")
    outlasts = parent.term_end is not None and (row.term_end is None or row.term_end > parent.term_end)
    if row.term_start < parent.term_start or outlasts:
        raise InvalidInput(
            "许可期限须在原证书的有效期限之内。", "The license's term must lie within the certificate's.", field="term"
        )


# The kinds whose certificate records the holding of the object itself (a license's records a licensee's use).
_HOLDING_KINDS = (Kind.INITIAL.value, Kind.CHANGE.value, Kind.CORRECTION.value)


def live_registrations(db: Session, object_kind: str, codes: Iterable[str] | None = None) -> dict[str, Registration]:
    """By object code, the registration that holds each object now: an initial one under way, or the one whose
    certificate of holding is valid."""
    stmt = select(Registration).where(Registration.object_kind == object_kind, Registration.kind.in_(_HOLDING_KINDS))
    if codes is not None:
        stmt = stmt.where(Registration.object_code.in_(set(codes)))
    found = {}
    for row in db.scalars(stmt.order_by(Registration.id)):
        under_way = row.kind == Kind.INITIAL.value and row.status in OPEN
        if under_way or _certificate_status(db, row) == CertificateStatus.VALID:
            found[row.object_code] = row
    return found


def _no_rival(db: Session, row: Registration) -> None:
    """One holding registration per object: a second initial registration of an object that has a valid
    certificate or an open case would put its rights in dispute."""
    rival = live_registrations(db, row.object_kind, [row.object_code]).get(row.object_code)
    if rival is not None and rival.id != row.id:
        raise Conflict(
            f"{row.object_code} 已有登记 {rival.number}（{rival.status}）：请办理变更或许可登记。",
            f"{row.object_code} already has registration {rival.number} ({rival.status}): apply for a change or "
            f"a license instead.",
            registration=rival.number,
        )


def _certificate_status(db: Session, row: Registration) -> str | None:
    if row.certificate_number is None:
        return None
    cert = db.get(IssuedCertificate, row.certificate_number)
    return cert.status if cert else None


def _deadline(db: Session, days: int) -> date:
    return _add_working_days(db, today(), days)


def _add_working_days(db: Session, start: date, n: int) -> date:
    return calendar.add_working_days(start, n, calendar.load_supplement(_settings(db).registry_calendar_path))


def _working_days_between(db: Session, a: date, b: date) -> int:
    return calendar.working_days_between(a, b, calendar.load_supplement(_settings(db).registry_calendar_path))


@state_change("registry.registration.apply", "registration")
def apply(
    db: Session, actor: Principal, text: str, *, file: str = "application", applicant: str | None = None
) -> RegistrationOut:
    """Submit an application; the authority's formal check is due within the configured working days. The
    authority (or the local system) may file one for ``applicant``, an organization's code."""
    actor.require(perms.REGISTRATION_ADD)
    doc = parse_document(text, file=file)
    org = _applicant(db, actor, applicant)
    settings = _settings(db)
    log.lock(db)  # registration numbers are taken one at a time
    row = Registration(
        number=_next_number(db, settings),
        status=Status.APPLIED.value,
        applicant_id=org.id,
        document=document_text(doc),
        created_by=actor.username,
        created_at=utcnow(),
        state_hash="",
    )
    _fill(db, actor, row, doc, org)
    row.accept_due = _deadline(db, settings.registry_accept_working_days)
    db.add(row)
    _step(db, actor, row, "apply", kind=row.kind)
    return _out(db, actor, row)


@state_change("registry.registration.amend", "registration")
def amend(db: Session, actor: Principal, number: str, text: str, note: str = "") -> RegistrationOut:
    """Resubmit an application returned for correction."""
    row = _get(db, actor, number)
    _require_applicant(actor, row)
    doc = parse_document(text)
    if doc.kind.value != row.kind:
        raise InvalidInput("不能更改登记类型。", "The kind of a registration cannot change.", field="kind")
    _move(row, [Status.RETURNED], Status.APPLIED, note)
    applicant = db.get(Organization, row.applicant_id)
    assert applicant is not None  # noqa: S101 - a foreign key
    _fill(db, actor, row, doc, applicant)
    row.document, row.revision = document_text(doc), row.revision + 1
    row.accept_due = _deadline(db, _settings(db).registry_accept_working_days)
    _step(db, actor, row, "amend", note, revision=row.revision)
    return _out(db, actor, row)


@state_change("registry.registration.withdraw", "registration")
def withdraw(db: Session, actor: Principal, number: str, note: str = "") -> RegistrationOut:
    row = _get(db, actor, number)
    _require_applicant(actor, row)
    _move(row, [s for s in OPEN if s is not Status.APPROVED], Status.WITHDRAWN, note)
    _close_objections(db, row, actor, "申请人撤回申请 / withdrawn by the applicant")
    _step(db, actor, row, "withdraw", note)
    return _out(db, actor, row)


# --- the authority's steps ---------------------------------------------------------------------------------------


def checks(db: Session, row: Registration) -> list[CheckOut]:
    """What the formal check and the review look at: the lawful-source commitment, the compliance report, the
    grade of a resource (core data cannot be registered), co-owners' agreement, and open objections."""
    p = row.particulars
    found: list[CheckOut] = []

    def check(name: str, ok: bool, zh: str, en: str) -> None:
        found.append(CheckOut(name=name, ok=ok, message_zh=zh, message_en=en))

    source = p.get("lawful_source") or {}
    check(
        "lawful_source",
        bool(source.get("commitment")),
        "已作出合法合规来源承诺" if source.get("commitment") else "未作出合法合规来源承诺",
        "lawful-source commitment made" if source.get("commitment") else "no lawful-source commitment",
    )
    has_report = bool(p.get("compliance"))
    check(
        "compliance",
        has_report,
        "附有第三方合规评估报告" if has_report else "未附合规评估报告",
        "compliance assessment attached" if has_report else "no compliance assessment",
    )
    co = p.get("co_owned") or {}
    if co.get("co_owned"):
        agreed = bool(co.get("agreement"))
        check(
            "co_owned",
            agreed,
            "共有数据已附共有人协议" if agreed else "共有数据缺共有人协议",
            "co-owners' agreement attached" if agreed else "no co-owners' agreement",
        )
    if row.object_kind == ObjectKind.RESOURCE:
        grade = classify.grade_of(db, row.object_code)
        check(
            "grade",
            grade is not None and grade[1] != "core",
            "尚未分类分级" if grade is None else f"分级 {grade[0]}（{grade[1]}）",
            "not classified yet" if grade is None else f"graded {grade[0]} ({grade[1]})",
        )
    open_objections = _open_objections(db, row)
    check(
        "objections",
        not open_objections,
        f"{len(open_objections)} 项异议待处理" if open_objections else "无未处理的异议",
        f"{len(open_objections)} objection(s) open" if open_objections else "no open objection",
    )
    return found


def _open_objections(db: Session, row: Registration) -> list[Objection]:
    return list(db.scalars(select(Objection).where(Objection.registration_id == row.id, Objection.status == "open")))


@state_change("registry.registration.accept", "registration")
def accept(db: Session, actor: Principal, number: str, note: str = "") -> RegistrationOut:
    """The formal check passed: the case is accepted (受理), and its review is due within the working days set."""
    _require_authority(actor)
    row = _get(db, actor, number)
    _move(row, [Status.APPLIED], Status.ACCEPTED, note)
    row.review_due = _deadline(db, _settings(db).registry_review_working_days)
    _step(db, actor, row, "accept", note)
    return _out(db, actor, row)


@state_change("registry.registration.return", "registration")
def return_for_correction(db: Session, actor: Principal, number: str, note: str = "") -> RegistrationOut:
    """The formal check found the application incomplete: it goes back to the applicant, with what to correct."""
    _require_authority(actor)
    row = _get(db, actor, number)
    if not note.strip():
        raise InvalidInput("退回补正须写明需补正的内容。", "Say what to correct.", field="note")
    _move(row, [Status.APPLIED], Status.RETURNED, note)
    _step(db, actor, row, "return", note)
    return _out(db, actor, row)


@state_change("registry.registration.publicize", "registration")
def publicize(db: Session, actor: Principal, number: str, note: str = "") -> RegistrationOut:
    """The review passed: publicize for the configured working days (or, for a correction or cancellation, or
    with no publicity configured, approve at once). Core data, a missing lawful-source commitment or an open
    objection stop it: refuse on that ground instead."""
    _require_authority(actor)
    row = _get(db, actor, number)
    failed = [c for c in checks(db, row) if not c.ok and c.name in ("lawful_source", "grade", "objections", "co_owned")]
    if failed and Kind(row.kind) in (Kind.INITIAL, Kind.CHANGE, Kind.LICENSE):
        raise Conflict(
            "审查未通过：" + "；".join(c.message_zh for c in failed) + "。应不予登记或退回。",
            "The review does not pass: " + "; ".join(c.message_en for c in failed) + ". Refuse or return it instead.",
            checks=[c.name for c in failed],
        )
    days = _settings(db).registry_publicity_working_days
    if Kind(row.kind).publicized and days > 0:
        _move(row, [Status.ACCEPTED], Status.PUBLICITY, note)
        row.publicity_start = today()
        row.publicity_end = _add_working_days(db, row.publicity_start, days)
    else:
        _move(row, [Status.ACCEPTED], Status.APPROVED, note)
    _step(db, actor, row, "publicize", note)
    return _out(db, actor, row)


@state_change("registry.registration.refuse", "registration")
def refuse(db: Session, actor: Principal, number: str, ground: str, note: str = "") -> RegistrationOut:
    """Refuse (不予登记) on one of the grounds national practice names, with the reasons."""
    _require_authority(actor)
    row = _get(db, actor, number)
    try:
        reason = RefusalGround(ground)
    except ValueError:
        raise InvalidInput(
            f"不予登记的理由应为：{'、'.join(g.value for g in RefusalGround)}。",
            f"The ground of a refusal is one of {', '.join(g.value for g in RefusalGround)}.",
            field="ground",
        ) from None
    if not note.strip():
        raise InvalidInput("不予登记须写明理由。", "A refusal states its reasons.", field="note")
    _move(row, [s for s in OPEN if s is not Status.RETURNED], Status.REFUSED, note)
    row.refusal_ground = reason.value
    _close_objections(db, row, actor, "登记不予办理 / registration refused")
    _step(db, actor, row, "refuse", note, ground=reason.value)
    return _out(db, actor, row)


def _publicity_over(row: Registration) -> bool:
    return row.publicity_end is not None and today() > row.publicity_end


@state_change("registry.registration.issue", "registration")
def issue(db: Session, actor: Principal, number: str, note: str = "") -> RegistrationOut:
    """Issue the certificate (发证) once publicity is over with no open objection; for a cancellation, end the
    certificate it names instead. A change or correction supersedes the certificate it replaces."""
    _require_authority(actor)
    row = _get(db, actor, number)
    log.lock(db)  # certificate numbers are taken one at a time
    if row.status == Status.PUBLICITY and not _publicity_over(row):
        raise Conflict(
            f"公示期至 {row.publicity_end} 届满，届满后方可发证。",
            f"Publicity runs until {row.publicity_end}; the certificate can be issued after that.",
            publicity_end=str(row.publicity_end),
        )
    _move(row, [Status.APPROVED, Status.PUBLICITY], Status.ISSUED, note)
    kind = Kind(row.kind)
    previous = db.get(IssuedCertificate, row.previous_certificate) if row.previous_certificate else None
    if previous is not None and kind in (Kind.CHANGE, Kind.CORRECTION, Kind.CANCELLATION):
        previous.status = CertificateStatus.CANCELLED if kind is Kind.CANCELLATION else CertificateStatus.SUPERSEDED
        previous.status_note = f"{kind.label_zh} {row.number}"
        previous.status_changed_at = utcnow()
    if kind is Kind.CANCELLATION:
        _step(db, actor, row, "issue", note, cancelled=row.previous_certificate)
        return _out(db, actor, row)
    settings = _settings(db)
    certificate = _certificate(db, settings, row)
    row.certificate_number = str(certificate.number)
    signed = bundles.sign_bundle(certificate, certificate_key(settings))
    _step(db, actor, row, "issue", note, certificate=row.certificate_number)
    (leaf,) = log.append(db, [bundles.log_entry(signed)])
    signed_checkpoint = log.sign_checkpoint(db)
    proof = log.inclusion(db, leaf, signed_checkpoint.size)
    db.add(
        IssuedCertificate(
            number=row.certificate_number,
            registration_id=row.id,
            status=CertificateStatus.VALID.value,
            issued_on=certificate.issued_on,
            leaf_index=leaf,
            bundle=bundles.with_transparency(signed, leaf, signed_checkpoint.size, proof, signed_checkpoint.note),
        )
    )
    db.flush()
    return _out(db, actor, row)


def _certificate(db: Session, settings: Settings, row: Registration) -> Certificate:
    authority = _authority(settings)
    issued_on = today()
    prefix = f"SJDJ-{issued_on.year:04d}-{issued_on.month:02d}-{authority.division}-{authority.unit}-"
    last = db.scalar(select(func.max(IssuedCertificate.number)).where(IssuedCertificate.number.startswith(prefix)))
    serial = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    reg = RegistrationNumber(authority, int(row.number[8:12]), int(row.number[12:19]))
    return Certificate(
        number=CertificateNumber(issued_on.year, issued_on.month, authority, serial),
        registration_number=reg,
        holder=Holder(row.holder_name, row.holder_credit_code),
        object=RegisteredObject(ObjectKind(row.object_kind), row.object_code, row.object_name),
        rights=tuple(Right(r) for r in row.rights),
        term_start=row.term_start,
        term_end=row.term_end,
        issued_on=issued_on,
        authority_name=settings.registry_authority_name,
        fingerprint=row.fingerprint,
        scope=row.scope,
    )


# --- objections --------------------------------------------------------------------------------------------------


@state_change("registry.registration.object", "registration")
def raise_objection(
    db: Session, actor: Principal, number: str, reason: str, *, objector: str = "", contact: str = ""
) -> RegistrationOut:
    """Object during publicity. The case pauses, and so does its publicity clock: the working days left are
    kept and run again once every objection is resolved. The authority may record an objection received in
    writing, naming the objector; anyone else objects in their own organization's name."""
    actor.require(perms.OBJECTION_ADD)
    row = _get(db, actor, number)
    if not reason.strip():
        raise InvalidInput("异议须写明理由。", "An objection states its reasons.", field="reason")
    if actor.via != "system" and actor.org_id == row.applicant_id:
        raise PermissionDenied(perms.OBJECTION_ADD.name)
    name = objector.strip() if actor.sees_all_orgs and objector.strip() else (actor.org_name or actor.username)
    left = 0
    if row.status == Status.PUBLICITY:
        assert row.publicity_end is not None  # noqa: S101 - set when publicity starts
        left = max(_working_days_between(db, today(), row.publicity_end), 0)
    _move(row, [Status.PUBLICITY, Status.PAUSED], Status.PAUSED, row.status_note)
    objection = Objection(
        registration_id=row.id,
        objector=name[:200],
        contact=contact.strip()[:200],
        reason=reason.strip(),
        status="open",
        filed_by=actor.username,
        filed_at=utcnow(),
        paused_working_days=left,
    )
    db.add(objection)
    db.flush()
    _step(db, actor, row, "object", objection=objection.id)
    return _out(db, actor, row)


@state_change("registry.registration.resolve", "registration")
def resolve_objection(
    db: Session, actor: Principal, number: str, objection_id: int, decision: str, note: str = ""
) -> RegistrationOut:
    """Dismiss an objection (publicity resumes when none is left open, for the working days it had left) or
    uphold it (the rights are in dispute: the registration is refused on that ground)."""
    _require_authority(actor)
    row = _get(db, actor, number)
    objection = db.get(Objection, objection_id)
    if objection is None or objection.registration_id != row.id:
        raise NotFound.of("异议", "objection", objection_id)
    if objection.status != "open" or row.status != Status.PAUSED:
        raise Conflict("该异议已处理。", "The objection has been resolved already.", objection=objection_id)
    if decision not in ("dismiss", "uphold") or not note.strip():
        raise InvalidInput(
            "处理异议须选择驳回（dismiss）或成立（uphold），并写明理由。",
            "Resolving an objection is dismiss or uphold, with reasons.",
            field="decision" if decision not in ("dismiss", "uphold") else "note",
        )
    objection.status = "dismissed" if decision == "dismiss" else "upheld"
    objection.resolution, objection.resolved_by, objection.resolved_at = note, actor.username, utcnow()
    if decision == "uphold":
        _move(row, [Status.PAUSED], Status.REFUSED, note)
        row.refusal_ground = RefusalGround.RIGHTS_IN_DISPUTE.value
        _close_objections(db, row, actor, "登记因异议成立不予办理 / refused on an upheld objection")
    elif not _open_objections(db, row):
        _move(row, [Status.PAUSED], Status.PUBLICITY, row.status_note)
        row.publicity_end = _add_working_days(db, today(), objection.paused_working_days)
    db.flush()
    _step(db, actor, row, "resolve", note, objection=objection_id, decision=decision)
    return _out(db, actor, row)


def _close_objections(db: Session, row: Registration, actor: Principal, why: str) -> None:
    for objection in _open_objections(db, row):
        objection.status, objection.resolution = "closed", why
        objection.resolved_by, objection.resolved_at = actor.username, utcnow()


# --- reading -----------------------------------------------------------------------------------------------------


def _due(db: Session, row: Registration) -> date | None:
    """The authority's next deadline while the case waits on it."""
    if row.status == Status.APPLIED:
        return row.accept_due
    if row.status in (Status.ACCEPTED, Status.APPROVED):
        return row.review_due
    if row.status == Status.PUBLICITY and row.publicity_end is not None:
        return _add_working_days(db, row.publicity_end, 1)  # to issue on the first working day after it
    return None


def _orgs(db: Session, ids: Iterable[int]) -> dict[int, Organization]:
    wanted = set(ids)
    return {o.id: o for o in db.scalars(select(Organization).where(Organization.id.in_(wanted)))} if wanted else {}


def _summary(db: Session, row: Registration, orgs: dict[int, Organization]) -> dict[str, Any]:
    due = _due(db, row)
    return {
        "number": row.number,
        "kind": row.kind,
        "status": row.status,
        "object_kind": row.object_kind,
        "object_code": row.object_code,
        "object_name": row.object_name,
        "holder_name": row.holder_name,
        "applicant": orgs[row.applicant_id].code,
        "rights": row.rights,
        "scope": row.scope,
        "due": due,
        "overdue": due is not None and today() > due,
        "updated_at": row.updated_at,
    }


def steps(actor: Principal, row: Registration) -> list[str]:
    """What ``actor`` may do now on ``row``, in the order the console offers them."""
    found = []
    status = Status(row.status)
    if actor.has(perms.REGISTRATION_REVIEW) and actor.sees_all_orgs:
        found += {
            Status.APPLIED: ["accept", "return", "refuse"],
            Status.ACCEPTED: ["publicize", "refuse"],
            Status.PUBLICITY: (["issue"] if _publicity_over(row) else []) + ["refuse"],
            Status.PAUSED: ["refuse"],
            Status.APPROVED: ["issue", "refuse"],
        }.get(status, [])
    own = actor.via == "system" or actor.org_id == row.applicant_id
    if actor.has(perms.REGISTRATION_ADD) and own:
        if status == Status.RETURNED:
            found.append("amend")
        if status in OPEN and status is not Status.APPROVED:
            found.append("withdraw")
    return found


def _out(db: Session, actor: Principal, row: Registration) -> RegistrationOut:
    orgs = _orgs(db, [row.applicant_id])
    events = db.scalars(
        select(RegistrationEvent).where(RegistrationEvent.registration_id == row.id).order_by(RegistrationEvent.seq)
    )
    objections = db.scalars(select(Objection).where(Objection.registration_id == row.id).order_by(Objection.id))
    own = actor.via == "system" or actor.org_id == row.applicant_id
    return RegistrationOut(
        **_summary(db, row, orgs),
        applicant_name=orgs[row.applicant_id].name,
        holder_credit_code=row.holder_credit_code,
        object_version=row.object_version,
        fingerprint=row.fingerprint,
        term_start=row.term_start,
        term_end=row.term_end,
        particulars=row.particulars if own or actor.sees_all_orgs else {"summary": row.particulars.get("summary")},
        document=row.document if own or actor.sees_all_orgs else "",
        previous_certificate=row.previous_certificate,
        revision=row.revision,
        accept_due=row.accept_due,
        review_due=row.review_due,
        publicity_start=row.publicity_start,
        publicity_end=row.publicity_end,
        refusal_ground=row.refusal_ground,
        status_note=row.status_note,
        certificate_number=row.certificate_number,
        created_by=row.created_by,
        created_at=row.created_at,
        events=[EventOut.model_validate(e, from_attributes=True) for e in events],
        objections=[
            ObjectionOut.model_validate(o, from_attributes=True)
            for o in objections
            if own or actor.sees_all_orgs or o.filed_by == actor.username
        ],
        checks=checks(db, row) if actor.sees_all_orgs or own else [],
        steps=steps(actor, row),
        may_object=(
            actor.has(perms.OBJECTION_ADD)
            and row.status in (Status.PUBLICITY, Status.PAUSED)
            and (actor.via == "system" or actor.org_id != row.applicant_id)
        ),
    )


def get_registration(db: Session, actor: Principal, number: str) -> RegistrationOut:
    return _out(db, actor, _get(db, actor, number))


def list_registrations(
    db: Session, actor: Principal, *, status: str | None = None, overdue: bool = False
) -> list[RegistrationSummary]:
    """The registrations ``actor`` sees, newest first: the bureau every one, others their own organization's."""
    actor.require(perms.REGISTRATION_VIEW)
    stmt = select(Registration).order_by(Registration.id.desc())
    if not actor.sees_all_orgs:
        stmt = stmt.where(Registration.applicant_id == actor.org_id)
    if status:
        stmt = stmt.where(Registration.status == status)
    rows = list(db.scalars(stmt))
    orgs = _orgs(db, [r.applicant_id for r in rows])
    found = [RegistrationSummary(**_summary(db, r, orgs)) for r in rows]
    return [s for s in found if s.overdue] if overdue else found


def reminders(db: Session, actor: Principal) -> list[Reminder]:
    """The cases the authority is late on: not accepted, reviewed or issued by their deadline, most overdue first."""
    _require_authority(actor)
    rows = db.scalars(select(Registration).where(Registration.status.in_([s.value for s in OPEN])))
    found = []
    for row in rows:
        due = _due(db, row)
        if due is not None and today() > due:
            late = _working_days_between(db, due, today())
            found.append(Reminder(number=row.number, status=row.status, due=due, working_days_overdue=late))
    return sorted(found, key=lambda r: (-r.working_days_overdue, r.number))


def unregistered_in_scope(db: Session, actor: Principal) -> list[Unregistered]:
    """The resources authorized operation uses that have no registration in force or under way, for the
    authority (every one) and each department (its own)."""
    actor.require(perms.REGISTRATION_VIEW)
    in_scope = sandbox.authorized_resources(db)
    if not in_scope:
        return []
    covered = live_registrations(db, ObjectKind.RESOURCE.value)
    return [
        Unregistered(
            resource=s.code,
            name=s.name,
            department=s.department,
            department_name=s.department_name,
            authorizations=sorted(in_scope[s.id]),
        )
        for s in catalog.sandbox_subjects(db, ids=set(in_scope))
        if s.code not in covered and (actor.sees_all_orgs or s.department_id == actor.org_id)
    ]


def publicity_list(db: Session) -> list[RegistrationSummary]:
    """The cases in publicity (or paused by an objection): public, so that anyone may object in time."""
    rows = list(
        db.scalars(
            select(Registration)
            .where(Registration.status.in_([Status.PUBLICITY.value, Status.PAUSED.value]))
            .order_by(Registration.publicity_start, Registration.id)
        )
    )
    orgs = _orgs(db, [r.applicant_id for r in rows])
    return [RegistrationSummary(**_summary(db, r, orgs)) for r in rows]


# --- certificates: the public lookup, the bundle, the PDF ----------------------------------------------------------


def certificate_key(settings: Settings) -> bundles.PrivateKey:
    """The key that signs certificate bundles: the log's own Ed25519 key unless another is configured; an SM2 key
    is made on first use when none is there."""
    path = settings.registry_certificate_key
    if settings.registry_certificate_algorithm == "ed25519" and path == settings.registry_log_key:
        return checkpoint.signing_key(settings)
    if not path.exists() and settings.registry_certificate_key_path is None:
        bundles.save_private_key(bundles.generate_key(settings.registry_certificate_algorithm), path)
    key = bundles.load_private_key(path.read_bytes())
    if bundles.algorithm_of(key).value != settings.registry_certificate_algorithm:
        raise InvalidInput(
            f"证书签名密钥 {path} 不是 {settings.registry_certificate_algorithm} 密钥。",
            f"The certificate key {path} is not a {settings.registry_certificate_algorithm} key.",
            path=str(path),
        )
    return key


def public_keys_pem(settings: Settings) -> bytes:
    """What a verifier needs, in one file: the certificate key and (when it is another) the log's key."""
    keys = [bundles.public_key_pem(certificate_key(settings))]
    log_key = bundles.public_key_pem(checkpoint.signing_key(settings).public_key())
    if log_key not in keys:
        keys.append(log_key)
    return b"".join(keys)


def certificate_status(db: Session, number: str) -> CertificateOut:
    """A certificate as anyone may look it up (login-free), with its status now."""
    cert, row = _certificate_row(db, number)
    successor = db.scalar(
        select(Registration.certificate_number).where(
            Registration.previous_certificate == cert.number,
            Registration.status == Status.ISSUED.value,
            Registration.certificate_number.is_not(None),
            Registration.kind.in_([Kind.CHANGE.value, Kind.CORRECTION.value]),
        )
    )
    data = cert.bundle["certificate"]
    return CertificateOut(
        number=cert.number,
        registration_number=row.number,
        status=cert.status,
        status_note=cert.status_note,
        status_changed_at=cert.status_changed_at,
        holder_name=data["holder"]["name"],
        holder_credit_code=data["holder"]["credit_code"],
        object_kind=data["object"]["kind"],
        object_code=data["object"]["id"],
        object_name=data["object"]["name"],
        rights=data["rights"],
        scope=data["scope"],
        term_start=date.fromisoformat(data["term"]["start"]),
        term_end=date.fromisoformat(data["term"]["end"]) if data["term"]["end"] else None,
        issued_on=cert.issued_on,
        authority=data["authority"]["name"],
        fingerprint=data["fingerprint"].removeprefix("sha256:"),
        leaf_index=cert.leaf_index,
        superseded_by=successor,
    )


def certificate_bundle(db: Session, number: str) -> dict[str, Any]:
    """The certificate's bundle, its inclusion proof brought up to the log's latest checkpoint (the one stored
    at issue proves it too; a newer one lets a verifier compare with what monitors see today)."""
    cert, _ = _certificate_row(db, number)
    latest = log.latest_checkpoint(db)
    if latest is None or latest.size <= cert.leaf_index:
        return dict(cert.bundle)
    proof = log.inclusion(db, cert.leaf_index, latest.size)
    return bundles.with_transparency(cert.bundle, cert.leaf_index, latest.size, proof, latest.note)


def certificate_pdf(db: Session, number: str) -> bytes:
    from shengjing.registry import pdf  # fpdf2 and fontTools load only when a PDF is asked for

    cert, _ = _certificate_row(db, number)
    certificate = Certificate.from_json(cert.bundle["certificate"])
    return pdf.certificate_pdf(certificate, _settings(db).public_base_url)


# --- verifying the register against the log ----------------------------------------------------------------------


@state_change("registry.log.anchor", "transparency_log")
def anchor_audit(db: Session, actor: Principal) -> int:
    """Anchor the audit chain's head in the log now (registration steps do it as they go; a daily run from cron
    keeps the anchor fresh when no one registers), and sign a checkpoint. Returns the entry's index."""
    actor.require(perms.REGISTRY_VERIFY)
    head = _audit_head(db)
    (index,) = log.append(db, [{"type": "audit-anchor", "audit": head, "at": utcnow().isoformat()}])
    log.sign_checkpoint(db)
    record(db, actor, "registry.log.anchor", target_type="transparency_log", target_id=index, details={"audit": head})
    return index


@dataclass
class RegisterReport:
    """What ``verify_register`` found: the log's own report, and every row that disagrees with it."""

    log_report: log.LogReport
    registrations: int = 0
    certificates: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.log_report.ok and not self.problems

    @property
    def findings(self) -> list[str]:
        """Everything that failed, in English: the log's first break, then each row that disagrees."""
        broken = self.log_report.first_break
        return ([f"{broken.where}: {broken.reason_en}"] if broken else []) + self.problems


@dataclass
class _Logged:
    """What the log holds, sorted for checking the register: registration steps by number, certificate entries
    by index, and every audit anchor as (entry index, audit seq, audit hash)."""

    events: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    certificates: dict[int, bytes] = field(default_factory=dict)
    anchors: list[tuple[int, int, str]] = field(default_factory=list)


def _log_events(db: Session) -> _Logged:
    found = _Logged()
    events, certificates = found.events, found.certificates
    for index, data in db.execute(select(LogEntry.idx, LogEntry.entry).order_by(LogEntry.idx)):
        try:
            entry = json.loads(data)
        except ValueError:
            continue
        if entry.get("type") == "registration":
            events.setdefault(entry["registration"], []).append((index, entry))
        elif entry.get("type") == "certificate":
            certificates[index] = bytes(data)
        if isinstance(entry.get("audit"), list) and len(entry["audit"]) == 2 and entry["audit"][0]:
            found.anchors.append((index, int(entry["audit"][0]), str(entry["audit"][1])))
    return found


def verify_register(db: Session, actor: Principal) -> RegisterReport:
    """Recompute the whole log, then check every registration, step and certificate row against it."""
    actor.require(perms.REGISTRY_VERIFY)
    settings = _settings(db)
    report = RegisterReport(log_report=log.verify_log(db))
    logged_entries = _log_events(db)
    events, certificate_entries = logged_entries.events, logged_entries.certificates
    problems = report.problems
    rows = list(db.scalars(select(Registration).order_by(Registration.id)))
    seen = set()
    for row in rows:
        report.registrations += 1
        seen.add(row.number)
        logged = events.get(row.number, [])
        if state_hash(row) != row.state_hash:
            problems.append(f"registration {row.number}: its fields do not match its recorded state hash")
        if not logged:
            problems.append(f"registration {row.number}: not in the transparency log")
            continue
        if logged[-1][1]["state"] != state_hash(row):
            problems.append(f"registration {row.number}: differs from its last logged state")
        stored = list(
            db.scalars(
                select(RegistrationEvent)
                .where(RegistrationEvent.registration_id == row.id)
                .order_by(RegistrationEvent.seq)
            )
        )
        logged_steps = [(i, e["seq"], e["action"], e["status"]) for i, e in logged]
        stored_steps = [(e.log_index, e.seq, e.action, e.status) for e in stored]
        if logged_steps != stored_steps:
            problems.append(f"registration {row.number}: its steps differ from those in the log")
    for number in sorted(set(events) - seen):
        problems.append(f"registration {number}: in the transparency log but missing from the register")
    public_keys = _verifying_keys(settings)
    stored_certificates = list(db.scalars(select(IssuedCertificate).order_by(IssuedCertificate.number)))
    for cert in stored_certificates:
        report.certificates += 1
        problems.extend(_certificate_problems(db, cert, certificate_entries, public_keys))
    numbers = {c.number for c in stored_certificates}
    for row in rows:
        if row.certificate_number is not None and row.certificate_number not in numbers:
            problems.append(f"certificate {row.certificate_number}: missing from the register")
    for index in sorted(set(certificate_entries) - {c.leaf_index for c in stored_certificates}):
        problems.append(f"log entry {index}: a certificate missing from the register")
    problems.extend(_anchor_problems(db, logged_entries.anchors))
    return report


def _anchor_problems(db: Session, anchors: list[tuple[int, int, str]]) -> list[str]:
    """Every audit event the log anchored must still be there with the same hash."""
    wanted = {seq for _, seq, _ in anchors}
    stored: dict[int, str] = {}
    for chunk in range(0, len(wanted), 1000):
        seqs = sorted(wanted)[chunk : chunk + 1000]
        stored.update(db.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(seqs))).all())
    return [
        f"audit event {seq}: anchored in log entry {index}, but missing or changed (the audit trail was rewritten)"
        for index, seq, digest in anchors
        if stored.get(seq) != digest
    ]


def _verifying_keys(settings: Settings) -> list[bundles.PublicKey]:
    return [bundles.load_public_key(block) for block in pem_blocks(public_keys_pem(settings))]


def _certificate_problems(
    db: Session, cert: IssuedCertificate, entries: dict[int, bytes], keys: list[bundles.PublicKey]
) -> list[str]:
    found = []
    try:
        certificate = next(
            bundles.verify_bundle_signature(cert.bundle, k)
            for k in keys
            if bundles.key_id(k) == cert.bundle.get("key_id")
        )
    except (StopIteration, bundles.BundleInvalid, InvalidInput):
        return [f"certificate {cert.number}: its bundle does not verify"]
    if entries.get(cert.leaf_index) != bundles.log_entry(cert.bundle):
        found.append(f"certificate {cert.number}: differs from its entry {cert.leaf_index} in the log")
    registration = db.get(Registration, cert.registration_id)
    if (
        registration is None
        or registration.certificate_number != cert.number
        or str(certificate.number) != cert.number
        or str(certificate.registration_number) != registration.number
        or certificate.fingerprint != registration.fingerprint
    ):
        found.append(f"certificate {cert.number}: does not match its registration")
    ended_by = db.scalars(
        select(Registration.kind).where(
            Registration.previous_certificate == cert.number, Registration.status == Status.ISSUED.value
        )
    ).all()
    expected = (
        CertificateStatus.CANCELLED
        if Kind.CANCELLATION.value in ended_by
        else CertificateStatus.SUPERSEDED
        if {Kind.CHANGE.value, Kind.CORRECTION.value} & set(ended_by)
        else CertificateStatus.VALID
    )
    if cert.status != expected:
        found.append(f"certificate {cert.number}: its status {cert.status} should be {expected.value}")
    return found


def overview_counts(db: Session, actor: Principal) -> dict[str, int]:
    """For the home page: cases by stage, and those overdue."""
    if not actor.has(perms.REGISTRATION_VIEW):
        return {}
    rows = list_registrations(db, actor)
    return {
        "open": sum(r.status in OPEN for r in rows),
        "publicity": sum(r.status in (Status.PUBLICITY, Status.PAUSED) for r in rows),
        "issued": sum(r.status == Status.ISSUED for r in rows),
        "overdue": sum(r.overdue for r in rows),
    }
