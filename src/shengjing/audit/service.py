"""Recording and verifying audit events.

Each event's hash covers its own fields and the previous event's hash, so editing, deleting or reordering
any stored row breaks the chain from that row on. Appends take the chain lock (BEGIN IMMEDIATE on SQLite, an
advisory transaction lock on PostgreSQL), so concurrent writers never fork the chain.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shengjing.audit.models import AuditEvent
from shengjing.audit.schemas import EventFilter
from shengjing.errors import NotAuthenticated, PermissionDenied, ShengjingError
from shengjing.identity import permissions as perms
from shengjing.identity.principal import Principal
from shengjing.store.db import utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
ALGORITHMS = ("sha256", "sm3")  # SM3 (GB/T 32905) comes from OpenSSL through hashlib
_CHAIN_LOCK_KEY = 0x5348454E474A  # "SHENGJ": the PostgreSQL advisory lock of the chain head

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def new_request_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def _digest(algorithm: str, data: bytes) -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown audit hash {algorithm!r}")
    return hashlib.new(algorithm, data).hexdigest()


def _canonical(event: AuditEvent) -> bytes:
    """The bytes an event's hash covers: every field but the hash itself, in a fixed JSON form."""
    body = {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "org_id": event.org_id,
        "org_name": event.org_name,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "outcome": event.outcome,
        "request_id": event.request_id,
        "details": event.details,
        "algorithm": event.algorithm,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _lock_chain(db: Session) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(_CHAIN_LOCK_KEY)))


