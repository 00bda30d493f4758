"""Every rule of the libraries domain: filing data models, declaring libraries, building and refreshing them,
and reading what they made (versions compared, conflicts for the departments, a golden record's lineage).

A library is a catalog resource held by the data bureau. A build writes its golden records as the resource's
next snapshot (so the library is classified, graded and usable in the sandbox like any resource) and its members,
lineage and conflicts as snapshots of datasets of their own; the resource's snapshot is committed last, and the
build's row names every snapshot it made, so a reader never mixes two builds.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shengjing import domains
from shengjing.audit.service import record, state_change
from shengjing.catalog import service as catalog
from shengjing.catalog.models import ResourceVersion
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.config import Settings
from shengjing.errors import Conflict, InvalidInput, NotFound, ShengjingError
from shengjing.identity.models import Organization
from shengjing.identity.principal import OrgType, Principal, system_principal
from shengjing.libraries import permissions as perms
from shengjing.libraries.engines import open_runner
from shengjing.libraries.linkage import BaseLibraryPipeline, Outputs, PreviousBuild, SourceInput
from shengjing.libraries.models import DataModel, Library, LibraryBuild
from shengjing.libraries.schemas import (
    AttributeChange,
    BuildOut,
    ConflictOut,
    ConflictPage,
    DataModelOut,
    DiagramOut,
    GoldenRecordOut,
    LibraryOut,
    LineageOut,
    MemberOut,
    VersionComparison,
)
from shengjing.libraries.spec import (
    AttributeType,
    BaseLibrarySpec,
    DataModelSpec,
    Entity,
    ThemeLibrarySpec,
    parse_library,
    parse_model,
)
from shengjing.libraries.theme import build_theme, check_query
from shengjing.store.db import unit_of_work, utcnow
from shengjing.store.lake import Lake

log = logging.getLogger(__name__)

OUTPUT_TABLES = ("members", "lineage", "conflicts")  # besides the golden records, which are the resource itself
_FIELD_TYPES = {t: t.value for t in AttributeType}


# --- data models ---------------------------------------------------------------------------------------------


def _model_out(db: Session, model: DataModel) -> DataModelOut:
    spec = DataModelSpec.model_validate(model.spec)
    versions = list(
        db.scalars(select(DataModel.version).where(DataModel.code == model.code).order_by(DataModel.version))
    )
    ids = select(DataModel.id).where(DataModel.code == model.code)
    libraries = list(db.scalars(select(Library.code).where(Library.model_id.in_(ids)).order_by(Library.code)))
    return DataModelOut(
        code=model.code,
        version=model.version,
        versions=versions,
        name=model.name,
        kind=model.kind,
        description=spec.description,
        entities=[e.model_dump(mode="json") for e in spec.entities],
        relations=[r.model_dump(mode="json") for r in spec.relations],
        declaration=model.declaration,
        created_by=model.created_by,
        created_at=model.created_at,
        libraries=libraries,
    )


def _latest_model(db: Session, code: str, version: int | None = None) -> DataModel:
    stmt = select(DataModel).where(DataModel.code == code)
    stmt = stmt.where(DataModel.version == version) if version is not None else stmt.order_by(DataModel.version.desc())
    model = db.scalars(stmt.limit(1)).first()
    if model is None:
        raise NotFound.of("数据模型", "data model", code if version is None else f"{code} v{version}")
    return model


@state_change("libraries.model.file", "data_model")
def file_model(db: Session, actor: Principal, text: str, *, file: str = "model.yaml") -> DataModelOut:
    """File a model's declaration: a new model, or a new version of it if the declaration changed."""
    actor.require(perms.MODEL_CHANGE)
    # A relation to another model's entity is resolved when drawn, not here: two models may refer to each other.
    spec = parse_model(text, file=file)
    for entity in spec.entities:
        for attribute in entity.attributes:
            if attribute.data_element is not None and not catalog.data_element_exists(db, attribute.data_element):
                raise InvalidInput(
                    f"{file}：实体“{entity.name}”的属性“{attribute.name}”指向的数据元“{attribute.data_element}”不存在。",
                    f"{file}: attribute {entity.name}.{attribute.name} points to data element "
                    f"{attribute.data_element}, which the catalog does not have.",
                    file=file,
                    field=f"{entity.name}.{attribute.name}",
                )
    normalized = spec.model_dump(mode="json")
    current = db.scalars(
        select(DataModel).where(DataModel.code == spec.code).order_by(DataModel.version.desc())
    ).first()
    if current is not None and current.spec == normalized:
        model, changed = current, False
    else:
        model = DataModel(
            code=spec.code,
            version=(current.version + 1) if current else 1,
            name=spec.name,
            kind=spec.kind,
            declaration=text,
            spec=normalized,
            created_by=actor.username,
        )
        db.add(model)
        db.flush()
        changed = True
    record(
        db,
        actor,
        "libraries.model.file",
        target_type="data_model",
        target_id=spec.code,
        details={"version": model.version, "new_version": changed},
    )
    return _model_out(db, model)


