"""Ingest: a department's file or database table becomes a new, immutable snapshot of its catalog resource.

Three steps, so that a long run never holds a database transaction open (on SQLite it would block every
other writer): :func:`ingest` reads the target in one short transaction, streams the source through
:class:`pipeline.BatchProcessor` into lake snapshots with no transaction at all, and records the new version
and its audit event in a second short one. The catalog's ``current_version`` is the authority on which
snapshot is current, so a snapshot committed just before a crash, and never recorded, is never read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from shengjing.audit.service import record, state_change
from shengjing.catalog import service as catalog
from shengjing.catalog.models import ResourceVersion
from shengjing.config import Settings
from shengjing.errors import InvalidInput
from shengjing.identity.principal import Principal
from shengjing.ingest import quality, standardize
from shengjing.ingest.pipeline import ARROW_TYPES, BatchProcessor, TargetField, check_header
from shengjing.ingest.readers import Source, open_source
from shengjing.store.db import unit_of_work
from shengjing.store.lake import Lake

Progress = Callable[[int, int | None], None]  # (bytes read, total bytes)
MODES = ("replace", "append")


class IngestReport(BaseModel):
    resource: str
    version: int
    quarantine_version: int
    mode: str
    source: str
    format: str
    encoding: str | None
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    fingerprint: str
    seconds: float
    quality_score: float | None
    standardized_values: dict[str, int]


@dataclass
class _Run:
    fields: list[TargetField]
    inferred: bool
    version: int
    quarantine_version: int
    fingerprint: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    score: float | None
    changed: dict[str, int]
    snapshot_rows: int  # this ingest's rows, plus the previous version's in append mode


def _infer_fields(source: Source) -> list[TargetField]:
    """A first ingest defines the resource's fields from the source: text unless the source is typed."""
    fields = []
    for arrow_field in source.schema:
        data_type = next((name for name, t in ARROW_TYPES.items() if t.equals(arrow_field.type)), "string")
        fields.append(TargetField(arrow_field.name, data_type))
    return fields


def _run(target: catalog.IngestTarget, source: Source, lake: Lake, mode: str, progress: Progress | None) -> _Run:
    inferred = not target.fields
    fields = _infer_fields(source) if inferred else [TargetField(n, t) for n, t in target.fields]
    check_header(source.columns, fields, source.location)
    processor = BatchProcessor(
        fields,
        standardize.load_rules(target.standardization) if target.standardization.strip() else None,
        quality.QualityChecker(quality.load_rules(target.quality_rules)) if target.quality_rules.strip() else None,
    )
    report, changed = quality.QualityReport(), dict[str, int]()
    rows_in = accepted = quarantined = 0
    data, held = lake.dataset("resource", target.code), lake.dataset("quarantine", target.code)
    # The quarantine commits first and the data last: the data's HEAD is the moment the ingest happened.
    with data.write_snapshot(source=source.location, mode=mode) as staging:
        with held.write_snapshot(source=source.location) as held_staging:
            with (
                pq.ParquetWriter(staging.path / "part-new.parquet", processor.schema) as writer,
                pq.ParquetWriter(held_staging.path / "quarantine.parquet", processor.quarantine) as held_writer,
            ):
                for batch in source.batches():
                    outcome = processor.process(batch, rows_in + 1)
                    rows_in += batch.num_rows
                    accepted += outcome.accepted.num_rows
                    quarantined += outcome.quarantined.num_rows
                    writer.write_batch(outcome.accepted)
                    if outcome.quarantined.num_rows:
                        held_writer.write_batch(outcome.quarantined)
                    if outcome.quality is not None:
                        report.add(outcome.quality)
                    for name, n in outcome.changed.items():
                        changed[name] = changed.get(name, 0) + n
                    if progress:
                        progress(source.bytes_read, source.total_bytes)
            if rows_in != accepted + quarantined:  # the pipeline's promise, checked where it matters
                raise RuntimeError(f"ingest lost rows: {rows_in} in, {accepted} + {quarantined} out")
        if mode == "append" and target.current_version is not None:
            # Snapshots are immutable files: an append links the previous snapshot's parts into the new one.
            for index, part in enumerate(data.snapshot(target.current_version).files):
                os.link(part, staging.path / f"part-{index:05d}.parquet")
    snapshot, held_snapshot = staging.snapshot, held_staging.snapshot
    assert snapshot is not None and held_snapshot is not None  # noqa: S101 - set by a committed write_snapshot
    return _Run(
        fields=fields,
        inferred=inferred,
        version=snapshot.version,
        quarantine_version=held_snapshot.version,
        fingerprint=snapshot.fingerprint,
        rows_in=rows_in,
        rows_accepted=accepted,
        rows_quarantined=quarantined,
        score=report.score(),
        changed=changed,
        snapshot_rows=snapshot.row_count,
    )


