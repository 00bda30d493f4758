"""Ingest: a department's file or database table becomes a new, immutable snapshot of its catalog resource.

Three steps, so that a long run never holds a database transaction open (on SQLite it would block every
other writer): :func:`ingest` reads the target in one short transaction, streams the source through
:class:`pipeline.BatchProcessor` into lake snapshots with no transaction at all, and records the new version
and its audit event in a second short one. The catalog's ``current_version`` is the authority on which
snapshot is current, so a snapshot committed just before a crash, and never recorded, is never read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.orm import Session, sessionmaker

from shengjing import domains
from shengjing.audit.service import record, state_change
from shengjing.catalog import service as catalog
from shengjing.catalog.models import ResourceVersion
from shengjing.catalog.schemas import ResourceOut, VersionOut
from shengjing.config import Settings
from shengjing.errors import InvalidInput, NotFound, PermissionDenied, ShengjingError, StorageFull
from shengjing.identity.principal import Principal
from shengjing.ingest import quality, standardize
from shengjing.ingest.pipeline import (
    ARROW_TYPES,
    BatchProcessor,
    TargetField,
    WriteBehind,
    check_header,
    process_in_order,
)
from shengjing.ingest.readers import Source, open_source
from shengjing.ingest.schemas import (
    ColumnChange,
    IngestReport,
    QualityReportOut,
    RuleTally,
    ScorePoint,
    SnapshotDiff,
    SnapshotOut,
    Timeliness,
)
from shengjing.store.db import unit_of_work
from shengjing.store.lake import Lake, Snapshot

Progress = Callable[[int, int | None], None]  # (bytes read, total bytes)
MODES = ("replace", "append")


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
    quality: quality.QualityReport
    changed: dict[str, int]
    snapshot_rows: int  # this ingest's rows, plus the previous version's in append mode
    identifying_fields: list[str]  # a value of its own in every row of the snapshot (its quality rules prove it)


def _infer_fields(source: Source) -> list[TargetField]:
    """A first ingest defines the resource's fields from the source: text unless the source is typed."""
    fields = []
    for arrow_field in source.schema:
        data_type = next((name for name, t in ARROW_TYPES.items() if t.equals(arrow_field.type)), "string")
        fields.append(TargetField(arrow_field.name, data_type))
    return fields


def _reference_rules(rules: quality.QualityRules | None) -> list[tuple[str, str, str]]:
    """(rule id, referenced resource, its key field) of each ``reference`` quality rule."""
    if rules is None:
        return []
    return [(r.rule_id, r.resource, r.key) for r in rules.rules if isinstance(r, quality.ReferenceRule)]


def _reference_keys(lake: Lake, references: dict[str, catalog.ReferencedKey]) -> dict[str, pa.Array]:
    """The distinct keys each ``reference`` rule checks against, read from the referenced current snapshots."""
    keys = {}
    for rule_id, ref in references.items():
        files = lake.dataset("resource", ref.resource).snapshot(ref.version).files
        column = pa.chunked_array(
            [pq.read_table(f, columns=[ref.field]).column(0).cast(pa.string()) for f in files], pa.string()
        )
        keys[rule_id] = pc.unique(column.combine_chunks()).drop_null()
    return keys