def _resolve_entity(db: Session, target: str) -> Entity:
    code, _, name = target.partition(".")
    try:
        return DataModelSpec.model_validate(_latest_model(db, code).spec).entity(name)
    except KeyError:
        raise NotFound.of("数据模型实体", "model entity", target) from None


def list_models(db: Session, actor: Principal) -> list[DataModelOut]:
    actor.require(perms.MODEL_VIEW)
    latest = select(DataModel.code, func.max(DataModel.version).label("version")).group_by(DataModel.code).subquery()
    models = db.scalars(
        select(DataModel)
        .join(latest, (latest.c.code == DataModel.code) & (latest.c.version == DataModel.version))
        .order_by(DataModel.kind, DataModel.code)
    )
    return [_model_out(db, m) for m in models]


def get_model(db: Session, actor: Principal, code: str, version: int | None = None) -> DataModelOut:
    actor.require(perms.MODEL_VIEW)
    return _model_out(db, _latest_model(db, code, version))


def model_diagram(db: Session, actor: Principal, code: str, version: int | None = None) -> DiagramOut:
    """The model's entities and relations, and the entities of other models its relations reach."""
    model = get_model(db, actor, code, version)
    nodes = [
        {
            "id": f"{code}.{e['name']}",
            "name": e["title"],
            "entity": e["name"],
            "model": code,
            "key": e["key"],
            "attributes": [f"{a['name']} {a['title']}" for a in e["attributes"]],
            "external": False,
        }
        for e in model.entities
    ]
    links = []
    for relation in model.relations:
        target = relation["target"] if "." in relation["target"] else f"{code}.{relation['target']}"
        if target not in {n["id"] for n in nodes}:
            try:
                entity: Entity | None = _resolve_entity(db, target)
            except NotFound:
                entity = None  # the other model is not filed (yet): drawn by name only
            nodes.append(
                {
                    "id": target,
                    "name": entity.title if entity else target,
                    "entity": entity.name if entity else target.partition(".")[2],
                    "model": target.partition(".")[0],
                    "key": entity.key if entity else "",
                    "attributes": [f"{a.name} {a.title}" for a in entity.attributes] if entity else [],
                    "external": True,
                }
            )
        links.append(
            {
                "source": f"{code}.{relation['source']}",
                "target": target,
                "name": relation["name"],
                "attribute": relation["attribute"],
                "cardinality": relation["cardinality"],
            }
        )
    return DiagramOut(nodes=nodes, links=links)


# --- libraries -----------------------------------------------------------------------------------------------


def _spec(library: Library) -> BaseLibrarySpec | ThemeLibrarySpec:
    if library.kind == "base":
        return BaseLibrarySpec.model_validate(library.spec)
    return ThemeLibrarySpec.model_validate(library.spec)


def _entity(db: Session, library: Library) -> Entity:
    model = db.get(DataModel, library.model_id)
    assert model is not None  # noqa: S101 - a foreign key
    return DataModelSpec.model_validate(model.spec).entity(_spec(library).entity)


def _bureau(db: Session) -> Organization:
    bureau = db.scalars(
        select(Organization).where(Organization.org_type == OrgType.DATA_BUREAU.value).order_by(Organization.id)
    ).first()
    if bureau is None:
        raise InvalidInput(
            "平台上还没有数据主管部门，基础库和主题库无处登记。",
            "There is no data bureau on the platform to hold the libraries.",
        )
    return bureau