def record(
    db: Session,
    actor: Principal,
    action: str,
    *,
    target_type: str,
    target_id: object = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction: it is committed or rolled back with the change."""
    _lock_chain(db)
    head = db.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    # Microsecond precision is what both databases keep, so the hashed text survives a round trip.
    now = utcnow()
    event = AuditEvent(
        seq=(head.seq + 1) if head else 1,
        occurred_at=now,
        actor_id=actor.user_id,
        actor_name=actor.username,
        org_id=actor.org_id,
        org_name=actor.org_name,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        outcome=outcome,
        request_id=request_id_var.get(),
        details=details or {},
        algorithm=db.info.get("audit_hash", "sha256"),
        prev_hash=head.hash if head else GENESIS,
    )
    event.hash = _digest(event.algorithm, _canonical(event))
    db.add(event)
    db.flush()
    db.info.setdefault("audit_actions", []).append(action)
    return event


P = ParamSpec("P")
R = TypeVar("R")


def state_change(
    action: str, target_type: str
) -> Callable[[Callable[Concatenate[Session, Principal, P], R]], Callable[Concatenate[Session, Principal, P], R]]:
    """Mark a service function as a state change named ``action``.

    The function records its own success event (it knows the target and details). If it raises, the
    transaction is rolled back and a ``denied``/``failed``/``error`` event is committed instead, so refused
    and failed attempts are on the record too. A function that returns without recording ``action`` is a
    bug and raises at once, so no state change can slip past the audit trail.
    """

    def decorate(
        fn: Callable[Concatenate[Session, Principal, P], R],
    ) -> Callable[Concatenate[Session, Principal, P], R]:
        @functools.wraps(fn)
        def wrapper(db: Session, actor: Principal, *args: P.args, **kwargs: P.kwargs) -> R:
            recorded = db.info.setdefault("audit_actions", [])
            mark = len(recorded)
            try:
                result = fn(db, actor, *args, **kwargs)
            except Exception as exc:
                db.rollback()
                _record_failure(db, actor, action, target_type, exc)
                raise
            if action not in db.info["audit_actions"][mark:]:
                raise RuntimeError(f"{fn.__qualname__} changed state without recording audit action {action!r}")
            return result

        wrapper.audit_action = action  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _record_failure(db: Session, actor: Principal, action: str, target_type: str, exc: Exception) -> None:
    if isinstance(exc, PermissionDenied | NotAuthenticated):
        outcome = "denied"
    elif isinstance(exc, ShengjingError):
        outcome = "failed"
    else:
        outcome = "error"
    # Only the error's code and English message: never the arguments, which may hold passwords or data.
    details = (
        {"error": exc.code, "message": exc.message_en, **{k: str(v) for k, v in exc.details.items()}}
        if isinstance(exc, ShengjingError)
        else {"error": type(exc).__name__}
    )
    try:
        record(db, actor, action, target_type=target_type, outcome=outcome, details=details)
        db.commit()
    except Exception:  # the original error matters more; the failure to audit it is logged loudly
        db.rollback()
        log.exception("could not record the failed audit event %s", action)


# --- reading and verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_hash: str
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify_chain(db: Session, actor: Principal) -> ChainReport:
    """Walk the whole chain in order and name the first event that does not verify."""
    actor.require(perms.AUDIT_VERIFY)
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    events = db.execute(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=2000)).scalars()
    for event in events:
        problem: tuple[str, str] | None = None
        if event.seq != expected_seq:
            problem = (
                f"序号不连续：应为 {expected_seq}，实为 {event.seq}（有事件被删除）",
                f"sequence gap: expected #{expected_seq}, found #{event.seq} (an event was deleted)",
            )
        elif event.prev_hash != prev_hash:
            problem = (
                "与前一事件的哈希链接断开（事件被删除、插入或调换顺序）",
                "link to the previous event is broken (an event was deleted, inserted or reordered)",
            )
        elif event.algorithm not in ALGORITHMS or _digest(event.algorithm, _canonical(event)) != event.hash:
            problem = (
                "事件内容与其哈希不符（事件被修改或移动）",
                "the event's content does not match its hash (the event was edited or moved)",
            )
        if problem:
            return ChainReport(checked, prev_hash, ChainBreak(event.seq, *problem))
        expected_seq, prev_hash, checked = event.seq + 1, event.hash, checked + 1
    return ChainReport(checked, prev_hash, None)


def list_events(
    db: Session, actor: Principal, where: EventFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    """Events newest first, narrowed to the actor's own organization unless it sees all."""
    actor.require(perms.AUDIT_VIEW)
    stmt = select(AuditEvent)
    if not actor.sees_all_orgs:
        stmt = stmt.where(AuditEvent.org_id == actor.org_id)
    if where.actor:
        stmt = stmt.where(AuditEvent.actor_name.contains(where.actor, autoescape=True))
    if where.action:
        stmt = stmt.where(AuditEvent.action.startswith(where.action, autoescape=True))
    for column, value in (
        (AuditEvent.outcome, where.outcome),
        (AuditEvent.target_type, where.target_type),
        (AuditEvent.target_id, where.target_id),
        (AuditEvent.org_id, where.org_id),
        (AuditEvent.request_id, where.request_id),
    ):
        if value is not None and value != "":
            stmt = stmt.where(column == value)
    if where.since:
        stmt = stmt.where(AuditEvent.occurred_at >= where.since)
    if where.until:
        stmt = stmt.where(AuditEvent.occurred_at < where.until)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def count_events(db: Session, actor: Principal) -> int:
    return list_events(db, actor, EventFilter(), limit=0)[1]


def daily_counts(db: Session, actor: Principal, days: int = 14) -> list[tuple[str, int]]:
    """Events per day (Asia/Shanghai calendar days) for the dashboard chart, oldest first."""
    actor.require(perms.AUDIT_VIEW)
    tz = ZoneInfo("Asia/Shanghai")
    today = utcnow().astimezone(tz).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tz)
    stmt = select(AuditEvent.occurred_at).where(AuditEvent.occurred_at >= start)
    if not actor.sees_all_orgs:
        stmt = stmt.where(AuditEvent.org_id == actor.org_id)
    counts = {(today - timedelta(days=i)).isoformat(): 0 for i in range(days - 1, -1, -1)}
    for (occurred_at,) in db.execute(stmt.execution_options(yield_per=5000)):
        day = occurred_at.astimezone(tz).date().isoformat()
        if day in counts:
            counts[day] += 1
    return list(counts.items())