def _run(
    target: catalog.IngestTarget,
    rules: quality.QualityRules | None,
    references: dict[str, catalog.ReferencedKey],
    source: Source,
    lake: Lake,
    mode: str,
    progress: Progress | None,
) -> _Run:
    inferred = not target.fields
    fields = _infer_fields(source) if inferred else [TargetField(n, t) for n, t in target.fields]
    check_header(source.columns, fields, source.location)
    checker = None if rules is None else quality.QualityChecker(rules, references=_reference_keys(lake, references))
    processor = BatchProcessor(
        fields,
        standardize.load_rules(target.standardization) if target.standardization.strip() else None,
        checker,
    )
    report, changed = quality.QualityReport(), dict[str, int]()
    rows_in = accepted = quarantined = 0
    data, held = lake.dataset("resource", target.code), lake.dataset("quarantine", target.code)
    # The quarantine commits first and the data last: the data's HEAD is the moment the ingest happened.
    with data.write_snapshot(source=source.location, mode=mode) as staging:
        with held.write_snapshot(source=source.location) as held_staging:
            with (
                WriteBehind(staging.path / "part-new.parquet", processor.schema) as writer,
                WriteBehind(held_staging.path / "quarantine.parquet", processor.quarantine) as held_writer,
            ):
                for batch, outcome in process_in_order(processor, source.batches()):
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
        quality=report,
        changed=changed,
        snapshot_rows=snapshot.row_count,
        identifying_fields=rules.identifying_fields() if rules is not None and mode == "replace" else [],
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
    source_name: str | None = None,
) -> IngestReport:
    """Ingest ``location`` into resource ``code``; a failure anywhere leaves the current version as it was.

    ``source_name`` is what the version and the audit trail record as the source (an upload's file name rather
    than its temporary path); by default the location, with any database password hidden.
    """
    shown = source_name or _shown(location)
    started = time.perf_counter()
    with _failures_recorded(sessions, actor, code, shown):
        if mode not in MODES:
            raise InvalidInput(f"导入模式只能是 {MODES}。", f"The mode must be one of {MODES}.", field="mode")
        with unit_of_work(sessions) as db:
            target = catalog.ingest_target(db, actor, code)
            rules = quality.load_rules(target.quality_rules) if target.quality_rules.strip() else None
            references = catalog.referenced_versions(db, actor, _reference_rules(rules))
            settings: Settings = db.info["settings"]
        source = open_source(location, format=format, encoding=encoding, table=table)
        run = _run(target, rules, references, source, Lake(settings.lake_path), mode, progress)
    with unit_of_work(sessions) as db:
        report = _record(db, actor, code, shown, mode, source, target, run, time.perf_counter() - started)
    domains.run_snapshot_hooks(sessions, actor, code, report.version)  # e.g. classification of the new snapshot
    return report


@contextlib.contextmanager
def _failures_recorded(sessions: sessionmaker[Session], actor: Principal, code: str, shown: str) -> Iterator[None]:
    """A failure inside the block is recorded as a failed (or denied) ingest in a transaction of its own, then
    raised again; a full disk is raised as the clear :class:`StorageFull`."""
    try:
        yield
    except Exception as exc:
        failure = _disk_full(exc) or exc
        with unit_of_work(sessions) as db:
            _record_failure(db, actor, code, shown, failure)
        if failure is exc:
            raise
        raise failure from exc


def _disk_full(exc: Exception) -> StorageFull | None:
    """ENOSPC while writing the snapshot, as a clear error. Arrow's IO errors carry no errno, only the text."""
    if not isinstance(exc, OSError) or (exc.errno != errno.ENOSPC and "No space left on device" not in str(exc)):
        return None
    return StorageFull(
        "磁盘空间不足：数据湖无法写入新快照。本次导入未生效，当前版本保持不变；请清理磁盘或扩容后重试。",
        "Disk full: the lake cannot write the new snapshot. The ingest was not applied and the current version "
        "is unchanged; free or add disk space and try again.",
    )


def _shown(location: str) -> str:
    """The location as it may be recorded: a database URL loses its password."""
    from sqlalchemy import exc, make_url

    try:
        return make_url(location.removeprefix("sql+")).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):
        return location


@state_change("catalog.resource.ingest", "resource")
def _record(
    db: Session,
    actor: Principal,
    code: str,
    location: str,
    mode: str,
    source: Source,
    target: catalog.IngestTarget,
    run: _Run,
    seconds: float,
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
        quality_score=run.quality.score(),
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
            "quality_score": report.quality_score,
            "field_scores": run.quality.field_scores(),
            "rules": {rule_id: asdict(tally) for rule_id, tally in run.quality.rules.items()},
            "standardized_values": run.changed,
            "seconds": report.seconds,
            "snapshot_rows": run.snapshot_rows,
            "identifying_fields": run.identifying_fields,
        },
    )
    inferred = [(f.name, f.data_type) for f in run.fields] if run.inferred else []
    catalog.record_version(db, actor, code, version, inferred, expected_current=target.current_version)
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
        db,
        actor,
        "catalog.resource.ingest",
        target_type="resource",
        target_id=code,
        outcome="denied" if isinstance(exc, PermissionDenied) else "failed",
        details=details,
    )


def read_current(sessions: sessionmaker[Session], actor: Principal, code: str) -> pa.Table:
    """The resource's current version as one table (for tests and small resources; the sandbox streams)."""
    with unit_of_work(sessions) as db:
        target = catalog.ingest_target(db, actor, code)
        settings: Settings = db.info["settings"]
    if target.current_version is None:
        raise InvalidInput("该数据资源还没有数据。", "The resource holds no data yet.", resource=code)
    return _read_snapshot(Lake(settings.lake_path).dataset("resource", code).snapshot(target.current_version))


def _read_snapshot(snapshot: Snapshot) -> pa.Table:
    tables = [pq.read_table(f) for f in snapshot.files]
    return pa.concat_tables(tables) if tables else pa.table({})