def _resource_fields(spec: BaseLibrarySpec | ThemeLibrarySpec, entity: Entity) -> list[FieldIn]:
    names = [entity.key, *spec.attributes] if isinstance(spec, BaseLibrarySpec) else [a.name for a in entity.attributes]
    fields = [
        FieldIn(
            name=a.name,
            label=a.title,
            data_type=_FIELD_TYPES[a.type],
            data_element=a.data_element,
            description=a.description,
        )
        for a in (entity.attribute(n) for n in names)
    ]
    if isinstance(spec, BaseLibrarySpec):
        fields += [
            FieldIn(
                name="record_count", label="来源记录数", data_type="integer", description="合并为本条记录的来源记录数"
            ),
            FieldIn(
                name="source_count", label="来源资源数", data_type="integer", description="提供来源记录的数据资源数"
            ),
        ]
    return fields


def _resource_in(db: Session, spec: BaseLibrarySpec | ThemeLibrarySpec, entity: Entity) -> ResourceIn:
    kind = "基础库" if spec.kind == "base" else "主题库"
    return ResourceIn(
        code=spec.code,
        name=spec.name,
        summary=spec.summary,
        department=_bureau(db).code,
        share_type=ShareType.CONDITIONAL,
        open_type=ShareType.NONE,
        update_frequency=UpdateFrequency.IRREGULAR,
        themes=spec.themes,
        tags=[kind, entity.title],
        formats=["Parquet"],
        fields=_resource_fields(spec, entity),
    )


def _check_inputs(db: Session, actor: Principal, spec: BaseLibrarySpec | ThemeLibrarySpec) -> None:
    inputs = spec.inputs if isinstance(spec, BaseLibrarySpec) else list(spec.inputs.values())
    if spec.code in inputs:
        raise InvalidInput(f"“{spec.code}”不能读取它自己。", f"{spec.code} cannot read itself.", library=spec.code)
    subjects = {s.code: s for s in catalog.sandbox_subjects(db, inputs, visible_to=actor)}
    if isinstance(spec, ThemeLibrarySpec):
        check_query(spec)
        return
    for source in spec.sources:
        columns = {name for name, _, _ in subjects[source.resource].fields}
        wanted = [source.record_key, *source.columns.values(), *([source.updated_at] if source.updated_at else [])]
        missing = [c for c in wanted if c not in columns]
        if columns and missing:  # a resource not ingested yet has no fields to check against
            raise InvalidInput(
                f"来源“{source.resource}”没有数据项：{', '.join(missing)}。",
                f"Source {source.resource} has no field {', '.join(missing)}.",
                resource=source.resource,
                field=missing[0],
            )


@state_change("libraries.library.declare", "library")
def declare_library(db: Session, actor: Principal, text: str, *, file: str = "library.yaml") -> LibraryOut:
    """Declare a library (or change its declaration): it instantiates the latest version of its model, and its
    catalog resource is filed (or updated) with the model's attributes as its fields."""
    actor.require(perms.LIBRARY_CHANGE)
    spec = parse_library(text, file=file)
    model = _latest_model(db, spec.model)
    model_spec = DataModelSpec.model_validate(model.spec)
    if model_spec.kind != spec.kind:
        raise InvalidInput(
            f"“{spec.code}”是{'基础库' if spec.kind == 'base' else '主题库'}，但数据模型“{model.code}”不是。",
            f"{spec.code} is a {spec.kind} library but model {model.code} is a {model_spec.kind} model.",
        )
    try:
        entity = model_spec.entity(spec.entity)
    except KeyError:
        raise NotFound.of("数据模型实体", "model entity", f"{spec.model}.{spec.entity}") from None
    if isinstance(spec, BaseLibrarySpec):
        unknown = [a for a in spec.attributes if a not in {x.name for x in entity.attributes}]
        if unknown:
            raise InvalidInput(
                f"数据模型“{model.code}”的实体“{entity.name}”没有属性：{', '.join(unknown)}。",
                f"Entity {model.code}.{entity.name} has no attribute {', '.join(unknown)}.",
                field=unknown[0],
            )
    _check_inputs(db, actor, spec)
    library = db.scalar(select(Library).where(Library.code == spec.code))
    resource = _resource_in(db, spec, entity)
    if library is None:
        if catalog.resource_code_taken(db, spec.code):
            raise Conflict(
                f"数据资源编码“{spec.code}”已被占用。", f"The resource code {spec.code} is taken.", code=spec.code
            )
        catalog.create_resource(db, actor, resource)
        library = Library(code=spec.code, created_by=actor.username)
        db.add(library)
    else:
        catalog.update_resource(db, actor, spec.code, resource)
    library.name, library.kind, library.model_id = spec.name, spec.kind, model.id
    library.declaration, library.spec, library.updated_at = text, spec.model_dump(mode="json"), utcnow()
    library.inputs = spec.inputs if isinstance(spec, BaseLibrarySpec) else sorted(set(spec.inputs.values()))
    db.flush()
    record(
        db,
        actor,
        "libraries.library.declare",
        target_type="library",
        target_id=spec.code,
        details={"model": model.code, "model_version": model.version, "inputs": library.inputs},
    )
    return _library_out(db, actor, library)


