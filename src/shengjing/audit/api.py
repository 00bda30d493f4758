"""Audit API: thin door into audit.service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict

from shengjing.audit import service
from shengjing.audit.schemas import EventFilter
from shengjing.identity import permissions as perms
from shengjing.identity.principal import Principal
from shengjing.web.deps import DB, api_router, requires

router = api_router("audit")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    occurred_at: datetime
    actor_id: int | None
    actor_name: str
    org_id: int | None
    org_name: str | None
    action: str
    target_type: str
    target_id: str | None
    outcome: str
    request_id: str
    details: dict[str, Any]
    algorithm: str
    prev_hash: str
    hash: str


class EventPage(BaseModel):
    total: int
    limit: int
    offset: int
    events: list[EventOut]


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    head_hash: str
    first_broken_seq: int | None
    reason_zh: str | None
    reason_en: str | None


def _blank_is_none(value: object) -> object:
    """An empty form field (the console's filter form sends ``since=``) means no bound."""
    return None if value == "" else value


def event_query(
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    outcome: Annotated[str | None, Query(max_length=20)] = None,
    target_type: Annotated[str | None, Query(max_length=100)] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    org_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, BeforeValidator(_blank_is_none), Query()] = None,
    until: Annotated[datetime | None, BeforeValidator(_blank_is_none), Query()] = None,
) -> EventFilter:
    return EventFilter(
        actor=actor,
        action=action,
        outcome=outcome,
        target_type=target_type,
        target_id=target_id,
        org_id=org_id,
        request_id=request_id,
        since=since,
        until=until,
    )


@router.get("/audit/events")
def list_events(
    db: DB,
    query: Annotated[EventFilter, Depends(event_query)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    actor: Principal = requires(perms.AUDIT_VIEW),
) -> EventPage:
    events, total = service.list_events(db, actor, query, limit=limit, offset=offset)
    return EventPage(total=total, limit=limit, offset=offset, events=[EventOut.model_validate(e) for e in events])


@router.get("/audit/verify")
def verify(db: DB, actor: Principal = requires(perms.AUDIT_VERIFY)) -> VerifyOut:
    report = service.verify_chain(db, actor)
    broken = report.first_break
    return VerifyOut(
        ok=report.ok,
        checked=report.checked,
        head_hash=report.head_hash,
        first_broken_seq=broken.seq if broken else None,
        reason_zh=broken.reason_zh if broken else None,
        reason_en=broken.reason_en if broken else None,
    )