# --- uploads: the console and the API hand over a stream, not a path -----------------------------------------

UPLOAD_CHUNK = 1 << 20


def ingest_upload(
    sessions: sessionmaker[Session],
    actor: Principal,
    code: str,
    stream: BinaryIO | Iterable[bytes],
    filename: str,
    *,
    mode: str = "replace",
    encoding: str | None = None,
    format: str | None = None,
) -> IngestReport:
    """Ingest an uploaded file: the permission is checked before a byte is stored, the upload is spooled to
    the var directory (its suffix kept, for format detection), ingested, and always removed. A refusal before
    the ingest starts (unknown resource, another department's, too big, disk full) is audited here; the ingest
    audits its own."""
    name = Path(filename or "upload").name
    with _failures_recorded(sessions, actor, code, name):
        with unit_of_work(sessions) as db:
            catalog.ingest_target(db, actor, code)  # refuse early: an unauthorized upload never reaches the disk
            settings: Settings = db.info["settings"]
        spooled = _spool(stream, settings, name)
    try:
        return ingest(
            sessions, actor, code, str(spooled), mode=mode, encoding=encoding, format=format, source_name=name
        )
    except ShengjingError as exc:
        _name_the_upload(exc, spooled, name)
        raise
    finally:
        spooled.unlink(missing_ok=True)


def _spool(stream: BinaryIO | Iterable[bytes], settings: Settings, name: str) -> Path:
    """The upload written to var/uploads under a random name with its suffix; nothing is left if this fails."""
    uploads = settings.var_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    spooled = uploads / f"{uuid.uuid4().hex}{Path(name).suffix.lower()[:10]}"
    try:
        written = 0
        with open(spooled, "wb") as out:
            for chunk in _chunks(stream):
                written += len(chunk)
                if written > settings.max_upload_bytes:
                    raise InvalidInput(
                        f"上传文件超过上限（{settings.max_upload_bytes} 字节）。",
                        f"The upload exceeds the limit of {settings.max_upload_bytes} bytes.",
                        file=name,
                    )
                out.write(chunk)
    except BaseException:
        spooled.unlink(missing_ok=True)
        raise
    return spooled


def _name_the_upload(exc: ShengjingError, spooled: Path, name: str) -> None:
    """An error about the spooled file names the file as uploaded, never a temporary path on the server."""
    for old in (str(spooled), spooled.name):
        exc.message_zh, exc.message_en = exc.message_zh.replace(old, name), exc.message_en.replace(old, name)
    exc.details = {k: name if v in (str(spooled), spooled.name) else v for k, v in exc.details.items()}