def _build_out(library: Library, build: LibraryBuild) -> BuildOut:
    return BuildOut(
        library=library.code,
        id=build.id,
        version=build.version,
        mode=build.mode,
        engine=build.engine,
        status=build.status,
        trigger=build.trigger,
        inputs=build.inputs,
        outputs=build.outputs,
        stats=build.stats,
        error=build.error,
        created_by=build.created_by,
        started_at=build.started_at,
        finished_at=build.finished_at,
    )


def _builds(db: Session, library: Library, *, succeeded: bool = False) -> list[LibraryBuild]:
    stmt = select(LibraryBuild).where(LibraryBuild.library_id == library.id)
    if succeeded:
        stmt = stmt.where(LibraryBuild.status == "succeeded")
    return list(db.scalars(stmt.order_by(LibraryBuild.id.desc())))


def _library_out(db: Session, actor: Principal, library: Library) -> LibraryOut:
    spec = _spec(library)
    model = db.get(DataModel, library.model_id)
    assert model is not None  # noqa: S101 - a foreign key
    builds = _builds(db, library)
    last = next((b for b in builds if b.status == "succeeded"), None)
    current = {s.code: s.current_version for s in catalog.sandbox_subjects(db, library.inputs)}
    built_from = last.inputs if last is not None else {}
    stale = {
        code: (built_from.get(code), current[code]) for code in library.inputs if built_from.get(code) != current[code]
    }
    resource = catalog.sandbox_subjects(db, [library.code])[0]
    return LibraryOut(
        code=library.code,
        name=library.name,
        kind=library.kind,
        model=model.code,
        model_version=model.version,
        entity=spec.entity,
        summary=spec.summary,
        inputs=library.inputs,
        declaration=library.declaration,
        current_version=resource.current_version,
        stale_inputs=stale,
        builds=[_build_out(library, b) for b in builds[:20]],
    )


def _library(db: Session, code: str) -> Library:
    library = db.scalar(select(Library).where(Library.code == code))
    if library is None:
        raise NotFound.of("基础库或主题库", "library", code)
    return library


def list_libraries(db: Session, actor: Principal) -> list[LibraryOut]:
    actor.require(perms.LIBRARY_VIEW)
    return [_library_out(db, actor, lib) for lib in db.scalars(select(Library).order_by(Library.kind, Library.code))]


def get_library(db: Session, actor: Principal, code: str) -> LibraryOut:
    actor.require(perms.LIBRARY_VIEW)
    return _library_out(db, actor, _library(db, code))


# --- builds --------------------------------------------------------------------------------------------------