def ingest(
    sessions: sessionmaker[Session],
    actor: Principal,
    code: str,
    location: str,
    *,
    mode: str = "replace",
    encoding: str | None = None,
    format: str | None = None,
    table: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest ``location`` into resource ``code``; a failure anywhere leaves the current version as it was."""
    if mode not in MODES:
        raise InvalidInput(f"导入模式只能是 {MODES}。", f"The mode must be one of {MODES}.", field="mode")
    with unit_of_work(sessions) as db:
        target = catalog.ingest_target(db, actor, code)
        settings: Settings = db.info["settings"]
    started = time.perf_counter()
    try:
        source = open_source(location, format=format, encoding=encoding, table=table)
        run = _run(target, source, Lake(settings.lake_path), mode, progress)
    except Exception as exc:
        with unit_of_work(sessions) as db:
            _record_failure(db, actor, code, location, exc)
        raise
    with unit_of_work(sessions) as db:
        return _record(db, actor, code, location, mode, source, run, time.perf_counter() - started)


@state_change("catalog.resource.ingest", "resource")
def _record(
    db: Session, actor: Principal, code: str, location: str, mode: str, source: Source, run: _Run, seconds: float
) -> IngestReport:
    report = IngestReport(
        resource=code,
        version=run.version,
        quarantine_version=run.quarantine_version,
        mode=mode,
        source=location,
        format=source.format.value,
        encoding=source.encoding,
        rows_in=run.rows_in,
        rows_accepted=run.rows_accepted,
        rows_quarantined=run.rows_quarantined,
        fingerprint=run.fingerprint,
        seconds=round(seconds, 3),
        quality_score=run.score,
        standardized_values=run.changed,
    )
    version = ResourceVersion(
        version=run.version,
        mode=mode,
        rows_in=run.rows_in,
        rows_accepted=run.rows_accepted,
        rows_quarantined=run.rows_quarantined,
        quarantine_version=run.quarantine_version,
        fingerprint=run.fingerprint,
        source=location[:500],
        created_by=actor.username,
        details={
            "format": report.format,
            "encoding": report.encoding,
            "quality_score": run.score,
            "standardized_values": run.changed,
            "seconds": report.seconds,
            "snapshot_rows": run.snapshot_rows,
        },
    )
    inferred = [(f.name, f.data_type) for f in run.fields] if run.inferred else []
    catalog.record_version(db, actor, code, version, inferred)
    record(
        db,
        actor,
        "catalog.resource.ingest",
        target_type="resource",
        target_id=code,
        details=report.model_dump(mode="json", exclude={"standardized_values"}),
    )
    return report


def _record_failure(db: Session, actor: Principal, code: str, location: str, exc: Exception) -> None:
    details = {"source": location[:500], "error": getattr(exc, "code", type(exc).__name__)}
    if hasattr(exc, "details"):
        details.update({k: str(v) for k, v in exc.details.items()})
    record(
        db, actor, "catalog.resource.ingest", target_type="resource", target_id=code, outcome="failed", details=details
    )


def read_current(sessions: sessionmaker[Session], actor: Principal, code: str) -> pa.Table:
    """The resource's current version as one table (for tests and small resources; the sandbox streams)."""
    with unit_of_work(sessions) as db:
        target = catalog.ingest_target(db, actor, code)
        settings: Settings = db.info["settings"]
    if target.current_version is None:
        raise InvalidInput("该数据资源还没有数据。", "The resource holds no data yet.", resource=code)
    dataset = Lake(settings.lake_path).dataset("resource", code)
    snapshot = dataset.snapshot(target.current_version)
    return pa.concat_tables([pq.read_table(f) for f in snapshot.files])