def _chunks(stream: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(stream, Iterable) and not hasattr(stream, "read"):
        return iter(stream)
    return iter(lambda: stream.read(UPLOAD_CHUNK), b"")  # type: ignore[union-attr]


# --- snapshots: list, diff, roll back ------------------------------------------------------------------------


def _snapshot_out(version: VersionOut, current: int | None) -> SnapshotOut:
    return SnapshotOut(
        version=version.version,
        current=version.version == current,
        mode=version.mode,
        rows_in=version.rows_in,
        rows_accepted=version.rows_accepted,
        rows_quarantined=version.rows_quarantined,
        snapshot_rows=version.details.get("snapshot_rows"),
        quality_score=version.details.get("quality_score"),
        fingerprint=version.fingerprint,
        source=version.source,
        created_by=version.created_by,
        created_at=version.created_at,
    )


def _version(resource: ResourceOut, wanted: int | None) -> VersionOut:
    """A recorded version of the resource by number (NotFound for one never recorded)."""
    found = next((v for v in resource.versions if v.version == wanted), None)
    if found is None:
        raise NotFound.of("数据版本", "version", f"{resource.code}@v{wanted}")
    return found


def list_snapshots(db: Session, actor: Principal, code: str) -> list[SnapshotOut]:
    """The resource's recorded versions, newest first."""
    resource = catalog.get_resource(db, actor, code)
    return [_snapshot_out(v, resource.current_version) for v in reversed(resource.versions)]


def _schema(snapshot: Snapshot) -> dict[str, str]:
    if not snapshot.files:
        return {}
    return {f.name: str(f.type) for f in pq.read_schema(snapshot.files[0])}


def diff_snapshots(db: Session, actor: Principal, code: str, from_version: int, to_version: int) -> SnapshotDiff:
    """Rows and schema of two versions compared, from the snapshots' manifests and Parquet footers only."""
    resource = catalog.get_resource(db, actor, code)
    for version in (from_version, to_version):
        _version(resource, version)
    settings: Settings = db.info["settings"]
    dataset = Lake(settings.lake_path).dataset("resource", code)
    old, new = dataset.snapshot(from_version), dataset.snapshot(to_version)
    old_schema, new_schema = _schema(old), _schema(new)
    return SnapshotDiff(
        resource=code,
        from_version=from_version,
        to_version=to_version,
        from_rows=old.row_count,
        to_rows=new.row_count,
        row_change=new.row_count - old.row_count,
        columns_added=[c for c in new_schema if c not in old_schema],
        columns_removed=[c for c in old_schema if c not in new_schema],
        columns_retyped=[
            ColumnChange(name=c, from_type=old_schema[c], to_type=t)
            for c, t in new_schema.items()
            if c in old_schema and old_schema[c] != t
        ],
        same_content=old.fingerprint == new.fingerprint,
    )


@state_change("catalog.resource.rollback", "resource")
def rollback(db: Session, actor: Principal, code: str, version: int) -> ResourceOut:
    """Make an earlier version current again. History is kept: a later version can be made current again."""
    previous = catalog.get_resource(db, actor, code).current_version
    resource = catalog.set_current_version(db, actor, code, version)
    settings: Settings = db.info["settings"]
    # The catalog is the authority on what is current; the lake's HEAD follows it for those reading the lake.
    Lake(settings.lake_path).dataset("resource", code).rollback_to(version)
    record(
        db,
        actor,
        "catalog.resource.rollback",
        target_type="resource",
        target_id=code,
        details={"from_version": previous, "to_version": version},
    )
    return resource


# --- quality: the report of a version, and its quarantined rows ------------------------------------------------


def _timeliness(frequency: str, last_update: datetime) -> Timeliness | None:
    if frequency == "irregular":
        return None
    now = datetime.now(UTC)
    on_time, overdue = quality.timeliness(last_update, frequency, now)
    return Timeliness(
        update_frequency=frequency,
        last_update=last_update,
        due=quality.next_update_due(last_update, frequency),
        on_time=on_time,
        overdue_seconds=int(overdue.total_seconds()),
    )


def quality_report(db: Session, actor: Principal, code: str, version: int | None = None) -> QualityReportOut:
    """The quality of one version (default: the current one), the score history and the timeliness."""
    resource = catalog.get_resource(db, actor, code)
    if not resource.versions:
        raise InvalidInput("该数据资源还没有数据。", "The resource holds no data yet.", resource=code)
    chosen = _version(resource, resource.current_version if version is None else version)
    rules = [
        RuleTally(
            rule_id=rule_id,
            kind=t["kind"],
            field=t["field"],
            blocking=t["blocking"],
            checked=t["checked"],
            failed=t["failed"],
            pass_rate=None if t["checked"] == 0 else (t["checked"] - t["failed"]) / t["checked"],
        )
        for rule_id, t in chosen.details.get("rules", {}).items()
    ]
    newest = max(resource.versions, key=lambda v: v.version)
    return QualityReportOut(
        resource=code,
        version=chosen.version,
        rows_in=chosen.rows_in,
        rows_accepted=chosen.rows_accepted,
        rows_quarantined=chosen.rows_quarantined,
        score=chosen.details.get("quality_score"),
        field_scores=chosen.details.get("field_scores", {}),
        rules=rules,
        history=[
            ScorePoint(
                version=v.version,
                created_at=v.created_at,
                score=v.details.get("quality_score"),
                rows_in=v.rows_in,
                rows_quarantined=v.rows_quarantined,
            )
            for v in resource.versions
        ],
        timeliness=_timeliness(resource.update_frequency.value, newest.created_at),
    )


def read_quarantine(
    sessions: sessionmaker[Session], actor: Principal, code: str, version: int | None = None, limit: int | None = None
) -> pa.Table:
    """The rows an ingest quarantined, with row number, rule and reason. They are the department's own data
    as it came: only those who may ingest into the resource may read them."""
    with unit_of_work(sessions) as db:
        catalog.ingest_target(db, actor, code)  # only those who may ingest into the resource
        resource = catalog.get_resource(db, actor, code)
        settings: Settings = db.info["settings"]
    chosen = _version(resource, resource.current_version if version is None else version)
    if chosen.quarantine_version is None:
        raise NotFound.of("数据版本", "version", f"{code}@v{chosen.version}")
    table = _read_snapshot(Lake(settings.lake_path).dataset("quarantine", code).snapshot(chosen.quarantine_version))
    return table if limit is None else table.slice(0, limit)