def _spec_digest(library: Library, model: DataModel) -> str:
    canonical = json.dumps([library.spec, model.spec], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Plan:
    """What a build reads, decided in one transaction before the engine starts."""

    def __init__(self, db: Session, actor: Principal, code: str, engine: str | None, full: bool) -> None:
        actor.require(perms.LIBRARY_RUN)
        settings: Settings = db.info["settings"]
        self.settings = settings
        self.library = _library(db, code)
        self.code = code
        self.spec = _spec(self.library)
        model = db.get(DataModel, self.library.model_id)
        assert model is not None  # noqa: S101 - a foreign key
        self.entity = DataModelSpec.model_validate(model.spec).entity(self.spec.entity)
        self.digest = _spec_digest(self.library, model)
        self.engine = engine or settings.library_engine
        lake = Lake(settings.lake_path)
        self.lake = lake
        self.inputs: dict[str, int] = {}
        self.files: dict[str, tuple[Path, ...]] = {}
        for subject in catalog.sandbox_subjects(db, self.library.inputs):
            if subject.current_version is None:
                raise InvalidInput(
                    f"“{code}”的来源“{subject.code}”还没有数据，请先导入。",
                    f"{code}: its source {subject.code} holds no data yet; ingest it first.",
                    resource=subject.code,
                )
            self.inputs[subject.code] = subject.current_version
            snapshot = lake.dataset("resource", subject.code).snapshot(subject.current_version)
            self.files[subject.code] = tuple(snapshot.files)
        self.expected_current = catalog.sandbox_subjects(db, [code])[0].current_version
        last = next(iter(_builds(db, self.library, succeeded=True)), None)
        self.previous: PreviousBuild | None = None
        # A refresh needs the last build's links and model, and the same declaration: otherwise build in full.
        if (
            isinstance(self.spec, BaseLibrarySpec)
            and not full
            and last is not None
            and last.stats.get("digest") == self.digest
        ):
            members = lake.dataset("library", code, "members").snapshot(last.outputs["members"])
            self.previous = PreviousBuild(tuple(members.files), last.stats["model"])
        self.mode = "refresh" if self.previous is not None else "full"


def build_library(
    sessions: sessionmaker[Session],
    actor: Principal,
    code: str,
    *,
    engine: str | None = None,
    full: bool = False,
    trigger: str | None = None,
) -> BuildOut:
    """Build (or refresh) a library from its inputs' current versions; a failure leaves the library as it was
    and is recorded as a failed build."""
    started = utcnow()
    with unit_of_work(sessions) as db:
        plan = _Plan(db, actor, code, engine, full)
    clock = time.perf_counter()
    try:
        outputs, rows, stats = _run(plan)
    except Exception as exc:
        with unit_of_work(sessions) as db:
            _record_failed_build(db, actor, plan, started, trigger, exc)
        raise
    stats.update(rows=rows, seconds_total=round(time.perf_counter() - clock, 3), digest=plan.digest)
    with unit_of_work(sessions) as db:
        build = _record_build(db, actor, plan, started, trigger, outputs, stats)
    domains.run_snapshot_hooks(sessions, actor, code, outputs["golden"])  # classification, and the themes that read it
    return build


def _run(plan: _Plan) -> tuple[dict[str, int], dict[str, int], dict[str, Any]]:
    """Run the pipeline into staged snapshots, then commit them: the golden records (the resource) last."""
    lake = plan.lake
    lake.init()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=lake.root / "_staging", prefix="work-")))
        runner = open_runner(
            plan.engine, work_dir=work, spark_master=plan.settings.spark_master, memory=plan.settings.library_memory
        )
        stack.callback(runner.close)
        golden = stack.enter_context(lake.dataset("resource", plan.code).write_snapshot(source=f"library:{plan.code}"))
        if isinstance(plan.spec, BaseLibrarySpec):
            staged = {
                name: stack.enter_context(lake.dataset("library", plan.code, name).write_snapshot())
                for name in reversed(OUTPUT_TABLES)  # entered in reverse: committed members first, golden last
            }
            pipeline = BaseLibraryPipeline(plan.spec, plan.entity, runner)
            sources = [SourceInput(r, plan.inputs[r], plan.files[r]) for r in plan.spec.inputs]
            paths = Outputs(golden.path, staged["members"].path, staged["lineage"].path, staged["conflicts"].path)
            rows = pipeline.run(sources, paths, plan.previous)
            # JSON as the build row keeps it (counts from the engines may come as decimals)
            stats: dict[str, Any] = json.loads(json.dumps(vars(pipeline.stats), default=int))
        else:
            staged = {}
            inputs = {name: plan.files[code] for name, code in plan.spec.inputs.items()}
            attributes = [a.name for a in plan.entity.attributes]
            rows = {"golden": build_theme(plan.spec, attributes, inputs, runner, golden.path)}
            stats = {}
    # Leaving the stack committed every snapshot (or, on an error, none that had not been committed before it).
    assert golden.snapshot is not None  # noqa: S101 - set by a committed write_snapshot
    outputs = {"golden": golden.snapshot.version}
    outputs.update({name: s.snapshot.version for name, s in staged.items() if s.snapshot is not None})
    stats["fingerprint"] = golden.snapshot.fingerprint
    return outputs, rows, stats


