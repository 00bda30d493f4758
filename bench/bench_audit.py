"""What the hash chain costs: appending N audit events through ``audit.service.record`` (lock, read the head,
hash, insert) against inserting the same N rows with precomputed hashes, each in its own transaction, on the
same SQLite file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import insert

from bench._util import best_of, report
from shengjing import domains
from shengjing.audit import service as audit
from shengjing.audit.models import AuditEvent
from shengjing.config import Settings
from shengjing.identity.principal import system_principal
from shengjing.store import migrate
from shengjing.store.db import make_engine, make_session_factory, unit_of_work, utcnow

EVENTS = 2000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, var_dir=Path(tmp))  # type: ignore[call-arg]
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine, domains.metadata())
        sessions = make_session_factory(engine, settings)
        actor = system_principal("bench")
        offset = [0]

        def chained() -> None:
            for i in range(EVENTS):
                with unit_of_work(sessions) as db:
                    audit.record(db, actor, "bench.event", target_type="bench", target_id=i, details={"i": i})

        def plain() -> None:
            base = 10_000_000 + offset[0]
            offset[0] += EVENTS
            for i in range(EVENTS):
                with unit_of_work(sessions) as db:
                    db.execute(
                        insert(AuditEvent).values(
                            seq=base + i,
                            occurred_at=utcnow(),
                            actor_id=None,
                            actor_name="system:bench",
                            org_id=None,
                            org_name=None,
                            action="bench.event",
                            target_type="bench",
                            target_id=str(i),
                            outcome="success",
                            request_id="-",
                            details={"i": i},
                            algorithm="sha256",
                            prev_hash="0" * 64,
                            hash=f"{base + i:064d}",
                        )
                    )

        measured, baseline = best_of(3, chained), best_of(3, plain)
        report(f"{EVENTS} chained audit appends", measured, baseline, "plain inserts")
        engine.dispose()
