"""The audit trail: every state change is recorded in its own transaction, and the hash chain exposes any
edited, deleted or reordered row, naming the first broken event."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import delete, select, text, update

from shengjing.audit import service as audit
from shengjing.audit.models import AuditEvent
from shengjing.errors import Conflict
from shengjing.identity import service as identity
from shengjing.identity.schemas import OrganizationCreate
from shengjing.store.db import unit_of_work
from tests.conftest import World


def _events(world: World) -> list[AuditEvent]:
    with world.db() as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def _verify(world: World) -> audit.ChainReport:
    with world.db() as db:
        return audit.verify_chain(db, world.system)


@pytest.fixture
def populated(world: World) -> World:
    world.org("BUREAU")
    for i in range(4):
        world.user(f"user{i}", "BUREAU", "auditor")
    return world


def test_state_changes_are_recorded_with_who_what_and_request(populated: World) -> None:
    events = _events(populated)
    actions = [e.action for e in events]
    assert actions == ["identity.role.sync", "identity.organization.add"] + ["identity.user.add"] * 4
    added = events[2]
    assert (added.actor_name, added.target_type, added.target_id, added.outcome) == (
        "system:test",
        "user",
        "user0",
        "success",
    )
    assert added.details == {"org": "BUREAU", "roles": ["auditor"]}
    assert added.occurred_at.tzinfo is not None and len(added.hash) == 64
    assert _verify(populated).ok and _verify(populated).checked == 6


def test_a_refused_change_rolls_back_but_its_attempt_is_recorded(populated: World) -> None:
    with pytest.raises(Conflict), unit_of_work(populated.sessions) as db:
        identity.create_organization(
            db, populated.system, OrganizationCreate(code="BUREAU", name="another", org_type="department")
        )  # type: ignore[arg-type]
    last = _events(populated)[-1]
    assert (last.action, last.outcome, last.details["error"]) == (
        "identity.organization.add",
        "failed",
        "conflict",
    )
    assert _verify(populated).ok


def test_a_state_change_that_forgets_to_audit_is_a_bug(world: World) -> None:
    @audit.state_change("test.forgetful", "thing")
    def forgetful(db, actor) -> None:  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(RuntimeError, match="without recording"), unit_of_work(world.sessions) as db:
        forgetful(db, world.system)


def test_an_edited_row_is_named(populated: World) -> None:
    with unit_of_work(populated.sessions) as db:
        db.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(target_id="mallory"))
    report = _verify(populated)
    assert not report.ok and report.first_break is not None
    assert report.first_break.seq == 4 and report.checked == 3
    assert "edited" in report.first_break.reason_en


def test_an_edited_detail_is_named(populated: World) -> None:
    with unit_of_work(populated.sessions) as db:
        db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(details={"org": "OTHER", "roles": []}))
    assert _verify(populated).first_break.seq == 3  # type: ignore[union-attr]


def test_a_deleted_row_is_named(populated: World) -> None:
    with unit_of_work(populated.sessions) as db:
        db.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    report = _verify(populated)
    assert report.first_break is not None and report.first_break.seq == 4
    assert "deleted" in report.first_break.reason_en


def test_a_deleted_row_with_renumbered_successors_is_named(populated: World) -> None:
    # A careful forger deletes #3 and shifts the later rows down, so the sequence has no gap.
    with unit_of_work(populated.sessions) as db:
        db.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
        for seq in (4, 5, 6):
            db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq - 1))
    report = _verify(populated)
    assert report.first_break is not None and report.first_break.seq == 3


def test_reordered_rows_are_named(populated: World) -> None:
    # Swap the positions of events #4 and #5 (through a free sequence number, the primary key being unique).
    with unit_of_work(populated.sessions) as db:
        db.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(seq=1000))
        db.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(seq=4))
        db.execute(update(AuditEvent).where(AuditEvent.seq == 1000).values(seq=5))
    report = _verify(populated)
    assert report.first_break is not None and report.first_break.seq == 4


def test_a_rehashed_forgery_breaks_the_next_link(populated: World) -> None:
    # Editing a row and recomputing its own hash still breaks the link held by the next event.
    with unit_of_work(populated.sessions) as db:
        event = db.get(AuditEvent, 3)
        assert event is not None
        event.target_id = "mallory"
        event.hash = hashlib.sha256(audit._canonical(event)).hexdigest()
    report = _verify(populated)
    assert report.first_break is not None and report.first_break.seq == 4
    assert "link" in report.first_break.reason_en


def test_sm3_chains_verify_and_mix_with_sha256(world: World) -> None:
    assert hashlib.new("sm3", b"abc").hexdigest() == (  # GB/T 32905-2016 example 1
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    world.org("BUREAU")
    world.sessions.kw["info"]["audit_hash"] = "sm3"
    world.user("sm3user", "BUREAU", "auditor")
    events = _events(world)
    assert [e.algorithm for e in events] == ["sha256", "sha256", "sm3"]
    assert _verify(world).ok
    with unit_of_work(world.sessions) as db:
        db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor_name="someone else"))
    assert _verify(world).first_break.seq == 3  # type: ignore[union-attr]


def test_filters_and_organization_scope(populated: World) -> None:
    populated.org("DEPT", "department")  # type: ignore[arg-type]
    populated.user("deptadmin", "DEPT", "department_admin")
    with populated.db() as db:
        events, total = audit.list_events(db, populated.system, audit.EventFilter(action="identity.user"))
        assert total == 5 and all(e.action == "identity.user.add" for e in events)
        _, failed = audit.list_events(db, populated.system, audit.EventFilter(outcome="failed"))
        assert failed == 0
        user = identity._find_user(db, populated.system, "deptadmin")
        dept_actor = identity.principal_for(user, "session")
        own, own_total = audit.list_events(db, dept_actor, audit.EventFilter())
        # A department sees only events its own members caused; the system's setup events are the bureau's.
        assert own_total == 0 and own == []


def test_concurrent_appends_never_fork_the_chain(world: World) -> None:
    import threading

    world.org("BUREAU")
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            world.user(f"racer{i}", "BUREAU", "auditor")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = _verify(world)
    assert report.ok and report.checked == 2 + 6
    with world.db() as db:
        assert db.execute(text("SELECT COUNT(DISTINCT prev_hash) FROM audit_event")).scalar() == 8