def _new_build(
    plan: _Plan,
    library: Library,
    actor: Principal,
    started: Any,
    trigger: str | None,
    *,
    version: int | None,
    outputs: dict[str, int],
    stats: dict[str, Any],
    error: str | None = None,
) -> LibraryBuild:
    """The row of a finished build: succeeded when it made a version, failed (with its error) when not."""
    return LibraryBuild(
        library_id=library.id,
        version=version,
        mode=plan.mode,
        engine=plan.engine,
        status="failed" if version is None else "succeeded",
        trigger=trigger or actor.username,
        inputs=plan.inputs,
        outputs=outputs,
        stats=stats,
        error=error,
        created_by=actor.username,
        started_at=started,
        finished_at=utcnow(),
    )


@state_change("libraries.library.build", "library")
def _record_build(
    db: Session,
    actor: Principal,
    plan: _Plan,
    started: Any,
    trigger: str | None,
    outputs: dict[str, int],
    stats: dict[str, Any],
) -> BuildOut:
    library = _library(db, plan.code)
    version = outputs["golden"]
    rows = stats["rows"]["golden"]
    catalog.record_version(
        db,
        actor,
        plan.code,
        ResourceVersion(
            version=version,
            mode="replace",
            rows_in=stats.get("records", rows),
            rows_accepted=rows,
            rows_quarantined=0,
            quarantine_version=None,
            fingerprint=stats["fingerprint"],
            source=f"library:{plan.code} ({plan.mode}, {plan.engine})",
            created_by=actor.username,
            details={
                "library_inputs": plan.inputs,
                "identifying_fields": [plan.entity.key] if plan.spec.kind == "base" else [],
            },
        ),
        [],
        expected_current=plan.expected_current,
    )
    build = _new_build(plan, library, actor, started, trigger, version=version, outputs=outputs, stats=stats)
    db.add(build)
    db.flush()
    summary = {k: stats.get(k) for k in ("records", "clusters", "conflicts", "kept", "seconds_total")}
    record(
        db,
        actor,
        "libraries.library.build",
        target_type="library",
        target_id=plan.code,
        details={"version": version, "mode": plan.mode, "engine": plan.engine, "inputs": plan.inputs, **summary},
    )
    return _build_out(library, build)


def _record_failed_build(
    db: Session, actor: Principal, plan: _Plan, started: Any, trigger: str | None, exc: Exception
) -> None:
    library = _library(db, plan.code)
    error = exc.message_en if isinstance(exc, ShengjingError) else type(exc).__name__
    db.add(_new_build(plan, library, actor, started, trigger, version=None, outputs={}, stats={}, error=error))
    record(
        db,
        actor,
        "libraries.library.build",
        target_type="library",
        target_id=plan.code,
        outcome="failed",
        details={"mode": plan.mode, "engine": plan.engine, "error": getattr(exc, "code", type(exc).__name__)},
    )


_refreshes_deferred: contextvars.ContextVar[bool] = contextvars.ContextVar("refreshes_deferred", default=False)


@contextlib.contextmanager
def refreshes_deferred() -> Iterator[None]:
    """Within the block, new snapshots do not refresh the libraries that read them: a bulk load (the demo's
    twelve tables) refreshes each library once afterwards (``refresh_stale``), not once per table."""
    token = _refreshes_deferred.set(True)
    try:
        yield
    finally:
        _refreshes_deferred.reset(token)


def refresh_stale(sessions: sessionmaker[Session], actor: Principal, *, trigger: str) -> list[BuildOut]:
    """Build every library that was never built or whose inputs have newer snapshots, base libraries first (their
    new snapshots refresh the themes that read them on their own)."""
    built = []
    with unit_of_work(sessions) as db:
        codes = [lib.code for lib in db.scalars(select(Library).order_by(Library.kind, Library.id))]
    for code in codes:
        with unit_of_work(sessions) as db:
            library = get_library(db, actor, code)
        if library.current_version is None or library.stale_inputs:
            built.append(build_library(sessions, actor, code, trigger=trigger))
    return built


def refresh_dependents(sessions: sessionmaker[Session], actor: Principal, code: str, version: int) -> None:
    """The hook every new snapshot runs (``domains.SNAPSHOT_HOOKS``): refresh each library that reads ``code``
    once all its inputs hold data. The platform refreshes on the department's behalf (a department may not build
    the bureau's libraries); the trigger names the snapshot and who made it. A failure is recorded and logged,
    never raised: the snapshot stands whatever its libraries do."""
    if _refreshes_deferred.get():
        return
    with unit_of_work(sessions) as db:
        settings: Settings = db.info["settings"]
        if not settings.library_refresh_on_snapshot:
            return
        dependents = [
            lib.code
            for lib in db.scalars(select(Library).order_by(Library.id))
            if code in lib.inputs
            and all(s.current_version is not None for s in catalog.sandbox_subjects(db, lib.inputs))
        ]
    platform = system_principal("libraries-refresh")
    for dependent in dependents:
        try:
            build_library(sessions, platform, dependent, trigger=f"{code} v{version} ({actor.username})")
        except Exception:
            log.exception("refresh of library %s after %s v%s failed", dependent, code, version)


# --- reading what a build made ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    try:
        yield connection
    finally:
        connection.close()


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return connection.sql(sql, params=params).to_arrow_table().to_pylist()


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _build_for(db: Session, library: Library, version: int | None) -> LibraryBuild:
    for build in _builds(db, library, succeeded=True):
        if version is None or build.version == version:
            return build
    raise NotFound.of("基础库版本", "library version", f"{library.code}@v{version}" if version else library.code)


def compare_versions(db: Session, actor: Principal, code: str, from_version: int, to_version: int) -> VersionComparison:
    """What changed between two snapshots of a library: records added, removed and changed, by key, and how many
    records changed in each attribute."""
    actor.require(perms.LIBRARY_VIEW)
    library = _library(db, code)
    entity = _entity(db, library)
    settings: Settings = db.info["settings"]
    dataset = Lake(settings.lake_path).dataset("resource", code)
    before, after = (
        dataset.snapshot(_build_for(db, library, v).version or v).files for v in (from_version, to_version)
    )
    key = f'"{entity.key}"'
    columns = [a.name for a in entity.attributes if a.name != entity.key]
    changed_any = " OR ".join(f'a."{c}" IS DISTINCT FROM b."{c}"' for c in columns) or "FALSE"
    per_attribute = ", ".join(
        f'count(*) FILTER (WHERE a.{key} IS NOT NULL AND b.{key} IS NOT NULL AND a."{c}" IS DISTINCT FROM b."{c}") '
        f'AS "{c}"'
        for c in columns
    )
    sql = (
        f"SELECT count(a.{key}) AS before, count(b.{key}) AS after, "  # noqa: S608
        f"count(*) FILTER (WHERE a.{key} IS NULL) AS added, count(*) FILTER (WHERE b.{key} IS NULL) AS removed, "
        f"count(*) FILTER (WHERE a.{key} IS NOT NULL AND b.{key} IS NOT NULL AND ({changed_any})) AS changed"
        + (f", {per_attribute}" if per_attribute else "")
        + f" FROM read_parquet({_files(before)}) AS a FULL OUTER JOIN read_parquet({_files(after)}) AS b "
        f"ON a.{key} = b.{key}"
    )
    with _duckdb() as connection:
        row = connection.sql(sql).to_arrow_table().to_pylist()[0]
    return VersionComparison(
        library=code,
        from_version=from_version,
        to_version=to_version,
        records_before=row["before"],
        records_after=row["after"],
        added=row["added"],
        removed=row["removed"],
        changed=row["changed"],
        unchanged=row["after"] - row["added"] - row["changed"],
        attributes=[AttributeChange(attribute=c, changed=row[c]) for c in columns],
    )


def _output_files(db: Session, library: Library, build: LibraryBuild, table: str) -> list[Path]:
    settings: Settings = db.info["settings"]
    return Lake(settings.lake_path).dataset("library", library.code, table).snapshot(build.outputs[table]).files


def _department_sources(db: Session, actor: Principal, library: Library) -> list[str] | None:
    """The sources whose conflicts the actor may see: all for the bureau, a department's own resources."""
    actor.require(perms.CONFLICT_VIEW)
    if actor.sees_all_orgs:
        return None
    return [s.code for s in catalog.sandbox_subjects(db, library.inputs) if s.department_id == actor.org_id]


def list_conflicts(
    db: Session,
    actor: Principal,
    code: str,
    *,
    attribute: str | None = None,
    version: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ConflictPage:
    """Conflicts between sources in a build: for a department, the clusters in which one of its own records
    disagrees with the chosen value (it is the one to check its record), with every source's value shown."""
    library = _library(db, code)
    if library.kind != "base":
        raise InvalidInput(
            "只有基础库有来源冲突。", "Only base libraries have conflicts between sources.", library=code
        )
    own = _department_sources(db, actor, library)
    build = _build_for(db, library, version)
    files = _output_files(db, library, build, "conflicts")
    key = f'"{_entity(db, library).key}"'
    where = ["TRUE"]
    params: list[Any] = []
    if attribute is not None:
        where.append("attribute = ?")
        params.append(attribute)
    if own is not None:
        where.append(
            f"({key}, attribute) IN (SELECT {key}, attribute FROM conflicts "  # noqa: S608
            "WHERE NOT chosen AND list_contains(?, source))"
        )
        params.append(own)
    with _duckdb() as connection:
        connection.execute(f"CREATE VIEW conflicts AS SELECT * FROM read_parquet({_files(files)})")  # noqa: S608
        condition = " AND ".join(where)
        total = _rows(connection, f"SELECT count(*) AS n FROM conflicts WHERE {condition}", params)[0]["n"]  # noqa: S608
        rows = _rows(
            connection,
            f"SELECT * FROM conflicts WHERE {condition} ORDER BY {key}, attribute, chosen DESC, source, record_key "  # noqa: S608
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
    items = [
        ConflictOut(
            key=r[_entity(db, library).key],
            attribute=r["attribute"],
            value=r["value"],
            source=r["source"],
            snapshot=r["snapshot"],
            record_key=r["record_key"],
            chosen=r["chosen"],
        )
        for r in rows
    ]
    return ConflictPage(library=code, version=build.version or 0, total=total, items=items)


def golden_record(db: Session, actor: Principal, code: str, key: str, *, version: int | None = None) -> GoldenRecordOut:
    """One golden record with the lineage of each attribute and the source records merged into it. Personal
    information: the bureau's staff who build the library read it here, and the read is audited."""
    actor.require(perms.RECORD_VIEW)
    library = _library(db, code)
    build = _build_for(db, library, version)
    entity = _entity(db, library)
    settings: Settings = db.info["settings"]
    golden = Lake(settings.lake_path).dataset("resource", code).snapshot(build.version or 0).files
    column = f'"{entity.key}"'
    with _duckdb() as connection:
        found = _rows(
            connection,
            f"SELECT * FROM read_parquet({_files(golden)}) WHERE {column} = ?",  # noqa: S608
            [key],
        )
        if not found:
            raise NotFound.of("可信记录", "golden record", key)
        lineage, members = [], []
        if library.kind == "base":
            lineage = _rows(
                connection,
                f"SELECT * FROM read_parquet({_files(_output_files(db, library, build, 'lineage'))}) "  # noqa: S608
                f"WHERE {column} = ? "
                "ORDER BY attribute",
                [key],
            )
            members = _rows(
                connection,
                f"SELECT * FROM read_parquet({_files(_output_files(db, library, build, 'members'))}) "  # noqa: S608
                f"WHERE {column} = ? "
                "ORDER BY source, record_key",
                [key],
            )
    attributes = found[0]
    record(db, actor, "libraries.record.view", target_type="library", target_id=code, details={"key": key})
    return GoldenRecordOut(
        library=code,
        version=build.version or 0,
        key=key,
        attributes=attributes,
        lineage=[
            LineageOut(
                attribute=r["attribute"],
                value=attributes.get(r["attribute"]),
                source=r["source"],
                snapshot=r["snapshot"],
                record_key=r["record_key"],
                rule=r["rule"],
            )
            for r in lineage
        ],
        members=[
            MemberOut(
                source=r["source"],
                snapshot=r["snapshot"],
                record_key=r["record_key"],
                method=r["method"],
                probability=r["probability"],
            )
            for r in members
        ],
    )
